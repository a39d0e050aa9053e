//! kiln's own firmware for profiles that ask for it (`firmware = "kiln"`).
//!
//! QEMU's default firmware for `microvm` (qboot) costs about 150 translated blocks under
//! TCG before it reaches a PVH kernel; `runtime/firmware` goes from the reset vector to
//! the kernel's PVH entry in about 40. This module builds it and hands QEMU its ROM
//! image through `-bios`. The image itself stays a plain PVH ELF that boots with QEMU's
//! own firmware too (the other profiles do so).

use crate::build::{target_dir, KERNEL_TARGET};
use crate::{cmd, profile};
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::OnceLock;

/// Which firmware QEMU runs before the kernel.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Firmware {
    /// QEMU's default for the machine (qboot, SeaBIOS), which loads the PVH kernel.
    #[default]
    Qemu,
    /// `runtime/firmware`: straight from reset to the PVH entry.
    Kiln,
}

/// Size of the ROM image: QEMU maps `-bios` files just below 4 GiB and wants a multiple
/// of 64 KiB; `runtime/firmware/firmware.ld` lays the ROM out as exactly this.
const ROM_SIZE: usize = 64 * 1024;

/// The ROM image's path, once this process has built it.
static ROM: OnceLock<PathBuf> = OnceLock::new();

/// Builds `runtime/firmware` (once per xtask run) and returns the path of its ROM image.
pub fn rom() -> Result<PathBuf> {
    if let Some(path) = ROM.get() {
        return Ok(path.clone());
    }
    let path = build()?;
    Ok(ROM.get_or_init(|| path).clone())
}

fn build() -> Result<PathBuf> {
    let mut cargo = cmd::cargo();
    cargo.current_dir(profile::root()).args([
        "build",
        "--package",
        "kiln-firmware",
        "--target",
        KERNEL_TARGET,
        "--release",
    ]);
    cmd::run(&mut cargo, "building the firmware")?;
    let built = target_dir()
        .join(KERNEL_TARGET)
        .join("release")
        .join("kiln-firmware");
    let rom = std::fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    if rom.len() != ROM_SIZE {
        bail!(
            "{} is {} bytes, not the {ROM_SIZE}-byte ROM image runtime/firmware/firmware.ld lays out",
            built.display(),
            rom.len()
        );
    }
    let dir = target_dir().join("kiln");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("kiln-firmware.rom");
    std::fs::write(&path, rom).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
