//! Branch relaxation: the final layout of the code.
//!
//! While assembling, a jump to a label not yet bound (or out of rel8 reach) is emitted
//! in its rel32 form and recorded as a [`Event::Branch`]; every [`align`] records an
//! [`Event::Align`]. [`Assembler::finish`](crate::Assembler::finish) keeps that layout.
//! [`Assembler::finish_relaxed`](crate::Assembler::finish_relaxed) first picks which
//! branches can shrink to rel8, then rebuilds the bytes.
//!
//! The choice is safe in one direction: a distance is bounded from above by assuming
//! every alignment padding between the branch and its target grows to its maximum
//! (`align - 1`), and shrinking other branches only lowers that bound, so a branch once
//! found to fit keeps fitting. Passes repeat while they find new branches to shrink
//! (bounded; leaving a branch long is always correct).
//!
//! [`align`]: crate::Assembler::align

use alloc::vec;
use alloc::vec::Vec;

use crate::label::{Label, Pos};
use crate::misc::push_nops;

/// Something whose size may change between assembly and the final layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// A `jmp`/`jcc` to `label` emitted at `start` in its rel32 form of `len` bytes,
    /// whose rel8 form has the opcode `short`.
    Branch {
        start: u32,
        len: u8,
        short: u8,
        label: Label,
    },
    /// `pad` bytes of NOPs at `start` bringing the offset to a multiple of `align`.
    Align { start: u32, align: u32, pad: u32 },
}

impl Event {
    fn start(self) -> u32 {
        match self {
            Event::Branch { start, .. } | Event::Align { start, .. } => start,
        }
    }

    /// The offset just past the event as assembled.
    fn end(self) -> u32 {
        match self {
            Event::Branch { start, len, .. } => start + len as u32,
            Event::Align { start, pad, .. } => start + pad,
        }
    }
}

/// The most passes spent looking for more branches to shrink.
const MAX_PASSES: usize = 16;

/// Which branch events can take the rel8 form (`false` for alignment events).
pub(crate) fn choose_short(events: &[Event], labels: &[Option<Pos>]) -> Vec<bool> {
    let n = events.len();
    let mut shrunk = vec![false; n];
    // slack[0..=k]: how much the bytes before event k can at most have grown.
    let mut slack = vec![0i64; n + 1];
    for _ in 0..MAX_PASSES {
        for (k, e) in events.iter().enumerate() {
            let grow = match *e {
                Event::Align { align, pad, .. } => (align - 1 - pad) as i64,
                Event::Branch { len, .. } if shrunk[k] => -(len as i64 - 2),
                Event::Branch { .. } => 0,
            };
            slack[k + 1] = slack[k] + grow;
        }
        let mut changed = false;
        for (k, e) in events.iter().enumerate() {
            let Event::Branch {
                start, len, label, ..
            } = *e
            else {
                continue;
            };
            let Some(t) = labels[label.0 as usize] else {
                continue;
            };
            if shrunk[k] {
                continue;
            }
            let (t_off, t_ev) = (t.off as i64, t.ev as usize);
            let fits = if t_ev > k {
                // Forward: bytes from the end of the branch to the target.
                t_off - (start as i64 + len as i64) + slack[t_ev] - slack[k + 1] <= 127
            } else {
                // Backward: bytes from the target to the end of a 2-byte branch.
                start as i64 - t_off + slack[k] - slack[t_ev] + 2 <= 128
            };
            if fits {
                shrunk[k] = true;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    shrunk
}

/// Rebuilds `buf` with the chosen branches in rel8 form (their displacement left 0)
/// and the alignment paddings recomputed. Returns the bytes and, for each `k` in
/// `0..=events.len()`, how far a position after `k` events moved.
pub(crate) fn rebuild(buf: &[u8], events: &[Event], shrunk: &[bool]) -> (Vec<u8>, Vec<i64>) {
    let mut out = Vec::with_capacity(buf.len());
    let mut delta = Vec::with_capacity(events.len() + 1);
    delta.push(0);
    let mut cursor = 0usize;
    for (k, e) in events.iter().enumerate() {
        out.extend_from_slice(&buf[cursor..e.start() as usize]);
        match *e {
            Event::Branch { short, .. } if shrunk[k] => out.extend_from_slice(&[short, 0]),
            Event::Branch { start, len, .. } => {
                out.extend_from_slice(&buf[start as usize..start as usize + len as usize])
            }
            Event::Align { align, .. } => {
                let pad = (out.len() as u32).wrapping_neg() & (align - 1);
                push_nops(&mut out, pad as usize);
            }
        }
        cursor = e.end() as usize;
        delta.push(out.len() as i64 - cursor as i64);
    }
    out.extend_from_slice(&buf[cursor..]);
    (out, delta)
}

/// Maps offsets taken with [`Assembler::offset`](crate::Assembler::offset) during
/// assembly to offsets in the code returned by
/// [`Assembler::finish_relaxed`](crate::Assembler::finish_relaxed).
///
/// An offset taken right before an [`align`](crate::Assembler::align) that needed no
/// padding maps to after that alignment's (new) padding; everything else maps to the
/// same instruction boundary it named. Labels need no mapping: [`Code`](crate::Code)
/// already holds their final offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OffsetMap {
    ends: Vec<u32>,
    delta: Vec<i64>,
}

impl OffsetMap {
    pub(crate) fn new(events: &[Event], delta: Vec<i64>) -> OffsetMap {
        OffsetMap {
            ends: events.iter().map(|e| e.end()).collect(),
            delta,
        }
    }

    /// The final offset of what was at `offset` during assembly.
    pub fn map(&self, offset: u32) -> u32 {
        let before = self.ends.partition_point(|&end| end <= offset);
        let delta = self.delta.get(before).copied().unwrap_or(0);
        (offset as i64 + delta) as u32
    }
}
