//! Entering generated code and getting out of it on a trap: the [`HostedMachine`].
//!
//! `enter` calls a WASM function through the shared assembly trampoline
//! (`kiln_wasm::instance::trampoline`) that saves the callee-saved registers and the
//! stack pointer. A trap — raised by generated code
//! through the runtime's trap routine, or a fault (SIGSEGV/SIGBUS in the guard region, SIGFPE,
//! SIGILL) caught by the signal handler and redirected — lands in an assembly routine
//! that records the trap code and the faulting address, restores the saved stack
//! pointer and returns from the trampoline with a non-zero status. No Rust frame is
//! skipped: between the trampoline and the trap there is only generated code (host
//! functions and builtins return normally).

use crate::platform::LinuxPlatform;
use kiln_abi::wasm::TrapCode;
use kiln_abi::Platform;
use kiln_wasm::instance::trampoline::{self, kiln_wasm_enter};
use kiln_wasm::instance::{Machine, Trap};
use std::cell::Cell;

/// Generated code on Linux: assembly trampolines and signal handlers.
pub struct HostedMachine;

/// The one hosted machine every store uses.
pub static MACHINE: HostedMachine = HostedMachine;

impl Machine for HostedMachine {
    fn platform(&self) -> &dyn Platform {
        &LinuxPlatform
    }

    unsafe fn enter(&self, vmctx: u64, code: u64, slots: &mut [u64]) -> Result<(), Trap> {
        // SAFETY: forwarded from the caller.
        unsafe { enter(vmctx, code, slots) }
    }

    fn stack_limit(&self) -> u64 {
        stack_limit()
    }
}

thread_local! {
    /// Address of the innermost `enter`'s saved stack pointer (0 outside generated code).
    static JMP: Cell<u64> = const { Cell::new(0) };
    /// Code and address of the last trap.
    static LAST: Cell<(u32, u64)> = const { Cell::new((0, 0)) };
}

extern "sysv64" fn record_trap(code: u32, pc: u64, _frame: u64) -> u64 {
    LAST.with(|l| l.set((code, pc)));
    let slot = JMP.with(|j| j.get()) as *const u64;
    // SAFETY: a trap only happens inside `enter`, which set JMP to its live `jmp` slot.
    unsafe { *slot }
}

/// Calls WASM code at `code` with VM context `vmctx`; `slots` carries the arguments in
/// and the results out (see `kiln_abi::wasm`).
///
/// # Safety
/// `code` and `vmctx` must be a function and the context it was compiled for (or a host
/// function and its `HostFunc`), and `slots` must be as long as the larger of its
/// parameter and result counts.
unsafe fn enter(vmctx: u64, code: u64, slots: &mut [u64]) -> Result<(), Trap> {
    install_handlers();
    let outer = JMP.with(|j| j.get());
    let mut jmp = 0u64;
    JMP.with(|j| j.set(&mut jmp as *mut u64 as u64));
    // SAFETY: the caller guarantees code/vmctx/slots; the trampoline saves and restores
    // every callee-saved register and the stack pointer.
    let status = unsafe { kiln_wasm_enter(vmctx, code, slots.as_mut_ptr(), slots.len(), &mut jmp) };
    JMP.with(|j| j.set(outer));
    if status == 0 {
        return Ok(());
    }
    let (code, pc) = LAST.with(|l| l.get());
    Err(Trap {
        code: TrapCode::from_u32(code).unwrap_or(TrapCode::Unreachable),
        pc,
    })
}

/// Native stack kept free below the WASM stack limit, for host functions, builtins
/// and the runtime itself.
const STACK_RESERVE: u64 = 256 * 1024;

/// The stack limit for generated code on this thread: the lowest address of the
/// thread's stack plus a reserve.
pub fn stack_limit() -> u64 {
    // SAFETY: pthread_getattr_np fills `attr` for the calling thread; it is destroyed
    // after the stack bounds are read.
    unsafe {
        let mut attr: libc::pthread_attr_t = std::mem::zeroed();
        let mut addr: *mut libc::c_void = std::ptr::null_mut();
        let mut size: libc::size_t = 0;
        if libc::pthread_getattr_np(libc::pthread_self(), &mut attr) == 0 {
            libc::pthread_attr_getstack(&attr, &mut addr, &mut size);
            libc::pthread_attr_destroy(&mut attr);
        }
        addr as u64 + STACK_RESERVE
    }
}

/// Installs the fault handlers (once per process) and this thread's signal stack.
fn install_handlers() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        trampoline::set_trap_recorder(record_trap);
        for sig in [libc::SIGSEGV, libc::SIGBUS, libc::SIGFPE, libc::SIGILL] {
            // SAFETY: installs a handler with a zeroed, then filled, sigaction.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = handler as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut sa.sa_mask);
                libc::sigaction(sig, &sa, std::ptr::null_mut());
            }
        }
    });
    ALT_STACK.with(|_| {});
}

/// Size of each thread's signal stack.
const ALT_STACK_SIZE: usize = 64 * 1024;

/// A thread's alternate signal stack, installed on first use; the handler must not run
/// on the WASM stack, which may be exhausted.
struct AltStack {
    /// The stack's memory: never read, only kept alive for as long as it is installed.
    _memory: Vec<u8>,
}

impl AltStack {
    fn new() -> Self {
        let mut mem = vec![0u8; ALT_STACK_SIZE];
        let st = libc::stack_t {
            ss_sp: mem.as_mut_ptr().cast(),
            ss_flags: 0,
            ss_size: ALT_STACK_SIZE,
        };
        // SAFETY: `mem` lives as long as the thread (this value sits in a thread-local).
        unsafe { libc::sigaltstack(&st, std::ptr::null_mut()) };
        AltStack { _memory: mem }
    }
}

thread_local! {
    static ALT_STACK: AltStack = AltStack::new();
}

impl Drop for AltStack {
    fn drop(&mut self) {
        let st = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        // SAFETY: disables this thread's alternate stack before its memory goes away.
        unsafe { libc::sigaltstack(&st, std::ptr::null_mut()) };
    }
}

extern "C" fn handler(sig: libc::c_int, _info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let in_wasm = JMP.try_with(|j| j.get() != 0).unwrap_or(false);
    if !in_wasm {
        // Not ours: restore the default action and return, so the fault repeats and kills us.
        // SAFETY: resetting a signal's disposition is async-signal-safe.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
        return;
    }
    let code = match sig {
        libc::SIGFPE => TrapCode::IntegerDivideByZero,
        libc::SIGILL => TrapCode::Unreachable,
        _ => TrapCode::MemoryOutOfBounds,
    };
    // SAFETY: the kernel passes a valid ucontext_t for SA_SIGINFO handlers; redirecting
    // rip to the landing routine makes sigreturn resume there.
    unsafe {
        let uc = &mut *(ctx as *mut libc::ucontext_t);
        let regs = &mut uc.uc_mcontext.gregs;
        regs[libc::REG_RSI as usize] = regs[libc::REG_RIP as usize];
        regs[libc::REG_RDI as usize] = code as i64;
        regs[libc::REG_RIP as usize] = trampoline::trap_landing() as i64;
    }
}
