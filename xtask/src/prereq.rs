//! Prerequisites xtask installs itself: the rustup targets and QEMU.
//!
//! A missing rustup target is added with rustup. A missing QEMU is installed with
//! apt-get when xtask runs as root; otherwise xtask stops with the exact command.

use crate::cmd;
use anyhow::{bail, Result};
use std::process::Command;

/// The QEMU binary every profile uses.
pub const QEMU: &str = "qemu-system-x86_64";

/// Makes sure rustup has `target` for the pinned toolchain.
pub fn ensure_rust_target(target: &str) -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    let out = match installed {
        Ok(out) if out.status.success() => out,
        // Without rustup we cannot check; cargo will say clearly if the target is missing.
        _ => return Ok(()),
    };
    if String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.trim() == target)
    {
        return Ok(());
    }
    eprintln!("rust target {target} is missing; adding it");
    cmd::run(
        Command::new("rustup").args(["target", "add", target]),
        &format!("adding the rust target {target}"),
    )
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Makes sure `qemu-system-x86_64` is on PATH, installing it when we may.
pub fn ensure_qemu() -> Result<()> {
    if cmd::on_path(QEMU) {
        return Ok(());
    }
    let install = "apt-get update && apt-get install -y qemu-system-x86";
    if !is_root() || !cmd::on_path("apt-get") {
        bail!("{QEMU} is not installed; install it with `sudo sh -c '{install}'` (Debian/Ubuntu) and run this again");
    }
    eprintln!("{QEMU} is missing; installing it with apt-get");
    cmd::run(
        Command::new("apt-get").arg("update"),
        "updating the apt package lists",
    )?;
    cmd::run(
        Command::new("apt-get")
            .args(["install", "-y", "qemu-system-x86"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
        "installing QEMU",
    )?;
    if !cmd::on_path(QEMU) {
        bail!("apt-get installed qemu-system-x86 but {QEMU} is still not on PATH");
    }
    Ok(())
}
