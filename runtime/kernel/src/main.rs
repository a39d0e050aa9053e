//! kiln's bootable image: a `no_std` x86-64 kernel booted through PVH.
//!
//! `boot` takes the CPU from the VMM's 32-bit entry to `start::kiln_main` in long mode
//! (SSE already on), which sets up the machine in this order: serial console,
//! GDT/TSS/IDT, boot information and command line, CPU feature check, frames, page
//! tables, heap, clock (whose TSC measurement starts right after the IDT, so that the
//! steps between fill its window).
//! Then it runs what the image holds. The language runtimes see the machine only through
//! `kiln_abi::Platform`, which `platform` implements.
//!
//! The kernel only runs on `x86_64-unknown-none`. Built for the host, the crate is just
//! its hardware-independent modules and their unit tests (`cargo test -p kiln-kernel`).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

#[cfg(any(target_os = "none", test))]
mod calendar;
#[cfg(any(target_os = "none", test))]
mod cmdline;

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
mod clock;
#[cfg(target_os = "none")]
mod cpu;
#[cfg(target_os = "none")]
mod exit;
#[cfg(target_os = "none")]
mod fault;
#[cfg(target_os = "none")]
mod frames;
#[cfg(target_os = "none")]
mod gdt;
#[cfg(target_os = "none")]
mod heap;
#[cfg(target_os = "none")]
mod idt;
#[cfg(target_os = "none")]
mod lock;
#[cfg(target_os = "none")]
mod log;
#[cfg(all(
    target_os = "none",
    any(feature = "som", feature = "wasm", feature = "selftest")
))]
mod on_stack;
#[cfg(target_os = "none")]
mod paging;
#[cfg(target_os = "none")]
mod platform;
#[cfg(target_os = "none")]
mod port;
#[cfg(target_os = "none")]
mod programs;
#[cfg(target_os = "none")]
mod rtc;
#[cfg(all(target_os = "none", feature = "selftest"))]
mod selftest;
#[cfg(target_os = "none")]
mod serial;
#[cfg(all(target_os = "none", feature = "som"))]
mod som;
#[cfg(all(target_os = "none", feature = "spectest"))]
mod spec;
#[cfg(all(target_os = "none", any(feature = "som", feature = "selftest")))]
mod stack;
#[cfg(target_os = "none")]
mod start;
#[cfg(target_os = "none")]
mod start_info;
#[cfg(all(target_os = "none", feature = "wasm"))]
mod wasm;
#[cfg(all(target_os = "none", feature = "wasm"))]
mod wasm_machine;

/// On the host there is no kernel to run: say how to build and boot it.
#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("kiln-kernel runs on bare metal only: build it with `cargo xtask build` (target x86_64-unknown-none)");
    std::process::exit(2);
}
