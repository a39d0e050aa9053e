//! Page tables: the kernel's address space and the API to change it, keeping W^X.
//!
//! Layout: all RAM from the memory map is identity mapped read+write+no-execute (2 MiB
//! pages where alignment allows), except the kernel image, which is mapped page by page
//! with the rights of its sections: text read+execute, rodata read-only, data/bss/stacks
//! read+write+no-execute, and the stack guard pages not at all. Page 0 stays unmapped so
//! null pointers fault. `Platform::reserve` hands out address space far above RAM.
//!
//! W^X holds by construction: mappings are made from `kiln_abi::Protection`, which has no
//! writable+executable value, and EFER.NXE is on, so no page is ever both.

use crate::lock::lock;
use crate::start_info::{BootInfo, RAM};
use crate::{boot, cpu, frames};
use kiln_abi::Protection;
use spin::Mutex;

/// Size of a small page.
pub const PAGE_SIZE: u64 = 4096;
const HUGE_PAGE_SIZE: u64 = 2 * 1024 * 1024;

const PRESENT: u64 = 1;
const WRITABLE: u64 = 1 << 1;
const HUGE: u64 = 1 << 7;
const NO_EXECUTE: u64 = 1 << 63;
const ADDRESS_MASK: u64 = 0x000f_ffff_ffff_f000;

/// Why a page-table change was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// No frame left for a page table.
    OutOfMemory,
    /// The page is already mapped (a run of native stack pages).
    #[cfg(any(feature = "som", feature = "selftest"))]
    Conflict,
    /// The address lies inside a 2 MiB page of the RAM direct map.
    InsideHugePage,
    /// `Protection::None` cannot be mapped: unmap instead.
    NoAccess,
}

/// The leaf-entry bits for a protection. There is no writable+executable result.
fn leaf_bits(prot: Protection) -> Result<u64, MapError> {
    let bits = match prot {
        Protection::None => return Err(MapError::NoAccess),
        Protection::Read => PRESENT | NO_EXECUTE,
        Protection::ReadWrite => PRESENT | WRITABLE | NO_EXECUTE,
        Protection::ReadExecute => PRESENT,
    };
    debug_assert!(bits & WRITABLE == 0 || bits & NO_EXECUTE != 0, "W^X");
    Ok(bits)
}

fn table(phys: u64) -> *mut [u64; 512] {
    // Page tables live in identity-mapped RAM.
    phys as *mut [u64; 512]
}

fn index(virt: u64, level: u32) -> usize {
    ((virt >> (12 + 9 * (level - 1))) & 511) as usize
}

/// A four-level page-table tree.
pub struct PageTables {
    pml4: u64,
}

impl PageTables {
    fn new() -> Result<Self, MapError> {
        Ok(PageTables {
            pml4: frames::alloc_zeroed().ok_or(MapError::OutOfMemory)?,
        })
    }

    /// The entry for `virt` at `level` (1 = page table, 2 = page directory), creating the
    /// intermediate tables that are missing. Never inlined: one copy of the walk serves
    /// every caller, so an emulator translates it once.
    #[inline(never)]
    fn entry(&mut self, virt: u64, level: u32) -> Result<*mut u64, MapError> {
        let mut table_phys = self.pml4;
        for l in (level + 1..=4).rev() {
            // SAFETY: `table_phys` is a page table of this tree, in identity-mapped RAM.
            let e = unsafe { &mut (*table(table_phys))[index(virt, l)] };
            if *e & PRESENT == 0 {
                let frame = frames::alloc_zeroed().ok_or(MapError::OutOfMemory)?;
                // Intermediate entries allow everything; the leaf decides.
                *e = frame | PRESENT | WRITABLE;
            } else if *e & HUGE != 0 {
                return Err(MapError::InsideHugePage);
            }
            table_phys = *e & ADDRESS_MASK;
        }
        // SAFETY: as above.
        Ok(unsafe { &mut (*table(table_phys))[index(virt, level)] as *mut u64 })
    }

    /// The page table (level 1) covering the 2 MiB-aligned `virt`, created if missing.
    fn leaf_table(&mut self, virt: u64) -> Result<&mut [u64; 512], MapError> {
        let first = self.entry(virt, 1)?;
        // SAFETY: `entry` returned entry 0 of a page table (`virt` is 2 MiB aligned): a
        // 512-entry table of this tree, in identity-mapped RAM.
        Ok(unsafe { &mut *(first as *mut [u64; 512]) })
    }

    /// Maps the `count` pages from `virt` to the contiguous frames from `phys`, walking
    /// the tree once per page table rather than once per page.
    #[cfg(any(feature = "som", feature = "selftest"))]
    pub fn map_run(
        &mut self,
        virt: u64,
        phys: u64,
        count: u64,
        prot: Protection,
    ) -> Result<(), MapError> {
        let bits = leaf_bits(prot)?;
        let mut done = 0;
        while done < count {
            let addr = virt + done * PAGE_SIZE;
            let table = self.leaf_table(addr & !(HUGE_PAGE_SIZE - 1))?;
            let first = index(addr, 1);
            let n = (512 - first).min((count - done) as usize);
            for (k, e) in table[first..first + n].iter_mut().enumerate() {
                if *e & PRESENT != 0 {
                    return Err(MapError::Conflict);
                }
                *e = (phys + (done + k as u64) * PAGE_SIZE) | bits;
            }
            done += n as u64;
        }
        Ok(())
    }

    /// Gives the 4 KiB page at `virt` the rights `prot`: a mapped page keeps its frame, a
    /// page not mapped yet gets a zeroed frame.
    /// One walk of the tree either way. Inlined into its one caller's loop: a call per
    /// page would be more distinct code for an emulator to translate.
    #[inline(always)]
    pub fn set_page(&mut self, virt: u64, prot: Protection) -> Result<(), MapError> {
        let bits = leaf_bits(prot)?;
        let e = self.entry(virt, 1)?;
        // SAFETY: `entry` returned a valid entry of this tree.
        unsafe {
            if *e & PRESENT != 0 {
                *e = (*e & ADDRESS_MASK) | bits;
                cpu::invlpg(virt);
            } else {
                *e = frames::alloc_zeroed().ok_or(MapError::OutOfMemory)? | bits;
            }
        }
        Ok(())
    }

    /// Unmaps every page in `[start, end)`, handing each frame to `release`. Walks the
    /// tree, skipping missing tables whole, so clearing a mostly-empty 8 GiB region
    /// touches a handful of entries.
    pub fn unmap_range(
        &mut self,
        start: u64,
        end: u64,
        mut release: impl FnMut(u64),
    ) -> Result<(), MapError> {
        unmap_in(self.pml4, 4, start, end, &mut release)
    }
}

/// Unmaps the pages of `[start, end)` under the table at `table_phys` (at `level`).
fn unmap_in(
    table_phys: u64,
    level: u32,
    start: u64,
    end: u64,
    release: &mut dyn FnMut(u64),
) -> Result<(), MapError> {
    // Bytes one entry of this level covers.
    let span = PAGE_SIZE << (9 * (level - 1));
    let mut addr = start;
    while addr < end {
        let next = (addr | (span - 1)).saturating_add(1);
        // SAFETY: `table_phys` is a page table of this tree, in identity-mapped RAM.
        let e = unsafe { &mut (*table(table_phys))[index(addr, level)] };
        if *e & PRESENT != 0 {
            if level == 1 {
                release(*e & ADDRESS_MASK);
                *e = 0;
                cpu::invlpg(addr);
            } else if *e & HUGE != 0 {
                return Err(MapError::InsideHugePage);
            } else {
                unmap_in(*e & ADDRESS_MASK, level - 1, addr, end.min(next), release)?;
            }
        }
        addr = next;
    }
    Ok(())
}

/// The kernel's (only) address space, once `init` has built it.
pub static KERNEL_SPACE: Mutex<Option<PageTables>> = Mutex::new(None);

fn addr_of(sym: &u8) -> u64 {
    sym as *const u8 as u64
}

/// Where the image's parts lie, from the linker script.
struct Layout {
    kernel_start: u64,
    text_end: u64,
    rodata_end: u64,
    kernel_end: u64,
    guards: [u64; 4],
}

/// The unmapped guard pages below the kernel's stacks (boot, the two IST stacks, and the
/// WASM programs' stack, which is the boot stack's guard again in an image without the
/// WASM runtime).
pub fn guard_pages() -> [u64; 4] {
    // SAFETY: only the addresses of linker-placed symbols are taken.
    unsafe {
        [
            addr_of(&boot::__boot_stack_guard),
            addr_of(&boot::__ist_guard),
            addr_of(&boot::__ist_fatal_guard),
            addr_of(&__wasm_stack_guard),
        ]
    }
}

impl Layout {
    fn read() -> Layout {
        // SAFETY: only the addresses of linker symbols are taken.
        unsafe {
            Layout {
                kernel_start: addr_of(&__kernel_start),
                text_end: addr_of(&__text_end),
                rodata_end: addr_of(&__rodata_end),
                kernel_end: addr_of(&__kernel_end),
                guards: guard_pages(),
            }
        }
    }
}

/// Sets the entries of `table` (the page table of the 2 MiB at `base`) for the pages in
/// `[from, to)` that it covers to map each page to itself with `bits`. One loop, shared
/// by every part of the boot layout.
#[inline(never)]
fn fill(table: &mut [u64; 512], base: u64, from: u64, to: u64, bits: u64) {
    let mut page = from.max(base);
    let end = to.min(base + HUGE_PAGE_SIZE);
    while page < end {
        // The page lies in the table's 2 MiB: the mask only spares a bounds check.
        table[((page - base) / PAGE_SIZE) as usize & 511] = page | bits;
        page += PAGE_SIZE;
    }
}

/// Sets the entries of `table` (the page table of the 2 MiB at `base`) for the image's
/// pages in it: each maps itself with the rights of its section (`rx` text, `ro` rodata,
/// `rw` the rest), a guard page not at all. One loop whose body picks without branching:
/// the image's steps take this one call each, where a call per section and a table walk
/// per guard page were more code for an emulator to translate.
#[inline(never)]
fn fill_image(table: &mut [u64; 512], base: u64, l: &Layout, [rx, ro, rw]: [u64; 3]) {
    let mut page = l.kernel_start.max(base);
    let end = l.kernel_end.min(base + HUGE_PAGE_SIZE);
    let [g0, g1, g2, g3] = l.guards;
    while page < end {
        let bits = if page < l.text_end {
            rx
        } else if page < l.rodata_end {
            ro
        } else {
            rw
        };
        let guard = (page == g0) | (page == g1) | (page == g2) | (page == g3);
        table[((page - base) / PAGE_SIZE) as usize & 511] = if guard { 0 } else { page | bits };
        page += PAGE_SIZE;
    }
}

/// Builds the kernel's page tables from the memory map and switches to them.
///
/// Each RAM region is mapped read+write in 2 MiB steps (page 0 left out): a step wholly
/// inside the region and clear of the image is one 2 MiB page, any other gets a page
/// table, filled with the region's whole pages ([`fill`]). Then the image's pages are
/// set over that by section, its guard pages cleared ([`fill_image`]). Few code paths and tight
/// loops: this runs once, under an emulator that pays for each distinct block it
/// translates and each block it runs.
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn init(info: &BootInfo) -> Result<(), MapError> {
    let l = Layout::read();
    let rw = leaf_bits(Protection::ReadWrite)?;
    let rx = leaf_bits(Protection::ReadExecute)?;
    let ro = leaf_bits(Protection::Read)?;
    let mut pt = PageTables::new()?;
    // The 2 MiB steps the image touches: never one 2 MiB page, whatever RAM holds.
    let image_start = l.kernel_start & !(HUGE_PAGE_SIZE - 1);
    let image_end = l.kernel_end.next_multiple_of(HUGE_PAGE_SIZE);
    for r in info.regions() {
        if r.kind != RAM {
            continue;
        }
        let from = r.start.max(PAGE_SIZE).next_multiple_of(PAGE_SIZE);
        let to = r.end() & !(PAGE_SIZE - 1);
        let mut step = from & !(HUGE_PAGE_SIZE - 1);
        while step < to {
            let end = step + HUGE_PAGE_SIZE;
            if from <= step && end <= to && !(image_start..image_end).contains(&step) {
                let e = pt.entry(step, 2)?;
                // SAFETY: `entry` returned an entry of this tree, empty: regions do not
                // overlap, so no other step of the map reached it.
                unsafe { *e = step | rw | HUGE };
            } else {
                fill(pt.leaf_table(step)?, step, from, to, rw);
            }
            step = end;
        }
    }
    let mut step = image_start;
    while step < image_end {
        fill_image(pt.leaf_table(step)?, step, &l, [rx, ro, rw]);
        step += HUGE_PAGE_SIZE;
    }
    // SAFETY: the new tables map the image (running code, stacks, statics) and all RAM at
    // the same addresses as the boot tables did.
    unsafe { cpu::set_cr3(pt.pml4) };
    *lock(&KERNEL_SPACE) = Some(pt);
    Ok(())
}

/// Whether `virt` is mapped in the current address space. Reads the live tables without
/// taking the lock, so the fault handler can use it whatever was interrupted.
pub fn is_mapped(virt: u64) -> bool {
    if (1 << 47..0xffff_8000_0000_0000).contains(&virt) {
        return false;
    }
    let mut table_phys = cpu::cr3();
    for level in (1..=4).rev() {
        // SAFETY: CR3 and every present non-leaf entry point at page tables in
        // identity-mapped RAM; this only reads them.
        let e = unsafe { (*table(table_phys))[index(virt, level)] };
        if e & PRESENT == 0 {
            return false;
        }
        if level == 1 || (level == 2 && e & HUGE != 0) {
            return true;
        }
        table_phys = e & ADDRESS_MASK;
    }
    false
}

/// Counts of mapped 4 KiB-equivalent pages by their effective rights, from a full walk of
/// the live page tables (rights along the path combine: writable only if every level
/// allows writes, executable only if no level sets NX).
#[cfg(feature = "selftest")]
#[derive(Default, Debug)]
pub struct Audit {
    pub read_only: u64,
    pub read_write: u64,
    pub read_execute: u64,
    pub write_execute: u64,
}

/// Walks every present entry of the current address space.
#[cfg(feature = "selftest")]
pub fn audit() -> Audit {
    fn walk(table_phys: u64, level: u32, writable: bool, executable: bool, out: &mut Audit) {
        for i in 0..512 {
            // SAFETY: `table_phys` is a live page table in identity-mapped RAM; read only.
            let e = unsafe { (*table(table_phys))[i] };
            if e & PRESENT == 0 {
                continue;
            }
            let w = writable && e & WRITABLE != 0;
            let x = executable && e & NO_EXECUTE == 0;
            if level == 1 || e & HUGE != 0 {
                let pages = 1u64 << (9 * (level - 1));
                match (w, x) {
                    (true, true) => out.write_execute += pages,
                    (true, false) => out.read_write += pages,
                    (false, true) => out.read_execute += pages,
                    (false, false) => out.read_only += pages,
                }
            } else {
                walk(e & ADDRESS_MASK, level - 1, w, x, out);
            }
        }
    }
    let mut out = Audit::default();
    walk(cpu::cr3(), 4, true, true, &mut out);
    out
}

extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __kernel_end: u8;
    /// The guard page below the WASM programs' stack (`wasm.rs`), or the boot stack's.
    static __wasm_stack_guard: u8;
}

/// The kernel image's first byte.
pub fn kernel_start() -> u64 {
    // SAFETY: only the address of the linker symbol is taken.
    unsafe { addr_of(&__kernel_start) }
}

/// The first byte after the kernel image (bss and stacks included).
pub fn kernel_end() -> u64 {
    // SAFETY: only the address of the linker symbol is taken.
    unsafe { addr_of(&__kernel_end) }
}
