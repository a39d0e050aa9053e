//! The module descriptor of an AOT image: everything instantiation needs about a
//! compiled module except its machine code, as bytes.
//!
//! xtask compiles a module on the host and writes [`encode`]'s bytes into a read-only
//! section of the module's ELF object, next to the code; the kernel reads them back with
//! [`decode`] and instantiates the module with the code the linker placed in the image,
//! so nothing is compiled at boot. The format is little-endian and unaligned:
//!
//! ```text
//! magic "KILNWDSC"  version: u32
//! types, imports, funcs, tables, memories, globals, global inits, exports, start,
//! element segments, data segments, names, function code ranges
//! ```
//!
//! Each list is a `u32` count followed by its items; strings are a `u32` length followed
//! by the bytes. Three parts are not in the descriptor but in [`Blobs`] of their own
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
pub const VERSION: u32 = 2;

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
        w.types(&t.params);
        w.types(&t.results);
    });
    w.list(&info.imports, |w, i| {
        w.str(&i.module);
        w.str(&i.name);
        match i.kind {
            ImportKind::Func(t) => {
                w.u8(0);
                w.u32(t);
            }
            ImportKind::Table(t) => {
                w.u8(1);
                w.table(t);
            }
            ImportKind::Memory(m) => {
                w.u8(2);
                w.memory(m);
            }
            ImportKind::Global(g) => {
                w.u8(3);
                w.global(g);
            }
        }
    });
    w.list(&info.funcs, |w, t| w.u32(*t));
    w.u32(info.imported_funcs);
    w.list(&info.tables, |w, t| w.table(*t));
    w.u32(info.imported_tables);
    w.list(&info.memories, |w, m| w.memory(*m));
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
    w.opt(info.start.map(u64::from));
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

/// The module a descriptor (with its blobs) describes, with empty code: the caller
/// places the code (see `Store::add_image_code`).
pub fn decode(bytes: &[u8], blobs: Blobs<'_>) -> Result<CompiledModule, DescriptorError> {
    let mut r = Reader(bytes);
    if r.take(MAGIC.len())? != MAGIC {
        return Err(DescriptorError::BadMagic);
    }
    let version = r.u32()?;
    if version != VERSION {
        return Err(DescriptorError::UnsupportedVersion(version));
    }
    let mut info = ModuleInfo {
        types: r.list(|r| {
            Ok(FuncType {
                params: r.types()?,
                results: r.types()?,
            })
        })?,
        imports: r.list(|r| {
            let module = r.str()?;
            let name = r.str()?;
            let kind = match r.u8()? {
                0 => ImportKind::Func(r.u32()?),
                1 => ImportKind::Table(r.table()?),
                2 => ImportKind::Memory(r.memory()?),
                3 => ImportKind::Global(r.global()?),
                t => return Err(DescriptorError::BadTag(t)),
            };
            Ok(Import { module, name, kind })
        })?,
        ..ModuleInfo::default()
    };
    info.funcs = r.list(Reader::u32)?;
    info.imported_funcs = r.u32()?;
    info.tables = r.list(Reader::table)?;
    info.imported_tables = r.u32()?;
    info.memories = r.list(Reader::memory)?;
    info.imported_memories = r.u32()?;
    info.globals = r.list(Reader::global)?;
    info.global_inits = exprs(blobs.globals, 0, r.u32()?)?;
    info.imported_globals = r.u32()?;
    info.exports = r.list(|r| {
        let name = r.str()?;
        let kind = match r.u8()? {
            0 => ExportKind::Func,
            1 => ExportKind::Table,
            2 => ExportKind::Memory,
            3 => ExportKind::Global,
            t => return Err(DescriptorError::BadTag(t)),
        };
        Ok(Export {
            name,
            kind,
            index: r.u32()?,
        })
    })?;
    info.start = r.opt()?.map(|s| s as u32);
    info.elems = r.list(|r| {
        let mode = r.mode()?;
        let (at, count) = (r.u32()? as usize, r.u32()?);
        Ok(ElemSegment {
            mode,
            items: exprs(blobs.elems, at, count)?,
        })
    })?;
    info.data = r.list(|r| {
        let mode = r.mode()?;
        let (at, len) = (r.u32()? as usize, r.u32()? as usize);
        let bytes = at
            .checked_add(len)
            .and_then(|end| blobs.data.get(at..end))
            .ok_or(DescriptorError::Truncated)?;
        Ok(DataSegment {
            mode,
            bytes: bytes.to_vec(),
        })
    })?;
    info.names = r.list(|r| Ok((r.u32()?, r.str()?)))?;
    let funcs = r.list(|r| {
        Ok(FuncCode {
            index: r.u32()?,
            offset: r.u32()?,
            len: r.u32()?,
        })
    })?;
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
    if count as usize > r.0.len() {
        return Err(DescriptorError::Truncated);
    }
    (0..count).map(|_| r.expr()).collect()
}

fn type_tag(t: Type) -> u8 {
    match t {
        Type::I32 => 0,
        Type::I64 => 1,
        Type::F32 => 2,
        Type::F64 => 3,
        Type::FuncRef => 4,
        Type::ExternRef => 5,
    }
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

    fn opt(&mut self, v: Option<u64>) {
        match v {
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
            None => self.u8(0),
        }
    }

    fn list<T>(&mut self, items: &[T], mut item: impl FnMut(&mut Self, &T)) {
        self.u32(items.len() as u32);
        for x in items {
            item(self, x);
        }
    }

    fn types(&mut self, ts: &[Type]) {
        self.list(ts, |w, t| w.u8(type_tag(*t)));
    }

    fn table(&mut self, t: TableType) {
        self.u8(type_tag(t.elem));
        self.u64(t.min);
        self.opt(t.max);
    }

    fn memory(&mut self, m: MemoryType) {
        self.u64(m.min);
        self.opt(m.max);
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
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DescriptorError> {
        if self.0.len() < n {
            return Err(DescriptorError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, DescriptorError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, DescriptorError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, DescriptorError> {
        let mut b = [0; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn str(&mut self) -> Result<String, DescriptorError> {
        let n = self.u32()? as usize;
        let b = self.take(n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| DescriptorError::BadString)
    }

    fn opt(&mut self) -> Result<Option<u64>, DescriptorError> {
        match self.u8()? {
            0 => Ok(None),
            1 => Ok(Some(self.u64()?)),
            t => Err(DescriptorError::BadTag(t)),
        }
    }

    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, DescriptorError>,
    ) -> Result<Vec<T>, DescriptorError> {
        let n = self.u32()? as usize;
        // Each item takes at least one byte: a count larger than what is left is damage.
        if n > self.0.len() {
            return Err(DescriptorError::Truncated);
        }
        (0..n).map(|_| item(self)).collect()
    }

    fn ty(&mut self) -> Result<Type, DescriptorError> {
        Ok(match self.u8()? {
            0 => Type::I32,
            1 => Type::I64,
            2 => Type::F32,
            3 => Type::F64,
            4 => Type::FuncRef,
            5 => Type::ExternRef,
            t => return Err(DescriptorError::BadTag(t)),
        })
    }

    fn types(&mut self) -> Result<Vec<Type>, DescriptorError> {
        self.list(Self::ty)
    }

    fn table(&mut self) -> Result<TableType, DescriptorError> {
        Ok(TableType {
            elem: self.ty()?,
            min: self.u64()?,
            max: self.opt()?,
        })
    }

    fn memory(&mut self) -> Result<MemoryType, DescriptorError> {
        Ok(MemoryType {
            min: self.u64()?,
            max: self.opt()?,
        })
    }

    fn global(&mut self) -> Result<GlobalType, DescriptorError> {
        Ok(GlobalType {
            ty: self.ty()?,
            mutable: self.u8()? != 0,
        })
    }

    fn expr(&mut self) -> Result<ConstExpr, DescriptorError> {
        let tag = self.u8()?;
        let v = self.u64()?;
        Ok(match tag {
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

    fn mode(&mut self) -> Result<SegmentMode, DescriptorError> {
        Ok(match self.u8()? {
            0 => SegmentMode::Active {
                index: self.u32()?,
                offset: self.expr()?,
            },
            1 => SegmentMode::Passive,
            2 => SegmentMode::Declared,
            t => return Err(DescriptorError::BadTag(t)),
        })
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
        assert_eq!(
            decode(&good[..good.len() - 1], blobs).unwrap_err(),
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
