//! The baseline compiler: WASM function bodies to x86-64, one pass per function.
//!
//! Each function is lowered by a `FuncCompiler` that implements
//! `wasmparser::VisitOperator` with one small method per operator (see `visit`). The
//! operand stack is a stack of abstract values (`stack`): constants, values in
//! registers, lazy reads of locals kept in registers (`locals`), pending comparisons in
//! the flags, and values spilled to their fixed frame slot. Operators pop operands into
//! registers (or keep constants as immediates), emit a few instructions through the
//! `kiln_x64` assembler and push a register result. At control-flow joins every value is
//! spilled to its slot, so all paths agree on where values live. A stronger tier can
//! replace this by a register allocator over the same visitor.
//!
//! Frame layout (see also `kiln_abi::wasm` for the calling convention):
//!
//! ```text
//! [rbp + 16 + 8*i]   parameter i / result i
//! [rbp + 8]          return address
//! [rbp]              caller's rbp
//! [rbp - 8]          the VM context (r15) of this function
//! [rbp - 16 - 8*j]   non-parameter local j (for register locals: their save slot)
//! below              one 8-byte slot per operand stack position
//! [rsp + 8*k]        outgoing call area: argument / result k of a call
//! ```
//!
//! After the code of each function come its trap stubs and its float constants.
//!
//! Calls between the module's functions, to the trap routine, to builtins and to the
//! imports the runtime provides are `call rel32` instructions whose targets are left to
//! relocations ([`symbols`]): xtask turns them into ELF relocations, [`link`] resolves
//! them for code loaded in memory.

mod call;
mod control;
mod float;
mod int;
pub mod link;
mod locals;
mod memory;
mod stack;
pub mod symbols;
mod table;
mod visit;

use crate::error::CompileError;
use crate::module::{parse, FuncFacts, ModuleInfo, Type};
use crate::wasi::Func;
use alloc::string::String;
use alloc::vec::Vec;
use control::Frame;
use kiln_abi::wasm::{TrapCode, VMCTX_STACK_LIMIT};
use kiln_x64::{AluOp, Assembler, Cond, Label, Mem, Reg, Size};
/// The relocation types of [`CompiledModule::relocs`], for its users (xtask's object
/// writer).
pub use kiln_x64::{Reloc, RelocKind, SymbolId};
use stack::{RegSet, Val};
use symbols::{runtime_imports, RuntimeSymbol};
use wasmparser::{BinaryReader, WasmFeatures};

/// The x86-64 extensions generated code uses beyond the x86-64 baseline (SSE2), as
/// the machine profiles (`targets/*.toml`, `cpu-features`) spell them: `roundss`/
/// `roundsd` (SSE4.1), `popcnt`, `lzcnt` and `tzcnt` (BMI1). An image may only carry
/// compiled code for a profile that provides all of them.
pub const CPU_FEATURES: &[&str] = &["sse4.1", "popcnt", "lzcnt", "bmi1"];

/// One compiled function in the module's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FuncCode {
    /// Function index (in the module's function index space).
    pub index: u32,
    /// Byte offset of the entry point.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// A compiled module: position-independent machine code for every defined function, the
/// symbols naming it, and the module description an instance is built from.
#[derive(Clone, Debug)]
pub struct CompiledModule {
    /// The module description.
    pub info: ModuleInfo,
    /// Machine code of all defined functions, with the fields of `relocs` still zero.
    pub code: Vec<u8>,
    /// Relocations of `code`: `rel32` calls to the module's functions and to runtime
    /// symbols, numbered as [`symbols::Target`] says.
    pub relocs: Vec<Reloc>,
    /// Where each defined function's code is, in function index order.
    pub funcs: Vec<FuncCode>,
}

impl CompiledModule {
    /// The code of function `index`: `None` for an imported function or an index past
    /// the module's functions.
    pub fn func(&self, index: u32) -> Option<&FuncCode> {
        let defined = index.checked_sub(self.info.imported_funcs)?;
        self.funcs.get(defined as usize)
    }

    /// One symbol per defined function: its name (from the name section, else
    /// `func[N]`), code offset and length.
    pub fn symbols(&self) -> impl Iterator<Item = (String, u32, u32)> + '_ {
        self.funcs
            .iter()
            .map(|f| (self.info.func_name(f.index), f.offset, f.len))
    }

    /// The defined function containing code offset `offset`, and the offset inside it.
    pub fn func_at(&self, offset: u32) -> Option<(u32, u32)> {
        let i = self.funcs.partition_point(|f| f.offset <= offset);
        let f = self.funcs.get(i.checked_sub(1)?)?;
        (offset < f.offset + f.len).then_some((f.index, offset - f.offset))
    }
}

/// Validates and compiles a module with the given feature set.
pub fn compile(bytes: &[u8], features: WasmFeatures) -> Result<CompiledModule, CompileError> {
    let info = parse(bytes, features)?;
    let runtime = runtime_imports(&info);
    check_runtime_imports(&info, &runtime)?;
    let mut asm = Assembler::new();
    let mut funcs = Vec::with_capacity(info.bodies.len());
    for (i, body) in info.bodies.iter().enumerate() {
        let index = info.imported_funcs + i as u32;
        asm.align(16);
        let offset = asm.offset();
        let reader = BinaryReader::new(&bytes[body.clone()], body.start as u64);
        FuncCompiler::new(&mut asm, &info, &runtime, index, &info.facts[i])
            .compile(reader, features)?;
        funcs.push(FuncCode {
            index,
            offset,
            len: asm.offset() - offset,
        });
    }
    let code = asm
        .finish()
        .map_err(|e| CompileError::new(alloc::format!("internal: {e}"), 0))?;
    Ok(CompiledModule {
        info,
        code: code.bytes,
        relocs: code.relocs,
        funcs,
    })
}

/// Fails when an import the runtime provides (`runtime` says which, see
/// [`runtime_imports`]) is declared with another type than the runtime's function has:
/// its calls go straight to that function.
fn check_runtime_imports(info: &ModuleInfo, runtime: &[Option<Func>]) -> Result<(), CompileError> {
    let func_imports = info
        .imports
        .iter()
        .filter(|i| matches!(i.kind, crate::module::ImportKind::Func(_)));
    for ((index, import), f) in func_imports.enumerate().zip(runtime) {
        let Some(f) = f else { continue };
        let ty = info.func_type(index as u32);
        if ty.params != f.params() || ty.results != f.results() {
            let msg = alloc::format!(
                "import {}::{} is declared {:?} -> {:?}, but the function takes {:?} -> {:?}",
                import.module,
                import.name,
                ty.params,
                ty.results,
                f.params(),
                f.results()
            );
            return Err(CompileError::new(msg, 0));
        }
    }
    Ok(())
}

/// Compiles one function body.
pub(crate) struct FuncCompiler<'m> {
    asm: &'m mut Assembler,
    module: &'m ModuleInfo,
    /// Per imported function, the runtime function it is bound to, if any.
    runtime_imports: &'m [Option<Func>],
    /// Types of parameters then locals.
    locals: Vec<Type>,
    params: u32,
    results: Vec<Type>,
    /// The abstract operand stack.
    stack: Vec<Val>,
    frames: Vec<Frame>,
    free_gprs: RegSet,
    free_xmms: RegSet,
    /// Registers reserved as homes of locals (never allocated or freed).
    home_gprs: RegSet,
    home_xmms: RegSet,
    /// Whether the code being visited can run (false after `br`, `return`, ...).
    reachable: bool,
    /// rbp-relative offset of operand slot 0.
    slots_base: i32,
    /// Out-of-line trap stubs, one per trap code used by the function.
    traps: Vec<(TrapCode, Label)>,
    /// Stub raising the trap code held in `eax` (for builtins that report traps).
    dynamic_trap: Option<Label>,
    /// Float constants, emitted after the function and read RIP-relative.
    consts: Vec<(u64, Label)>,
    /// Byte offset of the operator being compiled, for error messages.
    offset: usize,
    /// What validation learnt about the body.
    facts: &'m FuncFacts,
    /// Where each local lives.
    homes: Vec<locals::Home>,
    /// Per local: whether its frame slot holds the value of its register home.
    home_saved: Vec<bool>,
    /// The local the next operator sets, if it is a `local.set`.
    next_local_set: Option<u32>,
    /// Bytes the prologue reserves below `rbp`.
    frame_size: i32,
}

impl<'m> FuncCompiler<'m> {
    fn new(
        asm: &'m mut Assembler,
        module: &'m ModuleInfo,
        runtime_imports: &'m [Option<Func>],
        index: u32,
        facts: &'m FuncFacts,
    ) -> Self {
        let ty = module.func_type(index);
        Self {
            asm,
            module,
            runtime_imports,
            locals: ty.params.clone(),
            params: ty.params.len() as u32,
            results: ty.results.clone(),
            stack: Vec::new(),
            frames: Vec::new(),
            free_gprs: RegSet::gprs(),
            free_xmms: RegSet::xmms(),
            home_gprs: RegSet(0),
            home_xmms: RegSet(0),
            reachable: true,
            slots_base: 0,
            traps: Vec::new(),
            dynamic_trap: None,
            consts: Vec::new(),
            offset: 0,
            facts,
            homes: Vec::new(),
            home_saved: Vec::new(),
            next_local_set: None,
            frame_size: 0,
        }
    }

    fn compile(
        mut self,
        mut reader: BinaryReader<'_>,
        features: WasmFeatures,
    ) -> Result<(), CompileError> {
        let err =
            |e: wasmparser::BinaryReaderError| CompileError::new(e.message(), e.offset() as usize);
        for _ in 0..reader.read_var_u32().map_err(err)? {
            let count = reader.read_var_u32().map_err(err)?;
            let offset = reader.original_position() as usize;
            let ty = Type::from_wasm(reader.read().map_err(err)?, offset)?;
            self.locals.extend(core::iter::repeat_n(ty, count as usize));
        }
        reader.set_features(features);
        self.homes = locals::choose_homes(&self.locals, &self.facts.local_uses);
        self.prologue();
        let mut ops = wasmparser::OperatorsReader::new(reader);
        // One operator of lookahead: an operation whose result goes straight into a
        // local (`local.set`) can write the local's register directly.
        let mut next = read_op(&mut ops)?;
        while let Some((op, offset)) = next.take() {
            next = read_op(&mut ops)?;
            self.next_local_set = match &next {
                Some((wasmparser::Operator::LocalSet { local_index }, _)) => Some(*local_index),
                _ => None,
            };
            self.offset = offset as usize;
            if self.reachable && !control::uses_flags(&op) {
                self.materialize_flags();
            }
            if self.reachable || control::is_structural(&op) {
                wasmparser::VisitOperator::visit_operator(&mut self, &op)?;
            }
        }
        self.emit_trap_stubs();
        Ok(())
    }

    /// Function entry: frame, stack-limit check, zeroed locals.
    fn prologue(&mut self) {
        let declared = self.locals.len() as i32 - self.params as i32;
        self.slots_base = -16 - 8 * declared;
        // The outgoing call area is at the bottom, at [rsp].
        let bytes = 8 + 8 * declared + 8 * (self.facts.max_height + self.facts.call_slots) as i32;
        self.frame_size = (bytes + 15) & !15;
        let a = &mut *self.asm;
        a.push(Reg::Rbp);
        a.mov(Size::S64, Reg::Rbp, Reg::Rsp);
        a.alu(Size::S64, AluOp::Sub, Reg::Rsp, self.frame_size);
        a.alu(
            Size::S64,
            AluOp::Cmp,
            Reg::Rsp,
            Mem::base(VMCTX, VMCTX_STACK_LIMIT as i32),
        );
        let overflow = self.trap_label(TrapCode::StackOverflow);
        self.asm.jcc(Cond::B, overflow);
        self.asm.mov(Size::S64, Mem::base(Reg::Rbp, -8), VMCTX);
        self.init_locals();
        let results = self.results.clone();
        self.frames
            .push(Frame::function(self.asm.new_label(), results));
    }

    /// Function exit: results to the parameter area, frame torn down. After a join the
    /// results are in their slots; otherwise they are stored straight from where they are.
    fn epilogue(&mut self, joined: bool) {
        for k in (0..self.results.len()).rev() {
            let to = Mem::base(Reg::Rbp, 16 + 8 * k as i32);
            if joined {
                let from = self.slot(k);
                self.asm.mov(Size::S64, Reg::R11, from);
                self.asm.mov(Size::S64, to, Reg::R11);
            } else {
                let v = self.pop_unspilled();
                self.store_val(v, to);
            }
        }
        self.asm.mov(Size::S64, Reg::Rsp, Reg::Rbp);
        self.asm.pop(Reg::Rbp);
        self.asm.ret();
    }

    /// The stub that raises `code`, created on first use.
    fn trap_label(&mut self, code: TrapCode) -> Label {
        if let Some((_, l)) = self.traps.iter().find(|(c, _)| *c == code) {
            return *l;
        }
        let l = self.asm.new_label();
        self.traps.push((code, l));
        l
    }

    /// Jumps to the trap stub of `code` when `cond` holds.
    fn trap_if(&mut self, cond: Cond, code: TrapCode) {
        let l = self.trap_label(code);
        self.asm.jcc(cond, l);
    }

    /// Raises the trap code a builtin returned in `eax` when it is not zero.
    fn trap_if_eax(&mut self) {
        let l = *self
            .dynamic_trap
            .get_or_insert_with(|| self.asm.new_label());
        self.asm.test(Size::S32, Reg::Rax, Reg::Rax);
        self.asm.jcc(Cond::Ne, l);
    }

    fn emit_trap_stubs(&mut self) {
        for (code, label) in core::mem::take(&mut self.traps) {
            self.asm.bind(label);
            self.asm.mov(Size::S32, Reg::Rdi, code as i32);
            self.asm.call_symbol(RuntimeSymbol::Trap.id());
        }
        if let Some(label) = self.dynamic_trap {
            self.asm.bind(label);
            self.asm.mov(Size::S32, Reg::Rdi, Reg::Rax);
            self.asm.call_symbol(RuntimeSymbol::Trap.id());
        }
        if !self.consts.is_empty() {
            self.asm.align(8);
        }
        for (bits, label) in core::mem::take(&mut self.consts) {
            self.asm.bind(label);
            self.asm.emit_bytes(&bits.to_le_bytes());
        }
    }

    /// A RIP-relative operand holding the 8 bytes `bits` (f32 constants in the low 4).
    fn const_mem(&mut self, bits: u64) -> Mem {
        let label = match self.consts.iter().find(|(b, _)| *b == bits) {
            Some((_, l)) => *l,
            None => {
                let l = self.asm.new_label();
                self.consts.push((bits, l));
                l
            }
        };
        Mem::label(label)
    }
}

/// The next operator and its offset, `None` at the end of the body.
#[allow(clippy::type_complexity, reason = "a plain reader result")]
fn read_op<'a>(
    ops: &mut wasmparser::OperatorsReader<'a>,
) -> Result<Option<(wasmparser::Operator<'a>, u64)>, CompileError> {
    if ops.eof() {
        return Ok(None);
    }
    ops.read_with_offset()
        .map(Some)
        .map_err(|e| CompileError::new(e.message(), e.offset() as usize))
}

/// The register holding the VM context.
const VMCTX: Reg = Reg::R15;
/// The register holding linear memory 0's base.
const MEMBASE: Reg = Reg::R14;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::module::supported_features;

    #[test]
    fn compiles_every_function_and_maps_offsets_back() {
        let wasm = wat::parse_str(
            r#"(module
                (func $a (param i32 i32) (result i32)
                    (i32.add (local.get 0) (i32.mul (local.get 1) (i32.const 3))))
                (func $b (param f64) (result i64)
                    (if (result i64) (f64.lt (local.get 0) (f64.const 0))
                        (then (i64.trunc_f64_s (local.get 0)))
                        (else (i64.trunc_sat_f64_u (local.get 0)))))
                (func $c (result i32) (call $a (i32.const 1) (i32.const 2))))"#,
        )
        .unwrap();
        let m = compile(&wasm, supported_features()).unwrap();
        assert_eq!(m.funcs.len(), 3);
        for (i, f) in m.funcs.iter().enumerate() {
            assert_eq!(f.index, i as u32);
            assert!(f.len > 0);
            assert_eq!(m.func_at(f.offset + f.len - 1), Some((f.index, f.len - 1)));
        }
        assert_eq!(m.code.len() as u32, m.funcs[2].offset + m.funcs[2].len);
        let names: Vec<String> = m.symbols().map(|(n, _, _)| n).collect();
        assert_eq!(names, ["a", "b", "c"]);
        // The stack checks' trap stubs and $c's call of $a, which is its only call.
        let c = m.funcs[2];
        let traps = m
            .relocs
            .iter()
            .filter(|r| r.target == RuntimeSymbol::Trap.id());
        assert!(traps.count() >= 3);
        let calls: Vec<_> = m.relocs.iter().filter(|r| r.target.0 == 0).collect();
        assert_eq!(calls.len(), 1);
        assert!((c.offset..c.offset + c.len).contains(&calls[0].offset));
        assert_eq!(m.code[calls[0].offset as usize - 1], 0xE8, "call rel32");
        assert_eq!(m.func_at(m.code.len() as u32 + 10), None);
    }

    #[test]
    fn comparisons_feed_branches_through_the_flags() {
        let fused = wat::parse_str(
            "(module (func (param i32 i32) (result i32)
                (if (result i32) (i32.lt_s (local.get 0) (local.get 1))
                    (then (i32.const 1)) (else (i32.const 2)))))",
        )
        .unwrap();
        let m = compile(&fused, supported_features()).unwrap();
        let setl = [0x0f, 0x9c];
        assert!(
            !m.code.windows(2).any(|w| w == setl),
            "no setl when the branch uses the flags"
        );
        let stored = wat::parse_str(
            "(module (func (param i32 i32) (result i32) (i32.lt_s (local.get 0) (local.get 1))))",
        )
        .unwrap();
        let m = compile(&stored, supported_features()).unwrap();
        assert!(
            m.code.windows(2).any(|w| w == setl),
            "setl materialises a stored comparison"
        );
    }

    #[test]
    fn busy_locals_live_in_registers() {
        let wasm = wat::parse_str(
            "(module (func (param i32) (result i32) (local i32)
                (block (loop
                    (br_if 1 (i32.eqz (local.get 0)))
                    (local.set 1 (i32.add (local.get 1) (local.get 0)))
                    (local.set 0 (i32.sub (local.get 0) (i32.const 1)))
                    (br 0)))
                (local.get 1)))",
        )
        .unwrap();
        let m = compile(&wasm, supported_features()).unwrap();
        // The only load from the frame ([rbp+disp8]: `mov r, r/m` with ModRM mod=01
        // rm=101) is the parameter's, in the prologue: the loop runs in registers.
        let body = &m.code[..m.funcs[0].len as usize];
        let frame_loads = body
            .windows(2)
            .filter(|w| w[0] == 0x8b && w[1] & 0xc7 == 0x45)
            .count();
        assert_eq!(frame_loads, 1);
        // `local.set x (op (local.get x) y)` updates x's register in place: the only
        // register-to-register moves are the frame's `mov rbp, rsp` and `mov rsp, rbp`.
        let reg_moves = body
            .windows(2)
            .filter(|w| (w[0] == 0x89 || w[0] == 0x8b) && w[1] >= 0xc0)
            .count();
        assert_eq!(reg_moves, 2);
    }

    #[test]
    fn calls_do_not_resave_unchanged_register_locals() {
        let wasm = wat::parse_str(
            "(module
                (func $g (param i32) (result i32) (local.get 0))
                (func (param i32) (result i32)
                    (i32.add (call $g (local.get 0)) (call $g (local.get 0)))))",
        )
        .unwrap();
        let m = compile(&wasm, supported_features()).unwrap();
        let f = m.funcs[1];
        let body = &m.code[f.offset as usize..(f.offset + f.len) as usize];
        // `mov [rbp+0x10], r` (REX, 0x89, ModRM mod=01 rm=101, disp8 0x10): the parameter
        // lives in a register and its slot is never stale, so only the epilogue's result
        // store writes there.
        let stores = body
            .windows(3)
            .filter(|w| w[0] == 0x89 && w[1] & 0xc7 == 0x45 && w[2] == 0x10)
            .count();
        assert_eq!(stores, 1);
    }

    #[test]
    fn constant_operands_fold() {
        let folded =
            wat::parse_str("(module (func (result i32) (i32.add (i32.const 2) (i32.const 3))))")
                .unwrap();
        let plain = wat::parse_str(
            "(module (func (param i32) (result i32) (i32.add (local.get 0) (i32.const 3))))",
        )
        .unwrap();
        let a = compile(&folded, supported_features()).unwrap();
        let b = compile(&plain, supported_features()).unwrap();
        assert!(
            a.funcs[0].len < b.funcs[0].len,
            "{} vs {}",
            a.funcs[0].len,
            b.funcs[0].len
        );
    }
}
