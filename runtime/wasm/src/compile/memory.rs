//! Linear memory: loads and stores through the guard region, `memory.size`/`grow` and
//! the bulk memory operators.
//!
//! An access is `[r14 + zero-extended index + offset]`. Memory 0 is a reservation of
//! `kiln_abi::wasm::MEMORY_RESERVATION` bytes of which only the current size is mapped,
//! so an out-of-bounds access faults and the runtime turns the fault into a trap.

use super::stack::{fsize, Rhs, Val};
use super::{FuncCompiler, MEMBASE, VMCTX};
use crate::module::Type;
use kiln_abi::wasm::{Builtin, VMCTX_MEMORY_SIZE};
use kiln_x64::{AluOp, Mem, Reg, Scale, ShiftOp, Size};
use wasmparser::MemArg;

/// How a load widens its value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Extend {
    /// Loads the whole type.
    None,
    /// Zero-extends from the given width.
    Zero(Size),
    /// Sign-extends from the given width.
    Sign(Size),
}

impl FuncCompiler<'_> {
    /// Pops the index and forms the address of `index + offset`; returns the index
    /// register to free after the access.
    fn address(&mut self, memarg: &MemArg) -> (Mem, Option<Reg>) {
        let offset = memarg.offset;
        if let Val::Const(_, index) = self.peek(0) {
            self.pop();
            let ea = index + offset;
            if let Ok(disp) = i32::try_from(ea) {
                return (Mem::base(MEMBASE, disp), None);
            }
            self.asm.mov_imm64(Reg::R11, ea as i64);
            return (Mem::base_index(MEMBASE, Reg::R11, Scale::S1, 0), None);
        }
        let index = self.pop_gpr_borrowed();
        if let Ok(disp) = i32::try_from(offset) {
            (
                Mem::base_index(MEMBASE, index, Scale::S1, disp),
                Some(index),
            )
        } else {
            self.asm.mov_imm64(Reg::R11, offset as i64);
            self.asm.alu(Size::S64, AluOp::Add, Reg::R11, index);
            (
                Mem::base_index(MEMBASE, Reg::R11, Scale::S1, 0),
                Some(index),
            )
        }
    }

    pub(crate) fn load(&mut self, ty: Type, ext: Extend, memarg: MemArg) {
        let (mem, index) = self.address(&memarg);
        if ty.is_float() {
            let x = self.alloc_xmm();
            self.asm.movs(fsize(ty), x, mem);
            if let Some(r) = index {
                self.free_gpr(r);
            }
            self.push_xmm(ty, x);
            return;
        }
        let target = self.set_target();
        if let Some((x, _)) = target {
            self.detach_local(x);
        }
        let r = match (target, index) {
            (Some((_, home)), _) => home,
            (None, Some(r)) if !self.is_home(r) => r,
            _ => self.alloc_gpr(),
        };
        let s = super::stack::size(ty);
        if let Some(i) = index.filter(|i| *i != r) {
            self.free_gpr(i);
        }
        match ext {
            Extend::None => self.asm.mov(s, r, mem),
            Extend::Zero(Size::S32) => self.asm.mov(Size::S32, r, mem),
            Extend::Zero(from) => self.asm.movzx(Size::S32, r, from, mem),
            Extend::Sign(from) => self.asm.movsx(s, r, from, mem),
        }
        match target {
            Some((x, _)) => {
                self.home_saved[x as usize] = false;
                self.push(Val::Local(ty, x));
            }
            None => self.push_gpr(ty, r),
        }
    }

    /// Stores the low `width` bytes of the top value (`None`: the whole type).
    pub(crate) fn store(&mut self, ty: Type, width: Option<Size>, memarg: MemArg) {
        if ty.is_float() {
            let x = self.pop_xmm();
            let (mem, index) = self.address(&memarg);
            self.asm.movs(fsize(ty), mem, x);
            self.free_xmm(x);
            if let Some(r) = index {
                self.free_gpr(r);
            }
            return;
        }
        let s = width.unwrap_or(super::stack::size(ty));
        let value = self.pop_rhs();
        let (mem, index) = self.address(&memarg);
        match value {
            Rhs::Imm(i) => self.asm.mov(s, mem, i),
            Rhs::Reg(r) => self.asm.mov(s, mem, r),
        }
        self.free_rhs(value);
        if let Some(r) = index {
            self.free_gpr(r);
        }
    }

    pub(crate) fn memory_size(&mut self) {
        let r = self.alloc_gpr();
        self.asm
            .mov(Size::S64, r, Mem::base(VMCTX, VMCTX_MEMORY_SIZE as i32));
        self.asm.mov(Size::S64, r, Mem::base(r, 0));
        self.asm.shift(Size::S64, ShiftOp::Shr, r, 16);
        self.push_gpr(Type::I32, r);
    }

    pub(crate) fn memory_grow(&mut self) {
        self.call_builtin(Builtin::MemoryGrow, &[], 1, Some(Type::I32), false);
    }

    pub(crate) fn memory_fill(&mut self) {
        self.call_builtin(Builtin::MemoryFill, &[], 3, None, true);
    }

    pub(crate) fn memory_copy(&mut self) {
        self.call_builtin(Builtin::MemoryCopy, &[], 3, None, true);
    }

    pub(crate) fn memory_init(&mut self, segment: u32) {
        self.call_builtin(Builtin::MemoryInit, &[segment], 3, None, true);
    }

    pub(crate) fn data_drop(&mut self, segment: u32) {
        self.call_builtin(Builtin::DataDrop, &[segment], 0, None, false);
    }
}
