//! `kiln-hosted`: runs kiln's language runtimes as a Linux process.
//!
//! Usually reached through `cargo xtask` (`exec`, `som`, `spec`, `bench`), which
//! builds this binary and passes the arguments on.

use std::process::ExitCode;

fn usage() -> ExitCode {
    eprintln!("usage: kiln-hosted <command> [args...]");
    eprintln!("commands:");
    eprintln!("  wasm FILE [--invoke NAME] [ARGS...]  run a WASM export (default _start or main)");
    eprintln!("  spec [--filter SUBSTR] [--known-failures FILE]  run the WASM spec suite");
    eprintln!("  compile-bench FILE.wasm  WASM compile throughput");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("wasm") => kiln_hosted::wasm::cli::run(args.collect()),
        Some("compile-bench") => kiln_hosted::wasm::cli::compile_bench(args.collect()),
        Some("spec") => kiln_hosted::wasm::spec::run(args.collect()),
        Some("spec-file") => kiln_hosted::wasm::spec::run_file(args.collect()),
        Some("spec-plan") => kiln_hosted::wasm::spec::plan(args.collect()),
        Some("som") => kiln_hosted::som::run(args.collect()),
        Some("som-test") => kiln_hosted::som::test(args.collect()),
        Some("som-bench") => kiln_hosted::som::bench(args.collect()),
        Some(other) => {
            eprintln!("kiln-hosted: unknown command `{other}`");
            usage()
        }
        None => usage(),
    }
}
