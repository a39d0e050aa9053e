//! The abstract operand stack and the simple register allocator behind it.
//!
//! Every stack position `i` owns a frame slot; a value is either a constant (not yet
//! materialised, so it can become an immediate), in a register, or spilled to its slot.
//! When registers run out the deepest register value is spilled; at control-flow joins
//! and calls everything is spilled.

use super::locals::Home;
use super::FuncCompiler;
use crate::module::Type;
use kiln_x64::{Cond, FSize, Mem, PackedOp, Reg, Size, Xmm};

/// A set of registers as a bit mask over their numbers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RegSet(pub(crate) u16);

impl RegSet {
    /// The general-purpose registers operands may live in. `rax`, `rcx`, `rdx` and `r11`
    /// are kept free as scratch for division, shifts and copies; `r14`/`r15` are pinned.
    pub(crate) fn gprs() -> Self {
        let regs = [
            Reg::Rbx,
            Reg::Rsi,
            Reg::Rdi,
            Reg::R8,
            Reg::R9,
            Reg::R10,
            Reg::R12,
            Reg::R13,
        ];
        Self(regs.iter().fold(0, |m, r| m | 1 << r.num()))
    }

    /// `xmm0`..`xmm13`; `xmm14`/`xmm15` are scratch.
    pub(crate) fn xmms() -> Self {
        Self(0x3fff)
    }

    fn take(&mut self) -> Option<u8> {
        if self.0 == 0 {
            return None;
        }
        let n = self.0.trailing_zeros() as u8;
        self.0 &= !(1 << n);
        Some(n)
    }

    fn put(&mut self, n: u8) {
        debug_assert!(self.0 & (1 << n) == 0, "register {n} freed twice");
        self.0 |= 1 << n;
    }
}

/// One operand stack entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Val {
    /// A constant; floats as their bits.
    Const(Type, u64),
    /// In a general-purpose register (integers and references).
    Gpr(Type, Reg),
    /// In an SSE register (floats).
    Xmm(Type, Xmm),
    /// In this position's frame slot.
    Slot(Type),
    /// The current value of a local that lives in a register (no copy made yet). Any
    /// write to that local first turns these into copies.
    Local(Type, u32),
    /// An i32 boolean still in the CPU flags: the comparison just emitted holds when
    /// the condition does. Only ever on top of the stack, for the next operator (a
    /// branch can use it directly); any other operator materialises it first.
    Flags(Cond),
}

impl Val {
    pub(crate) fn ty(self) -> Type {
        match self {
            Val::Const(t, _)
            | Val::Gpr(t, _)
            | Val::Xmm(t, _)
            | Val::Slot(t)
            | Val::Local(t, _) => t,
            Val::Flags(_) => Type::I32,
        }
    }
}

/// Operand size of an integer or reference type.
pub(crate) fn size(ty: Type) -> Size {
    match ty {
        Type::I32 | Type::F32 => Size::S32,
        _ => Size::S64,
    }
}

/// SSE width of a float type.
pub(crate) fn fsize(ty: Type) -> FSize {
    match ty {
        Type::F32 => FSize::F32,
        _ => FSize::F64,
    }
}

/// The right operand of an integer instruction: an immediate when it fits.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Rhs {
    Imm(i32),
    Reg(Reg),
}

impl FuncCompiler<'_> {
    /// Address of operand slot `i`.
    pub(crate) fn slot(&self, i: usize) -> Mem {
        Mem::base(Reg::Rbp, self.slots_base - 8 * i as i32)
    }

    pub(crate) fn push(&mut self, v: Val) {
        self.stack.push(v);
    }

    pub(crate) fn pop(&mut self) -> Val {
        self.stack
            .pop()
            .expect("validated: operand stack underflow")
    }

    pub(crate) fn peek(&self, depth: usize) -> Val {
        self.stack[self.stack.len() - 1 - depth]
    }

    /// Releases the register a popped value occupied.
    pub(crate) fn free(&mut self, v: Val) {
        match v {
            Val::Gpr(_, r) => self.free_gprs.put(r.num()),
            Val::Xmm(_, x) => self.free_xmms.put(x.num()),
            _ => {}
        }
    }

    /// Removes a register from the pool for good (a local's home).
    pub(crate) fn take_gpr(&mut self, r: Reg) {
        self.free_gprs.0 &= !(1 << r.num());
        self.home_gprs.0 |= 1 << r.num();
    }

    pub(crate) fn take_xmm(&mut self, x: Xmm) {
        self.free_xmms.0 &= !(1 << x.num());
        self.home_xmms.0 |= 1 << x.num();
    }

    /// Releases a register; a local's home register (borrowed as an operand) stays put.
    pub(crate) fn free_gpr(&mut self, r: Reg) {
        if self.home_gprs.0 & (1 << r.num()) == 0 {
            self.free_gprs.put(r.num());
        }
    }

    pub(crate) fn free_xmm(&mut self, x: Xmm) {
        if self.home_xmms.0 & (1 << x.num()) == 0 {
            self.free_xmms.put(x.num());
        }
    }

    /// A free general-purpose register, spilling the deepest register value if needed.
    pub(crate) fn alloc_gpr(&mut self) -> Reg {
        loop {
            if let Some(n) = self.free_gprs.take() {
                return Reg::from_num(n);
            }
            let i = self
                .stack
                .iter()
                .position(|v| matches!(v, Val::Gpr(..)))
                .expect("registers are only held by stack values");
            self.spill_at(i);
        }
    }

    /// A free SSE register, spilling the deepest float register value if needed.
    pub(crate) fn alloc_xmm(&mut self) -> Xmm {
        loop {
            if let Some(n) = self.free_xmms.take() {
                return Xmm::from_num(n);
            }
            let i = self
                .stack
                .iter()
                .position(|v| matches!(v, Val::Xmm(..)))
                .expect("registers are only held by stack values");
            self.spill_at(i);
        }
    }

    /// Writes `v` (a value just popped, or about to be replaced) to `mem`; frees its register.
    pub(crate) fn store_val(&mut self, v: Val, mem: Mem) {
        match v {
            Val::Const(_, bits) => self.store_const(bits, mem),
            Val::Gpr(_, r) => {
                self.asm.mov(Size::S64, mem, r);
                self.free_gpr(r);
            }
            Val::Xmm(ty, x) => {
                self.asm.movs(fsize(ty), mem, x);
                self.free_xmm(x);
            }
            Val::Slot(_) => unreachable!("a slot value is popped before it is stored"),
            Val::Local(ty, index) => match self.homes[index as usize] {
                Home::Gpr(r) => self.asm.mov(Size::S64, mem, r),
                Home::Xmm(x) => self.asm.movs(fsize(ty), mem, x),
                Home::Frame => unreachable!("only register homes are referenced lazily"),
            },
            Val::Flags(cond) => {
                let r = self.flags_to_gpr(cond);
                self.asm.mov(Size::S64, mem, r);
                self.free_gpr(r);
            }
        }
    }

    /// 0/1 in a fresh register from the flags (`mov`, `setcc`, `movzx` keep the flags).
    fn flags_to_gpr(&mut self, cond: Cond) -> Reg {
        let r = self.alloc_gpr();
        self.asm.setcc(cond, r);
        self.asm.movzx(Size::S32, r, Size::S8, r);
        r
    }

    /// Turns a pending comparison on top of the stack into a register value.
    pub(crate) fn materialize_flags(&mut self) {
        if let Some(&Val::Flags(cond)) = self.stack.last() {
            self.pop();
            let r = self.flags_to_gpr(cond);
            self.push_gpr(Type::I32, r);
        }
    }

    /// Pops an i32 condition and returns the flag condition that means "true": a pending
    /// comparison is used as is, anything else is tested against zero.
    pub(crate) fn pop_condition(&mut self) -> Cond {
        if let Some(&Val::Flags(cond)) = self.stack.last() {
            self.pop();
            return cond;
        }
        let r = self.pop_gpr_borrowed();
        self.asm.test(Size::S32, r, r);
        self.free_gpr(r);
        Cond::Ne
    }

    pub(crate) fn store_const(&mut self, bits: u64, mem: Mem) {
        if let Ok(imm) = i32::try_from(bits as i64) {
            self.asm.mov(Size::S64, mem, imm);
        } else {
            self.asm.mov_imm64(Reg::R11, bits as i64);
            self.asm.mov(Size::S64, mem, Reg::R11);
        }
    }

    /// Moves the value at position `i` to its slot.
    pub(crate) fn spill_at(&mut self, i: usize) {
        let v = self.stack[i];
        if matches!(v, Val::Slot(_)) {
            return;
        }
        let mem = self.slot(i);
        self.store_val(v, mem);
        self.stack[i] = Val::Slot(v.ty());
    }

    /// Moves every value to its slot: the state at every control-flow join and call.
    pub(crate) fn spill_all(&mut self) {
        for i in 0..self.stack.len() {
            self.spill_at(i);
        }
    }

    /// Pops the top value into a general-purpose register the caller now owns.
    pub(crate) fn pop_gpr(&mut self) -> Reg {
        let depth = self.stack.len() - 1;
        match self.pop() {
            Val::Gpr(_, r) => r,
            Val::Const(_, bits) => {
                let r = self.alloc_gpr();
                self.load_const_gpr(r, bits);
                r
            }
            Val::Slot(ty) => {
                let r = self.alloc_gpr();
                let mem = self.slot(depth);
                self.asm.mov(size(ty), r, mem);
                r
            }
            Val::Flags(cond) => self.flags_to_gpr(cond),
            Val::Local(ty, index) => {
                let r = self.alloc_gpr();
                let home = self.home_gpr(index);
                self.asm.mov(size(ty), r, home);
                r
            }
            Val::Xmm(..) => unreachable!("validated: integer operand expected"),
        }
    }

    /// Loads a constant with `mov` (never `xor`, so pending flags survive).
    pub(crate) fn load_const_gpr(&mut self, r: Reg, bits: u64) {
        self.asm.mov_imm64(r, bits as i64);
    }

    /// Pops the top value into an SSE register the caller now owns.
    pub(crate) fn pop_xmm(&mut self) -> Xmm {
        let depth = self.stack.len() - 1;
        match self.pop() {
            Val::Xmm(_, x) => x,
            Val::Const(_, bits) => {
                let x = self.alloc_xmm();
                self.load_const_xmm(x, bits);
                x
            }
            Val::Slot(ty) => {
                let x = self.alloc_xmm();
                let mem = self.slot(depth);
                self.asm.movs(fsize(ty), x, mem);
                x
            }
            Val::Local(_, index) => {
                let x = self.alloc_xmm();
                let Home::Xmm(home) = self.homes[index as usize] else {
                    unreachable!("float locals live in SSE registers")
                };
                self.asm.packed(PackedOp::Movaps, x, home);
                x
            }
            Val::Gpr(..) | Val::Flags(_) => unreachable!("validated: float operand expected"),
        }
    }

    pub(crate) fn load_const_xmm(&mut self, x: Xmm, bits: u64) {
        if bits == 0 {
            self.asm.packed(PackedOp::Xorps, x, x);
        } else {
            let mem = self.const_mem(bits);
            self.asm.movs(FSize::F64, x, mem);
        }
    }

    /// Pops an integer right operand, as an immediate when it fits in 32 bits.
    pub(crate) fn pop_rhs(&mut self) -> Rhs {
        if let Val::Const(ty, bits) = self.peek(0) {
            let imm = match ty {
                Type::I32 => Some(bits as u32 as i32),
                _ => i32::try_from(bits as i64).ok(),
            };
            if let Some(imm) = imm {
                self.pop();
                return Rhs::Imm(imm);
            }
        }
        Rhs::Reg(self.pop_gpr_borrowed())
    }

    /// Pops an integer operand that will only be read: a register local is used in
    /// place (its home register is never freed); anything else as `pop_gpr`.
    pub(crate) fn pop_gpr_borrowed(&mut self) -> Reg {
        if let Val::Local(_, index) = self.peek(0) {
            self.pop();
            return self.home_gpr(index);
        }
        self.pop_gpr()
    }

    /// Whether `r` is a local's home (borrowed, never owned by an operand).
    pub(crate) fn is_home(&self, r: Reg) -> bool {
        self.home_gprs.0 & (1 << r.num()) != 0
    }

    /// Pops a float operand that will only be read (see `pop_gpr_borrowed`).
    pub(crate) fn pop_xmm_borrowed(&mut self) -> Xmm {
        if let Val::Local(_, index) = self.peek(0) {
            if let Home::Xmm(x) = self.homes[index as usize] {
                self.pop();
                return x;
            }
        }
        self.pop_xmm()
    }

    /// The home register of an integer local kept in a register.
    pub(crate) fn home_gpr(&self, index: u32) -> Reg {
        match self.homes[index as usize] {
            Home::Gpr(r) => r,
            _ => unreachable!("only register homes are referenced lazily"),
        }
    }

    /// Before local `index` is written: copies of its old value replace the lazy
    /// references to it on the stack.
    pub(crate) fn detach_local(&mut self, index: u32) {
        for i in 0..self.stack.len() {
            if let Val::Local(ty, j) = self.stack[i] {
                if j == index {
                    self.stack[i] = if ty.is_float() {
                        let x = self.alloc_xmm();
                        let Home::Xmm(home) = self.homes[j as usize] else {
                            unreachable!("float locals live in SSE registers")
                        };
                        self.asm.packed(PackedOp::Movaps, x, home);
                        Val::Xmm(ty, x)
                    } else {
                        let r = self.alloc_gpr();
                        let home = self.home_gpr(j);
                        self.asm.mov(size(ty), r, home);
                        Val::Gpr(ty, r)
                    };
                }
            }
        }
    }

    pub(crate) fn free_rhs(&mut self, rhs: Rhs) {
        if let Rhs::Reg(r) = rhs {
            self.free_gpr(r);
        }
    }

    /// Pops the top value as a constant or a register value (loading a spilled one).
    pub(crate) fn pop_unspilled(&mut self) -> Val {
        match self.peek(0) {
            Val::Slot(ty) if ty.is_float() => Val::Xmm(ty, self.pop_xmm()),
            Val::Slot(ty) => Val::Gpr(ty, self.pop_gpr()),
            Val::Flags(_) => Val::Gpr(Type::I32, self.pop_gpr()),
            _ => self.pop(),
        }
    }

    /// Pushes a value that lives in the given register.
    pub(crate) fn push_gpr(&mut self, ty: Type, r: Reg) {
        self.push(Val::Gpr(ty, r));
    }

    pub(crate) fn push_xmm(&mut self, ty: Type, x: Xmm) {
        self.push(Val::Xmm(ty, x));
    }

    /// Pushes a value that a call or branch left in its slot.
    pub(crate) fn push_slot(&mut self, ty: Type) {
        self.push(Val::Slot(ty));
    }

    /// Pushes the value at `src` (a local or global) as a fresh register value.
    pub(crate) fn push_load(&mut self, ty: Type, src: Mem) {
        if ty.is_float() {
            let x = self.alloc_xmm();
            self.asm.movs(fsize(ty), x, src);
            self.push_xmm(ty, x);
        } else {
            let r = self.alloc_gpr();
            self.asm.mov(size(ty), r, src);
            self.push_gpr(ty, r);
        }
    }

    /// Copies the 8-byte slot `from` to slot `to`.
    pub(crate) fn copy_slot(&mut self, from: usize, to: usize) {
        if from != to {
            let (f, t) = (self.slot(from), self.slot(to));
            self.asm.mov(Size::S64, Reg::R11, f);
            self.asm.mov(Size::S64, t, Reg::R11);
        }
    }
}
