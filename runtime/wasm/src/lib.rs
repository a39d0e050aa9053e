//! WebAssembly for kiln: validation (wasmparser), compilation to x86-64 through
//! `kiln-x64`, instances and WASI. `no_std` + `alloc`; talks to the machine only
//! through `kiln_abi::Platform`.
#![no_std]

extern crate alloc;

pub mod error;
pub mod module;
pub mod wasi;

pub use error::CompileError;
pub use module::{parse, supported_features, wasm1_features, ModuleInfo, Type};
pub mod compile;

pub use compile::{compile, CompiledModule, FuncCode};
