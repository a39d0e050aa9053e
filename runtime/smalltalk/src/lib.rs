//! Smalltalk (the SOM dialect) for kiln: parser, compiler to Zag-style threaded code,
//! object memory with a precise moving GC, dispatch and primitives. `no_std` + `alloc`;
//! talks to the machine only through `kiln_abi::Platform`.
#![no_std]

extern crate alloc;

pub mod ast;
pub mod lexer;
pub mod parser;
