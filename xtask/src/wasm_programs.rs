//! `cargo xtask test`'s WASI programs: the Rust programs of `tests/programs` (a
//! workspace of its own) are built for `wasm32-wasip1` (release) and for the host, then
//! each case below runs the WASM build on the hosted runtime (`kiln-hosted wasm`) and
//! checks its exit status and output; cases marked `native` also require the exit status
//! and output of the host build run with the same arguments, environment and files to be
//! identical.
//! Those that read no input run a third time compiled ahead of time into an image under
//! QEMU (`[qemu]`), whose console must show exactly what the host build printed: the
//! same program through every tier, one answer. Closes with
//! `wasm programs: N passed, N failed`.

use crate::build::{build_image, target_dir};
use crate::programs::{self, ProgramOpts};
use crate::{cmd, hosted, prereq, profile, qemu, ImageOpts};
use anyhow::{Context, Result};
use kiln_abi::ExitStatus;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The target the programs are built for.
pub const WASM_TARGET: &str = "wasm32-wasip1";

/// The directory of the programs' workspace, relative to the repository.
pub const PROGRAMS_DIR: &str = "tests/programs";

/// Longest a case may run before it counts as hung.
const TIMEOUT: Duration = Duration::from_secs(60);

/// One run of one program and what it must produce.
struct Case {
    /// Test name (after `wasm-programs/`), matched by `--filter`.
    name: &'static str,
    /// The program (a member of `tests/programs`).
    program: &'static str,
    args: &'static [&'static str],
    /// `KEY=VALUE`: the program's whole environment.
    env: &'static [&'static str],
    /// A host directory (relative to the repository) and the guest path it appears at.
    dir: Option<(&'static str, &'static str)>,
    /// Bytes on standard input (none: standard input is closed).
    stdin: &'static [u8],
    /// Expected exit status of `kiln-hosted` (`kiln_abi::ExitStatus`: 5 is a trap).
    exit: u8,
    /// Substrings standard output must contain, in this order.
    stdout: &'static [&'static str],
    /// Substrings standard error must contain, in this order.
    stderr: &'static [&'static str],
    /// Whether the host build's exit status and standard output must be identical.
    native: bool,
}

/// A case with nothing special: no arguments, environment, files or input; success.
const BASE: Case = Case {
    name: "",
    program: "",
    args: &[],
    env: &[],
    dir: None,
    stdin: b"",
    exit: 0,
    stdout: &[],
    stderr: &[],
    native: false,
};

const DATA: Option<(&str, &str)> = Some(("tests/programs/data", "/data"));

/// A trap case: `traps KIND` must end in a trap and print `stderr`.
const fn trap(
    name: &'static str,
    args: &'static [&'static str],
    stderr: &'static [&'static str],
) -> Case {
    Case {
        name,
        program: "traps",
        args,
        exit: 5,
        stdout: &["trap kind:"],
        stderr,
        ..BASE
    }
}

const CASES: &[Case] = &[
    Case {
        name: "hello",
        program: "hello",
        args: &["first", "two words", ""],
        env: &["KILN_GREETING=hello", "KILN_EMPTY=", "OTHER=x"],
        stdout: &[
            "hello from a wasm32-wasip1 program",
            "arg 1: first",
            "arg 2: two words",
            "arg 3: \n",
            "env KILN_EMPTY=\n",
            "env KILN_GREETING=hello\n",
        ],
        stderr: &["hello on stderr"],
        native: true,
        ..BASE
    },
    Case {
        name: "hello-stdin",
        program: "hello",
        args: &["--stdin"],
        stdin: b"three\nlines\nof input\n",
        stdout: &["stdin: 3 lines, 21 bytes"],
        native: true,
        ..BASE
    },
    Case {
        name: "hello-stdin-eof",
        program: "hello",
        args: &["--stdin"],
        stdout: &["stdin: 0 lines, 0 bytes"],
        native: true,
        ..BASE
    },
    Case {
        name: "hello-time",
        program: "hello",
        args: &["--time"],
        stdout: &["realtime after 2020: true", "slept 20 ms: true"],
        native: true,
        ..BASE
    },
    Case {
        name: "exit-status",
        program: "hello",
        args: &["--exit", "3"],
        exit: 3,
        stdout: &["arg 2: 3\n"],
        stderr: &["hello on stderr"],
        native: true,
        ..BASE
    },
    Case {
        name: "files",
        program: "files",
        args: &["/data"],
        dir: DATA,
        stdout: &[
            "docs/kiln.txt",
            "numbers/primes.txt",
            "5 files, 1756 bytes",
            "second half of the largest file: 500 bytes",
            "no-such-file: NotFound",
        ],
        native: true,
        ..BASE
    },
    Case {
        name: "files-read-only",
        program: "files",
        args: &["/data", "--try-write"],
        dir: DATA,
        stdout: &["5 files", "write refused: ReadOnlyFilesystem"],
        ..BASE
    },
    Case {
        name: "compute",
        program: "compute",
        stdout: &[
            "sha256(abc) = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "34! = 295232799039604140847618609643520000000",
            "compute done",
        ],
        native: true,
        ..BASE
    },
    Case {
        name: "panic",
        program: "panic",
        exit: 5,
        stdout: &["about to panic"],
        stderr: &["kiln test panic: the answer is 42", "trap: unreachable"],
        ..BASE
    },
    trap("trap-unreachable", &["unreachable"], &["trap: unreachable"]),
    trap(
        "trap-divide-by-zero",
        &["divide-by-zero"],
        &["trap: integer divide by zero"],
    ),
    trap("trap-overflow", &["overflow"], &["trap: integer overflow"]),
    trap(
        "trap-out-of-bounds",
        &["out-of-bounds"],
        &["trap: out of bounds memory access"],
    ),
    trap(
        "trap-stack-exhaustion",
        &["stack-exhaustion"],
        &["trap: call stack exhausted"],
    ),
    trap(
        "trap-indirect",
        &["indirect"],
        &["trap: indirect call type mismatch"],
    ),
];

/// Where the programs are built: their own directory under the target directory.
fn programs_target_dir() -> PathBuf {
    target_dir().join("programs")
}

/// The built `.wasm` of `program`.
pub fn wasm_path(program: &str) -> PathBuf {
    programs_target_dir()
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{program}.wasm"))
}

fn native_path(program: &str) -> PathBuf {
    programs_target_dir().join("release").join(program)
}

/// Builds every program of `tests/programs`, for `wasm32-wasip1` and, with `native`,
/// for the host too.
pub fn build(native: bool) -> Result<()> {
    prereq::ensure_rust_target(WASM_TARGET)?;
    let targets: &[&[&str]] = if native {
        &[&["--target", WASM_TARGET], &[]]
    } else {
        &[&["--target", WASM_TARGET]]
    };
    for target in targets {
        let mut cargo = cmd::cargo();
        cargo
            .current_dir(profile::root().join(PROGRAMS_DIR))
            .args(["build", "--release", "--workspace"])
            .args(*target)
            .arg("--target-dir")
            .arg(programs_target_dir());
        cmd::run(&mut cargo, "building the test programs of tests/programs")?;
    }
    Ok(())
}

/// Program inputs of an image: `tests/programs:NAME` names a program of the test
/// workspace, built for `wasm32-wasip1` first; other inputs pass through.
pub fn resolve_inputs(inputs: &[String]) -> Result<Vec<String>> {
    let prefix = format!("{PROGRAMS_DIR}:");
    if !inputs.iter().any(|i| i.starts_with(&prefix)) {
        return Ok(inputs.to_vec());
    }
    build(false)?;
    Ok(inputs
        .iter()
        .map(|i| match i.strip_prefix(&prefix) {
            Some(name) => wasm_path(name).display().to_string(),
            None => i.clone(),
        })
        .collect())
}

/// What one run printed and how it ended.
struct Run {
    stdout: String,
    stderr: String,
    /// The exit code (`None`: killed by a signal or the timeout).
    code: Option<i32>,
}

/// Runs `command` with `stdin` as input, killing it after [`TIMEOUT`].
fn run(mut command: Command, stdin: &[u8]) -> Result<Run> {
    let what = cmd::display(&command);
    command
        .stdin(if stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .with_context(|| format!("could not start `{what}`"))?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin)?;
    }
    let start = Instant::now();
    while child.try_wait()?.is_none() {
        if start.elapsed() > TIMEOUT {
            child.kill()?;
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output()?;
    Ok(Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    })
}

/// `Err` names the first expected substring missing from `text` (in order).
fn contains_in_order(text: &str, wanted: &[&str], stream: &str) -> Result<(), String> {
    let mut rest = text;
    for want in wanted {
        match rest.find(want) {
            Some(at) => rest = &rest[at + want.len()..],
            None => return Err(format!("{stream} lacks `{want}` (expected in this order)")),
        }
    }
    Ok(())
}

/// The `kiln-hosted wasm` command of a case.
fn hosted_command(bin: &Path, case: &Case) -> Command {
    let mut c = Command::new(bin);
    c.arg("wasm");
    if let Some((host, guest)) = case.dir {
        c.arg("--dir")
            .arg(format!("{}::{guest}", profile::root().join(host).display()));
    }
    for kv in case.env {
        c.args(["--env", kv]);
    }
    c.arg(wasm_path(case.program)).args(case.args);
    c
}

/// The host build's command of a case: same arguments (guest paths mapped to the host
/// directory), environment and input.
fn native_command(case: &Case) -> Command {
    let mut c = Command::new(native_path(case.program));
    c.env_clear();
    for kv in case.env {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        c.env(k, v);
    }
    for a in case.args {
        match case.dir {
            Some((host, guest)) if *a == guest => c.arg(profile::root().join(host)),
            _ => c.arg(a),
        };
    }
    c
}

fn check(bin: &Path, case: &Case) -> Result<(), String> {
    let command = hosted_command(bin, case);
    let shown = cmd::display(&command);
    let got = run(command, case.stdin).map_err(|e| format!("{e:#}"))?;
    let context = |why: String| {
        format!(
            "{why}\n$ {shown}\n--- stdout (tail) ---\n{}\n--- stderr (tail) ---\n{}",
            cmd::tail(got.stdout.as_bytes(), 15),
            cmd::tail(got.stderr.as_bytes(), 15)
        )
    };
    if got.code != Some(i32::from(case.exit)) {
        return Err(context(format!(
            "expected exit status {}, got {:?}",
            case.exit, got.code
        )));
    }
    contains_in_order(&got.stdout, case.stdout, "stdout").map_err(context)?;
    contains_in_order(&got.stderr, case.stderr, "stderr").map_err(context)?;
    if case.native {
        let native = run(native_command(case), case.stdin).map_err(|e| format!("{e:#}"))?;
        if native.code != got.code {
            return Err(context(format!(
                "the host build exited with {:?}",
                native.code
            )));
        }
        first_difference(&native.stdout, &got.stdout).map_err(context)?;
    }
    Ok(())
}

/// `Err` says where `got` first differs from the host build's `want`.
fn first_difference(want: &str, got: &str) -> Result<(), String> {
    if want == got {
        return Ok(());
    }
    if want.lines().eq(got.lines()) {
        return Err(format!(
            "output differs from the host build's in line ends only ({} bytes, kiln {})",
            want.len(),
            got.len()
        ));
    }
    let line = want
        .lines()
        .zip(got.lines())
        .position(|(w, g)| w != g)
        .unwrap_or(want.lines().count().min(got.lines().count()));
    Err(format!(
        "output differs from the host build's from line {}: host `{}`, kiln `{}`",
        line + 1,
        want.lines().nth(line).unwrap_or("<end>"),
        got.lines().nth(line).unwrap_or("<end>")
    ))
}

/// What a program printed on the serial console: from the line after the boot banner
/// to the kernel's summary line for it (`kiln: NAME (`), with the serial port's `\r\n`
/// line ends back to `\n`.
fn console_output(serial: &str, program: &str) -> Option<String> {
    let banner = serial.find(" booted: ")?;
    let start = banner + serial[banner..].find('\n')? + 1;
    let end = start + serial[start..].find(&format!("kiln: {program} ("))?;
    Some(serial[start..end].replace("\r\n", "\n"))
}

/// Runs `case` compiled ahead of time into an image under QEMU; the image must end as
/// the program did, and its console output must be the host build's standard output
/// followed by its standard error (the programs write to stderr last).
fn check_qemu(case: &Case) -> Result<(), String> {
    let opts = ProgramOpts {
        inputs: vec![format!("{PROGRAMS_DIR}:{}", case.program)],
        dir: case
            .dir
            .map(|(host, guest)| format!("{host}::{guest}"))
            .into_iter()
            .collect(),
        env: case.env.iter().map(|kv| kv.to_string()).collect(),
        ..ProgramOpts::default()
    };
    let image_opts = ImageOpts {
        profile: "qemu-microvm".into(),
        release: false,
    };
    let booted = (|| {
        let contents = programs::contents(&opts, &image_opts.profile)?;
        let image = build_image(&image_opts, &contents)?;
        let args: Vec<String> = case.args.iter().map(|a| a.to_string()).collect();
        let cmdline = qemu::guest_cmdline(&opts.env_options()?, &args);
        qemu::run_captured(&image, &cmdline, TIMEOUT, None)
    })()
    .map_err(|e| format!("{e:#}"))?;
    let context = |why: String| {
        format!(
            "{why}\n--- serial log (tail) ---\n{}",
            cmd::tail(booted.output.as_bytes(), 15)
        )
    };
    // `proc_exit(N)` with N > 0 ends a bare-metal program as a program failure.
    let status = if case.exit == 0 {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    };
    let ending = qemu::Ending::Guest(status as u8);
    if booted.ending != ending {
        return Err(context(format!(
            "expected {}, got {}",
            ending.describe(),
            booted.ending.describe()
        )));
    }
    let got = console_output(&booted.output, case.program).ok_or_else(|| {
        context("no program output between the boot banner and its summary".into())
    })?;
    let native = run(native_command(case), case.stdin).map_err(|e| format!("{e:#}"))?;
    first_difference(&(native.stdout + &native.stderr), &got).map_err(context)
}

/// Runs one check and prints its `test ... ok|FAILED` line; true when it passed.
fn report(name: &str, check: impl FnOnce() -> Result<(), String>) -> bool {
    let start = Instant::now();
    match check() {
        Ok(()) => {
            println!(
                "test {name} ... ok ({:.2} s)",
                start.elapsed().as_secs_f64()
            );
            true
        }
        Err(why) => {
            println!("test {name} ... FAILED: {why}");
            false
        }
    }
}

/// Builds the programs and runs the cases whose name contains `filter`; returns the
/// number passed and failed.
pub fn run_all(filter: Option<&str>) -> Result<(usize, usize)> {
    let matches = |name: &str| filter.is_none_or(|f| name.contains(f));
    let hosted: Vec<&Case> = CASES
        .iter()
        .filter(|c| matches(&format!("wasm-programs/{}", c.name)))
        .collect();
    let bare: Vec<&Case> = CASES
        .iter()
        .filter(|c| c.native && c.stdin.is_empty())
        .filter(|c| matches(&format!("wasm-programs/{} [qemu]", c.name)))
        .collect();
    if hosted.is_empty() && bare.is_empty() {
        return Ok((0, 0));
    }
    eprintln!("== wasm programs (tests/programs hosted, on QEMU and native)");
    build(true)?;
    let (mut passed, mut failed) = (0, 0);
    let mut tally = |ok: bool| if ok { passed += 1 } else { failed += 1 };
    if !hosted.is_empty() {
        let bin = hosted::build()?;
        for case in hosted {
            tally(report(&format!("wasm-programs/{}", case.name), || {
                check(&bin, case)
            }));
        }
    }
    for case in bare {
        tally(report(
            &format!("wasm-programs/{} [qemu]", case.name),
            || check_qemu(case),
        ));
    }
    println!("wasm programs: {passed} passed, {failed} failed");
    Ok((passed, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_output_is_matched_in_order() {
        assert!(contains_in_order("a b c", &["a", "c"], "stdout").is_ok());
        assert!(contains_in_order("a b c", &["c", "a"], "stdout").is_err());
        assert!(contains_in_order("", &["x"], "stdout").is_err());
    }

    #[test]
    fn every_case_names_a_program_of_the_workspace() {
        let manifest =
            std::fs::read_to_string(profile::root().join(PROGRAMS_DIR).join("Cargo.toml")).unwrap();
        for case in CASES {
            assert!(
                manifest.contains(&format!("\"{}\"", case.program)),
                "{} runs {}",
                case.name,
                case.program
            );
        }
        let mut names: Vec<_> = CASES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), CASES.len(), "case names are unique");
    }

    #[test]
    fn console_output_is_cut_between_banner_and_summary() {
        let serial = "[warn] x\r\nkiln 0.1.0 booted: 128 MiB\r\nhi\r\nthere\r\nkiln: hello (aot) success in 1 ms\r\n";
        assert_eq!(
            console_output(serial, "hello").as_deref(),
            Some("hi\nthere\n")
        );
        assert_eq!(console_output(serial, "other"), None);
        assert_eq!(console_output("no banner", "hello"), None);
    }

    #[test]
    fn differences_name_the_first_differing_line() {
        assert!(first_difference("a\nb\n", "a\nb\n").is_ok());
        let e = first_difference("a\nb\n", "a\nc\n").unwrap_err();
        assert!(
            e.contains("line 2") && e.contains("`b`") && e.contains("`c`"),
            "{e}"
        );
        let e = first_difference("a\nb\n", "a\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("<end>"), "{e}");
    }

    #[test]
    fn native_runs_see_the_host_directory_for_the_guest_one() {
        let case = CASES.iter().find(|c| c.name == "files").unwrap();
        let c = native_command(case);
        let args: Vec<_> = c.get_args().collect();
        assert_eq!(
            args,
            [profile::root().join("tests/programs/data").as_os_str()]
        );
    }
}
