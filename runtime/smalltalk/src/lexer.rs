//! Tokens of SOM source text, with their line and column for error messages.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One token.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// An identifier (`foo`, `Object`, `primitive`).
    Ident(String),
    /// A keyword part (`at:`).
    Keyword(String),
    /// A binary operator sequence (`+`, `<=`, `,`, `|`, `-`).
    Op(String),
    /// An integer literal (decimal digits, no sign).
    Int(String),
    /// A floating-point literal.
    Double(f64),
    /// A string literal with escapes resolved.
    Str(String),
    /// A symbol literal `#foo`, `#at:put:`, `#+` or `#'text'`.
    Symbol(String),
    /// `#(` opening a literal array.
    ArrayStart,
    /// `:=`
    Assign,
    /// `:` introducing a block parameter.
    Colon,
    /// `^`
    Caret,
    /// `.`
    Period,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `----` separating the instance and class sides.
    Separator,
    /// `=` right after a method pattern or class name is just `Op("=")`.
    Eof,
}

/// A token and where it starts.
#[derive(Clone, Debug)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

/// A lexing or parsing error at a source position.
#[derive(Clone, Debug, PartialEq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// What went wrong.
    pub message: String,
}

fn is_op_char(c: u8) -> bool {
    matches!(
        c,
        b'~' | b'&'
            | b'|'
            | b'*'
            | b'/'
            | b'\\'
            | b'+'
            | b'='
            | b'>'
            | b'<'
            | b','
            | b'@'
            | b'%'
            | b'-'
    )
}

/// Splits `src` into tokens.
pub fn tokenize(src: &str) -> Result<Vec<Token>, SyntaxError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line, mut line_start) = (0usize, 1u32, 0usize);
    // Errors are reported at the start of the offending token (or comment).
    let mut err_line: u32;
    let mut err_col: u32;
    macro_rules! err {
        ($pos:expr, $($m:tt)*) => {{
            let _ = $pos;
            return Err(SyntaxError { line: err_line, col: err_col, message: format!($($m)*) })
        }};
    }
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
            line_start = i;
            continue;
        }
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        err_line = line;
        err_col = (i - line_start + 1) as u32;
        if c == b'"' {
            let start = i;
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\n' {
                    line += 1;
                    line_start = i + 1;
                }
                i += 1;
            }
            if i >= b.len() {
                err!(start, "unterminated comment");
            }
            i += 1;
            continue;
        }
        let start = i;
        let col = (i - line_start + 1) as u32;
        let tok_line = line;
        let tok = if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            if i < b.len() && b[i] == b':' && !(i + 1 < b.len() && b[i + 1] == b'=') {
                i += 1;
                Tok::Keyword(String::from(&src[start..i]))
            } else {
                Tok::Ident(String::from(&src[start..i]))
            }
        } else if c.is_ascii_digit() {
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            let mut is_double = false;
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                is_double = true;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                let mut j = i + 1;
                if j < b.len() && b[j] == b'-' {
                    j += 1;
                }
                if j < b.len() && b[j].is_ascii_digit() {
                    is_double = true;
                    i = j;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                }
            }
            if is_double {
                match src[start..i].parse::<f64>() {
                    Ok(d) => Tok::Double(d),
                    Err(_) => err!(start, "malformed number `{}`", &src[start..i]),
                }
            } else {
                Tok::Int(String::from(&src[start..i]))
            }
        } else if c == b'\'' {
            i += 1;
            let s = lex_string(b, &mut i, &mut line, &mut line_start);
            match s {
                Some(s) => Tok::Str(s),
                None => err!(start, "unterminated string"),
            }
        } else if c == b'#' {
            i += 1;
            if i < b.len() && b[i] == b'(' {
                i += 1;
                Tok::ArrayStart
            } else if i < b.len() && b[i] == b'\'' {
                i += 1;
                match lex_string(b, &mut i, &mut line, &mut line_start) {
                    Some(s) => Tok::Symbol(s),
                    None => err!(start, "unterminated symbol"),
                }
            } else if i < b.len() && (b[i].is_ascii_alphabetic() || b[i] == b'_') {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':')
                {
                    i += 1;
                }
                Tok::Symbol(String::from(&src[start + 1..i]))
            } else if i < b.len() && is_op_char(b[i]) {
                while i < b.len() && is_op_char(b[i]) {
                    i += 1;
                }
                Tok::Symbol(String::from(&src[start + 1..i]))
            } else {
                err!(start, "malformed symbol after `#`");
            }
        } else if c == b':' {
            if i + 1 < b.len() && b[i + 1] == b'=' {
                i += 2;
                Tok::Assign
            } else {
                i += 1;
                Tok::Colon
            }
        } else if c == b'-' && b[i..].starts_with(b"----") {
            while i < b.len() && b[i] == b'-' {
                i += 1;
            }
            Tok::Separator
        } else if is_op_char(c) {
            // A `-` directly followed by a digit after an operator is a separate token so
            // that `3--2` lexes as `3 - -2`; otherwise operator characters run together.
            i += 1;
            while i < b.len()
                && is_op_char(b[i])
                && !(b[i] == b'-' && i + 1 < b.len() && b[i + 1].is_ascii_digit())
            {
                i += 1;
            }
            Tok::Op(String::from(&src[start..i]))
        } else {
            i += 1;
            match c {
                b'^' => Tok::Caret,
                b'.' => Tok::Period,
                b'(' => Tok::LParen,
                b')' => Tok::RParen,
                b'[' => Tok::LBracket,
                b']' => Tok::RBracket,
                _ => err!(start, "unexpected character `{}`", c as char),
            }
        };
        out.push(Token {
            tok,
            line: tok_line,
            col,
        });
    }
    let col = (i - line_start + 1) as u32;
    out.push(Token {
        tok: Tok::Eof,
        line,
        col,
    });
    Ok(out)
}

/// Reads a quoted string body after the opening quote; `''` is a quote and backslash
/// escapes (`\n`, `\t`, `\\`, `\'` ...) are resolved as SOM does.
fn lex_string(b: &[u8], i: &mut usize, line: &mut u32, line_start: &mut usize) -> Option<String> {
    let mut s = Vec::new();
    loop {
        if *i >= b.len() {
            return None;
        }
        let c = b[*i];
        *i += 1;
        match c {
            b'\'' => {
                if *i < b.len() && b[*i] == b'\'' {
                    s.push(b'\'');
                    *i += 1;
                } else {
                    break;
                }
            }
            b'\\' if *i < b.len() => {
                let e = b[*i];
                *i += 1;
                s.push(match e {
                    b'n' => b'\n',
                    b't' => b'\t',
                    b'r' => b'\r',
                    b'b' => 8,
                    b'f' => 12,
                    b'0' => 0,
                    other => other,
                });
            }
            b'\n' => {
                *line += 1;
                *line_start = *i;
                s.push(c);
            }
            _ => s.push(c),
        }
    }
    Some(String::from_utf8_lossy(&s).into_owned())
}
