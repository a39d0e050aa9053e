//! `cargo xtask spec --qemu`: the WASM spec suite compiled ahead of time and run on
//! bare metal.
//!
//! 1. `kiln-hosted spec-plan` walks the suite's `.wast` files (as `kiln-hosted spec`
//!    does) and writes every module a file instantiates plus a script of its run-time
//!    directives; it decides the validation-only assertions (`assert_invalid`,
//!    `assert_malformed`) itself, with the same compiler, and counts them.
//! 2. Every module is compiled ahead of time into an ELF object (`aot`), and all of them
//!    are linked into one image built with the kernel's `spectest` feature, whose bundle
//!    holds the scripts as `SpecScript` entries.
//! 3. The image boots `--jobs` times in parallel, each machine running every N-th script
//!    (`-- shard I N` on the kernel command line); each prints
//!    `spec-file SUITE/FILE: P passed, F failed`.
//! 4. The counts are added up per suite, build-time ones included, into the lines the
//!    hosted run prints: `spec wasm-v1: N passed, N failed`.

use crate::build::{build_image, target_dir, Contents};
use crate::bundle::BundleWriter;
use crate::{aot, cmd, hosted, profile, qemu, ImageOpts};
use anyhow::{bail, Context, Result};
use kiln_abi::bundle::EntryKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Longest one machine may run.
const TIMEOUT: Duration = Duration::from_secs(900);
/// The known-failures list of the hosted run, relative to the repository.
const KNOWN_FAILURES: &str = "tests/wasm/spec-known-failures.txt";
/// Memory of each machine: the image carries every module of the suite.
const MEMORY: &str = "1G";

/// Options of `cargo xtask spec --qemu`.
pub struct Opts {
    /// Only the files whose `SUITE/FILE` contains this text.
    pub filter: String,
    /// Machines booted in parallel.
    pub jobs: usize,
    /// Machine profile.
    pub profile: String,
}

impl Default for Opts {
    fn default() -> Self {
        Opts {
            filter: String::new(),
            jobs: 2,
            profile: "qemu-microvm".into(),
        }
    }
}

fn parse(args: &[String]) -> Result<Opts> {
    let mut opts = Opts::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .with_context(|| format!("`{a}` needs a value"))
        };
        match a.as_str() {
            "--qemu" => {}
            "--filter" => opts.filter = value()?,
            "--target" => opts.profile = value()?,
            "--jobs" => {
                opts.jobs = value()?
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .context("--jobs needs a positive number")?
            }
            other => bail!("unknown argument `{other}` for `spec --qemu`; it takes --filter TEXT, --jobs N and --target PROFILE"),
        }
    }
    Ok(opts)
}

/// One `.wast` file of the plan.
struct PlannedFile {
    id: String,
    script: String,
    static_passed: u64,
    static_failed: u64,
}

/// The suites (all of them, even those the filter left empty) and the files of a plan.
fn read_plan(dir: &Path) -> Result<(Vec<String>, Vec<PlannedFile>)> {
    let path = dir.join("plan.txt");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let (mut suites, mut files) = (Vec::new(), Vec::new());
    for l in text.lines() {
        match l.split(' ').collect::<Vec<_>>()[..] {
            ["suite", name] => suites.push(name.to_string()),
            ["file", id, script, p, f] => files.push(PlannedFile {
                id: id.into(),
                script: script.into(),
                static_passed: p.parse()?,
                static_failed: f.parse()?,
            }),
            _ => bail!("{}: bad line `{l}`", path.display()),
        }
    }
    Ok((suites, files))
}

/// Compiles every module of the plan into an object; returns the objects.
fn compile_modules(dir: &Path, profile: &profile::Profile) -> Result<Vec<PathBuf>> {
    aot::check_profile(profile)?;
    let objects = dir.join("objects");
    std::fs::create_dir_all(&objects)?;
    let mut out = Vec::new();
    let mut modules: Vec<PathBuf> = std::fs::read_dir(dir.join("modules"))?
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()?;
    modules.sort();
    for path in modules {
        let name = aot::module_name(&path);
        let bytes = std::fs::read(&path)?;
        let module = aot::compile_bytes(&bytes, &path)?;
        let object = objects.join(format!("{name}.o"));
        // No template: the spec runner links these modules to each other at boot.
        std::fs::write(&object, aot::object_bytes(&name, &module, None)?)
            .with_context(|| format!("writing {}", object.display()))?;
        out.push(object);
    }
    Ok(out)
}

/// Counts of one file as the machine printed them, and its mismatch lines.
#[derive(Default)]
struct FileRun {
    passed: u64,
    failed: u64,
    detail: Vec<String>,
}

/// Reads the `spec-file ...` lines (and the indented mismatches after each) of a console.
fn parse_console(text: &str, runs: &mut BTreeMap<String, FileRun>) {
    let mut last: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("spec-file ") {
            let Some((id, counts)) = rest.split_once(": ") else {
                continue;
            };
            let n: Vec<u64> = counts
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|w| w.parse().ok())
                .collect();
            if let [passed, failed] = n[..] {
                runs.insert(
                    id.to_string(),
                    FileRun {
                        passed,
                        failed,
                        detail: Vec::new(),
                    },
                );
                last = Some(id.to_string());
            }
        } else if line.starts_with("  ") {
            if let Some(r) = last.as_ref().and_then(|id| runs.get_mut(id)) {
                r.detail.push(line.to_string());
            }
        } else {
            last = None;
        }
    }
}

/// `cargo xtask spec --qemu [--filter TEXT] [--jobs N] [--target PROFILE]`.
pub fn run(args: &[String]) -> Result<i32> {
    let (_, failed) = run_suite(&parse(args)?)?;
    Ok(if failed == 0 { 0 } else { 1 })
}

/// Plans, builds, boots and reports; returns the assertions passed and failed, all
/// suites together.
pub fn run_suite(opts: &Opts) -> Result<(usize, usize)> {
    let start = Instant::now();
    let bin = hosted::build()?;
    let dir = target_dir().join("kiln").join("spec-plan");
    let mut plan_cmd = Command::new(&bin);
    plan_cmd.arg("spec-plan").arg(&dir);
    if !opts.filter.is_empty() {
        plan_cmd.args(["--filter", &opts.filter]);
    }
    cmd::run(&mut plan_cmd, "writing the spec suite's plan")?;
    let (suites, files) = read_plan(&dir)?;
    if files.is_empty() {
        bail!("no spec file matches --filter `{}`", opts.filter);
    }
    let mut image_profile = profile::load(&opts.profile)?;
    let objects = compile_modules(&dir, &image_profile)?;
    eprintln!(
        "spec --qemu: {} files, {} modules compiled ahead of time",
        files.len(),
        objects.len()
    );
    let mut bundle = BundleWriter::default();
    for f in &files {
        let path = dir.join("scripts").join(&f.script);
        let script = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        bundle.add(EntryKind::SpecScript, &f.id, script);
    }
    let image_opts = ImageOpts {
        profile: opts.profile.clone(),
        release: true,
    };
    let contents = Contents {
        features: vec!["wasm".into(), "spectest".into()],
        bundle: Some(bundle),
        objects,
        tag: Some("spec".into()),
    };
    let mut image = build_image(&image_opts, &contents)?;
    image_profile.memory = MEMORY.into();
    image.profile = image_profile;
    let booted = Instant::now();
    let jobs = opts.jobs.min(files.len());
    let consoles: Vec<Result<qemu::Captured>> = std::thread::scope(|s| {
        let image = &image;
        let handles: Vec<_> = (0..jobs)
            .map(|i| {
                s.spawn(move || {
                    let args = ["shard".to_string(), i.to_string(), jobs.to_string()];
                    qemu::run_captured(image, &qemu::guest_cmdline(&[], &args), TIMEOUT, None)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("qemu thread"))
            .collect()
    });
    let mut runs = BTreeMap::new();
    for (i, c) in consoles.into_iter().enumerate() {
        let c = c?;
        parse_console(&c.output, &mut runs);
        if !matches!(c.ending, qemu::Ending::Guest(_)) {
            println!("machine {i} of {jobs}: {}", c.ending.describe());
        }
    }
    let totals = report(&suites, &files, &runs, &known_failures()?);
    println!(
        "spec --qemu: machines ran {:.1} s, {:.1} s in all",
        booted.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok((totals.0 as usize, totals.1 as usize))
}

/// The checked-in list of spec files not yet at 100% (`tests/wasm/spec-known-failures.txt`,
/// shared with the hosted run): the first word of each line that is not a comment.
fn known_failures() -> Result<Vec<String>> {
    let path = profile::root().join(KNOWN_FAILURES);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    Ok(kiln_wasm::spectest::known_failures(&text))
}

/// What one suite added up to.
#[derive(Default)]
struct SuiteTotals {
    files: u64,
    passed: u64,
    failed: u64,
    at_build: u64,
    missing: u64,
    known_failed: u64,
    known_files: u64,
}

/// Prints the files that mismatched and one line per suite; returns the assertions
/// passed and failed (a file no machine reported on counts as one failure). As in the
/// hosted run, the failures of files on the known-failures list are counted apart, and
/// a listed file that now passes fully is a failure, so that the list stays honest.
fn report(
    suite_names: &[String],
    files: &[PlannedFile],
    runs: &BTreeMap<String, FileRun>,
    known: &[String],
) -> (u64, u64) {
    let mut suites: BTreeMap<&str, SuiteTotals> = suite_names
        .iter()
        .map(|s| (s.as_str(), SuiteTotals::default()))
        .collect();
    for f in files {
        let suite = f.id.split('/').next().unwrap_or("");
        let t = suites.entry(suite).or_default();
        t.files += 1;
        t.at_build += f.static_passed + f.static_failed;
        let (passed, failed, detail) = match runs.get(&f.id) {
            Some(r) => (r.passed, r.failed, &r.detail[..]),
            None => {
                t.missing += 1;
                (0, 1, &[][..])
            }
        };
        let (passed, failed) = (passed + f.static_passed, failed + f.static_failed);
        let listed = known.contains(&f.id);
        let note = match (listed, failed) {
            (true, 0) => {
                t.failed += 1;
                "  (now passing: remove it from the known-failures list)"
            }
            (true, _) => "  (known failure)",
            (false, _) if !runs.contains_key(&f.id) => "  (no machine reported on it)",
            _ => "",
        };
        if failed > 0 || listed {
            println!("{}: {passed} passed, {failed} failed{note}", f.id);
            for d in detail {
                println!("{d}");
            }
        }
        t.passed += passed;
        if listed {
            t.known_failed += failed;
            t.known_files += 1;
        } else {
            t.failed += failed;
        }
    }
    let mut totals = (0, 0);
    for (suite, t) in &suites {
        println!("spec {suite}: {} passed, {} failed", t.passed, t.failed);
        println!(
            "  ({} files; {} validation assertions decided at build time by the AOT compiler, the rest run on bare metal{})",
            t.files,
            t.at_build,
            if t.missing > 0 { format!("; {} files did not report", t.missing) } else { String::new() }
        );
        if t.known_files > 0 {
            println!(
                "known failures {suite}: {} in {} listed files (not counted above)",
                t.known_failed, t.known_files
            );
        }
        totals.0 += t.passed;
        totals.1 += t.failed;
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn planned(id: &str, static_passed: u64, static_failed: u64) -> PlannedFile {
        PlannedFile {
            id: id.into(),
            script: String::new(),
            static_passed,
            static_failed,
        }
    }

    #[test]
    fn console_lines_become_file_runs_with_their_mismatches() {
        let mut runs = BTreeMap::new();
        let console = "kiln boot\nspec-file wasm-v1/a.wast: 7 passed, 2 failed\n  line 3: bad\n  line 9: worse\nspec-file wasm-v2/b.wast: 4 passed, 0 failed\n  stray\nkiln: done\n  after\n";
        parse_console(console, &mut runs);
        let a = &runs["wasm-v1/a.wast"];
        assert_eq!((a.passed, a.failed), (7, 2));
        assert_eq!(a.detail, ["  line 3: bad", "  line 9: worse"]);
        let b = &runs["wasm-v2/b.wast"];
        assert_eq!((b.passed, b.failed), (4, 0));
        assert_eq!(b.detail, ["  stray"]);
    }

    #[test]
    fn totals_add_build_time_counts_and_fail_files_that_never_reported() {
        let mut runs = BTreeMap::new();
        parse_console("spec-file wasm-v1/a.wast: 10 passed, 0 failed\n", &mut runs);
        let files = [
            planned("wasm-v1/a.wast", 5, 0),
            planned("wasm-v1/b.wast", 2, 1),
        ];
        assert_eq!(report(&[], &files, &runs, &[]), (15 + 2, 1 + 1));
        assert_eq!(
            report(&["wasm-v2".into()], &files[..1], &runs, &[]),
            (15, 0)
        );
    }

    #[test]
    fn known_failures_count_apart_and_stale_entries_fail() {
        let mut runs = BTreeMap::new();
        parse_console(
            "spec-file wasm-v1/a.wast: 3 passed, 2 failed\nspec-file wasm-v1/b.wast: 4 passed, 0 failed\n",
            &mut runs,
        );
        let files = [
            planned("wasm-v1/a.wast", 0, 0),
            planned("wasm-v1/b.wast", 0, 0),
        ];
        assert_eq!(
            report(&[], &files[..1], &runs, &["wasm-v1/a.wast".into()]),
            (3, 0)
        );
        assert_eq!(
            report(&[], &files, &runs, &["wasm-v1/b.wast".into()]),
            (7, 2 + 1)
        );
    }

    #[test]
    fn arguments_are_checked() {
        let args = |a: &[&str]| parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        let o = args(&["--qemu", "--filter", "i32", "--jobs", "3"]).unwrap();
        assert_eq!((o.filter.as_str(), o.jobs), ("i32", 3));
        assert!(args(&["--jobs", "0"]).is_err());
        assert!(args(&["--filter"]).is_err());
        assert!(args(&["--bogus"]).is_err());
    }
}
