//! The PVH `hvm_start_info` block: the VMM's memory map and kernel command line.
//!
//! Both are copied into kernel-owned storage at boot, before the boot page tables (which
//! map the first GiB, where VMMs put the block) are replaced.

/// `hvm_start_info.magic`: "xEn3" with the high bit of each byte cleared.
const MAGIC: u32 = 0x336e_c578;
/// The memory-map fields exist from this `version` on.
const VERSION_WITH_MEMMAP: u32 = 1;
/// Most memory-map entries kept (QEMU reports fewer than 10).
const MAX_REGIONS: usize = 32;
/// Longest command line kept.
const MAX_CMDLINE: usize = 1024;

/// Memory-map entry type for usable RAM (the E820 numbering).
pub const RAM: u32 = 1;

#[repr(C)]
struct HvmStartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

#[repr(C)]
struct HvmMemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

/// A range of physical memory and what the VMM says it is.
#[derive(Clone, Copy, Debug)]
pub struct Region {
    pub start: u64,
    pub len: u64,
    pub kind: u32,
}

impl Region {
    /// One past the last byte.
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// What the kernel keeps from `hvm_start_info`. All zero bytes are a valid, empty one
/// (every field is an integer or an array of them): [`BootInfo::read`] fills one in place.
pub struct BootInfo {
    regions: [Region; MAX_REGIONS],
    region_count: usize,
    /// Usable RAM in bytes, summed once.
    ram_bytes: u64,
    cmdline: [u8; MAX_CMDLINE],
    /// Bytes of `cmdline` that are valid UTF-8 (it is cut at the first bad byte).
    cmdline_len: usize,
}

impl BootInfo {
    /// Reads the block at physical address `paddr` (identity mapped during boot) into
    /// `self`, which must be all zeros.
    ///
    /// # Safety
    /// `paddr` must be the `hvm_start_info` pointer the VMM passed in `ebx`, and the
    /// memory it and its memory map and command line live in must still be mapped.
    // Called once, by `kiln_main`: inlined there (see `start`).
    #[inline(always)]
    pub unsafe fn read(&mut self, paddr: u64) -> Result<(), &'static str> {
        // SAFETY: the caller guarantees the block is mapped; it is 8-byte aligned by the
        // PVH specification.
        let raw = unsafe { &*(paddr as *const HvmStartInfo) };
        if raw.magic != MAGIC {
            return Err("hvm_start_info has a bad magic number (not booted through PVH?)");
        }
        if raw.version < VERSION_WITH_MEMMAP || raw.memmap_entries == 0 {
            return Err("the VMM passed no memory map in hvm_start_info");
        }
        let info = self;
        for i in 0..raw.memmap_entries as usize {
            // SAFETY: the VMM guarantees `memmap_entries` entries at `memmap_paddr`.
            let entry = unsafe { &*(raw.memmap_paddr as *const HvmMemmapEntry).add(i) };
            if entry.size == 0 {
                continue;
            }
            let Some(slot) = info.regions.get_mut(info.region_count) else {
                return Err("the VMM's memory map has too many entries");
            };
            *slot = Region {
                start: entry.addr,
                len: entry.size,
                kind: entry.kind,
            };
            info.region_count += 1;
            if entry.kind == RAM {
                info.ram_bytes += entry.size;
            }
        }
        if raw.cmdline_paddr != 0 {
            let src = raw.cmdline_paddr as *const u8;
            // SAFETY: the command line is a NUL-terminated string; we stop at the NUL or
            // at our buffer's end, whichever comes first.
            while info.cmdline_len < MAX_CMDLINE && unsafe { *src.add(info.cmdline_len) } != 0 {
                // SAFETY: as above, the byte before the NUL is part of the string.
                info.cmdline[info.cmdline_len] = unsafe { *src.add(info.cmdline_len) };
                info.cmdline_len += 1;
            }
            // SAFETY: the string goes on at least to this byte (its NUL or more text).
            if info.cmdline_len == MAX_CMDLINE && unsafe { *src.add(MAX_CMDLINE) } != 0 {
                return Err("the kernel command line is longer than 1024 bytes");
            }
            // (An empty line, what QEMU passes without `-append`, needs no check.)
            if info.cmdline_len > 0 {
                if let Err(e) = core::str::from_utf8(&info.cmdline[..info.cmdline_len]) {
                    info.cmdline_len = e.valid_up_to();
                }
            }
        }
        Ok(())
    }

    /// The memory map, without zero-sized entries.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.region_count]
    }

    /// Total usable RAM in bytes.
    pub fn ram_bytes(&self) -> u64 {
        self.ram_bytes
    }

    /// The command line (invalid UTF-8 is cut at the first bad byte).
    pub fn cmdline(&self) -> &str {
        // SAFETY: `read` cut `cmdline_len` to the longest valid UTF-8 prefix.
        unsafe { core::str::from_utf8_unchecked(&self.cmdline[..self.cmdline_len]) }
    }
}
