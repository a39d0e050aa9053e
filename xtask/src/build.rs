//! `cargo xtask build`: the bare-metal image.
//!
//! Builds `runtime/kernel` for `x86_64-unknown-none` with the profile's linker script
//! and frame pointers (for backtraces), then copies the ELF to a name that says which
//! profile and build it is, and reports its size.

use crate::bundle::BundleWriter;
use crate::firmware::{self, Firmware};
use crate::profile::{self, Profile};
use crate::{cmd, prereq, ImageOpts};
use anyhow::{Context, Result};
use object::{Object, ObjectSegment};
use std::path::PathBuf;

/// The Rust target every kiln image is built for.
pub const KERNEL_TARGET: &str = "x86_64-unknown-none";

/// A built, bootable image.
#[derive(Clone)]
pub struct BuiltImage {
    pub profile: Profile,
    pub path: PathBuf,
    /// The ROM QEMU boots it with (`-bios`), when the profile does not use QEMU's own.
    pub firmware: Option<PathBuf>,
}

/// Sizes of an image: on disk, and what the loader copies into memory from the file.
pub struct ImageSize {
    pub file: u64,
    pub loaded: u64,
}

impl BuiltImage {
    /// `path` booted on `profile` with the firmware the profile names.
    pub fn new(profile: Profile, path: PathBuf) -> Result<BuiltImage> {
        let firmware = match profile.firmware {
            Firmware::Qemu => None,
            Firmware::Kiln => Some(firmware::rom()?),
        };
        Ok(BuiltImage {
            profile,
            path,
            firmware,
        })
    }

    /// The image's sizes, read from its ELF program headers.
    pub fn size(&self) -> Result<ImageSize> {
        let data = std::fs::read(&self.path)
            .with_context(|| format!("reading {}", self.path.display()))?;
        let elf = object::File::parse(&*data)
            .with_context(|| format!("{} is not an ELF file", self.path.display()))?;
        let loaded = elf.segments().map(|s| s.file_range().1).sum();
        Ok(ImageSize {
            file: data.len() as u64,
            loaded,
        })
    }

    /// Prints the one-line summary `build` promises: path and size.
    pub fn print_summary(&self) {
        match self.size() {
            Ok(size) => eprintln!(
                "image: {} ({} KiB loaded, {} KiB file with symbols) for {}",
                self.path.display(),
                size.loaded.div_ceil(1024),
                size.file.div_ceil(1024),
                self.profile.name
            ),
            Err(err) => eprintln!("image: {} ({err})", self.path.display()),
        }
        eprintln!(
            "profile {}: {}; generated code may use {}",
            self.profile.name,
            self.profile.description,
            self.profile.cpu_features.join(" ")
        );
    }
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| profile::root().join("target"))
}

/// What goes into an image besides the runtime itself.
#[derive(Default)]
pub struct Contents {
    /// Cargo features of the kernel: the language runtimes the programs need (`som`,
    /// `wasm`) and test features (`selftest`).
    pub features: Vec<String>,
    /// The programs to embed, if any.
    pub bundle: Option<BundleWriter>,
    /// ELF objects (code compiled ahead of time) to link in.
    pub objects: Vec<PathBuf>,
    /// A word naming these contents in the image's file name (`som`, `hello`...).
    pub tag: Option<String>,
}

/// Builds the kernel image for `opts` with `contents`.
pub fn build_image(opts: &ImageOpts, contents: &Contents) -> Result<BuiltImage> {
    let features = &contents.features;
    let profile = profile::load(&opts.profile)?;
    prereq::ensure_rust_target(KERNEL_TARGET)?;
    let root = profile::root();
    let script = root.join(&profile.linker_script);

    let mode = if opts.release { "release" } else { "debug" };
    let mut name = format!("{}-{mode}", profile.name);
    for word in features.iter().chain(&contents.tag) {
        name.push('-');
        name.push_str(word);
    }
    let out_dir = target_dir().join("kiln");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;

    let mut cargo = cmd::cargo();
    if let Some(bundle) = &contents.bundle {
        let path = out_dir.join(format!("{name}.bundle"));
        std::fs::write(&path, bundle.to_bytes()?)
            .with_context(|| format!("writing {}", path.display()))?;
        cargo.env("KILN_BUNDLE", path);
    }
    if !contents.objects.is_empty() {
        // A file rather than the variable itself: an image may link thousands of
        // objects (the spec suite's), too many for an echoed command line.
        let list = out_dir.join(format!("{name}.objects"));
        let mut text = String::new();
        for object in &contents.objects {
            let object = object
                .to_str()
                .with_context(|| format!("{} is not a UTF-8 path", object.display()))?;
            text.push_str(object);
            text.push('\n');
        }
        std::fs::write(&list, text).with_context(|| format!("writing {}", list.display()))?;
        cargo.env("KILN_OBJECTS", list);
    }
    cargo
        .current_dir(&root)
        .args([
            "build",
            "--package",
            "kiln-kernel",
            "--target",
            KERNEL_TARGET,
        ])
        .env("KILN_LINKER_SCRIPT", &script)
        .env(
            "CARGO_TARGET_X86_64_UNKNOWN_NONE_RUSTFLAGS",
            "-C force-frame-pointers=yes",
        );
    if opts.release {
        cargo.arg("--release");
    }
    // Only the runtimes the programs need (`Contents::features` names them).
    cargo.arg("--no-default-features");
    if !features.is_empty() {
        cargo.args(["--features", &features.join(",")]);
    }
    cmd::run(&mut cargo, "building the kernel")?;

    let built = target_dir()
        .join(KERNEL_TARGET)
        .join(mode)
        .join("kiln-kernel");
    let path = out_dir.join(format!("{name}.elf"));
    std::fs::copy(&built, &path)
        .with_context(|| format!("copying {} to {}", built.display(), path.display()))?;
    BuiltImage::new(profile, path)
}
