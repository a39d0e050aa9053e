//! `kiln-hosted som-test [--gc-stress]`: runs every `*Test.som` class in `tests/som/`
//! through the SOM `TestHarness` (written in SOM, in the same directory), each in a
//! fresh VM so one crashing test class cannot hide the others' results.

use super::{new_vm, repo_dir, with_big_stack};
use std::process::ExitCode;

/// Counts one test class reports, read back from the globals the harness sets.
fn run_class(dir: &str, class: &str, gc_stress: bool) -> (u64, u64) {
    let (dir, class) = (dir.to_string(), class.to_string());
    with_big_stack(move || {
        let mut vm = match new_vm(&[dir], gc_stress) {
            Ok(vm) => vm,
            Err(e) => {
                println!("{class}: cannot start the VM: {e}");
                return (0, 1);
            }
        };
        let counts = vm.run_test_class(&class);
        if let Some(problem) = counts.problem {
            println!("{class}: {problem}");
        }
        (counts.passed, counts.failed)
    })
}

/// The test classes: every `*Test.som` file in `dir`, sorted.
fn test_classes(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| e.file_name().into_string().ok())
                .filter_map(|n| n.strip_suffix("Test.som").map(|s| format!("{s}Test")))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `som-test`
pub fn test(args: Vec<String>) -> ExitCode {
    let gc_stress = args.iter().any(|a| a == "--gc-stress");
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| repo_dir().join("tests/som").to_string_lossy().into_owned());
    let classes = test_classes(&dir);
    if classes.is_empty() {
        eprintln!("kiln-hosted som-test: no *Test.som classes in {dir}");
        return ExitCode::from(kiln_abi::ExitStatus::BootError as u8);
    }
    let (mut passed, mut failed) = (0, 0);
    for class in &classes {
        let (p, f) = run_class(&dir, class, gc_stress);
        passed += p;
        failed += f;
    }
    let label = if gc_stress { "som (gc stress)" } else { "som" };
    println!("{label}: {passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::{run_class, test_classes};
    use crate::som::repo_dir;

    fn suite_dir() -> String {
        repo_dir().join("tests/som").to_string_lossy().into_owned()
    }

    #[test]
    fn the_som_suite_passes() {
        let dir = suite_dir();
        let classes = test_classes(&dir);
        assert!(classes.len() >= 15, "test classes found: {classes:?}");
        let (mut passed, mut failed) = (0, 0);
        for class in &classes {
            let (p, f) = run_class(&dir, class, false);
            assert!(p > 0, "{class} ran no tests");
            passed += p;
            failed += f;
        }
        assert_eq!(failed, 0, "{passed} passed");
    }

    #[test]
    fn closures_and_the_collector_pass_under_gc_stress() {
        let dir = suite_dir();
        for class in ["BlockTest", "GCTest", "ControlFlowTest"] {
            let (p, f) = run_class(&dir, class, true);
            assert!(p > 0 && f == 0, "{class}: {p} passed, {f} failed");
        }
    }
}
