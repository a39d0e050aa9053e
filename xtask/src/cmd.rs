//! Running external commands the xtask way: echo first, then run, and turn a failure
//! into one sentence plus the tail of what the command printed.

use anyhow::{bail, Context, Result};
use std::ffi::OsStr;
use std::process::Command;

/// Quotes one word for a POSIX shell, only when it needs it.
fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The command as a line a user can paste into a shell, explicitly set variables first.
pub fn display(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (key, value) in cmd.get_envs() {
        if let Some(value) = value {
            parts.push(format!(
                "{}={}",
                key.to_string_lossy(),
                shell_quote(&value.to_string_lossy())
            ));
        }
    }
    parts.push(shell_quote(&cmd.get_program().to_string_lossy()));
    parts.extend(cmd.get_args().map(|a| shell_quote(&a.to_string_lossy())));
    parts.join(" ")
}

/// Prints the command before it runs, as Hermit's and rust-analyzer's xtasks do.
pub fn echo(cmd: &Command) {
    eprintln!("$ {}", display(cmd));
}

/// The last `lines` lines of a command's output, for error messages.
pub fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Echoes and runs `cmd` with the terminal attached; fails with `what` when it fails.
pub fn run(cmd: &mut Command, what: &str) -> Result<()> {
    echo(cmd);
    let status = cmd
        .status()
        .with_context(|| format!("could not start `{}`", display(cmd)))?;
    if !status.success() {
        bail!(
            "{what} failed ({status}); the command was: {}",
            display(cmd)
        );
    }
    Ok(())
}

/// A `cargo` command: the cargo that runs xtask (`$CARGO`), else the one on PATH.
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Whether `program` can be found on PATH.
pub fn on_path(program: impl AsRef<OsStr>) -> bool {
    let program = program.as_ref();
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_quotes_only_what_needs_it() {
        let mut cmd = Command::new("qemu-system-x86_64");
        cmd.arg("-append").arg("log=info -- a b").arg("it's");
        cmd.env("KILN_X", "/a b");
        assert_eq!(
            display(&cmd),
            r"KILN_X='/a b' qemu-system-x86_64 -append 'log=info -- a b' 'it'\''s'"
        );
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail(b"a\nb\nc\nd\n", 2), "c\nd");
        assert_eq!(tail(b"only", 5), "only");
    }
}
