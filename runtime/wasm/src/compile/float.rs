//! Float operators with the exact IEEE semantics WASM requires: NaN-propagating
//! `min`/`max` with signed zeros, sign operations on the bits, round-to-nearest-even,
//! and float-to-int truncations that trap (or saturate) outside the target range.

use super::stack::{fsize, size, Val};
use super::FuncCompiler;
use crate::module::Type;
use kiln_abi::wasm::TrapCode;
use kiln_x64::{AluOp, Cond, FSize, FloatOp, PackedOp, Reg, RoundMode, ShiftOp, Size, Xmm};

/// Scratch SSE register for constants.
const XTMP: Xmm = Xmm::Xmm15;

impl FuncCompiler<'_> {
    pub(crate) fn float_binop(&mut self, ty: Type, op: FloatOp) {
        if let Val::Const(_, bits) = self.peek(0) {
            self.pop();
            let a = self.pop_xmm();
            let mem = self.const_mem(bits);
            self.asm.float_op(fsize(ty), op, a, mem);
            self.push_xmm(ty, a);
            return;
        }
        let b = self.pop_xmm_borrowed();
        let a = self.pop_xmm();
        self.asm.float_op(fsize(ty), op, a, b);
        self.free_xmm(b);
        self.push_xmm(ty, a);
    }

    /// `min` (`is_min`) or `max`: NaN if either operand is NaN, and -0 < +0.
    pub(crate) fn min_max(&mut self, ty: Type, is_min: bool) {
        let f = fsize(ty);
        let b = self.pop_xmm_borrowed();
        let a = self.pop_xmm();
        let (nan, ordered, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.asm.ucomis(f, a, b);
        self.asm.jcc(Cond::P, nan);
        self.asm.jcc(Cond::Ne, ordered);
        // Equal: only the signs of zeros can differ. min ORs the sign bits, max ANDs them.
        let op = if is_min {
            PackedOp::Orps
        } else {
            PackedOp::Andps
        };
        self.asm.packed(op, a, b);
        self.asm.jmp(done);
        self.asm.bind(nan);
        self.asm.float_op(f, FloatOp::Add, a, b);
        self.asm.jmp(done);
        self.asm.bind(ordered);
        let op = if is_min { FloatOp::Min } else { FloatOp::Max };
        self.asm.float_op(f, op, a, b);
        self.asm.bind(done);
        self.free_xmm(b);
        self.push_xmm(ty, a);
    }

    pub(crate) fn float_unop(&mut self, ty: Type, op: FloatOp) {
        let a = self.pop_xmm();
        self.asm.float_op(fsize(ty), op, a, a);
        self.push_xmm(ty, a);
    }

    pub(crate) fn round(&mut self, ty: Type, mode: RoundMode) {
        let a = self.pop_xmm();
        self.asm.round(fsize(ty), a, a, mode);
        self.push_xmm(ty, a);
    }

    /// `abs`, `neg` and `copysign` work on the bits in `r11`.
    pub(crate) fn sign_op(&mut self, ty: Type, op: SignOp) {
        let s = size(ty);
        let sign_shift = (s.bits() - 1) as u8;
        let other = if op == SignOp::CopySign {
            Some(self.pop_xmm())
        } else {
            None
        };
        let a = self.pop_xmm();
        self.asm.movd_from_xmm(s, Reg::R11, a);
        match op {
            SignOp::Abs | SignOp::CopySign => {
                self.asm.shift(s, ShiftOp::Shl, Reg::R11, 1);
                self.asm.shift(s, ShiftOp::Shr, Reg::R11, 1);
            }
            SignOp::Neg => {
                self.asm.mov_imm64(Reg::Rax, 1);
                self.asm.shift(s, ShiftOp::Shl, Reg::Rax, sign_shift);
                self.asm.alu(s, AluOp::Xor, Reg::R11, Reg::Rax);
            }
        }
        if let Some(b) = other {
            self.asm.movd_from_xmm(s, Reg::Rax, b);
            self.asm.shift(s, ShiftOp::Shr, Reg::Rax, sign_shift);
            self.asm.shift(s, ShiftOp::Shl, Reg::Rax, sign_shift);
            self.asm.alu(s, AluOp::Or, Reg::R11, Reg::Rax);
            self.free_xmm(b);
        }
        self.asm.movd_to_xmm(s, a, Reg::R11);
        self.push_xmm(ty, a);
    }

    /// Float comparison producing an i32 0/1 (false when unordered, except `ne`).
    /// Orderings need one flag condition and stay in the flags for a following branch.
    pub(crate) fn float_compare(&mut self, ty: Type, cmp: FloatCompare) {
        let f = fsize(ty);
        let b = self.pop_xmm_borrowed();
        let a = self.pop_xmm_borrowed();
        // a < b is b > a: `above` is false for unordered operands.
        let (x, y, cond) = match cmp {
            FloatCompare::Lt => (b, a, Cond::A),
            FloatCompare::Le => (b, a, Cond::Ae),
            FloatCompare::Gt => (a, b, Cond::A),
            FloatCompare::Ge => (a, b, Cond::Ae),
            FloatCompare::Eq | FloatCompare::Ne => (a, b, Cond::E),
        };
        self.asm.ucomis(f, x, y);
        self.free_xmm(a);
        self.free_xmm(b);
        if !matches!(cmp, FloatCompare::Eq | FloatCompare::Ne) {
            self.push(Val::Flags(cond));
            return;
        }
        let r = self.alloc_gpr();
        let (c1, c2, op) = if cmp == FloatCompare::Eq {
            (Cond::E, Cond::Np, AluOp::And)
        } else {
            (Cond::Ne, Cond::P, AluOp::Or)
        };
        self.asm.setcc(c1, r);
        self.asm.setcc(c2, Reg::Rax);
        self.asm.alu(Size::S8, op, r, Reg::Rax);
        self.asm.movzx(Size::S32, r, Size::S8, r);
        self.push_gpr(Type::I32, r);
    }

    /// `f32.demote_f64` / `f64.promote_f32`.
    pub(crate) fn float_convert(&mut self, to: Type) {
        let a = self.pop_xmm();
        self.asm.cvtf2f(fsize(to), a, a);
        self.push_xmm(to, a);
    }

    /// Bit-preserving moves between integer and float registers.
    pub(crate) fn reinterpret(&mut self, to: Type) {
        if let Val::Const(_, bits) = self.peek(0) {
            self.pop();
            self.push(Val::Const(to, bits));
            return;
        }
        if to.is_float() {
            let r = self.pop_gpr();
            let x = self.alloc_xmm();
            self.asm.movd_to_xmm(size(to), x, r);
            self.free_gpr(r);
            self.push_xmm(to, x);
        } else {
            let x = self.pop_xmm();
            let r = self.alloc_gpr();
            self.asm.movd_from_xmm(size(to), r, x);
            self.free_xmm(x);
            self.push_gpr(to, r);
        }
    }

    /// Integer to float conversion.
    pub(crate) fn int_to_float(&mut self, from: Type, to: Type, signed: bool) {
        let r = self.pop_gpr();
        let x = self.alloc_xmm();
        let f = fsize(to);
        match (from, signed) {
            (Type::I32, true) => self.asm.cvtsi2f(f, x, Size::S32, r),
            // A zero-extended u32 is a non-negative i64.
            (Type::I32, false) => self.asm.cvtsi2f(f, x, Size::S64, r),
            (_, true) => self.asm.cvtsi2f(f, x, Size::S64, r),
            (_, false) => {
                let (big, done) = (self.asm.new_label(), self.asm.new_label());
                self.asm.test(Size::S64, r, r);
                self.asm.jcc(Cond::S, big);
                self.asm.cvtsi2f(f, x, Size::S64, r);
                self.asm.jmp(done);
                // Halve with the low bit kept sticky so rounding stays correct, then double.
                self.asm.bind(big);
                self.asm.mov(Size::S64, Reg::Rax, r);
                self.asm.shift(Size::S64, ShiftOp::Shr, Reg::Rax, 1);
                self.asm.alu(Size::S32, AluOp::And, r, 1);
                self.asm.alu(Size::S64, AluOp::Or, Reg::Rax, r);
                self.asm.cvtsi2f(f, x, Size::S64, Reg::Rax);
                self.asm.float_op(f, FloatOp::Add, x, x);
                self.asm.bind(done);
            }
        }
        self.free_gpr(r);
        self.push_xmm(to, x);
    }

    /// Loads the float constant `v` (in the width `f`) into the scratch register.
    fn float_const(&mut self, f: FSize, v: f64) {
        let bits = match f {
            FSize::F32 => (v as f32).to_bits() as u64,
            FSize::F64 => v.to_bits(),
        };
        let mem = self.const_mem(bits);
        self.asm.movs(f, XTMP, mem);
    }

    /// Compares `x` with the constant `v` (flags as `ucomis x, v`).
    fn compare_const(&mut self, f: FSize, x: Xmm, v: f64) {
        self.float_const(f, v);
        self.asm.ucomis(f, x, XTMP);
    }

    /// Float to integer truncation; traps on NaN and out-of-range values unless
    /// `saturating`, which clamps them (NaN becomes 0).
    pub(crate) fn float_to_int(&mut self, from: Type, to: Type, signed: bool, saturating: bool) {
        let f = fsize(from);
        let x = self.pop_xmm();
        let r = self.alloc_gpr();
        let done = self.asm.new_label();
        let bits = if to == Type::I32 { 32 } else { 64 };
        if signed {
            let s = size(to);
            self.asm.cvttf2si(s, r, f, x);
            // The CPU answers INT_MIN for NaN and out-of-range inputs; sort those out.
            if bits == 32 {
                self.asm.alu(s, AluOp::Cmp, r, i32::MIN);
            } else {
                self.asm.mov_imm64(Reg::Rax, i64::MIN);
                self.asm.alu(s, AluOp::Cmp, r, Reg::Rax);
            }
            self.asm.jcc(Cond::Ne, done);
            let min = -(pow2(bits - 1));
            if saturating {
                self.asm.ucomis(f, x, x);
                self.zero_if(Cond::P, r, done);
                self.compare_const(f, x, 0.0);
                self.asm.jcc(Cond::B, done);
                self.asm.mov_imm64(
                    r,
                    if bits == 32 {
                        i32::MAX as i64
                    } else {
                        i64::MAX
                    },
                );
            } else {
                self.asm.ucomis(f, x, x);
                self.trap_if(Cond::P, TrapCode::InvalidConversion);
                // Valid only if x truncates to INT_MIN: min - 1 < x < 0.
                let exact = bits == 64 || f == FSize::F32;
                if exact {
                    self.compare_const(f, x, min);
                    self.trap_if(Cond::B, TrapCode::IntegerOverflow);
                } else {
                    self.compare_const(f, x, min - 1.0);
                    self.trap_if(Cond::Be, TrapCode::IntegerOverflow);
                }
                self.compare_const(f, x, 0.0);
                self.trap_if(Cond::Ae, TrapCode::IntegerOverflow);
            }
        } else {
            let limit = pow2(bits);
            self.asm.ucomis(f, x, x);
            if saturating {
                self.zero_if(Cond::P, r, done);
                self.compare_const(f, x, 0.0);
                self.zero_if(Cond::Be, r, done);
                self.compare_const(f, x, limit);
                let in_range = self.asm.new_label();
                self.asm.jcc(Cond::B, in_range);
                self.asm
                    .mov_imm64(r, if bits == 32 { u32::MAX as i64 } else { -1 });
                self.asm.jmp(done);
                self.asm.bind(in_range);
            } else {
                self.trap_if(Cond::P, TrapCode::InvalidConversion);
                self.compare_const(f, x, -1.0);
                self.trap_if(Cond::Be, TrapCode::IntegerOverflow);
                self.compare_const(f, x, limit);
                self.trap_if(Cond::Ae, TrapCode::IntegerOverflow);
            }
            if bits == 32 {
                self.asm.cvttf2si(Size::S64, r, f, x);
                self.asm.mov(Size::S32, r, r);
            } else {
                // At or above 2^63 subtract 2^63 first and set the top bit afterwards.
                let big = self.asm.new_label();
                self.compare_const(f, x, pow2(63));
                self.asm.jcc(Cond::Ae, big);
                self.asm.cvttf2si(Size::S64, r, f, x);
                self.asm.jmp(done);
                self.asm.bind(big);
                self.asm.packed(PackedOp::Movaps, Xmm::Xmm14, x);
                self.asm.float_op(f, FloatOp::Sub, Xmm::Xmm14, XTMP);
                self.asm.cvttf2si(Size::S64, r, f, Xmm::Xmm14);
                self.asm.mov_imm64(Reg::Rax, i64::MIN);
                self.asm.alu(Size::S64, AluOp::Xor, r, Reg::Rax);
            }
        }
        self.asm.bind(done);
        self.free_xmm(x);
        self.push_gpr(to, r);
    }

    /// Sets `r` to 0 and jumps to `done` when `cond` holds.
    fn zero_if(&mut self, cond: Cond, r: Reg, done: kiln_x64::Label) {
        let skip = self.asm.new_label();
        self.asm.jcc(cond.invert(), skip);
        self.asm.alu(Size::S32, AluOp::Xor, r, r);
        self.asm.jmp(done);
        self.asm.bind(skip);
    }
}

/// 2^n as an f64 (core has no `powi`).
fn pow2(n: i32) -> f64 {
    f64::from_bits(((1023 + n) as u64) << 52)
}

/// The sign-bit operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignOp {
    Abs,
    Neg,
    CopySign,
}

/// The float comparisons.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatCompare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}
