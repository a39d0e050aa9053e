//! The WASM spec suite on bare metal (`cargo xtask spec --qemu`; only in images built
//! with the `spectest` feature).
//!
//! `kiln-hosted spec-plan` turned each `.wast` file into a script of run-time directives
//! (format in `runtime/hosted/src/wasm/spec/plan.rs`) and xtask compiled the modules the
//! scripts name ahead of time into the image. Each [`EntryKind::SpecScript`] entry of the
//! bundle is one file: its modules are instantiated from their image records — linked
//! against the `spectest` host module and the instances the script registered —, its
//! functions invoked and the results, traps and link errors checked. The runner prints
//! `spec-file NAME: P passed, F failed` per file and the first mismatches; xtask adds up
//! the lines. The program arguments `shard I N` run every N-th script from the I-th, so
//! that several machines can share the suite.

use crate::wasm::{self, Record};
use crate::wasm_machine::MACHINE;
use crate::{clock, println};
use alloc::collections::BTreeMap;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kiln_abi::bundle::{Bundle, EntryKind};
use kiln_abi::wasm::TrapCode;
use kiln_abi::ExitStatus;
use kiln_wasm::instance::descriptor;
use kiln_wasm::instance::instantiate::{self, Instance, InstantiateError};
use kiln_wasm::instance::{Extern, Store, Trap};
use kiln_wasm::module::FuncType;
use kiln_wasm::spectest::{self, Expected, Registry};

/// Mismatches printed per file.
const SHOWN_MISMATCHES: usize = 5;

/// Runs the bundle's spec scripts (those of shard `shard I N` in `args`, else all).
pub fn run_all(bundle: &Bundle<'static>, args: &[String]) -> ExitStatus {
    let (shard, shards) = match args {
        [word, i, n] if word == "shard" => match (i.parse(), n.parse()) {
            (Ok(i), Ok(n)) if i < n => (i, n),
            _ => {
                println!("kiln: spec: `shard I N` needs 0 <= I < N");
                return ExitStatus::BootError;
            }
        },
        _ => (0, 1),
    };
    let records = wasm::records();
    let code = records
        .iter()
        .map(Record::code_range)
        .fold((u64::MAX, 0), |(lo, hi), (s, e)| (lo.min(s), hi.max(e)));
    let scripts: Vec<_> = bundle.of_kind(EntryKind::SpecScript).collect();
    let start = clock::monotonic_ns();
    let mut files = 0;
    let run = wasm::on_wasm_stack(code, || {
        let mut all_passed = true;
        for entry in scripts.iter().skip(shard).step_by(shards) {
            files += 1;
            let text = core::str::from_utf8(entry.data).unwrap_or("0 fail script is not UTF-8");
            let mut r = Runner::new(records);
            for line in text.lines() {
                r.line(line);
            }
            println!(
                "spec-file {}: {} passed, {} failed",
                entry.name, r.passed, r.failed
            );
            for m in &r.mismatches {
                println!("  {m}");
            }
            all_passed &= r.failed == 0;
        }
        all_passed
    });
    let micros = (clock::monotonic_ns() - start) / 1000;
    println!(
        "kiln: spec shard {shard} of {shards}: {files} files in {}.{:03} ms",
        micros / 1000,
        micros % 1000
    );
    if run {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    }
}

/// Runs the directives of one script.
struct Runner {
    records: &'static [Record],
    store: Store,
    named: BTreeMap<String, Instance>,
    current: Option<Instance>,
    registry: Registry,
    passed: u64,
    failed: u64,
    mismatches: Vec<String>,
}

type Check = Result<(), String>;

impl Runner {
    fn new(records: &'static [Record]) -> Self {
        let mut store = Store::new(&MACHINE);
        let registry = Registry::new(&mut store);
        Runner {
            records,
            store,
            named: BTreeMap::new(),
            current: None,
            registry,
            passed: 0,
            failed: 0,
            mismatches: Vec::new(),
        }
    }

    /// Runs one script line and counts it.
    fn line(&mut self, line: &str) {
        let mut words = line.split(' ');
        let number = words.next().unwrap_or("?");
        let outcome = match words.next() {
            Some(kind) => self.directive(kind, &mut words, line),
            None => return,
        };
        match outcome {
            Ok(()) => self.passed += 1,
            Err(e) => {
                self.failed += 1;
                if self.mismatches.len() < SHOWN_MISMATCHES {
                    self.mismatches.push(format!("line {number}: {e}"));
                }
            }
        }
    }

    fn directive<'a>(
        &mut self,
        kind: &str,
        words: &mut impl Iterator<Item = &'a str>,
        line: &'a str,
    ) -> Check {
        let mut word = || {
            words
                .next()
                .ok_or_else(|| "truncated script line".to_string())
        };
        match kind {
            "module" => {
                let module = word()?;
                let name = word()?;
                let inst = self.instantiate(module).map_err(|e| self.describe(e))?;
                self.current = Some(inst);
                if name != "-" {
                    self.named.insert(unhex(name)?, inst);
                }
                Ok(())
            }
            "instance" => self
                .instantiate(word()?)
                .map(drop)
                .map_err(|e| self.describe(e)),
            "register" => {
                let as_name = unhex(word()?)?;
                let inst = self.instance(word()?)?;
                self.registry.register(as_name, inst);
                Ok(())
            }
            "trapmod" => {
                let module = word()?;
                let message = after_equals(line);
                match self.instantiate(module) {
                    Err(InstantiateError::Trap(t)) => spectest::check_trap(t.code, message),
                    Err(e) => Err(format!(
                        "expected trap `{message}`, got {}",
                        self.describe(e)
                    )),
                    Ok(_) => Err(format!("expected trap `{message}`, module instantiated")),
                }
            }
            "unlinkable" => match self.instantiate(word()?) {
                Err(InstantiateError::Link(_)) => Ok(()),
                Err(e) => Err(format!("expected a link error, got {}", self.describe(e))),
                Ok(_) => Err("expected a link error, module linked".into()),
            },
            "get" => {
                let inst = self.instance(word()?)?;
                let global = unhex(word()?)?;
                let want: Vec<&str> = after_equals(line).split(' ').collect();
                match inst.export(&global) {
                    // SAFETY: globals live in the store.
                    Some(Extern::Global(g)) => unsafe { check_results(&[(*g).cell], &want) },
                    _ => Err(format!("no global `{global}`")),
                }
            }
            "invoke" | "return" | "trap" | "exhaust" => {
                let inst = self.instance(word()?)?;
                let export = unhex(word()?)?;
                let mut args = Vec::new();
                for w in words.by_ref().take_while(|w| *w != "=") {
                    args.push(
                        u64::from_str_radix(w, 16).map_err(|_| format!("bad argument `{w}`"))?,
                    );
                }
                let outcome = self.invoke(inst, &export, &args);
                let expected = after_equals(line);
                match (kind, outcome) {
                    ("invoke", Ok(_)) => Ok(()),
                    ("return", Ok(got)) => {
                        let want: Vec<&str> =
                            expected.split(' ').filter(|w| !w.is_empty()).collect();
                        check_results(&got, &want)
                    }
                    ("trap", Err(Ok(t))) => spectest::check_trap(t.code, expected),
                    ("exhaust", Err(Ok(t))) if t.code == TrapCode::StackOverflow => Ok(()),
                    ("trap" | "exhaust", Ok(got)) => Err(format!("expected a trap, got {got:x?}")),
                    (_, Err(Ok(t))) => Err(self.store.describe_trap(&t)),
                    (_, Err(Err(e))) => Err(e),
                    _ => Err(format!("unknown directive `{kind}`")),
                }
            }
            "fail" => Err(after_kind(line).to_string()),
            other => Err(format!("unknown directive `{other}`")),
        }
    }

    /// Instantiates the image's module `name`, linked against the registry.
    fn instantiate(&mut self, name: &str) -> Result<Instance, InstantiateError> {
        let record = self
            .records
            .iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| InstantiateError::Link(format!("the image has no module `{name}`")))?;
        let module = descriptor::decode(record.descriptor(), record.blobs())
            .map(Rc::new)
            .map_err(|e| InstantiateError::Resource(format!("module `{name}`: {e}")))?;
        let (code, end) = record.code_range();
        self.store
            .add_image_code(module.clone(), code, (end - code) as usize);
        let imports = self
            .registry
            .imports(&module)
            .map_err(InstantiateError::Link)?;
        instantiate::instantiate(&mut self.store, module, &imports)
    }

    fn instance(&self, name: &str) -> Result<Instance, String> {
        if name == "-" {
            return self.current.ok_or_else(|| "no current module".to_string());
        }
        let name = unhex(name)?;
        self.named
            .get(&name)
            .copied()
            .ok_or_else(|| format!("no module ${name}"))
    }

    fn describe(&self, e: InstantiateError) -> String {
        match e {
            InstantiateError::Trap(t) => self.store.describe_trap(&t),
            InstantiateError::Link(m) | InstantiateError::Resource(m) => m,
        }
    }

    /// Calls an export; `Err(Ok(trap))` for a trap, `Err(Err(msg))` for other errors.
    fn invoke(
        &mut self,
        inst: Instance,
        name: &str,
        args: &[u64],
    ) -> Result<Vec<u64>, Result<Trap, String>> {
        let module = inst
            .module()
            .ok_or_else(|| Err(String::from("the instance keeps no module")))?;
        let export = module
            .info
            .export(name)
            .ok_or_else(|| Err(format!("no export `{name}`")))?;
        let ty: &FuncType = module.info.func_type(export.index);
        let results = ty.results.len();
        let Some(Extern::Func(f)) = inst.export(name) else {
            return Err(Err(format!("`{name}` is not a function")));
        };
        let mut slots = alloc::vec![0u64; ty.params.len().max(results)];
        for (slot, a) in slots.iter_mut().zip(args) {
            *slot = *a;
        }
        // SAFETY: the FuncRef lives in the store.
        instantiate::call_ref(&self.store, unsafe { &*f }, &mut slots).map_err(Ok)?;
        slots.truncate(results);
        Ok(slots)
    }
}

/// The text after ` = ` (expected results or a trap message).
fn after_equals(line: &str) -> &str {
    line.split_once(" = ").map_or("", |(_, rest)| rest)
}

/// The text after the line number and the directive's kind.
fn after_kind(line: &str) -> &str {
    line.splitn(3, ' ').nth(2).unwrap_or("")
}

/// A name written as `x` and its bytes in hex.
fn unhex(word: &str) -> Result<String, String> {
    let hex = word
        .strip_prefix('x')
        .ok_or_else(|| format!("bad name `{word}`"))?;
    let bytes = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| format!("bad name `{word}`"))?;
    String::from_utf8(bytes).map_err(|_| format!("name `{word}` is not UTF-8"))
}

fn check_results(got: &[u64], want: &[&str]) -> Check {
    if got.len() != want.len() {
        return Err(format!(
            "expected {} results, got {}",
            want.len(),
            got.len()
        ));
    }
    for (k, (slot, w)) in got.iter().zip(want).enumerate() {
        if !Expected::parse(w)?.matches(*slot) {
            return Err(format!("result {k}: expected {w}, got {slot:#x}"));
        }
    }
    Ok(())
}
