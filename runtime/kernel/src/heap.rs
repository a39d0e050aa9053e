//! The kernel heap: `linked_list_allocator` over one contiguous run of frames.
//!
//! The heap gets a quarter of RAM, between 1 MiB and 64 MiB, at boot. Its memory is not
//! touched (let alone zeroed) until used, so a big heap costs nothing at boot.

use crate::frames;
use crate::paging::PAGE_SIZE;
use linked_list_allocator::LockedHeap;

#[global_allocator]
static HEAP: LockedHeap = LockedHeap::empty();

const MIN_HEAP: u64 = 1 << 20;
const MAX_HEAP: u64 = 64 << 20;

/// Gives the heap its memory; `None` if RAM is too small.
pub fn init(ram_bytes: u64) -> Option<()> {
    let size = (ram_bytes / 4).clamp(MIN_HEAP, MAX_HEAP) & !(PAGE_SIZE - 1);
    let base = frames::alloc_contiguous(size / PAGE_SIZE)?;
    // SAFETY: the frames are fresh, identity mapped read+write, and owned by the heap from
    // now on; `init` is called once.
    unsafe { HEAP.lock().init(base as *mut u8, size as usize) };
    Some(())
}

/// (bytes in use, heap size).
pub fn usage() -> (usize, usize) {
    let heap = HEAP.lock();
    (heap.used(), heap.size())
}
