//! Running a closure on another native stack, and how much of a stack was used.

use crate::log;
use core::mem::{ManuallyDrop, MaybeUninit};

/// Bytes of the `len`-byte stack at `base` that were ever written: scans from the bottom
/// for the first non-zero word, so it means something for a stack that started zeroed.
pub fn high_water(base: *const u8, len: usize) -> usize {
    let base = base as *const u64;
    let words = len / 8;
    // SAFETY: `[base, base + words)` is the mapped stack the caller names.
    let untouched = (0..words)
        .find(|&i| unsafe { base.add(i).read_volatile() } != 0)
        .unwrap_or(words);
    (words - untouched) * 8
}

/// Zeroes the `len`-byte stack at `base` when the debug log is on, so that [`high_water`]
/// means something after the stack is used; returns whether it did.
///
/// # Safety
/// `[base, base + len)` must be a mapped, writable stack that nothing uses now.
pub unsafe fn zero_for_high_water(base: *mut u8, len: usize) -> bool {
    let debug = log::enabled(log::Level::Debug);
    if debug {
        // SAFETY: the caller guarantees the range is a mapped, writable, unused stack.
        unsafe { core::ptr::write_bytes(base, 0, len) };
    }
    debug
}

/// Runs `f` on the stack whose top is `top` and returns its result.
///
/// # Safety
/// `top` must be the 16-byte aligned top of mapped, writable memory that nothing else
/// uses while `f` runs, with a guard page at its bottom.
// Inlined into its callers (each runs it once per program): no call seam to translate.
#[inline(always)]
pub unsafe fn run_on<F: FnOnce() -> R, R>(top: *mut u8, f: F) -> R {
    let mut call = Call {
        f: ManuallyDrop::new(f),
        result: MaybeUninit::uninit(),
    };
    let arg = &mut call as *mut Call<F, R> as *mut u8;
    let entry = trampoline::<F, R> as extern "C" fn(*mut u8);
    // SAFETY: switches `rsp` to `top` (a free stack, as the caller promises), calls the
    // trampoline (System V: argument in rdi, rsp 16-aligned before the call) and switches
    // back. `r12` is callee-saved, so it still holds the old `rsp` when the call returns;
    // everything else the call may clobber is declared by `clobber_abi`.
    unsafe {
        core::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {entry}",
            "mov rsp, r12",
            top = in(reg) top,
            entry = in(reg) entry,
            in("rdi") arg,
            out("r12") _,
            clobber_abi("C"),
        );
    }
    // SAFETY: the trampoline ran (the call above always makes it) and wrote the result.
    unsafe { call.result.assume_init() }
}

/// The closure to run and the slot for its result, passed to the trampoline by address.
/// No `Option`s: the trampoline runs exactly once, so neither needs a test (a branch is
/// a block to translate at boot under an emulator).
struct Call<F, R> {
    /// Taken (run) by the trampoline.
    f: ManuallyDrop<F>,
    /// Written by the trampoline.
    result: MaybeUninit<R>,
}

/// Entered on the new stack: runs the closure and stores its result.
extern "C" fn trampoline<F: FnOnce() -> R, R>(arg: *mut u8) {
    // SAFETY: `run_on` passes a pointer to its live `Call<F, R>` and calls this once,
    // so the closure is taken once.
    let f = unsafe {
        let call = &mut *(arg as *mut Call<F, R>);
        ManuallyDrop::take(&mut call.f)
    };
    let result = f();
    // SAFETY: as above; the closure is done with the `Call` (it cannot see it).
    unsafe { (*(arg as *mut Call<F, R>)).result.write(result) };
}
