//! Smalltalk (SOM) programs on bare metal.
//!
//! A `SomRun` entry of the image's bundle names a main class; the class files are the
//! bundle's `SomClass` entries, seen by the VM as one flat directory `.` (so a parse
//! error reads `./Main.som:3:7: message`). Every class of the bundle is parsed at boot,
//! before the program starts, and the cost is printed. Then the main class runs the SOM
//! way (`run:` with the argument array, whose first element is the class name, else
//! `run`) on a native stack of its own ([`stack`]): every Smalltalk send is a native
//! call, so the boot stack is far too small.
//!
//! A run of `TestHarness` without arguments is the SOM test suite: like
//! `kiln-hosted som-test`, it runs every `*Test` class of the bundle through the harness
//! in a fresh VM and ends with `som: N passed, N failed`.
//!
//! Unhandled Smalltalk errors (doesNotUnderstand:, stack overflow, parse errors) print
//! their message and backtrace and end the program with [`ExitStatus::Trap`];
//! `system exit:` with a non-zero status is [`ExitStatus::Failure`], and a main class
//! the image has no file for is [`ExitStatus::BootError`].

use crate::platform::KernelPlatform;
use crate::{clock, log, println, stack};
use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use kiln_abi::bundle::{Bundle, EntryKind};
use kiln_abi::ExitStatus;
use kiln_smalltalk::runner::{Outcome, TEST_HARNESS};
use kiln_smalltalk::vm::{Options, SourceFiles, Vm};

static PLATFORM: KernelPlatform = KernelPlatform;

/// The directory the VM's class path names: the bundle's class files have no other.
const CLASS_DIR: &str = ".";

/// Native stack of a Smalltalk program.
const NATIVE_STACK: usize = 16 << 20;

/// Deepest Smalltalk call depth (the hosted VM allows 100 000): chosen so that the VM's
/// stack-overflow error comes well before the native stack's guard page. Measured:
/// 10 000 nested sends use 3.4 MiB of native stack, 3.8 MiB when every level also goes
/// through blocks and `inject:into:`, so 20 000 levels leave the 16 MiB stack half free.
const MAX_DEPTH: usize = 20_000;

/// Class files come from the bundle.
struct BundleFiles(Bundle<'static>);

impl SourceFiles for BundleFiles {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let name = path.strip_prefix(CLASS_DIR)?.strip_prefix('/')?;
        self.0
            .of_kind(EntryKind::SomClass)
            .find(|e| e.name == name)
            .map(|e| e.data.to_vec())
    }
}

/// The class names (file stems) of the bundle's class files, in bundle order.
fn class_names(bundle: &Bundle<'static>) -> impl Iterator<Item = &'static str> {
    bundle
        .of_kind(EntryKind::SomClass)
        .filter_map(|e| e.name.strip_suffix(".som"))
}

/// A VM over the bundle's class files.
fn new_vm(bundle: &Bundle<'static>) -> Result<Vm, String> {
    let options = Options {
        max_depth: MAX_DEPTH,
        ..Options::default()
    };
    let mut vm = Vm::new(&PLATFORM, Box::new(BundleFiles(*bundle)), options)?;
    vm.class_path = Vec::from([String::from(CLASS_DIR)]);
    Ok(vm)
}

/// A duration in microseconds, shown as milliseconds with three decimals.
struct Ms(u64);

impl core::fmt::Display for Ms {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}.{:03} ms", self.0 / 1000, self.0 % 1000)
    }
}

/// The time since `start_ns`.
fn ms_since(start_ns: u64) -> Ms {
    Ms((clock::monotonic_ns() - start_ns) / 1000)
}

/// Parses and defines every class of the bundle; answers how many there were.
fn load_all(vm: &mut Vm, bundle: &Bundle<'static>) -> Result<usize, String> {
    let mut count = 0;
    for name in class_names(bundle) {
        let sym = vm.symbols.intern(name);
        vm.load_class(sym)?;
        count += 1;
    }
    Ok(count)
}

/// The image's exit status for how a program ended; prints the error of a failed one.
fn status_of(outcome: &Outcome) -> ExitStatus {
    match outcome {
        Outcome::Finished | Outcome::Exit(0) => ExitStatus::Success,
        Outcome::Exit(code) => {
            println!("som: the program ended with `system exit: {code}`");
            ExitStatus::Failure
        }
        Outcome::Error(message) => {
            println!("{message}");
            ExitStatus::Trap
        }
    }
}

/// Runs `main` with `args` (the class name first, as SOM passes it).
fn run_program(bundle: &Bundle<'static>, main: &str, args: &[Cow<'_, str>]) -> ExitStatus {
    if !class_names(bundle).any(|name| name == main) {
        let names: Vec<&str> = class_names(bundle).collect();
        println!(
            "som: the image has no class file {main}.som; its classes: {}",
            names.join(", ")
        );
        return ExitStatus::BootError;
    }
    let start = clock::monotonic_ns();
    let mut vm = match new_vm(bundle) {
        Ok(vm) => vm,
        Err(e) => {
            println!("som: cannot start the VM: {e}");
            return ExitStatus::BootError;
        }
    };
    let vm_up = ms_since(start);
    let start = clock::monotonic_ns();
    let count = match load_all(&mut vm, bundle) {
        Ok(count) => count,
        Err(e) => return status_of(&Outcome::Error(e)),
    };
    let plural = if count == 1 { "" } else { "es" };
    println!(
        "som: {main}: VM up in {vm_up}, loaded {count} class{plural} in {}",
        ms_since(start)
    );
    let words: Vec<&str> = args.iter().skip(1).map(|a| a.as_ref()).collect();
    status_of(&vm.run_main(main, &words))
}

/// Runs one test class through the harness in a fresh VM: (passed, failed).
fn run_test_class(bundle: &Bundle<'static>, class: &str) -> (u64, u64) {
    let mut vm = match new_vm(bundle) {
        Ok(vm) => vm,
        Err(e) => {
            println!("{class}: cannot start the VM: {e}");
            return (0, 1);
        }
    };
    let counts = vm.run_test_class(class);
    if let Some(problem) = counts.problem {
        println!("{class}: {problem}");
    }
    (counts.passed, counts.failed)
}

/// The test suite: every `*Test` class of the bundle, each in a fresh VM.
fn run_suite(bundle: &Bundle<'static>) -> ExitStatus {
    let (mut passed, mut failed) = (0, 0);
    for class in class_names(bundle).filter(|n| n.ends_with("Test")) {
        let (p, f) = run_test_class(bundle, class);
        passed += p;
        failed += f;
    }
    println!("som: {passed} passed, {failed} failed");
    match (passed, failed) {
        (_, 1..) | (0, 0) => ExitStatus::Failure,
        _ => ExitStatus::Success,
    }
}

/// Runs the program `main` of `bundle` with `args` (the class name first).
pub fn run(bundle: &Bundle<'static>, main: &'static str, args: &[Cow<'_, str>]) -> ExitStatus {
    let suite = main == TEST_HARNESS && args.len() == 1;
    let run = || {
        if suite {
            run_suite(bundle)
        } else {
            run_program(bundle, main, args)
        }
    };
    let start = clock::monotonic_ns();
    match stack::Stack::new(NATIVE_STACK) {
        Ok(stack) => {
            crate::debug!("som: native stack mapped in {}", ms_since(start));
            let status = stack.run(run);
            if log::enabled(log::Level::Debug) {
                crate::debug!(
                    "som: native stack high-water {} KiB of {} KiB",
                    stack.high_water() >> 10,
                    NATIVE_STACK >> 10
                );
            }
            status
        }
        Err(e) => {
            println!(
                "som: cannot allocate a {} MiB native stack: {e:?}",
                NATIVE_STACK >> 20
            );
            ExitStatus::BootError
        }
    }
}
