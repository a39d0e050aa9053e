//! How much code one boot makes QEMU's TCG translate, phase by phase.
//!
//! Under TCG, start-up time is mostly translation: every distinct basic block costs
//! microseconds the first time it runs and next to nothing afterwards. So the number of
//! blocks translated is the start-up cost that does not drift with the host's load, and
//! what a change to the boot path should be judged by (its times, from `bench boot`,
//! confirm it). QEMU logs each block it translates (`-d in_asm`); this module boots an
//! image once with that log, names each block's function from the image's symbols and
//! cuts the sequence into phases at the first block of:
//!
//! | phase | from |
//! |---|---|
//! | firmware | reset (the profile's firmware, kiln's or QEMU's, then kiln's assembly entry in `boot`, up to `kiln_main`) |
//! | kernel | `kiln_main` |
//! | program | `kiln_kernel::programs::run_all` |
//! | output | `kiln_wasm::wasi::files::Files::fd_write` (the program's first write) |
//!
//! A phase an image never reaches counts 0 blocks.

use crate::build::BuiltImage;
use crate::qemu::{self, Ending};
use crate::symbols::Symbols;
use anyhow::{bail, Context, Result};
use std::time::Duration;

/// Longest a logged boot may take (the log slows QEMU down several times).
const TIMEOUT: Duration = Duration::from_secs(60);

/// Where each phase after the firmware starts: a function name prefix.
const PHASES: [(&str, &str); 3] = [
    ("kernel", "kiln_main"),
    ("program", "kiln_kernel::programs::run_all"),
    ("output", "kiln_wasm::wasi::files::Files::fd_write"),
];

/// Blocks translated in each phase of one boot: firmware, then [`PHASES`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks(pub [usize; 1 + PHASES.len()]);

impl Blocks {
    /// `firmware N · kernel N · program N · output N (total N)`.
    pub fn describe(&self) -> String {
        let names = std::iter::once("firmware").chain(PHASES.iter().map(|p| p.0));
        let parts: Vec<String> = names
            .zip(self.0)
            .map(|(name, n)| format!("{name} {n}"))
            .collect();
        format!(
            "{} (total {})",
            parts.join(" · "),
            self.0.iter().sum::<usize>()
        )
    }
}

/// Boots `image` once with QEMU's translation log and counts its blocks by phase.
pub fn count(image: &BuiltImage) -> Result<Blocks> {
    let log = image.path.with_extension("in_asm.log");
    let mut qemu = qemu::command(image, "tcg", "");
    qemu.args(["-d", "in_asm", "-D"]).arg(&log);
    let run = qemu::capture(qemu, TIMEOUT, None)?;
    if run.ending != Ending::Guest(0) {
        bail!(
            "{} did not boot and exit cleanly with QEMU's translation log: {}\n{}",
            image.path.display(),
            run.ending.describe(),
            run.output
        );
    }
    let text = std::fs::read_to_string(&log)
        .with_context(|| format!("reading QEMU's log {}", log.display()))?;
    let _ = std::fs::remove_file(&log);
    let symbols = Symbols::load(&image.path)?;
    Ok(phases(
        block_addresses(&text).map(|a| symbols.lookup(a).map_or("", |(name, _)| name)),
    ))
}

/// The address of each block in a `-d in_asm` log: the first address line after each
/// `IN:` header.
fn block_addresses(log: &str) -> impl Iterator<Item = u64> + '_ {
    let mut after_header = false;
    log.lines().filter_map(move |line| {
        if line.starts_with("IN:") {
            after_header = true;
            return None;
        }
        let hex = line.strip_prefix("0x")?.split(':').next()?;
        let addr = u64::from_str_radix(hex, 16).ok()?;
        std::mem::replace(&mut after_header, false).then_some(addr)
    })
}

/// Counts blocks (given as their function names, in translation order) by phase.
fn phases<'a>(functions: impl Iterator<Item = &'a str>) -> Blocks {
    let mut counts = [0; 1 + PHASES.len()];
    let mut phase = 0;
    for name in functions {
        // Phases only move forward: a later phase's function may run before (the
        // kernel writes with the same routines a program does).
        while let Some((_, start)) = PHASES.get(phase) {
            if !name.starts_with(start) {
                break;
            }
            phase += 1;
        }
        counts[phase] += 1;
    }
    Blocks(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_is_cut_into_phases_at_their_first_functions() {
        let log = "\
----------------
IN:
0x000fff00:  cli
0x000fff01:  cld

----------------
IN: kiln_main
0x00100000:  push rbp
----------------
IN:
0x00100010:  ret
";
        assert_eq!(
            block_addresses(log).collect::<Vec<_>>(),
            [0xfff00, 0x100000, 0x100010]
        );
        let names = [
            "",
            "",
            "kiln_main",
            "kiln_kernel::serial::write_bytes",
            "kiln_kernel::programs::run_all",
            "kiln_wasm::instance::instantiate::instantiate_template",
            "kiln_wasm::wasi::files::Files::fd_write",
            "kiln_kernel::serial::write_bytes",
            "kiln_main",
        ];
        assert_eq!(phases(names.into_iter()), Blocks([2, 2, 2, 3]));
        // No program: everything after the kernel's start is the kernel's.
        assert_eq!(
            phases(["", "kiln_main", "x", "y"].into_iter()),
            Blocks([1, 3, 0, 0])
        );
        assert_eq!(
            Blocks([1, 2, 3, 4]).describe(),
            "firmware 1 · kernel 2 · program 3 · output 4 (total 10)"
        );
    }
}
