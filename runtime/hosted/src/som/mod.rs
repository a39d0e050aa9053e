//! The SOM Smalltalk commands of `kiln-hosted`: `som` (run a program), `som-test` (the
//! SOM test suite in `tests/som/`) and `som-bench` (the benchmarks in
//! `examples/som/benchmarks/`).

mod bench;
mod suite;

use crate::LinuxPlatform;
use kiln_abi::ExitStatus;
use kiln_smalltalk::runner::Outcome;
use kiln_smalltalk::vm::{Options, SourceFiles, Vm};
use std::process::ExitCode;

static PLATFORM: LinuxPlatform = LinuxPlatform;

/// Class files come from the file system.
struct Files;

impl SourceFiles for Files {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        std::fs::read(path).ok()
    }
}

/// The repository root (for the default test and benchmark directories).
fn repo_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A VM with the given class path.
fn new_vm(class_path: &[String], gc_stress: bool) -> Result<Vm, String> {
    let options = Options {
        gc_stress,
        ..Options::default()
    };
    let mut vm = Vm::new(&PLATFORM, Box::new(Files), options)?;
    vm.class_path = class_path.to_vec();
    Ok(vm)
}

/// Runs `f` on a thread with a large native stack: every Smalltalk send is a native call.
fn with_big_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(1 << 30)
        .spawn(f)
        .expect("cannot start the interpreter thread")
        .join()
        .expect("the interpreter thread panicked")
}

/// Maps a run's outcome to a process status, printing errors.
fn report(outcome: &Outcome) -> ExitCode {
    match outcome {
        Outcome::Finished => ExitCode::SUCCESS,
        Outcome::Exit(code) => ExitCode::from(*code as u8),
        Outcome::Error(msg) => {
            eprintln!("{msg}");
            ExitCode::from(ExitStatus::Trap as u8)
        }
    }
}

/// `kiln-hosted som [--gc-stress] -cp dir1:dir2 Main [args...]`
pub fn run(args: Vec<String>) -> ExitCode {
    let mut gc_stress = false;
    let mut class_path: Vec<String> = Vec::new();
    let mut rest = args.into_iter();
    let main = loop {
        match rest.next().as_deref() {
            Some("--gc-stress") => gc_stress = true,
            Some("-cp") | Some("--classpath") => match rest.next() {
                Some(cp) => class_path.extend(cp.split(':').map(String::from)),
                None => return usage("-cp needs a list of directories"),
            },
            Some(name) => break name.to_string(),
            None => return usage("no main class given"),
        }
    };
    if let Some(dir) = std::path::Path::new(&main)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        class_path.push(dir.to_string_lossy().into_owned());
    }
    if class_path.is_empty() {
        class_path.push(String::from("."));
    }
    let prog_args: Vec<String> = rest.collect();
    let outcome = with_big_stack(move || {
        let mut vm = match new_vm(&class_path, gc_stress) {
            Ok(vm) => vm,
            Err(e) => return Outcome::Error(e),
        };
        let a: Vec<&str> = prog_args.iter().map(String::as_str).collect();
        vm.run_main(&main, &a)
    });
    report(&outcome)
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("kiln-hosted som: {problem}");
    eprintln!("usage: kiln-hosted som [--gc-stress] -cp dir1:dir2 Main [args...]");
    ExitCode::from(ExitStatus::BootError as u8)
}

pub use bench::bench;
pub use suite::test;
