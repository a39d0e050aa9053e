//! `cargo xtask bench`: benchmarks that print their figures.
//!
//! Times inside QEMU/TCG are only compared with other times inside QEMU/TCG; the
//! language benchmarks run on the hosted platform, beside their peers.

use crate::build::{build_image, BuiltImage, Contents};
use crate::programs::{self, ProgramOpts};
use crate::{hosted, profile, qemu, ImageOpts};
use anyhow::{bail, Result};
use clap::Subcommand;
use std::time::Duration;

#[derive(Subcommand)]
pub enum Which {
    /// Boot the base image and the WASM hello-world image repeatedly on each profile:
    /// spawn → exit, spawn → first output / first program line, min/median/max.
    Boot {
        /// Boots per profile.
        #[arg(long, default_value_t = 20)]
        runs: usize,
        /// Only this profile (default: all of them).
        #[arg(long = "target")]
        profile: Option<String>,
    },
    /// Compile throughput of the WASM compiler on a module.
    Compile { file: String },
    /// Classic Smalltalk benchmarks on the hosted runtime.
    Som {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// Minimum, median and maximum of a set of durations, in milliseconds.
fn spread(times: &mut [Duration]) -> (f64, f64, f64) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    (
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
    )
}

/// The line the WASM hello-world example prints first.
const HELLO_LINE: &str = "Hello from WebAssembly on kiln!";

/// Times of `runs` boots of `image`: spawn→exit, spawn→first output, and spawn→arrival
/// of `line` when given.
struct Boots {
    exits: Vec<Duration>,
    firsts: Vec<Duration>,
    lines: Vec<Duration>,
}

fn boot_image(image: &BuiltImage, runs: usize, line: Option<&str>) -> Result<Boots> {
    let mut boots = Boots {
        exits: Vec::with_capacity(runs),
        firsts: Vec::with_capacity(runs),
        lines: Vec::with_capacity(runs),
    };
    for _ in 0..runs {
        let run = qemu::run_captured(image, "", Duration::from_secs(30), None)?;
        if run.ending != qemu::Ending::Guest(0) {
            bail!(
                "{} did not boot and exit cleanly: {}\n{}",
                image.path.display(),
                run.ending.describe(),
                run.output
            );
        }
        boots.exits.push(run.elapsed);
        boots.firsts.extend(run.first_output);
        if let Some(line) = line {
            let Some(t) = run.time_of(line) else {
                bail!(
                    "{} never printed {line:?}\n{}",
                    image.path.display(),
                    run.output
                );
            };
            boots.lines.push(t);
        }
    }
    Ok(boots)
}

/// `min / median / max` of `times`, or `-` when there are none.
fn spread_text(times: &mut [Duration]) -> String {
    if times.is_empty() {
        return "-".to_string();
    }
    let (min, med, max) = spread(times);
    format!("{min:.1} / {med:.1} / {max:.1}")
}

fn boot(runs: usize, only: Option<String>) -> Result<i32> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    let profiles = match only {
        Some(p) => vec![p],
        None => profile::names()?,
    };
    let mut report = Vec::new();
    for name in profiles {
        let opts = ImageOpts {
            profile: name.clone(),
            release: true,
        };
        let base = build_image(&opts, &Contents::default())?;
        let hello_programs = ProgramOpts {
            inputs: vec![profile::root()
                .join("examples/wasm/hello.wat")
                .display()
                .to_string()],
            ..ProgramOpts::default()
        };
        let hello = build_image(&opts, &programs::contents(&hello_programs, &name)?)?;
        let mut b = boot_image(&base, runs, None)?;
        report.push(format!(
            "{name:<14} base        {:>5} KiB   spawn→exit {}   spawn→first output {}",
            base.size()?.loaded.div_ceil(1024),
            spread_text(&mut b.exits),
            spread_text(&mut b.firsts),
        ));
        let mut h = boot_image(&hello, runs, Some(HELLO_LINE))?;
        report.push(format!(
            "{name:<14} wasm hello  {:>5} KiB   spawn→exit {}   spawn→first program line {}",
            hello.size()?.loaded.div_ceil(1024),
            spread_text(&mut h.exits),
            spread_text(&mut h.lines),
        ));
    }
    println!("boot benchmark: {runs} runs per image, release images, TCG; times in ms as min / median / max");
    println!("(base: no programs; wasm hello: examples/wasm/hello.wat compiled ahead of time)");
    for line in report {
        println!("{line}");
    }
    Ok(0)
}

pub fn run(which: Which) -> Result<i32> {
    match which {
        Which::Boot { runs, profile } => boot(runs, profile),
        Which::Compile { file } => hosted::run_passthrough("compile-bench", &[file]),
        Which::Som { args } => hosted::run_passthrough("som-bench", &args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_sorts_and_takes_the_middle() {
        let mut t: Vec<Duration> = [5, 1, 3]
            .iter()
            .map(|&ms| Duration::from_millis(ms))
            .collect();
        assert_eq!(spread(&mut t), (1.0, 3.0, 5.0));
    }
}
