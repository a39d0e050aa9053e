//! Running a program the SOM way: load the main class from the class path, instantiate
//! it, and send `run:` with the argument array (first element the class name) if it
//! understands it, else `run`. Also one test class through the SOM `TestHarness`, the
//! step the hosted and bare-metal test-suite runners share.

use crate::prims::call;
use crate::value::Value;
use crate::vm::{sel, Vm, UNWIND_ABORT, UNWIND_EXIT, UNWIND_NONE};
use alloc::format;
use alloc::string::String;

/// The class that runs one test class (`tests/som/TestHarness.som`).
pub const TEST_HARNESS: &str = "TestHarness";

/// What one test class reported through the harness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestCounts {
    pub passed: u64,
    pub failed: u64,
    /// Why the run itself went wrong (a non-zero exit or an unhandled error), if it did;
    /// such a run counts as at least one failure.
    pub problem: Option<String>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The program finished normally.
    Finished,
    /// `system exit: code`.
    Exit(i32),
    /// An unhandled error: the message and the Smalltalk backtrace.
    Error(String),
}

impl Vm {
    /// The outcome of the unwind in progress (or `Finished`), resetting the VM's state.
    fn outcome(&mut self) -> Outcome {
        let o = match self.unwind {
            UNWIND_EXIT => Outcome::Exit(self.exit_code),
            UNWIND_ABORT => Outcome::Error(self.error.take().unwrap_or_default()),
            UNWIND_NONE => Outcome::Finished,
            _ => Outcome::Error(String::from("a non-local return escaped the program")),
        };
        self.unwind = UNWIND_NONE;
        self.sp = self.stack_base();
        o
    }

    /// Runs `class_name` (a class name, or a file name like `Main.som`) with `args`.
    pub fn run_main(&mut self, class_name: &str, args: &[&str]) -> Outcome {
        let stem = class_name.rsplit('/').next().unwrap_or(class_name);
        let stem = stem.strip_suffix(".som").unwrap_or(stem);
        let sym = self.symbols.intern(stem);
        let class = match self.load_class(sym) {
            Ok(Some(c)) => self.classes[c as usize].obj,
            Ok(None) => {
                return Outcome::Error(format!(
                    "cannot find class {stem}: no {stem}.som on the class path ({})",
                    self.class_path.join(":")
                ))
            }
            Err(msg) => return Outcome::Error(msg),
        };
        let Some(instance) = call(self, self.special_sel(sel::NEW), class, &[]) else {
            return self.outcome();
        };
        let instance_slot = self.push(instance);
        let arr = self.new_array(args.len() + 1);
        let arr_slot = self.push(arr);
        for (i, text) in core::iter::once(&stem).chain(args.iter()).enumerate() {
            let s = self.new_string(text.as_bytes());
            // SAFETY: `arr_slot` is a root holding the Array of `args.len() + 1` slots.
            unsafe { crate::heap::set_slot(*arr_slot, i, s) };
        }
        // SAFETY: both slots were pushed above and are still live.
        let (instance, arr) = unsafe { (*instance_slot, *arr_slot) };
        let c = self.class_of(instance);
        let run_args = self.special_sel(sel::RUN_ARGS);
        let r = if self.lookup(c, run_args).is_some() {
            call(self, run_args, instance, &[arr])
        } else {
            call(self, self.special_sel(sel::RUN), instance, &[])
        };
        let _: Option<Value> = r;
        self.outcome()
    }

    /// Runs test class `class` through [`TEST_HARNESS`] (both on the class path) and
    /// answers the counts the harness leaves in the globals `TestsPassed`/`TestsFailed`.
    pub fn run_test_class(&mut self, class: &str) -> TestCounts {
        let outcome = self.run_main(TEST_HARNESS, &[class]);
        let passed = self.global_int("TestsPassed").unwrap_or(0);
        let failed = self.global_int("TestsFailed").unwrap_or(0);
        let (failed, problem) = match outcome {
            Outcome::Finished | Outcome::Exit(0) => (failed, None),
            Outcome::Exit(code) => (failed.max(1), Some(format!("exited with status {code}"))),
            Outcome::Error(msg) => (failed + 1, Some(format!("unhandled error: {msg}"))),
        };
        TestCounts {
            passed,
            failed,
            problem,
        }
    }
}
