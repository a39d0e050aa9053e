//! Structured control flow: blocks, loops, `if`/`else`, branches and `return`.
//!
//! At every join (a label more than one path reaches) all operands are in their frame
//! slots, so a branch only has to copy its carried values down to the target's height
//! and jump.

use super::FuncCompiler;
use crate::error::CompileError;
use crate::module::Type;
use alloc::vec::Vec;
use kiln_x64::{AluOp, Cond, Label, Mem, Reg, Scale, Size};
use wasmparser::{BlockType, BrTable, Operator};

/// What kind of construct a control frame is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Function,
    Block,
    Loop,
    If,
    Else,
}

/// One entry of the control stack.
#[derive(Clone, Debug)]
pub(crate) struct Frame {
    kind: Kind,
    /// Branch target: the end (or the head of a loop).
    label: Label,
    /// Where the false path of an `if` starts.
    else_label: Option<Label>,
    /// Operand stack height below the frame's parameters.
    height: usize,
    params: Vec<Type>,
    results: Vec<Type>,
    /// Whether the frame was entered from reachable code.
    entered: bool,
    /// Whether some branch targets the end label.
    branched: bool,
}

impl Frame {
    /// The outermost frame: the function body.
    pub(crate) fn function(label: Label, results: Vec<Type>) -> Self {
        Frame {
            kind: Kind::Function,
            label,
            else_label: None,
            height: 0,
            params: Vec::new(),
            results,
            entered: true,
            branched: false,
        }
    }

    /// Types a branch to this frame carries.
    fn branch_types(&self) -> &[Type] {
        if self.kind == Kind::Loop {
            &self.params
        } else {
            &self.results
        }
    }
}

/// Operators that must be visited even in unreachable code, to track nesting.
pub(crate) fn is_structural(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
    )
}

/// Operators that consume a pending comparison straight from the flags.
pub(crate) fn uses_flags(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::BrIf { .. }
            | Operator::If { .. }
            | Operator::I32Eqz
            | Operator::Select
            | Operator::TypedSelect { .. }
    )
}

impl FuncCompiler<'_> {
    fn block_sig(&self, ty: BlockType) -> Result<(Vec<Type>, Vec<Type>), CompileError> {
        Ok(match ty {
            BlockType::Empty => (Vec::new(), Vec::new()),
            BlockType::Type(t) => (Vec::new(), alloc::vec![Type::from_wasm(t, self.offset)?]),
            BlockType::FuncType(i) => {
                let f = &self.module.types[i as usize];
                (f.params.clone(), f.results.clone())
            }
        })
    }

    fn push_frame(&mut self, kind: Kind, ty: BlockType, label: Label) -> Result<(), CompileError> {
        let (params, results) = self.block_sig(ty)?;
        let height = if self.reachable {
            self.stack.len() - params.len()
        } else {
            self.stack.len()
        };
        self.frames.push(Frame {
            kind,
            label,
            else_label: None,
            height,
            params,
            results,
            entered: self.reachable,
            branched: false,
        });
        Ok(())
    }

    pub(crate) fn block(&mut self, ty: BlockType) -> Result<(), CompileError> {
        if self.reachable {
            self.spill_all();
        }
        let label = self.asm.new_label();
        self.push_frame(Kind::Block, ty, label)
    }

    pub(crate) fn loop_(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let label = self.asm.new_label();
        if self.reachable {
            self.spill_all();
            self.asm.bind(label);
            self.forget_saved_homes();
        }
        self.push_frame(Kind::Loop, ty, label)
    }

    pub(crate) fn if_(&mut self, ty: BlockType) -> Result<(), CompileError> {
        let label = self.asm.new_label();
        let else_label = self.asm.new_label();
        if self.reachable {
            let cond = self.pop_condition();
            self.spill_all();
            self.asm.jcc(cond.invert(), else_label);
        }
        self.push_frame(Kind::If, ty, label)?;
        self.frames.last_mut().expect("just pushed").else_label = Some(else_label);
        Ok(())
    }

    pub(crate) fn else_(&mut self) -> Result<(), CompileError> {
        let frame = self.frames.last_mut().expect("validated: else inside if");
        let (label, else_label) = (frame.label, frame.else_label.take().expect("validated"));
        frame.kind = Kind::Else;
        let entered = frame.entered;
        if self.reachable {
            self.spill_all();
            self.asm.jmp(label);
            self.frames.last_mut().expect("present").branched = true;
        }
        if entered {
            self.asm.bind(else_label);
            self.forget_saved_homes();
        }
        self.reset_stack(false);
        self.reachable = entered;
        Ok(())
    }

    /// Resets the operand stack to the current frame's height plus its parameters
    /// (`results == false`) or results, all in their slots.
    fn reset_stack(&mut self, results: bool) {
        let frame = self.frames.last().expect("a frame is open");
        let types = if results {
            frame.results.clone()
        } else {
            frame.params.clone()
        };
        let height = frame.height;
        while self.stack.len() > height {
            let v = self.pop();
            self.free(v);
        }
        for ty in types {
            self.push_slot(ty);
        }
    }

    pub(crate) fn end(&mut self) -> Result<(), CompileError> {
        let frame = self
            .frames
            .last()
            .expect("validated: end matches a frame")
            .clone();
        let open_else = frame.kind == Kind::If;
        let branched = frame.branched && frame.kind != Kind::Loop;
        let join = branched || open_else;
        if join {
            if self.reachable {
                self.spill_all();
            }
            self.asm.bind(frame.label);
            if let (true, Some(l)) = (frame.entered, frame.else_label) {
                self.asm.bind(l);
            }
            self.forget_saved_homes();
            self.reset_stack(true);
        } else if !self.reachable {
            self.reset_stack(true);
        }
        self.reachable = frame.entered && (self.reachable || branched || open_else);
        self.frames.pop();
        if frame.kind == Kind::Function && self.reachable {
            self.epilogue(join);
        }
        Ok(())
    }

    /// Copies the values a branch to `depth` carries to the target's slots and jumps.
    fn branch_to(&mut self, depth: u32) {
        self.spill_all();
        let i = self.frames.len() - 1 - depth as usize;
        let frame = &self.frames[i];
        let n = frame.branch_types().len();
        let (height, label) = (frame.height, frame.label);
        let top = self.stack.len() - n;
        for k in 0..n {
            self.copy_slot(top + k, height + k);
        }
        self.frames[i].branched = true;
        self.asm.jmp(label);
    }

    /// The stack after an unconditional transfer: nothing below it runs.
    fn mark_unreachable(&mut self) {
        let height = self.frames.last().expect("a frame is open").height;
        while self.stack.len() > height {
            let v = self.pop();
            self.free(v);
        }
        self.reachable = false;
    }

    pub(crate) fn br(&mut self, depth: u32) {
        self.branch_to(depth);
        self.mark_unreachable();
    }

    pub(crate) fn br_if(&mut self, depth: u32) {
        let cond = self.pop_condition();
        // Spilling only moves data, so the flags survive it.
        self.spill_all();
        let i = self.frames.len() - 1 - depth as usize;
        let n = self.frames[i].branch_types().len();
        if self.stack.len() - n == self.frames[i].height {
            self.frames[i].branched = true;
            self.asm.jcc(cond, self.frames[i].label);
        } else {
            let skip = self.asm.new_label();
            self.asm.jcc(cond.invert(), skip);
            self.branch_to(depth);
            self.asm.bind(skip);
        }
    }

    /// `br_table` through a jump table of 32-bit offsets; one stub per distinct target
    /// copies the carried values and jumps.
    pub(crate) fn br_table(&mut self, table: BrTable<'_>) -> Result<(), CompileError> {
        let err =
            |e: wasmparser::BinaryReaderError| CompileError::new(e.message(), e.offset() as usize);
        let targets = table
            .targets()
            .collect::<Result<Vec<u32>, _>>()
            .map_err(err)?;
        let index = self.pop_gpr();
        self.spill_all();
        self.asm.mov(Size::S32, Reg::Rax, index);
        self.free_gpr(index);
        let mut stubs: Vec<(u32, Label)> = Vec::new();
        let mut stub = |asm: &mut kiln_x64::Assembler, depth: u32| match stubs
            .iter()
            .find(|(d, _)| *d == depth)
        {
            Some((_, l)) => *l,
            None => {
                let l = asm.new_label();
                stubs.push((depth, l));
                l
            }
        };
        let default = stub(self.asm, table.default());
        self.asm
            .alu(Size::S32, AluOp::Cmp, Reg::Rax, targets.len() as i32);
        self.asm.jcc(Cond::Ae, default);
        let jump_table = self.asm.new_label();
        self.asm.lea(Size::S64, Reg::R11, Mem::label(jump_table));
        self.asm.movsx(
            Size::S64,
            Reg::Rax,
            Size::S32,
            Mem::base_index(Reg::R11, Reg::Rax, Scale::S4, 0),
        );
        self.asm.alu(Size::S64, AluOp::Add, Reg::Rax, Reg::R11);
        self.asm.jmp_ind(Reg::Rax);
        self.asm.bind(jump_table);
        for &t in &targets {
            let l = stub(self.asm, t);
            self.asm.emit_label_diff32(l, jump_table);
        }
        for (depth, label) in stubs {
            self.asm.bind(label);
            self.branch_to(depth);
        }
        self.mark_unreachable();
        Ok(())
    }

    pub(crate) fn return_(&mut self) {
        self.br(self.frames.len() as u32 - 1);
    }

    pub(crate) fn unreachable(&mut self) {
        let l = self.trap_label(kiln_abi::wasm::TrapCode::Unreachable);
        self.asm.jmp(l);
        self.mark_unreachable();
    }
}
