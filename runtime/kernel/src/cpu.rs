//! CPU identification, feature checks and control-register access.

use core::arch::asm;

/// The four registers CPUID returns.
#[derive(Clone, Copy, Debug)]
pub struct Cpuid {
    pub eax: u32,
    pub ebx: u32,
    pub ecx: u32,
    pub edx: u32,
}

/// Executes CPUID for `leaf`/`subleaf`.
pub fn cpuid(leaf: u32, subleaf: u32) -> Cpuid {
    let (eax, ebx, ecx, edx): (u32, u32, u32, u32);
    // SAFETY: CPUID only reads CPU information. LLVM reserves rbx, so it is saved in a
    // scratch register around the instruction.
    unsafe {
        asm!(
            "mov {saved:r}, rbx",
            "cpuid",
            "xchg {saved:r}, rbx",
            saved = out(reg) ebx,
            inout("eax") leaf => eax,
            inout("ecx") subleaf => ecx,
            out("edx") edx,
            options(nomem, nostack, preserves_flags),
        )
    }
    Cpuid { eax, ebx, ecx, edx }
}

/// The CPUID words the required features live in, as indexes of [`Features`]: leaf 1
/// ECX and EDX, leaf 7 EBX, leaf 0x8000_0001 ECX and EDX.
const LEAF1_ECX: usize = 0;
const LEAF1_EDX: usize = 1;
const LEAF7_EBX: usize = 2;
const EXT1_ECX: usize = 3;
const EXT1_EDX: usize = 4;
const WORDS: usize = 5;

/// The features kiln needs: the x86-64 baseline the kernel itself relies on, then what
/// the default machine profile guarantees to generated code (targets/qemu-*.toml). Each
/// is a name, a CPUID word and a bit.
const REQUIRED: &[(&str, usize, u32)] = &[
    ("fxsr", LEAF1_EDX, 24),
    ("sse", LEAF1_EDX, 25),
    ("sse2", LEAF1_EDX, 26),
    ("nx", EXT1_EDX, 20),
    ("sse3", LEAF1_ECX, 0),
    ("ssse3", LEAF1_ECX, 9),
    ("sse4.1", LEAF1_ECX, 19),
    ("sse4.2", LEAF1_ECX, 20),
    ("popcnt", LEAF1_ECX, 23),
    ("lzcnt", EXT1_ECX, 5),
    ("bmi1", LEAF7_EBX, 3),
    ("bmi2", LEAF7_EBX, 8),
    ("movbe", LEAF1_ECX, 22),
    ("cx16", LEAF1_ECX, 13),
    ("rdrand", LEAF1_ECX, 30),
];

/// RDSEED: leaf 7 EBX bit 18 (not required).
const RDSEED_BIT: u32 = 18;

/// The required bits of each CPUID word, folded from [`REQUIRED`] at compile time.
const REQUIRED_MASKS: [u32; WORDS] = {
    let mut masks = [0; WORDS];
    let mut i = 0;
    while i < REQUIRED.len() {
        let (_, word, bit) = REQUIRED[i];
        masks[word] |= 1 << bit;
        i += 1;
    }
    masks
};

/// The CPUID words that hold the feature bits kiln checks.
pub struct Features([u32; WORDS]);

impl Features {
    /// Reads the words; a leaf beyond the CPU's highest reads as all zeros. Straight-line
    /// code (the leaf checks select, they do not branch): this runs once, at boot, where
    /// an emulator pays for translating each block far more than for running it.
    pub fn read() -> Features {
        let max = cpuid(0, 0).eax;
        let max_ext = cpuid(0x8000_0000, 0).eax;
        let leaf1 = cpuid(1, 0);
        let leaf7 = cpuid(7, 0);
        let ext1 = cpuid(0x8000_0001, 0);
        let has7 = u32::from(max >= 7).wrapping_neg();
        let has_ext1 = u32::from(max_ext >= 0x8000_0001).wrapping_neg();
        Features([
            leaf1.ecx,
            leaf1.edx,
            leaf7.ebx & has7,
            ext1.ecx & has_ext1,
            ext1.edx & has_ext1,
        ])
    }

    /// Whether every required feature is present (no branch per feature).
    pub fn complete(&self) -> bool {
        let mut lacking = 0;
        for (&word, &mask) in self.0.iter().zip(&REQUIRED_MASKS) {
            lacking |= mask & !word;
        }
        lacking == 0
    }

    /// The names of the required features this CPU lacks.
    pub fn missing(&self) -> impl Iterator<Item = &'static str> + '_ {
        REQUIRED
            .iter()
            .filter(|&&(_, word, bit)| self.0[word] & (1 << bit) == 0)
            .map(|&(name, ..)| name)
    }

    /// Whether the CPU has RDSEED.
    pub fn rdseed(&self) -> bool {
        self.0[LEAF7_EBX] & (1 << RDSEED_BIT) != 0
    }
}

/// The CPU's brand string, or its vendor string when there is none.
pub struct CpuName {
    bytes: [u8; 48],
}

impl CpuName {
    /// Reads the brand string (CPUID 0x80000002..4) or the vendor (CPUID 0).
    // Called once, by `kiln_main`: inlined there (see `start`).
    #[inline(always)]
    pub fn read() -> CpuName {
        let mut words = [0u32; 12];
        if cpuid(0x8000_0000, 0).eax >= 0x8000_0004 {
            for (i, leaf) in (0x8000_0002u32..=0x8000_0004).enumerate() {
                let r = cpuid(leaf, 0);
                words[i * 4..][..4].copy_from_slice(&[r.eax, r.ebx, r.ecx, r.edx]);
            }
        } else {
            let r = cpuid(0, 0);
            words[..3].copy_from_slice(&[r.ebx, r.edx, r.ecx]);
        }
        let mut bytes = [0; 48];
        for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        CpuName { bytes }
    }

    /// The name up to its first NUL without padding (spaces), or "unknown" if it is not
    /// printable ASCII. One pass without a branch in its body (the first NUL ends the
    /// name by a mask, not a break: the plain loop with `break` and `if` costs 6-7 more
    /// translated blocks at boot), kept a loop: this runs once, at boot, where an
    /// emulator pays for translating each block of code far more than for running it,
    /// and `black_box` hides the length so that the compiler does not unroll it.
    // Called once, by `kiln_main`: inlined there (see `start`).
    #[inline(always)]
    pub fn as_str(&self) -> &str {
        let (mut start, mut end, mut bad, mut live) = (self.bytes.len(), 0, 0, 1);
        for (i, &b) in core::hint::black_box(&self.bytes[..]).iter().enumerate() {
            // 1 up to the first NUL, 0 from it on.
            live &= usize::from(b != 0);
            // 1 for a byte of the name that is not a space.
            let shown = live & usize::from(b != b' ');
            // `i | (shown - 1)` is `i` when shown, else `usize::MAX`: the first shown byte.
            start = start.min(i | (shown.wrapping_sub(1)));
            // `(i + 1) * shown` is 0 when not shown: one past the last shown byte.
            end = end.max((i + 1) * shown);
            bad |= live & usize::from(!(b' '..=b'~').contains(&b));
        }
        if bad != 0 {
            return "unknown";
        }
        let text = self.bytes.get(start..end).unwrap_or_default();
        // SAFETY: every byte is printable ASCII (checked above), so the bytes are UTF-8.
        unsafe { core::str::from_utf8_unchecked(text) }
    }
}

/// Reads the time-stamp counter.
pub fn rdtsc() -> u64 {
    let (lo, hi): (u32, u32);
    // SAFETY: RDTSC only reads the counter (CR4.TSD is clear: ring 0 anyway).
    unsafe { asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// One hardware random number from RDRAND, or `None` if the CPU had none ready.
pub fn rdrand() -> Option<u64> {
    let value: u64;
    let ok: u8;
    // SAFETY: RDRAND writes only its output register and CF; the boot check guarantees it exists.
    unsafe {
        asm!("rdrand {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok, options(nomem, nostack))
    }
    (ok != 0).then_some(value)
}

/// Whether the CPU has RDSEED (CPUID.7.0:EBX bit 18). QEMU's TCG does not; KVM hosts
/// from Broadwell/Zen on do.
pub fn has_rdseed() -> bool {
    Features::read().rdseed()
}

/// One random number straight from the CPU's entropy source (RDSEED), or `None` if none
/// was ready.
///
/// Call only when [`has_rdseed`] said yes.
pub fn rdseed() -> Option<u64> {
    let value: u64;
    let ok: u8;
    // SAFETY: RDSEED writes only its output register and CF; callers check it exists.
    unsafe {
        asm!("rdseed {v}", "setc {ok}", v = out(reg) value, ok = out(reg_byte) ok, options(nomem, nostack))
    }
    (ok != 0).then_some(value)
}

/// The faulting address of the last page fault.
pub fn cr2() -> u64 {
    let value: u64;
    // SAFETY: reading CR2 has no side effects.
    unsafe { asm!("mov {}, cr2", out(reg) value, options(nomem, nostack, preserves_flags)) }
    value
}

/// The physical address of the current top-level page table.
pub fn cr3() -> u64 {
    let value: u64;
    // SAFETY: reading CR3 has no side effects.
    unsafe { asm!("mov {}, cr3", out(reg) value, options(nomem, nostack, preserves_flags)) }
    value & 0x000f_ffff_ffff_f000
}

/// Switches to the page tables rooted at `pml4` (flushes the whole TLB).
///
/// # Safety
/// The new tables must map the running code, its stack and all memory in use.
pub unsafe fn set_cr3(pml4: u64) {
    // SAFETY: guaranteed by the caller.
    unsafe { asm!("mov cr3, {}", in(reg) pml4, options(nostack, preserves_flags)) }
}

/// Drops the TLB entry of the page holding `addr` on this CPU.
pub fn invlpg(addr: u64) {
    // SAFETY: invalidating a TLB entry is always safe; the next access re-walks the tables.
    unsafe { asm!("invlpg [{}]", in(reg) addr, options(nostack, preserves_flags)) }
}
