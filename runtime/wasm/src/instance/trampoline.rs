//! The assembly every platform uses to enter generated code and to leave it on a trap.
//!
//! - [`kiln_wasm_enter`] calls a WASM function: it saves the callee-saved registers,
//!   stores its stack pointer where the caller says (the platform's "jump slot"), loads
//!   `r15`/`r14` from the VM context, copies the argument slots to the stack, calls the
//!   code and copies the result slots back. It returns 0.
//! - [`kiln_wasm_trap`] is what generated code calls to trap (the runtime symbol
//!   `kiln_abi::wasm::TRAP_SYMBOL`: `edi` = trap code, return address = where). [`kiln_wasm_trap_landing`] is where a platform's
//!   fault handler resumes a faulting WASM instruction (`edi` = trap code, `rsi` = faulting
//!   address). Both call the platform's recorder (set with [`set_trap_recorder`]) with the
//!   code, the address and the frame pointer of the trapping function; the recorder keeps
//!   them and returns the jump slot's stack pointer, from which `kiln_wasm_enter` then
//!   returns 1. Only generated code lies between the two, so no Rust frame is skipped
//!   (host functions and builtins return normally).
//! - [`kiln_wasm_host_adapter`] makes a [`super::store::HostFunc`] callable like a WASM
//!   function (`r15` = the `HostFunc`, argument/result slots above the return address).
//! - `kiln_wasi_preview1_<name>`, one per function of [`crate::wasi::Func`] (made from the
//!   one list, `wasi::preview1_functions`), is the runtime's entry for that WASI import:
//!   it puts the function's index in `eax` and jumps to a common entry that calls
//!   `wasi_link::dispatch` with the caller's VM context (`r15`), the index and
//!   the argument/result slots.
//!
//! [`runtime_address`] is the in-memory loader's table of these symbols and the builtins.

use super::builtins;
use crate::compile::symbols::RuntimeSymbol;
use crate::wasi::{preview1_functions, Func};
use core::sync::atomic::{AtomicUsize, Ordering};

core::arch::global_asm!(
    ".pushsection .text.kiln_wasm_trampolines, \"ax\"",
    ".globl kiln_wasm_enter",
    "kiln_wasm_enter:",
    "push rbp",
    "mov rbp, rsp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    // Generated code clobbers every register but rbp/rsp/r14/r15: keep the slot
    // pointer and count in the frame.
    "sub rsp, 24",
    "mov [rbp - 48], rdx",
    "mov [rbp - 56], rcx",
    "mov [r8], rsp",
    "mov r15, rdi",
    "mov r14, [r15]",
    "mov r13, rsi",
    "lea rax, [rcx * 8 + 15]",
    "and rax, -16",
    "sub rsp, rax",
    "mov rsi, rdx",
    "mov rdi, rsp",
    "rep movsq",
    "call r13",
    "mov rdi, [rbp - 48]",
    "mov rcx, [rbp - 56]",
    "mov rsi, rsp",
    "rep movsq",
    "xor eax, eax",
    "lea rsp, [rbp - 40]",
    // The trap path joins here with eax = 1 and rsp at the saved r15.
    ".Lkiln_wasm_enter_return:",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    ".globl kiln_wasm_trap",
    "kiln_wasm_trap:",
    "pop rsi",
    ".globl kiln_wasm_trap_landing",
    "kiln_wasm_trap_landing:",
    "mov rdx, rbp",
    "and rsp, -16",
    "call [rip + {recorder}]",
    "mov rsp, rax",
    "mov eax, 1",
    "add rsp, 24",
    "jmp .Lkiln_wasm_enter_return",
    ".globl kiln_wasm_host_adapter",
    "kiln_wasm_host_adapter:",
    "push rbp",
    "mov rbp, rsp",
    "mov rdi, r15",
    "lea rsi, [rbp + 16]",
    "call [r15 + 8]",
    "pop rbp",
    "ret",
    ".popsection",
    recorder = sym RECORDER,
);

unsafe extern "sysv64" {
    /// Calls `code` with VM context `vmctx` and `n` argument/result slots at `slots`,
    /// storing its stack pointer at `*jmp` first. Returns 0, or 1 after a trap.
    pub fn kiln_wasm_enter(vmctx: u64, code: u64, slots: *mut u64, n: usize, jmp: *mut u64) -> u64;
    /// The routine generated code calls to trap.
    pub fn kiln_wasm_trap();
    /// Where a fault handler resumes a faulting WASM instruction.
    pub fn kiln_wasm_trap_landing();
    /// The host-function adapter.
    pub fn kiln_wasm_host_adapter();
}

core::arch::global_asm!(
    ".pushsection .text.kiln_wasi_preview1, \"ax\"",
    ".globl kiln_wasi_preview1_entry",
    "kiln_wasi_preview1_entry:",
    // rsp is 16-byte aligned at the generated code's call: after the return address
    // and rbp it is again, as the System V call below needs.
    "push rbp",
    "mov rbp, rsp",
    "mov rdi, r15",
    "mov esi, eax",
    "lea rdx, [rbp + 16]",
    "call {dispatch}",
    "pop rbp",
    "ret",
    ".popsection",
    dispatch = sym super::wasi_link::dispatch,
);

/// Defines the WASI entry stubs and [`wasi_entry`] from the list of functions.
macro_rules! wasi_entries {
    ($($name:ident($($p:ident),*) -> ($($r:ident),*);)*) => {
        $(
            core::arch::global_asm!(
                ".pushsection .text.kiln_wasi_preview1, \"ax\"",
                concat!(".globl kiln_wasi_preview1_", stringify!($name)),
                concat!("kiln_wasi_preview1_", stringify!($name), ":"),
                "mov eax, {index}",
                "jmp kiln_wasi_preview1_entry",
                ".popsection",
                index = const Func::$name as u32,
            );
        )*

        /// The address of `func`'s entry.
        fn wasi_entry(func: Func) -> u64 {
            // Declared only for their addresses: the entries follow the WASM calling
            // convention (`r15` = VM context, slots on the stack), so they stay unsafe
            // to call from Rust.
            unsafe extern "sysv64" {
                $(
                    #[link_name = concat!("kiln_wasi_preview1_", stringify!($name))]
                    fn $name();
                )*
            }
            match func {
                $(Func::$name => $name as *const () as u64,)*
            }
        }
    };
}
preview1_functions!(wasi_entries);

/// The address of a runtime symbol in this program, for code linked in memory.
pub fn runtime_address(symbol: RuntimeSymbol) -> u64 {
    match symbol {
        RuntimeSymbol::Trap => kiln_wasm_trap as *const () as u64,
        RuntimeSymbol::Builtin(b) => builtins::TABLE[b as usize] as usize as u64,
        RuntimeSymbol::Wasi(f) => wasi_entry(f),
    }
}

/// What the platform does with a trap: `(code, pc, frame pointer) -> jump slot value`.
pub type TrapRecorder = extern "sysv64" fn(u32, u64, u64) -> u64;

/// The platform's recorder, called by the trap path through this cell.
static RECORDER: AtomicUsize = AtomicUsize::new(0);

/// Installs the platform's trap recorder (once, before any code runs). May be inlined:
/// one store.
#[inline]
pub fn set_trap_recorder(recorder: TrapRecorder) {
    RECORDER.store(recorder as usize, Ordering::Release);
}

/// Address of [`kiln_wasm_trap_landing`], for fault handlers.
pub fn trap_landing() -> u64 {
    kiln_wasm_trap_landing as *const () as u64
}

/// Address of [`kiln_wasm_host_adapter`], for host functions' `FuncRef::code`.
pub fn host_adapter() -> u64 {
    kiln_wasm_host_adapter as *const () as u64
}
