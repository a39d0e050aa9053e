//! kiln's ABI: the contract between generated code, boot images and the runtime.
//!
//! Everything that more than one crate must agree on lives here and nowhere else:
//! the platform trait the language runtimes talk to the machine through, the exit
//! statuses a guest reports to the host, and (as the compilers grow) register
//! conventions, context layouts, trap codes and symbol names.
//!
//! The crate is `no_std` and has no dependencies, so every other crate can use it.
#![no_std]

pub mod bundle;
pub mod exit;
pub mod platform;
pub mod wasm;

pub use exit::ExitStatus;
pub use platform::{MemoryError, Platform, Protection};
