//! The kernel heap over one contiguous run of frames: small blocks come from size
//! classes, large ones from `linked_list_allocator`.
//!
//! The heap gets a quarter of RAM, between 1 MiB and 64 MiB, at boot. Its memory is not
//! touched (let alone zeroed) until used, so a big heap costs nothing at boot.
//!
//! Most allocations are small (strings, vectors of a few items, boxed records). Those of
//! up to [`MAX_SMALL`] bytes take a block of the next power of two from the heap's first
//! quarter: a freed block goes on its class's free list, threaded through the blocks, and
//! the next request of that class takes it back (blocks keep their class: they are never
//! split, merged or handed to the general allocator); a class with no free block takes a
//! fresh one by bumping a pointer. Both are a handful of instructions, where the general
//! allocator walks its list of holes, splits and merges them: under an emulator, which
//! translates each distinct block of code the first time it runs, a boot whose
//! allocations are all small never runs the general allocator at all. The rest of the
//! heap is `linked_list_allocator`'s, set up on first use; small requests go there too
//! once the small part is used up. A block's address says which part it came from.

use crate::frames;
use crate::lock::lock;
use crate::paging::PAGE_SIZE;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};
use spin::Mutex;

const MIN_HEAP: u64 = 1 << 20;
const MAX_HEAP: u64 = 64 << 20;

/// The smallest block: room for the free list's link, and the alignment `Box`es of
/// 16-byte values expect.
const MIN_SMALL: usize = 16;
/// The largest small block: a page, the largest alignment the kernel's own values ask.
const MAX_SMALL: usize = 4096;
/// Size classes: 16, 32, ..., 4096 bytes.
const CLASSES: usize = (MAX_SMALL / MIN_SMALL).ilog2() as usize + 1;
/// The share of the heap set aside for small blocks: one part in this many.
const SMALL_SHARE: usize = 4;

struct Heap {
    /// Address of the first freed block of each class (0: none); each holds the next's.
    free: [usize; CLASSES],
    /// The small part of the heap: `[small_start, small_end)`, fresh blocks from `next`.
    small_start: usize,
    small_end: usize,
    next: usize,
    /// Bytes of small blocks in use.
    small_used: usize,
    /// The rest of the heap (`large_start`, `large_size`), given to `large` on first use.
    large_start: usize,
    large_size: usize,
    large: linked_list_allocator::Heap,
}

/// The size class of a request of `size` bytes aligned to `align` (its blocks are
/// `MIN_SMALL << class` bytes), or `CLASSES` for a large request. Plain operators only,
/// here and on the small-block paths below: this runs on every allocation, and the
/// kernel's debug build (opt-level 0) makes a call of every helper it does not inline.
#[inline(always)]
fn class_of(size: usize, align: usize) -> usize {
    let mut need = if size > align { size } else { align };
    if need < MIN_SMALL {
        need = MIN_SMALL;
    }
    if need > MAX_SMALL {
        return CLASSES;
    }
    // The exponent of the next power of two, counted from MIN_SMALL's.
    (usize::BITS - (need - 1).leading_zeros() - MIN_SMALL.trailing_zeros()) as usize
}

impl Heap {
    #[inline(always)]
    fn alloc(&mut self, layout: Layout) -> *mut u8 {
        let class = class_of(layout.size(), layout.align());
        if class < CLASSES {
            let block = MIN_SMALL << class;
            let head = self.free[class];
            if head != 0 {
                // SAFETY: a free block of this class holds the address of the next one.
                self.free[class] = unsafe { *(head as *const usize) };
                self.small_used += block;
                return head as *mut u8;
            }
            // Blocks are aligned to their size, so any request of the class fits one.
            let at = (self.next + block - 1) & !(block - 1);
            if at + block <= self.small_end {
                self.next = at + block;
                self.small_used += block;
                return at as *mut u8;
            }
        }
        self.alloc_large(layout)
    }

    #[inline(never)]
    fn alloc_large(&mut self, layout: Layout) -> *mut u8 {
        if self.large.size() == 0 && self.large_size > 0 {
            // SAFETY: `[large_start, large_start + large_size)` is the heap's own memory,
            // which nothing else uses, and it is handed over once (`large_size` is cleared).
            unsafe {
                self.large
                    .init(self.large_start as *mut u8, self.large_size)
            };
            self.large_size = 0;
        }
        self.large
            .allocate_first_fit(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    /// # Safety
    /// `ptr` came from [`Heap::alloc`] with `layout` and is not used after.
    #[inline(always)]
    unsafe fn dealloc(&mut self, ptr: *mut u8, layout: Layout) {
        let addr = ptr as usize;
        if addr >= self.small_start && addr < self.small_end {
            // Only small requests get small blocks, so the class is below CLASSES.
            let class = class_of(layout.size(), layout.align());
            // SAFETY: the block is the caller's to give back, at least 16 bytes, aligned.
            unsafe { *(ptr as *mut usize) = self.free[class] };
            self.free[class] = addr;
            self.small_used -= MIN_SMALL << class;
        } else if let Some(ptr) = NonNull::new(ptr) {
            // SAFETY: not a small block, so `large` handed it out (the caller's contract).
            unsafe { self.large.deallocate(ptr, layout) };
        }
    }
}

/// The global allocator: [`Heap`] behind a spin lock.
struct LockedHeap(Mutex<Heap>);

// SAFETY: blocks come from `Heap`, which hands each out once until it is given back, sized
// and aligned for its layout (size classes are powers of two at their own alignment; the
// large part is `linked_list_allocator`'s).
// `alloc` and `dealloc` are never inlined: one copy of each (lock included) serves every
// allocation, which an emulator translates once.
unsafe impl GlobalAlloc for LockedHeap {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        lock(&self.0).alloc(layout)
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is `Heap::dealloc`'s.
        unsafe { lock(&self.0).dealloc(ptr, layout) }
    }
}

#[global_allocator]
static HEAP: LockedHeap = LockedHeap(Mutex::new(Heap {
    free: [0; CLASSES],
    small_start: 0,
    small_end: 0,
    next: 0,
    small_used: 0,
    large_start: 0,
    large_size: 0,
    large: linked_list_allocator::Heap::empty(),
}));

/// Gives the heap its memory; `None` if RAM is too small.
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn init(ram_bytes: u64) -> Option<()> {
    let size = (ram_bytes / 4).clamp(MIN_HEAP, MAX_HEAP) & !(PAGE_SIZE - 1);
    let base = frames::alloc_boot_run(size / PAGE_SIZE)? as usize;
    let small = size as usize / SMALL_SHARE;
    // The frames are fresh, identity mapped read+write, and owned by the heap from now on.
    let mut heap = lock(&HEAP.0);
    heap.small_start = base;
    heap.small_end = base + small;
    heap.next = base;
    heap.large_start = base + small;
    heap.large_size = size as usize - small;
    Some(())
}

/// (bytes in use, heap size).
pub fn usage() -> (usize, usize) {
    let heap = lock(&HEAP.0);
    let large_size = heap.large.size().max(heap.large_size);
    (
        heap.small_used + heap.large.used(),
        heap.small_end - heap.small_start + large_size,
    )
}
