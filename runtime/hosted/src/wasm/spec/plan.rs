//! `kiln-hosted spec-plan OUTDIR [--filter SUBSTR]`: the spec suite prepared for bare
//! metal (`cargo xtask spec --qemu`).
//!
//! For every `.wast` file of the suites it writes the binaries of the modules the file
//! instantiates (`OUTDIR/modules/<name>.wasm`, one name per module of the whole run, so
//! that many files share one image) and a script of the run-time directives
//! (`OUTDIR/scripts/<n>.script`) that the kernel's spec runner (`runtime/kernel/src/spec.rs`)
//! executes against the modules compiled ahead of time. Validation-only assertions
//! (`assert_invalid`, `assert_malformed`) are decided here, by the same compiler the
//! image's modules went through, and counted in `OUTDIR/plan.txt`, which has a line
//! `suite SUITE` per suite, then one line per file of it:
//! `file SUITE/FILE SCRIPT STATIC_PASSED STATIC_FAILED`.
//!
//! A script has one directive per line, each starting with the `.wast` line number:
//!
//! ```text
//! LINE module MOD NAME|-           instantiate module MOD (the current one; named NAME)
//! LINE instance MOD                instantiate MOD, expect success, keep nothing
//! LINE register XNAME NAME|-       register an instance for imports
//! LINE invoke NAME|- XEXPORT ARG*
//! LINE return NAME|- XEXPORT ARG* = RESULT*
//! LINE get NAME|- XGLOBAL = RESULT
//! LINE trap NAME|- XEXPORT ARG* = MESSAGE
//! LINE trapmod MOD = MESSAGE       instantiation must trap
//! LINE exhaust NAME|- XEXPORT ARG*
//! LINE unlinkable MOD
//! LINE fail REASON                 a directive the plan cannot express (a failure)
//! ```
//!
//! `X...` names are `x` followed by the name's bytes in hex (export names may hold any
//! character); arguments are slots in hex; results are the words of
//! `kiln_wasm::spectest::Expected` (`i32:HEX`, `f32:can`, `either:R|R`...).

use super::{expected_result, features, rejected, suite_files, SUITES};
use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;
use wast::{QuoteWat, WastDirective, WastExecute, WastInvoke, Wat};

/// `kiln-hosted spec-plan OUTDIR [--filter SUBSTR]`.
pub fn run(args: Vec<String>) -> ExitCode {
    let mut it = args.into_iter();
    let Some(out) = it.next() else {
        eprintln!("usage: kiln-hosted spec-plan OUTDIR [--filter SUBSTR]");
        return ExitCode::from(2);
    };
    let mut filter = String::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--filter" => filter = it.next().unwrap_or_default(),
            other => {
                eprintln!("kiln-hosted spec-plan: unknown argument `{other}`");
                return ExitCode::from(2);
            }
        }
    }
    match write_plan(Path::new(&out), &filter) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kiln-hosted spec-plan: {e}");
            ExitCode::FAILURE
        }
    }
}

fn write_plan(out: &Path, filter: &str) -> Result<(), String> {
    let io = |e: std::io::Error| e.to_string();
    // A previous plan's files go; nothing else of OUTDIR is touched.
    for sub in ["modules", "scripts"] {
        let _ = std::fs::remove_dir_all(out.join(sub));
        std::fs::create_dir_all(out.join(sub)).map_err(io)?;
    }
    let mut index = String::new();
    for (s, (suite, _)) in SUITES.iter().enumerate() {
        writeln!(index, "suite {suite}").expect("string");
        for (f, (name, text)) in suite_files(suite).into_iter().enumerate() {
            let id = format!("{suite}/{name}");
            if !id.contains(filter) {
                continue;
            }
            let mut p = Planner {
                features: features(suite),
                text,
                prefix: format!("s{s}f{f}m"),
                modules: Vec::new(),
                script: String::new(),
                passed: 0,
                failed: 0,
            };
            p.run();
            for (k, bytes) in p.modules.iter().enumerate() {
                let path = out.join("modules").join(format!("{}{k}.wasm", p.prefix));
                std::fs::write(path, bytes).map_err(io)?;
            }
            let script = format!("s{s}f{f}.script");
            std::fs::write(out.join("scripts").join(&script), &p.script).map_err(io)?;
            writeln!(index, "file {id} {script} {} {}", p.passed, p.failed).expect("string");
        }
    }
    std::fs::write(out.join("plan.txt"), index).map_err(io)
}

/// Turns the directives of one `.wast` file into a script.
struct Planner {
    features: wasmparser::WasmFeatures,
    text: &'static str,
    /// Module names of this file: `prefix` followed by the module's number.
    prefix: String,
    modules: Vec<Vec<u8>>,
    script: String,
    /// Validation-only assertions decided here.
    passed: u64,
    failed: u64,
}

fn hex_name(name: &str) -> String {
    let mut s = String::from("x");
    for b in name.bytes() {
        write!(s, "{b:02x}").expect("string");
    }
    s
}

fn instance_name(id: Option<wast::token::Id<'_>>) -> String {
    id.map_or_else(|| "-".to_string(), |i| hex_name(i.name()))
}

impl Planner {
    fn run(&mut self) {
        let mut lexer = wast::lexer::Lexer::new(self.text);
        lexer.allow_confusing_unicode(true);
        let wast = wast::parser::ParseBuffer::new_with_lexer(lexer)
            .map_err(|e| e.to_string())
            .and_then(|buf| {
                let w = wast::parser::parse::<wast::Wast>(&buf).map_err(|e| e.to_string())?;
                let mut lines = Vec::new();
                for d in w.directives {
                    let line = d.span().linecol_in(self.text).0 + 1;
                    lines.push((line, self.directive(d)));
                }
                Ok(lines)
            });
        match wast {
            Ok(lines) => {
                for (line, l) in lines {
                    match l {
                        Ok(Some(l)) => writeln!(self.script, "{line} {l}").expect("string"),
                        Ok(None) => self.passed += 1,
                        Err(e) => {
                            self.failed += 1;
                            println!("  line {line}: {e}");
                        }
                    }
                }
            }
            Err(e) => writeln!(self.script, "0 fail cannot parse: {e}").expect("string"),
        }
    }

    /// Adds a module's binary; returns its name.
    fn module(&mut self, module: &mut QuoteWat<'_>) -> Result<String, String> {
        let bytes = module.encode().map_err(|e| format!("cannot encode: {e}"))?;
        kiln_wasm::compile(&bytes, self.features).map_err(|e| format!("compile error: {e}"))?;
        self.modules.push(bytes);
        Ok(format!("{}{}", self.prefix, self.modules.len() - 1))
    }

    /// The script line of one directive; `Ok(None)` for a validation assertion that
    /// held here, `Err` for one that did not.
    fn directive(&mut self, d: WastDirective<'_>) -> Result<Option<String>, String> {
        let line = match d {
            WastDirective::Module(mut m) => {
                let name = instance_name(m.name());
                match self.module(&mut m) {
                    Ok(module) => format!("module {module} {name}"),
                    Err(e) => format!("fail {e}"),
                }
            }
            WastDirective::Register { name, module, .. } => {
                format!("register {} {}", hex_name(name), instance_name(module))
            }
            WastDirective::Invoke(inv) => call("invoke", &inv),
            WastDirective::AssertReturn { exec, results, .. } => {
                let want = results.iter().map(expected_result);
                let want = match want.collect::<Result<Vec<_>, _>>() {
                    Ok(w) => w.iter().map(|e| e.word()).collect::<Vec<_>>().join(" "),
                    Err(e) => return Ok(Some(format!("fail {e}"))),
                };
                match exec {
                    WastExecute::Invoke(inv) => format!("{} = {want}", call("return", &inv)),
                    WastExecute::Get { module, global, .. } => {
                        format!(
                            "get {} {} = {want}",
                            instance_name(module),
                            hex_name(global)
                        )
                    }
                    WastExecute::Wat(Wat::Module(m)) => {
                        match self.module(&mut QuoteWat::Wat(Wat::Module(m))) {
                            Ok(module) => format!("instance {module}"),
                            Err(e) => format!("fail {e}"),
                        }
                    }
                    WastExecute::Wat(_) => "fail components are not supported".into(),
                }
            }
            WastDirective::AssertTrap { exec, message, .. } => match exec {
                WastExecute::Invoke(inv) => format!("{} = {message}", call("trap", &inv)),
                WastExecute::Wat(Wat::Module(m)) => {
                    match self.module(&mut QuoteWat::Wat(Wat::Module(m))) {
                        Ok(module) => format!("trapmod {module} = {message}"),
                        Err(e) => format!("fail {e}"),
                    }
                }
                _ => format!("fail expected trap `{message}` from a directive that cannot trap"),
            },
            WastDirective::AssertExhaustion { call: inv, .. } => call("exhaust", &inv),
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => return rejected(&mut module, self.features, message).map(|()| None),
            WastDirective::AssertUnlinkable { module, .. } => {
                match self.module(&mut QuoteWat::Wat(module)) {
                    Ok(module) => format!("unlinkable {module}"),
                    Err(e) => format!("fail {e}"),
                }
            }
            _ => "fail unsupported directive".into(),
        };
        Ok(Some(line))
    }
}

/// `KIND NAME|- XEXPORT ARG*`, or a `fail` line for arguments a script cannot hold.
fn call(kind: &str, inv: &WastInvoke<'_>) -> String {
    let mut s = format!(
        "{kind} {} {}",
        instance_name(inv.module),
        hex_name(inv.name)
    );
    for a in &inv.args {
        match super::arg_slot(a) {
            Ok(v) => write!(s, " {v:x}").expect("string"),
            Err(e) => return format!("fail {e}"),
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(text: &'static str) -> Planner {
        let mut p = Planner {
            features: kiln_wasm::supported_features(),
            text,
            prefix: "t0m".into(),
            modules: Vec::new(),
            script: String::new(),
            passed: 0,
            failed: 0,
        };
        p.run();
        p
    }

    #[test]
    fn directives_become_script_lines_and_validation_is_decided_here() {
        let p = plan(
            r#"(module $m (func (export "add") (param i32 i32) (result i32)
                 local.get 0 local.get 1 i32.add)
               (func (export "nan") (result f32) f32.const nan))
(register "lib" $m)
(assert_return (invoke "add" (i32.const 1) (i32.const -1)) (i32.const 0))
(assert_return (invoke $m "nan") (f32.const nan:canonical))
(assert_trap (invoke "add" (i32.const 1)) "type mismatch")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_invalid (module (func (result i32) i32.const 0)) "not invalid")
(module (import "lib" "add" (func (param i32 i32) (result i32))))"#,
        );
        let lines: Vec<&str> = p.script.lines().collect();
        assert_eq!(
            lines,
            [
                "1 module t0m0 x6d",
                "4 register x6c6962 x6d",
                "5 return - x616464 1 ffffffff = i32:0",
                "6 return x6d x6e616e = f32:can",
                "7 trap - x616464 1 = type mismatch",
                "10 module t0m1 -",
            ]
        );
        assert_eq!(p.modules.len(), 2);
        assert!(p.modules[0].starts_with(b"\0asm"));
        assert_eq!((p.passed, p.failed), (1, 1));
    }

    #[test]
    fn unexpressible_directives_are_failures_in_the_script() {
        let p = plan(r#"(module (func)) (assert_return (invoke "f" (v128.const i32x4 0 0 0 0)))"#);
        let second = p.script.lines().nth(1).unwrap_or("");
        assert!(
            second.starts_with("1 fail unsupported argument"),
            "{second}"
        );
    }

    #[test]
    fn names_are_hex_so_any_character_fits_a_word() {
        assert_eq!(hex_name("a b"), "x612062");
        assert_eq!(hex_name(""), "x");
    }
}
