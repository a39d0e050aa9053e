//! Instances: linear memories, tables, globals, host functions and linking, on any
//! platform.
//!
//! Everything here is plain `no_std` Rust over `kiln_abi::Platform`. What depends on how
//! generated code is entered and left — entering it, recording traps and faults, the
//! stack bounds — comes from the platform runtime through the [`Machine`] trait
//! (`runtime/hosted` implements it with signals, the kernel with its exception
//! handlers); the assembly both share, and the runtime symbols generated code calls (the
//! trap routine, builtins, WASI entries), are this crate's own (`trampoline`).

pub mod builtins;
pub mod data;
pub mod descriptor;
pub mod instantiate;
pub mod store;
pub mod template;
pub mod trampoline;
pub mod value;
pub mod wasi_link;

pub use instantiate::{instantiate, Instance, InstantiateError};
pub use store::{Extern, Store};
pub use value::Value;

use kiln_abi::wasm::TrapCode;
use kiln_abi::Platform;

/// A trap out of generated code: its kind and the code address it happened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// What went wrong.
    pub code: TrapCode,
    /// Address in generated code (return address of the trap call, or faulting pc;
    /// 0 for traps raised by instantiation itself).
    pub pc: u64,
}

/// What a platform runtime provides to run generated code.
pub trait Machine {
    /// The platform (memory, console, clocks, exit).
    fn platform(&self) -> &dyn Platform;

    /// Calls WASM code at `code` with VM context `vmctx`; `slots` carries the arguments
    /// in and the results out (`kiln_abi::wasm`). Returns the trap if one happened.
    ///
    /// # Safety
    /// `code` and `vmctx` must be a function and the context it was compiled for (or a
    /// host function's adapter and its `HostFunc`), and `slots` must be as long as the
    /// larger of its parameter and result counts.
    unsafe fn enter(&self, vmctx: u64, code: u64, slots: &mut [u64]) -> Result<(), Trap>;

    /// The lowest stack address generated code may use on the current thread.
    fn stack_limit(&self) -> u64;
}
