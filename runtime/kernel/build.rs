//! Links the kernel with kiln's linker script.
//!
//! xtask passes the script's absolute path in `KILN_LINKER_SCRIPT`; a plain `cargo build`
//! falls back to the repository's `linker/kernel.ld`.

use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=KILN_LINKER_SCRIPT");
    let script = match std::env::var_os("KILN_LINKER_SCRIPT") {
        Some(path) => PathBuf::from(path),
        None => {
            let manifest =
                std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
            PathBuf::from(manifest).join("../../linker/kernel.ld")
        }
    };
    println!("cargo:rerun-if-changed={}", script.display());
    // Only the kernel target links with the script: the host-side `cargo check` of the
    // workspace (clippy, tests) builds this crate for the host and must not see it.
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        // The target defaults to a static PIE; kiln's image sits at a fixed address and its
        // 32-bit boot code uses absolute addresses, so link it as a plain static executable.
        println!("cargo:rustc-link-arg-bins=--no-pie");
    }
}
