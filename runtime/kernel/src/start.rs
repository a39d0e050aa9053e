//! Start-up: [`kiln_main`] brings the machine up step by step, then runs what the image
//! holds. The panic handler lives here too, and [`BootCell`], for what start-up sets once,
//! and [`CpuTable`], for the tables it builds for the CPU.
//!
//! The steps it calls once (`gdt::init`, `idt::init`, `clock::begin`, `BootInfo::read`,
//! `frames::init`, `paging::init`, `heap::init`, `clock::init`, `CpuName::read`,
//! `CmdLine::program_words`) are `#[inline(always)]`: under an emulator, each call and
//! return splits the code into more blocks to translate, and these run only here.

use crate::cmdline::CmdLine;
use crate::platform::KernelPlatform;
use crate::serial::Piece::{Num, Text};
use crate::start_info::BootInfo;
use crate::{
    clock, cpu, debug, exit, frames, gdt, heap, idt, log, paging, print, println, serial, warn,
};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicBool, Ordering};
use kiln_abi::{ExitStatus, Platform};

/// A value set once, during start-up, and only read after: what `spin::Once` gives
/// without its waiting and retrying, which start-up (one CPU, each value set before it
/// is used) never needs, and which an emulator would translate for every type it holds.
pub struct BootCell<T> {
    claimed: AtomicBool,
    value: UnsafeCell<MaybeUninit<T>>,
}

// SAFETY: the value is written once, by the one caller whose swap claimed the cell, and
// reached after that only through the shared reference `fill` returns.
unsafe impl<T: Send + Sync> Sync for BootCell<T> {}

impl<T> BootCell<T> {
    /// A cell whose storage starts as zero bytes, for [`BootCell::fill`].
    pub const fn zeroed() -> Self {
        BootCell {
            claimed: AtomicBool::new(false),
            value: UnsafeCell::new(MaybeUninit::zeroed()),
        }
    }

    /// Makes this the cell's one writer. Panics if the cell was set before.
    fn claim(&self) {
        let taken = self.claimed.swap(true, Ordering::Acquire);
        assert!(!taken, "a boot value was set twice");
    }

    /// Builds the value where it lies: `fill` gets it as [`BootCell::zeroed`] made it and
    /// writes what it needs. For the large boot values, which built elsewhere and moved in
    /// would cost a copy, and a zeroing first (a memset and a memcpy call each, code an
    /// emulator translates and runs). If `fill` fails, the cell stays unset for good.
    /// Panics if the cell was set before.
    ///
    /// # Safety
    /// The cell was made by [`BootCell::zeroed`], and all zero bytes are a valid `T`.
    pub unsafe fn fill<E>(&self, fill: impl FnOnce(&mut T) -> Result<(), E>) -> Result<&T, E> {
        self.claim();
        // SAFETY: `claim` made this the only writer, and nothing reads the value but
        // through the reference returned below; the caller guarantees the zero bytes
        // `zeroed` stored are a valid `T`.
        let value = unsafe { (*self.value.get()).assume_init_mut() };
        fill(value)?;
        Ok(value)
    }
}

/// A table only the CPU reads (the GDT, the TSS, the IDT): written once, by start-up,
/// before the CPU is pointed at it, and never read or written by Rust code after. So it
/// needs none of [`BootCell`]'s state and checks (each check a branch, and so one more
/// block for an emulator to translate).
pub struct CpuTable<T>(UnsafeCell<T>);

// SAFETY: the one write happens in start-up, on one CPU, before anything else can see the
// table (`CpuTable::init`'s contract); Rust code never reads it after.
unsafe impl<T: Send> Sync for CpuTable<T> {}

impl<T> CpuTable<T> {
    pub const fn new(value: T) -> Self {
        CpuTable(UnsafeCell::new(value))
    }

    /// Builds the table in place through `build` and returns it, for the CPU.
    ///
    /// # Safety
    /// Called once, by start-up, before the table is loaded into the CPU; no other
    /// reference to it exists.
    pub unsafe fn init(&self, build: impl FnOnce(&mut T)) -> &T {
        // SAFETY: the caller guarantees this is the only access so far.
        let table = unsafe { &mut *self.0.get() };
        build(table);
        table
    }
}

static BOOT_INFO: BootCell<BootInfo> = BootCell::zeroed();

/// Reports why the machine cannot start and exits with `ExitStatus::BootError`.
fn boot_error(what: impl core::fmt::Display) -> ! {
    println!("boot error: {what}");
    exit::exit(ExitStatus::BootError)
}

/// Applies the kernel's own command-line options; returns the self-test asked for.
fn apply_options(cmdline: &CmdLine<'static>) -> Option<&'static str> {
    let mut selftest = None;
    for (key, value) in cmdline.options() {
        match key {
            "log" => match log::Level::parse(value) {
                Some(level) => log::set_max_level(level),
                None => boot_error(format_args!(
                    "log={value}: expected error, warn, info, debug or trace"
                )),
            },
            "selftest" => selftest = Some(value),
            _ => warn!("unknown kernel option `{key}` ignored"),
        }
    }
    selftest
}

/// The first Rust code: called by `boot` with the physical address of `hvm_start_info`.
#[no_mangle]
extern "C" fn kiln_main(start_info: u32) -> ! {
    let entry_tsc = cpu::rdtsc();
    serial::init();
    // Exceptions first, so that even a fault while reading the boot information is
    // reported instead of silently resetting the machine.
    gdt::init();
    idt::init();
    // The TSC rate is measured while the machine is set up (see `clock::begin`).
    let calibrating = clock::begin();
    // SAFETY: `start_info` is the pointer the VMM passed in ebx; the boot page tables
    // identity-map the first GiB, where PVH loaders put the block and its data. The cell
    // is `zeroed`, and all zeros are a valid (empty) `BootInfo`.
    let read = unsafe { BOOT_INFO.fill(|info| info.read(u64::from(start_info))) };
    let info = read.unwrap_or_else(|e| boot_error(e));
    let cmdline = CmdLine::parse(info.cmdline());
    let selftest = apply_options(&cmdline);

    let features = cpu::Features::read();
    if !features.complete() {
        print!("boot error: the CPU lacks required features:");
        features.missing().for_each(|name| print!(" {name}"));
        println!(" (run QEMU with the CPU model in targets/, e.g. -cpu qemu64,+ssse3,...)");
        exit::exit(ExitStatus::BootError);
    }

    frames::init(info, paging::kernel_start(), paging::kernel_end());
    if let Err(e) = paging::init(info) {
        boot_error(format_args!("cannot build the page tables: {e:?}"));
    }
    let ram_bytes = info.ram_bytes();
    if heap::init(ram_bytes).is_none() {
        boot_error("not enough RAM for the kernel heap");
    }
    if let Err(e) = clock::init(calibrating) {
        boot_error(e);
    }
    if log::enabled(log::Level::Debug) {
        log_machine(info, &cmdline);
    }

    if let Some(name) = selftest {
        run_selftest(name);
    }
    // The TSC counts from CPU reset, so it dates both the start of the VMM's boot
    // (firmware included) and kiln's own part since `kiln_main` was entered.
    let now = clock::monotonic_ns();
    let kernel_ns = now - clock::ticks_to_ns(entry_tsc);
    let (tsc_hz, tsc_source) = clock::tsc_rate();
    let cpu_name = cpu::CpuName::read();
    serial::print_line(&[
        Text(concat!("kiln ", env!("CARGO_PKG_VERSION"), " booted: ")),
        Num((ram_bytes + (1 << 19)) >> 20, 1), // rounded: the map has holes below 1 MiB
        Text(" MiB RAM, cpu: "),
        Text(cpu_name.as_str()),
        Text(", tsc "),
        Num(tsc_hz / 1_000_000_000, 1),
        Text("."),
        Num(tsc_hz / 10_000_000 % 100, 2),
        Text(" GHz ("),
        Text(tsc_source.name()),
        Text("), boot "),
        Num(now / 1_000_000, 1),
        Text("."),
        Num(now / 100_000 % 10, 1),
        Text(" ms (kernel "),
        Num(kernel_ns / 1_000_000, 1),
        Text("."),
        Num(kernel_ns / 100_000 % 10, 1),
        Text(" ms)"),
    ]);
    let status = crate::programs::run_all(&cmdline, &cmdline.program_words());
    KernelPlatform.exit(status as i32)
}

/// Logs the memory map, the memory in use and the command line (`log=debug`).
fn log_machine(info: &BootInfo, cmdline: &CmdLine) {
    for r in info.regions() {
        debug!(
            "memory {:#018x}..{:#018x} type {}",
            r.start,
            r.end(),
            r.kind
        );
    }
    let (frames_used, frames_total) = frames::usage();
    let (heap_used, heap_size) = heap::usage();
    debug!(
        "heap: {heap_used} of {heap_size} bytes in use; frames: {frames_used} of {frames_total} in use; command line `{}`",
        info.cmdline()
    );
    if !cmdline.program_args().is_empty() {
        debug!("program arguments: {}", cmdline.program_args());
    }
}

#[cfg(feature = "selftest")]
fn run_selftest(name: &str) -> ! {
    match crate::selftest::run(name) {
        Err(e) => {
            println!("selftest {name}: {e}");
            exit::exit(ExitStatus::Failure)
        }
    }
}

#[cfg(not(feature = "selftest"))]
fn run_selftest(name: &str) -> ! {
    boot_error(format_args!(
        "selftest={name} needs an image built with `--features selftest`"
    ))
}

static PANICKING: AtomicBool = AtomicBool::new(false);

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    if PANICKING.swap(true, Ordering::Relaxed) {
        println!("panic: while panicking");
        exit::exit(ExitStatus::Panic);
    }
    match info.location() {
        Some(at) => println!("panic: {} at {}:{}", info.message(), at.file(), at.line()),
        None => println!("panic: {}", info.message()),
    }
    exit::exit(ExitStatus::Panic)
}
