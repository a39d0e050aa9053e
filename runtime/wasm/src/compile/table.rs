//! Globals, references and tables.
//!
//! Globals are reached through the VM context's array of cell pointers (so imported
//! mutable globals are shared); tables through their `TableDesc`, with an explicit
//! bounds check on every element access.

use super::stack::{size, Rhs, Val};
use super::{FuncCompiler, VMCTX};
use crate::module::Type;
use kiln_abi::wasm::{
    Builtin, TrapCode, FUNCREF_SIZE, TABLE_ELEMS, TABLE_LEN, VMCTX_FUNCS, VMCTX_GLOBALS,
    VMCTX_TABLES,
};
use kiln_x64::{AluOp, Cond, Mem, Reg, Scale, Size};

impl FuncCompiler<'_> {
    /// Loads the address of global `index`'s cell into `r11`.
    fn global_cell(&mut self, index: u32) -> Mem {
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(VMCTX, VMCTX_GLOBALS as i32));
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(Reg::R11, 8 * index as i32));
        Mem::base(Reg::R11, 0)
    }

    pub(crate) fn global_get(&mut self, index: u32) {
        let ty = self.module.globals[index as usize].ty;
        if ty.is_float() {
            let x = self.alloc_xmm();
            let cell = self.global_cell(index);
            self.asm.movs(super::stack::fsize(ty), x, cell);
            self.push_xmm(ty, x);
        } else {
            let r = self.alloc_gpr();
            let cell = self.global_cell(index);
            self.asm.mov(size(ty), r, cell);
            self.push_gpr(ty, r);
        }
    }

    pub(crate) fn global_set(&mut self, index: u32) {
        // The cell address takes r11, which constant stores also use: go through a register.
        let ty = self.peek(0).ty();
        let v = if ty.is_float() {
            Val::Xmm(ty, self.pop_xmm())
        } else {
            Val::Gpr(ty, self.pop_gpr())
        };
        let cell = self.global_cell(index);
        self.store_val(v, cell);
    }

    pub(crate) fn ref_func(&mut self, func: u32) {
        let r = self.alloc_gpr();
        self.asm
            .mov(Size::S64, r, Mem::base(VMCTX, VMCTX_FUNCS as i32));
        self.asm
            .alu(Size::S64, AluOp::Add, r, (func * FUNCREF_SIZE) as i32);
        self.push_gpr(Type::FuncRef, r);
    }

    /// Checks `index` against the length of table `table` (trapping with `trap` when it
    /// is out of bounds) and leaves the address of the table's elements in `r11`.
    pub(super) fn table_check(&mut self, table: u32, index: Rhs, trap: TrapCode) {
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(VMCTX, VMCTX_TABLES as i32));
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(Reg::R11, 8 * table as i32));
        match index {
            Rhs::Imm(i) => {
                self.asm.mov(Size::S32, Reg::Rax, i);
                self.asm.alu(
                    Size::S64,
                    AluOp::Cmp,
                    Reg::Rax,
                    Mem::base(Reg::R11, TABLE_LEN as i32),
                );
            }
            Rhs::Reg(r) => {
                self.asm.alu(
                    Size::S64,
                    AluOp::Cmp,
                    r,
                    Mem::base(Reg::R11, TABLE_LEN as i32),
                );
            }
        }
        self.trap_if(Cond::Ae, trap);
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(Reg::R11, TABLE_ELEMS as i32));
    }

    /// The element at `index` of the table whose elements `r11` points to.
    pub(super) fn table_elem(index: Rhs) -> Mem {
        match index {
            Rhs::Imm(i) => Mem::base(Reg::R11, 8 * i),
            Rhs::Reg(r) => Mem::base_index(Reg::R11, r, Scale::S8, 0),
        }
    }

    pub(crate) fn table_get(&mut self, table: u32) {
        let index = self.pop_index();
        self.table_check(table, index, TrapCode::TableOutOfBounds);
        let r = match index {
            Rhs::Reg(r) => r,
            Rhs::Imm(_) => self.alloc_gpr(),
        };
        self.asm.mov(Size::S64, r, Self::table_elem(index));
        let ty = self.module.tables[table as usize].elem;
        self.push_gpr(ty, r);
    }

    pub(crate) fn table_set(&mut self, table: u32) {
        let value = self.pop_gpr();
        let index = self.pop_index();
        self.table_check(table, index, TrapCode::TableOutOfBounds);
        self.asm.mov(Size::S64, Self::table_elem(index), value);
        self.free_gpr(value);
        self.free_rhs(index);
    }

    /// Pops a table index, as an immediate if it is a small constant.
    fn pop_index(&mut self) -> Rhs {
        match self.peek(0) {
            Val::Const(_, i) if i < 1 << 28 => {
                self.pop();
                Rhs::Imm(i as i32)
            }
            _ => Rhs::Reg(self.pop_gpr()),
        }
    }

    pub(crate) fn table_size(&mut self, table: u32) {
        let r = self.alloc_gpr();
        self.asm
            .mov(Size::S64, r, Mem::base(VMCTX, VMCTX_TABLES as i32));
        self.asm.mov(Size::S64, r, Mem::base(r, 8 * table as i32));
        self.asm.mov(Size::S32, r, Mem::base(r, TABLE_LEN as i32));
        self.push_gpr(Type::I32, r);
    }

    pub(crate) fn table_grow(&mut self, table: u32) {
        self.call_builtin(Builtin::TableGrow, &[table], 2, Some(Type::I32), false);
    }

    pub(crate) fn table_fill(&mut self, table: u32) {
        self.call_builtin(Builtin::TableFill, &[table], 3, None, true);
    }

    pub(crate) fn table_copy(&mut self, dst: u32, src: u32) {
        self.call_builtin(Builtin::TableCopy, &[dst, src], 3, None, true);
    }

    pub(crate) fn table_init(&mut self, segment: u32, table: u32) {
        self.call_builtin(Builtin::TableInit, &[table, segment], 3, None, true);
    }

    pub(crate) fn elem_drop(&mut self, segment: u32) {
        self.call_builtin(Builtin::ElemDrop, &[segment], 0, None, false);
    }
}
