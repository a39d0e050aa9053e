//! The [`Assembler`]: an output buffer plus labels, pending label fixups and
//! relocations. Instruction methods live in the modules named after their families
//! (`int`, `branch`, `sse`, `misc`); all of them go through the one generic encoder
//! in `encode`.

use alloc::vec::Vec;

use crate::code::{Code, Reloc, RelocKind, SymbolId};
use crate::label::{Fixup, FixupKind, Label};

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
    labels: Vec<Option<u32>>,
    fixups: Vec<Fixup>,
    pub(crate) relocs: Vec<Reloc>,
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
        let here = self.offset();
        let slot = &mut self.labels[label.0 as usize];
        assert!(slot.is_none(), "label {} bound twice", label.0);
        *slot = Some(here);
    }

    /// The offset `label` is bound to, if it is bound yet.
    pub fn label_offset(&self, label: Label) -> Option<u32> {
        self.labels.get(label.0 as usize).copied().flatten()
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
        let at = self.offset();
        self.buf.extend_from_slice(&[0; 4]);
        self.fixups.push(Fixup {
            at,
            label: target,
            kind: FixupKind::Diff32 { base },
        });
    }

    /// Resolves every label reference and returns the code.
    pub fn finish(mut self) -> Result<Code, AsmError> {
        for f in core::mem::take(&mut self.fixups) {
            let target = self.bound(f.label)?;
            match f.kind {
                FixupKind::Rel32 { end } => {
                    self.add_to_field32(f.at, target.wrapping_sub(end) as i32)
                }
                FixupKind::Diff32 { base } => {
                    let base = self.bound(base)?;
                    self.add_to_field32(f.at, target.wrapping_sub(base) as i32)
                }
                FixupKind::Rel8 { end } => {
                    let rel = target as i64 - end as i64;
                    let rel = i8::try_from(rel).map_err(|_| AsmError::ShortBranchOutOfRange {
                        label: f.label,
                        at: f.at,
                    })?;
                    self.buf[f.at as usize] = rel as u8;
                }
            }
        }
        Ok(Code {
            bytes: self.buf,
            relocs: self.relocs,
            labels: self.labels,
        })
    }

    fn bound(&self, label: Label) -> Result<u32, AsmError> {
        self.label_offset(label)
            .ok_or(AsmError::UnboundLabel(label))
    }

    /// Records a relocation for the field starting at the current offset.
    pub(crate) fn reloc_here(&mut self, kind: RelocKind, target: SymbolId, addend: i64) {
        self.relocs.push(Reloc {
            offset: self.offset(),
            kind,
            target,
            addend,
        });
    }

    /// Emits a 4-byte field that will hold `label + disp - end` (`end` being the offset
    /// where the instruction ends), resolving it now if the label is bound.
    pub(crate) fn rel32_to_label(&mut self, label: Label, disp: i32, end: u32) {
        let at = self.offset();
        self.buf.extend_from_slice(&disp.to_le_bytes());
        match self.label_offset(label) {
            Some(target) => self.add_to_field32(at, target.wrapping_sub(end) as i32),
            None => self.fixups.push(Fixup {
                at,
                label,
                kind: FixupKind::Rel32 { end },
            }),
        }
    }

    /// Emits a 1-byte field that will hold `label - end`, checked by `finish`.
    pub(crate) fn rel8_to_label(&mut self, label: Label, end: u32) {
        let at = self.offset();
        self.buf.push(0);
        self.fixups.push(Fixup {
            at,
            label,
            kind: FixupKind::Rel8 { end },
        });
    }

    fn add_to_field32(&mut self, at: u32, delta: i32) {
        let at = at as usize;
        let field: &mut [u8; 4] = (&mut self.buf[at..at + 4])
            .try_into()
            .expect("4-byte field");
        let value = i32::from_le_bytes(*field).wrapping_add(delta);
        *field = value.to_le_bytes();
    }
}
