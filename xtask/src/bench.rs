//! `cargo xtask bench`: benchmarks that print their figures.
//!
//! Times inside QEMU/TCG are only compared with other times inside QEMU/TCG; the
//! language benchmarks run on the hosted platform, beside their peers.

use crate::build::{build_image, Contents};
use crate::{hosted, profile, qemu, ImageOpts};
use anyhow::{bail, Result};
use clap::Subcommand;
use std::time::Duration;

#[derive(Subcommand)]
pub enum Which {
    /// Boot the base image repeatedly on each profile: spawn → exit, min/median/max.
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
        let image = build_image(
            &ImageOpts {
                profile: name.clone(),
                release: true,
            },
            &Contents::default(),
        )?;
        let size = image.size()?;
        let mut exits = Vec::with_capacity(runs);
        let mut firsts = Vec::with_capacity(runs);
        for _ in 0..runs {
            let run = qemu::run_captured(&image, "", Duration::from_secs(30), None)?;
            if run.ending != qemu::Ending::Guest(0) {
                bail!(
                    "the base image did not boot cleanly on {name}: {}\n{}",
                    run.ending.describe(),
                    run.output
                );
            }
            exits.push(run.elapsed);
            firsts.extend(run.first_output);
        }
        let (emin, emed, emax) = spread(&mut exits);
        let first = if firsts.is_empty() {
            "-".to_string()
        } else {
            let (fmin, fmed, fmax) = spread(&mut firsts);
            format!("{fmin:.1} / {fmed:.1} / {fmax:.1}")
        };
        report.push(format!(
            "{name:<14} {:>6} KiB   spawn→exit {emin:.1} / {emed:.1} / {emax:.1}   spawn→first output {first}",
            size.loaded.div_ceil(1024)
        ));
    }
    println!("boot benchmark: {runs} runs per profile, release image, TCG; times in ms as min / median / max");
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
