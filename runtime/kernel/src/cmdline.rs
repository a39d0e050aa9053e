//! The kernel command line: `key=value` options, then optionally `--` and program arguments.

use alloc::string::String;
use alloc::vec::Vec;

/// A parsed view of the command line the VMM passed (`-append` under QEMU).
#[derive(Clone, Copy)]
pub struct CmdLine<'a> {
    options: &'a str,
    args: &'a str,
}

impl<'a> CmdLine<'a> {
    /// Splits `text` at the first `--` word into options and program arguments.
    pub fn parse(text: &'a str) -> Self {
        if text.is_empty() {
            // The common case (no `-append`), without the scan below.
            return CmdLine {
                options: text,
                args: text,
            };
        }
        let mut rest = text;
        let mut consumed = 0;
        loop {
            let trimmed = rest.trim_start();
            consumed += rest.len() - trimmed.len();
            let word_len = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
            if word_len == 0 {
                return CmdLine {
                    options: text.trim(),
                    args: "",
                };
            }
            if &trimmed[..word_len] == "--" {
                return CmdLine {
                    options: text[..consumed].trim(),
                    args: trimmed[word_len..].trim(),
                };
            }
            consumed += word_len;
            rest = &trimmed[word_len..];
        }
    }

    /// The `key=value` options, in order (a bare word has an empty value).
    pub fn options(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        // No options (a VMM run without `-append`, the common case): `take(0)` keeps the
        // splitter from ever being stepped, code an emulator would translate at boot for
        // nothing (measured: 8 blocks).
        let words = if self.options.is_empty() {
            0
        } else {
            usize::MAX
        };
        self.options
            .split_ascii_whitespace()
            .take(words)
            .map(|word| word.split_once('=').unwrap_or((word, "")))
    }

    /// Everything after `--`: the arguments of the program the image runs.
    pub fn program_args(&self) -> &'a str {
        self.args
    }

    /// The program arguments as words. Words are separated by whitespace; a word in
    /// double quotes may hold whitespace, with `\"` and `\\` for a quote and a backslash
    /// (the quoting `cargo xtask run -- ARGS` applies).
    // Called once, by `kiln_main`: inlined there (see `start`).
    #[inline(always)]
    pub fn program_words(&self) -> Vec<String> {
        let mut words = Vec::new();
        if self.args.is_empty() {
            return words;
        }
        let mut chars = self.args.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let Some(&first) = chars.peek() else {
                return words;
            };
            let mut word = String::new();
            if first == '"' {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => word.extend(chars.next()),
                        c => word.push(c),
                    }
                }
            } else {
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    word.push(c);
                }
            }
            words.push(word);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::CmdLine;

    #[test]
    fn program_words_undo_xtask_quoting() {
        let line = CmdLine::parse(r#"log=info -- a "b c" "q\"x" "back\\slash" "" z"#);
        assert_eq!(
            line.program_words(),
            ["a", "b c", "q\"x", "back\\slash", "", "z"]
        );
        assert!(CmdLine::parse("log=info").program_words().is_empty());
    }

    fn options<'a>(line: &CmdLine<'a>) -> Vec<(&'a str, &'a str)> {
        line.options().collect()
    }

    #[test]
    fn options_without_arguments() {
        let line = CmdLine::parse("  log=debug selftest=clock ");
        assert_eq!(options(&line), [("log", "debug"), ("selftest", "clock")]);
        assert_eq!(line.program_args(), "");
    }

    #[test]
    fn double_dash_starts_program_arguments() {
        let line = CmdLine::parse("log=warn -- prog --flag x=1 -- y");
        assert_eq!(options(&line), [("log", "warn")]);
        assert_eq!(line.program_args(), "prog --flag x=1 -- y");
    }

    #[test]
    fn only_a_whole_word_is_the_separator() {
        let line = CmdLine::parse("a=--b --c -- d");
        assert_eq!(options(&line), [("a", "--b"), ("--c", "")]);
        assert_eq!(line.program_args(), "d");
        assert_eq!(options(&CmdLine::parse("--")), []);
        assert_eq!(CmdLine::parse("").program_args(), "");
    }
}
