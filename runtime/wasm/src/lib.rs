//! WebAssembly for kiln: validation (wasmparser), compilation to x86-64 through
//! `kiln-x64`, and WASI. `no_std` + `alloc`; talks to the machine only through
//! `kiln_abi::Platform`.
//!
//! - [`module`]: validates a module and describes it ([`ModuleInfo`]).
//! - [`mod@compile`]: the baseline compiler, one `VisitOperator` method per operator, whose
//!   output ([`CompiledModule`]: code, relocations, symbols, module description) follows
//!   the ABI in `kiln_abi::wasm`. The same output serves the JIT (mapped in place) and AOT
//!   (wrapped in an ELF object by xtask).
//! - [`instance`]: stores, memories, tables, globals, linking and instantiation, over
//!   the platform and a [`instance::Machine`] (how the platform enters generated code
//!   and turns faults into traps; the hosted one is `runtime/hosted/src/wasm`).
//! - [`wasi`]: a small `wasi_snapshot_preview1` over the platform.
#![no_std]

extern crate alloc;

pub mod compile;
pub mod error;
pub mod instance;
pub mod module;
mod range;
pub mod spectest;
pub mod wasi;

pub use compile::{compile, CompiledModule, FuncCode};
pub use error::CompileError;
pub use module::{parse, supported_features, wasm1_features, ModuleInfo, Type};
