//! x86-64 assembler shared by kiln's AOT and JIT compilers: instruction encoding,
//! labels and relocations described as data. `no_std` + `alloc`.
//!
//! # Overview
//!
//! ```
//! use kiln_x64::{AluOp, Assembler, Cond, Mem, Reg, Size};
//!
//! let mut a = Assembler::new();
//! let done = a.new_label();
//! a.mov(Size::S64, Reg::Rax, Reg::Rdi); // rax := first argument
//! a.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::Rsi); // rax += second
//! a.alu(Size::S32, AluOp::Cmp, Mem::base(Reg::Rdx, 8), 5); // imm8 form picked
//! a.jcc(Cond::E, done); // forward: rel32, patched by finish()
//! a.ud2();
//! a.bind(done);
//! a.ret();
//! let code = a.finish().unwrap();
//! assert_eq!(code.bytes.last(), Some(&0xC3));
//! ```
//!
//! # Public API
//!
//! - Operands: [`Reg`] (16 GPRs, named by width at each use through [`Size`]), [`Xmm`],
//!   [`Mem`] (`[base + index*scale + disp]`, `[rip + label]`, `[rip + symbol]`; build
//!   with [`Mem::base`], [`Mem::base_index`], [`Mem::index`], [`Mem::abs`],
//!   [`Mem::label`], [`Mem::symbol`]), [`RegMem`], [`XmmMem`], [`Operand`]
//!   (register, memory or `i32` immediate). Every instruction takes
//!   `impl Into<...>`, so `Reg`, `Mem` and `i32` can be passed directly.
//! - Building: [`Assembler::new`],
//!   [`with_capacity`](Assembler::with_capacity), [`offset`](Assembler::offset),
//!   [`new_label`](Assembler::new_label), [`bind`](Assembler::bind),
//!   [`label_offset`](Assembler::label_offset), [`emit_bytes`](Assembler::emit_bytes),
//!   [`emit_abs64`](Assembler::emit_abs64),
//!   [`emit_label_diff32`](Assembler::emit_label_diff32) (jump tables),
//!   [`finish`](Assembler::finish) → [`Code`] (layout as assembled), or
//!   [`finish_relaxed`](Assembler::finish_relaxed) → ([`Code`], [`OffsetMap`]) with
//!   forward jumps shrunk to rel8 where they reach.
//! - Integer: [`alu`](Assembler::alu) ([`AluOp`]: add/or/adc/sbb/and/sub/xor/cmp),
//!   [`test`](Assembler::test), [`not`](Assembler::not), [`neg`](Assembler::neg),
//!   [`inc`](Assembler::inc), [`dec`](Assembler::dec), [`mul`](Assembler::mul),
//!   [`imul_wide`](Assembler::imul_wide), [`div`](Assembler::div),
//!   [`idiv`](Assembler::idiv), [`imul`](Assembler::imul),
//!   [`imul_imm`](Assembler::imul_imm), [`shift`](Assembler::shift) /
//!   [`shift_cl`](Assembler::shift_cl) ([`ShiftOp`]), [`cdq`](Assembler::cdq),
//!   [`cqo`](Assembler::cqo), [`mov`](Assembler::mov),
//!   [`mov_imm64`](Assembler::mov_imm64),
//!   [`mov_symbol_addr`](Assembler::mov_symbol_addr), [`movzx`](Assembler::movzx),
//!   [`movsx`](Assembler::movsx), [`lea`](Assembler::lea), [`push`](Assembler::push),
//!   [`pop`](Assembler::pop), [`xchg`](Assembler::xchg),
//!   [`cmpxchg`](Assembler::cmpxchg), [`xadd`](Assembler::xadd),
//!   [`lock`](Assembler::lock), [`setcc`](Assembler::setcc), [`cmov`](Assembler::cmov),
//!   [`lzcnt`](Assembler::lzcnt), [`tzcnt`](Assembler::tzcnt),
//!   [`popcnt`](Assembler::popcnt), [`bsf`](Assembler::bsf), [`bsr`](Assembler::bsr),
//!   [`bswap`](Assembler::bswap).
//! - Control flow: [`jmp`](Assembler::jmp), [`jcc`](Assembler::jcc) ([`Cond`], with
//!   [`Cond::invert`]), [`jmp_short`](Assembler::jmp_short) /
//!   [`jcc_short`](Assembler::jcc_short) (forced rel8, checked by `finish`),
//!   [`call`](Assembler::call), [`call_symbol`](Assembler::call_symbol),
//!   [`jmp_symbol`](Assembler::jmp_symbol), [`call_ind`](Assembler::call_ind),
//!   [`jmp_ind`](Assembler::jmp_ind), [`ret`](Assembler::ret).
//! - Misc: [`nop`](Assembler::nop) (multi-byte), [`align`](Assembler::align),
//!   [`ud2`](Assembler::ud2), [`int3`](Assembler::int3), [`hlt`](Assembler::hlt),
//!   [`pause`](Assembler::pause), [`mfence`](Assembler::mfence),
//!   [`lfence`](Assembler::lfence), [`sfence`](Assembler::sfence),
//!   [`rep_movsb`](Assembler::rep_movsb), [`rep_stosb`](Assembler::rep_stosb),
//!   [`cld`](Assembler::cld), [`std`](Assembler::std),
//!   [`rdtsc`](Assembler::rdtsc), [`cpuid`](Assembler::cpuid).
//! - SSE ([`FSize`] picks `ss`/`sd`): [`float_op`](Assembler::float_op) ([`FloatOp`]:
//!   add/sub/mul/div/min/max/sqrt), [`movs`](Assembler::movs), [`cmps`](Assembler::cmps)
//!   ([`FloatCmp`]), [`ucomis`](Assembler::ucomis), [`comis`](Assembler::comis),
//!   [`cvtsi2f`](Assembler::cvtsi2f), [`cvttf2si`](Assembler::cvttf2si),
//!   [`cvtf2f`](Assembler::cvtf2f), [`round`](Assembler::round) ([`RoundMode`]),
//!   [`packed`](Assembler::packed) ([`PackedOp`]: andps/andpd/andnps/orps/xorps/xorpd/
//!   pxor/movaps/movapd...), [`movaps_store`](Assembler::movaps_store),
//!   [`movd_to_xmm`](Assembler::movd_to_xmm), [`movd_from_xmm`](Assembler::movd_from_xmm),
//!   [`movmsk`](Assembler::movmsk).
//! - Output: [`Code`] `{ bytes, relocs, labels }`; [`Reloc`] `{ offset, kind, target,
//!   addend }` with [`RelocKind::Abs64`] / [`RelocKind::Rel32`] (ELF `R_X86_64_64` /
//!   `R_X86_64_PC32` semantics, [`RelocKind::elf_type`]) against caller-numbered
//!   [`SymbolId`]s;
//!   [`Code::patch_in_place`] and [`apply_relocs`] resolve them for a load address.
//!
//! Programmer errors (memory-to-memory operands, `rsp` as an index, an 8-bit
//! `imul r, r/m`, binding a label twice) panic with a message naming the instruction;
//! an unbound label or a forced short jump that does not reach is reported by
//! [`Assembler::finish`] as an [`AsmError`].
//!
//! # Encoding
//!
//! One generic encoder (module `encode`) writes every instruction: legacy prefixes
//! (0x66 operand size, mandatory F2/F3), REX (W/R/X/B, plus a bare REX when
//! `spl`/`bpl`/`sil`/`dil` appear), opcode, ModRM, SIB, displacement (none/disp8/disp32
//! chosen by value) and immediate. The instruction methods only pick opcodes.
//!
//! Branches to labels: a backward jump uses rel8 when the target is in reach, a
//! forward one rel32; [`Assembler::finish_relaxed`] then shrinks every rel32 jump that
//! turns out to reach (see [`OffsetMap`] for offsets recorded meanwhile).
#![no_std]

extern crate alloc;

mod asm;
mod branch;
mod code;
mod cond;
mod encode;
mod int;
mod label;
mod mem;
mod misc;
mod reg;
mod relax;
mod sse;

pub use asm::{AsmError, Assembler};
pub use code::{apply_relocs, Code, Reloc, RelocError, RelocKind, SymbolId};
pub use cond::Cond;
pub use int::{AluOp, ShiftOp};
pub use label::Label;
pub use mem::{Mem, Operand, RegMem, Scale, XmmMem};
pub use reg::{FSize, Reg, Size, Xmm};
pub use relax::OffsetMap;
pub use sse::{FloatCmp, FloatOp, PackedOp, RoundMode};
