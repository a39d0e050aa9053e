//! Shared test support: decode what the assembler emitted with iced-x86 and compare
//! the mnemonic and every operand with what the test asked for; generators for the
//! operand sets the tests loop over.

use iced_x86::{
    Decoder, DecoderOptions, Formatter, Instruction, IntelFormatter, Mnemonic, OpKind, Register,
};
use kiln_x64::{Assembler, Mem, Reg, Scale, Size, Xmm};

const R64: [Register; 16] = [
    Register::RAX,
    Register::RCX,
    Register::RDX,
    Register::RBX,
    Register::RSP,
    Register::RBP,
    Register::RSI,
    Register::RDI,
    Register::R8,
    Register::R9,
    Register::R10,
    Register::R11,
    Register::R12,
    Register::R13,
    Register::R14,
    Register::R15,
];
const R32: [Register; 16] = [
    Register::EAX,
    Register::ECX,
    Register::EDX,
    Register::EBX,
    Register::ESP,
    Register::EBP,
    Register::ESI,
    Register::EDI,
    Register::R8D,
    Register::R9D,
    Register::R10D,
    Register::R11D,
    Register::R12D,
    Register::R13D,
    Register::R14D,
    Register::R15D,
];
const R16: [Register; 16] = [
    Register::AX,
    Register::CX,
    Register::DX,
    Register::BX,
    Register::SP,
    Register::BP,
    Register::SI,
    Register::DI,
    Register::R8W,
    Register::R9W,
    Register::R10W,
    Register::R11W,
    Register::R12W,
    Register::R13W,
    Register::R14W,
    Register::R15W,
];
const R8: [Register; 16] = [
    Register::AL,
    Register::CL,
    Register::DL,
    Register::BL,
    Register::SPL,
    Register::BPL,
    Register::SIL,
    Register::DIL,
    Register::R8L,
    Register::R9L,
    Register::R10L,
    Register::R11L,
    Register::R12L,
    Register::R13L,
    Register::R14L,
    Register::R15L,
];
const XMM: [Register; 16] = [
    Register::XMM0,
    Register::XMM1,
    Register::XMM2,
    Register::XMM3,
    Register::XMM4,
    Register::XMM5,
    Register::XMM6,
    Register::XMM7,
    Register::XMM8,
    Register::XMM9,
    Register::XMM10,
    Register::XMM11,
    Register::XMM12,
    Register::XMM13,
    Register::XMM14,
    Register::XMM15,
];

/// iced's name for `r` used at width `size`.
pub fn gpr(r: Reg, size: Size) -> Register {
    let table = match size {
        Size::S8 => &R8,
        Size::S16 => &R16,
        Size::S32 => &R32,
        Size::S64 => &R64,
    };
    table[r.num() as usize]
}

/// iced's name for an XMM register.
pub fn xmm(x: Xmm) -> Register {
    XMM[x.num() as usize]
}

/// An expected operand.
#[derive(Clone, Copy, Debug)]
pub enum Op {
    /// A register.
    R(Register),
    /// A memory operand with the access width in bytes (`None`: not checked, e.g. `lea`).
    M(Mem, Option<usize>),
    /// An immediate, compared in the low `bits` bits.
    I(i64, u32),
}

/// A register operand of width `size`.
pub fn r(reg: Reg, size: Size) -> Op {
    Op::R(gpr(reg, size))
}

/// An XMM register operand.
pub fn x(reg: Xmm) -> Op {
    Op::R(xmm(reg))
}

/// A memory operand accessing `bytes` bytes.
pub fn m(mem: Mem, bytes: usize) -> Op {
    Op::M(mem, Some(bytes))
}

/// An immediate of `size` bits.
pub fn i(value: i64, size: Size) -> Op {
    Op::I(value, size.bits())
}

/// Decodes exactly one instruction filling all of `bytes`, as if it sat at address `ip`.
pub fn decode_one(bytes: &[u8], ip: u64) -> Instruction {
    let mut d = Decoder::with_ip(64, bytes, ip, DecoderOptions::NONE);
    let ins = d.decode();
    assert!(!ins.is_invalid(), "invalid encoding {bytes:02x?}");
    assert_eq!(
        ins.len(),
        bytes.len(),
        "`{}` does not fill {bytes:02x?}",
        fmt(&ins)
    );
    ins
}

/// Decodes all of `bytes`.
pub fn decode_all(bytes: &[u8]) -> Vec<Instruction> {
    let mut d = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE);
    let mut out = Vec::new();
    while d.can_decode() {
        let ins = d.decode();
        assert!(!ins.is_invalid(), "invalid encoding in {bytes:02x?}");
        out.push(ins);
    }
    out
}

/// Intel syntax text of an instruction (for failure messages).
pub fn fmt(ins: &Instruction) -> String {
    let mut out = String::new();
    IntelFormatter::new().format(ins, &mut out);
    out
}

/// Assembles `emit` alone and returns its bytes.
pub fn assemble(emit: impl FnOnce(&mut Assembler)) -> Vec<u8> {
    let mut a = Assembler::new();
    emit(&mut a);
    a.finish().expect("finish").bytes
}

fn mask(v: u64, bits: u32) -> u64 {
    if bits >= 64 {
        v
    } else {
        v & ((1u64 << bits) - 1)
    }
}

/// Checks that `emit` produces exactly one instruction `mnemonic ops...`. Returns the
/// encoded length.
pub fn check(emit: impl FnOnce(&mut Assembler), mnemonic: Mnemonic, ops: &[Op]) -> usize {
    let bytes = assemble(emit);
    let ins = decode_one(&bytes, 0);
    let text = fmt(&ins);
    let ctx = || format!("`{text}` ({bytes:02x?}), expected {mnemonic:?} {ops:?}");
    assert_eq!(ins.mnemonic(), mnemonic, "{}", ctx());
    assert_eq!(ins.op_count() as usize, ops.len(), "{}", ctx());
    for (n, want) in ops.iter().enumerate() {
        let n = n as u32;
        let kind = ins.op_kind(n);
        match *want {
            Op::R(reg) => {
                assert_eq!(kind, OpKind::Register, "operand {n}: {}", ctx());
                assert_eq!(ins.op_register(n), reg, "operand {n}: {}", ctx());
            }
            Op::M(mem, size) => {
                assert_eq!(kind, OpKind::Memory, "operand {n}: {}", ctx());
                check_mem(&ins, mem, &ctx);
                if let Some(size) = size {
                    assert_eq!(ins.memory_size().size(), size, "access width: {}", ctx());
                }
            }
            Op::I(value, bits) => {
                let got = ins.immediate(n);
                assert_eq!(
                    mask(got, bits),
                    mask(value as u64, bits),
                    "operand {n}: {}",
                    ctx()
                );
            }
        }
    }
    bytes.len()
}

fn check_mem(ins: &Instruction, mem: Mem, ctx: &dyn Fn() -> String) {
    match mem {
        Mem::Sib { base, index, disp } => {
            let want_base = base.map_or(Register::None, |b| gpr(b, Size::S64));
            let (want_index, want_scale) = index.map_or((Register::None, 1), |(i, s)| {
                (gpr(i, Size::S64), s.factor())
            });
            assert_eq!(ins.memory_base(), want_base, "base: {}", ctx());
            assert_eq!(ins.memory_index(), want_index, "index: {}", ctx());
            if want_index != Register::None {
                assert_eq!(ins.memory_index_scale(), want_scale, "scale: {}", ctx());
            }
            assert_eq!(
                ins.memory_displacement64() as i64,
                disp as i64,
                "disp: {}",
                ctx()
            );
        }
        other => panic!("check_mem: {other:?} needs a RIP-relative check, not a SIB one"),
    }
}

/// Displacements that exercise every ModRM `mod` choice.
pub const DISPS: [i32; 7] = [0, 1, -128, 127, 128, -129, 0x1234_5678];

/// Memory operands covering every base (and none), every index (and none), all scales
/// and every displacement class, including the special cases rsp/r12 as base (SIB
/// needed), rbp/r13 as base (explicit disp8 0), r12/r13 as index, and no base at all.
pub fn mems() -> Vec<Mem> {
    let mut out = Vec::new();
    let bases = std::iter::once(None).chain(Reg::ALL.into_iter().map(Some));
    for (bi, base) in bases.enumerate() {
        let indexes =
            std::iter::once(None).chain(Reg::ALL.into_iter().filter(|&r| r != Reg::Rsp).map(Some));
        for (ii, index) in indexes.enumerate() {
            let scale = Scale::ALL[(bi + ii) % 4];
            let disp = DISPS[(bi * 3 + ii) % DISPS.len()];
            out.push(Mem::Sib {
                base,
                index: index.map(|i| (i, scale)),
                disp,
            });
        }
        // Every base also with every displacement and no index.
        for disp in DISPS {
            out.push(Mem::Sib {
                base,
                index: None,
                disp,
            });
        }
    }
    out
}

/// A short list of the memory operands most likely to go wrong, for instruction
/// families whose memory path is shared with forms already covered by [`mems`].
pub fn tricky_mems() -> Vec<Mem> {
    vec![
        Mem::base(Reg::Rsp, 0),
        Mem::base(Reg::R12, 8),
        Mem::base(Reg::Rbp, 0),
        Mem::base(Reg::R13, -8),
        Mem::base(Reg::Rax, 0x1000),
        Mem::base_index(Reg::R13, Reg::R12, Scale::S8, 0),
        Mem::base_index(Reg::Rsp, Reg::Rbp, Scale::S2, 127),
        Mem::base_index(Reg::R15, Reg::R9, Scale::S4, -4096),
        Mem::index(Reg::R11, Scale::S8, 16),
        Mem::abs(0x1000),
    ]
}
