//! Instance templates: the state a program's instance starts in, worked out when the
//! image is built.
//!
//! A WASI command compiled ahead of time into an image imports nothing but the runtime's
//! own WASI functions, so everything instantiating it computes is known on the host:
//! each function reference's code address (left to the image's link) and signature id,
//! the signature id of each type, the globals' initial values, the tables' contents once
//! the active element segments are applied, where the active data segments go, whether
//! instantiation traps, and the function the program starts at. [`build`] writes that
//! down; xtask puts it in a read-only section beside the module's code, and at boot
//! [`super::instantiate::instantiate_template`] builds the instance from it in a few
//! plain loops. The generic path (decode the descriptor, link imports by name, evaluate
//! constant expressions, apply segments) does the same work from scratch, and under an
//! emulator the first run of all that code costs milliseconds of translation.
//!
//! The template is a sequence of little-endian `u64` words: a header of [`HEADER`] words
//! (the `H_*` constants say which), then these records, one after another:
//!
//! | records | words each | fields |
//! |---|---|---|
//! | functions (index space order) | 2 | code address (a [`Reloc`] fills it in), signature id |
//! | types | 1 | signature id |
//! | defined globals | 3 | type tag, mutable, initial value |
//! | defined tables | 4 | element type tag, minimum, maximum or [`NONE`], first of its `minimum` items |
//! | data segments | 4 | [`DATA_PASSIVE`] or [`DATA_ACTIVE`], memory offset, offset in the data blob, length |
//! | element segments | 3 | passive (1) or dropped at instantiation (0), first item, item count |
//! | items | 1 | a reference: 0 for null, function index + 1 for a function |
//! | entry results | 1 | type tag of each result of the entry function |
//!
//! References (items, and the values of `funcref` globals) are function indices, not
//! addresses: the instance's function references live on its heap, and instantiation
//! turns index `i + 1` into the address of the `i`th one. A type's signature id is 1 plus
//! the index of the first type equal to it, so equal types share an id; those ids are the
//! template's own, not a [`super::Store`]'s, so a template's instance is the only instance
//! of its store. The data segments' bytes stay in the module's data blob
//! ([`super::descriptor::Encoded::data`]: every segment's bytes, in order).

use super::data::Shape;
use super::descriptor::{type_tag, TYPES};
use crate::compile::symbols::{runtime_imports, RuntimeSymbol, Target};
use crate::module::{ConstExpr, ExportKind, ModuleInfo, SegmentMode};
use crate::range;
use crate::{CompiledModule, Type};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use kiln_abi::wasm::{TrapCode, WASM_PAGE};

/// First word of every template: `KILNWTPL` in ASCII, little-endian.
pub const MAGIC: u64 = u64::from_le_bytes(*b"KILNWTPL");
/// Format version [`build`] writes and [`Template::read`] reads.
pub const VERSION: u64 = 1;
/// An absent index or maximum.
pub const NONE: u64 = u64::MAX;
/// The exports a program starts at, in order of preference: a WASI command's `_start`,
/// else `main` (whose results the runtime prints).
pub const ENTRY_POINTS: [&str; 2] = ["_start", "main"];
/// A data segment `memory.init` may copy from.
pub const DATA_PASSIVE: u64 = 0;
/// A data segment instantiation copies into memory (and then drops).
pub const DATA_ACTIVE: u64 = 1;

/// Header word: [`MAGIC`].
const H_MAGIC: usize = 0;
/// Header word: [`VERSION`].
const H_VERSION: usize = 1;
/// Header word: 0, or the code of the trap instantiation ends in (an active segment out
/// of bounds); such an instance never runs.
const H_TRAP: usize = 2;
/// Header word: the start function's index, or [`NONE`].
const H_START: usize = 3;
/// Header word: the entry function's index (the first of [`ENTRY_POINTS`] the module
/// exports as a function), or [`NONE`].
const H_ENTRY: usize = 4;
/// Header word: how many parameters the entry function takes.
const H_ENTRY_PARAMS: usize = 5;
/// Header word: the memory's initial size in pages, or [`NONE`] without a memory.
const H_MEMORY_MIN: usize = 6;
/// Header word: the memory's maximum size in pages, or [`NONE`].
const H_MEMORY_MAX: usize = 7;
/// Header words 8 to 15: how many records of each kind follow, in the table's order.
const H_COUNTS: usize = 8;
/// Words in the header.
pub const HEADER: usize = H_COUNTS + RECORD_WORDS.len();
/// Words per record of each kind, in order: functions, types, globals, tables, data
/// segments, element segments, items, entry results.
const RECORD_WORDS: [usize; 8] = [2, 1, 3, 4, 4, 3, 1, 1];

/// A word of [`build`]'s output that the image's link must fill in with an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reloc {
    /// Index of the word.
    pub word: usize,
    /// What it is the address of: a function of the module or a runtime symbol.
    pub target: Target,
}

/// A template as [`build`] writes it.
#[derive(Clone, Debug)]
pub struct Built {
    /// The words, with zeros where `relocs` go.
    pub words: Vec<u64>,
    /// The code addresses to fill in.
    pub relocs: Vec<Reloc>,
}

impl Built {
    /// The words as little-endian bytes, the form an object file holds.
    pub fn bytes(&self) -> Vec<u8> {
        self.words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }
}

/// Where the items of a reference point to, as a template word.
fn reference(e: ConstExpr, globals: &[u64]) -> Result<u64, String> {
    match e {
        ConstExpr::RefNull => Ok(0),
        ConstExpr::RefFunc(f) => Ok(u64::from(f) + 1),
        ConstExpr::GlobalGet(g) => global_value(g, globals),
        other => Err(format!("{other:?} is not a reference")),
    }
}

/// The value of a constant expression over the defined globals' values so far.
fn value(e: ConstExpr, globals: &[u64]) -> Result<u64, String> {
    Ok(match e {
        ConstExpr::I32(v) => v as u32 as u64,
        ConstExpr::I64(v) => v as u64,
        ConstExpr::F32(b) => u64::from(b),
        ConstExpr::F64(b) => b,
        ConstExpr::RefNull | ConstExpr::RefFunc(_) => reference(e, globals)?,
        ConstExpr::GlobalGet(g) => global_value(g, globals)?,
    })
}

fn global_value(g: u32, globals: &[u64]) -> Result<u64, String> {
    globals
        .get(g as usize)
        .copied()
        .ok_or_else(|| format!("global.get {g} reads a global not defined before it"))
}

/// The function a program starts at: the first of [`ENTRY_POINTS`] that `info` exports
/// as a function, with its export name and function index.
pub fn entry_point(info: &ModuleInfo) -> Option<(&'static str, u32)> {
    ENTRY_POINTS.iter().find_map(|&name| {
        let e = info.export(name)?;
        (e.kind == ExportKind::Func).then_some((name, e.index))
    })
}

/// The template of `module`'s instance, for a module whose imports are all functions
/// the runtime provides (`compile::symbols::runtime_import`). Fails, saying why, for any
/// other module: those are instantiated by the generic path.
pub fn build(module: &CompiledModule) -> Result<Built, String> {
    let info = &module.info;
    let mut imported = Vec::new();
    for (i, f) in runtime_imports(info).into_iter().enumerate() {
        imported.push(f.ok_or_else(|| format!("function import {i} is not the runtime's"))?);
    }
    if imported.len() != info.imports.len() {
        return Err("the module imports something other than functions".into());
    }
    let mut sig_ids = Vec::with_capacity(info.types.len());
    for (i, t) in info.types.iter().enumerate() {
        let first = info.types.iter().position(|u| u == t).unwrap_or(i);
        sig_ids.push(first as u64 + 1);
    }
    let mut globals = Vec::with_capacity(info.global_inits.len());
    for init in &info.global_inits {
        let v = value(*init, &globals)?;
        globals.push(v);
    }
    // Tables after the active element segments, then memory after the active data
    // segments, in the order instantiation applies them; the first segment out of
    // bounds ends instantiation with a trap.
    let mut trap = None;
    let mut tables: Vec<Vec<u64>> = info
        .tables
        .iter()
        .map(|t| vec![0; t.min as usize])
        .collect();
    let mut elem_items = Vec::new();
    let mut elems = Vec::new();
    for e in &info.elems {
        let mut items = Vec::with_capacity(e.items.len());
        for x in &e.items {
            items.push(reference(*x, &globals)?);
        }
        match e.mode {
            SegmentMode::Active { index, offset } if trap.is_none() => {
                let at = value(offset, &globals)? as u32 as usize;
                let table = tables
                    .get_mut(index as usize)
                    .ok_or_else(|| format!("element segment for missing table {index}"))?;
                match table.get_mut(at..at + items.len()) {
                    Some(dst) if at.checked_add(items.len()).is_some() => {
                        dst.copy_from_slice(&items)
                    }
                    _ => trap = Some(TrapCode::TableOutOfBounds),
                }
                elems.push([0, 0, 0]);
            }
            SegmentMode::Passive => {
                elems.push([1, elem_items.len() as u64, items.len() as u64]);
                elem_items.extend_from_slice(&items);
            }
            _ => elems.push([0, 0, 0]),
        }
    }
    let memory_bytes = info.memories.first().map_or(0, |m| m.min * WASM_PAGE);
    let mut data = Vec::new();
    let mut blob_at = 0u64;
    for d in &info.data {
        let len = d.bytes.len() as u64;
        match d.mode {
            SegmentMode::Active { offset, .. } => {
                let at = value(offset, &globals)? as u32 as u64;
                if trap.is_none() && at + len > memory_bytes {
                    trap = Some(TrapCode::MemoryOutOfBounds);
                }
                data.push([DATA_ACTIVE, at, blob_at, len]);
            }
            _ => data.push([DATA_PASSIVE, 0, blob_at, len]),
        }
        blob_at += len;
    }
    let entry = entry_point(info).map(|(_, f)| f);
    let entry_type = entry.map(|f| info.func_type(f));
    let (memory_min, memory_max) = match info.memories.first() {
        Some(m) => (m.min, m.max.unwrap_or(NONE)),
        None => (NONE, NONE),
    };
    let defined_globals = &info.globals[info.imported_globals as usize..];
    let mut words = vec![
        MAGIC,
        VERSION,
        trap.map_or(0, |t| t as u64),
        info.start.map_or(NONE, u64::from),
        entry.map_or(NONE, u64::from),
        entry_type.map_or(0, |t| t.params.len() as u64),
        memory_min,
        memory_max,
    ];
    let table_items: usize = tables.iter().map(Vec::len).sum();
    words.extend(
        [
            info.funcs.len(),
            sig_ids.len(),
            defined_globals.len(),
            tables.len(),
            data.len(),
            elems.len(),
            table_items + elem_items.len(),
            entry_type.map_or(0, |t| t.results.len()),
        ]
        .map(|n| n as u64),
    );
    let mut relocs = Vec::new();
    for (i, &t) in info.funcs.iter().enumerate() {
        let target = match imported.get(i) {
            Some(&f) => Target::Runtime(RuntimeSymbol::Wasi(f)),
            None => Target::Func(i as u32),
        };
        relocs.push(Reloc {
            word: words.len(),
            target,
        });
        words.extend([0, sig_ids[t as usize]]);
    }
    words.extend(&sig_ids);
    for (g, v) in defined_globals.iter().zip(&globals) {
        words.extend([u64::from(type_tag(g.ty)), u64::from(g.mutable), *v]);
    }
    // Each table's items come first in the items list, then the passive segments'.
    let mut first_item = 0;
    for (t, items) in info.tables.iter().zip(&tables) {
        let max = t.max.unwrap_or(NONE);
        words.extend([u64::from(type_tag(t.elem)), t.min, max, first_item]);
        first_item += items.len() as u64;
    }
    words.extend(data.iter().flatten());
    for [passive, at, count] in &elems {
        words.extend([*passive, at + first_item, *count]);
    }
    words.extend(tables.iter().flatten());
    words.extend(&elem_items);
    if let Some(t) = entry_type {
        words.extend(t.results.iter().map(|r| u64::from(type_tag(*r))));
    }
    Ok(Built { words, relocs })
}

/// Why a template could not be read (a damaged image, or one from another version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// The bytes are not 8-byte aligned, or do not start with [`MAGIC`].
    BadMagic,
    /// Written by another format version.
    UnsupportedVersion(u64),
    /// The words end inside a record.
    Truncated,
    /// A record holds something impossible (a type tag, a function index, a trap code).
    Damaged(&'static str),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a WASM instance template"),
            Self::UnsupportedVersion(v) => {
                write!(
                    f,
                    "instance template version {v}, this runtime reads {VERSION}"
                )
            }
            Self::Truncated => write!(f, "instance template is truncated"),
            Self::Damaged(what) => write!(f, "instance template is damaged: {what}"),
        }
    }
}

/// A defined global: type, mutability, initial value (a reference for `funcref`).
#[derive(Clone, Copy, Debug)]
pub struct GlobalInit {
    /// Its type.
    pub ty: Type,
    /// Whether it may change.
    pub mutable: bool,
    /// Its initial value.
    pub value: u64,
}

/// A defined table: element type, limits and initial items.
#[derive(Clone, Copy, Debug)]
pub struct TableInit<'a> {
    /// Element type.
    pub elem: Type,
    /// Maximum size, if any.
    pub max: Option<u64>,
    /// Its items once the active element segments are applied (`minimum` of them).
    pub items: &'a [u64],
}

/// A template, checked: every count fits, every tag and function index is valid.
#[derive(Clone, Copy, Debug)]
pub struct Template<'a> {
    header: &'a [u64; HEADER],
    trap: Option<TrapCode>,
    /// Function references: code address and signature id.
    pub funcs: &'a [[u64; 2]],
    /// Signature id of each type.
    pub sig_ids: &'a [u64],
    globals: &'a [[u64; 3]],
    tables: &'a [[u64; 4]],
    /// Data segments: mode, memory offset, blob offset, length.
    pub data: &'a [[u64; 4]],
    elems: &'a [[u64; 3]],
    items: &'a [u64],
    results: &'a [u64],
}

/// What [`Template::read`] finds damaged, by bit of its damage mask, in the order it
/// reports them (the lowest bit set wins).
const DAMAGE: [&str; 7] = [
    "start or entry function",
    "trap code",
    "reference to a missing function",
    "type tag",
    "a global's type tag, or its reference to a missing function",
    "a table's type tag, or its items out of range",
    "items out of range",
];

impl<'a> Template<'a> {
    /// Reads the template in `bytes` (as the image holds it: 8-byte aligned). May be
    /// inlined, with [`Self::read`], into the kernel's one call (a template is read once
    /// per program at boot: no call seams, and the checked template is built in place
    /// instead of copied out).
    #[inline]
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, TemplateError> {
        // Whole words from an aligned start, in one test.
        if !(bytes.as_ptr() as usize | bytes.len()).is_multiple_of(8) {
            return Err(TemplateError::BadMagic);
        }
        // SAFETY: the bytes are whole `u64`s from an 8-byte aligned start (checked
        // above), and every bit pattern is a valid `u64`.
        let words = unsafe { core::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / 8) };
        Self::read(words)
    }

    /// Reads and checks the template `words`: the counts against the words there are,
    /// then everything the accessors rely on (tags, function indices, item ranges).
    /// This runs at boot, where under an emulator every distinct branch costs its
    /// translation, so each check sets a bit of a damage mask (see [`DAMAGE`]) instead
    /// of branching, and the mask is tested once.
    #[inline]
    pub fn read(words: &'a [u64]) -> Result<Self, TemplateError> {
        let header = words
            .first_chunk::<HEADER>()
            .ok_or(TemplateError::BadMagic)?;
        // Magic and version in one test (the error says which).
        if (header[H_MAGIC] ^ MAGIC) | (header[H_VERSION] ^ VERSION) != 0 {
            return Err(match header[H_MAGIC] {
                MAGIC => TemplateError::UnsupportedVersion(header[H_VERSION]),
                _ => TemplateError::BadMagic,
            });
        }
        // Where each kind's records end, in `u128`: no product or sum overflows.
        let mut ends = [0u128; RECORD_WORDS.len()];
        let mut end = HEADER as u128;
        for (k, e) in ends.iter_mut().enumerate() {
            end += u128::from(header[H_COUNTS + k]) * RECORD_WORDS[k] as u128;
            *e = end;
        }
        if end > words.len() as u128 {
            return Err(TemplateError::Truncated);
        }
        let part = |k: usize| {
            let from = k.checked_sub(1).map_or(HEADER, |p| ends[p] as usize);
            // SAFETY: `HEADER <= from <= ends[k] <= end <= words.len()` (checked above).
            unsafe { words.get_unchecked(from..ends[k] as usize) }
        };
        let trap_word = header[H_TRAP];
        let trap = u32::try_from(trap_word).ok().and_then(TrapCode::from_u32);
        let t = Template {
            header,
            trap,
            funcs: part(0).as_chunks().0,
            sig_ids: part(1),
            globals: part(2).as_chunks().0,
            tables: part(3).as_chunks().0,
            data: part(4).as_chunks().0,
            elems: part(5).as_chunks().0,
            items: part(6),
            results: part(7),
        };
        let funcs = t.funcs.len() as u64;
        let types = TYPES.len() as u64;
        let funcref = u64::from(type_tag(Type::FuncRef));
        let items = t.items.len();
        // Whether `count` items from item `at` lie within the items.
        let fits = |at: u64, count: u64| range::fits(at, count, items);
        let is_func = |f: u64| (f == NONE) | (f < funcs);
        let mut damage = u32::from(!is_func(header[H_START]) | !is_func(header[H_ENTRY]));
        damage |= u32::from((trap_word != 0) & trap.is_none()) << 1;
        damage |= u32::from(t.items.iter().any(|&r| r > funcs)) << 2;
        damage |= u32::from(t.results.iter().any(|&r| r >= types)) << 3;
        // Loops that stop at the first damaged record: unlike ones gathering every
        // record's bits, they are not vectorised, so an empty list is one branch.
        // A `funcref` global's value is a reference like an item.
        let bad_global = |g: &[u64; 3]| (g[0] >= types) | ((g[0] == funcref) & (g[2] > funcs));
        damage |= u32::from(t.globals.iter().any(bad_global)) << 4;
        let bad_table = |tb: &[u64; 4]| (tb[0] >= types) | !fits(tb[3], tb[1]);
        damage |= u32::from(t.tables.iter().any(bad_table)) << 5;
        damage |= u32::from(t.elems.iter().any(|e| !fits(e[1], e[2]))) << 6;
        if damage != 0 {
            return Err(TemplateError::Damaged(
                DAMAGE[damage.trailing_zeros() as usize],
            ));
        }
        Ok(t)
    }

    /// The trap instantiation ends in, if it does.
    pub fn trap(&self) -> Option<TrapCode> {
        self.trap
    }

    /// How many functions, types, tables and globals the instance has.
    pub(crate) fn shape(&self) -> Shape {
        Shape {
            funcs: self.funcs.len(),
            types: self.sig_ids.len(),
            tables: self.tables.len(),
            globals: self.globals.len(),
        }
    }

    /// The start function.
    pub fn start(&self) -> Option<u32> {
        index(self.header[H_START])
    }

    /// The entry function, how many parameters it takes and its results' types.
    pub fn entry(&self) -> Option<(u32, u64, impl ExactSizeIterator<Item = Type> + 'a)> {
        let results = self.results.iter().map(|&t| tag_type(t));
        Some((
            index(self.header[H_ENTRY])?,
            self.header[H_ENTRY_PARAMS],
            results,
        ))
    }

    /// The memory's initial and maximum size in pages, if the module has a memory.
    pub fn memory(&self) -> Option<(u64, Option<u64>)> {
        let min = self.header[H_MEMORY_MIN];
        let max = self.header[H_MEMORY_MAX];
        (min != NONE).then_some((min, (max != NONE).then_some(max)))
    }

    /// The defined globals.
    pub fn globals(&self) -> impl Iterator<Item = GlobalInit> + 'a {
        self.globals.iter().map(|g| GlobalInit {
            ty: tag_type(g[0]),
            mutable: g[1] != 0,
            value: g[2],
        })
    }

    /// The defined tables.
    pub fn tables(&self) -> impl Iterator<Item = TableInit<'a>> + 'a {
        let items = self.items;
        self.tables.iter().map(move |t| TableInit {
            elem: tag_type(t[0]),
            max: (t[2] != NONE).then_some(t[2]),
            // Checked by `read`.
            items: &items[t[3] as usize..(t[3] + t[1]) as usize],
        })
    }

    /// For each element segment, its items if it is passive (`None` once dropped).
    pub fn elems(&self) -> impl Iterator<Item = Option<&'a [u64]>> + 'a {
        let items = self.items;
        self.elems.iter().map(move |e| {
            // Checked by `read`.
            (e[0] != 0).then(|| &items[e[1] as usize..(e[1] + e[2]) as usize])
        })
    }
}

/// An index word, or `None` for [`NONE`].
fn index(word: u64) -> Option<u32> {
    (word != NONE).then_some(word as u32)
}

/// The type of a tag [`Template::read`] checked.
fn tag_type(tag: u64) -> Type {
    TYPES[tag as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wasi::Func;

    /// A module with something of every kind a template holds (a QEMU test runs it).
    const PROGRAM: &str = include_str!("../../../../tests/wasm-qemu/programs/instance_state.wat");

    fn built(wat: &str) -> Result<Built, String> {
        let wasm = wat::parse_str(wat).unwrap();
        build(&crate::compile(&wasm, crate::supported_features()).unwrap())
    }

    #[test]
    fn a_template_holds_the_instance_as_instantiation_leaves_it() {
        let b = built(PROGRAM).unwrap();
        let t = Template::read(&b.words).unwrap();
        assert_eq!(t.trap(), None);
        // Functions: the import, then $seven $eight $start $call_at and main.
        assert_eq!(t.funcs.len(), 6);
        assert_eq!(
            b.relocs[0].target,
            Target::Runtime(RuntimeSymbol::Wasi(Func::sched_yield))
        );
        assert_eq!(b.relocs[1].target, Target::Func(1));
        assert_eq!(b.relocs.len(), 6);
        assert!(b.relocs.iter().all(|r| b.words[r.word] == 0));
        // Equal types share an id: $v_i and $again (and the import's) are one signature.
        assert_eq!(t.funcs[0][1], t.funcs[1][1]);
        assert_eq!(t.funcs[2][1], t.funcs[1][1]);
        assert_ne!(t.funcs[3][1], t.funcs[1][1]);
        assert_eq!(t.start(), Some(3));
        let (entry, params, results) = t.entry().unwrap();
        assert_eq!((entry, params), (5, 0));
        let mut want = vec![Type::I32; 7];
        want.push(Type::I64);
        assert_eq!(results.collect::<Vec<_>>(), want);
        assert_eq!(t.memory(), Some((1, Some(2))));
        let globals: Vec<_> = t.globals().map(|g| (g.ty, g.mutable, g.value)).collect();
        assert_eq!(
            globals,
            [
                (Type::I32, true, 7),
                (Type::FuncRef, false, 2),
                (Type::I64, false, (-5i64) as u64)
            ]
        );
        let tables: Vec<_> = t.tables().map(|t| (t.elem, t.max, t.items)).collect();
        assert_eq!(tables[0], (Type::FuncRef, None, &[0, 2, 1, 0][..]));
        assert_eq!(tables[1], (Type::ExternRef, None, &[0, 0][..]));
        let elems: Vec<_> = t.elems().collect();
        assert_eq!(elems, [None, Some(&[3, 0][..]), None]);
        // "kiln" at 16, then the passive segment right after it in the blob.
        assert_eq!(t.data, [[DATA_ACTIVE, 16, 0, 4], [DATA_PASSIVE, 0, 4, 7]]);
    }

    #[test]
    fn segments_out_of_bounds_make_instantiation_trap() {
        let data = built(r#"(module (memory 1) (data (i32.const 65534) "abc"))"#).unwrap();
        let t = Template::read(&data.words).unwrap();
        assert_eq!(t.trap(), Some(TrapCode::MemoryOutOfBounds));
        let elem = r#"(module (table 1 funcref) (func $f)
            (elem (i32.const 1) $f) (memory 1) (data (i32.const 65535) "ab"))"#;
        let elem = built(elem).unwrap();
        let t = Template::read(&elem.words).unwrap();
        // The element segment fails first, as instantiation applies it first.
        assert_eq!(t.trap(), Some(TrapCode::TableOutOfBounds));
        let fits = built(r#"(module (memory 1) (data (i32.const 65533) "abc"))"#).unwrap();
        assert_eq!(Template::read(&fits.words).unwrap().trap(), None);
    }

    #[test]
    fn modules_with_imports_the_runtime_does_not_provide_have_no_template() {
        let imports_a_host_function =
            r#"(module (import "spectest" "print_i32" (func (param i32))))"#;
        assert!(built(imports_a_host_function).is_err());
        let imports_a_memory = r#"(module (import "env" "memory" (memory 1)))"#;
        assert!(built(imports_a_memory).is_err());
        let no_entry = built("(module (func (export \"other\")))").unwrap();
        assert!(Template::read(&no_entry.words).unwrap().entry().is_none());
    }

    #[test]
    fn damaged_templates_are_refused() {
        let b = built(PROGRAM).unwrap();
        for len in 0..b.words.len() {
            assert!(Template::read(&b.words[..len]).is_err(), "cut at {len}");
        }
        let with = |word: usize, value: u64| {
            let mut w = b.words.clone();
            w[word] = value;
            Template::read(&w).map(|_| ())
        };
        assert_eq!(with(H_MAGIC, 0), Err(TemplateError::BadMagic));
        assert_eq!(
            with(H_VERSION, 9),
            Err(TemplateError::UnsupportedVersion(9))
        );
        assert!(matches!(with(H_TRAP, 99), Err(TemplateError::Damaged(_))));
        assert!(matches!(with(H_ENTRY, 6), Err(TemplateError::Damaged(_))));
        // A count too large for the words there are.
        assert_eq!(with(H_COUNTS, u64::MAX), Err(TemplateError::Truncated));
        // The first item (8 items, then 8 result types) refers to a function past the last.
        let items = b.words.len() - 8 - 8;
        assert!(matches!(with(items, 7), Err(TemplateError::Damaged(_))));
        assert!(with(items, 6).is_ok());
        // The funcref global's value (global 1, after the functions and types) likewise.
        let types = b.words[H_COUNTS + 1] as usize;
        let funcref_global = HEADER + 6 * 2 + types + 3 + 2;
        assert_eq!(b.words[funcref_global], 2);
        assert!(matches!(
            with(funcref_global, 7),
            Err(TemplateError::Damaged(_))
        ));
        assert!(with(funcref_global, 6).is_ok());
        // Every other check, each by the word it reads: where each kind's records start.
        let start = |kind: usize| {
            let counts = &b.words[H_COUNTS..H_COUNTS + kind];
            HEADER
                + counts
                    .iter()
                    .zip(RECORD_WORDS)
                    .map(|(&n, w)| n as usize * w)
                    .sum::<usize>()
        };
        let damaged = |what| Err(TemplateError::Damaged(what));
        let bad_tag = TYPES.len() as u64;
        assert_eq!(with(H_START, 6), damaged("start or entry function"));
        assert_eq!(with(H_TRAP, (1 << 32) | 1), damaged("trap code"));
        let first_result = start(7);
        assert_eq!(with(first_result, bad_tag), damaged("type tag"));
        let global_tag = start(2);
        assert!(with(global_tag, bad_tag - 1).is_ok());
        assert_eq!(
            with(global_tag, bad_tag),
            damaged("a global's type tag, or its reference to a missing function")
        );
        // Table 0: tag, 4 items, its maximum, its first item 0 (of 8).
        let table = start(3);
        assert_eq!(b.words[table + 1], 4);
        let bad_table = damaged("a table's type tag, or its items out of range");
        assert_eq!(with(table, bad_tag), bad_table);
        assert!(with(table + 3, 4).is_ok());
        assert_eq!(with(table + 3, 5), bad_table);
        assert_eq!(with(table + 1, u64::MAX), bad_table);
        // Element segment 1 (passive): its 2 items from item 4.
        let elem = start(5) + 3;
        assert_eq!(b.words[elem + 2], 2);
        assert!(with(elem + 1, 6).is_ok());
        assert_eq!(with(elem + 1, 7), damaged("items out of range"));
        assert_eq!(with(elem + 2, u64::MAX), damaged("items out of range"));
        let bytes = b.bytes();
        assert_eq!(bytes.len(), b.words.len() * 8);
        let aligned: Vec<u64> = b.words.clone();
        // SAFETY: viewing a `u64` buffer as its bytes.
        let as_bytes = unsafe {
            core::slice::from_raw_parts(aligned.as_ptr() as *const u8, aligned.len() * 8)
        };
        assert_eq!(as_bytes, &bytes[..]);
        assert!(Template::from_bytes(as_bytes).is_ok());
        assert_eq!(
            Template::from_bytes(&as_bytes[1..]).map(|_| ()),
            Err(TemplateError::BadMagic)
        );
    }
}
