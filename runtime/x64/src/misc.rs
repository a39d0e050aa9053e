//! Instructions without operands (or nearly): traps, fences, CPU queries, and
//! padding with multi-byte NOPs.

use alloc::vec::Vec;

use crate::asm::Assembler;
use crate::relax::Event;

/// The recommended NOP of each length 1..=9 (Intel SDM, "NOP—No Operation"): the
/// longer ones are `nop dword/word [rax + rax*1 + disp]`.
const NOPS: [&[u8]; 9] = [
    &[0x90],
    &[0x66, 0x90],
    &[0x0F, 0x1F, 0x00],
    &[0x0F, 0x1F, 0x40, 0x00],
    &[0x0F, 0x1F, 0x44, 0x00, 0x00],
    &[0x66, 0x0F, 0x1F, 0x44, 0x00, 0x00],
    &[0x0F, 0x1F, 0x80, 0x00, 0x00, 0x00, 0x00],
    &[0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
    &[0x66, 0x0F, 0x1F, 0x84, 0x00, 0x00, 0x00, 0x00, 0x00],
];

/// Appends `len` bytes of NOPs, as few instructions as possible.
pub(crate) fn push_nops(out: &mut Vec<u8>, len: usize) {
    let mut left = len;
    while left > 0 {
        let n = left.min(NOPS.len());
        out.extend_from_slice(NOPS[n - 1]);
        left -= n;
    }
}

impl Assembler {
    /// Emits `len` bytes of NOPs, as few instructions as possible (at most 9 bytes each).
    pub fn nop(&mut self, len: usize) {
        push_nops(&mut self.buf, len);
    }

    /// Pads with NOPs until the offset is a multiple of `align` (a power of two).
    /// [`finish_relaxed`](Self::finish_relaxed) recomputes the padding for the final
    /// layout.
    ///
    /// # Panics
    /// If `align` is not a power of two.
    pub fn align(&mut self, align: u32) {
        assert!(
            align.is_power_of_two(),
            "align: {align} is not a power of two"
        );
        let start = self.offset();
        let pad = start.wrapping_neg() & (align - 1);
        if align > 1 {
            self.push_event(Event::Align { start, align, pad });
        }
        self.nop(pad as usize);
    }

    /// `ud2`: the guaranteed invalid opcode (#UD), used for traps.
    pub fn ud2(&mut self) {
        self.emit_bytes(&[0x0F, 0x0B]);
    }

    /// `int3`: breakpoint (#BP).
    pub fn int3(&mut self) {
        self.emit_bytes(&[0xCC]);
    }

    /// `hlt`: wait for the next interrupt (ring 0).
    pub fn hlt(&mut self) {
        self.emit_bytes(&[0xF4]);
    }

    /// `pause`: spin-loop hint.
    pub fn pause(&mut self) {
        self.emit_bytes(&[0xF3, 0x90]);
    }

    /// `lfence`: load fence (also a speculation barrier).
    pub fn lfence(&mut self) {
        self.emit_bytes(&[0x0F, 0xAE, 0xE8]);
    }

    /// `sfence`: store fence.
    pub fn sfence(&mut self) {
        self.emit_bytes(&[0x0F, 0xAE, 0xF8]);
    }

    /// `rep movsb`: copy `rcx` bytes from `[rsi]` to `[rdi]` (forward when the
    /// direction flag is clear, as the System V ABI guarantees at calls).
    pub fn rep_movsb(&mut self) {
        self.emit_bytes(&[0xF3, 0xA4]);
    }

    /// `cld`: clear the direction flag (string instructions count up).
    pub fn cld(&mut self) {
        self.emit_bytes(&[0xFC]);
    }

    /// `std`: set the direction flag (string instructions count down, e.g. for an
    /// overlapping `rep movsb` copy towards higher addresses). Clear it again with
    /// [`cld`](Self::cld) before calling other code.
    pub fn std(&mut self) {
        self.emit_bytes(&[0xFD]);
    }

    /// `rep stosb`: store `al` into `rcx` bytes at `[rdi]`.
    pub fn rep_stosb(&mut self) {
        self.emit_bytes(&[0xF3, 0xAA]);
    }

    /// `mfence`: full memory fence.
    pub fn mfence(&mut self) {
        self.emit_bytes(&[0x0F, 0xAE, 0xF0]);
    }

    /// `rdtsc`: `edx:eax := time-stamp counter`.
    pub fn rdtsc(&mut self) {
        self.emit_bytes(&[0x0F, 0x31]);
    }

    /// `cpuid`: processor identification for leaf `eax` / subleaf `ecx`.
    pub fn cpuid(&mut self) {
        self.emit_bytes(&[0x0F, 0xA2]);
    }
}
