//! Static questions about method bodies: which sends are compiled inline, whether a
//! body creates real blocks (and so needs a context) or returns non-locally.

use crate::ast::{Body, Expr, Stmt};

pub(super) fn is_literal_block(e: &Expr, params: usize) -> bool {
    matches!(e, Expr::Block(b) if b.params.len() == params)
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

/// Does `body` contain a `^` (looking into nested blocks)?
pub(super) fn returns(body: &Body) -> bool {
    fn expr(e: &Expr) -> bool {
        match e {
            Expr::Var(_) | Expr::Lit(_) => false,
            Expr::Assign(_, v) => expr(v),
            Expr::Block(b) => returns(b),
            Expr::Send { receiver, args, .. } => expr(receiver) || args.iter().any(expr),
        }
    }
    body.stmts.iter().any(|s| match s {
        Stmt::Return(_) => true,
        Stmt::Expr(e) => expr(e),
    })
}
