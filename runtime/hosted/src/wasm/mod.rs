//! WebAssembly on the hosted platform: the [`trap::HostedMachine`] that enters generated
//! code and turns faults into traps, and the `wasm`, `spec` and `compile-bench`
//! commands. Instances themselves come from `kiln_wasm::instance`.

pub mod cli;
pub mod spec;
pub mod trap;

#[cfg(test)]
mod tests;
