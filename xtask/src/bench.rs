//! `cargo xtask bench`: benchmarks that print their figures.
//!
//! Times inside QEMU/TCG are only compared with other times inside QEMU/TCG; the
//! language benchmarks run on the hosted platform, beside their peers.

use crate::build::{build_image, target_dir, BuiltImage, Contents};
use crate::programs::{self, ProgramOpts};
use crate::{blocks, floor};
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

/// One image `bench boot` boots: its times so far.
struct Subject {
    label: &'static str,
    image: BuiltImage,
    /// A line whose arrival is timed (the first program line).
    line: Option<&'static str>,
    exits: Vec<Duration>,
    firsts: Vec<Duration>,
    lines: Vec<Duration>,
}

impl Subject {
    fn new(label: &'static str, image: BuiltImage, line: Option<&'static str>) -> Self {
        Subject {
            label,
            image,
            line,
            exits: Vec::new(),
            firsts: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// Boots the image once and records its times.
    fn boot_once(&mut self) -> Result<()> {
        let run = qemu::run_captured(&self.image, "", Duration::from_secs(30), None)?;
        if run.ending != qemu::Ending::Guest(0) {
            bail!(
                "{} did not boot and exit cleanly: {}\n{}",
                self.image.path.display(),
                run.ending.describe(),
                run.output
            );
        }
        self.exits.push(run.elapsed);
        self.firsts.extend(run.first_output);
        if let Some(line) = self.line {
            let Some(t) = run.time_of(line) else {
                bail!(
                    "{} never printed {line:?}\n{}",
                    self.image.path.display(),
                    run.output
                );
            };
            self.lines.push(t);
        }
        Ok(())
    }
}

/// The median of `times`, in milliseconds.
fn median(times: &mut [Duration]) -> f64 {
    spread(times).1
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
        let floor_path = target_dir().join("kiln").join("empty-pvh-kernel.elf");
        floor::write(&floor_path)?;
        let floor = BuiltImage::new(profile::load(&name)?, floor_path)?;
        // What kiln's firmware saves: the same empty kernel through QEMU's own.
        let qemu_firmware = floor.firmware.is_some().then(|| BuiltImage {
            firmware: None,
            ..floor.clone()
        });
        let mut subjects = vec![
            Subject::new("empty PVH kernel", floor, None),
            Subject::new("base", base, None),
            Subject::new("wasm hello", hello, Some(HELLO_LINE)),
        ];
        if let Some(image) = qemu_firmware {
            subjects.push(Subject::new("empty, QEMU's fw", image, None));
        }
        // Interleaved, so that drift in the machine's speed touches every image alike.
        for _ in 0..runs {
            for subject in &mut subjects {
                subject.boot_once()?;
            }
        }
        for s in &mut subjects {
            let (what, firsts) = match s.line {
                Some(_) => ("first program line", &mut s.lines),
                None => ("first output", &mut s.firsts),
            };
            let firsts = spread_text(firsts);
            report.push(format!(
                "{name:<14} {:<17} {:>5} KiB   spawn→exit {}   spawn→{what} {firsts}",
                s.label,
                s.image.size()?.loaded.div_ceil(1024),
                spread_text(&mut s.exits),
            ));
        }
        let floor_exit = median(&mut subjects[0].exits);
        if subjects[0].firsts.len() != runs {
            bail!("the empty kernel's byte did not reach the serial console in every boot");
        }
        let floor_first = median(&mut subjects[0].firsts);
        report.push(format!(
            "{name:<14} kiln's own share (medians over the empty kernel's): base {:+.1} ms to exit; wasm hello {:+.1} ms to its first line, {:+.1} ms to exit",
            median(&mut subjects[1].exits) - floor_exit,
            median(&mut subjects[2].lines) - floor_first,
            median(&mut subjects[2].exits) - floor_exit,
        ));
        for s in &subjects[1..3] {
            report.push(format!(
                "{name:<14} {:<17} blocks translated: {}",
                s.label,
                blocks::count(&s.image)?.describe()
            ));
        }
    }
    println!("boot benchmark: {runs} runs per image, release images, TCG; times in ms as min / median / max");
    println!("(empty PVH kernel: prints a byte and exits, the floor QEMU and the profile's firmware set;");
    println!(" empty, QEMU's fw: the same through QEMU's own firmware, on profiles that boot with kiln's;");
    println!(
        " base: kiln with no programs; wasm hello: examples/wasm/hello.wat compiled ahead of time;"
    );
    println!(" the images boot in turn;");
    println!(" blocks translated: what one boot makes TCG translate, by phase, the start-up cost that does");
    println!(" not drift with the host's load; see xtask/src/blocks.rs)");
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
