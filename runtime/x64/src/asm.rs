//! The [`Assembler`]: an output buffer plus labels, pending label fixups and
//! relocations. Instruction methods live in the modules named after their families
//! (`int`, `branch`, `sse`, `misc`); all of them go through the one generic encoder
//! in `encode`. Label references are all resolved by `finish`, after the layout
//! (see `relax`) is fixed.

use alloc::vec;
use alloc::vec::Vec;

use crate::code::{Code, Reloc, RelocKind, SymbolId};
use crate::label::{Fixup, FixupKind, Label, Pos};
use crate::relax::{choose_short, rebuild, Event, OffsetMap};

/// Why [`Assembler::finish`] failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsmError {
    /// A label was referenced but never bound.
    UnboundLabel(Label),
    /// A short (rel8) jump requested with `jmp_short`/`jcc_short` does not reach its
    /// label; the field is at `at`.
    ShortBranchOutOfRange { label: Label, at: u32 },
}

impl core::fmt::Display for AsmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AsmError::UnboundLabel(l) => {
                write!(f, "label {} is referenced but never bound", l.0)
            }
            AsmError::ShortBranchOutOfRange { label, at } => write!(
                f,
                "short jump at offset {at:#x} cannot reach label {}; use jmp/jcc",
                label.0
            ),
        }
    }
}

/// Builds x86-64 machine code. See the crate docs for the instruction surface.
#[derive(Clone, Debug, Default)]
pub struct Assembler {
    pub(crate) buf: Vec<u8>,
    labels: Vec<Option<Pos>>,
    fixups: Vec<Fixup>,
    relocs: Vec<Reloc>,
    /// For each relocation, the number of layout events before it.
    reloc_events: Vec<u32>,
    /// Relaxable branches and alignment paddings, in code order.
    events: Vec<Event>,
    /// `align_slack[k]`: how much the paddings of events `0..=k` could grow under
    /// relaxation (the running sum of `align - 1 - pad`).
    align_slack: Vec<u32>,
}

impl Assembler {
    /// An empty assembler.
    pub fn new() -> Assembler {
        Assembler::default()
    }

    /// An empty assembler with room for `bytes` bytes of code before it reallocates.
    pub fn with_capacity(bytes: usize) -> Assembler {
        Assembler {
            buf: Vec::with_capacity(bytes),
            ..Assembler::default()
        }
    }

    /// The current offset: where the next instruction will start.
    pub fn offset(&self) -> u32 {
        self.buf.len() as u32
    }

    /// The bytes emitted so far (label fixups and relocations not yet applied).
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// A fresh, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    /// Binds `label` to the current offset.
    ///
    /// # Panics
    /// If the label is already bound or belongs to another assembler.
    pub fn bind(&mut self, label: Label) {
        let here = self.pos();
        let slot = &mut self.labels[label.0 as usize];
        assert!(slot.is_none(), "label {} bound twice", label.0);
        *slot = Some(here);
    }

    /// The offset `label` is bound to, if it is bound yet (as assembled: after
    /// [`finish_relaxed`](Self::finish_relaxed) see [`Code::label_offset`]).
    pub fn label_offset(&self, label: Label) -> Option<u32> {
        self.labels
            .get(label.0 as usize)
            .copied()
            .flatten()
            .map(|p| p.off)
    }

    /// Appends raw bytes (inline data, or an encoding this assembler lacks).
    pub fn emit_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// Appends an 8-byte field holding the absolute address `symbol + addend`
    /// (an [`RelocKind::Abs64`] relocation), e.g. for a constant pool entry.
    pub fn emit_abs64(&mut self, symbol: SymbolId, addend: i64) {
        self.reloc_here(RelocKind::Abs64, symbol, addend);
        self.buf.extend_from_slice(&[0; 8]);
    }

    /// Appends a 4-byte field holding `target - base` (both labels of this code):
    /// an entry of a relative jump table.
    pub fn emit_label_diff32(&mut self, target: Label, base: Label) {
        let at = self.pos();
        self.buf.extend_from_slice(&[0; 4]);
        self.fixups.push(Fixup {
            at,
            label: target,
            kind: FixupKind::Diff32 { base },
        });
    }

    /// Resolves every label reference and returns the code, laid out exactly as
    /// assembled: every offset taken with [`offset`](Self::offset) stays valid.
    pub fn finish(self) -> Result<Code, AsmError> {
        self.layout(false).map(|(code, _)| code)
    }

    /// Like [`finish`](Self::finish), but first shrinks every forward (and long
    /// backward) `jmp`/`jcc` whose target turns out to be in rel8 reach, and
    /// recomputes alignment paddings. Offsets taken during assembly move: map them with
    /// the returned [`OffsetMap`] (label offsets in [`Code`] are already final).
    pub fn finish_relaxed(self) -> Result<(Code, OffsetMap), AsmError> {
        self.layout(true)
    }

    fn layout(mut self, relax: bool) -> Result<(Code, OffsetMap), AsmError> {
        let shrunk = if relax {
            choose_short(&self.events, &self.labels)
        } else {
            vec![false; self.events.len()]
        };
        let (mut bytes, delta) = if shrunk.contains(&true) {
            rebuild(&self.buf, &self.events, &shrunk)
        } else {
            (
                core::mem::take(&mut self.buf),
                vec![0; self.events.len() + 1],
            )
        };
        let at = |p: Pos| (p.off as i64 + delta[p.ev as usize]) as u32;
        let labels: Vec<Option<u32>> = self.labels.iter().map(|l| l.map(at)).collect();
        let target = |l: Label| labels[l.0 as usize].ok_or(AsmError::UnboundLabel(l));
        let rel8 = |label: Label, field: u32, end: u32| {
            let rel = target(label)? as i64 - end as i64;
            i8::try_from(rel).map_err(|_| AsmError::ShortBranchOutOfRange { label, at: field })
        };
        for f in &self.fixups {
            let field = at(f.at);
            let shift = |end: u32| (end as i64 + delta[f.at.ev as usize]) as u32;
            match f.kind {
                FixupKind::Rel32 { end } => {
                    let rel = target(f.label)?.wrapping_sub(shift(end));
                    add_to_field32(&mut bytes, field, rel as i32);
                }
                FixupKind::Diff32 { base } => {
                    let rel = target(f.label)?.wrapping_sub(target(base)?);
                    add_to_field32(&mut bytes, field, rel as i32);
                }
                FixupKind::Rel8 { end } => {
                    bytes[field as usize] = rel8(f.label, field, shift(end))? as u8;
                }
            }
        }
        for (k, e) in self.events.iter().enumerate() {
            let Event::Branch {
                start, len, label, ..
            } = *e
            else {
                continue;
            };
            let start = at(Pos {
                off: start,
                ev: k as u32,
            });
            if shrunk[k] {
                bytes[start as usize + 1] = rel8(label, start + 1, start + 2)? as u8;
            } else {
                let end = start + len as u32;
                add_to_field32(&mut bytes, end - 4, target(label)?.wrapping_sub(end) as i32);
            }
        }
        let relocs = self
            .relocs
            .iter()
            .zip(&self.reloc_events)
            .map(|(r, &ev)| Reloc {
                offset: at(Pos { off: r.offset, ev }),
                ..*r
            })
            .collect();
        let map = OffsetMap::new(&self.events, delta);
        let code = Code {
            bytes,
            relocs,
            labels,
        };
        Ok((code, map))
    }

    /// The current position, for records that must survive relaxation.
    fn pos(&self) -> Pos {
        Pos {
            off: self.offset(),
            ev: self.events.len() as u32,
        }
    }

    /// Records a layout event starting at the current offset.
    pub(crate) fn push_event(&mut self, event: Event) {
        let grow = match event {
            Event::Align { align, pad, .. } => align - 1 - pad,
            Event::Branch { .. } => 0,
        };
        self.align_slack
            .push(self.slack_before(self.events.len()) + grow);
        self.events.push(event);
    }

    /// The largest distance from `label` (bound) to the current offset that
    /// relaxation could produce: the distance now plus the growth of the alignment
    /// paddings in between.
    pub(crate) fn max_distance_back(&self, label: Label) -> Option<u32> {
        let p = self.labels.get(label.0 as usize).copied().flatten()?;
        let grow = self.slack_before(self.events.len()) - self.slack_before(p.ev as usize);
        Some(self.offset() - p.off + grow)
    }

    /// The padding growth possible in the first `k` events.
    fn slack_before(&self, k: usize) -> u32 {
        k.checked_sub(1).map_or(0, |last| self.align_slack[last])
    }

    /// Records a relocation for the field starting at the current offset.
    pub(crate) fn reloc_here(&mut self, kind: RelocKind, target: SymbolId, addend: i64) {
        self.relocs.push(Reloc {
            offset: self.offset(),
            kind,
            target,
            addend,
        });
        self.reloc_events.push(self.events.len() as u32);
    }

    /// Emits a 4-byte field that will hold `label + disp - end` (`end` being the offset
    /// where the instruction ends).
    pub(crate) fn rel32_to_label(&mut self, label: Label, disp: i32, end: u32) {
        let at = self.pos();
        self.buf.extend_from_slice(&disp.to_le_bytes());
        self.fixups.push(Fixup {
            at,
            label,
            kind: FixupKind::Rel32 { end },
        });
    }

    /// Emits a 1-byte field that will hold `label - end`, checked by `finish`.
    pub(crate) fn rel8_to_label(&mut self, label: Label, end: u32) {
        let at = self.pos();
        self.buf.push(0);
        self.fixups.push(Fixup {
            at,
            label,
            kind: FixupKind::Rel8 { end },
        });
    }
}

/// Adds `delta` to the little-endian 32-bit field at `at`.
fn add_to_field32(bytes: &mut [u8], at: u32, delta: i32) {
    let at = at as usize;
    let field: &mut [u8; 4] = (&mut bytes[at..at + 4]).try_into().expect("4-byte field");
    *field = i32::from_le_bytes(*field).wrapping_add(delta).to_le_bytes();
}
