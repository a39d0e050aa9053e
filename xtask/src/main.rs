//! `cargo xtask`: the one entry point a kiln user needs.
//!
//! Builds the bare-metal image, boots it under QEMU, runs every test, runs the
//! hosted runtime and the benchmarks. Every external command is echoed before it
//! runs so it can be reproduced by hand; every error is one sentence saying what
//! failed and what to do next, followed by the context that explains it.

mod aot;
mod bench;
mod blocks;
mod build;
mod bundle;
mod cmd;
mod firmware;
mod floor;
mod hosted;
mod prereq;
mod profile;
mod programs;
mod qemu;
mod spec_qemu;
mod symbols;
mod test;
mod wasm_programs;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, run, test and benchmark kiln",
    version
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Options shared by every command that builds an image.
#[derive(Args, Clone, Debug)]
pub struct ImageOpts {
    /// Machine profile from `targets/` (qemu-microvm, qemu-q35, qemu-pc).
    #[arg(long = "target", default_value = "qemu-microvm")]
    pub profile: String,
    /// Build with optimisations (smaller, faster image).
    #[arg(long)]
    pub release: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Build the bootable image and print its path and size.
    Build {
        #[command(flatten)]
        image: ImageOpts,
        #[command(flatten)]
        programs: programs::ProgramOpts,
    },
    /// Build the image, boot it under QEMU and stream its serial console.
    Run {
        #[command(flatten)]
        image: ImageOpts,
        #[command(flatten)]
        programs: programs::ProgramOpts,
        /// QEMU accelerator: tcg (default, always works) or kvm (needs /dev/kvm).
        #[arg(long, default_value = "tcg", value_parser = ["tcg", "kvm"])]
        accel: String,
        /// Start QEMU paused with its gdb stub on localhost:1234 and print the gdb command.
        #[arg(long)]
        gdb: bool,
        /// Arguments passed to the guest on the kernel command line (after `--`).
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Run everything: host unit tests, hosted suites and the QEMU integration tests.
    Test {
        /// Only run tests whose name contains this text.
        #[arg(long)]
        filter: Option<String>,
    },
    /// Print benchmark figures.
    Bench {
        #[command(subcommand)]
        which: bench::Which,
    },
    /// Run a WASM module on the hosted runtime: `cargo xtask exec app.wasm [--invoke NAME] [ARGS]`.
    Exec {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
    /// Run the WASM spec test suite on the hosted runtime (`--qemu`: compiled ahead of
    /// time and run on bare metal; takes --filter TEXT, --jobs N, --target PROFILE).
    Spec {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Run a Smalltalk program on the hosted runtime: `cargo xtask som -cp DIR Main [ARGS]`.
    Som {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
        args: Vec<String>,
    },
}

fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Command::Build { image, programs } => {
            if let Some(kv) = programs.env.first() {
                anyhow::bail!("--env {kv}: the environment is given at boot, on the kernel command line: use `cargo xtask run --env {kv} ...`, or boot the image with `-append \"env={kv}\"`");
            }
            let built =
                build::build_image(&image, &programs::contents(&programs, &image.profile)?)?;
            built.print_summary();
            Ok(0)
        }
        Command::Run {
            image,
            programs,
            accel,
            gdb,
            args,
        } => {
            let env = programs.env_options()?;
            let built =
                build::build_image(&image, &programs::contents(&programs, &image.profile)?)?;
            built.print_summary();
            let opts = qemu::RunOpts {
                accel,
                gdb,
                cmdline: qemu::guest_cmdline(&env, &args),
            };
            qemu::run_interactive(&built, &opts)
        }
        Command::Test { filter } => test::run_all(filter.as_deref()),
        Command::Bench { which } => bench::run(which),
        Command::Exec { args } => hosted::run_passthrough("wasm", &args),
        Command::Spec { args } if args.iter().any(|a| a == "--qemu") => spec_qemu::run(&args),
        Command::Spec { args } => hosted::run_passthrough("spec", &args),
        Command::Som { args } => hosted::run_passthrough("som", &args),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(programs::normalize_args(std::env::args()));
    match run(cli) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
