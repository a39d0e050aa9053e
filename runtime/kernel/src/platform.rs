//! `kiln_abi::Platform` on bare metal: serial console, TSC/RTC clocks, RDSEED/RDRAND, and
//! memory regions managed through the kernel's page tables.

use crate::lock::lock;
use crate::paging::{MapError, KERNEL_SPACE, PAGE_SIZE};
use crate::{clock, cpu, exit, frames, serial};
use alloc::vec::Vec;
use kiln_abi::{MemoryError, Platform, Protection};
use spin::{Mutex, Once};

/// Reserved regions are handed out from here up: far above any RAM of the identity map,
/// inside the lower half of the 48-bit address space.
const RESERVE_BASE: u64 = 0x0000_1000_0000_0000;
const RESERVE_LIMIT: u64 = 0x0000_7fff_0000_0000;
/// Unmapped space left between two regions, so running off one end faults.
const REGION_GAP: u64 = 1 << 21;
/// Live regions the list has room for before it first grows.
const INITIAL_REGIONS: usize = 16;

struct Regions {
    next: u64,
    /// `(start, len)` of every live region.
    live: Vec<(u64, u64)>,
}

static REGIONS: Mutex<Regions> = Mutex::new(Regions {
    next: RESERVE_BASE,
    live: Vec::new(),
});

/// State of the fallback random generator (xorshift64*), seeded from the TSC on first
/// use. It is only used if RDRAND keeps failing, which real and emulated CPUs with
/// RDRAND do not do; kiln's boot check makes RDRAND itself mandatory.
static FALLBACK_RNG: Mutex<u64> = Mutex::new(0);

fn fallback_random() -> u64 {
    let mut state = lock(&FALLBACK_RNG);
    if *state == 0 {
        *state = cpu::rdtsc() | 1;
    }
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

/// Whether the CPU has RDSEED, asked once.
static HAS_RDSEED: Once<bool> = Once::new();

fn random_u64() -> u64 {
    // RDSEED (the entropy source itself) when the CPU has it; it may run dry under load,
    // so a few tries, then RDRAND (its conditioned generator), which Intel recommends
    // retrying up to 10 times before giving up.
    let seed = || (0..4).find_map(|_| cpu::rdseed());
    (*HAS_RDSEED.call_once(cpu::has_rdseed))
        .then(seed)
        .flatten()
        .or_else(|| (0..10).find_map(|_| cpu::rdrand()))
        .unwrap_or_else(fallback_random)
}

fn map_error(e: MapError) -> MemoryError {
    match e {
        MapError::OutOfMemory => MemoryError::OutOfMemory,
        #[cfg(any(feature = "som", feature = "selftest"))]
        MapError::Conflict => MemoryError::BadRange,
        MapError::InsideHugePage | MapError::NoAccess => MemoryError::BadRange,
    }
}

/// The bare-metal platform. Stateless itself: the state lives in the kernel's globals.
pub struct KernelPlatform;

impl KernelPlatform {
    /// Maps the contiguous frames from `phys` read-write over `[addr, addr + len)`, inside
    /// a reserved region (native stacks: one run of frames, no zeroing, one page-table
    /// walk per 2 MiB).
    #[cfg(any(feature = "som", feature = "selftest"))]
    pub fn map_run(&self, addr: *mut u8, phys: u64, len: usize) -> Result<(), MemoryError> {
        let (addr, len) = (addr as u64, len as u64);
        Self::check_range(addr, len)?;
        let mut space = lock(&KERNEL_SPACE);
        let pt = space.as_mut().ok_or(MemoryError::OutOfMemory)?;
        pt.map_run(addr, phys, len / PAGE_SIZE, Protection::ReadWrite)
            .map_err(map_error)
    }

    /// Ends the region at `addr` like [`Platform::release`], but leaves its frames to the
    /// caller (who mapped them with [`KernelPlatform::map_run`] and frees the run whole).
    #[cfg(any(feature = "som", feature = "selftest"))]
    pub fn release_keeping_frames(&self, addr: *mut u8, len: usize) {
        self.end_region(addr as u64, len as u64, &mut |_| {});
    }

    /// Forgets the region `[addr, addr + len)` and unmaps its pages, handing each frame
    /// to `frame`.
    fn end_region(&self, addr: u64, len: u64, frame: &mut dyn FnMut(u64)) {
        let len = len.next_multiple_of(PAGE_SIZE);
        let mut regions = lock(&REGIONS);
        let Some(i) = regions.live.iter().position(|&r| r == (addr, len)) else {
            return;
        };
        regions.live.swap_remove(i);
        drop(regions);
        if let Some(pt) = lock(&KERNEL_SPACE).as_mut() {
            // Region pages are always small pages, so this cannot fail. The region's
            // (now empty) page tables are kept: its address range is never handed out again.
            let _ = pt.unmap_range(addr, addr + len, frame);
        }
    }

    /// Checks that `[addr, addr + len)` is page-aligned and inside one live region. Each
    /// test is one expression of `|` and `&` (one branch, not one per condition: under
    /// an emulator, each branch ends a block to translate).
    fn check_range(addr: u64, len: u64) -> Result<(), MemoryError> {
        if !(addr | len).is_multiple_of(PAGE_SIZE) {
            return Err(MemoryError::BadRange);
        }
        let end = addr.wrapping_add(len);
        let regions = lock(&REGIONS);
        let inside = regions
            .live
            .iter()
            .any(|&(start, rlen)| (addr >= start) & (end >= addr) & (end <= start + rlen));
        if inside {
            Ok(())
        } else {
            Err(MemoryError::BadRange)
        }
    }
}

impl Platform for KernelPlatform {
    fn console_write(&self, bytes: &[u8]) {
        serial::write_bytes(bytes);
    }

    /// Returns the bytes already received; 0 when none are waiting (a serial line has no
    /// end of input).
    fn console_read(&self, buf: &mut [u8]) -> usize {
        serial::read_available(buf)
    }

    fn monotonic_ns(&self) -> u64 {
        clock::monotonic_ns()
    }

    fn wall_clock_ns(&self) -> u64 {
        clock::wall_clock_ns()
    }

    fn random_fill(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&random_u64().to_le_bytes()[..chunk.len()]);
        }
    }

    fn reserve(&self, len: usize) -> Result<*mut u8, MemoryError> {
        let len = (len as u64).next_multiple_of(PAGE_SIZE);
        if len == 0 {
            return Err(MemoryError::BadRange);
        }
        let mut regions = lock(&REGIONS);
        let start = regions.next;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= RESERVE_LIMIT)
            .ok_or(MemoryError::OutOfMemory)?;
        regions.next = (end + REGION_GAP).next_multiple_of(REGION_GAP);
        if regions.live.capacity() == 0 {
            // Room for the regions a program usually has, in one allocation: under an
            // emulator, growing the list is code translated only for that.
            regions.live = Vec::with_capacity(INITIAL_REGIONS);
        }
        regions.live.push((start, len));
        Ok(start as *mut u8)
    }

    fn protect(&self, addr: *mut u8, len: usize, prot: Protection) -> Result<(), MemoryError> {
        let (addr, len) = (addr as u64, len as u64);
        Self::check_range(addr, len)?;
        let mut space = lock(&KERNEL_SPACE);
        let pt = space.as_mut().ok_or(MemoryError::OutOfMemory)?;
        if prot == Protection::None {
            // SAFETY: each frame was mapped only here and is now unmapped.
            return pt
                .unmap_range(addr, addr + len, |frame| unsafe { frames::free(frame) })
                .map_err(map_error);
        }
        let mut page = addr;
        while page < addr + len {
            pt.set_page(page, prot).map_err(map_error)?;
            page += PAGE_SIZE;
        }
        Ok(())
    }

    fn release(&self, addr: *mut u8, len: usize) {
        // SAFETY: each frame was mapped only in this region and is now unmapped.
        self.end_region(addr as u64, len as u64, &mut |frame| unsafe {
            frames::free(frame)
        });
    }

    fn exit(&self, status: i32) -> ! {
        exit::exit_code(status as u8)
    }
}
