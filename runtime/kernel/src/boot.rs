//! PVH entry: from the VMM's 32-bit protected mode to Rust in 64-bit long mode.
//!
//! A PVH loader (QEMU `-kernel`, Firecracker, Cloud Hypervisor) reads the Xen ELF note
//! below, loads the image at its physical addresses and jumps to `pvh_start32` in 32-bit
//! protected mode with paging off, flat segments, no stack, and `ebx` = the physical
//! address of the `hvm_start_info` structure. This file does the least that must happen
//! in assembly: identity-map the first GiB with 2 MiB pages, turn on PAE, long mode and
//! NX, load a 64-bit GDT, switch to the boot stack and call `kiln_main(start_info)`.
//! Everything else (the real page tables with per-section rights and the stack guard
//! page) is Rust, in `paging`.

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
    // Boot page tables: one PML4, one PDPT, one page directory of 2 MiB pages (1 GiB).
    ".pushsection .bss.boot_tables, \"aw\", @nobits",
    ".p2align 12",
    "boot_pml4: .skip 4096",
    "boot_pdpt: .skip 4096",
    "boot_pd: .skip 4096",
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
    ".pushsection .text.boot, \"ax\"",
    ".code32",
    ".global pvh_start32",
    "pvh_start32:",
    "cli",
    "cld",
    "mov esi, ebx", // keep the hvm_start_info pointer; cpuid/rdmsr clobber ebx/edx
    // PML4[0] -> PDPT, PDPT[0] -> PD (present + writable).
    "mov eax, offset boot_pdpt",
    "or eax, 3",
    "mov dword ptr [boot_pml4], eax",
    "mov eax, offset boot_pd",
    "or eax, 3",
    "mov dword ptr [boot_pdpt], eax",
    // PD[i] = i * 2 MiB | huge | writable | present, for i in 0..512.
    "xor ecx, ecx",
    "2:",
    "mov eax, ecx",
    "shl eax, 21",
    "or eax, 0x83",
    "mov dword ptr [boot_pd + ecx * 8], eax",
    "inc ecx",
    "cmp ecx, 512",
    "jne 2b",
    "mov eax, offset boot_pml4",
    "mov cr3, eax",
    // CR4.PAE.
    "mov eax, cr4",
    "or eax, 1 << 5",
    "mov cr4, eax",
    // EFER.LME, and EFER.NXE if the CPU has NX (setting it without NX would #GP with no
    // IDT = triple fault; the Rust feature check then reports the missing NX cleanly).
    "mov eax, 0x80000001",
    "cpuid",
    "mov edi, edx",
    "mov ecx, 0xc0000080",
    "rdmsr",
    "or eax, 1 << 8",
    "bt edi, 20",
    "jnc 3f",
    "or eax, 1 << 11",
    "3:",
    "wrmsr",
    // CR0.PG + CR0.WP (supervisor writes honour read-only pages) + CR0.PE.
    "mov eax, cr0",
    "or eax, 0x80010001",
    "mov cr0, eax",
    "lgdt [boot_gdt_ptr]",
    "push {code}",
    "mov eax, offset pvh_start64",
    "push eax",
    "retf",
    ".code64",
    "pvh_start64:",
    // SS must hold a selector of this GDT (an interrupt frame saves it and `iretq` loads
    // it back). DS and ES are left as the VMM set them: 64-bit mode ignores them, and
    // each segment load ends an emulator's translated block.
    "mov ax, {data}",
    "mov ss, ax",
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
