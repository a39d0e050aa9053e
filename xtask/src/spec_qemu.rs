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

fn read_plan(dir: &Path) -> Result<Vec<PlannedFile>> {
    let path = dir.join("plan.txt");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    text.lines()
        .map(|l| {
            let w: Vec<&str> = l.split(' ').collect();
            match w[..] {
                ["file", id, script, p, f] => Ok(PlannedFile {
                    id: id.into(),
                    script: script.into(),
                    static_passed: p.parse()?,
                    static_failed: f.parse()?,
                }),
                _ => bail!("{}: bad line `{l}`", path.display()),
            }
        })
        .collect()
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
        std::fs::write(&object, aot::object_bytes(&name, &module)?)
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
    let files = read_plan(&dir)?;
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
    let totals = report(&files, &runs);
    println!(
        "spec --qemu: machines ran {:.1} s, {:.1} s in all",
        booted.elapsed().as_secs_f64(),
        start.elapsed().as_secs_f64()
    );
    Ok((totals.0 as usize, totals.1 as usize))
}

/// Prints the files that mismatched and one line per suite; returns the assertions
/// passed and failed (a file no machine reported on counts as one failure).
fn report(files: &[PlannedFile], runs: &BTreeMap<String, FileRun>) -> (u64, u64) {
    let mut suites: BTreeMap<&str, [u64; 5]> = BTreeMap::new();
    for f in files {
        let suite = f.id.split('/').next().unwrap_or("");
        let t = suites.entry(suite).or_default();
        t[2] += f.static_passed + f.static_failed;
        let (passed, failed) = match runs.get(&f.id) {
            Some(r) => {
                if r.failed > 0 || f.static_failed > 0 {
                    println!(
                        "{}: {} passed, {} failed",
                        f.id,
                        r.passed + f.static_passed,
                        r.failed + f.static_failed
                    );
                    for d in &r.detail {
                        println!("{d}");
                    }
                }
                (r.passed, r.failed)
            }
            None => {
                println!("{}: did not report (the machine stopped before it)", f.id);
                t[3] += 1;
                (0, 1)
            }
        };
        t[0] += passed + f.static_passed;
        t[1] += failed + f.static_failed;
        t[4] += 1;
    }
    let mut totals = (0, 0);
    for (suite, [passed, failed, at_build, missing, nfiles]) in &suites {
        println!("spec {suite}: {passed} passed, {failed} failed");
        println!(
            "  ({nfiles} files; {at_build} validation assertions decided at build time by the AOT compiler, the rest run on bare metal{})",
            if *missing > 0 { format!("; {missing} files did not report") } else { String::new() }
        );
        totals.0 += passed;
        totals.1 += failed;
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
        assert_eq!(report(&files, &runs), (15 + 2, 1 + 1));
        assert_eq!(report(&files[..1], &runs), (15, 0));
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
