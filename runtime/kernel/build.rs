//! Links the kernel with kiln's linker script, the program bundle and any AOT objects.
//!
//! xtask passes:
//! - `KILN_LINKER_SCRIPT`: the linker script's absolute path (a plain `cargo build` falls
//!   back to the repository's `linker/kernel.ld`);
//! - `KILN_BUNDLE`: the program bundle (`kiln_abi::bundle`) to embed; without it the
//!   image carries an empty bundle and runs no programs;
//! - `KILN_OBJECTS`: a file listing ELF objects (code compiled ahead of time) to link in,
//!   one path per line.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=KILN_LINKER_SCRIPT");
    println!("cargo:rerun-if-env-changed=KILN_BUNDLE");
    println!("cargo:rerun-if-env-changed=KILN_OBJECTS");
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo"));

    let script = match std::env::var_os("KILN_LINKER_SCRIPT") {
        Some(path) => PathBuf::from(path),
        None => manifest.join("../../linker/kernel.ld"),
    };
    println!("cargo:rerun-if-changed={}", script.display());

    let bundle_out = out_dir.join("bundle.bin");
    match std::env::var_os("KILN_BUNDLE") {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            std::fs::copy(&path, &bundle_out)
                .unwrap_or_else(|e| panic!("cannot read KILN_BUNDLE {}: {e}", path.display()));
        }
        None => {
            std::fs::write(&bundle_out, kiln_abi::bundle::header(0)).expect("OUT_DIR is writable")
        }
    }

    // Only the kernel target links with the script: the host-side `cargo check` of the
    // workspace (clippy, tests) builds this crate for the host and must not see it.
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        // The target defaults to a static PIE; kiln's image sits at a fixed address and its
        // 32-bit boot code uses absolute addresses, so link it as a plain static executable.
        println!("cargo:rustc-link-arg-bins=--no-pie");
        if let Some(list) = std::env::var_os("KILN_OBJECTS") {
            let list = PathBuf::from(list);
            println!("cargo:rerun-if-changed={}", list.display());
            let objects = std::fs::read_to_string(&list)
                .unwrap_or_else(|e| panic!("cannot read KILN_OBJECTS {}: {e}", list.display()));
            for object in objects.lines().filter(|l| !l.is_empty()) {
                println!("cargo:rerun-if-changed={object}");
                println!("cargo:rustc-link-arg-bins={object}");
            }
        }
    }
}
