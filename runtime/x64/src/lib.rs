//! x86-64 assembler shared by kiln's AOT and JIT compilers: instruction encoding,
//! labels and relocations described as data. `no_std` + `alloc`.
#![no_std]

extern crate alloc;
