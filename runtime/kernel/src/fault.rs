//! What happens when the CPU raises an exception: a report on the console, then exit.
//!
//! kiln expects no CPU exceptions from its own code, so every one is fatal (except a
//! fault of compiled WASM code, which is a WASM trap: see `wasm_machine`): the report
//! names the vector, shows the error code, RIP, CR2 (page faults), all general registers
//! and a frame-pointer backtrace, and the machine exits with `ExitStatus::Fault`.
//! Addresses are printed as `0x` + 16 hex digits so the host (xtask) can symbolize them.

use crate::{cpu, exit, paging, println};
use core::sync::atomic::{AtomicBool, Ordering};
use kiln_abi::ExitStatus;

/// The stack the exception stubs in `idt` build, lowest address first.
#[repr(C)]
pub struct ExceptionFrame {
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    r11: u64,
    r10: u64,
    r9: u64,
    r8: u64,
    rdi: u64,
    rsi: u64,
    rbp: u64,
    rbx: u64,
    rdx: u64,
    rcx: u64,
    rax: u64,
    vector: u64,
    error_code: u64,
    // Pushed by the CPU.
    rip: u64,
    cs: u64,
    rflags: u64,
    rsp: u64,
    ss: u64,
}

/// Name and mnemonic of each exception vector (Intel SDM vol. 3, table 6-1).
const VECTORS: [(&str, &str); 32] = [
    ("Divide Error", "DE"),
    ("Debug", "DB"),
    ("Non-Maskable Interrupt", "NMI"),
    ("Breakpoint", "BP"),
    ("Overflow", "OF"),
    ("Bound Range Exceeded", "BR"),
    ("Invalid Opcode", "UD"),
    ("Device Not Available", "NM"),
    ("Double Fault", "DF"),
    ("Coprocessor Segment Overrun", "CSO"),
    ("Invalid TSS", "TS"),
    ("Segment Not Present", "NP"),
    ("Stack-Segment Fault", "SS"),
    ("General Protection", "GP"),
    ("Page Fault", "PF"),
    ("Reserved", "R15"),
    ("x87 Floating-Point Exception", "MF"),
    ("Alignment Check", "AC"),
    ("Machine Check", "MC"),
    ("SIMD Floating-Point Exception", "XM"),
    ("Virtualization Exception", "VE"),
    ("Control Protection Exception", "CP"),
    ("Reserved", "R22"),
    ("Reserved", "R23"),
    ("Reserved", "R24"),
    ("Reserved", "R25"),
    ("Reserved", "R26"),
    ("Reserved", "R27"),
    ("Hypervisor Injection Exception", "HV"),
    ("VMM Communication Exception", "VC"),
    ("Security Exception", "SX"),
    ("Reserved", "R31"),
];

const PAGE_FAULT: u64 = 14;
/// Frames printed before the backtrace is cut (a stack overflow has thousands).
const MAX_FRAMES: usize = 24;

static REPORTING: AtomicBool = AtomicBool::new(false);

/// Called by the exception stubs with the saved state. Returns only for a fault of
/// compiled WASM code, which becomes a WASM trap: the stub then resumes at the trap
/// landing (`wasm_machine`) with the trap code in `rdi` and the faulting address in `rsi`.
#[no_mangle]
extern "C" fn kiln_exception(frame: &mut ExceptionFrame) {
    #[cfg(feature = "wasm")]
    if let Some(code) = crate::wasm_machine::fault_to_trap(frame.vector, frame.rip) {
        frame.rdi = code as u64;
        frame.rsi = frame.rip;
        frame.rip = crate::wasm_machine::trap_landing();
        return;
    }
    report(frame)
}

/// The fatal report, then exit.
fn report(frame: &ExceptionFrame) -> ! {
    let vector = frame.vector as usize % 32;
    let (name, mnemonic) = VECTORS[vector];
    if REPORTING.swap(true, Ordering::Relaxed) {
        println!("fault: {name} (#{mnemonic}, vector {vector}) while reporting a fault");
        exit::exit(ExitStatus::Fault);
    }
    println!("fault: {name} (#{mnemonic}, vector {vector})");
    println!(
        "error code: {:#018x}{}",
        frame.error_code,
        ErrorCodeNote(frame)
    );
    println!("rip: {:#018x}", frame.rip);
    if frame.vector == PAGE_FAULT {
        let cr2 = cpu::cr2();
        println!("cr2: {cr2:#018x}");
        if in_guard_page(cr2) {
            println!("note: cr2 is in a stack guard page: stack overflow");
        }
    }
    print_registers(frame);
    print_backtrace(frame);
    exit::exit(ExitStatus::Fault)
}

/// Decodes a page-fault error code as words after the number.
struct ErrorCodeNote<'a>(&'a ExceptionFrame);

impl core::fmt::Display for ErrorCodeNote<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        if self.0.vector != PAGE_FAULT {
            return Ok(());
        }
        let code = self.0.error_code;
        let presence = if code & 1 != 0 {
            "protection violation"
        } else {
            "not present"
        };
        let access = if code & 0x10 != 0 {
            "instruction fetch"
        } else if code & 2 != 0 {
            "write"
        } else {
            "read"
        };
        write!(f, " ({presence}, {access})")
    }
}

fn in_guard_page(addr: u64) -> bool {
    paging::guard_pages()
        .iter()
        .any(|&start| (start..start + paging::PAGE_SIZE).contains(&addr))
}

fn print_registers(f: &ExceptionFrame) {
    let rows: [[(&str, u64); 4]; 5] = [
        [
            ("rax", f.rax),
            ("rbx", f.rbx),
            ("rcx", f.rcx),
            ("rdx", f.rdx),
        ],
        [
            ("rsi", f.rsi),
            ("rdi", f.rdi),
            ("rbp", f.rbp),
            ("rsp", f.rsp),
        ],
        [("r8", f.r8), ("r9", f.r9), ("r10", f.r10), ("r11", f.r11)],
        [
            ("r12", f.r12),
            ("r13", f.r13),
            ("r14", f.r14),
            ("r15", f.r15),
        ],
        [
            ("rflags", f.rflags),
            ("cs", f.cs),
            ("ss", f.ss),
            ("cr3", cpu::cr3()),
        ],
    ];
    for row in rows {
        for (name, value) in row {
            crate::print!("{name:>6}: {value:#018x}");
        }
        println!();
    }
}

/// Walks the frame-pointer chain: `[rbp]` is the caller's rbp, `[rbp + 8]` the return
/// address. Stops at a null, misaligned or unmapped frame pointer.
fn print_backtrace(frame: &ExceptionFrame) {
    println!("backtrace:");
    println!("  #0 {:#018x}", frame.rip);
    let mut i = 1;
    // A fault on fetching the first instruction of a call target (a call into data or
    // unmapped code) happens before the callee pushed rbp: the caller's return address is
    // on top of the stack and the rbp chain starts one frame further up.
    let fetch_fault = frame.vector == PAGE_FAULT && frame.error_code & 0x10 != 0;
    if fetch_fault && frame.rsp.is_multiple_of(8) && paging::is_mapped(frame.rsp) {
        // SAFETY: the word was just checked to be mapped; the stack is readable.
        let ret = unsafe { *(frame.rsp as *const u64) };
        println!("  #{i} {ret:#018x}");
        i += 1;
    }
    let mut rbp = frame.rbp;
    while i < MAX_FRAMES {
        if rbp == 0
            || !rbp.is_multiple_of(8)
            || !paging::is_mapped(rbp)
            || !paging::is_mapped(rbp + 8)
        {
            return;
        }
        // SAFETY: both words were just checked to be mapped; the stack is readable.
        let (caller_rbp, ret) = unsafe { (*(rbp as *const u64), *((rbp + 8) as *const u64)) };
        if ret == 0 {
            return;
        }
        println!("  #{i} {ret:#018x}");
        rbp = caller_rbp;
        i += 1;
    }
    println!("  ... (more frames)");
}
