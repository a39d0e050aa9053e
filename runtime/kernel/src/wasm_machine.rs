//! Generated WASM code on bare metal: the kernel's [`Machine`].
//!
//! Entering and leaving generated code uses the trampolines every platform shares
//! (`kiln_wasm::instance::trampoline`). What is the kernel's own:
//!
//! - the jump slot and the last trap live in statics (one CPU, one program at a time);
//! - CPU exceptions raised by an instruction of compiled WASM code while a call is active
//!   become traps: [`fault_to_trap`] tells the exception handler (`fault`) which trap a
//!   fault is, and the handler resumes at the trap landing instead of reporting a fatal
//!   fault (#PF → out of bounds memory access, #DE → integer divide by zero, #UD →
//!   unreachable);
//! - the program's platform ([`ProgramPlatform`]) is the kernel's, except that `exit`
//!   (WASI `proc_exit`) ends the program, not the machine: it leaves through the trap path
//!   with [`EXIT_CODE`], skipping the frames of the host function that called it (they
//!   own nothing but heap memory of the program's store, freed with it).

use crate::platform::KernelPlatform;
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use kiln_abi::wasm::TrapCode;
use kiln_abi::{MemoryError, Platform, Protection};
use kiln_wasm::instance::trampoline::{self, kiln_wasm_enter};
use kiln_wasm::instance::{Machine, Trap};

/// The trap code the exit path records (no real trap code is 0).
const EXIT_CODE: u32 = 0;

/// Address of the innermost active call's jump slot (0 outside generated code).
static JMP: AtomicU64 = AtomicU64::new(0);
/// The last trap: code, address, and the return addresses of the WASM frames above the
/// trapping function (innermost first), read when it happened: the runtime code that
/// reports the trap reuses the stack.
static LAST_CODE: AtomicU32 = AtomicU32::new(0);
static LAST_PC: AtomicU64 = AtomicU64::new(0);
/// Return addresses kept per trap.
const MAX_FRAMES: usize = 16;
static BACKTRACE: [AtomicU64; MAX_FRAMES] = [const { AtomicU64::new(0) }; MAX_FRAMES];
static BACKTRACE_LEN: AtomicUsize = AtomicUsize::new(0);
/// Whether more frames were above the ones kept.
static BACKTRACE_CUT: AtomicBool = AtomicBool::new(false);
/// The program's stack: `[STACK_LOW, STACK_HIGH)`, mapped.
static STACK_LOW: AtomicU64 = AtomicU64::new(0);
static STACK_HIGH: AtomicU64 = AtomicU64::new(0);
/// The status `proc_exit` asked for, if the program exited that way.
static EXITED: AtomicBool = AtomicBool::new(false);
static EXIT_STATUS: AtomicI32 = AtomicI32::new(0);
/// Lowest stack address generated code may use (set per program run).
static STACK_LIMIT: AtomicU64 = AtomicU64::new(0);
/// Address range of all compiled WASM code of the image.
static CODE_START: AtomicU64 = AtomicU64::new(0);
static CODE_END: AtomicU64 = AtomicU64::new(0);

/// The kernel's way of running generated code.
pub struct KernelMachine;

/// The one machine every store of the kernel uses.
pub static MACHINE: KernelMachine = KernelMachine;

/// Called by the trap path with the trap; returns the jump slot's stack pointer. An exit
/// (`proc_exit`, the way most WASI programs end) keeps no backtrace: nothing reports
/// one, and walking the frames is code an emulator would translate for nothing.
extern "sysv64" fn record_trap(code: u32, pc: u64, frame: u64) -> u64 {
    LAST_CODE.store(code, Ordering::Relaxed);
    LAST_PC.store(pc, Ordering::Relaxed);
    if code != EXIT_CODE {
        record_backtrace(frame);
    }
    // SAFETY: traps only happen inside `enter`, which set JMP to its live jump slot.
    unsafe { *(JMP.load(Ordering::Relaxed) as *const u64) }
}

/// Keeps the return addresses of the WASM frames from `frame` up. Every WASM function
/// keeps an rbp frame (`[rbp]` = caller's rbp, `[rbp + 8]` = return address); the walk
/// stops at the first return address outside WASM code (the entry trampoline).
fn record_backtrace(mut frame: u64) {
    let (low, high) = (
        STACK_LOW.load(Ordering::Relaxed),
        STACK_HIGH.load(Ordering::Relaxed),
    );
    let mut n = 0;
    let mut cut = false;
    while frame.is_multiple_of(8) && frame >= low && frame + 16 <= high {
        // SAFETY: the frame lies inside the program's mapped stack (checked above).
        let (caller, ret) = unsafe { (*(frame as *const u64), *((frame + 8) as *const u64)) };
        if !in_code(ret) {
            break;
        }
        if n == MAX_FRAMES {
            cut = true;
            break;
        }
        BACKTRACE[n].store(ret, Ordering::Relaxed);
        n += 1;
        frame = caller;
    }
    BACKTRACE_LEN.store(n, Ordering::Relaxed);
    BACKTRACE_CUT.store(cut, Ordering::Relaxed);
}

fn in_code(addr: u64) -> bool {
    (CODE_START.load(Ordering::Relaxed)..CODE_END.load(Ordering::Relaxed)).contains(&addr)
}

/// Prepares the machine for one program: the code range traps may come from, the
/// program's stack and the lowest stack address its code may use.
pub fn prepare(code: (u64, u64), stack: (u64, u64), stack_limit: u64) {
    trampoline::set_trap_recorder(record_trap);
    CODE_START.store(code.0, Ordering::Relaxed);
    CODE_END.store(code.1, Ordering::Relaxed);
    STACK_LOW.store(stack.0, Ordering::Relaxed);
    STACK_HIGH.store(stack.1, Ordering::Relaxed);
    STACK_LIMIT.store(stack_limit, Ordering::Relaxed);
    EXITED.store(false, Ordering::Relaxed);
    // No frames until this program traps: a trap at instantiation, before any code ran,
    // must not report the previous program's.
    BACKTRACE_LEN.store(0, Ordering::Relaxed);
    BACKTRACE_CUT.store(false, Ordering::Relaxed);
}

/// The return addresses above the last trap (innermost first), and whether more frames
/// were left out.
pub fn last_backtrace() -> (impl Iterator<Item = u64>, bool) {
    let n = BACKTRACE_LEN.load(Ordering::Relaxed);
    let frames = BACKTRACE[..n].iter().map(|a| a.load(Ordering::Relaxed));
    (frames, BACKTRACE_CUT.load(Ordering::Relaxed))
}

/// The status the program passed to `proc_exit`, if it ended that way.
pub fn exit_status() -> Option<i32> {
    EXITED
        .load(Ordering::Relaxed)
        .then(|| EXIT_STATUS.load(Ordering::Relaxed))
}

/// The trap a CPU exception at `rip` is, if it was raised by compiled WASM code during
/// a call; the exception handler then resumes at [`trap_landing`].
pub fn fault_to_trap(vector: u64, rip: u64) -> Option<u32> {
    let active = JMP.load(Ordering::Relaxed) != 0;
    let in_code =
        (CODE_START.load(Ordering::Relaxed)..CODE_END.load(Ordering::Relaxed)).contains(&rip);
    if !active || !in_code {
        return None;
    }
    Some(match vector {
        0 => TrapCode::IntegerDivideByZero,
        6 => TrapCode::Unreachable,
        14 => TrapCode::MemoryOutOfBounds,
        _ => return None,
    } as u32)
}

/// Where a fault handler resumes a faulting WASM instruction (`rdi` = trap code,
/// `rsi` = faulting address).
pub fn trap_landing() -> u64 {
    trampoline::trap_landing()
}

impl Machine for KernelMachine {
    fn platform(&self) -> &dyn Platform {
        &ProgramPlatform
    }

    unsafe fn enter(&self, vmctx: u64, code: u64, slots: &mut [u64]) -> Result<(), Trap> {
        let outer = JMP.load(Ordering::Relaxed);
        let mut jmp = 0u64;
        JMP.store(&mut jmp as *mut u64 as u64, Ordering::Relaxed);
        // SAFETY: the caller guarantees code/vmctx/slots; the trampoline saves and
        // restores every callee-saved register and the stack pointer.
        let status =
            unsafe { kiln_wasm_enter(vmctx, code, slots.as_mut_ptr(), slots.len(), &mut jmp) };
        JMP.store(outer, Ordering::Relaxed);
        if status == 0 {
            return Ok(());
        }
        let code = LAST_CODE.load(Ordering::Relaxed);
        Err(Trap {
            // An exit is reported as a trap to the instance code; `exit_status` tells them apart.
            code: TrapCode::from_u32(code).unwrap_or(TrapCode::Unreachable),
            pc: LAST_PC.load(Ordering::Relaxed),
        })
    }

    fn stack_limit(&self) -> u64 {
        STACK_LIMIT.load(Ordering::Relaxed)
    }
}

/// The platform a WASM program sees: the kernel's, but `exit` ends only the program.
pub struct ProgramPlatform;

static KERNEL: KernelPlatform = KernelPlatform;

impl Platform for ProgramPlatform {
    fn console_write(&self, bytes: &[u8]) {
        KERNEL.console_write(bytes)
    }

    fn console_read(&self, buf: &mut [u8]) -> usize {
        KERNEL.console_read(buf)
    }

    fn monotonic_ns(&self) -> u64 {
        KERNEL.monotonic_ns()
    }

    fn wall_clock_ns(&self) -> u64 {
        KERNEL.wall_clock_ns()
    }

    fn random_fill(&self, buf: &mut [u8]) {
        KERNEL.random_fill(buf)
    }

    fn reserve(&self, len: usize) -> Result<*mut u8, MemoryError> {
        KERNEL.reserve(len)
    }

    fn protect(&self, addr: *mut u8, len: usize, prot: Protection) -> Result<(), MemoryError> {
        KERNEL.protect(addr, len, prot)
    }

    fn release(&self, addr: *mut u8, len: usize) {
        KERNEL.release(addr, len)
    }

    fn exit(&self, status: i32) -> ! {
        if JMP.load(Ordering::Relaxed) == 0 {
            KERNEL.exit(status)
        }
        EXIT_STATUS.store(status, Ordering::Relaxed);
        EXITED.store(true, Ordering::Relaxed);
        // SAFETY: a call is active (JMP is set), so the trap path unwinds to its
        // `enter`; only the frames of the host function calling `exit` are skipped.
        unsafe {
            core::arch::asm!(
                "jmp {landing}",
                landing = sym trampoline::kiln_wasm_trap_landing,
                in("edi") EXIT_CODE,
                in("rsi") 0u64,
                options(noreturn),
            )
        }
    }
}
