//! A validated module's description: everything an instance needs besides the code.
//!
//! [`parse`] validates the whole module with `wasmparser` (the feature set is the
//! caller's) and keeps the sections in owned, simple types; function bodies are kept as
//! byte ranges of the input so the compiler can read them again.

use crate::error::CompileError;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::ops::Range;
use wasmparser::{
    BinaryReader, ElementItems, ElementKind, ExternalKind, Name, Operator, Parser, Payload,
    TypeRef, ValType, Validator, WasmFeatures,
};

/// The value types kiln supports (SIMD is rejected by validation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Type {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// `funcref`: a `*const FuncRef`, 0 for null.
    FuncRef,
    /// `externref`: an opaque host value, 0 for null.
    ExternRef,
}

impl Type {
    /// Whether values of this type live in XMM registers.
    pub fn is_float(self) -> bool {
        matches!(self, Type::F32 | Type::F64)
    }

    pub(crate) fn from_wasm(ty: ValType, offset: usize) -> Result<Self, CompileError> {
        Ok(match ty {
            ValType::I32 => Type::I32,
            ValType::I64 => Type::I64,
            ValType::F32 => Type::F32,
            ValType::F64 => Type::F64,
            ValType::Ref(r) if r.is_func_ref() => Type::FuncRef,
            ValType::Ref(r) if r.is_extern_ref() => Type::ExternRef,
            other => {
                return Err(CompileError::new(
                    alloc::format!("value type {other} is not supported"),
                    offset,
                ))
            }
        })
    }
}

/// A function signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncType {
    /// Parameter types.
    pub params: Vec<Type>,
    /// Result types.
    pub results: Vec<Type>,
}

/// A table's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableType {
    /// Element type.
    pub elem: Type,
    /// Initial size.
    pub min: u64,
    /// Maximum size.
    pub max: Option<u64>,
}

/// A memory's type, in pages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryType {
    /// Initial size.
    pub min: u64,
    /// Maximum size.
    pub max: Option<u64>,
}

/// A global's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GlobalType {
    /// Value type.
    pub ty: Type,
    /// Whether `global.set` may change it.
    pub mutable: bool,
}

/// A constant expression (initialisers of globals and segments).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConstExpr {
    /// `i32.const`.
    I32(i32),
    /// `i64.const`.
    I64(i64),
    /// `f32.const`, as bits.
    F32(u32),
    /// `f64.const`, as bits.
    F64(u64),
    /// `ref.null`.
    RefNull,
    /// `ref.func`.
    RefFunc(u32),
    /// `global.get` of an (imported) global.
    GlobalGet(u32),
}

/// What an import brings in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// A function of the given type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// One import.
#[derive(Clone, Debug)]
pub struct Import {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// What is imported.
    pub kind: ImportKind,
}

/// What an export names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportKind {
    /// A function index.
    Func,
    /// A table index.
    Table,
    /// A memory index.
    Memory,
    /// A global index.
    Global,
}

/// One export.
#[derive(Clone, Debug)]
pub struct Export {
    /// Export name.
    pub name: String,
    /// Kind of the exported item.
    pub kind: ExportKind,
    /// Index in that kind's index space.
    pub index: u32,
}

/// When a segment is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SegmentMode {
    /// Applied by instantiation at `offset` of table/memory `index`.
    Active {
        /// Table or memory index.
        index: u32,
        /// Start offset.
        offset: ConstExpr,
    },
    /// Applied only by `table.init` / `memory.init`.
    Passive,
    /// Only declares functions for `ref.func`; dropped at instantiation.
    Declared,
}

/// An element segment.
#[derive(Clone, Debug)]
pub struct ElemSegment {
    /// When it is applied.
    pub mode: SegmentMode,
    /// The references, one constant expression each.
    pub items: Vec<ConstExpr>,
}

/// A data segment.
#[derive(Clone, Debug)]
pub struct DataSegment {
    /// When it is applied.
    pub mode: SegmentMode,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// Locals beyond this index are not counted (and never kept in registers).
const MAX_COUNTED_LOCALS: u32 = 256;

/// Facts about a function body gathered while validating it.
#[derive(Clone, Debug, Default)]
pub struct FuncFacts {
    /// Highest the operand stack gets (sizes the spill area).
    pub max_height: u32,
    /// How often each local (parameters first) is read or written.
    pub local_uses: Vec<u32>,
    /// Most argument/result slots any call in the body needs.
    pub call_slots: u32,
}

/// A validated module, minus its compiled code.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo {
    /// Signatures, by type index.
    pub types: Vec<FuncType>,
    /// Imports in order.
    pub imports: Vec<Import>,
    /// Type index of every function (imports first).
    pub funcs: Vec<u32>,
    /// Number of imported functions.
    pub imported_funcs: u32,
    /// Every table (imports first).
    pub tables: Vec<TableType>,
    /// Number of imported tables.
    pub imported_tables: u32,
    /// Every memory (imports first).
    pub memories: Vec<MemoryType>,
    /// Number of imported memories.
    pub imported_memories: u32,
    /// Every global's type (imports first).
    pub globals: Vec<GlobalType>,
    /// Initialisers of the defined globals.
    pub global_inits: Vec<ConstExpr>,
    /// Number of imported globals.
    pub imported_globals: u32,
    /// Exports in order.
    pub exports: Vec<Export>,
    /// The start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elems: Vec<ElemSegment>,
    /// Data segments.
    pub data: Vec<DataSegment>,
    /// Function names from the name section, by function index.
    pub names: Vec<(u32, String)>,
    /// Byte range of each defined function's body in the module bytes.
    pub bodies: Vec<Range<usize>>,
    /// What validation learnt about each defined function's body.
    pub facts: Vec<FuncFacts>,
}

impl ModuleInfo {
    /// The signature of function `func`.
    pub fn func_type(&self, func: u32) -> &FuncType {
        &self.types[self.funcs[func as usize] as usize]
    }

    /// A printable name for function `func`: its name-section name or `func[N]`.
    pub fn func_name(&self, func: u32) -> String {
        match self.names.binary_search_by_key(&func, |(i, _)| *i) {
            Ok(i) => self.names[i].1.clone(),
            Err(_) => alloc::format!("func[{func}]"),
        }
    }

    /// The export called `name`.
    pub fn export(&self, name: &str) -> Option<&Export> {
        self.exports.iter().find(|e| e.name == name)
    }
}

/// The WASM features kiln compiles: WASM 2.0 without SIMD.
pub fn supported_features() -> WasmFeatures {
    WasmFeatures::WASM2
        .difference(WasmFeatures::SIMD)
        .difference(WasmFeatures::RELAXED_SIMD)
}

/// WASM 1.0 (MVP plus mutable globals), for the v1 spec suite.
pub fn wasm1_features() -> WasmFeatures {
    WasmFeatures::WASM1
}

/// wasmparser's message and offset; SIMD, which kiln leaves out, is named as such.
fn err(e: wasmparser::BinaryReaderError) -> CompileError {
    let message = e.message();
    let message = if message.contains("SIMD") {
        alloc::format!("SIMD is not supported by kiln ({message})")
    } else {
        message.to_string()
    };
    CompileError::new(message, e.offset() as usize)
}

fn const_expr(expr: &wasmparser::ConstExpr<'_>) -> Result<ConstExpr, CompileError> {
    let mut reader = expr.get_operators_reader();
    let offset = reader.original_position() as usize;
    let op = reader.read().map_err(err)?;
    Ok(match op {
        Operator::I32Const { value } => ConstExpr::I32(value),
        Operator::I64Const { value } => ConstExpr::I64(value),
        Operator::F32Const { value } => ConstExpr::F32(value.bits()),
        Operator::F64Const { value } => ConstExpr::F64(value.bits()),
        Operator::RefNull { .. } => ConstExpr::RefNull,
        Operator::RefFunc { function_index } => ConstExpr::RefFunc(function_index),
        Operator::GlobalGet { global_index } => ConstExpr::GlobalGet(global_index),
        other => {
            return Err(CompileError::new(
                alloc::format!("constant expression {other:?} is not supported"),
                offset,
            ))
        }
    })
}

fn table_type(t: &wasmparser::TableType, offset: usize) -> Result<TableType, CompileError> {
    Ok(TableType {
        elem: Type::from_wasm(ValType::Ref(t.element_type), offset)?,
        min: t.initial,
        max: t.maximum,
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        min: m.initial,
        max: m.maximum,
    }
}

fn global_type(g: &wasmparser::GlobalType, offset: usize) -> Result<GlobalType, CompileError> {
    Ok(GlobalType {
        ty: Type::from_wasm(g.content_type, offset)?,
        mutable: g.mutable,
    })
}

fn segment_mode(
    index: u32,
    offset: &wasmparser::ConstExpr<'_>,
) -> Result<SegmentMode, CompileError> {
    Ok(SegmentMode::Active {
        index,
        offset: const_expr(offset)?,
    })
}

/// Validates `bytes` with the given features and describes the module. Every function
/// body is validated too. Errors carry wasmparser's message and byte offset.
pub fn parse(bytes: &[u8], features: WasmFeatures) -> Result<ModuleInfo, CompileError> {
    let mut validator = Validator::new_with_features(features);
    let mut info = ModuleInfo::default();
    let mut allocs = wasmparser::FuncValidatorAllocations::default();
    for payload in Parser::new(0).parse_all(bytes) {
        let payload = payload.map_err(err)?;
        if let wasmparser::ValidPayload::Func(func, body) =
            validator.payload(&payload).map_err(err)?
        {
            let mut v = func.into_validator(allocs);
            let facts = validate_body(&mut v, &body, features, &info).map_err(err)?;
            info.facts.push(facts);
            allocs = v.into_allocations();
        }
        if let Payload::MemorySection(r) = &payload {
            let range = r.range().start as usize..r.range().end as usize;
            check_memory_limits(&bytes[range.clone()], range.start).map_err(err)?;
        }
        read_payload(&mut info, payload)?;
    }
    info.names.sort_by_key(|(i, _)| *i);
    info.names.dedup_by_key(|(i, _)| *i);
    Ok(info)
}

/// Rejects over-long LEB128 encodings of 32-bit memory limits, which wasmparser reads
/// as 64-bit numbers (a 6-byte encoding of a `u32` is malformed).
fn check_memory_limits(section: &[u8], offset: usize) -> wasmparser::Result<()> {
    let mut r = BinaryReader::new(section, offset as u64);
    for _ in 0..r.read_var_u32()? {
        let flags = r.read_u8()?;
        if flags & !0x03 != 0 {
            // memory64 or custom page sizes: the validator decides.
            return Ok(());
        }
        r.read_var_u32()?;
        if flags & 1 != 0 {
            r.read_var_u32()?;
        }
    }
    Ok(())
}

/// Validates one function body and gathers what the compiler wants to know up front.
fn validate_body(
    v: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    body: &wasmparser::FunctionBody<'_>,
    features: WasmFeatures,
    info: &ModuleInfo,
) -> wasmparser::Result<FuncFacts> {
    let mut reader = body.get_binary_reader();
    v.read_locals(&mut reader)?;
    reader.set_features(features);
    let locals = v.len_locals().min(MAX_COUNTED_LOCALS) as usize;
    let mut facts = FuncFacts {
        max_height: 0,
        local_uses: alloc::vec![0; locals],
        call_slots: 0,
    };
    let mut ops = wasmparser::OperatorsReader::new(reader);
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset()?;
        v.op(offset, &op)?;
        facts.max_height = facts.max_height.max(v.operand_stack_height());
        let callee = match op {
            Operator::LocalGet { local_index }
            | Operator::LocalSet { local_index }
            | Operator::LocalTee { local_index } => {
                if let Some(n) = facts.local_uses.get_mut(local_index as usize) {
                    *n += 1;
                }
                None
            }
            Operator::Call { function_index } => Some(info.func_type(function_index)),
            Operator::CallIndirect { type_index, .. } => Some(&info.types[type_index as usize]),
            _ => None,
        };
        if let Some(t) = callee {
            let slots = t.params.len().max(t.results.len()) as u32;
            facts.call_slots = facts.call_slots.max(slots);
        }
    }
    ops.finish()?;
    Ok(facts)
}

fn read_payload(info: &mut ModuleInfo, payload: Payload<'_>) -> Result<(), CompileError> {
    match payload {
        Payload::TypeSection(reader) => {
            let offset = reader.range().start as usize;
            for ty in reader.into_iter_err_on_gc_types() {
                let ty = ty.map_err(err)?;
                let conv = |tys: &[ValType]| {
                    tys.iter()
                        .map(|t| Type::from_wasm(*t, offset))
                        .collect::<Result<Vec<_>, _>>()
                };
                info.types.push(FuncType {
                    params: conv(ty.params())?,
                    results: conv(ty.results())?,
                });
            }
        }
        Payload::ImportSection(reader) => {
            let offset = reader.range().start as usize;
            for import in reader.into_imports() {
                let import = import.map_err(err)?;
                let kind = match import.ty {
                    TypeRef::Func(t) => {
                        info.funcs.push(t);
                        info.imported_funcs += 1;
                        ImportKind::Func(t)
                    }
                    TypeRef::Table(t) => {
                        let t = table_type(&t, offset)?;
                        info.tables.push(t);
                        info.imported_tables += 1;
                        ImportKind::Table(t)
                    }
                    TypeRef::Memory(m) => {
                        let m = memory_type(&m);
                        info.memories.push(m);
                        info.imported_memories += 1;
                        ImportKind::Memory(m)
                    }
                    TypeRef::Global(g) => {
                        let g = global_type(&g, offset)?;
                        info.globals.push(g);
                        info.imported_globals += 1;
                        ImportKind::Global(g)
                    }
                    other => {
                        return Err(CompileError::new(
                            alloc::format!("import of {other:?} is not supported"),
                            offset,
                        ))
                    }
                };
                info.imports.push(Import {
                    module: import.module.to_string(),
                    name: import.name.to_string(),
                    kind,
                });
            }
        }
        Payload::FunctionSection(reader) => {
            for t in reader {
                info.funcs.push(t.map_err(err)?);
            }
        }
        Payload::TableSection(reader) => {
            let offset = reader.range().start as usize;
            for t in reader {
                let t = t.map_err(err)?;
                if !matches!(t.init, wasmparser::TableInit::RefNull) {
                    return Err(CompileError::new(
                        "table initialisers are not supported",
                        offset,
                    ));
                }
                info.tables.push(table_type(&t.ty, offset)?);
            }
        }
        Payload::MemorySection(reader) => {
            for m in reader {
                info.memories.push(memory_type(&m.map_err(err)?));
            }
        }
        Payload::GlobalSection(reader) => {
            let offset = reader.range().start as usize;
            for g in reader {
                let g = g.map_err(err)?;
                info.globals.push(global_type(&g.ty, offset)?);
                info.global_inits.push(const_expr(&g.init_expr)?);
            }
        }
        Payload::ExportSection(reader) => {
            let offset = reader.range().start as usize;
            for e in reader {
                let e = e.map_err(err)?;
                let kind = match e.kind {
                    ExternalKind::Func => ExportKind::Func,
                    ExternalKind::Table => ExportKind::Table,
                    ExternalKind::Memory => ExportKind::Memory,
                    ExternalKind::Global => ExportKind::Global,
                    other => {
                        return Err(CompileError::new(
                            alloc::format!("export of {other:?} is not supported"),
                            offset,
                        ))
                    }
                };
                info.exports.push(Export {
                    name: e.name.to_string(),
                    kind,
                    index: e.index,
                });
            }
        }
        Payload::StartSection { func, .. } => info.start = Some(func),
        Payload::ElementSection(reader) => {
            for e in reader {
                let e = e.map_err(err)?;
                let mode = match e.kind {
                    ElementKind::Active {
                        table_index,
                        offset_expr,
                    } => segment_mode(table_index.unwrap_or(0), &offset_expr)?,
                    ElementKind::Passive => SegmentMode::Passive,
                    ElementKind::Declared => SegmentMode::Declared,
                };
                let mut items = Vec::new();
                match e.items {
                    ElementItems::Functions(r) => {
                        for f in r {
                            items.push(ConstExpr::RefFunc(f.map_err(err)?));
                        }
                    }
                    ElementItems::Expressions(_, r) => {
                        for x in r {
                            items.push(const_expr(&x.map_err(err)?)?);
                        }
                    }
                }
                info.elems.push(ElemSegment { mode, items });
            }
        }
        Payload::DataSection(reader) => {
            for d in reader {
                let d = d.map_err(err)?;
                let mode = match d.kind {
                    wasmparser::DataKind::Active {
                        memory_index,
                        offset_expr,
                    } => segment_mode(memory_index, &offset_expr)?,
                    wasmparser::DataKind::Passive => SegmentMode::Passive,
                };
                info.data.push(DataSegment {
                    mode,
                    bytes: d.data.to_vec(),
                });
            }
        }
        Payload::CodeSectionEntry(body) => {
            let r = body.range();
            info.bodies.push(r.start as usize..r.end as usize);
        }
        Payload::CustomSection(c) => {
            if let wasmparser::KnownCustom::Name(reader) = c.as_known() {
                read_names(info, reader);
            }
        }
        _ => {}
    }
    Ok(())
}

/// Reads function names; a malformed name section is ignored, as the spec requires.
fn read_names(info: &mut ModuleInfo, reader: wasmparser::NameSectionReader<'_>) {
    for name in reader {
        let Ok(Name::Function(map)) = name else {
            continue;
        };
        for naming in map.into_iter().flatten() {
            info.names.push((naming.index, naming.name.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_a_small_module() {
        let wasm = wat::parse_str(
            r#"(module
                (import "env" "f" (func $f (param i32) (result i32)))
                (memory 1 2)
                (global $g (mut i64) (i64.const 7))
                (table 3 funcref)
                (elem (i32.const 1) $f $add)
                (data (i32.const 8) "hi")
                (func $add (export "add") (param i32 i32) (result i32)
                    local.get 0 local.get 1 i32.add))"#,
        )
        .unwrap();
        let m = parse(&wasm, supported_features()).unwrap();
        assert_eq!(m.imported_funcs, 1);
        assert_eq!(m.funcs.len(), 2);
        assert_eq!(m.func_type(1).params, [Type::I32, Type::I32]);
        assert_eq!(
            m.memories[0],
            MemoryType {
                min: 1,
                max: Some(2)
            }
        );
        assert_eq!(m.global_inits, [ConstExpr::I64(7)]);
        assert_eq!(
            m.elems[0].items,
            [ConstExpr::RefFunc(0), ConstExpr::RefFunc(1)]
        );
        assert_eq!(m.data[0].bytes, b"hi");
        assert_eq!(m.export("add").unwrap().index, 1);
        assert_eq!(m.func_name(1), "add");
        assert_eq!(m.bodies.len(), 1);
        assert_eq!(m.facts[0].max_height, 2);
        assert_eq!(m.facts[0].local_uses, [1, 1]);
    }

    #[test]
    fn invalid_input_reports_message_and_offset() {
        let wasm = wat::parse_str("(module (func (result i32) i64.const 1))").unwrap();
        let e = parse(&wasm, supported_features()).unwrap_err();
        assert!(e.message.contains("type mismatch"), "{}", e.message);
        assert!(e.offset > 8);
        let e = parse(b"\0asm\x02\0\0\0", supported_features()).unwrap_err();
        assert!(e.message.contains("version"), "{}", e.message);
    }

    #[test]
    fn simd_is_rejected_clearly() {
        let wasm = wat::parse_str("(module (func (drop (v128.const i64x2 0 0))))").unwrap();
        let e = parse(&wasm, supported_features()).unwrap_err();
        assert!(
            e.message.starts_with("SIMD is not supported"),
            "{}",
            e.message
        );
    }
}
