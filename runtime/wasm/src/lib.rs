//! WebAssembly for kiln: validation (wasmparser), compilation to x86-64 through
//! `kiln-x64`, instances and WASI. `no_std` + `alloc`; talks to the machine only
//! through `kiln_abi::Platform`.
#![no_std]

extern crate alloc;
