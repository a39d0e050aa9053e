//! The one error type of compilation: a message and the byte offset it refers to.

use alloc::string::String;
use core::fmt;

/// Why a module could not be compiled: invalid or malformed input (wasmparser's
/// message) or a feature kiln does not support.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the module.
    pub offset: usize,
}

impl CompileError {
    /// An error at `offset`.
    pub fn new(message: impl Into<String>, offset: usize) -> Self {
        Self {
            message: message.into(),
            offset,
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (at byte offset {:#x})", self.message, self.offset)
    }
}
