//! Running the hosted runtime (`runtime/hosted`, the runtime as a Linux process).
//!
//! `cargo xtask exec|spec|som` build `kiln-hosted` in release mode and pass their
//! arguments on; `cargo xtask test` runs its suites and reads their closing lines.

use crate::build::target_dir;
use crate::{cmd, profile};
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Builds `kiln-hosted` (release) and returns the binary's path.
pub fn build() -> Result<PathBuf> {
    let mut cargo = cmd::cargo();
    cargo
        .current_dir(profile::root())
        .args(["build", "--release", "--package", "kiln-hosted"]);
    cmd::run(&mut cargo, "building the hosted runtime")?;
    Ok(target_dir().join("release").join("kiln-hosted"))
}

/// Runs `kiln-hosted SUBCOMMAND ARGS...` with the terminal attached; returns its status.
pub fn run_passthrough(subcommand: &str, args: &[String]) -> Result<i32> {
    let bin = build()?;
    let mut run = Command::new(&bin);
    run.arg(subcommand).args(args);
    cmd::echo(&run);
    let status = run
        .status()
        .with_context(|| format!("could not start {}", bin.display()))?;
    Ok(status.code().unwrap_or(1))
}

/// Runs `kiln-hosted ARGS...` as a test suite: streams its output, and returns the
/// output and whether it exited successfully.
pub fn run_suite(bin: &PathBuf, args: &[&str]) -> Result<(String, bool)> {
    let mut run = Command::new(bin);
    run.args(args).stdin(Stdio::null());
    let out = {
        cmd::echo(&run);
        run.output()
            .with_context(|| format!("could not start {}", bin.display()))?
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    Ok((text, out.status.success()))
}
