//! Calls: direct calls inside the module and to the imports the runtime provides (both
//! `call rel32` against a symbol), calls through imports bound at instantiation and
//! through tables, and calls to the runtime's builtins.
//!
//! WASM-to-WASM calls pass every argument and result in 8-byte stack slots
//! (`kiln_abi::wasm`); all other operands are spilled first, so nothing lives in a
//! register across a call.

use super::stack::{Rhs, Val};
use super::symbols::RuntimeSymbol;
use super::{FuncCompiler, MEMBASE, VMCTX};
use crate::module::{FuncType, Type};
use kiln_abi::wasm::{
    Builtin, TrapCode, FUNCREF_CODE, FUNCREF_SIG_ID, FUNCREF_SIZE, FUNCREF_VMCTX, VMCTX_FUNCS,
    VMCTX_MEMORY_BASE, VMCTX_SIG_IDS,
};
use kiln_x64::{AluOp, Cond, Mem, Reg, Size, SymbolId};

/// Where a call goes.
#[derive(Clone, Copy)]
enum Callee {
    /// A function of this module or of the runtime: a direct `call rel32` to the symbol.
    /// The callee runs in the caller's context.
    Direct(SymbolId),
    /// An import bound at instantiation, through its `FuncRef` in the VM context.
    Import(u32),
    /// Through a table: the index is in the register, checked against the table and the
    /// signature before the call.
    Indirect {
        index: Reg,
        type_index: u32,
        table: u32,
    },
}

impl FuncCompiler<'_> {
    /// Emits a call of a function of type `ty` whose arguments are on top of the stack.
    ///
    /// Arguments go straight from where they are to the outgoing area at `[rsp]`
    /// (reserved in the frame for the largest call), the other operands are spilled,
    /// and the results come back in registers.
    fn emit_call(&mut self, ty: &FuncType, callee: Callee) {
        for k in (0..ty.params.len()).rev() {
            let to = Mem::base(Reg::Rsp, 8 * k as i32);
            let from = self.slot(self.stack.len() - 1);
            match self.pop() {
                Val::Slot(_) => {
                    self.asm.mov(Size::S64, Reg::Rax, from);
                    self.asm.mov(Size::S64, to, Reg::Rax);
                }
                v => self.store_val(v, to),
            }
        }
        self.spill_all();
        self.save_homes();
        match callee {
            Callee::Direct(symbol) => self.asm.call_symbol(symbol),
            Callee::Import(f) => {
                self.asm
                    .mov(Size::S64, Reg::R11, Mem::base(VMCTX, VMCTX_FUNCS as i32));
                self.asm
                    .alu(Size::S64, AluOp::Add, Reg::R11, (f * FUNCREF_SIZE) as i32);
                self.call_funcref();
            }
            Callee::Indirect {
                index,
                type_index,
                table,
            } => {
                self.asm.mov(Size::S32, Reg::Rcx, index);
                self.free_gpr(index);
                self.check_indirect(type_index, table);
                self.call_funcref();
            }
        }
        self.reload_homes();
        for (k, ty) in ty.results.iter().enumerate() {
            self.push_load(*ty, Mem::base(Reg::Rsp, 8 * k as i32));
        }
    }

    /// Calls the `FuncRef` at `r11` in its own instance's context, then restores ours.
    fn call_funcref(&mut self) {
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

    /// Looks up table entry `ecx` of `table` into `r11`, trapping when it is out of
    /// bounds, null, or of another signature than `type_index`.
    fn check_indirect(&mut self, type_index: u32, table: u32) {
        self.table_check(table, Rhs::Reg(Reg::Rcx), TrapCode::UndefinedElement);
        self.asm
            .mov(Size::S64, Reg::R11, Self::table_elem(Rhs::Reg(Reg::Rcx)));
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
    }

    pub(crate) fn call(&mut self, func: u32) {
        let ty = self.module.func_type(func).clone();
        let callee = match self.runtime_imports.get(func as usize) {
            None => Callee::Direct(SymbolId(func)),
            Some(Some(f)) => Callee::Direct(RuntimeSymbol::Wasi(*f).id()),
            Some(None) => Callee::Import(func),
        };
        self.emit_call(&ty, callee);
    }

    pub(crate) fn call_indirect(&mut self, type_index: u32, table: u32) {
        let ty = self.module.types[type_index as usize].clone();
        let index = self.pop_gpr();
        self.emit_call(
            &ty,
            Callee::Indirect {
                index,
                type_index,
                table,
            },
        );
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
        self.asm.call_symbol(RuntimeSymbol::Builtin(builtin).id());
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
