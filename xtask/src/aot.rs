//! Ahead-of-time compilation of WASM modules into ELF objects the image links in.
//!
//! Each module is validated and compiled on the host by `kiln-wasm` (the same compiler
//! the runtime uses), then written as one relocatable object with the `object` crate:
//!
//! | section | holds |
//! |---|---|
//! | `.text.wasm.<module>` | the machine code, one local symbol `wasm_<module>_<function>` per function (named from the name section when there is one), and its relocations (below) |
//! | `.rodata.wasm.<module>` | the module descriptor (`kiln_wasm::instance::descriptor`: types, imports, exports, element and data segments' modes and places, names, function offsets), local symbol `kiln_wasm_<module>_descriptor`, and the module's name |
//! | `.rodata.wasm.<module>.data` | the bytes of the data segments, local symbol `kiln_wasm_<module>_data` |
//! | `.rodata.wasm.<module>.elem` | the items of the element segments (constant expressions), local symbol `kiln_wasm_<module>_elem` |
//! | `.rodata.wasm.<module>.globals` | the initial values of the module's globals (constant expressions), local symbol `kiln_wasm_<module>_globals` |
//! | `.rodata.wasm.<module>.template` | the instance template (`kiln_wasm::instance::template`: the instance as instantiation leaves it, its function references' code filled in by `R_X86_64_64` relocations), local symbol `kiln_wasm_<module>_template`; empty for a module that imports more than the runtime's functions |
//! | `.kiln_wasm_modules` | one [`RECORD_SIZE`]-byte record: pointers to (and lengths of) the name, the code, the descriptor, the data bytes, the element items, the globals' initial values and the template, filled in by `R_X86_64_64` relocations |
//!
//! Every relocation the compiler left in the code is written as an ELF relocation
//! ([`code_relocation`]): a `call rel32` becomes `R_X86_64_PLT32` against the callee,
//! the function's own `wasm_<module>_<function>` symbol or one of the runtime's undefined
//! symbols (`kiln_wasm_trap`, `kiln_wasm_builtin_*`, `kiln_wasi_preview1_*`) that the
//! image's link resolves against `kiln-wasm`; any other `rel32` field `R_X86_64_PC32`, an
//! absolute one `R_X86_64_64`. A relocation naming a symbol the compiler does not define
//! stops the build rather than producing a broken object.
//!
//! The linker script collects every object's `.kiln_wasm_modules` record between
//! `__kiln_wasm_modules_start` and `__kiln_wasm_modules_end`, and the kernel instantiates
//! each program from its record's template (the descriptor is read only to name
//! functions in a trap's report): nothing is compiled at boot. Bad input never reaches an
//! image: an invalid module stops the build with its file, byte offset and wasmparser's
//! message, and so does an import the runtime does not provide.

use crate::profile::Profile;
use anyhow::{bail, Context, Result};
use kiln_wasm::compile::symbols::{runtime_import, RuntimeSymbol, Target};
use kiln_wasm::compile::{Reloc, RelocKind};
use kiln_wasm::instance::template::{self, Built, ENTRY_POINTS};
use kiln_wasm::module::ImportKind;
use kiln_wasm::CompiledModule;
use object::write::{Object, Relocation, StandardSegment, Symbol, SymbolSection};
use object::{
    elf, Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags,
    SymbolKind, SymbolScope,
};
use std::path::{Path, PathBuf};

/// Section collecting one record per module (see the linker script).
pub const TABLE_SECTION: &str = ".kiln_wasm_modules";
/// Bytes per record: name pointer, name length, code pointer, code length, descriptor
/// pointer, descriptor length, data pointer, data length, element items pointer, element
/// items length, initial values pointer, initial values length, template pointer,
/// template length (eight bytes each, little-endian).
pub const RECORD_SIZE: usize = 112;

/// A module compiled into an object file.
pub struct AotModule {
    /// The module's name in the image: its file name without extension.
    pub name: String,
    /// The ELF object.
    pub object: PathBuf,
}

/// The module's name in the image: the file stem, as a C identifier.
pub fn module_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    identifier(&stem)
}

/// `text` with every character outside `[A-Za-z0-9_]` replaced by `_`.
fn identifier(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Binary modules pass through; `.wat` text is assembled with the `wat` crate.
fn module_bytes(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    wat::parse_bytes(&bytes)
        .map(|b| b.into_owned())
        .map_err(|e| anyhow::anyhow!("{}: not a valid WASM text module: {e}", path.display()))
}

/// Fails unless `profile` has every CPU feature kiln's WASM compiler uses.
pub fn check_profile(profile: &Profile) -> Result<()> {
    let missing: Vec<&str> = kiln_wasm::compile::CPU_FEATURES
        .iter()
        .copied()
        .filter(|f| !profile.cpu_features.iter().any(|p| p == f))
        .collect();
    if !missing.is_empty() {
        bail!(
            "profile {} lacks CPU features kiln's WASM compiler needs ({}); add them to its `cpu-features` or choose another --target",
            profile.name,
            missing.join(", ")
        );
    }
    Ok(())
}

/// Validates and compiles the module at `path` for `profile`; it may import only
/// functions the runtime provides.
pub fn compile(path: &Path, profile: &Profile) -> Result<CompiledModule> {
    check_profile(profile)?;
    let module = compile_bytes(&module_bytes(path)?, path)?;
    for import in &module.info.imports {
        let is_func = matches!(import.kind, ImportKind::Func(_));
        if !is_func || runtime_import(&import.module, &import.name).is_none() {
            bail!(
                "{}: imports {}::{}, which kiln does not provide (only functions of {} are)",
                path.display(),
                import.module,
                import.name,
                kiln_wasm::wasi::MODULE
            );
        }
    }
    Ok(module)
}

/// Fails unless `module` (read from `path`) exports a function a program can start at:
/// the first of `ENTRY_POINTS` it exports, taking no parameters.
fn check_entry(path: &Path, module: &CompiledModule) -> Result<()> {
    match template::entry_point(&module.info) {
        None => bail!(
            "{}: exports none of the functions a program starts at ({})",
            path.display(),
            ENTRY_POINTS.join(", ")
        ),
        Some((name, f)) if !module.info.func_type(f).params.is_empty() => bail!(
            "{}: its entry function `{name}` takes parameters; a program's must take none",
            path.display()
        ),
        Some(_) => {}
    }
    Ok(())
}

/// Validates and compiles the module `bytes` (read from `path`), whatever it imports:
/// the caller links its imports (the spec suite's runner links modules to each other).
pub fn compile_bytes(bytes: &[u8], path: &Path) -> Result<CompiledModule> {
    let module = kiln_wasm::compile(bytes, kiln_wasm::supported_features()).map_err(|e| {
        anyhow::anyhow!(
            "{}: invalid module at byte offset {:#x}: {}",
            path.display(),
            e.offset,
            e.message
        )
    })?;
    Ok(module)
}

/// The ELF relocation type and addend of compiled code's relocation `r`: the type its
/// kind names (`RelocKind::elf_type`), except `PLT32` for the target of a `call`/`jmp
/// rel32` (opcode `e8`/`e9` just before the field).
fn code_relocation(code: &[u8], r: &Reloc) -> (elf::RelocationType, i64) {
    let opcode = (r.offset as usize).checked_sub(1).map(|at| code[at]);
    let r_type = match r.kind {
        RelocKind::Rel32 if matches!(opcode, Some(0xE8 | 0xE9)) => elf::R_X86_64_PLT32,
        kind => elf::RelocationType(kind.elf_type()),
    };
    (r_type, r.addend)
}

/// The ELF object of `module`, named `name` in the image, with the instance `template`
/// a program has (`None` for a module the spec runner links to others: its template
/// section is empty).
pub fn object_bytes(
    name: &str,
    module: &CompiledModule,
    template: Option<&Built>,
) -> Result<Vec<u8>> {
    let mut obj = Object::new(BinaryFormat::Elf, Architecture::X86_64, Endianness::Little);
    let seg = |obj: &Object, kind| obj.segment_name(kind).to_vec();
    let text = obj.add_section(
        seg(&obj, StandardSegment::Text),
        format!(".text.wasm.{name}").into_bytes(),
        SectionKind::Text,
    );
    obj.append_section_data(text, &module.code, 16);
    let mut func_symbols = Vec::with_capacity(module.funcs.len());
    for (func, offset, len) in module.symbols() {
        func_symbols.push(obj.add_symbol(Symbol {
            name: format!("wasm_{name}_{}", identifier(&func)).into_bytes(),
            value: offset as u64,
            size: len as u64,
            kind: SymbolKind::Text,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(text),
            flags: SymbolFlags::None,
        }));
    }
    let mut runtime_symbols: Vec<(RuntimeSymbol, object::write::SymbolId)> = Vec::new();
    // The ELF symbol of a relocation target: one of the module's functions, or a runtime
    // symbol (undefined here, declared once).
    let mut symbol_of = |obj: &mut Object, target: Target| match target {
        Target::Func(f) => f
            .checked_sub(module.info.imported_funcs)
            .and_then(|defined| func_symbols.get(defined as usize).copied()),
        Target::Runtime(s) => Some(match runtime_symbols.iter().find(|(t, _)| *t == s) {
            Some((_, id)) => *id,
            None => {
                let id = obj.add_symbol(Symbol {
                    name: s.name().as_bytes().to_vec(),
                    value: 0,
                    size: 0,
                    kind: SymbolKind::Text,
                    scope: SymbolScope::Linkage,
                    weak: false,
                    section: SymbolSection::Undefined,
                    flags: SymbolFlags::None,
                });
                runtime_symbols.push((s, id));
                id
            }
        }),
    };
    for r in &module.relocs {
        let symbol = Target::of(r.target).and_then(|t| symbol_of(&mut obj, t));
        let Some(symbol) = symbol else {
            bail!(
                "module {name}: a relocation at code offset {:#x} names symbol {}, which is neither one of its functions nor a runtime symbol",
                r.offset,
                r.target.0
            );
        };
        let (r_type, addend) = code_relocation(&module.code, r);
        obj.add_relocation(
            text,
            Relocation {
                offset: r.offset as u64,
                symbol,
                addend,
                flags: RelocationFlags::Elf { r_type },
            },
        )?;
    }
    let rodata = obj.add_section(
        seg(&obj, StandardSegment::Data),
        format!(".rodata.wasm.{name}").into_bytes(),
        SectionKind::ReadOnlyData,
    );
    let encoded = kiln_wasm::instance::descriptor::encode(module);
    let descriptor_at = obj.append_section_data(rodata, &encoded.descriptor, 8);
    let name_at = obj.append_section_data(rodata, name.as_bytes(), 1);
    // Named local symbols for readelf and gdb (`kiln_` first: no function symbol can take the
    // name); the record's relocations use them too.
    let data_symbol = |obj: &mut Object, what: &str, section, value, bytes: &[u8]| {
        obj.add_symbol(Symbol {
            name: format!("kiln_wasm_{name}_{what}").into_bytes(),
            value,
            size: bytes.len() as u64,
            kind: SymbolKind::Data,
            scope: SymbolScope::Compilation,
            weak: false,
            section: SymbolSection::Section(section),
            flags: SymbolFlags::None,
        })
    };
    let descriptor = data_symbol(
        &mut obj,
        "descriptor",
        rodata,
        descriptor_at,
        &encoded.descriptor,
    );
    let template_bytes = template.map(Built::bytes).unwrap_or_default();
    let mut blobs = Vec::new();
    for (what, bytes) in [
        ("data", &encoded.data),
        ("elem", &encoded.elems),
        ("globals", &encoded.globals),
        ("template", &template_bytes),
    ] {
        let section = obj.add_section(
            seg(&obj, StandardSegment::Data),
            format!(".rodata.wasm.{name}.{what}").into_bytes(),
            SectionKind::ReadOnlyData,
        );
        let at = obj.append_section_data(section, bytes, 8);
        blobs.push((data_symbol(&mut obj, what, section, at, bytes), bytes.len()));
        if what != "template" {
            continue;
        }
        for r in template.iter().flat_map(|t| &t.relocs) {
            let Some(symbol) = symbol_of(&mut obj, r.target) else {
                bail!(
                    "module {name}: its instance template refers to {:?}, which it does not define",
                    r.target
                );
            };
            obj.add_relocation(
                section,
                Relocation {
                    offset: at + 8 * r.word as u64,
                    symbol,
                    addend: 0,
                    flags: RelocationFlags::Elf {
                        r_type: elf::R_X86_64_64,
                    },
                },
            )?;
        }
    }
    let table = obj.add_section(
        seg(&obj, StandardSegment::Data),
        TABLE_SECTION.as_bytes().to_vec(),
        SectionKind::ReadOnlyData,
    );
    let mut record = [0u8; RECORD_SIZE];
    record[8..16].copy_from_slice(&(name.len() as u64).to_le_bytes());
    record[24..32].copy_from_slice(&(module.code.len() as u64).to_le_bytes());
    record[40..48].copy_from_slice(&(encoded.descriptor.len() as u64).to_le_bytes());
    for (i, (_, len)) in blobs.iter().enumerate() {
        record[56 + 16 * i..64 + 16 * i].copy_from_slice(&(*len as u64).to_le_bytes());
    }
    let record_at = obj.append_section_data(table, &record, 8);
    let (text_sym, rodata_sym) = (obj.section_symbol(text), obj.section_symbol(rodata));
    let blob_fields = blobs
        .iter()
        .enumerate()
        .map(|(i, (symbol, _))| (48 + 16 * i as u64, *symbol, 0));
    for (field, symbol, addend) in [
        (0, rodata_sym, name_at),
        (16, text_sym, 0),
        (32, descriptor, 0),
    ]
    .into_iter()
    .chain(blob_fields)
    {
        obj.add_relocation(
            table,
            Relocation {
                offset: record_at + field,
                symbol,
                addend: addend as i64,
                flags: RelocationFlags::Elf {
                    r_type: elf::R_X86_64_64,
                },
            },
        )?;
    }
    Ok(obj.write()?)
}

/// Compiles every module of `inputs` into an object under `out_dir`.
pub fn compile_all(
    inputs: &[PathBuf],
    profile: &Profile,
    out_dir: &Path,
) -> Result<Vec<AotModule>> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut modules: Vec<AotModule> = Vec::new();
    for path in inputs {
        let name = module_name(path);
        if name.is_empty() {
            bail!("{}: cannot name a module after this path", path.display());
        }
        if modules.iter().any(|m| m.name == name) {
            bail!(
                "two modules are called `{name}` (the image names modules after their file); rename one of them"
            );
        }
        let module = compile(path, profile)?;
        check_entry(path, &module)?;
        let template = template::build(&module).map_err(|e| {
            anyhow::anyhow!(
                "{}: its instance cannot be laid out at build time: {e}",
                path.display()
            )
        })?;
        // Modules of different files may share a name (in different images): the
        // object's file name also names the source.
        let mut hasher = std::hash::DefaultHasher::new();
        std::hash::Hash::hash(&std::path::absolute(path)?, &mut hasher);
        let object = out_dir.join(format!(
            "{name}-{:08x}.o",
            std::hash::Hasher::finish(&hasher) as u32
        ));
        std::fs::write(&object, object_bytes(&name, &module, Some(&template))?)
            .with_context(|| format!("writing {}", object.display()))?;
        modules.push(AotModule { name, object });
    }
    Ok(modules)
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object as _, ObjectSection, ObjectSymbol};

    fn profile() -> Profile {
        crate::profile::load("qemu-microvm").unwrap()
    }

    fn write_temp(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("kiln-aot-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn an_object_has_named_functions_a_descriptor_and_a_relocated_record() {
        let path = write_temp(
            "named.wat",
            br#"(module (memory 1) (data (i32.const 8) "segment")
                (table 2 funcref) (elem (i32.const 0) $other $add)
                (global (mut i32) (i32.const 7)) (global i64 (i64.const -1))
                (func $add (export "add") (param i32 i32) (result i32)
                local.get 0 local.get 1 i32.add) (func $other))"#,
        );
        let module = compile(&path, &profile()).unwrap();
        let built = template::build(&module).unwrap();
        let bytes = object_bytes("named", &module, Some(&built)).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let names: Vec<String> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text)
            .map(|s| s.name().unwrap().to_string())
            .collect();
        assert_eq!(names, ["wasm_named_add", "wasm_named_other"]);
        let text = file.section_by_name(".text.wasm.named").unwrap();
        assert_eq!(text.data().unwrap(), &module.code[..]);
        let rodata = file.section_by_name(".rodata.wasm.named").unwrap();
        let encoded = kiln_wasm::instance::descriptor::encode(&module);
        assert!(rodata.data().unwrap().starts_with(&encoded.descriptor));
        let data = file.section_by_name(".rodata.wasm.named.data").unwrap();
        assert_eq!(data.data().unwrap(), b"segment");
        // Constant expressions: a tag byte (5 `ref.func`, 0 `i32.const`, 1 `i64.const`)
        // and a little-endian u64.
        let expr = |tag: u8, v: u64| [&[tag][..], &v.to_le_bytes()].concat();
        let elem = file.section_by_name(".rodata.wasm.named.elem").unwrap();
        assert_eq!(elem.data().unwrap(), [expr(5, 1), expr(5, 0)].concat());
        let globals = file.section_by_name(".rodata.wasm.named.globals").unwrap();
        assert_eq!(
            globals.data().unwrap(),
            [expr(0, 7), expr(1, u64::MAX)].concat()
        );
        for (symbol, section, size) in [
            ("kiln_wasm_named_data", &data, 7),
            ("kiln_wasm_named_elem", &elem, 18),
            ("kiln_wasm_named_globals", &globals, 18),
            (
                "kiln_wasm_named_descriptor",
                &rodata,
                encoded.descriptor.len() as u64,
            ),
        ] {
            let s = file.symbol_by_name(symbol).unwrap();
            assert_eq!(s.kind(), SymbolKind::Data, "{symbol}");
            assert_eq!(s.section_index(), Some(section.index()), "{symbol}");
            assert_eq!((s.address(), s.size()), (0, size), "{symbol}");
        }
        // The sections read back as the module's globals and element items.
        let blobs = kiln_wasm::instance::descriptor::Blobs {
            data: data.data().unwrap(),
            elems: elem.data().unwrap(),
            globals: globals.data().unwrap(),
        };
        let back = kiln_wasm::instance::descriptor::decode(rodata.data().unwrap(), blobs).unwrap();
        assert_eq!(back.info.global_inits, module.info.global_inits);
        assert_eq!(back.info.elems[0].items, module.info.elems[0].items);
        assert_eq!(back.info.data[0].bytes, b"segment");
        let table = file.section_by_name(TABLE_SECTION).unwrap();
        assert_eq!(table.size(), RECORD_SIZE as u64);
        let targets: Vec<_> = table
            .relocations()
            .map(|(at, r)| match r.target() {
                object::RelocationTarget::Symbol(s) => {
                    (at, file.symbol_by_index(s).unwrap().section_index())
                }
                t => panic!("{t:?}"),
            })
            .collect();
        let template = file.section_by_name(".rodata.wasm.named.template").unwrap();
        let fields = [&rodata, &text, &rodata, &data, &elem, &globals, &template];
        let expected: Vec<_> = (0..)
            .step_by(16)
            .zip(fields.map(|s| Some(s.index())))
            .collect();
        assert_eq!(targets, expected);
        let len = |field: usize| {
            u64::from_le_bytes(table.data().unwrap()[field..][..8].try_into().unwrap())
        };
        assert_eq!(template.data().unwrap(), built.bytes());
        assert_eq!(
            [len(56), len(72), len(88), len(104)],
            [7, 18, 18, built.words.len() as u64 * 8]
        );
        // The template's function references point at the functions, by relocation.
        let refs: Vec<_> = template
            .relocations()
            .map(|(at, r)| {
                let object::RelocationTarget::Symbol(s) = r.target() else {
                    panic!("{r:?}")
                };
                let name = file.symbol_by_index(s).unwrap().name().unwrap().to_string();
                (at, r.flags(), name)
            })
            .collect();
        let abs64 = object::RelocationFlags::Elf {
            r_type: elf::R_X86_64_64,
        };
        let expected: Vec<_> = built
            .relocs
            .iter()
            .zip(["wasm_named_add", "wasm_named_other"])
            .map(|(r, name)| (8 * r.word as u64, abs64, name.to_string()))
            .collect();
        assert_eq!(refs, expected);
    }

    #[test]
    fn a_program_without_an_entry_function_stops_the_build() {
        let out = std::env::temp_dir().join(format!("kiln-aot-entry-{}", std::process::id()));
        for (file, wat, message) in [
            (
                "no_entry.wat",
                "(module (func (export \"other\")))",
                "exports none of the functions a program starts at (_start, main)",
            ),
            (
                "entry_params.wat",
                "(module (func (export \"main\") (param i32)))",
                "its entry function `main` takes parameters",
            ),
        ] {
            let path = write_temp(file, wat.as_bytes());
            let err = compile_all(&[path], &profile(), &out)
                .err()
                .expect("the build stops")
                .to_string();
            assert!(err.contains(file) && err.contains(message), "{err}");
        }
    }

    #[test]
    fn calls_become_plt32_relocations_against_functions_and_runtime_symbols() {
        let path = write_temp(
            "calls.wat",
            br#"(module
                (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
                (memory 1)
                (func $leaf (result i32) (memory.grow (i32.const 1)))
                (func (export "_start")
                    (drop (call $leaf))
                    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 0)))))"#,
        );
        let module = compile(&path, &profile()).unwrap();
        let bytes = object_bytes("calls", &module, None).unwrap();
        let file = object::File::parse(&*bytes).unwrap();
        let text = file.section_by_name(".text.wasm.calls").unwrap();
        let mut seen = Vec::new();
        for (at, r) in text.relocations() {
            let object::RelocationTarget::Symbol(s) = r.target() else {
                panic!("{r:?}")
            };
            let symbol = file.symbol_by_index(s).unwrap();
            assert_eq!(
                r.flags(),
                RelocationFlags::Elf {
                    r_type: elf::R_X86_64_PLT32
                }
            );
            assert_eq!(r.addend(), -4);
            assert_eq!(text.data().unwrap()[at as usize - 1], 0xE8, "a call rel32");
            let name = symbol.name().unwrap().to_string();
            // Runtime symbols are undefined, for the image's link; functions are defined.
            assert_eq!(symbol.is_undefined(), name.starts_with("kiln_"), "{name}");
            seen.push(name);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen,
            [
                "kiln_wasi_preview1_fd_write",
                "kiln_wasm_builtin_memory_grow",
                "kiln_wasm_trap",
                "wasm_calls_leaf",
            ]
        );
        assert_eq!(module.relocs.len(), text.relocations().count());
    }

    #[test]
    fn a_relocation_to_an_unknown_symbol_is_refused() {
        let path = write_temp("plain_func.wat", b"(module (func))");
        let mut module = compile(&path, &profile()).unwrap();
        let mut bogus = module.relocs[0];
        bogus.target = kiln_wasm::compile::SymbolId(5);
        module.relocs.push(bogus);
        let err = object_bytes("plain_func", &module, None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("neither one of its functions nor a runtime symbol"),
            "{err}"
        );
    }

    #[test]
    fn an_invalid_module_names_its_file_offset_and_message() {
        // A function declared to return an i32 whose body returns an i64.
        let path = write_temp(
            "bad.wasm",
            &wat::parse_str(r#"(module (func (result i32) i32.const 1))"#).unwrap(),
        );
        let mut bytes = std::fs::read(&path).unwrap();
        let at = bytes.len() - 3;
        assert_eq!(bytes[at], 0x41);
        bytes[at] = 0x42; // `i32.const` becomes `i64.const`
        std::fs::write(&path, &bytes).unwrap();
        let err = compile(&path, &profile()).unwrap_err().to_string();
        assert!(
            err.contains("bad.wasm: invalid module at byte offset 0x"),
            "{err}"
        );
        assert!(err.contains("type mismatch"), "{err}");
    }

    #[test]
    fn a_bad_module_among_good_ones_leaves_no_object_for_it() {
        let good = write_temp("good_one.wat", br#"(module (func (export "_start")))"#);
        let bad = write_temp("bad_one.wat", b"(module (func (result i32)))");
        let out = std::env::temp_dir().join(format!("kiln-aot-out-{}", std::process::id()));
        let err = compile_all(&[good, bad.clone()], &profile(), &out)
            .err()
            .expect("the build stops")
            .to_string();
        assert!(
            err.contains("bad_one.wat: invalid module at byte offset 0x"),
            "{err}"
        );
        let objects: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            objects.iter().any(|o| o.starts_with("good_one-")),
            "{objects:?}"
        );
        assert!(
            !objects.iter().any(|o| o.starts_with("bad_one")),
            "{objects:?}"
        );
    }

    #[test]
    fn an_unknown_import_stops_the_build() {
        let path = write_temp(
            "imports.wat",
            br#"(module (import "env" "missing" (func)))"#,
        );
        let err = compile(&path, &profile()).unwrap_err().to_string();
        assert!(err.contains("imports env::missing"), "{err}");
    }

    #[test]
    fn a_profile_without_the_compilers_cpu_features_is_refused() {
        let path = write_temp("plain.wat", b"(module)");
        let mut p = profile();
        p.cpu_features.retain(|f| f != "lzcnt");
        let err = compile(&path, &p).unwrap_err().to_string();
        assert!(
            err.contains("lacks CPU features") && err.contains("lzcnt"),
            "{err}"
        );
    }

    #[test]
    fn module_names_are_identifiers() {
        assert_eq!(module_name(Path::new("dir/my-app.v2.wasm")), "my_app_v2");
    }
}
