//! The interrupt descriptor table: one assembly stub per CPU exception (vectors 0-31).
//!
//! Each stub pushes a dummy error code when the CPU pushes none (so every frame has the
//! same layout), then the vector number, then all general registers, and calls
//! `fault::kiln_exception` with a pointer to the resulting [`fault::ExceptionFrame`]; if
//! that returns (a fault of WASM code turned into a trap), the stub restores the frame it
//! may have changed and returns from the exception.
//! Every gate uses an IST stack from the TSS, so even a kernel stack overflow is reported.
//! Hardware interrupts stay disabled: kiln polls its devices.

use crate::gdt;
use crate::start::CpuTable;
use core::arch::{asm, global_asm};
use core::mem::size_of;

global_asm!(
    ".macro kiln_exception_stub n, has_error_code",
    ".p2align 4",
    "kiln_exception_\\n:",
    ".if \\has_error_code == 0",
    "push 0",
    ".endif",
    "push \\n",
    "jmp kiln_exception_common",
    ".endm",
    ".pushsection .text.kiln_exceptions, \"ax\"",
    "kiln_exception_stub 0, 0",
    "kiln_exception_stub 1, 0",
    "kiln_exception_stub 2, 0",
    "kiln_exception_stub 3, 0",
    "kiln_exception_stub 4, 0",
    "kiln_exception_stub 5, 0",
    "kiln_exception_stub 6, 0",
    "kiln_exception_stub 7, 0",
    "kiln_exception_stub 8, 1",
    "kiln_exception_stub 9, 0",
    "kiln_exception_stub 10, 1",
    "kiln_exception_stub 11, 1",
    "kiln_exception_stub 12, 1",
    "kiln_exception_stub 13, 1",
    "kiln_exception_stub 14, 1",
    "kiln_exception_stub 15, 0",
    "kiln_exception_stub 16, 0",
    "kiln_exception_stub 17, 1",
    "kiln_exception_stub 18, 0",
    "kiln_exception_stub 19, 0",
    "kiln_exception_stub 20, 0",
    "kiln_exception_stub 21, 1",
    "kiln_exception_stub 22, 0",
    "kiln_exception_stub 23, 0",
    "kiln_exception_stub 24, 0",
    "kiln_exception_stub 25, 0",
    "kiln_exception_stub 26, 0",
    "kiln_exception_stub 27, 0",
    "kiln_exception_stub 28, 0",
    "kiln_exception_stub 29, 1",
    "kiln_exception_stub 30, 1",
    "kiln_exception_stub 31, 0",
    "kiln_exception_common:",
    "push rax",
    "push rcx",
    "push rdx",
    "push rbx",
    "push rbp",
    "push rsi",
    "push rdi",
    "push r8",
    "push r9",
    "push r10",
    "push r11",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    // The IST stack top is 16-byte aligned and 22 quadwords were pushed: aligned for the call.
    "mov rdi, rsp",
    "cld",
    "call kiln_exception",
    // It returns only to resume (a WASM trap): restore the (redirected) state.
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop r11",
    "pop r10",
    "pop r9",
    "pop r8",
    "pop rdi",
    "pop rsi",
    "pop rbp",
    "pop rbx",
    "pop rdx",
    "pop rcx",
    "pop rax",
    "add rsp, 16",
    "iretq",
    ".popsection",
    ".pushsection .rodata.kiln_exception_stubs, \"a\"",
    ".p2align 3",
    ".global kiln_exception_stubs",
    "kiln_exception_stubs:",
    ".quad kiln_exception_0",
    ".quad kiln_exception_1",
    ".quad kiln_exception_2",
    ".quad kiln_exception_3",
    ".quad kiln_exception_4",
    ".quad kiln_exception_5",
    ".quad kiln_exception_6",
    ".quad kiln_exception_7",
    ".quad kiln_exception_8",
    ".quad kiln_exception_9",
    ".quad kiln_exception_10",
    ".quad kiln_exception_11",
    ".quad kiln_exception_12",
    ".quad kiln_exception_13",
    ".quad kiln_exception_14",
    ".quad kiln_exception_15",
    ".quad kiln_exception_16",
    ".quad kiln_exception_17",
    ".quad kiln_exception_18",
    ".quad kiln_exception_19",
    ".quad kiln_exception_20",
    ".quad kiln_exception_21",
    ".quad kiln_exception_22",
    ".quad kiln_exception_23",
    ".quad kiln_exception_24",
    ".quad kiln_exception_25",
    ".quad kiln_exception_26",
    ".quad kiln_exception_27",
    ".quad kiln_exception_28",
    ".quad kiln_exception_29",
    ".quad kiln_exception_30",
    ".quad kiln_exception_31",
    ".popsection",
);

extern "C" {
    /// Addresses of the 32 exception stubs, by vector.
    static kiln_exception_stubs: [u64; 32];
}

/// One 16-byte interrupt gate.
#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    offset_low: u16,
    selector: u16,
    ist: u8,
    attributes: u8,
    offset_mid: u16,
    offset_high: u32,
    reserved: u32,
}

/// Present, ring 0, 64-bit interrupt gate (interrupts stay off inside the handler).
const INTERRUPT_GATE: u8 = 0x8e;

/// A gate that is not present.
const ABSENT: Gate = Gate {
    offset_low: 0,
    selector: 0,
    ist: 0,
    attributes: 0,
    offset_mid: 0,
    offset_high: 0,
    reserved: 0,
};

static IDT: CpuTable<[Gate; 32]> = CpuTable::new([ABSENT; 32]);

#[repr(C, packed)]
struct DescriptorPointer {
    limit: u16,
    base: u64,
}

/// Vectors that get the separate "fatal" IST stack, as a bit mask: NMI (2), #DF (8) and
/// #MC (18) can arrive while an ordinary exception is already using its stack.
const FATAL_VECTORS: u32 = (1 << 2) | (1 << 8) | (1 << 18);

/// The IST slot of `vector` (below 32).
fn ist_for(vector: usize) -> u8 {
    if (FATAL_VECTORS >> vector) & 1 != 0 {
        gdt::IST_FATAL
    } else {
        gdt::IST_FAULT
    }
}

/// Builds the IDT in place (one loop, no copy) and loads it.
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn init() {
    let build = |idt: &mut [Gate; 32]| {
        for (vector, gate) in idt.iter_mut().enumerate() {
            // SAFETY: the stub table is a constant array built by the assembler above.
            let handler = unsafe { kiln_exception_stubs[vector] };
            *gate = Gate {
                offset_low: handler as u16,
                selector: gdt::KERNEL_CODE,
                ist: ist_for(vector),
                attributes: INTERRUPT_GATE,
                offset_mid: (handler >> 16) as u16,
                offset_high: (handler >> 32) as u32,
                reserved: 0,
            };
        }
    };
    // SAFETY: `kiln_main` calls this once, before the IDT is loaded (`lidt` below).
    let idt = unsafe { IDT.init(build) };
    let pointer = DescriptorPointer {
        limit: (size_of::<[Gate; 32]>() - 1) as u16,
        base: idt.as_ptr() as u64,
    };
    // SAFETY: the IDT is 'static and every gate points at a stub that never returns.
    unsafe { asm!("lidt [{}]", in(reg) &pointer, options(readonly, nostack, preserves_flags)) }
}
