//! Recursive-descent parser for SOM class files: `Name = Super ( | fields | methods ----
//! | class fields | class methods )`.

use crate::ast::{Body, ClassDef, Expr, Literal, MethodDef, Stmt};
use crate::lexer::{tokenize, SyntaxError, Tok, Token};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

struct Parser {
    toks: Vec<Token>,
    pos: usize,
}

type PResult<T> = Result<T, SyntaxError>;

/// Parses a whole class file.
pub fn parse_class(src: &str) -> PResult<ClassDef> {
    let mut p = Parser {
        toks: tokenize(src)?,
        pos: 0,
    };
    let class = p.class_def()?;
    if p.peek() != &Tok::Eof {
        return p.error("expected end of file after the class definition");
    }
    Ok(class)
}

/// Parses a method body's statements alone (used by tests and `system`-level evaluation).
pub fn parse_statements(src: &str) -> PResult<Body> {
    let mut p = Parser {
        toks: tokenize(src)?,
        pos: 0,
    };
    let body = p.body(Vec::new(), &Tok::Eof)?;
    Ok(body)
}

impl Parser {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let i = (self.pos + n).min(self.toks.len() - 1);
        &self.toks[i].tok
    }

    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos < self.toks.len() - 1 {
            self.pos += 1;
        }
        t
    }

    fn error<T>(&self, message: &str) -> PResult<T> {
        let t = &self.toks[self.pos];
        Err(SyntaxError {
            line: t.line,
            col: t.col,
            message: format!("{message} (found {})", describe(&t.tok)),
        })
    }

    fn expect(&mut self, tok: Tok, what: &str) -> PResult<()> {
        if *self.peek() == tok {
            self.next();
            Ok(())
        } else {
            self.error(&format!("expected {what}"))
        }
    }

    fn ident(&mut self, what: &str) -> PResult<String> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => self.error(&format!("expected {what}")),
        }
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Tok::Op(s) if s == op)
    }

    fn class_def(&mut self) -> PResult<ClassDef> {
        let name = self.ident("a class name")?;
        if !self.is_op("=") {
            return self.error("expected `=` after the class name");
        }
        self.next();
        let superclass = match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Some(s)
            }
            _ => None,
        };
        self.expect(Tok::LParen, "`(` opening the class body")?;
        let fields = self.field_list()?;
        let mut methods = Vec::new();
        while !matches!(self.peek(), Tok::Separator | Tok::RParen | Tok::Eof) {
            methods.push(self.method()?);
        }
        let mut class_fields = Vec::new();
        let mut class_methods = Vec::new();
        if *self.peek() == Tok::Separator {
            self.next();
            class_fields = self.field_list()?;
            while !matches!(self.peek(), Tok::RParen | Tok::Eof) {
                class_methods.push(self.method()?);
            }
        }
        self.expect(Tok::RParen, "`)` closing the class body")?;
        Ok(ClassDef {
            name,
            superclass,
            fields,
            methods,
            class_fields,
            class_methods,
        })
    }

    /// `| a b c |` (optional). An empty list may appear as `||`.
    fn field_list(&mut self) -> PResult<Vec<String>> {
        let mut names = Vec::new();
        if self.is_op("||") {
            self.next();
            return Ok(names);
        }
        if self.is_op("|") {
            self.next();
            while let Tok::Ident(s) = self.peek().clone() {
                self.next();
                names.push(s);
            }
            if !self.is_op("|") {
                return self.error("expected `|` closing the variable list");
            }
            self.next();
        }
        Ok(names)
    }

    fn method(&mut self) -> PResult<MethodDef> {
        let line = self.toks[self.pos].line;
        let (selector, params) = match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                (s, Vec::new())
            }
            Tok::Op(op) => {
                self.next();
                let arg = self.ident("an argument name after the binary selector")?;
                (op, alloc::vec![arg])
            }
            Tok::Keyword(_) => {
                let mut sel = String::new();
                let mut params = Vec::new();
                while let Tok::Keyword(k) = self.peek().clone() {
                    self.next();
                    sel.push_str(&k);
                    params.push(self.ident("an argument name after the keyword")?);
                }
                (sel, params)
            }
            _ => return self.error("expected a method pattern"),
        };
        if !self.is_op("=") {
            return self.error("expected `=` after the method pattern");
        }
        self.next();
        if matches!(self.peek(), Tok::Ident(s) if s == "primitive") {
            self.next();
            return Ok(MethodDef {
                selector,
                body: None,
                params,
                line,
            });
        }
        self.expect(Tok::LParen, "`(` opening the method body")?;
        let body = self.body(params.clone(), &Tok::RParen)?;
        self.expect(Tok::RParen, "`)` closing the method body")?;
        Ok(MethodDef {
            selector,
            body: Some(body),
            params,
            line,
        })
    }

    /// Temporaries and statements up to (not including) `end`.
    fn body(&mut self, params: Vec<String>, end: &Tok) -> PResult<Body> {
        let temps = self.field_list()?;
        let mut stmts = Vec::new();
        loop {
            while *self.peek() == Tok::Period {
                self.next();
            }
            if self.peek() == end {
                break;
            }
            if *self.peek() == Tok::Caret {
                self.next();
                let e = self.expression()?;
                stmts.push(Stmt::Return(e));
                while *self.peek() == Tok::Period {
                    self.next();
                }
                if self.peek() != end {
                    return self.error("expected the end of the body after a return");
                }
                break;
            }
            let e = self.expression()?;
            stmts.push(Stmt::Expr(e));
            if *self.peek() == Tok::Period {
                continue;
            }
            if self.peek() != end {
                return self.error("expected `.` or the end of the body");
            }
        }
        Ok(Body {
            params,
            temps,
            stmts,
        })
    }

    fn expression(&mut self) -> PResult<Expr> {
        if let (Tok::Ident(name), Tok::Assign) = (self.peek().clone(), self.peek_at(1).clone()) {
            self.next();
            self.next();
            let value = self.expression()?;
            return Ok(Expr::Assign(name, Box::new(value)));
        }
        self.keyword_expr()
    }

    fn keyword_expr(&mut self) -> PResult<Expr> {
        let receiver = self.binary_expr()?;
        if !matches!(self.peek(), Tok::Keyword(_)) {
            return Ok(receiver);
        }
        let mut selector = String::new();
        let mut args = Vec::new();
        while let Tok::Keyword(k) = self.peek().clone() {
            self.next();
            selector.push_str(&k);
            args.push(self.binary_expr()?);
        }
        Ok(Expr::Send {
            receiver: Box::new(receiver),
            selector,
            args,
        })
    }

    fn binary_expr(&mut self) -> PResult<Expr> {
        let mut e = self.unary_expr()?;
        while let Tok::Op(op) = self.peek().clone() {
            self.next();
            let arg = self.unary_expr()?;
            e = Expr::Send {
                receiver: Box::new(e),
                selector: op,
                args: alloc::vec![arg],
            };
        }
        Ok(e)
    }

    fn unary_expr(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        while let Tok::Ident(name) = self.peek().clone() {
            if matches!(self.peek_at(1), Tok::Assign) {
                break;
            }
            self.next();
            e = Expr::Send {
                receiver: Box::new(e),
                selector: name,
                args: Vec::new(),
            };
        }
        Ok(e)
    }

    fn primary(&mut self) -> PResult<Expr> {
        match self.peek().clone() {
            Tok::Ident(name) => {
                self.next();
                Ok(Expr::Var(name))
            }
            Tok::LParen => {
                self.next();
                let e = self.expression()?;
                self.expect(Tok::RParen, "`)`")?;
                Ok(e)
            }
            Tok::LBracket => {
                self.next();
                let mut params = Vec::new();
                while *self.peek() == Tok::Colon {
                    self.next();
                    params.push(self.ident("a block parameter name")?);
                }
                if !params.is_empty() {
                    if self.is_op("||") {
                        // `[:a || t | ...]`: the parameter bar and an opening temporaries bar.
                        self.toks[self.pos].tok = Tok::Op(String::from("|"));
                    } else if !self.is_op("|") {
                        return self.error("expected `|` after the block parameters");
                    } else {
                        self.next();
                    }
                }
                let body = self.body(params, &Tok::RBracket)?;
                self.expect(Tok::RBracket, "`]` closing the block")?;
                Ok(Expr::Block(Box::new(body)))
            }
            _ => Ok(Expr::Lit(self.literal()?)),
        }
    }

    fn literal(&mut self) -> PResult<Literal> {
        match self.peek().clone() {
            Tok::Op(op) if op == "-" => {
                self.next();
                match self.next() {
                    Tok::Int(digits) => Ok(int_literal(true, digits)),
                    Tok::Double(d) => Ok(Literal::Double(-d)),
                    _ => {
                        self.pos -= 1;
                        self.error("expected a number after `-`")
                    }
                }
            }
            Tok::Int(digits) => {
                self.next();
                Ok(int_literal(false, digits))
            }
            Tok::Double(d) => {
                self.next();
                Ok(Literal::Double(d))
            }
            Tok::Str(s) => {
                self.next();
                Ok(Literal::Str(s))
            }
            Tok::Symbol(s) => {
                self.next();
                Ok(Literal::Symbol(s))
            }
            Tok::ArrayStart => {
                self.next();
                self.array_elements()
            }
            _ => self.error("expected an expression"),
        }
    }

    fn array_elements(&mut self) -> PResult<Literal> {
        let mut items = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::RParen => {
                    self.next();
                    return Ok(Literal::Array(items));
                }
                Tok::LParen | Tok::ArrayStart => {
                    self.next();
                    items.push(self.array_elements()?);
                }
                Tok::Ident(s) => {
                    self.next();
                    items.push(match s.as_str() {
                        "nil" => Literal::Nil,
                        "true" => Literal::True,
                        "false" => Literal::False,
                        _ => Literal::Symbol(s),
                    });
                }
                Tok::Keyword(k) => {
                    self.next();
                    let mut s = k;
                    while let Tok::Keyword(k) = self.peek().clone() {
                        self.next();
                        s.push_str(&k);
                    }
                    items.push(Literal::Symbol(s));
                }
                Tok::Op(op)
                    if op != "-" || !matches!(self.peek_at(1), Tok::Int(_) | Tok::Double(_)) =>
                {
                    self.next();
                    items.push(Literal::Symbol(op));
                }
                Tok::Eof => return self.error("unterminated literal array"),
                _ => items.push(self.literal()?),
            }
        }
    }
}

fn int_literal(negative: bool, digits: String) -> Literal {
    match digits.parse::<i64>() {
        Ok(v) if v < (1 << 61) => Literal::Int(if negative { -v } else { v }),
        _ => Literal::BigInt(negative, digits),
    }
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Ident(s) | Tok::Keyword(s) | Tok::Op(s) | Tok::Int(s) => format!("`{s}`"),
        Tok::Double(d) => format!("`{d}`"),
        Tok::Str(_) => String::from("a string"),
        Tok::Symbol(s) => format!("`#{s}`"),
        Tok::Eof => String::from("end of file"),
        Tok::ArrayStart => String::from("`#(`"),
        Tok::Assign => String::from("`:=`"),
        Tok::Colon => String::from("`:`"),
        Tok::Caret => String::from("`^`"),
        Tok::Period => String::from("`.`"),
        Tok::LParen => String::from("`(`"),
        Tok::RParen => String::from("`)`"),
        Tok::LBracket => String::from("`[`"),
        Tok::RBracket => String::from("`]`"),
        Tok::Separator => String::from("`----`"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_class_with_both_sides() {
        let c = parse_class(
            "Foo = Bar ( | a b | x = ( ^a ) + other = ( ^a + other ) at: i put: v = primitive
             ---- | count | new = ( count := count + 1. ^super new ) )",
        )
        .unwrap();
        assert_eq!(c.name, "Foo");
        assert_eq!(c.superclass.as_deref(), Some("Bar"));
        assert_eq!(c.fields, ["a", "b"]);
        assert_eq!(c.methods.len(), 3);
        assert_eq!(c.methods[1].selector, "+");
        assert_eq!(c.methods[2].selector, "at:put:");
        assert!(c.methods[2].body.is_none());
        assert_eq!(c.class_fields, ["count"]);
        assert_eq!(c.class_methods[0].body.as_ref().unwrap().stmts.len(), 2);
    }

    #[test]
    fn precedence_unary_binary_keyword() {
        let b = parse_statements("a foo: b bar + 3 baz: -4").unwrap();
        let Stmt::Expr(Expr::Send { selector, args, .. }) = &b.stmts[0] else {
            panic!()
        };
        assert_eq!(selector, "foo:baz:");
        assert_eq!(args[1], Expr::Lit(Literal::Int(-4)));
        let Expr::Send {
            selector, receiver, ..
        } = &args[0]
        else {
            panic!()
        };
        assert_eq!(selector, "+");
        assert!(matches!(&**receiver, Expr::Send { selector, .. } if selector == "bar"));
    }

    #[test]
    fn literals_blocks_and_big_numbers() {
        let b = parse_statements(
            "x := #(1 $ #foo bar: 'str' (2 3) 4.5) . [:a :b | | t | t := a. ^t] . 123456789012345678901234567890 . 3--2",
        );
        assert!(b.is_err(), "`$` is not SOM syntax");
        let b = parse_statements(
            "x := #(1 #foo bar: 'st''r' (2 3) 4.5 -7) . [:a :b | | t | t := a. ^t] . 123456789012345678901234567890 . 3--2",
        )
        .unwrap();
        let Stmt::Expr(Expr::Assign(_, arr)) = &b.stmts[0] else {
            panic!()
        };
        let Expr::Lit(Literal::Array(items)) = &**arr else {
            panic!()
        };
        assert_eq!(items.len(), 7);
        assert_eq!(items[2], Literal::Symbol("bar:".into()));
        assert_eq!(items[3], Literal::Str("st'r".into()));
        assert_eq!(items[6], Literal::Int(-7));
        let Stmt::Expr(Expr::Block(blk)) = &b.stmts[1] else {
            panic!()
        };
        assert_eq!(blk.params, ["a", "b"]);
        assert_eq!(blk.temps, ["t"]);
        assert!(matches!(blk.stmts[1], Stmt::Return(_)));
        assert!(matches!(
            &b.stmts[2],
            Stmt::Expr(Expr::Lit(Literal::BigInt(false, _)))
        ));
        let Stmt::Expr(Expr::Send { args, .. }) = &b.stmts[3] else {
            panic!()
        };
        assert_eq!(args[0], Expr::Lit(Literal::Int(-2)));
    }

    #[test]
    fn errors_carry_line_and_column() {
        let e = parse_class("Foo = (\n  bar = ( ^ 1 + )\n)").unwrap_err();
        assert_eq!((e.line, e.col), (2, 17));
        assert!(e.message.contains("expected"));
        let e = parse_class("Foo = ( x = ( 'abc ) )").unwrap_err();
        assert!(e.message.contains("unterminated string"));
    }
}
