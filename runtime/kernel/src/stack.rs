//! Native stacks mapped as they are needed: a region of mapped pages with an unmapped
//! guard page below.
//!
//! The boot stack is small; runtimes that recurse deeply (the Smalltalk interpreter
//! makes a native call per send) get a stack of their own. Running off its bottom hits
//! the guard page and is reported as a page fault (the fault handlers run on IST stacks,
//! so they still have a stack to run on). WASM programs run on a stack reserved in the
//! image instead (`wasm.rs`).

use crate::frames;
use crate::on_stack;
use crate::paging::PAGE_SIZE;
use crate::platform::KernelPlatform;
use kiln_abi::{MemoryError, Platform, Protection};

/// Unmapped pages below the stack.
const GUARD: usize = PAGE_SIZE as usize;

/// A mapped stack; its memory goes back to the kernel when dropped.
pub struct Stack {
    region: *mut u8,
    len: usize,
    /// The first of the contiguous frames backing the stack, when it got a run of them.
    run: Option<u64>,
}

impl Stack {
    /// Maps a stack of `size` bytes (rounded up to pages) above a guard page.
    ///
    /// The stack is one run of contiguous frames when the frame allocator has one, mapped
    /// with one page-table walk per 2 MiB and not zeroed (a stack is written before it is
    /// read): a 1 MiB stack then costs ~0.1 ms to map under TCG instead of ~0.85 ms page by
    /// page. Otherwise it is mapped page by page. Under `log=debug` it is zeroed, for
    /// [`Stack::high_water`].
    pub fn new(size: usize) -> Result<Stack, MemoryError> {
        let size = size.next_multiple_of(PAGE_SIZE as usize);
        let len = size + GUARD;
        let region = KernelPlatform.reserve(len)?;
        // SAFETY: `GUARD` is inside the region just reserved.
        let base = unsafe { region.add(GUARD) };
        let pages = (size / PAGE_SIZE as usize) as u64;
        let run = frames::alloc_contiguous(pages);
        let mapped = match run {
            Some(phys) => KernelPlatform.map_run(base, phys, size),
            None => KernelPlatform.protect(base, size, Protection::ReadWrite),
        };
        let stack = Stack { region, len, run };
        mapped?;
        if run.is_some() {
            // SAFETY: `[base, base + size)` was just mapped read-write for this stack.
            unsafe { on_stack::zero_for_high_water(base, size) };
        }
        Ok(stack)
    }

    /// One past the highest byte of the stack (16-byte aligned, as the ABI wants
    /// before a call).
    fn top(&self) -> *mut u8 {
        // SAFETY: one past the end of the region is a valid pointer to form.
        unsafe { self.region.add(self.len) }
    }

    /// Bytes of the stack that were ever written (meaningful when the debug log is on,
    /// under which stacks start zeroed).
    pub fn high_water(&self) -> usize {
        on_stack::high_water(self.region.wrapping_add(GUARD), self.len - GUARD)
    }

    /// Runs `f` on this stack and returns its result.
    pub fn run<F: FnOnce() -> R, R>(&self, f: F) -> R {
        // SAFETY: the stack is mapped, owned by `self` and used by nothing else.
        unsafe { on_stack::run_on(self.top(), f) }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        if crate::programs::last_running() {
            // A program's stack is dropped as the program ends; after the image's last
            // program the machine powers off, so its stack is not worth unmapping.
            return;
        }
        match self.run {
            Some(phys) => {
                KernelPlatform.release_keeping_frames(self.region, self.len);
                let pages = ((self.len - GUARD) / PAGE_SIZE as usize) as u64;
                // SAFETY: the run backed only this stack, whose pages are now unmapped.
                unsafe { frames::free_run(phys, pages) };
            }
            None => KernelPlatform.release(self.region, self.len),
        }
    }
}
