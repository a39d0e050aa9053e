//! kiln-firmware: the ROM QEMU runs instead of its own firmware on profiles that say
//! `firmware = "kiln"` (`targets/*.toml`).
//!
//! It is all assembly (`firmware.s`): real mode at the reset vector, 32-bit protected
//! mode, then three reads from QEMU's fw_cfg (the kernel's PVH entry point, the command
//! line and the memory map), an `hvm_start_info` built from them, and a jump to the
//! kernel that QEMU has already loaded from `-kernel`. `firmware.ld` lays it out as a
//! flat 64 KiB ROM image ending at 4 GiB; xtask builds it and passes it as `-bios`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
core::arch::global_asm!(include_str!("firmware.s"));

/// Unreachable: the firmware has no Rust code, but a `no_std` binary must name one.
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// On the host there is no ROM to run: say how it is built and used.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("kiln-firmware is a ROM image for QEMU: `cargo xtask build` builds it (target x86_64-unknown-none) for the profiles that use it");
    std::process::exit(2);
}
