//! Smalltalk (the SOM dialect) for kiln: parser, compiler to Zag-style threaded code,
//! object memory with a precise moving GC, dispatch and primitives. `no_std` + `alloc`;
//! talks to the machine only through `kiln_abi::Platform`.
#![no_std]

extern crate alloc;

pub mod ast;
pub mod bigint;
pub mod bootstrap;
pub mod code;
pub mod compiler;
pub mod float;
pub mod heap;
pub mod interp;
pub mod lexer;
pub mod parser;
pub mod prims;
pub mod runner;
pub mod symbols;
pub mod value;
pub mod vm;

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
