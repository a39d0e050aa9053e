//! Machine profiles: one TOML file per profile in `targets/`.

use crate::firmware::Firmware;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A machine profile as written in `targets/NAME.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Profile {
    #[serde(skip)]
    pub name: String,
    pub description: String,
    /// QEMU `-M` value.
    pub machine: String,
    /// QEMU `-cpu` value.
    pub cpu: String,
    /// CPU features the generated code may assume on this profile.
    pub cpu_features: Vec<String>,
    /// QEMU `-m` value.
    pub memory: String,
    /// QEMU `-device` values.
    pub devices: Vec<String>,
    /// Linker script, relative to the workspace root.
    pub linker_script: PathBuf,
    /// The firmware QEMU runs before the kernel (default: QEMU's own).
    #[serde(default)]
    pub firmware: Firmware,
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives inside the workspace")
        .to_path_buf()
}

/// The names of all profiles in `targets/`, sorted.
pub fn names() -> Result<Vec<String>> {
    let dir = root().join("targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let path = e.path();
            let stem = path.file_stem()?.to_string_lossy().into_owned();
            (path.extension()? == "toml").then_some(stem)
        })
        .collect();
    names.sort();
    Ok(names)
}

/// Loads the profile called `name`.
pub fn load(name: &str) -> Result<Profile> {
    let path = root().join("targets").join(format!("{name}.toml"));
    if !path.is_file() {
        bail!(
            "there is no machine profile `{name}`; choose one of: {}",
            names()?.join(", ")
        );
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut profile: Profile =
        toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    profile.name = name.to_string();
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_parses_and_keeps_the_debug_exit_device() {
        let names = names().unwrap();
        for expected in ["qemu-microvm", "qemu-q35", "qemu-pc"] {
            assert!(names.iter().any(|n| n == expected), "missing {expected}");
        }
        for name in names {
            let p = load(&name).unwrap();
            assert!(
                p.devices
                    .iter()
                    .any(|d| d.starts_with("isa-debug-exit,iobase=0xf4")),
                "{name} lacks isa-debug-exit at 0xf4"
            );
            assert!(
                root().join(&p.linker_script).is_file() || !root().join("linker").exists(),
                "{name}: linker script {} missing",
                p.linker_script.display()
            );
        }
    }

    #[test]
    fn unknown_profile_names_the_choices() {
        let err = load("qemu-nonesuch").unwrap_err().to_string();
        assert!(err.contains("qemu-microvm"), "{err}");
    }
}
