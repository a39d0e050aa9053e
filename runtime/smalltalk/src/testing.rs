//! Test support: a platform that keeps console output in memory and serves class files
//! from a table, so unit tests run the whole VM without an operating system.

extern crate std;

use crate::runner::Outcome;
use crate::vm::{Options, SourceFiles, Vm};
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use kiln_abi::{MemoryError, Platform, Protection};
use std::alloc::{alloc_zeroed, dealloc, Layout};

/// A platform whose console is a buffer and whose memory comes from the test's allocator.
pub struct TestPlatform {
    out: RefCell<Vec<u8>>,
    regions: RefCell<Vec<(usize, usize)>>,
}

impl Platform for TestPlatform {
    fn console_write(&self, bytes: &[u8]) {
        self.out.borrow_mut().extend_from_slice(bytes);
    }
    fn console_read(&self, _buf: &mut [u8]) -> usize {
        0
    }
    fn monotonic_ns(&self) -> u64 {
        std::time::UNIX_EPOCH
            .elapsed()
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
    }
    fn wall_clock_ns(&self) -> u64 {
        self.monotonic_ns()
    }
    fn random_fill(&self, buf: &mut [u8]) {
        buf.iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = (i * 37 + 11) as u8);
    }
    fn reserve(&self, len: usize) -> Result<*mut u8, MemoryError> {
        let layout = Layout::from_size_align(len, 4096).map_err(|_| MemoryError::BadRange)?;
        // SAFETY: `len` is non-zero (the heap reserves at least a few megabytes).
        let p = unsafe { alloc_zeroed(layout) };
        if p.is_null() {
            return Err(MemoryError::OutOfMemory);
        }
        self.regions.borrow_mut().push((p as usize, len));
        Ok(p)
    }
    fn protect(&self, _addr: *mut u8, _len: usize, _prot: Protection) -> Result<(), MemoryError> {
        Ok(())
    }
    fn release(&self, addr: *mut u8, len: usize) {
        self.regions
            .borrow_mut()
            .retain(|&(a, _)| a != addr as usize);
        // SAFETY: `addr` came from `reserve` with this length.
        unsafe {
            dealloc(
                addr,
                Layout::from_size_align(len, 4096).expect("valid layout"),
            )
        };
    }
    fn exit(&self, status: i32) -> ! {
        panic!("exit({status})")
    }
}

struct Table(Vec<(String, String)>);

impl SourceFiles for Table {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        self.0
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, s)| s.clone().into_bytes())
    }
}

/// A VM whose class path is a table of `(class name, source)`.
pub fn vm_with(classes: &[(&str, &str)], gc_stress: bool) -> (Vm, &'static TestPlatform) {
    let platform: &'static TestPlatform = Box::leak(Box::new(TestPlatform {
        out: RefCell::new(Vec::new()),
        regions: RefCell::new(Vec::new()),
    }));
    let files = Table(
        classes
            .iter()
            .map(|(n, s)| (alloc::format!("t/{n}.som"), String::from(*s)))
            .collect(),
    );
    let options = Options {
        gc_stress,
        heap_max: 64 << 20,
        stack_slots: 1 << 16,
        max_depth: 2000,
    };
    let mut vm = Vm::new(platform, Box::new(files), options).expect("the core library loads");
    vm.class_path.push(String::from("t"));
    (vm, platform)
}

/// Runs `main` (a class source defining `Main`) and answers the outcome and the output.
/// Runs on a thread with a large stack: every Smalltalk send is a native call.
pub fn run(main: &str, gc_stress: bool) -> (Outcome, String) {
    let main = String::from(main);
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let (mut vm, platform) = vm_with(&[("Main", &main)], gc_stress);
            let outcome = vm.run_main("Main", &[]);
            let out = String::from_utf8_lossy(&platform.out.borrow()).into_owned();
            (outcome, out)
        })
        .expect("test thread starts")
        .join()
        .expect("test thread finishes")
}
