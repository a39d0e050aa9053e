//! Integer operators: arithmetic, bit operations, comparisons, conversions, `select`.
//!
//! Constant operands become immediates; operators whose operands are all constants are
//! folded at compile time.

use super::stack::{size, Rhs, Val};
use super::FuncCompiler;
use crate::module::Type;
use kiln_abi::wasm::TrapCode;
use kiln_x64::{AluOp, Cond, PackedOp, Reg, ShiftOp, Size};

/// Arithmetic `a op b` on constants of type `ty`.
pub(crate) type Fold = fn(Type, u64, u64) -> u64;

/// Normalises a 64-bit result to the type's width (i32 values are kept zero-extended).
pub(crate) fn norm(ty: Type, v: u64) -> u64 {
    if ty == Type::I32 {
        v as u32 as u64
    } else {
        v
    }
}

pub(crate) fn fold_add(ty: Type, a: u64, b: u64) -> u64 {
    norm(ty, a.wrapping_add(b))
}
pub(crate) fn fold_sub(ty: Type, a: u64, b: u64) -> u64 {
    norm(ty, a.wrapping_sub(b))
}
fn fold_mul(ty: Type, a: u64, b: u64) -> u64 {
    norm(ty, a.wrapping_mul(b))
}
pub(crate) fn fold_and(_: Type, a: u64, b: u64) -> u64 {
    a & b
}
pub(crate) fn fold_or(_: Type, a: u64, b: u64) -> u64 {
    a | b
}
pub(crate) fn fold_xor(_: Type, a: u64, b: u64) -> u64 {
    a ^ b
}

impl FuncCompiler<'_> {
    /// Pops two constants if both operands are constants.
    fn pop_consts(&mut self) -> Option<(u64, u64)> {
        match (self.peek(1), self.peek(0)) {
            (Val::Const(_, a), Val::Const(_, b)) => {
                self.pop();
                self.pop();
                Some((a, b))
            }
            _ => None,
        }
    }

    /// `lhs = lhs op rhs` for a two-operand ALU instruction.
    pub(crate) fn alu_binop(&mut self, ty: Type, op: AluOp, fold: Fold) {
        if let Some((a, b)) = self.pop_consts() {
            self.push(Val::Const(ty, fold(ty, a, b)));
            return;
        }
        if let Some((x, home)) = self.result_local() {
            // `local.set x (op a b)`: compute in x's register; the `local.set` that
            // follows finds the value already in place.
            let rhs = self.pop_rhs();
            let lhs = self.pop_unspilled();
            // Other operands still reading x's old value get copies first.
            self.detach_local(x);
            if lhs != Val::Local(ty, x) {
                match lhs {
                    Val::Const(_, bits) => self.asm.mov_imm64(home, bits as i64),
                    Val::Gpr(_, r) => self.asm.mov(Size::S64, home, r),
                    Val::Local(_, y) => {
                        let from = self.home_gpr(y);
                        self.asm.mov(size(ty), home, from);
                    }
                    _ => unreachable!("pop_unspilled returns registers, constants and locals"),
                }
                self.free(lhs);
            }
            match rhs {
                Rhs::Imm(i) => self.asm.alu(size(ty), op, home, i),
                Rhs::Reg(r) => self.asm.alu(size(ty), op, home, r),
            }
            self.free_rhs(rhs);
            self.home_saved[x as usize] = false;
            self.push(Val::Local(ty, x));
            return;
        }
        let rhs = self.pop_rhs();
        let lhs = self.pop_gpr();
        match rhs {
            Rhs::Imm(i) => self.asm.alu(size(ty), op, lhs, i),
            Rhs::Reg(r) => self.asm.alu(size(ty), op, lhs, r),
        }
        self.free_rhs(rhs);
        self.push_gpr(ty, lhs);
    }

    /// `(x, home)` when the next operator is `local.set x` of a register local that the
    /// right operand does not read (the left one may: it is then updated in place).
    fn result_local(&self) -> Option<(u32, Reg)> {
        let (x, home) = self.set_target()?;
        match self.peek(0) {
            Val::Local(_, i) if i == x => None,
            _ => Some((x, home)),
        }
    }

    pub(crate) fn mul(&mut self, ty: Type) {
        if let Some((a, b)) = self.pop_consts() {
            self.push(Val::Const(ty, fold_mul(ty, a, b)));
            return;
        }
        let rhs = self.pop_rhs();
        let lhs = self.pop_gpr();
        match rhs {
            Rhs::Imm(i) => self.asm.imul_imm(size(ty), lhs, lhs, i),
            Rhs::Reg(r) => self.asm.imul(size(ty), lhs, r),
        }
        self.free_rhs(rhs);
        self.push_gpr(ty, lhs);
    }

    pub(crate) fn shift(&mut self, ty: Type, op: ShiftOp) {
        let rhs = self.pop_rhs();
        let lhs = self.pop_gpr();
        let s = size(ty);
        match rhs {
            Rhs::Imm(i) => self
                .asm
                .shift(s, op, lhs, (i as u32 & (s.bits() - 1)) as u8),
            Rhs::Reg(r) => {
                self.asm.mov(Size::S32, Reg::Rcx, r);
                self.asm.shift_cl(s, op, lhs);
            }
        }
        self.free_rhs(rhs);
        self.push_gpr(ty, lhs);
    }

    /// Division and remainder, with the traps the specification requires.
    pub(crate) fn divrem(&mut self, ty: Type, signed: bool, rem: bool) {
        let s = size(ty);
        if !signed {
            if let Val::Const(_, c) = self.peek(0) {
                if c.is_power_of_two() && c <= 1 << 30 {
                    // Unsigned division by 2^k is a shift, the remainder a mask.
                    self.pop();
                    let lhs = self.pop_gpr();
                    if rem {
                        self.asm.alu(s, AluOp::And, lhs, (c - 1) as i32);
                    } else {
                        self.asm
                            .shift(s, ShiftOp::Shr, lhs, c.trailing_zeros() as u8);
                    }
                    self.push_gpr(ty, lhs);
                    return;
                }
            }
        }
        let (divisor, may_be_zero, may_be_minus_one) = match self.pop_rhs() {
            Rhs::Imm(c) => {
                self.asm.mov_imm64(Reg::R11, c as i64);
                (Reg::R11, c == 0, c == -1)
            }
            Rhs::Reg(r) => (r, true, true),
        };
        let lhs = self.pop_gpr();
        if may_be_zero {
            self.asm.test(s, divisor, divisor);
            self.trap_if(Cond::E, TrapCode::IntegerDivideByZero);
        }
        let done = self.asm.new_label();
        if signed && may_be_minus_one {
            let normal = self.asm.new_label();
            self.asm.alu(s, AluOp::Cmp, divisor, -1);
            self.asm.jcc(Cond::Ne, normal);
            if rem {
                self.asm.alu(Size::S32, AluOp::Xor, lhs, lhs);
                self.asm.jmp(done);
            } else {
                if ty == Type::I32 {
                    self.asm.alu(s, AluOp::Cmp, lhs, i32::MIN);
                } else {
                    self.asm.mov_imm64(Reg::Rax, i64::MIN);
                    self.asm.alu(s, AluOp::Cmp, lhs, Reg::Rax);
                }
                self.trap_if(Cond::E, TrapCode::IntegerOverflow);
            }
            self.asm.bind(normal);
        }
        self.asm.mov(s, Reg::Rax, lhs);
        if signed {
            if ty == Type::I32 {
                self.asm.cdq();
            } else {
                self.asm.cqo();
            }
            self.asm.idiv(s, divisor);
        } else {
            self.asm.alu(Size::S32, AluOp::Xor, Reg::Rdx, Reg::Rdx);
            self.asm.div(s, divisor);
        }
        self.asm.mov(s, lhs, if rem { Reg::Rdx } else { Reg::Rax });
        self.asm.bind(done);
        if divisor != Reg::R11 {
            self.free_gpr(divisor);
        }
        self.push_gpr(ty, lhs);
    }

    /// Integer comparison producing an i32 0/1 (left in the flags for a following branch).
    pub(crate) fn compare(&mut self, ty: Type, cond: Cond) {
        let rhs = self.pop_rhs();
        let lhs = self.pop_gpr_borrowed();
        match rhs {
            Rhs::Imm(i) => self.asm.alu(size(ty), AluOp::Cmp, lhs, i),
            Rhs::Reg(r) => self.asm.alu(size(ty), AluOp::Cmp, lhs, r),
        }
        self.free_rhs(rhs);
        self.free_gpr(lhs);
        self.push(Val::Flags(cond));
    }

    /// `eqz` (also `ref.is_null`): 1 when the operand is zero. Of a pending comparison,
    /// the inverted comparison.
    pub(crate) fn eqz(&mut self, ty: Type) {
        if let Val::Flags(cond) = self.peek(0) {
            self.pop();
            self.push(Val::Flags(cond.invert()));
            return;
        }
        let r = self.pop_gpr_borrowed();
        self.asm.test(size(ty), r, r);
        self.free_gpr(r);
        self.push(Val::Flags(Cond::E));
    }

    /// `clz`, `ctz`, `popcnt`.
    pub(crate) fn bit_count(&mut self, ty: Type, op: fn(&mut kiln_x64::Assembler, Size, Reg, Reg)) {
        let r = self.pop_gpr();
        op(self.asm, size(ty), r, r);
        self.push_gpr(ty, r);
    }

    /// Sign-extension from `from` bits within type `ty` (also `i64.extend_i32_s`).
    pub(crate) fn sign_extend(&mut self, ty: Type, from: Size) {
        let r = self.pop_gpr();
        self.asm.movsx(size(ty), r, from, r);
        self.push_gpr(ty, r);
    }

    /// `i32.wrap_i64` and `i64.extend_i32_u`: a 32-bit move clears the upper half.
    pub(crate) fn zero_extend_32(&mut self, to: Type) {
        if let Val::Const(_, v) = self.peek(0) {
            self.pop();
            self.push(Val::Const(to, v as u32 as u64));
            return;
        }
        let r = self.pop_gpr();
        self.asm.mov(Size::S32, r, r);
        self.push_gpr(to, r);
    }

    /// `select` and typed `select`. The condition is tested first (or is a pending
    /// comparison); loading the operands afterwards only moves data, so the flags hold.
    pub(crate) fn select(&mut self) {
        let cond = self.pop_condition();
        let ty = self.peek(0).ty();
        if ty.is_float() {
            let b = self.pop_xmm_borrowed();
            let a = self.pop_xmm();
            let keep = self.asm.new_label();
            self.asm.jcc(cond, keep);
            self.asm.packed(PackedOp::Movaps, a, b);
            self.asm.bind(keep);
            self.free_xmm(b);
            self.push_xmm(ty, a);
        } else {
            let b = self.pop_gpr_borrowed();
            let a = self.pop_gpr();
            self.asm.cmov(size(ty), cond.invert(), a, b);
            self.free_gpr(b);
            self.push_gpr(ty, a);
        }
    }
}
