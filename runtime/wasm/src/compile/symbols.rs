//! What the relocations of compiled code refer to: functions of the module and the
//! runtime's symbols (the trap routine, the builtins, the WASI entries), numbered as
//! [`SymbolId`]s, and which imports the runtime provides itself.
//!
//! A function's id is its index in the module's function index space; a runtime symbol's
//! id is `RUNTIME_BASE` (2^31) plus its place in the list trap routine, builtins, WASI
//! entries ([`RuntimeSymbol::id`]). The AOT object writer turns ids into ELF symbols
//! (`wasm_<module>_<function>` or the runtime symbol's name), the in-memory loader
//! ([`super::link`]) into addresses.

use crate::module::{ImportKind, ModuleInfo};
use crate::wasi::{self, Func};
use alloc::vec::Vec;
use kiln_abi::wasm::{Builtin, TRAP_SYMBOL};
use kiln_x64::SymbolId;

/// First id of the runtime symbols (function indices stay below it).
const RUNTIME_BASE: u32 = 1 << 31;

/// A routine of the runtime that generated code calls by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuntimeSymbol {
    /// The trap routine ([`TRAP_SYMBOL`]).
    Trap,
    /// A builtin ([`Builtin::symbol`]).
    Builtin(Builtin),
    /// The entry of a `wasi_snapshot_preview1` function ([`Func::symbol`]).
    Wasi(Func),
}

impl RuntimeSymbol {
    /// The symbol's name, as the runtime defines it.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeSymbol::Trap => TRAP_SYMBOL,
            RuntimeSymbol::Builtin(b) => b.symbol(),
            RuntimeSymbol::Wasi(f) => f.symbol(),
        }
    }

    /// Every runtime symbol: the trap routine, the builtins, the WASI entries (for the
    /// tests, which check each id names its symbol).
    #[cfg(test)]
    fn all() -> impl Iterator<Item = RuntimeSymbol> {
        let builtins = Builtin::ALL.into_iter().map(RuntimeSymbol::Builtin);
        let wasi = Func::ALL.iter().map(|f| RuntimeSymbol::Wasi(*f));
        core::iter::once(RuntimeSymbol::Trap)
            .chain(builtins)
            .chain(wasi)
    }

    /// The id relocations use for it.
    pub fn id(self) -> SymbolId {
        let k = match self {
            RuntimeSymbol::Trap => 0,
            RuntimeSymbol::Builtin(b) => 1 + b as u32,
            RuntimeSymbol::Wasi(f) => 1 + Builtin::COUNT as u32 + f as u32,
        };
        SymbolId(RUNTIME_BASE + k)
    }
}

/// What a relocation's [`SymbolId`] names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The function of this index.
    Func(u32),
    /// A runtime symbol.
    Runtime(RuntimeSymbol),
}

impl Target {
    /// The target of `id`, `None` for an id no compiler output uses.
    pub fn of(id: SymbolId) -> Option<Target> {
        let Some(k) = id.0.checked_sub(RUNTIME_BASE) else {
            return Some(Target::Func(id.0));
        };
        let k = k as usize;
        Some(Target::Runtime(match k {
            0 => RuntimeSymbol::Trap,
            _ if k <= Builtin::COUNT => RuntimeSymbol::Builtin(Builtin::ALL[k - 1]),
            _ => RuntimeSymbol::Wasi(*Func::ALL.get(k - 1 - Builtin::COUNT)?),
        }))
    }
}

/// The runtime's own function for import `module`::`name`, if it provides one: the
/// functions of `wasi_snapshot_preview1`. Compiled code calls these directly (a
/// relocation against [`Func::symbol`]); instantiation binds them to the runtime's entry.
/// Every other import is bound at instantiation and called through the VM context.
pub fn runtime_import(module: &str, name: &str) -> Option<Func> {
    (module == wasi::MODULE).then(|| Func::from_name(name))?
}

/// For each imported function of `info` (in function index order), the runtime's
/// function that [`runtime_import`] binds it to, if any.
pub fn runtime_imports(info: &ModuleInfo) -> Vec<Option<Func>> {
    info.imports
        .iter()
        .filter(|i| matches!(i.kind, ImportKind::Func(_)))
        .map(|i| runtime_import(&i.module, &i.name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_name_their_symbols_and_back() {
        let mut names = alloc::vec::Vec::new();
        for s in RuntimeSymbol::all() {
            assert_eq!(Target::of(s.id()), Some(Target::Runtime(s)));
            names.push(s.name());
        }
        // `Func::symbol` spells the ABI's prefix out (it is made with `concat!`).
        for f in Func::ALL {
            let name = f
                .symbol()
                .strip_prefix(kiln_abi::wasm::WASI_PREVIEW1_PREFIX);
            assert_eq!(name, Some(f.name()));
        }
        assert_eq!(names.len(), 1 + Builtin::COUNT + Func::ALL.len());
        names.sort();
        names.dedup();
        assert_eq!(names.len(), 1 + Builtin::COUNT + Func::ALL.len());
        assert_eq!(Target::of(SymbolId(7)), Some(Target::Func(7)));
        assert_eq!(Target::of(SymbolId(u32::MAX)), None);
        assert_eq!(
            RuntimeSymbol::Wasi(Func::fd_write).name(),
            "kiln_wasi_preview1_fd_write"
        );
    }

    #[test]
    fn only_wasi_functions_are_the_runtimes() {
        assert_eq!(
            runtime_import("wasi_snapshot_preview1", "fd_write"),
            Some(Func::fd_write)
        );
        assert_eq!(runtime_import("wasi_snapshot_preview1", "no_such"), None);
        assert_eq!(runtime_import("spectest", "print_i32"), None);
        assert_eq!(runtime_import("env", "fd_write"), None);
    }
}
