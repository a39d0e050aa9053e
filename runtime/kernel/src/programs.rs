//! The programs an image carries, run one after another.
//!
//! xtask embeds a program bundle (`kiln_abi::bundle`) in the image; this module reads
//! it, runs each run entry in order with a one-line header and a one-line summary
//! (what ran, on which tier, how long it took, how it ended), and keeps going after a
//! program fails: output already written stays, and the next program still runs. The
//! image exits with the status of the first program that did not succeed. An image built
//! with the `spectest` feature whose bundle holds spec scripts runs those instead
//! (`spec`).

use crate::clock;
use crate::cmdline::CmdLine;
use crate::platform::KernelPlatform;
use crate::println;
use crate::serial;
use crate::serial::Piece::{Num, Text};
use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use kiln_abi::bundle::{Bundle, Entry, EntryKind};
use kiln_abi::{ExitStatus, Platform};

/// The bundle xtask built for this image (an empty one when it built none).
static BUNDLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/bundle.bin"));

/// Whether the program running is the image's last one; see [`last_running`].
static LAST_RUNNING: AtomicBool = AtomicBool::new(false);

/// Whether the image's last program is running (or has just ended). The machine powers
/// off when it returns, so what belongs to the program as a whole and is given back as it
/// ends (its native stack, its store, its argument list) need not be unmapped or freed:
/// under an emulator that is mostly code translated only to run once. Memory a runtime
/// gives back while it runs must still be given back (the Smalltalk test harness starts
/// and ends a VM per test class).
#[cfg(any(feature = "som", feature = "wasm", feature = "selftest"))]
pub fn last_running() -> bool {
    LAST_RUNNING.load(Ordering::Relaxed)
}

/// How one program ended: its exit status for the image, and a word for the summary.
pub struct Outcome {
    pub status: ExitStatus,
    pub tier: &'static str,
}

/// A program argument: borrowed from the image (its name, its default arguments: no
/// copy to make as it starts) or from the command line (a copy of its own).
type Arg = Cow<'static, str>;

/// Runs one program entry with its arguments (the program's name first, as a
/// command line would have it).
fn run_entry(
    bundle: &Bundle<'static>,
    entry: &Entry<'static>,
    args: Vec<Arg>,
    cmdline: &CmdLine<'static>,
) -> Outcome {
    match entry.kind {
        #[cfg(feature = "som")]
        EntryKind::SomRun => {
            let status = crate::som::run(bundle, entry.name, &args);
            if last_running() {
                // The machine powers off next: freeing the list is code run only for that.
                core::mem::forget(args);
            }
            Outcome {
                status,
                tier: "threaded",
            }
        }
        // The program's WASI world takes the arguments (and keeps them with the last
        // program's store).
        #[cfg(feature = "wasm")]
        EntryKind::WasmRun => Outcome {
            status: crate::wasm::run(bundle, entry.name, args, cmdline),
            tier: "aot",
        },
        #[cfg(not(all(feature = "som", feature = "wasm")))]
        #[allow(
            unreachable_patterns,
            reason = "the kinds whose runtime is in the image matched above"
        )]
        EntryKind::SomRun | EntryKind::WasmRun => {
            let _ = (bundle, args, cmdline);
            println!(
                "kiln: this image was built without the runtime for {:?} programs; `{}` was not run",
                entry.kind, entry.name
            );
            Outcome {
                status: ExitStatus::BootError,
                tier: "none",
            }
        }
        EntryKind::SomClass | EntryKind::File | EntryKind::SpecScript => {
            unreachable!("not a run entry")
        }
    }
}

/// Runs every program of the image and returns the image's exit status: `program_args`
/// are `cmdline`'s words after `--`, split by the caller (splitting them here makes this
/// function too large for the compiler to settle the constant bundle's parse and walk in
/// it: +13 KiB of image). Never inlined: `cargo xtask bench boot` starts its program
/// phase at this function.
#[inline(never)]
pub fn run_all(cmdline: &CmdLine<'static>, program_args: &[String]) -> ExitStatus {
    let bundle = match Bundle::parse(BUNDLE) {
        Ok(bundle) => bundle,
        Err(e) => {
            println!("boot error: the image's program bundle is damaged: {e}");
            return ExitStatus::BootError;
        }
    };
    #[cfg(feature = "spectest")]
    if bundle.count_of(EntryKind::SpecScript) > 0 {
        return crate::spec::run_all(&bundle, program_args);
    }
    let mut image_status = ExitStatus::Success;
    let runs = bundle
        .entries()
        .enumerate()
        .filter(|(_, e)| e.kind.is_run());
    for (index, entry) in runs {
        let last = Some(index) == bundle.last_run();
        LAST_RUNNING.store(last, Ordering::Relaxed);
        // Arguments from the command line replace the ones the image was built with.
        let mut args = alloc::vec![Arg::Borrowed(entry.name)];
        if !program_args.is_empty() {
            args.extend(program_args.iter().map(|a| Arg::Owned(a.clone())));
        } else if !entry.data.is_empty() {
            args.extend(entry.words().map(Arg::Borrowed));
        }
        let start = clock::monotonic_ns();
        let outcome = run_entry(&bundle, &entry, args, cmdline);
        let micros = (clock::monotonic_ns() - start) / 1000;
        serial::print_line(&[
            Text("kiln: "),
            Text(entry.name),
            Text(" ("),
            Text(outcome.tier),
            Text(") "),
            Text(outcome.status.describe()),
            Text(" in "),
            Num(micros / 1000, 1),
            Text("."),
            Num(micros % 1000, 3),
            Text(" ms"),
        ]);
        if image_status == ExitStatus::Success && outcome.status != ExitStatus::Success {
            image_status = outcome.status;
        }
    }
    if bundle.last_run().is_none() {
        KernelPlatform.console_write(b"no programs in this image\n");
    }
    image_status
}
