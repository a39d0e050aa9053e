//! SSE scalar floating point (f32/f64) and the few packed and transfer instructions
//! float code needs: bit masks for abs/neg/copysign, register moves, GPR↔XMM moves.

use crate::asm::Assembler;
use crate::encode::{Imm, Inst, Rm};
use crate::mem::{Mem, RegMem, XmmMem};
use crate::reg::{FSize, Reg, Size, Xmm};

/// Scalar arithmetic with one `op dst, src` form (`dst := dst op src`; `sqrt` and the
/// others read only `src` into the low lane). The value is the opcode after `0F`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FloatOp {
    Sqrt = 0x51,
    Add = 0x58,
    Mul = 0x59,
    Sub = 0x5C,
    Min = 0x5D,
    Div = 0x5E,
    Max = 0x5F,
}

impl FloatOp {
    /// All seven operations.
    pub const ALL: [FloatOp; 7] = [
        FloatOp::Sqrt,
        FloatOp::Add,
        FloatOp::Mul,
        FloatOp::Sub,
        FloatOp::Min,
        FloatOp::Div,
        FloatOp::Max,
    ];
}

/// 128-bit bitwise and move operations on whole registers (`op dst, src`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PackedOp {
    Andps,
    Andpd,
    Andnps,
    Andnpd,
    Orps,
    Orpd,
    Xorps,
    Xorpd,
    Pand,
    Pandn,
    Por,
    Pxor,
    /// Aligned move (load form; use [`Assembler::movaps_store`] to store).
    Movaps,
    Movapd,
}

impl PackedOp {
    /// Every packed operation.
    pub const ALL: [PackedOp; 14] = [
        PackedOp::Andps,
        PackedOp::Andpd,
        PackedOp::Andnps,
        PackedOp::Andnpd,
        PackedOp::Orps,
        PackedOp::Orpd,
        PackedOp::Xorps,
        PackedOp::Xorpd,
        PackedOp::Pand,
        PackedOp::Pandn,
        PackedOp::Por,
        PackedOp::Pxor,
        PackedOp::Movaps,
        PackedOp::Movapd,
    ];

    /// (0x66 prefix, opcode after 0F).
    const fn encoding(self) -> (bool, u8) {
        match self {
            PackedOp::Andps => (false, 0x54),
            PackedOp::Andpd => (true, 0x54),
            PackedOp::Andnps => (false, 0x55),
            PackedOp::Andnpd => (true, 0x55),
            PackedOp::Orps => (false, 0x56),
            PackedOp::Orpd => (true, 0x56),
            PackedOp::Xorps => (false, 0x57),
            PackedOp::Xorpd => (true, 0x57),
            PackedOp::Pand => (true, 0xDB),
            PackedOp::Pandn => (true, 0xDF),
            PackedOp::Por => (true, 0xEB),
            PackedOp::Pxor => (true, 0xEF),
            PackedOp::Movaps => (false, 0x28),
            PackedOp::Movapd => (true, 0x28),
        }
    }
}

/// The rounding-mode immediate of `roundss`/`roundsd` (SSE4.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RoundMode {
    /// To nearest, ties to even.
    Nearest = 0,
    /// Toward −∞.
    Floor = 1,
    /// Toward +∞.
    Ceil = 2,
    /// Toward zero.
    Trunc = 3,
}

impl RoundMode {
    /// All four modes.
    pub const ALL: [RoundMode; 4] = [
        RoundMode::Nearest,
        RoundMode::Floor,
        RoundMode::Ceil,
        RoundMode::Trunc,
    ];
}

/// The predicate immediate of `cmpss`/`cmpsd` (the low lane becomes all ones or zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FloatCmp {
    Eq = 0,
    Lt = 1,
    Le = 2,
    Unord = 3,
    Neq = 4,
    Nlt = 5,
    Nle = 6,
    Ord = 7,
}

impl FloatCmp {
    /// All eight predicates.
    pub const ALL: [FloatCmp; 8] = [
        FloatCmp::Eq,
        FloatCmp::Lt,
        FloatCmp::Le,
        FloatCmp::Unord,
        FloatCmp::Neq,
        FloatCmp::Nlt,
        FloatCmp::Nle,
        FloatCmp::Ord,
    ];
}

/// The mandatory prefix that selects the scalar single (`F3`) or double (`F2`) form.
const fn scalar_prefix(f: FSize) -> u8 {
    match f {
        FSize::F32 => 0xF3,
        FSize::F64 => 0xF2,
    }
}

impl Assembler {
    /// A scalar instruction `F3/F2 [REX.W] 0F op /r`.
    fn scalar(&mut self, f: FSize, w: bool, op: u8, reg: u8, rm: Rm, imm: Imm) {
        let op = [0x0F, op];
        let i = Inst::new(&op, reg, rm).rep(scalar_prefix(f)).w(w).imm(imm);
        self.inst(i);
    }

    /// `addss/subss/mulss/divss/minss/maxss/sqrtss dst, src` (or the `sd` forms).
    pub fn float_op(&mut self, f: FSize, op: FloatOp, dst: Xmm, src: impl Into<XmmMem>) {
        self.scalar(f, false, op as u8, dst.num(), src.into().into(), Imm::None);
    }

    /// `movss`/`movsd`: register to register (low lane only), load (zeroes the upper
    /// lanes) or store.
    ///
    /// # Panics
    /// On memory-to-memory.
    pub fn movs(&mut self, f: FSize, dst: impl Into<XmmMem>, src: impl Into<XmmMem>) {
        match (dst.into(), src.into()) {
            (XmmMem::Xmm(d), src) => self.scalar(f, false, 0x10, d.num(), src.into(), Imm::None),
            (XmmMem::Mem(m), XmmMem::Xmm(s)) => {
                self.scalar(f, false, 0x11, s.num(), Rm::Mem(m), Imm::None)
            }
            (XmmMem::Mem(_), XmmMem::Mem(_)) => panic!("movs: memory-to-memory operands"),
        }
    }

    /// `cmpss`/`cmpsd dst, src, pred`: the low lane of `dst` becomes all ones if the
    /// predicate holds, else zero.
    pub fn cmps(&mut self, f: FSize, dst: Xmm, src: impl Into<XmmMem>, pred: FloatCmp) {
        self.scalar(
            f,
            false,
            0xC2,
            dst.num(),
            src.into().into(),
            Imm::B(pred as u8),
        );
    }

    /// `cvtsi2ss`/`cvtsi2sd dst, src`: signed 32- or 64-bit integer to float.
    ///
    /// # Panics
    /// Unless `src_size` is 32 or 64 bits.
    pub fn cvtsi2f(&mut self, f: FSize, dst: Xmm, src_size: Size, src: impl Into<RegMem>) {
        assert!(src_size >= Size::S32, "cvtsi2f: 32- or 64-bit source only");
        let w = src_size == Size::S64;
        self.scalar(f, w, 0x2A, dst.num(), src.into().into(), Imm::None);
    }

    /// `cvttss2si`/`cvttsd2si dst, src`: float to signed 32/64-bit integer, truncating;
    /// out of range and NaN give the "integer indefinite" value `MIN`.
    ///
    /// # Panics
    /// Unless `dst_size` is 32 or 64 bits.
    pub fn cvttf2si(&mut self, dst_size: Size, dst: Reg, f: FSize, src: impl Into<XmmMem>) {
        assert!(
            dst_size >= Size::S32,
            "cvttf2si: 32- or 64-bit destination only"
        );
        let w = dst_size == Size::S64;
        self.scalar(f, w, 0x2C, dst.num(), src.into().into(), Imm::None);
    }

    /// `cvtss2sd` (to `F64`) or `cvtsd2ss` (to `F32`): convert the other precision
    /// into `to`.
    pub fn cvtf2f(&mut self, to: FSize, dst: Xmm, src: impl Into<XmmMem>) {
        let from = match to {
            FSize::F32 => FSize::F64,
            FSize::F64 => FSize::F32,
        };
        self.scalar(from, false, 0x5A, dst.num(), src.into().into(), Imm::None);
    }

    /// `roundss`/`roundsd dst, src, mode` (SSE4.1).
    pub fn round(&mut self, f: FSize, dst: Xmm, src: impl Into<XmmMem>, mode: RoundMode) {
        let op = match f {
            FSize::F32 => 0x0A,
            FSize::F64 => 0x0B,
        };
        let op = [0x0F, 0x3A, op];
        let i = Inst::new(&op, dst.num(), src.into().into())
            .opsize(true)
            .imm(Imm::B(mode as u8));
        self.inst(i);
    }

    /// `ucomiss`/`ucomisd a, b`: unordered compare into ZF/PF/CF (quiet on QNaN).
    pub fn ucomis(&mut self, f: FSize, a: Xmm, b: impl Into<XmmMem>) {
        let i = Inst::new(&[0x0F, 0x2E], a.num(), b.into().into()).opsize(f == FSize::F64);
        self.inst(i);
    }

    /// `comiss`/`comisd a, b`: ordered compare into ZF/PF/CF (signals on any NaN).
    pub fn comis(&mut self, f: FSize, a: Xmm, b: impl Into<XmmMem>) {
        let i = Inst::new(&[0x0F, 0x2F], a.num(), b.into().into()).opsize(f == FSize::F64);
        self.inst(i);
    }

    /// A packed bitwise operation or aligned move `op dst, src` (memory must be
    /// 16-byte aligned).
    pub fn packed(&mut self, op: PackedOp, dst: Xmm, src: impl Into<XmmMem>) {
        let (opsize, opc) = op.encoding();
        let opc = [0x0F, opc];
        let i = Inst::new(&opc, dst.num(), src.into().into()).opsize(opsize);
        self.inst(i);
    }

    /// `movaps [mem], src`: aligned 16-byte store.
    pub fn movaps_store(&mut self, dst: Mem, src: Xmm) {
        self.inst(Inst::new(&[0x0F, 0x29], src.num(), Rm::Mem(dst)));
    }

    /// `movmskps`/`movmskpd dst, src`: the sign bits of the packed lanes into the low
    /// bits of `dst` (bit 0 is the sign of the scalar lane).
    pub fn movmsk(&mut self, f: FSize, dst: Reg, src: Xmm) {
        let i = Inst::new(&[0x0F, 0x50], dst.num(), Rm::Reg(src.num())).opsize(f == FSize::F64);
        self.inst(i);
    }

    /// `movd`/`movq xmm, r/m`: a 32- or 64-bit integer into the low lane (upper lanes
    /// zeroed).
    ///
    /// # Panics
    /// Unless `size` is 32 or 64 bits.
    pub fn movd_to_xmm(&mut self, size: Size, dst: Xmm, src: impl Into<RegMem>) {
        assert!(size >= Size::S32, "movd: 32 or 64 bits only");
        let i = Inst::new(&[0x0F, 0x6E], dst.num(), src.into().into())
            .opsize(true)
            .w(size == Size::S64);
        self.inst(i);
    }

    /// `movd`/`movq r/m, xmm`: the low 32 or 64 bits of an XMM register.
    ///
    /// # Panics
    /// Unless `size` is 32 or 64 bits.
    pub fn movd_from_xmm(&mut self, size: Size, dst: impl Into<RegMem>, src: Xmm) {
        assert!(size >= Size::S32, "movd: 32 or 64 bits only");
        let i = Inst::new(&[0x0F, 0x7E], src.num(), dst.into().into())
            .opsize(true)
            .w(size == Size::S64);
        self.inst(i);
    }
}
