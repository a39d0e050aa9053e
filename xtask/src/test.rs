//! `cargo xtask test`: everything, ending with one line `N passed, N failed`.
//!
//! 1. host unit tests of the host-testable crates (`cargo test`);
//! 2. the hosted suites (WASM spec suite, SOM test suite), read from their closing lines,
//!    the WASI programs of `tests/programs` (`wasm_programs`) and the WASM spec suite
//!    compiled ahead of time and run on bare metal (`spec_qemu`, filter name `spec-qemu`);
//! 3. the QEMU integration tests: one TOML file per test under `tests/<group>/`, each
//!    naming the image to build, the kernel command line, the exit status and the
//!    serial output it must produce. They run in parallel, one per core, each with a
//!    timeout; a failure prints the tail of its serial log.

use crate::build::{build_image, BuiltImage, Contents};
use crate::programs::ProgramOpts;
use crate::qemu::{self, Ending};
use crate::symbols::Symbols;
use crate::{cmd, hosted, profile, ImageOpts};
use anyhow::{bail, Context, Result};
use kiln_abi::ExitStatus;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

/// Running totals across every part of the run.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn add(&mut self, passed: usize, failed: usize) {
        self.passed += passed;
        self.failed += failed;
    }
}

/// Sums every `N passed, M failed` / `N passed; M failed` count in `text` whose line
/// starts with `prefix`.
fn closing_counts(text: &str, line_prefix: &Regex) -> Option<(usize, usize)> {
    let counts = Regex::new(r"(\d+) passed[,;] (\d+) failed").expect("valid regex");
    let mut found = None;
    for line in text.lines().filter(|l| line_prefix.is_match(l)) {
        if let Some(c) = counts.captures(line) {
            let (p, f) = found.unwrap_or((0, 0));
            found = Some((
                p + c[1].parse::<usize>().ok()?,
                f + c[2].parse::<usize>().ok()?,
            ));
        }
    }
    found
}

fn host_unit_tests(tally: &mut Tally) -> Result<()> {
    eprintln!("== host unit tests");
    let mut cargo = cmd::cargo();
    cargo
        .current_dir(profile::root())
        .args(["test", "--workspace"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    cmd::echo(&cargo);
    let out = cargo.output().context("could not start cargo test")?;
    let text = String::from_utf8_lossy(&out.stdout);
    let prefix = Regex::new(r"^test result:").expect("valid regex");
    let (passed, mut failed) = closing_counts(&text, &prefix).unwrap_or((0, 0));
    if !out.status.success() {
        println!("{}", cmd::tail(&out.stdout, 40));
        if failed == 0 {
            // It did not even build, or a test binary crashed: that is a failure too.
            failed = 1;
        }
    }
    println!("host unit tests: {passed} passed, {failed} failed");
    tally.add(passed, failed);
    Ok(())
}

/// The hosted suites: the argument list of `kiln-hosted` and the label of the closing
/// lines it prints (`<label>: N passed, N failed`).
const HOSTED_SUITES: &[(&[&str], &str)] = &[
    (&["spec"], "spec wasm-"),
    (&["som-test"], "som:"),
    (&["som-test", "--gc-stress"], "som (gc stress):"),
];

fn hosted_suites(tally: &mut Tally, filter: Option<&str>) -> Result<()> {
    let suites: Vec<_> = HOSTED_SUITES
        .iter()
        .filter(|(args, _)| filter.is_none_or(|f| args.join(" ").contains(f)))
        .collect();
    if suites.is_empty() {
        return Ok(());
    }
    eprintln!("== hosted suites");
    let bin = hosted::build()?;
    for (args, label) in suites {
        let (text, ok) = hosted::run_suite(&bin, args)?;
        let prefix = Regex::new(&format!("^{}", regex::escape(label))).expect("valid regex");
        match closing_counts(&text, &prefix) {
            Some((passed, failed)) => {
                let failed = if !ok && failed == 0 { 1 } else { failed };
                for line in text.lines().filter(|l| prefix.is_match(l)) {
                    println!("{line}");
                }
                if failed > 0 {
                    println!("{}", cmd::tail(text.as_bytes(), 40));
                }
                tally.add(passed, failed);
            }
            None => {
                println!("{}", cmd::tail(text.as_bytes(), 40));
                println!(
                    "kiln-hosted {} printed no `{label}: N passed, N failed` line",
                    args.join(" ")
                );
                tally.add(0, 1);
            }
        }
    }
    Ok(())
}

/// The exit status a QEMU test expects: a kiln status name or a raw code.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum ExpectedExit {
    Code(u8),
    Name(String),
}

impl ExpectedExit {
    fn code(&self) -> Result<u8> {
        Ok(match self {
            ExpectedExit::Code(c) => *c,
            ExpectedExit::Name(name) => (match name.as_str() {
                "success" => ExitStatus::Success,
                "failure" => ExitStatus::Failure,
                "panic" => ExitStatus::Panic,
                "fault" => ExitStatus::Fault,
                "trap" => ExitStatus::Trap,
                "boot-error" => ExitStatus::BootError,
                other => bail!("unknown exit status `{other}` (use success, failure, panic, fault, trap, boot-error or a number)"),
            }) as u8,
        })
    }
}

fn default_profiles() -> Vec<String> {
    vec!["qemu-microvm".into()]
}

fn default_timeout() -> u64 {
    30
}

/// One QEMU integration test, as written in `tests/<group>/<name>.toml`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct QemuTest {
    #[serde(default)]
    cmdline: String,
    #[serde(default)]
    features: Vec<String>,
    #[serde(default = "default_profiles")]
    profiles: Vec<String>,
    exit: ExpectedExit,
    #[serde(default)]
    expect: Vec<String>,
    #[serde(default = "default_timeout")]
    timeout: u64,
    /// The programs the image carries; without this table, no programs.
    programs: Option<ProgramOpts>,
}

/// One boot to perform: a test on one profile.
struct Job {
    name: String,
    image: usize,
    cmdline: String,
    exit: u8,
    expect: Vec<String>,
    timeout: Duration,
}

fn load_qemu_tests(filter: Option<&str>) -> Result<Vec<(String, QemuTest)>> {
    let tests_dir = profile::root().join("tests");
    let mut found = Vec::new();
    let groups = std::fs::read_dir(&tests_dir)
        .with_context(|| format!("reading {}", tests_dir.display()))?;
    for group in groups.filter_map(|e| e.ok()).map(|e| e.path()) {
        // A Cargo workspace (tests/programs) holds programs, not QEMU tests.
        if !group.is_dir() || group.join("Cargo.toml").exists() {
            continue;
        }
        for file in std::fs::read_dir(&group)?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
        {
            // A group may also hold the manifest of its test programs' Rust workspace.
            if file.extension().is_none_or(|e| e != "toml") || file.ends_with("Cargo.toml") {
                continue;
            }
            let name = test_name(&tests_dir, &file);
            if filter.is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let text = std::fs::read_to_string(&file)?;
            let test: QemuTest =
                toml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
            found.push((name, test));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(found)
}

fn test_name(tests_dir: &Path, file: &Path) -> String {
    file.strip_prefix(tests_dir)
        .unwrap_or(file)
        .with_extension("")
        .to_string_lossy()
        .into_owned()
}

/// The test's kernel command line, after the `env=KEY=VALUE` options of its
/// `[programs] env` list (options come before the program arguments' `--`).
fn with_env(test: &QemuTest, name: &str) -> Result<String> {
    let mut words = match &test.programs {
        Some(p) => p.env_options().with_context(|| format!("test {name}"))?,
        None => Vec::new(),
    };
    words.push(test.cmdline.clone());
    Ok(words.join(" ").trim().to_string())
}

/// Checks a captured run against what the test expects; `Err` says what went wrong.
fn check(job: &Job, run: &qemu::Captured) -> Result<(), String> {
    if run.ending != Ending::Guest(job.exit) {
        return Err(format!(
            "expected {}, got {}",
            Ending::Guest(job.exit).describe(),
            run.ending.describe()
        ));
    }
    let mut rest = run.output.as_str();
    for want in &job.expect {
        match rest.find(want.as_str()) {
            Some(at) => rest = &rest[at + want.len()..],
            None => {
                return Err(format!(
                    "serial output lacks `{want}` (expected in this order)"
                ))
            }
        }
    }
    Ok(())
}

fn qemu_tests(tally: &mut Tally, filter: Option<&str>) -> Result<()> {
    let tests = load_qemu_tests(filter)?;
    if tests.is_empty() {
        return Ok(());
    }
    eprintln!("== QEMU integration tests");
    // Build every distinct image first (cargo serializes builds anyway), then boot in parallel.
    let mut images: Vec<(BuiltImage, Symbols)> = Vec::new();
    let mut image_index: BTreeMap<(String, Vec<String>, Option<String>), usize> = BTreeMap::new();
    let mut jobs = Vec::new();
    for (name, test) in &tests {
        let exit = test.exit.code().with_context(|| format!("test {name}"))?;
        for profile in &test.profiles {
            let programs = test.programs.as_ref().map(|p| format!("{p:?}"));
            let key = (profile.clone(), test.features.clone(), programs.clone());
            let image = match image_index.get(&key) {
                Some(&i) => i,
                None => {
                    let opts = ImageOpts {
                        profile: profile.clone(),
                        release: false,
                    };
                    let mut contents = match (&test.programs, &programs) {
                        (Some(opts), Some(described)) => {
                            let mut c = crate::programs::contents(opts, profile)
                                .with_context(|| format!("test {name}"))?;
                            // Tests with different programs must not share an image file.
                            let mut hasher = std::hash::DefaultHasher::new();
                            described.hash(&mut hasher);
                            let tag = c.tag.take().unwrap_or_default();
                            c.tag = Some(format!("{tag}-{:08x}", hasher.finish() as u32));
                            c
                        }
                        _ => Contents::default(),
                    };
                    contents.features.extend(test.features.iter().cloned());
                    let built = build_image(&opts, &contents)?;
                    let symbols = Symbols::load(&built.path)?;
                    images.push((built, symbols));
                    image_index.insert(key, images.len() - 1);
                    images.len() - 1
                }
            };
            jobs.push(Job {
                name: format!("{name} [{profile}]"),
                image,
                cmdline: with_env(test, name)?,
                exit,
                expect: test.expect.clone(),
                timeout: Duration::from_secs(test.timeout),
            });
        }
    }
    // Reversed, so that popping from the end hands out the jobs in name order.
    let queue = Mutex::new(jobs.iter().rev().collect::<Vec<_>>());
    let results = Mutex::new((0usize, 0usize));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let Some(job) = queue.lock().expect("queue").pop() else {
                    break;
                };
                let (image, symbols) = &images[job.image];
                let outcome = qemu::run_captured(image, &job.cmdline, job.timeout, Some(symbols))
                    .map_err(|e| format!("{e:#}"))
                    .and_then(|run| {
                        check(job, &run).map(|()| run.elapsed).map_err(|why| {
                            format!(
                                "{why}\n--- serial log (tail) ---\n{}\n--- qemu stderr ---\n{}",
                                cmd::tail(run.output.as_bytes(), 30),
                                cmd::tail(run.stderr.as_bytes(), 10)
                            )
                        })
                    });
                let mut totals = results.lock().expect("results");
                match outcome {
                    Ok(elapsed) => {
                        totals.0 += 1;
                        println!("test {} ... ok ({:.2} s)", job.name, elapsed.as_secs_f64());
                    }
                    Err(why) => {
                        totals.1 += 1;
                        println!("test {} ... FAILED: {why}", job.name);
                    }
                }
            });
        }
    });
    let (passed, failed) = *results.lock().expect("results");
    println!("QEMU integration tests: {passed} passed, {failed} failed");
    tally.add(passed, failed);
    Ok(())
}

/// Runs everything and prints the closing line; the exit code is 1 on any failure.
pub fn run_all(filter: Option<&str>) -> Result<i32> {
    // Paths in test files are relative to the repository.
    std::env::set_current_dir(profile::root())?;
    let mut tally = Tally::default();
    if filter.is_none() {
        host_unit_tests(&mut tally)?;
    }
    hosted_suites(&mut tally, filter)?;
    let (passed, failed) = crate::wasm_programs::run_all(filter)?;
    tally.add(passed, failed);
    if filter.is_none_or(|f| "spec-qemu".contains(f)) {
        eprintln!("== spec-qemu: the WASM spec suite compiled ahead of time, on bare metal");
        let (passed, failed) = crate::spec_qemu::run_suite(&Default::default())?;
        tally.add(passed, failed);
    }
    qemu_tests(&mut tally, filter)?;
    println!("{} passed, {} failed", tally.passed, tally.failed);
    Ok(if tally.failed == 0 && tally.passed > 0 {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_counts_sums_matching_lines_only() {
        let text = "test result: ok. 3 passed; 0 failed; 0 ignored\nnoise 9 passed, 9 failed\ntest result: FAILED. 2 passed; 1 failed;\n";
        let prefix = Regex::new("^test result:").unwrap();
        assert_eq!(closing_counts(text, &prefix), Some((5, 1)));
        let none = Regex::new("^spec").unwrap();
        assert_eq!(closing_counts(text, &none), None);
    }

    #[test]
    fn check_requires_status_and_ordered_output() {
        let job = Job {
            name: "t".into(),
            image: 0,
            cmdline: String::new(),
            exit: 4,
            expect: vec!["fault: Page Fault".into(), "backtrace:".into()],
            timeout: Duration::from_secs(1),
        };
        let run = |output: &str, ending| qemu::Captured {
            output: output.into(),
            stderr: String::new(),
            ending,
            first_output: None,
            elapsed: Duration::ZERO,
            arrivals: Vec::new(),
        };
        assert!(check(
            &job,
            &run("fault: Page Fault\nbacktrace:\n", Ending::Guest(4))
        )
        .is_ok());
        assert!(check(
            &job,
            &run("backtrace:\nfault: Page Fault\n", Ending::Guest(4))
        )
        .is_err());
        assert!(check(
            &job,
            &run("fault: Page Fault\nbacktrace:\n", Ending::Guest(0))
        )
        .is_err());
        assert!(check(
            &job,
            &run("fault: Page Fault\nbacktrace:\n", Ending::Timeout)
        )
        .is_err());
    }

    #[test]
    fn every_qemu_test_of_the_repository_parses_and_workspaces_are_skipped() {
        let tests = load_qemu_tests(None).unwrap();
        assert!(tests.iter().any(|(name, _)| name.starts_with("kernel/")));
        assert!(!tests.iter().any(|(name, _)| name.starts_with("programs/")));
    }

    #[test]
    fn exit_names_map_to_kiln_statuses() {
        assert_eq!(ExpectedExit::Name("fault".into()).code().unwrap(), 4);
        assert_eq!(ExpectedExit::Code(9).code().unwrap(), 9);
        assert!(ExpectedExit::Name("exploded".into()).code().is_err());
    }
}
