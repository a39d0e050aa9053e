//! PVH entry: from the VMM's 32-bit protected mode to Rust in 64-bit long mode.
//!
//! A PVH loader (QEMU `-kernel`, Firecracker, Cloud Hypervisor) reads the Xen ELF note
//! below, loads the image at its physical addresses and jumps to `pvh_start32` in 32-bit
//! protected mode with paging off, flat segments, no stack, and `ebx` = the physical
//! address of the `hvm_start_info` structure. This file does the least that must happen
//! in assembly: identity-map the first GiB with 2 MiB pages, turn on PAE, long mode, NX
//! and SSE, load a 64-bit GDT, switch to the boot stack and call `kiln_main(start_info)`.
//! Everything else (the real page tables with per-section rights and the stack guard
//! page) is Rust, in `paging`.
//!
//! Under an emulator every control-register write, `wrmsr`, far return and SS load ends
//! a translated block, so the code below has as few other block ends as it can: the page
//! directory is data (no loop), NXE is set without a branch, and SS is loaded where a
//! block ends anyway. SSE is switched on here rather than in Rust: an emulator keys its
//! translations by CR4.OSFXSR, so every piece of code that ran before the switch (memcpy,
//! memset, ...) would be translated a second time after it.

use crate::gdt;
use core::arch::global_asm;

/// Size of the boot stack the kernel (and later the programs it runs) starts on.
pub const BOOT_STACK_SIZE: usize = 64 * 1024;
/// Size of each interrupt stack (`gdt` puts them in the TSS's IST slots).
pub const IST_STACK_SIZE: usize = 16 * 1024;

extern "C" {
    /// The unmapped page below the boot stack; `paging` leaves it out of the page tables.
    pub static __boot_stack_guard: u8;
    /// Top of the boot stack (stacks grow down).
    pub static __boot_stack_top: u8;
    /// The unmapped page below the two IST stacks.
    pub static __ist_guard: u8;
    /// Top of the IST stack used by ordinary exceptions.
    pub static __ist_fault_top: u8;
    /// The unmapped page between the two IST stacks.
    pub static __ist_fatal_guard: u8;
    /// Top of the IST stack used by #DF, NMI and #MC.
    pub static __ist_fatal_top: u8;
}

global_asm!(
    // The PVH note: name "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY), 32-bit entry address.
    ".pushsection .note.Xen, \"a\", @note",
    ".p2align 2",
    ".long 4",
    ".long 4",
    ".long 18",
    ".asciz \"Xen\"",
    ".p2align 2",
    ".long pvh_start32",
    ".popsection",
    // Stacks, each above a guard page. NOLOAD: they cost no bytes in the image file.
    ".pushsection .stacks, \"aw\", @nobits",
    ".p2align 12",
    ".global __boot_stack_guard, __boot_stack_top, __ist_guard, __ist_fault_top",
    ".global __ist_fatal_guard, __ist_fatal_top",
    "__boot_stack_guard: .skip 4096",
    ".skip {boot_stack}",
    "__boot_stack_top:",
    "__ist_guard: .skip 4096",
    ".skip {ist}",
    "__ist_fault_top:",
    "__ist_fatal_guard: .skip 4096",
    ".skip {ist}",
    "__ist_fatal_top:",
    ".popsection",
    // Boot page tables: one PML4 and one PDPT, filled in below (two stores).
    ".pushsection .bss.boot_tables, \"aw\", @nobits",
    ".p2align 12",
    "boot_pml4: .skip 4096",
    "boot_pdpt: .skip 4096",
    ".popsection",
    // A minimal GDT for the jump into long mode: null, 64-bit code (0x08), data (0x10),
    // the same descriptors as the kernel's GDT (`gdt`), which therefore reloads no segment.
    ".pushsection .rodata.boot_gdt, \"a\"",
    ".p2align 3",
    "boot_gdt:",
    ".quad 0",
    ".quad {code_descriptor}",
    ".quad {data_descriptor}",
    "boot_gdt_end:",
    "boot_gdt_ptr:",
    ".word boot_gdt_end - boot_gdt - 1",
    ".quad boot_gdt",
    ".popsection",
    // The page directory, constant: entry i maps i * 2 MiB (the first GiB), present,
    // writable, huge, with the accessed and dirty bits already set, so the CPU never
    // writes to it. It opens `.text.boot`, which the linker script puts first in the
    // image: page-aligned there without padding (4 KiB of file, where a loop filling a
    // table in `.bss` costs an emulator two more blocks and 512 runs of one), and never
    // mapped writable once `paging` has built the real tables.
    ".pushsection .text.boot, \"ax\"",
    ".p2align 12",
    "boot_pd:",
    ".set .Lboot_pd_entry, 0",
    ".rept 512",
    ".quad (.Lboot_pd_entry << 21) | 0xe3",
    ".set .Lboot_pd_entry, .Lboot_pd_entry + 1",
    ".endr",
    ".code32",
    ".global pvh_start32",
    "pvh_start32:",
    "cli",
    "cld",
    "mov esi, ebx", // keep the hvm_start_info pointer; cpuid/rdmsr clobber ebx/edx
    // PML4[0] -> PDPT, PDPT[0] -> PD (present, writable, accessed).
    "mov dword ptr [boot_pml4], offset boot_pdpt + 0x23",
    "mov dword ptr [boot_pdpt], offset boot_pd + 0x23",
    "mov eax, offset boot_pml4",
    "mov cr3, eax",
    // CR4: PAE, and OSFXSR | OSXMMEXCPT for the SSE that generated code uses (the
    // kernel's own Rust code is soft-float and never touches XMM registers).
    "mov eax, cr4",
    "or eax, (1 << 5) | (1 << 9) | (1 << 10)",
    "mov cr4, eax",
    // EFER.LME, and EFER.NXE if the CPU has NX (setting it without NX would #GP with no
    // IDT = triple fault; the Rust feature check then reports the missing NX cleanly):
    // CPUID 0x80000001 EDX bit 20 (NX) moved to bit 11 (NXE), without a branch.
    "mov eax, 0x80000001",
    "cpuid",
    "mov edi, edx",
    "shr edi, 20 - 11",
    "and edi, 1 << 11",
    "mov ecx, 0xc0000080",
    "rdmsr",
    "or eax, edi",
    "or eax, 1 << 8",
    "wrmsr",
    // CR0: PG + WP (supervisor writes honour read-only pages) + PE, MP (WAIT honours TS)
    // and not EM (no x87 emulation: SSE needs it clear).
    "mov eax, cr0",
    "or eax, 0x80010003",
    "and eax, ~(1 << 2)",
    "mov cr0, eax",
    // The far return into 64-bit code; SS is loaded with the new GDT's data selector
    // just before it, where the SS load (which ends a block, and makes the next
    // instruction a block of its own) costs no extra block. SS must hold a selector of
    // this GDT: an interrupt frame saves it and `iretq` loads it back. Its descriptor is
    // flat and writable, so the far return's pops work in this compatibility mode too.
    "lgdt [boot_gdt_ptr]",
    "push {code}",
    "mov eax, offset pvh_start64",
    "push eax",
    "mov eax, {data}",
    "mov ss, ax",
    "retf",
    ".code64",
    "pvh_start64:",
    // DS and ES are left as the VMM set them: 64-bit mode ignores them, and each segment
    // load ends an emulator's translated block.
    "xor eax, eax",
    "mov fs, ax",
    "mov gs, ax",
    "mov rsp, offset __boot_stack_top",
    "xor ebp, ebp", // the frame-pointer chain ends here
    "mov edi, esi", // kiln_main(start_info_paddr)
    "call kiln_main",
    "ud2",
    ".popsection",
    code_descriptor = const gdt::CODE_DESCRIPTOR,
    data_descriptor = const gdt::DATA_DESCRIPTOR,
    code = const gdt::KERNEL_CODE,
    data = const gdt::KERNEL_DATA,
    boot_stack = const BOOT_STACK_SIZE,
    ist = const IST_STACK_SIZE,
);
