//! The module descriptor of an AOT image: everything instantiation needs about a
//! compiled module except its machine code, as bytes.
//!
//! xtask compiles a module on the host and writes [`encode`]'s bytes into a read-only
//! section of the module's ELF object, next to the code. A program boots from its
//! instance template (`super::template`), not from the descriptor: the kernel reads the
//! descriptor back with [`decode`], attaching the code the linker placed in the image,
//! only to name the functions of a trap's report, and in its spec runner, which links
//! modules against each other. The format is little-endian and unaligned:
//!
//! ```text
//! magic "KILNWDSC"  version: u32
//! types, imports, funcs, tables, memories, globals, global inits, exports, start,
//! element segments, data segments, names, function code ranges
//! ```
//!
//! Each list is a `u32` count followed by its items; strings are a `u32` length followed
//! by the bytes. Items are fixed-size records wherever the information allows (limits,
//! table, memory and global types, segments, function code ranges, and an import's
//! kind-specific part, padded to one size), so that [`decode`] checks each record's
//! length once. Three parts are not in the descriptor but in [`Blobs`] of their own
//! (each its own read-only section in the object): the data segments' bytes (the
//! descriptor holds each segment's offset and length), the element segments' items and
//! the globals' initial values (both constant expressions of nine bytes each, a tag and
//! a `u64`; the descriptor holds each element segment's offset and item count, and the
//! number of initial values). Function bodies and the compiler's per-function facts are
//! not kept: only the compiler reads them.

use crate::compile::{CompiledModule, FuncCode};
use crate::module::{
    ConstExpr, DataSegment, ElemSegment, Export, ExportKind, FuncType, GlobalType, Import,
    ImportKind, MemoryType, ModuleInfo, SegmentMode, TableType,
};
use crate::Type;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// First bytes of every descriptor.
pub const MAGIC: &[u8; 8] = b"KILNWDSC";
/// Format version [`encode`] writes and [`decode`] reads.
pub const VERSION: u32 = 3;

/// Why a descriptor could not be read (a damaged image or one from another version).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DescriptorError {
    /// The bytes do not start with [`MAGIC`].
    BadMagic,
    /// Written by another format version.
    UnsupportedVersion(u32),
    /// The bytes end inside an item.
    Truncated,
    /// A tag byte names no known kind (of type, import, constant...).
    BadTag(u8),
    /// A name is not UTF-8.
    BadString,
}

impl fmt::Display for DescriptorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadMagic => write!(f, "not a WASM module descriptor"),
            Self::UnsupportedVersion(v) => {
                write!(f, "descriptor version {v}, this runtime reads {VERSION}")
            }
            Self::Truncated => write!(f, "descriptor is truncated"),
            Self::BadTag(t) => write!(f, "descriptor has an unknown tag {t}"),
            Self::BadString => write!(f, "descriptor has a name that is not UTF-8"),
        }
    }
}

/// A module's descriptor and the blobs beside it.
pub struct Encoded {
    /// The descriptor.
    pub descriptor: Vec<u8>,
    /// Every data segment's bytes, one after another.
    pub data: Vec<u8>,
    /// Every element segment's items, one after another.
    pub elems: Vec<u8>,
    /// The initial value of every global the module defines.
    pub globals: Vec<u8>,
}

impl Encoded {
    /// The blobs, as [`decode`] reads them.
    pub fn blobs(&self) -> Blobs<'_> {
        Blobs {
            data: &self.data,
            elems: &self.elems,
            globals: &self.globals,
        }
    }
}

/// The parts of a module kept beside its descriptor, each in a read-only section of its
/// own.
#[derive(Clone, Copy)]
pub struct Blobs<'a> {
    /// Every data segment's bytes.
    pub data: &'a [u8],
    /// Every element segment's items.
    pub elems: &'a [u8],
    /// The globals' initial values.
    pub globals: &'a [u8],
}

/// The descriptor of `module` and its blobs (its code goes elsewhere).
pub fn encode(module: &CompiledModule) -> Encoded {
    let mut w = Writer(Vec::new());
    let mut data = Vec::new();
    let (mut elems, mut globals) = (Writer(Vec::new()), Writer(Vec::new()));
    w.0.extend_from_slice(MAGIC);
    w.u32(VERSION);
    let info = &module.info;
    w.list(&info.types, |w, t| {
        w.u32(t.params.len() as u32);
        w.u32(t.results.len() as u32);
        for ty in t.params.iter().chain(&t.results) {
            w.u8(type_tag(*ty));
        }
    });
    w.list(&info.imports, |w, i| {
        w.str(&i.module);
        w.str(&i.name);
        let mut payload = Writer(Vec::new());
        let kind = match i.kind {
            ImportKind::Func(t) => {
                payload.u32(t);
                0
            }
            ImportKind::Table(t) => {
                payload.table(t);
                1
            }
            ImportKind::Memory(m) => {
                payload.limits(m.min, m.max);
                2
            }
            ImportKind::Global(g) => {
                payload.global(g);
                3
            }
        };
        payload.0.resize(IMPORT_PAYLOAD, 0);
        w.u8(kind);
        w.0.extend_from_slice(&payload.0);
    });
    w.list(&info.funcs, |w, t| w.u32(*t));
    w.u32(info.imported_funcs);
    w.list(&info.tables, |w, t| w.table(*t));
    w.u32(info.imported_tables);
    w.list(&info.memories, |w, m| w.limits(m.min, m.max));
    w.u32(info.imported_memories);
    w.list(&info.globals, |w, g| w.global(*g));
    w.u32(info.global_inits.len() as u32);
    info.global_inits.iter().for_each(|e| globals.expr(*e));
    w.u32(info.imported_globals);
    w.list(&info.exports, |w, e| {
        w.str(&e.name);
        w.u8(e.kind as u8);
        w.u32(e.index);
    });
    w.u8(info.start.is_some() as u8);
    w.u32(info.start.unwrap_or(0));
    w.list(&info.elems, |w, e| {
        w.mode(e.mode);
        w.u32(elems.0.len() as u32);
        w.u32(e.items.len() as u32);
        e.items.iter().for_each(|x| elems.expr(*x));
    });
    w.list(&info.data, |w, d| {
        w.mode(d.mode);
        w.u32(data.len() as u32);
        w.u32(d.bytes.len() as u32);
        data.extend_from_slice(&d.bytes);
    });
    w.list(&info.names, |w, (i, n)| {
        w.u32(*i);
        w.str(n);
    });
    w.list(&module.funcs, |w, f| {
        w.u32(f.index);
        w.u32(f.offset);
        w.u32(f.len);
    });
    Encoded {
        descriptor: w.0,
        data,
        elems: elems.0,
        globals: globals.0,
    }
}

/// Bytes of an import's kind-specific part (the largest, a table type; the others are
/// padded with zeros), so that every import has the same shape after its names.
const IMPORT_PAYLOAD: usize = TABLE;
/// Bytes of a table type: element type, then limits.
const TABLE: usize = 1 + LIMITS;
/// Bytes of limits: whether there is a maximum, the minimum, the maximum (0 if none).
const LIMITS: usize = 17;
/// Bytes of a constant expression: a tag and a `u64`.
const EXPR: usize = 9;
/// Bytes of a segment mode: a tag, the table or memory index and the offset expression
/// (zeros when passive or declared).
const MODE: usize = 1 + 4 + EXPR;
/// Bytes of a segment: its mode, then the offset and count of its part of the blob.
const SEGMENT: usize = MODE + 8;

/// The module a descriptor (with its blobs) describes, with empty code: the caller
/// places the code (see `Store::add_image_code`).
///
/// The kernel runs this after a trap, to name the functions of its report, and in its
/// spec runner for each module a script instantiates, where an emulator pays for the
/// first run of each instruction far more than for running it: so the format is mostly
/// fixed-size records, each checked for length once and then read without branches, and
/// the decoder is written as plain loops.
pub fn decode(bytes: &[u8], blobs: Blobs<'_>) -> Result<CompiledModule, DescriptorError> {
    let mut r = Reader(bytes);
    let head: [u8; 12] = r.array()?;
    if head[..8] != MAGIC[..] {
        return Err(DescriptorError::BadMagic);
    }
    let version = le32(&head, 8);
    if version != VERSION {
        return Err(DescriptorError::UnsupportedVersion(version));
    }
    let mut info = ModuleInfo::default();
    for _ in 0..r.count()? {
        let [np, nr] = [r.u32()? as usize, r.u32()? as usize];
        let tags = r.take(np.checked_add(nr).ok_or(DescriptorError::Truncated)?)?;
        let (params, results) = tags.split_at(np);
        info.types.push(FuncType {
            params: types(params)?,
            results: types(results)?,
        });
    }
    for _ in 0..r.count()? {
        let module = r.str()?;
        let name = r.str()?;
        let [kind, payload @ ..]: [u8; 1 + IMPORT_PAYLOAD] = r.array()?;
        let kind = match kind {
            0 => ImportKind::Func(le32(&payload, 0)),
            1 => ImportKind::Table(table(&payload)?),
            2 => ImportKind::Memory(memory(&payload)),
            3 => ImportKind::Global(global(&payload)?),
            t => return Err(DescriptorError::BadTag(t)),
        };
        info.imports.push(Import { module, name, kind });
    }
    info.funcs = r.records::<4>()?.iter().map(|b| le32(b, 0)).collect();
    info.imported_funcs = r.u32()?;
    for b in r.records::<TABLE>()? {
        info.tables.push(table(b)?);
    }
    info.imported_tables = r.u32()?;
    info.memories = r.records::<LIMITS>()?.iter().map(memory).collect();
    info.imported_memories = r.u32()?;
    for b in r.records::<2>()? {
        info.globals.push(global(b)?);
    }
    info.global_inits = exprs(blobs.globals, 0, r.u32()?)?;
    info.imported_globals = r.u32()?;
    for _ in 0..r.count()? {
        let name = r.str()?;
        let [kind, index @ ..]: [u8; 5] = r.array()?;
        let kind = match kind {
            0 => ExportKind::Func,
            1 => ExportKind::Table,
            2 => ExportKind::Memory,
            3 => ExportKind::Global,
            t => return Err(DescriptorError::BadTag(t)),
        };
        info.exports.push(Export {
            name,
            kind,
            index: le32(&index, 0),
        });
    }
    let [has_start, start @ ..]: [u8; 5] = r.array()?;
    info.start = (has_start != 0).then(|| le32(&start, 0));
    for b in r.records::<SEGMENT>()? {
        let (at, count) = (le32(b, MODE) as usize, le32(b, MODE + 4));
        info.elems.push(ElemSegment {
            mode: mode(b)?,
            items: exprs(blobs.elems, at, count)?,
        });
    }
    for b in r.records::<SEGMENT>()? {
        let (at, len) = (le32(b, MODE) as usize, le32(b, MODE + 4) as usize);
        let bytes = at
            .checked_add(len)
            .and_then(|end| blobs.data.get(at..end))
            .ok_or(DescriptorError::Truncated)?;
        info.data.push(DataSegment {
            mode: mode(b)?,
            bytes: bytes.to_vec(),
        });
    }
    for _ in 0..r.count()? {
        let index = r.u32()?;
        info.names.push((index, r.str()?));
    }
    let funcs = r
        .records::<12>()?
        .iter()
        .map(|b| FuncCode {
            index: le32(b, 0),
            offset: le32(b, 4),
            len: le32(b, 8),
        })
        .collect();
    Ok(CompiledModule {
        info,
        code: Vec::new(),
        relocs: Vec::new(),
        funcs,
    })
}

/// The `count` constant expressions at byte `at` of `blob`.
fn exprs(blob: &[u8], at: usize, count: u32) -> Result<Vec<ConstExpr>, DescriptorError> {
    let mut r = Reader(blob.get(at..).ok_or(DescriptorError::Truncated)?);
    // The records are checked first: a damaged count must not reserve memory.
    let records = r.fixed::<EXPR>(count as usize)?;
    let mut items = Vec::with_capacity(records.len());
    for b in records {
        items.push(expr(b)?);
    }
    Ok(items)
}

pub(super) fn type_tag(t: Type) -> u8 {
    match t {
        Type::I32 => 0,
        Type::I64 => 1,
        Type::F32 => 2,
        Type::F64 => 3,
        Type::FuncRef => 4,
        Type::ExternRef => 5,
    }
}

/// The value types by tag ([`type_tag`]'s inverse).
pub(super) const TYPES: [Type; 6] = [
    Type::I32,
    Type::I64,
    Type::F32,
    Type::F64,
    Type::FuncRef,
    Type::ExternRef,
];

fn ty(tag: u8) -> Result<Type, DescriptorError> {
    TYPES
        .get(tag as usize)
        .copied()
        .ok_or(DescriptorError::BadTag(tag))
}

fn types(tags: &[u8]) -> Result<Vec<Type>, DescriptorError> {
    let mut out = Vec::with_capacity(tags.len());
    for &t in tags {
        out.push(ty(t)?);
    }
    Ok(out)
}

/// The little-endian `u32` at byte `at` of a fixed-size record.
fn le32<const N: usize>(b: &[u8; N], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The little-endian `u64` at byte `at` of a fixed-size record.
fn le64<const N: usize>(b: &[u8; N], at: usize) -> u64 {
    u64::from(le32(b, at)) | u64::from(le32(b, at + 4)) << 32
}

/// Limits at byte `at`: (minimum, maximum).
fn limits<const N: usize>(b: &[u8; N], at: usize) -> (u64, Option<u64>) {
    (le64(b, at + 1), (b[at] != 0).then(|| le64(b, at + 9)))
}

fn table<const N: usize>(b: &[u8; N]) -> Result<TableType, DescriptorError> {
    let (min, max) = limits(b, 1);
    Ok(TableType {
        elem: ty(b[0])?,
        min,
        max,
    })
}

fn memory<const N: usize>(b: &[u8; N]) -> MemoryType {
    let (min, max) = limits(b, 0);
    MemoryType { min, max }
}

fn global<const N: usize>(b: &[u8; N]) -> Result<GlobalType, DescriptorError> {
    Ok(GlobalType {
        ty: ty(b[0])?,
        mutable: b[1] != 0,
    })
}

/// The constant expression at the start of a record.
fn expr<const N: usize>(b: &[u8; N]) -> Result<ConstExpr, DescriptorError> {
    let v = le64(b, 1);
    Ok(match b[0] {
        0 => ConstExpr::I32(v as u32 as i32),
        1 => ConstExpr::I64(v as i64),
        2 => ConstExpr::F32(v as u32),
        3 => ConstExpr::F64(v),
        4 => ConstExpr::RefNull,
        5 => ConstExpr::RefFunc(v as u32),
        6 => ConstExpr::GlobalGet(v as u32),
        t => return Err(DescriptorError::BadTag(t)),
    })
}

/// The segment mode at the start of a segment record.
fn mode(b: &[u8; SEGMENT]) -> Result<SegmentMode, DescriptorError> {
    Ok(match b[0] {
        0 => {
            let mut offset = [0; EXPR];
            offset.copy_from_slice(&b[5..5 + EXPR]);
            SegmentMode::Active {
                index: le32(b, 1),
                offset: expr(&offset)?,
            }
        }
        1 => SegmentMode::Passive,
        2 => SegmentMode::Declared,
        t => return Err(DescriptorError::BadTag(t)),
    })
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }

    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }

    fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.u32(items.len() as u32);
        for x in items {
            item(self, x);
        }
    }

    fn limits(&mut self, min: u64, max: Option<u64>) {
        self.u8(max.is_some() as u8);
        self.u64(min);
        self.u64(max.unwrap_or(0));
    }

    fn table(&mut self, t: TableType) {
        self.u8(type_tag(t.elem));
        self.limits(t.min, t.max);
    }

    fn global(&mut self, g: GlobalType) {
        self.u8(type_tag(g.ty));
        self.u8(g.mutable as u8);
    }

    fn expr(&mut self, e: ConstExpr) {
        let (tag, value) = match e {
            ConstExpr::I32(v) => (0, v as u32 as u64),
            ConstExpr::I64(v) => (1, v as u64),
            ConstExpr::F32(b) => (2, b as u64),
            ConstExpr::F64(b) => (3, b),
            ConstExpr::RefNull => (4, 0),
            ConstExpr::RefFunc(f) => (5, f as u64),
            ConstExpr::GlobalGet(g) => (6, g as u64),
        };
        self.u8(tag);
        self.u64(value);
    }

    fn mode(&mut self, m: SegmentMode) {
        match m {
            SegmentMode::Active { index, offset } => {
                self.u8(0);
                self.u32(index);
                self.expr(offset);
            }
            SegmentMode::Passive => self.u8(1),
            SegmentMode::Declared => self.u8(2),
        }
        if !matches!(m, SegmentMode::Active { .. }) {
            self.0.extend_from_slice(&[0; MODE - 1]);
        }
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DescriptorError> {
        let (head, rest) = self
            .0
            .split_at_checked(n)
            .ok_or(DescriptorError::Truncated)?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DescriptorError> {
        let (head, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(DescriptorError::Truncated)?;
        self.0 = rest;
        Ok(*head)
    }

    fn u32(&mut self) -> Result<u32, DescriptorError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// A list's item count. Each item takes at least one byte: a count larger than what
    /// is left is damage (and would otherwise reserve absurd amounts of memory).
    fn count(&mut self) -> Result<usize, DescriptorError> {
        let n = self.u32()? as usize;
        if n > self.0.len() {
            return Err(DescriptorError::Truncated);
        }
        Ok(n)
    }

    /// `n` records of `N` bytes.
    fn fixed<const N: usize>(&mut self, n: usize) -> Result<&'a [[u8; N]], DescriptorError> {
        let bytes = self.take(n.checked_mul(N).ok_or(DescriptorError::Truncated)?)?;
        Ok(bytes.as_chunks::<N>().0)
    }

    /// A list of records of `N` bytes.
    fn records<const N: usize>(&mut self) -> Result<&'a [[u8; N]], DescriptorError> {
        let n = self.u32()? as usize;
        self.fixed(n)
    }

    fn str(&mut self) -> Result<String, DescriptorError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| DescriptorError::BadString)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;

    const MODULE: &str = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
        (import "env" "g" (global $g i32))
        (import "env" "t" (table 1 2 funcref))
        (memory (export "memory") 1 3)
        (global $h (mut i64) (i64.const -5))
        (global f32 (f32.const 1.5))
        (global funcref (ref.func $main))
        (table $t2 4 externref)
        (elem (i32.const 0) $main)
        (elem funcref (item ref.null func) (item ref.func $main))
        (elem declare func $main)
        (data (global.get $g) "hello")
        (data "passive")
        (func $main (export "_start") (param f64) (result i32 i64) (i32.const 1) (i64.const 2))
        (start $other)
        (func $other))"#;

    /// The module info without what the descriptor leaves out.
    fn described(m: &CompiledModule) -> String {
        let mut info = m.info.clone();
        info.bodies.clear();
        info.facts.clear();
        format!("{info:?} {:?}", m.funcs)
    }

    #[test]
    fn a_module_round_trips_without_its_code() {
        let bytes = wat::parse_str(MODULE).unwrap();
        let m = crate::compile(&bytes, crate::supported_features()).unwrap();
        let e = encode(&m);
        assert_eq!(e.data, b"hellopassive");
        // Four element items and three initial values, nine bytes each.
        assert_eq!(e.elems.len(), 4 * 9);
        assert_eq!(e.globals.len(), 3 * 9);
        assert_eq!(e.globals[9..18], [2, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0]); // f32 1.5
        let back = decode(&e.descriptor, e.blobs()).unwrap();
        assert_eq!(described(&back), described(&m));
        assert!(back.code.is_empty());
        assert_eq!(back.info.func_name(1), "main");
        assert_eq!(back.info.data[0].bytes, b"hello");
    }

    #[test]
    fn damaged_descriptors_are_refused() {
        let bytes = wat::parse_str(MODULE).unwrap();
        let m = crate::compile(&bytes, crate::supported_features()).unwrap();
        let e = encode(&m);
        let (good, blobs) = (&e.descriptor, e.blobs());
        for short in [
            Blobs {
                data: &e.data[..e.data.len() - 1],
                ..blobs
            },
            Blobs {
                elems: &e.elems[..e.elems.len() - 1],
                ..blobs
            },
            Blobs {
                globals: &e.globals[..e.globals.len() - 1],
                ..blobs
            },
        ] {
            assert_eq!(decode(good, short).unwrap_err(), DescriptorError::Truncated);
        }
        // Every cut of the descriptor, inside any record or count, is refused (not a
        // panic, not a shorter module).
        for len in 0..good.len() {
            let err = decode(&good[..len], blobs).unwrap_err();
            assert!(
                matches!(err, DescriptorError::Truncated | DescriptorError::BadMagic),
                "cut at {len}: {err:?}"
            );
        }
        // A damaged count of constant expressions is refused before anything is reserved
        // for it.
        assert_eq!(
            exprs(&e.globals, 0, u32::MAX).unwrap_err(),
            DescriptorError::Truncated
        );
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(decode(&bad, blobs).unwrap_err(), DescriptorError::BadMagic);
        let mut old = good.clone();
        old[8] = 9;
        assert_eq!(
            decode(&old, blobs).unwrap_err(),
            DescriptorError::UnsupportedVersion(9)
        );
    }
}
