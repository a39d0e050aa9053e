//! Static questions about method bodies: which sends are compiled inline, whether a
//! body creates real blocks (and so needs a context).

use crate::ast::{Body, Expr, Stmt};
use alloc::string::String;
use alloc::vec::Vec;

/// A literal block with `params` parameters that can be compiled inline: none of its
/// parameters or temporaries is captured by a real block inside it (inlined, they
/// would be one variable for every evaluation instead of a fresh one each time).
pub(super) fn is_literal_block(e: &Expr, params: usize) -> bool {
    matches!(e, Expr::Block(b) if b.params.len() == params && !captures_own_vars(b))
}

/// Does a real block inside `b` refer to one of `b`'s parameters or temporaries?
fn captures_own_vars(b: &Body) -> bool {
    if b.params.is_empty() && b.temps.is_empty() {
        return false;
    }
    let own: Vec<&str> = b
        .params
        .iter()
        .chain(b.temps.iter())
        .map(String::as_str)
        .collect();
    let mut found = false;
    for s in &b.stmts {
        let (Stmt::Expr(e) | Stmt::Return(e)) = s;
        visit_real_blocks(e, &mut |real| {
            let mut free = Vec::new();
            free_vars(real, &mut Vec::new(), &mut free);
            found |= free.iter().any(|n| own.contains(&n.as_str()));
        });
    }
    found
}

/// Calls `f` with every real (not inlined) block in `e`, looking through inlined
/// blocks but not inside the real ones.
fn visit_real_blocks(e: &Expr, f: &mut dyn FnMut(&Body)) {
    match e {
        Expr::Var(_) | Expr::Lit(_) => {}
        Expr::Assign(_, v) => visit_real_blocks(v, f),
        Expr::Block(b) => f(b),
        Expr::Send {
            receiver,
            selector,
            args,
        } => {
            let inline = inlined(receiver, selector, args);
            for part in core::iter::once(&**receiver).chain(args.iter()) {
                match part {
                    Expr::Block(b) if inline => {
                        for s in &b.stmts {
                            let (Stmt::Expr(e) | Stmt::Return(e)) = s;
                            visit_real_blocks(e, f);
                        }
                    }
                    other => visit_real_blocks(other, f),
                }
            }
        }
    }
}

/// Collects the variable names `b` uses without declaring them (at any depth).
fn free_vars(b: &Body, bound: &mut Vec<String>, out: &mut Vec<String>) {
    let mark = bound.len();
    bound.extend(b.params.iter().cloned());
    bound.extend(b.temps.iter().cloned());
    fn expr(e: &Expr, bound: &mut Vec<String>, out: &mut Vec<String>) {
        match e {
            Expr::Lit(_) => {}
            Expr::Var(n) => {
                if !bound.contains(n) {
                    out.push(n.clone());
                }
            }
            Expr::Assign(n, v) => {
                if !bound.contains(n) {
                    out.push(n.clone());
                }
                expr(v, bound, out);
            }
            Expr::Block(inner) => free_vars(inner, bound, out),
            Expr::Send { receiver, args, .. } => {
                expr(receiver, bound, out);
                args.iter().for_each(|a| expr(a, bound, out));
            }
        }
    }
    for s in &b.stmts {
        let (Stmt::Expr(e) | Stmt::Return(e)) = s;
        expr(e, bound, out);
    }
    bound.truncate(mark);
}

/// Is this send compiled inline?
pub(super) fn inlined(receiver: &Expr, selector: &str, args: &[Expr]) -> bool {
    match selector {
        "ifTrue:" | "ifFalse:" | "and:" | "or:" | "timesRepeat:" => is_literal_block(&args[0], 0),
        "ifTrue:ifFalse:" | "ifFalse:ifTrue:" => {
            is_literal_block(&args[0], 0) && is_literal_block(&args[1], 0)
        }
        "whileTrue:" | "whileFalse:" => {
            is_literal_block(receiver, 0) && is_literal_block(&args[0], 0)
        }
        "to:do:" => is_literal_block(&args[1], 1),
        "to:by:do:" => is_literal_block(&args[2], 1),
        _ => false,
    }
}

/// Does `body` (looking through inlined blocks) create a real block?
pub(super) fn creates_block(body: &Body) -> bool {
    body.stmts.iter().any(|s| match s {
        Stmt::Expr(e) | Stmt::Return(e) => expr_creates_block(e),
    })
}

pub(super) fn expr_creates_block(e: &Expr) -> bool {
    match e {
        Expr::Var(_) | Expr::Lit(_) => false,
        Expr::Assign(_, v) => expr_creates_block(v),
        Expr::Block(_) => true,
        Expr::Send {
            receiver,
            selector,
            args,
        } => {
            if inlined(receiver, selector, args) {
                let parts = core::iter::once(&**receiver).chain(args.iter());
                parts.into_iter().any(|p| match p {
                    Expr::Block(b) => creates_block(b),
                    other => expr_creates_block(other),
                })
            } else {
                expr_creates_block(receiver) || args.iter().any(expr_creates_block)
            }
        }
    }
}
