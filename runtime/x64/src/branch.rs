//! Control flow: jumps and calls to labels (short or near form chosen automatically),
//! to external symbols (relocations), and through registers or memory.
//!
//! The form is chosen as the jump is emitted: a jump to a label that is already bound
//! (a backward jump) uses the 2-byte rel8 form whenever the distance fits, otherwise
//! rel32; a jump to a label not yet bound (a forward jump) is emitted as rel32.
//! [`Assembler::finish`] keeps that layout; [`Assembler::finish_relaxed`] shrinks the
//! rel32 jumps that turn out to reach with rel8 (see `relax`). When the caller knows a forward target is close,
//! [`Assembler::jmp_short`] / [`Assembler::jcc_short`] force the rel8 form and
//! `finish` checks that it reaches.

use crate::asm::Assembler;
use crate::code::{RelocKind, SymbolId};
use crate::cond::Cond;
use crate::encode::{Inst, Rm};
use crate::label::Label;
use crate::mem::RegMem;
use crate::relax::Event;

impl Assembler {
    /// A jump to a label: `short` is the rel8 opcode, `near` the rel32 opcode bytes.
    /// Jumps that have a short form but are emitted long are recorded for relaxation.
    fn branch(&mut self, short: Option<u8>, near: &[u8], target: Label) {
        let start = self.offset();
        if let (Some(op), Some(back)) = (short, self.max_distance_back(target)) {
            // In reach even if alignment paddings in between grow under relaxation.
            if back + 2 <= 128 {
                self.emit_bytes(&[op]);
                self.rel8_to_label(target, start + 2);
                return;
            }
        }
        self.emit_bytes(near);
        let end = self.offset() + 4;
        match short {
            Some(op) => {
                self.push_event(Event::Branch {
                    start,
                    len: (end - start) as u8,
                    short: op,
                    label: target,
                });
                self.emit_bytes(&[0; 4]);
            }
            None => self.rel32_to_label(target, 0, end),
        }
    }

    /// `jmp target` (rel8 when a backward target is in reach, else rel32).
    pub fn jmp(&mut self, target: Label) {
        self.branch(Some(0xEB), &[0xE9], target);
    }

    /// `jcc target`: jump if `cond` holds (rel8 when a backward target is in reach).
    pub fn jcc(&mut self, cond: Cond, target: Label) {
        self.branch(
            Some(0x70 + cond.bits()),
            &[0x0F, 0x80 + cond.bits()],
            target,
        );
    }

    /// `jmp target` in the 2-byte rel8 form, for a target the caller knows is within
    /// −128..=127 bytes of the end of the jump (typically a short forward skip).
    /// [`finish`](Assembler::finish) reports
    /// [`AsmError::ShortBranchOutOfRange`](crate::AsmError::ShortBranchOutOfRange)
    /// if it is not.
    pub fn jmp_short(&mut self, target: Label) {
        self.emit_bytes(&[0xEB]);
        let end = self.offset() + 1;
        self.rel8_to_label(target, end);
    }

    /// `jcc target` in the 2-byte rel8 form; see [`jmp_short`](Self::jmp_short).
    pub fn jcc_short(&mut self, cond: Cond, target: Label) {
        self.emit_bytes(&[0x70 + cond.bits()]);
        let end = self.offset() + 1;
        self.rel8_to_label(target, end);
    }

    /// `call target` (always rel32; calls have no short form).
    pub fn call(&mut self, target: Label) {
        self.branch(None, &[0xE8], target);
    }

    /// `call symbol` through a [`RelocKind::Rel32`] relocation (addend -4).
    pub fn call_symbol(&mut self, symbol: SymbolId) {
        self.emit_bytes(&[0xE8]);
        self.reloc_here(RelocKind::Rel32, symbol, -4);
        self.emit_bytes(&[0; 4]);
    }

    /// `jmp symbol` (a tail call) through a [`RelocKind::Rel32`] relocation.
    pub fn jmp_symbol(&mut self, symbol: SymbolId) {
        self.emit_bytes(&[0xE9]);
        self.reloc_here(RelocKind::Rel32, symbol, -4);
        self.emit_bytes(&[0; 4]);
    }

    /// `call target`: indirect through a 64-bit register or a qword in memory.
    pub fn call_ind(&mut self, target: impl Into<RegMem>) {
        self.inst(Inst::new(&[0xFF], 2, Rm::from(target.into())));
    }

    /// `jmp target`: indirect through a 64-bit register or a qword in memory.
    pub fn jmp_ind(&mut self, target: impl Into<RegMem>) {
        self.inst(Inst::new(&[0xFF], 4, Rm::from(target.into())));
    }

    /// `ret`.
    pub fn ret(&mut self) {
        self.emit_bytes(&[0xC3]);
    }
}
