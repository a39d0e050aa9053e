//! WebAssembly on the hosted platform: code mapping, linear memories, instances,
//! traps through signals, WASI, and the `wasm`, `spec` and `compile-bench` commands.

pub mod builtins;
pub mod cli;
pub mod instance;
pub mod spec;
pub mod store;
pub mod trap;
pub mod value;
pub mod wasi;

#[cfg(test)]
mod tests;
