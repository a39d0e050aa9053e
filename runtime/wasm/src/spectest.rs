//! What every runner of the official WebAssembly spec suite needs besides instances: the
//! `spectest` host module the suite's modules import, the patterns results are checked
//! against, and the rule that matches a trap with the message a `.wast` file expects.
//!
//! Two runners share it: `kiln-hosted spec` (a Linux process, reading `.wast` files) and
//! the kernel's `spectest` runner (bare metal, reading the scripts `kiln-hosted
//! spec-plan` wrote, where an [`Expected`] travels as one word: [`Expected::word`] and
//! [`Expected::parse`]).

use crate::instance::instantiate::Instance;
use crate::instance::{Extern, Store};
use crate::module::FuncType;
use crate::CompiledModule;
use crate::Type;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kiln_abi::wasm::TrapCode;

/// The files of the checked-in known-failures list (`tests/wasm/spec-known-failures.txt`:
/// `suite/file.wast  reason` per line, `#` comments): the first word of each entry.
pub fn known_failures(list: &str) -> Vec<String> {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// What a module's imports are resolved against: the `spectest` host module and the
/// instances a script `register`ed under a module name.
pub struct Registry {
    modules: BTreeMap<String, Registered>,
}

enum Registered {
    Instance(Instance),
    Host(BTreeMap<String, Extern>),
}

impl Registry {
    /// A registry holding the `spectest` host module, created in `store`.
    pub fn new(store: &mut Store) -> Self {
        let host = host_module(store)
            .into_iter()
            .map(|(name, e)| (name.to_string(), e))
            .collect();
        let mut modules = BTreeMap::new();
        modules.insert("spectest".to_string(), Registered::Host(host));
        Registry { modules }
    }

    /// Makes `instance`'s exports importable under the module name `name`.
    pub fn register(&mut self, name: String, instance: Instance) {
        self.modules.insert(name, Registered::Instance(instance));
    }

    /// The externs `module` imports, in order, or the first import nobody provides
    /// (`unknown import MODULE::NAME`).
    pub fn imports(&self, module: &CompiledModule) -> Result<Vec<Extern>, String> {
        module
            .info
            .imports
            .iter()
            .map(|i| {
                let found = match self.modules.get(&i.module) {
                    Some(Registered::Instance(inst)) => inst.export(&i.name),
                    Some(Registered::Host(m)) => m.get(&i.name).copied(),
                    None => None,
                };
                found.ok_or_else(|| format!("unknown import {}::{}", i.module, i.name))
            })
            .collect()
    }
}

/// The exports of the `spectest` host module: print functions that print nothing,
/// one immutable global of each number type (666 / 666.6), a table of 10 to 20 funcrefs
/// and a memory of 1 to 2 pages (left out if the platform has no memory for it).
pub fn host_module(store: &mut Store) -> Vec<(&'static str, Extern)> {
    let mut m = Vec::new();
    for (name, params) in [
        ("print", &[][..]),
        ("print_i32", &[Type::I32][..]),
        ("print_i64", &[Type::I64][..]),
        ("print_f32", &[Type::F32][..]),
        ("print_f64", &[Type::F64][..]),
        ("print_i32_f32", &[Type::I32, Type::F32][..]),
        ("print_f64_f64", &[Type::F64, Type::F64][..]),
    ] {
        let sig = FuncType {
            params: params.to_vec(),
            results: Vec::new(),
        };
        m.push((name, store.host_func(&sig, Box::new(|_| {}))));
    }
    m.push(("global_i32", store.global(Type::I32, false, 666)));
    m.push(("global_i64", store.global(Type::I64, false, 666)));
    let f32 = 666.6f32.to_bits() as u64;
    m.push(("global_f32", store.global(Type::F32, false, f32)));
    m.push((
        "global_f64",
        store.global(Type::F64, false, 666.6f64.to_bits()),
    ));
    m.push(("table", store.table(Type::FuncRef, 10, Some(20))));
    if let Ok(mem) = store.memory(1, Some(2)) {
        m.push(("memory", mem));
    }
    m
}

/// Whether a trap with `code` is the trap a `.wast` file expects with `message` (the
/// suite's messages sometimes say more, or less, than kiln's).
pub fn trap_matches(code: TrapCode, message: &str) -> bool {
    let got = code.message();
    message.starts_with(got) || got.starts_with(message)
}

/// [`trap_matches`] as a check: `Err` says what was expected and what came.
pub fn check_trap(code: TrapCode, expected: &str) -> Result<(), String> {
    if trap_matches(code, expected) {
        Ok(())
    } else {
        Err(format!(
            "expected trap `{expected}`, got `{}`",
            code.message()
        ))
    }
}

/// Which NaNs a NaN pattern accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Nan {
    /// Only the canonical NaN (either sign).
    Canonical,
    /// Any NaN with the quiet bit set.
    Arithmetic,
}

/// An expected result, matched against a result slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expected {
    I32(u32),
    I64(u64),
    /// An `f32` with exactly these bits.
    F32(u32),
    /// An `f64` with exactly these bits.
    F64(u64),
    F32Nan(Nan),
    F64Nan(Nan),
    /// A null reference.
    Null,
    /// This `externref` slot.
    Extern(u64),
    /// Any non-null reference.
    NonNull,
    /// Any of these.
    Either(Vec<Expected>),
}

impl Expected {
    /// Whether the result slot `slot` is this.
    pub fn matches(&self, slot: u64) -> bool {
        let (s32, nan32, nan64) = (slot as u32, 0x7fc0_0000, 0x7ff8_0000_0000_0000);
        match self {
            Self::I32(v) | Self::F32(v) => s32 == *v,
            Self::I64(v) | Self::F64(v) => slot == *v,
            Self::F32Nan(Nan::Canonical) => s32 & 0x7fff_ffff == nan32,
            Self::F32Nan(Nan::Arithmetic) => s32 & nan32 == nan32,
            Self::F64Nan(Nan::Canonical) => slot & 0x7fff_ffff_ffff_ffff == nan64,
            Self::F64Nan(Nan::Arithmetic) => slot & nan64 == nan64,
            Self::Null => slot == 0,
            Self::Extern(v) => slot == *v,
            Self::NonNull => slot != 0,
            Self::Either(options) => options.iter().any(|o| o.matches(slot)),
        }
    }

    /// This as one word without spaces: `i32:HEX`, `f32:can`, `f64:arith`, `null`,
    /// `ext:HEX`, `nonnull`, `either:WORD|WORD`...
    pub fn word(&self) -> String {
        let nan = |n: &Nan| match n {
            Nan::Canonical => "can",
            Nan::Arithmetic => "arith",
        };
        match self {
            Self::I32(v) => format!("i32:{v:x}"),
            Self::I64(v) => format!("i64:{v:x}"),
            Self::F32(v) => format!("f32:{v:x}"),
            Self::F64(v) => format!("f64:{v:x}"),
            Self::F32Nan(n) => format!("f32:{}", nan(n)),
            Self::F64Nan(n) => format!("f64:{}", nan(n)),
            Self::Null => "null".to_string(),
            Self::Extern(v) => format!("ext:{v:x}"),
            Self::NonNull => "nonnull".to_string(),
            Self::Either(o) => {
                let words: Vec<String> = o.iter().map(Self::word).collect();
                format!("either:{}", words.join("|"))
            }
        }
    }

    /// Reads back a [`Expected::word`].
    pub fn parse(word: &str) -> Result<Self, String> {
        if let Some(options) = word.strip_prefix("either:") {
            return options
                .split('|')
                .map(Self::parse)
                .collect::<Result<_, _>>()
                .map(Self::Either);
        }
        let bad = || format!("bad result word `{word}`");
        let (kind, value) = word.split_once(':').unwrap_or((word, ""));
        let number = || u64::from_str_radix(value, 16).map_err(|_| bad());
        let nan = match value {
            "can" => Some(Nan::Canonical),
            "arith" => Some(Nan::Arithmetic),
            _ => None,
        };
        Ok(match (kind, nan) {
            ("null", _) => Self::Null,
            ("nonnull", _) => Self::NonNull,
            ("ext", _) => Self::Extern(number()?),
            ("f32", Some(n)) => Self::F32Nan(n),
            ("f64", Some(n)) => Self::F64Nan(n),
            ("i32", _) => Self::I32(u32::try_from(number()?).map_err(|_| bad())?),
            ("f32", _) => Self::F32(u32::try_from(number()?).map_err(|_| bad())?),
            ("i64", _) => Self::I64(number()?),
            ("f64", _) => Self::F64(number()?),
            _ => return Err(bad()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_failures_are_the_first_words_of_entries() {
        let list = "# comment\n\nwasm-v1/a.wast  reason here\n  wasm-v2/b.wast\n";
        assert_eq!(known_failures(list), ["wasm-v1/a.wast", "wasm-v2/b.wast"]);
    }

    #[test]
    fn words_read_back() {
        let all = [
            Expected::I32(0xffff_ffff),
            Expected::I64(1),
            Expected::F32(0x7f80_0000),
            Expected::F64(0),
            Expected::F32Nan(Nan::Canonical),
            Expected::F64Nan(Nan::Arithmetic),
            Expected::Null,
            Expected::Extern(3),
            Expected::NonNull,
            Expected::Either(alloc::vec![
                Expected::I32(1),
                Expected::F64Nan(Nan::Canonical)
            ]),
        ];
        for e in all {
            assert_eq!(Expected::parse(&e.word()), Ok(e.clone()), "{}", e.word());
        }
        assert!(Expected::parse("i32:100000000").is_err());
        assert!(Expected::parse("v128:0").is_err());
    }

    #[test]
    fn nan_patterns() {
        let can = Expected::F32Nan(Nan::Canonical);
        let arith = Expected::F32Nan(Nan::Arithmetic);
        assert!(can.matches(0xffc0_0000) && can.matches(0x7fc0_0000));
        assert!(!can.matches(0x7fc0_0001) && arith.matches(0x7fc0_0001));
        assert!(!arith.matches(0x7f80_0001));
        let can64 = Expected::F64Nan(Nan::Canonical);
        assert!(can64.matches(0xfff8_0000_0000_0000) && !can64.matches(0x7ff8_0000_0000_0001));
        assert!(Expected::I32(5).matches(0xdead_0000_0000_0005));
        assert!(!Expected::I64(5).matches(0xdead_0000_0000_0005));
    }

    #[test]
    fn trap_messages_match_by_prefix() {
        assert!(trap_matches(TrapCode::IntegerOverflow, "integer overflow"));
        assert!(trap_matches(
            TrapCode::MemoryOutOfBounds,
            "out of bounds memory access"
        ));
        assert!(trap_matches(
            TrapCode::UninitializedElement,
            "uninitialized element 2"
        ));
        assert!(!trap_matches(
            TrapCode::Unreachable,
            "integer divide by zero"
        ));
    }
}
