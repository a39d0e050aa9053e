//! The physical frame allocator: 4 KiB frames of RAM from the VMM's memory map.
//!
//! Frames are handed out by a bump pointer through the RAM ranges (nothing is zeroed or
//! touched up front, which keeps boot fast); freed frames go on a free list threaded
//! through the frames themselves (all RAM is identity mapped, see `paging`). Runs of
//! contiguous frames (native stacks, which come and go with every program) are freed
//! whole into a few run slots, so the next run of that size is handed out again without
//! touching its frames.
//!
//! Single frames (page tables, the pages of WASM memories) come first from the RAM below
//! the image, free once the boot information is copied: the VMM's firmware has already
//! touched those 2 MiB. The runs, the heap's first of all, start right after the image.
//! Under QEMU, guest RAM is backed by transparent huge pages, so the first touch of each
//! 2 MiB of it makes the host clear a whole 2 MiB page (0.2-0.5 ms): frames handed out
//! after the heap's run would each open another 2 MiB.

use crate::lock::lock;
use crate::paging::PAGE_SIZE;
use crate::start_info::{BootInfo, RAM};
use spin::Mutex;

const MAX_RANGES: usize = 16;
/// Freed runs of contiguous frames kept whole.
const MAX_RUNS: usize = 8;
/// The start of the PC's legacy hole (VGA memory, option ROMs, the BIOS) that ends at
/// 1 MiB: not RAM, whatever a memory map says (QEMU's own map has one RAM entry from 0
/// across it; its firmwares split it, but the frames below the image must not depend on
/// that).
const LEGACY_HOLE: u64 = 0xa_0000;

struct Frames {
    /// RAM below the image, `[low_next, low_end)`: handed out a frame at a time, first.
    low_next: u64,
    low_end: u64,
    /// Usable RAM from the end of the image on, as `[start, end)` page-aligned ranges, in
    /// map order.
    ranges: [(u64, u64); MAX_RANGES],
    range_count: usize,
    /// The range the bump pointer is in, and the pointer.
    current: usize,
    next: u64,
    /// Head of the list of freed frames (0 = empty); each holds the next one's address.
    free_head: u64,
    /// Freed runs as `(first frame, frames)`; the first `run_count` slots are used.
    runs: [(u64, u64); MAX_RUNS],
    run_count: usize,
    total: u64,
    in_use: u64,
}

static FRAMES: Mutex<Frames> = Mutex::new(Frames {
    low_next: 0,
    low_end: 0,
    ranges: [(0, 0); MAX_RANGES],
    range_count: 0,
    current: 0,
    next: 0,
    free_head: 0,
    runs: [(0, 0); MAX_RUNS],
    run_count: 0,
    total: 0,
    in_use: 0,
});

/// Takes the largest RAM range below `image_start` and the legacy hole (page 0 left out:
/// null stays unmapped) and every RAM range at or above `image_end`: the kernel image's
/// bounds. The boot information must have been copied: the VMM's structures lie below
/// the image.
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn init(info: &BootInfo, image_start: u64, image_end: u64) {
    let mut f = lock(&FRAMES);
    for r in info.regions().iter().filter(|r| r.kind == RAM) {
        let low_start = r.start.max(PAGE_SIZE).next_multiple_of(PAGE_SIZE);
        let low_end = r.end().min(image_start).min(LEGACY_HOLE) & !(PAGE_SIZE - 1);
        if low_start < low_end && low_end - low_start > f.low_end - f.low_next {
            (f.low_next, f.low_end) = (low_start, low_end);
        }
        let start = r.start.max(image_end).next_multiple_of(PAGE_SIZE);
        let end = r.end() & !(PAGE_SIZE - 1);
        if start >= end {
            continue;
        }
        let i = f.range_count;
        let Some(slot) = f.ranges.get_mut(i) else {
            crate::warn!("RAM range {start:#x}..{end:#x} ignored: more than {MAX_RANGES} ranges");
            continue;
        };
        *slot = (start, end);
        f.range_count += 1;
        f.total += (end - start) / PAGE_SIZE;
    }
    f.total += (f.low_end - f.low_next) / PAGE_SIZE;
    f.next = f.ranges[0].0;
}

impl Frames {
    /// Bump-allocates `count` contiguous frames from the current range. A run that does
    /// not fit there is taken from the end of a later range instead, so that the rest of
    /// the current range stays for smaller requests (a run too large for any range must
    /// not use the bump pointer up).
    fn bump(&mut self, count: u64) -> Option<u64> {
        while self.current < self.range_count {
            if let Some(frame) = self.bump_in_current(count) {
                return Some(frame);
            }
            if count > 1 {
                return self.take_from_later_range(count);
            }
            self.current += 1;
            if self.current < self.range_count {
                self.next = self.ranges[self.current].0;
            }
        }
        None
    }

    /// Takes `count` frames at the bump pointer if the current range has them (an
    /// exhausted allocator's current slot is an empty range).
    #[inline(always)]
    fn bump_in_current(&mut self, count: u64) -> Option<u64> {
        let end = self.ranges.get(self.current)?.1;
        if self.next + count * PAGE_SIZE > end {
            return None;
        }
        let frame = self.next;
        self.next += count * PAGE_SIZE;
        self.in_use += count;
        Some(frame)
    }

    /// Takes `count` frames from the end of the first range after the current one that
    /// has them.
    fn take_from_later_range(&mut self, count: u64) -> Option<u64> {
        let bytes = count * PAGE_SIZE;
        let later = self.current + 1..self.range_count;
        let i = later.into_iter().find(|&i| {
            let (start, end) = self.ranges[i];
            end - start >= bytes
        })?;
        self.ranges[i].1 -= bytes;
        self.in_use += count;
        Some(self.ranges[i].1)
    }

    /// Takes `count` frames from the front of the smallest freed run that has them, so
    /// that a large freed run (a Smalltalk stack) stays whole for the next large request.
    fn take_run(&mut self, count: u64) -> Option<u64> {
        let i = (0..self.run_count)
            .filter(|&i| self.runs[i].1 >= count)
            .min_by_key(|&i| self.runs[i].1)?;
        let (start, len) = self.runs[i];
        if len == count {
            self.run_count -= 1;
            self.runs[i] = self.runs[self.run_count];
        } else {
            self.runs[i] = (start + count * PAGE_SIZE, len - count);
        }
        self.in_use += count;
        Some(start)
    }
}

/// One frame with unspecified contents: a freed one, else one from below the image, else
/// a fresh one after it.
pub fn alloc() -> Option<u64> {
    let mut f = lock(&FRAMES);
    if f.free_head != 0 {
        let frame = f.free_head;
        // SAFETY: a freed frame is identity-mapped RAM owned by the free list; its first
        // word holds the next free frame.
        f.free_head = unsafe { *(frame as *const u64) };
        f.in_use += 1;
        return Some(frame);
    }
    if f.low_next < f.low_end {
        let frame = f.low_next;
        f.low_next += PAGE_SIZE;
        f.in_use += 1;
        return Some(frame);
    }
    f.bump(1).or_else(|| f.take_run(1))
}

/// One frame filled with zeros.
pub fn alloc_zeroed() -> Option<u64> {
    let frame = alloc()?;
    // SAFETY: the frame was just allocated, so nothing else uses it; RAM is identity mapped.
    unsafe { core::ptr::write_bytes(frame as *mut u8, 0, PAGE_SIZE as usize) };
    Some(frame)
}

/// `count` physically contiguous frames with unspecified contents: a freed run if one
/// is large enough, else fresh frames.
#[inline]
pub fn alloc_contiguous(count: u64) -> Option<u64> {
    let mut f = lock(&FRAMES);
    f.take_run(count).or_else(|| f.bump(count))
}

/// `count` contiguous frames for the heap, asked for at boot before any other run: the
/// front of the RAM after the image when it has them, taken inline (an emulator then
/// translates neither [`alloc_contiguous`] nor the bump loop, which a boot whose
/// programs need no other run never runs), else as [`alloc_contiguous`] finds them.
// Called once, by `heap::init`: inlined there (see `start`).
#[inline(always)]
pub fn alloc_boot_run(count: u64) -> Option<u64> {
    let first = lock(&FRAMES).bump_in_current(count);
    first.or_else(|| alloc_contiguous(count))
}

/// Gives back `count` contiguous frames from [`alloc_contiguous`], kept whole for the next
/// request of that size when a run slot is free.
///
/// # Safety
/// The frames must have come from this allocator and must no longer be mapped or used.
#[cfg(any(feature = "som", feature = "selftest"))]
pub unsafe fn free_run(start: u64, count: u64) {
    let mut f = lock(&FRAMES);
    if f.run_count < MAX_RUNS {
        let i = f.run_count;
        f.runs[i] = (start, count);
        f.run_count += 1;
        f.in_use -= count;
        return;
    }
    drop(f);
    for i in 0..count {
        // SAFETY: the caller hands the whole run over.
        unsafe { free(start + i * PAGE_SIZE) };
    }
}

/// Gives a frame back.
///
/// # Safety
/// `frame` must have come from this allocator and must no longer be mapped or used.
pub unsafe fn free(frame: u64) {
    let mut f = lock(&FRAMES);
    // SAFETY: the caller hands the frame over; RAM is identity mapped and writable.
    unsafe { *(frame as *mut u64) = f.free_head };
    f.free_head = frame;
    f.in_use -= 1;
}

/// (frames in use, frames managed).
pub fn usage() -> (u64, u64) {
    let f = lock(&FRAMES);
    (f.in_use, f.total)
}
