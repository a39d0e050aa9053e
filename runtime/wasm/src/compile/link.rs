//! The in-memory back end of the relocations: the module's code as it runs at a given
//! address, with every relocation resolved (what rust-lld does for AOT objects).
//!
//! Function symbols resolve from the code's own layout, runtime symbols through the
//! caller's table. A runtime symbol beyond the ±2 GiB reach of a `rel32` field (likely in
//! the hosted runtime, whose code is mapped far from the executable) is called through a
//! veneer appended to the code: `jmp [rip + 0]` followed by the target's address.

use super::symbols::{RuntimeSymbol, Target};
use super::CompiledModule;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use kiln_x64::{apply_relocs, RelocKind, SymbolId};

/// Bytes per veneer (14 used, padded so veneers stay aligned).
const VENEER_SIZE: usize = 16;

/// Code ready to be copied to the address it was linked for.
#[derive(Debug)]
pub struct LinkedCode {
    /// The relocated code, followed by the veneers.
    pub bytes: Vec<u8>,
    /// How many veneers were needed.
    pub veneers: usize,
}

impl CompiledModule {
    /// Upper bound of [`link`](Self::link)'s output length: the code, aligned, and a veneer
    /// for every distinct runtime symbol the code refers to.
    pub fn linked_len(&self) -> usize {
        Self::linked_len_with(&self.code, &self.runtime_targets())
    }

    fn linked_len_with(code: &[u8], targets: &[RuntimeSymbol]) -> usize {
        code.len().next_multiple_of(VENEER_SIZE) + VENEER_SIZE * targets.len()
    }

    /// The code relocated to run at `base`, where `runtime` gives each runtime symbol's
    /// address.
    pub fn link(
        &self,
        base: u64,
        runtime: impl Fn(RuntimeSymbol) -> u64,
    ) -> Result<LinkedCode, String> {
        let targets = self.runtime_targets();
        let code_end = self.code.len().next_multiple_of(VENEER_SIZE);
        let limit = base + Self::linked_len_with(&self.code, &targets) as u64;
        let mut bytes = self.code.clone();
        bytes.resize(code_end, 0xCC);
        // Where each runtime symbol is called: directly when every field can reach it.
        let mut resolved: Vec<(SymbolId, u64)> = Vec::new();
        let mut veneers = 0;
        for s in targets {
            let addr = runtime(s);
            let near = |at: u64| at.abs_diff(addr) < (1 << 31) - 1;
            if near(base) && near(limit) {
                resolved.push((s.id(), addr));
                continue;
            }
            resolved.push((s.id(), base + bytes.len() as u64));
            bytes.extend_from_slice(&veneer(addr));
            veneers += 1;
        }
        let resolve = |id: SymbolId| match Target::of(id)? {
            Target::Func(f) => Some(base + self.func(f)?.offset as u64),
            Target::Runtime(_) => resolved.iter().find(|(s, _)| *s == id).map(|r| r.1),
        };
        apply_relocs(&mut bytes, &self.relocs, base, resolve)
            .map_err(|e| format!("cannot link the module's code: {e}"))?;
        Ok(LinkedCode { bytes, veneers })
    }

    /// The distinct runtime symbols the relocations refer to, in order of first use.
    fn runtime_targets(&self) -> Vec<RuntimeSymbol> {
        let mut out = Vec::new();
        for r in &self.relocs {
            if let Some(Target::Runtime(s)) = Target::of(r.target) {
                if r.kind == RelocKind::Rel32 && !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }
}

/// `jmp [rip + 0]` (`ff 25 00000000`) and the 8-byte target, padded with `int3` to
/// [`VENEER_SIZE`]. Written as bytes: the kernel links this code too, and needs no
/// assembler for one fixed instruction.
fn veneer(target: u64) -> [u8; VENEER_SIZE] {
    let mut v = [0xCC; VENEER_SIZE];
    v[..6].copy_from_slice(&[0xFF, 0x25, 0, 0, 0, 0]);
    v[6..14].copy_from_slice(&target.to_le_bytes());
    v
}

#[cfg(test)]
mod tests {
    use crate::compile::symbols::RuntimeSymbol;
    use crate::module::supported_features;
    use alloc::vec::Vec;
    use kiln_abi::wasm::Builtin;

    const WAT: &str = r#"(module (memory 1)
        (func $a (param i32) (result i32) (memory.grow (local.get 0)))
        (func (export "b") (result i32) (i32.add (call $a (i32.const 1)) (call $a (i32.const 2)))))"#;

    /// The address a `call rel32` at `at` (the field's offset) goes to, for code at `base`.
    fn call_target(bytes: &[u8], at: usize, base: u64) -> u64 {
        let rel = i32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        (base + at as u64 + 4).wrapping_add(rel as i64 as u64)
    }

    #[test]
    fn near_symbols_are_called_directly_and_far_ones_through_veneers() {
        let m = crate::compile(&wat::parse_str(WAT).unwrap(), supported_features()).unwrap();
        let grow = RuntimeSymbol::Builtin(Builtin::MemoryGrow);
        let base = 0x7f00_0000_0000u64;
        for (where_, runtime_at, veneers) in [("near", base + (1 << 30), 0), ("far", 0x1000, 1)] {
            let at = |s: RuntimeSymbol| {
                if s == grow {
                    runtime_at
                } else {
                    runtime_at + 64
                }
            };
            let linked = m.link(base, at).unwrap();
            assert!(linked.bytes.len() <= m.linked_len(), "{where_}");
            let grow_calls: Vec<_> = m.relocs.iter().filter(|r| r.target == grow.id()).collect();
            assert!(!grow_calls.is_empty());
            let trap_calls = m
                .relocs
                .iter()
                .filter(|r| r.target == RuntimeSymbol::Trap.id());
            assert!(trap_calls.count() > 0, "the stack check traps");
            assert_eq!(
                linked.veneers,
                veneers * 2,
                "{where_}: memory.grow and the trap"
            );
            for r in grow_calls {
                let to = call_target(&linked.bytes, r.offset as usize, base);
                if veneers == 0 {
                    assert_eq!(to, runtime_at, "{where_}");
                } else {
                    // The veneer: `jmp [rip + 0]` (ff 25 00000000) and the address.
                    let v = &linked.bytes[(to - base) as usize..][..14];
                    assert_eq!(&v[..6], &[0xff, 0x25, 0, 0, 0, 0]);
                    assert_eq!(u64::from_le_bytes(v[6..].try_into().unwrap()), runtime_at);
                }
            }
            // Calls between the module's functions go straight to the callee.
            let b = m.func(1).expect("b is a defined function");
            let calls_a: Vec<_> = m.relocs.iter().filter(|r| r.target.0 == 0).collect();
            assert_eq!(calls_a.len(), 2, "b calls a twice");
            for r in calls_a {
                assert!(r.offset >= b.offset && r.offset < b.offset + b.len);
                assert_eq!(call_target(&linked.bytes, r.offset as usize, base), base);
            }
        }
    }
}
