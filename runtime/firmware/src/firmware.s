// kiln's firmware: reset vector → 32-bit protected mode → the PVH entry of the kernel
// QEMU loaded with `-kernel`, with an `hvm_start_info` built from QEMU's fw_cfg.
//
// The machine state at the jump is what the PVH boot ABI asks for (32-bit flat code and
// data segments, paging off, CR0 = PE, CR4 = 0, interrupts off, ebx = the start info),
// except that TR is not loaded: kiln loads its own before it needs one.
//
// QEMU places the PVH kernel's segments in RAM itself and puts its entry point, the
// command line and the memory map in fw_cfg; all that is left for a firmware is to read
// those three and jump. Every fw_cfg read is one DMA transfer (one port write), so the
// whole boot is a few dozen translated blocks under TCG.
//
// Scratch memory is low RAM below 640 KiB, free once the kernel has started: it copies
// the start info, the memory map and the command line before its frame allocator hands
// that RAM out.

.set STACK_TOP,       0x7000
.set DMA_ACCESS,      0x7000    // FWCfgDmaAccess: control, length (BE32), address (BE64)
.set SCRATCH,         0x7010    // 4-byte fw_cfg items
.set FILE_ENTRY,      0x7040    // one 64-byte fw_cfg directory entry
.set START_INFO,      0x7100    // hvm_start_info (56 bytes)
.set MEMMAP,          0x7200    // hvm_memmap_table_entry[] (24 bytes each)
.set E820,            0x8000    // QEMU's etc/e820: packed 20-byte entries
.set MAX_E820_ENTRIES, 128      // MEMMAP holds these and the two a split adds
.set E820_RAM,        1
.set E820_RESERVED,   2
.set HOLE_START,      0xa0000
.set HOLE_END,        0x100000
.set CMDLINE,         0x9000
.set MAX_CMDLINE,     0x10000   // with its NUL; ends at 0x19000, below 640 KiB

// fw_cfg (QEMU docs/specs/fw_cfg.txt).
.set FW_CFG_PORT_SEL,  0x510
.set FW_CFG_PORT_DATA, 0x511
.set FW_CFG_PORT_DMA_LOW, 0x518
.set FW_CFG_ID,            0x01     // bit 1: the DMA interface exists
.set FW_CFG_KERNEL_ENTRY,  0x10
.set FW_CFG_CMDLINE_SIZE,  0x14
.set FW_CFG_CMDLINE_DATA,  0x15
.set FW_CFG_FILE_DIR,      0x19
.set FW_CFG_DMA_READ,   0x02
.set FW_CFG_DMA_SELECT, 0x08
.set FW_CFG_DMA_ERROR,  0x01

.set COM1, 0x3f8
.set DEBUG_EXIT_PORT, 0xf4
.set BOOT_ERROR, 6              // kiln_abi::ExitStatus::BootError

.set HVM_START_MAGIC, 0x336ec578
.set CODE32, 0x08
.set DATA32, 0x10

// ---------------------------------------------------------------------------------------
// The ROM's last 256 bytes: real mode. The CPU starts at 0xFFFFFFF0 with CS's base at
// 0xFFFF0000, so this page is at offset 0xFF00 of the code segment (firmware.ld pins it).
.section .reset16, "ax"
.code16
reset_page:
    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9b000000ffff    // 0x08: 32-bit code, base 0, limit 4 GiB
    .quad 0x00cf93000000ffff    // 0x10: 32-bit data, base 0, limit 4 GiB
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt
.set GDT_POINTER_IN_CS, gdt_pointer - reset_page + 0xff00

start16:
    cli
    // The 32-bit form: the GDT's base is above 16 MiB, beyond a 16-bit lgdt's 24 bits.
    lgdtd cs:[GDT_POINTER_IN_CS]
    // Protection on, everything else as PVH wants it: clear, but ET (hard-wired to 1).
    // Reset leaves CD and NW set, and a hypervisor honours them: a kernel that only ORs
    // its own bits into CR0 would run with its caches off.
    mov eax, 0x11
    mov cr0, eax
    // A 32-bit far jump: the offset is the full linear address of start32.
    .byte 0x66, 0xea
    .long start32
    .word CODE32

    .org reset_page + 0xf0
.global reset_vector
reset_vector:
    jmp start16
    .org reset_page + 0x100

// ---------------------------------------------------------------------------------------
.section .text.firmware, "ax"
.code32
    .asciz "kiln firmware: PVH boot from QEMU fw_cfg"

start32:
    mov ax, DATA32
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, STACK_TOP
    cld

    // The DMA interface is all this firmware speaks.
    mov dx, FW_CFG_PORT_SEL
    mov ax, FW_CFG_ID
    out dx, ax
    mov dx, FW_CFG_PORT_DATA
    in al, dx
    test al, 2
    mov esi, offset no_dma
    jz fail

    // Find etc/e820 in the file directory: a BE32 count, then 64-byte entries.
    mov eax, FW_CFG_FILE_DIR
    mov ecx, 4
    mov edi, SCRATCH
    call fw_cfg_read
    mov ebp, [SCRATCH]
    bswap ebp
find_e820:
    mov esi, offset no_e820
    test ebp, ebp
    jz fail
    dec ebp
    xor eax, eax                // go on reading the directory
    mov ecx, 64
    mov edi, FILE_ENTRY
    call fw_cfg_read
    mov esi, FILE_ENTRY + 8
    mov edi, offset e820_name
    mov ecx, 9                  // "etc/e820" and its NUL
    repe cmpsb
    jne find_e820

    // Read it, then widen each entry to hvm_memmap_table_entry (a zero `reserved` word).
    mov ecx, [FILE_ENTRY]
    bswap ecx
    mov esi, offset e820_too_big
    cmp ecx, MAX_E820_ENTRIES * 20
    ja fail
    movzx eax, word ptr [FILE_ENTRY + 4]
    xchg al, ah
    mov edi, E820
    mov ebp, ecx
    call fw_cfg_read
    mov eax, ebp
    xor edx, edx
    mov ecx, 20
    div ecx
    mov ecx, eax
    mov esi, E820
    mov edi, MEMMAP
    jecxz memmap_done
widen:
    // QEMU's map has one RAM entry from 0 across the legacy hole [640 KiB, 1 MiB), where
    // the ROM's alias and the BIOS areas sit: say RAM below it, the hole reserved, and
    // RAM above it.
    cmp dword ptr [esi + 16], E820_RAM
    jne copy_entry
    mov eax, [esi]
    or eax, [esi + 4]
    jnz copy_entry
    cmp dword ptr [esi + 12], 0
    jne split_entry
    cmp dword ptr [esi + 8], HOLE_END
    jbe copy_entry
split_entry:
    xor eax, eax
    mov ebx, HOLE_START
    mov edx, E820_RAM
    call put_entry
    mov eax, HOLE_START
    mov ebx, HOLE_END - HOLE_START
    mov edx, E820_RESERVED
    call put_entry
    mov eax, [esi + 8]
    mov edx, [esi + 12]
    sub eax, HOLE_END
    sbb edx, 0
    mov [edi + 8], eax
    mov [edi + 12], edx
    mov eax, HOLE_END
    xor ebx, ebx
    mov edx, E820_RAM
    call put_entry
    add esi, 20
    jmp next_entry
copy_entry:
    movsd
    movsd
    movsd
    movsd
    movsd
    xor eax, eax
    stosd
next_entry:
    loop widen
memmap_done:
    mov eax, edi
    sub eax, MEMMAP
    xor edx, edx
    mov ecx, 24
    div ecx
    mov [START_INFO + 0x30], eax        // memmap_entries

    // The command line, NUL included (QEMU counts it in CMDLINE_SIZE).
    mov eax, FW_CFG_CMDLINE_SIZE
    mov ecx, 4
    mov edi, SCRATCH
    call fw_cfg_read
    mov ecx, [SCRATCH]
    mov esi, offset cmdline_too_long
    cmp ecx, MAX_CMDLINE
    jae fail
    mov byte ptr [CMDLINE + ecx], 0     // in case QEMU's line lacks it
    mov eax, FW_CFG_CMDLINE_DATA
    mov edi, CMDLINE
    call fw_cfg_read

    mov eax, FW_CFG_KERNEL_ENTRY
    mov ecx, 4
    mov edi, SCRATCH
    call fw_cfg_read
    mov esi, offset no_kernel
    cmp dword ptr [SCRATCH], 0
    je fail

    // hvm_start_info, version 1 (the first with the memory map).
    mov dword ptr [START_INFO + 0x00], HVM_START_MAGIC
    mov dword ptr [START_INFO + 0x04], 1
    mov dword ptr [START_INFO + 0x08], 0        // flags
    mov dword ptr [START_INFO + 0x0c], 0        // nr_modules
    mov dword ptr [START_INFO + 0x10], 0        // modlist_paddr
    mov dword ptr [START_INFO + 0x14], 0
    mov dword ptr [START_INFO + 0x18], CMDLINE  // cmdline_paddr
    mov dword ptr [START_INFO + 0x1c], 0
    mov dword ptr [START_INFO + 0x20], 0        // rsdp_paddr: no ACPI
    mov dword ptr [START_INFO + 0x24], 0
    mov dword ptr [START_INFO + 0x28], MEMMAP   // memmap_paddr
    mov dword ptr [START_INFO + 0x2c], 0
    mov dword ptr [START_INFO + 0x34], 0        // reserved
    mov ebx, START_INFO
    jmp dword ptr [SCRATCH]

// put_entry: appends the memory-map entry (address eax; size ebx, or when ebx = 0 the
// 64-bit size already at [edi + 8]; type edx) at edi and advances edi.
put_entry:
    mov [edi], eax
    mov dword ptr [edi + 4], 0
    test ebx, ebx
    jz 1f
    mov [edi + 8], ebx
    mov dword ptr [edi + 12], 0
1:
    mov [edi + 16], edx
    mov dword ptr [edi + 20], 0
    add edi, 24
    ret

// fw_cfg_read: reads ecx bytes into edi by DMA, from item ax selected anew, or (ax = 0)
// from where the previous read of the current item stopped. Clobbers eax, edx.
fw_cfg_read:
    test ax, ax
    jz 1f
    shl eax, 16
    or eax, FW_CFG_DMA_SELECT
1:
    or eax, FW_CFG_DMA_READ
    bswap eax
    mov [DMA_ACCESS], eax
    mov eax, ecx
    bswap eax
    mov [DMA_ACCESS + 4], eax
    mov dword ptr [DMA_ACCESS + 8], 0
    mov eax, edi
    bswap eax
    mov [DMA_ACCESS + 12], eax
    // Writing the descriptor's address (big-endian; its high half is zero) starts the
    // transfer. The control word then says how it went: the error bit, all clear (done),
    // or anything else (still running: the specification allows it, though QEMU today
    // completes the transfer before the write returns).
    mov eax, DMA_ACCESS
    bswap eax
    mov dx, FW_CFG_PORT_DMA_LOW
    out dx, eax
2:
    mov eax, [DMA_ACCESS]
    bswap eax
    test eax, FW_CFG_DMA_ERROR
    jnz dma_failed
    test eax, eax
    jnz 2b
    ret
dma_failed:
    mov esi, offset dma_error

// fail: prints the NUL-terminated message at esi on COM1, reports a boot error to
// isa-debug-exit (when the machine has one) and halts.
fail:
    mov dx, COM1
    lodsb
    test al, al
    jz 2f
    out dx, al
    jmp fail
2:
    mov dx, DEBUG_EXIT_PORT
    mov eax, BOOT_ERROR
    out dx, eax
3:
    hlt
    jmp 3b

e820_name:
    .asciz "etc/e820"
no_dma:
    .asciz "kiln firmware: QEMU's fw_cfg has no DMA interface\n"
no_e820:
    .asciz "kiln firmware: fw_cfg has no etc/e820 memory map\n"
e820_too_big:
    .asciz "kiln firmware: the memory map has more than 128 entries\n"
cmdline_too_long:
    .asciz "kiln firmware: the kernel command line is 64 KiB or longer\n"
no_kernel:
    .asciz "kiln firmware: no PVH kernel to boot (give QEMU `-kernel` an ELF image with a PVH note)\n"
dma_error:
    .asciz "kiln firmware: a fw_cfg DMA transfer failed\n"
