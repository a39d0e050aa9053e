//! Calls: direct calls inside the module, calls through imports and tables, and calls
//! to the runtime's builtins.
//!
//! WASM-to-WASM calls pass every argument and result in 8-byte stack slots
//! (`kiln_abi::wasm`); all operands are spilled first, so nothing lives in a register
//! across a call.

use super::stack::Val;
use super::{FuncCompiler, MEMBASE, VMCTX};
use crate::module::Type;
use kiln_abi::wasm::{
    Builtin, TrapCode, FUNCREF_CODE, FUNCREF_SIG_ID, FUNCREF_SIZE, FUNCREF_VMCTX, TABLE_ELEMS,
    TABLE_LEN, VMCTX_FUNCS, VMCTX_MEMORY_BASE, VMCTX_SIG_IDS, VMCTX_TABLES,
};
use kiln_x64::{AluOp, Cond, Mem, Reg, Scale, Size};

/// Where a call goes.
enum Callee {
    /// A function of this module.
    Direct(u32),
    /// Through the `FuncRef` whose address is in `r11`.
    FuncRef,
}

impl FuncCompiler<'_> {
    /// Emits a call with `params` arguments on top of the stack and `results` results.
    fn emit_call(&mut self, params: usize, results: &[Type], callee: Callee) {
        let area = ((params.max(results.len()) * 8 + 15) & !15) as i32;
        let base = self.stack.len() - params;
        if area > 0 {
            self.asm.alu(Size::S64, AluOp::Sub, Reg::Rsp, area);
        }
        for k in 0..params {
            let from = self.slot(base + k);
            self.asm.mov(Size::S64, Reg::Rax, from);
            self.asm
                .mov(Size::S64, Mem::base(Reg::Rsp, 8 * k as i32), Reg::Rax);
        }
        self.save_homes();
        match callee {
            Callee::Direct(f) => self.asm.call(self.func_labels[f as usize]),
            Callee::FuncRef => {
                self.asm
                    .mov(Size::S64, VMCTX, Mem::base(Reg::R11, FUNCREF_VMCTX as i32));
                self.asm.mov(
                    Size::S64,
                    MEMBASE,
                    Mem::base(VMCTX, VMCTX_MEMORY_BASE as i32),
                );
                self.asm.call_ind(Mem::base(Reg::R11, FUNCREF_CODE as i32));
                self.asm.mov(Size::S64, VMCTX, Mem::base(Reg::Rbp, -8));
                self.asm.mov(
                    Size::S64,
                    MEMBASE,
                    Mem::base(VMCTX, VMCTX_MEMORY_BASE as i32),
                );
            }
        }
        self.reload_homes();
        self.stack.truncate(base);
        for (k, ty) in results.iter().enumerate() {
            let to = self.slot(base + k);
            self.asm
                .mov(Size::S64, Reg::Rax, Mem::base(Reg::Rsp, 8 * k as i32));
            self.asm.mov(Size::S64, to, Reg::Rax);
            self.push_slot(*ty);
        }
        if area > 0 {
            self.asm.alu(Size::S64, AluOp::Add, Reg::Rsp, area);
        }
    }

    pub(crate) fn call(&mut self, func: u32) {
        let ty = self.module.func_type(func).clone();
        self.spill_all();
        if func < self.module.imported_funcs {
            self.asm
                .mov(Size::S64, Reg::R11, Mem::base(VMCTX, VMCTX_FUNCS as i32));
            self.asm.alu(
                Size::S64,
                AluOp::Add,
                Reg::R11,
                (func * FUNCREF_SIZE) as i32,
            );
            self.emit_call(ty.params.len(), &ty.results, Callee::FuncRef);
        } else {
            self.emit_call(ty.params.len(), &ty.results, Callee::Direct(func));
        }
    }

    pub(crate) fn call_indirect(&mut self, type_index: u32, table: u32) {
        let ty = self.module.types[type_index as usize].clone();
        let index = self.pop_gpr();
        self.spill_all();
        self.asm.mov(Size::S32, Reg::Rcx, index);
        self.free_gpr(index);
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(VMCTX, VMCTX_TABLES as i32));
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(Reg::R11, 8 * table as i32));
        self.asm.alu(
            Size::S64,
            AluOp::Cmp,
            Reg::Rcx,
            Mem::base(Reg::R11, TABLE_LEN as i32),
        );
        self.trap_if(Cond::Ae, TrapCode::UndefinedElement);
        self.asm
            .mov(Size::S64, Reg::R11, Mem::base(Reg::R11, TABLE_ELEMS as i32));
        self.asm.mov(
            Size::S64,
            Reg::R11,
            Mem::base_index(Reg::R11, Reg::Rcx, Scale::S8, 0),
        );
        self.asm.test(Size::S64, Reg::R11, Reg::R11);
        self.trap_if(Cond::E, TrapCode::UninitializedElement);
        self.asm
            .mov(Size::S64, Reg::Rax, Mem::base(VMCTX, VMCTX_SIG_IDS as i32));
        self.asm.mov(
            Size::S64,
            Reg::Rax,
            Mem::base(Reg::Rax, 8 * type_index as i32),
        );
        self.asm.alu(
            Size::S64,
            AluOp::Cmp,
            Reg::Rax,
            Mem::base(Reg::R11, FUNCREF_SIG_ID as i32),
        );
        self.trap_if(Cond::Ne, TrapCode::IndirectCallTypeMismatch);
        self.emit_call(ty.params.len(), &ty.results, Callee::FuncRef);
    }

    /// Calls runtime routine `builtin` with the System V convention: the VM context, the
    /// immediates `imms`, then the top `operands` stack values. Pushes the result (if
    /// `result`) and raises the trap code it returns (if `traps`).
    pub(crate) fn call_builtin(
        &mut self,
        builtin: Builtin,
        imms: &[u32],
        operands: usize,
        result: Option<Type>,
        traps: bool,
    ) {
        const ARGS: [Reg; 5] = [Reg::Rsi, Reg::Rdx, Reg::Rcx, Reg::R8, Reg::R9];
        self.spill_all();
        let base = self.stack.len() - operands;
        let mut args = ARGS.iter();
        for &imm in imms {
            let r = *args.next().expect("builtins take at most five arguments");
            self.asm.mov(Size::S32, r, imm as i32);
        }
        for k in 0..operands {
            let r = *args.next().expect("builtins take at most five arguments");
            let v = self.stack[base + k];
            let from = self.slot(base + k);
            match v.ty() {
                Type::I32 => self.asm.mov(Size::S32, r, from),
                _ => self.asm.mov(Size::S64, r, from),
            }
        }
        self.stack.truncate(base);
        self.save_homes();
        self.asm.mov(Size::S64, Reg::Rdi, VMCTX);
        self.asm
            .call_ind(Mem::base(VMCTX, builtin.vmctx_offset() as i32));
        self.reload_homes();
        if traps {
            self.trap_if_eax();
        }
        if let Some(ty) = result {
            let r = self.alloc_gpr();
            self.asm.mov(super::stack::size(ty), r, Reg::Rax);
            self.push(Val::Gpr(ty, r));
        }
    }
}
