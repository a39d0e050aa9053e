//! kiln's runtime as a Linux process.
//!
//! The same language crates that run on bare metal run here, on a [`LinuxPlatform`]
//! that implements `kiln_abi::Platform` with the C library: stdout/stderr for the
//! console, `clock_gettime` for clocks, `getrandom` for randomness and
//! `mmap`/`mprotect` for memory. Hosted runs are what the fast tests, the
//! differential checks and the benchmarks against peers use.

pub mod platform;
pub mod som;
pub mod wasm;

pub use platform::LinuxPlatform;
