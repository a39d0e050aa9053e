//! The assembler's output decoded back with iced-x86: integer and SSE instruction forms,
//! labels and relocations, branch relaxation. One test binary, so that every helper in
//! `common` is used by some test.

mod common;
mod int_forms;
mod labels;
mod relax;
mod sse_forms;
