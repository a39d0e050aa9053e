//! Booting images under QEMU: the command line a profile implies, interactive runs
//! that stream the (symbolized) serial console, and captured runs with a timeout for
//! tests and benchmarks.

use crate::build::BuiltImage;
use crate::symbols::Symbols;
use crate::{cmd, prereq};
use anyhow::{bail, Context, Result};
use kiln_abi::exit::guest_code;
use kiln_abi::ExitStatus;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How an interactive run should start QEMU.
pub struct RunOpts {
    pub accel: String,
    pub gdb: bool,
    pub cmdline: String,
}

/// The kernel command line: kiln options, then `--` and the program's arguments.
/// Arguments containing spaces or quotes are double-quoted with backslash escapes.
pub fn guest_cmdline(options: &[String], args: &[String]) -> String {
    let mut words: Vec<String> = options.to_vec();
    if !args.is_empty() {
        words.push("--".into());
        words.extend(args.iter().map(|a| {
            if a.is_empty() || a.contains([' ', '\t', '"', '\\']) {
                format!("\"{}\"", a.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                a.clone()
            }
        }));
    }
    words.join(" ")
}

/// The QEMU command that boots `image` (on its profile, with its firmware).
pub fn command(image: &BuiltImage, accel: &str, cmdline: &str) -> Command {
    let profile = &image.profile;
    let mut qemu = Command::new(prereq::QEMU);
    qemu.args(["-M", &profile.machine])
        .args(["-accel", accel])
        .args(["-cpu", &profile.cpu])
        .args(["-m", &profile.memory])
        .args(["-nodefaults", "-no-reboot", "-display", "none"])
        .args(["-serial", "stdio"]);
    for device in &profile.devices {
        qemu.args(["-device", device]);
    }
    if let Some(rom) = &image.firmware {
        qemu.arg("-bios").arg(rom);
    }
    qemu.arg("-kernel").arg(&image.path);
    if !cmdline.is_empty() {
        qemu.args(["-append", cmdline]);
    }
    qemu
}

/// How a guest run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    /// The guest wrote this code to `isa-debug-exit`.
    Guest(u8),
    /// QEMU ended some other way (its own error, or a reset with `-no-reboot`).
    Qemu(Option<i32>),
    /// Still running when the timeout passed; QEMU was killed.
    Timeout,
}

impl Ending {
    fn from_status(status: std::process::ExitStatus) -> Self {
        match status.code().and_then(guest_code) {
            Some(code) => Ending::Guest(code),
            None => Ending::Qemu(status.code()),
        }
    }

    /// A short description for reports: `fault (exit code 4)`.
    pub fn describe(self) -> String {
        match self {
            Ending::Guest(code) => match ExitStatus::from_code(code) {
                Some(s) => format!("{} (guest exit code {code})", s.describe()),
                None => format!("guest exit code {code}"),
            },
            Ending::Qemu(Some(0)) => {
                "QEMU stopped without the guest writing to isa-debug-exit (a triple fault resets the machine)".into()
            }
            Ending::Qemu(Some(code)) => format!("QEMU failed with status {code}"),
            Ending::Qemu(None) => "QEMU was killed by a signal".into(),
            Ending::Timeout => "timed out".into(),
        }
    }
}

/// What a captured run produced.
pub struct Captured {
    /// Serial output with addresses symbolized.
    pub output: String,
    /// QEMU's own stderr.
    pub stderr: String,
    pub ending: Ending,
    /// From spawning QEMU to the first byte on the serial console.
    pub first_output: Option<Duration>,
    /// From spawning QEMU to its exit.
    pub elapsed: Duration,
    /// When the serial output reached each length: `(bytes so far, since spawn)`.
    pub arrivals: Vec<(usize, Duration)>,
}

impl Captured {
    /// From spawning QEMU to the arrival of the end of the first `text` in the output
    /// (of a run captured without symbols, whose output is the raw serial bytes).
    pub fn time_of(&self, text: &str) -> Option<Duration> {
        let end = self.output.find(text)? + text.len();
        self.arrivals
            .iter()
            .find(|(len, _)| *len >= end)
            .map(|(_, t)| *t)
    }
}

/// Starts QEMU with its stdout piped; also returns the moment just before the spawn,
/// which the timings of captured runs count from.
fn spawn(mut qemu: Command, stdin: Stdio) -> Result<(Child, Instant)> {
    prereq::ensure_qemu()?;
    cmd::echo(&qemu);
    qemu.stdin(stdin).stdout(Stdio::piped());
    let start = Instant::now();
    let child = qemu
        .spawn()
        .with_context(|| format!("could not start {}", prereq::QEMU))?;
    Ok((child, start))
}

/// Boots `image` with no input, collecting its output until it exits or `timeout` passes.
pub fn run_captured(
    image: &BuiltImage,
    cmdline: &str,
    timeout: Duration,
    symbols: Option<&Symbols>,
) -> Result<Captured> {
    capture(command(image, "tcg", cmdline), timeout, symbols)
}

/// Runs `qemu` (a [`command`], perhaps with more options) with no input, collecting its
/// output until it exits or `timeout` passes.
pub fn capture(
    mut qemu: Command,
    timeout: Duration,
    symbols: Option<&Symbols>,
) -> Result<Captured> {
    qemu.stderr(Stdio::piped());
    let (mut child, start) = spawn(qemu, Stdio::null())?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut first = None;
        let mut arrivals = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            first.get_or_insert_with(|| start.elapsed());
            bytes.extend_from_slice(&buf[..n]);
            arrivals.push((bytes.len(), start.elapsed()));
        }
        (bytes, first, arrivals)
    });
    let err_reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    // A thread blocks in `wait` so that the exit is seen when it happens (polling would
    // add its period to every timing); this thread waits for it with the timeout.
    let pid = child.id();
    let (exited, exit) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let status = child.wait();
        let _ = exited.send(start.elapsed());
        status
    });
    let (ending, elapsed) = match exit.recv_timeout(timeout) {
        Ok(elapsed) => (None, elapsed),
        Err(_) => {
            // SAFETY: kill(2) on our child's pid, which the waiter has not reported reaped.
            // Only an exit in the last microseconds could have freed the pid, and Linux
            // does not hand a pid out again that quickly.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            (Some(Ending::Timeout), start.elapsed())
        }
    };
    let status = waiter.join().expect("waiter thread")?;
    let ending = ending.unwrap_or_else(|| Ending::from_status(status));
    let (bytes, first_output, arrivals) = reader.join().expect("reader thread");
    let stderr = String::from_utf8_lossy(&err_reader.join().expect("stderr thread")).into_owned();
    let text = String::from_utf8_lossy(&bytes);
    let output = match symbols {
        Some(s) => text.lines().map(|l| s.annotate(l) + "\n").collect(),
        None => text.into_owned(),
    };
    Ok(Captured {
        output,
        stderr,
        ending,
        first_output,
        elapsed,
        arrivals,
    })
}

/// Boots `image` with the terminal attached, streaming the symbolized serial
/// console; returns the guest's exit code (or fails if QEMU itself failed).
pub fn run_interactive(image: &BuiltImage, opts: &RunOpts) -> Result<i32> {
    if opts.accel == "kvm" && !Path::new("/dev/kvm").exists() {
        bail!("--accel kvm needs /dev/kvm, which this machine does not have; use --accel tcg");
    }
    let symbols = Symbols::load(&image.path)?;
    let mut qemu = command(image, &opts.accel, &opts.cmdline);
    if opts.gdb {
        qemu.args(["-s", "-S"]);
        eprintln!(
            "QEMU is paused with its gdb stub on localhost:1234; in another terminal run:\n  gdb {} -ex 'target remote localhost:1234'",
            image.path.display()
        );
    }
    eprintln!("(Ctrl-C stops QEMU)");
    interrupt::catch();
    let (mut child, _) = spawn(qemu, Stdio::inherit())?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut out = std::io::stdout();
    let mut pending = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = stdout.read(&mut buf) {
        if n == 0 {
            break;
        }
        pending.extend_from_slice(&buf[..n]);
        // Whole lines are symbolized; a partial line (a prompt) is shown at once as it is.
        let cut = pending
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        for line in String::from_utf8_lossy(&pending[..cut]).split_inclusive('\n') {
            let _ = out.write_all(symbols.annotate(line).as_bytes());
        }
        let _ = out.write_all(&pending[cut..]);
        let _ = out.flush();
        pending.clear();
    }
    let status = child.wait()?;
    match Ending::from_status(status) {
        Ending::Guest(code) => {
            eprintln!("kiln exited: {}", Ending::Guest(code).describe());
            Ok(code as i32)
        }
        _ if interrupt::happened() => {
            eprintln!("stopped by Ctrl-C");
            Ok(130)
        }
        // QEMU exits with 0 when `-no-reboot` turns a reset into an exit.
        Ending::Qemu(Some(0)) => {
            eprintln!("QEMU stopped before the guest exited (Ctrl-C, or a triple fault reset the machine)");
            Ok(1)
        }
        other => bail!("{}", other.describe()),
    }
}

/// Ctrl-C while QEMU runs: the terminal sends SIGINT to QEMU and xtask alike. QEMU
/// shuts down cleanly on it; xtask notes it and reports once QEMU has gone, instead of
/// dying first and leaving QEMU's last words unread.
mod interrupt {
    use std::sync::atomic::{AtomicBool, Ordering};

    static HAPPENED: AtomicBool = AtomicBool::new(false);

    extern "C" fn note(_: libc::c_int) {
        HAPPENED.store(true, Ordering::SeqCst);
    }

    /// From now on SIGINT only sets a flag. A handler (not SIG_IGN) resets to the
    /// default in the QEMU child at exec, so QEMU still sees Ctrl-C.
    pub fn catch() {
        let handler: extern "C" fn(libc::c_int) = note;
        // SAFETY: `note` only stores to an atomic, which is async-signal-safe.
        unsafe { libc::signal(libc::SIGINT, handler as libc::sighandler_t) };
    }

    pub fn happened() -> bool {
        HAPPENED.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::firmware::Firmware;
    use std::path::PathBuf;

    #[test]
    fn time_of_is_when_the_text_had_fully_arrived() {
        let ms = Duration::from_millis;
        let run = Captured {
            output: "boot\nhello\n".into(),
            stderr: String::new(),
            ending: Ending::Guest(0),
            first_output: Some(ms(1)),
            elapsed: ms(9),
            arrivals: vec![(5, ms(1)), (8, ms(4)), (11, ms(7))],
        };
        assert_eq!(run.time_of("boot"), Some(ms(1)));
        assert_eq!(run.time_of("hello\n"), Some(ms(7)));
        assert_eq!(run.time_of("absent"), None);
    }

    #[test]
    fn cmdline_puts_program_arguments_after_a_separator_and_quotes_spaces() {
        let opts = vec!["log=debug".to_string()];
        let args = vec!["a".to_string(), "b c".to_string(), "q\"x".to_string()];
        assert_eq!(
            guest_cmdline(&opts, &args),
            r#"log=debug -- a "b c" "q\"x""#
        );
        assert_eq!(guest_cmdline(&opts, &[]), "log=debug");
    }

    /// `name`'s profile booting `IMAGE`, with `FIRMWARE` standing for kiln's ROM.
    fn image_on(name: &str) -> BuiltImage {
        let profile = crate::profile::load(name).unwrap();
        let firmware = (profile.firmware == Firmware::Kiln).then(|| PathBuf::from("FIRMWARE"));
        BuiltImage {
            profile,
            path: PathBuf::from("IMAGE"),
            firmware,
        }
    }

    #[test]
    fn qemu_command_carries_the_profile_and_its_firmware() {
        let line = cmd::display(&command(&image_on("qemu-microvm"), "tcg", "x=1"));
        assert!(line.contains("-M microvm"), "{line}");
        assert!(
            line.contains("-device isa-debug-exit,iobase=0xf4,iosize=0x04"),
            "{line}"
        );
        assert!(
            line.ends_with("-bios FIRMWARE -kernel IMAGE -append x=1"),
            "{line}"
        );
        let line = cmd::display(&command(&image_on("qemu-q35"), "tcg", ""));
        assert!(!line.contains("-bios"), "{line}");
    }

    #[test]
    fn qemu_readme_shows_the_command_xtask_runs_for_every_profile() {
        let doc = std::fs::read_to_string(crate::profile::root().join("qemu/README.md")).unwrap();
        for name in crate::profile::names().unwrap() {
            let line = cmd::display(&command(&image_on(&name), "tcg", ""));
            assert!(
                doc.contains(&format!("## {name}")),
                "qemu/README.md lacks a section for {name}"
            );
            assert!(
                doc.contains(&line),
                "qemu/README.md is out of date for {name}; it should show:\n{line}"
            );
        }
    }
}
