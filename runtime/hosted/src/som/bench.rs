//! `kiln-hosted som-bench`: runs the benchmarks in `examples/som/benchmarks/`, timing
//! each and reporting the send rate the VM counted.

use super::{new_vm, repo_dir, with_big_stack};
use kiln_smalltalk::runner::Outcome;
use std::process::ExitCode;
use std::time::Instant;

/// Benchmark classes and their arguments (`Main run:` style: name, then the size).
const BENCHMARKS: [(&str, &str); 10] = [
    ("Fib", "32"),
    ("Sieve", "300"),
    ("Towers", "30"),
    ("Queens", "300"),
    ("Permute", "150"),
    ("Bounce", "150"),
    ("List", "300"),
    ("Storage", "40"),
    ("Richards", "10"),
    ("Json", "30"),
];

/// `som-bench [--only Name]`
pub fn bench(args: Vec<String>) -> ExitCode {
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let dir = repo_dir()
        .join("examples/som/benchmarks")
        .to_string_lossy()
        .into_owned();
    let mut ok = true;
    for (name, size) in BENCHMARKS {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let dir = dir.clone();
        let (outcome, secs, sends, calls) = with_big_stack(move || {
            let mut vm = match new_vm(&[dir], false) {
                Ok(vm) => vm,
                Err(e) => return (Outcome::Error(e), 0.0, 0, 0),
            };
            let (before, calls_before) = (vm.send_count(), vm.invocation_count());
            let t = Instant::now();
            let o = vm.run_main(name, &[size]);
            let secs = t.elapsed().as_secs_f64();
            (
                o,
                secs,
                vm.send_count() - before,
                vm.invocation_count() - calls_before,
            )
        });
        match outcome {
            Outcome::Finished | Outcome::Exit(0) => println!(
                "{name:<10} {:>9.1} ms  {:>12} sends  {:>8.1} M sends/s  ({:>11} activations, {:>6.1} M/s)",
                secs * 1000.0,
                sends,
                sends as f64 / secs / 1e6,
                calls,
                calls as f64 / secs / 1e6
            ),
            Outcome::Exit(code) => {
                ok = false;
                println!("{name:<10} failed: exit status {code}");
            }
            Outcome::Error(msg) => {
                ok = false;
                println!("{name:<10} failed: {msg}");
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
