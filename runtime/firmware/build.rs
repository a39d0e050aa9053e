//! Links the firmware as a flat 64 KiB ROM image (`firmware.ld`), not an ELF file:
//! QEMU's `-bios` takes the bytes as they are and maps them just below 4 GiB.

fn main() {
    let manifest =
        std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let script = manifest.join("firmware.ld");
    println!("cargo:rerun-if-changed={}", script.display());
    println!("cargo:rerun-if-changed=src/firmware.s");
    // Only the bare-metal target links the ROM; a host `cargo check`/`clippy` of the
    // workspace builds this crate for the host and must not see these arguments.
    if std::env::var("TARGET").as_deref() == Ok("x86_64-unknown-none") {
        println!("cargo:rustc-link-arg-bins=-T{}", script.display());
        println!("cargo:rustc-link-arg-bins=--no-pie");
        println!("cargo:rustc-link-arg-bins=--oformat=binary");
    }
}
