//! Inline compilation of control messages with literal blocks: conditionals, loops,
//! counting loops, comparisons fused with jumps, and the fallback blocks used when the
//! receiver is not a Boolean.

use super::{CompileResult, Gen};
use crate::ast::{Body, Expr, Literal, Stmt};
use crate::code::{Routine, Word};
use crate::interp as r;
use crate::value::Value;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

/// The increment of an inlined counting loop.
#[derive(Clone, Copy)]
enum Step {
    Const(i64),
    Hidden(usize),
}

impl Gen<'_> {
    /// Compiles a literal block's body in place (its variables join the current scope).
    fn inline_block(&mut self, e: &Expr, param_vars: &[usize]) -> CompileResult<()> {
        let Expr::Block(b) = e else {
            return self.expr(e);
        };
        let mark = self.scope().visible.len();
        let mut new_vars = Vec::new();
        for (i, p) in b.params.iter().enumerate() {
            let s = self.scopes.last_mut().expect("open scope");
            s.visible.push((p.clone(), param_vars[i]));
        }
        for t in &b.temps {
            let s = self.scopes.last_mut().expect("open scope");
            let idx = s.vars.len();
            s.vars.push(t.clone());
            s.visible.push((t.clone(), idx));
            new_vars.push(t.clone());
        }
        for t in &new_vars {
            self.emit(r::push_nil, &[]);
            self.adjust(1);
            self.store_var(t)?;
            self.emit(r::pop, &[]);
            self.adjust(-1);
        }
        self.statements(&b.stmts, false)?;
        self.scopes
            .last_mut()
            .expect("open scope")
            .visible
            .truncate(mark);
        Ok(())
    }

    /// The operands of the real send an inlined control message falls back to if its
    /// receiver turns out not to be a Boolean or Integer: selector `sel`, argument count,
    /// end (0, patched later), link, then one fallback block per argument (0 where it
    /// is not a literal block; at most two arguments).
    ///
    /// The link (see `interp::send_with_blocks`) tells whether this is a block, and the
    /// frame slot of its context. The fallback blocks are real blocks for the literal
    /// block arguments. In a scope with a context they are ordinary blocks on that
    /// context; otherwise (nothing in the scope creates a block, so neither do they)
    /// they are linked to the frame running the message.
    fn fallback_operands(&mut self, sel: usize, args: &[Expr]) -> CompileResult<[usize; 6]> {
        let mut blocks = [0usize; 2];
        let frame_linked = !self.scope().has_ctx;
        for (i, a) in args.iter().enumerate() {
            if let Expr::Block(b) = a {
                blocks[i] = self.function_in(b, true, None, false, frame_linked)? as usize;
            }
        }
        let s = self.scope();
        let ctx_slot = if s.has_ctx { s.num_args + 1 } else { 0 };
        let link = (ctx_slot << 1) | s.is_block as usize;
        Ok([sel, args.len(), 0, link, blocks[0], blocks[1]])
    }

    /// Emits the test of an inlined control message: consumes the condition and jumps to
    /// a target patched later when it is `true` (`jump_if_true`) or `false`. A
    /// comparison condition is fused with the jump. `fallback` holds the operands after
    /// the target (selector, argument count, end, link, fallback blocks). Returns
    /// the position of the target operand.
    fn cond_jump(
        &mut self,
        cond: &Expr,
        jump_if_true: bool,
        fallback: [usize; 6],
    ) -> CompileResult<usize> {
        if let Expr::Send {
            receiver,
            selector,
            args,
        } = cond
        {
            let is_super = matches!(&**receiver, Expr::Var(n) if n == "super");
            if !is_super && args.len() == 1 && fused_compare(selector, jump_if_true).is_some() {
                self.expr(receiver)?;
                self.expr(&args[0])?;
                return Ok(self.emit_fused(selector, jump_if_true, fallback));
            }
        }
        self.expr(cond)?;
        Ok(self.emit_test_jump(jump_if_true, fallback))
    }

    /// Emits a conditional jump on the Boolean on top of the stack, popping it; returns
    /// the position of the target operand.
    fn emit_test_jump(&mut self, jump_if_true: bool, fallback: [usize; 6]) -> usize {
        let test: Routine = if jump_if_true {
            r::jump_if_true
        } else {
            r::jump_if_false
        };
        let j = self.emit_jump(test, &fallback);
        self.adjust(-1);
        j
    }

    /// Emits a comparison fused with a conditional jump (both operands pushed already).
    fn emit_fused(&mut self, selector: &str, jump_if_true: bool, fallback: [usize; 6]) -> usize {
        let routine = fused_compare(selector, jump_if_true).expect("checked by the caller");
        let sel = self.vm.symbols.intern(selector) as usize;
        self.emit(routine, &[sel, 1, u32::MAX as usize, 0, 0]);
        let j = self.here() - 1;
        for o in fallback {
            self.f().code.push(Word { u: o });
        }
        self.adjust(-2);
        j
    }

    fn push_const(&mut self, v: Value) {
        self.emit(r::push_const, &[v.0 as usize]);
        self.adjust(1);
    }

    /// `counter <cmp> limit` loop around the inlined block `b` (its parameter is
    /// `counter`), adding `step` each round. Returns the loop test's jump operand (its
    /// end label is patched by the caller).
    fn counting_loop(
        &mut self,
        counter: usize,
        limit: usize,
        step: Step,
        cmp: &str,
        b: &Body,
        fallback: [usize; 6],
    ) -> CompileResult<usize> {
        let top = self.here();
        self.push_hidden(counter);
        self.push_hidden(limit);
        let j = self.emit_fused(cmp, false, fallback);
        let params: Vec<usize> = if b.params.is_empty() {
            Vec::new()
        } else {
            alloc::vec![counter]
        };
        self.inline_block(&Expr::Block(Box::new(b.clone())), &params)?;
        self.pop();
        self.push_hidden(counter);
        match step {
            Step::Const(i) => self.push_const(Value::int(i)),
            Step::Hidden(h) => self.push_hidden(h),
        }
        let plus = self.vm.symbols.intern("+") as usize;
        self.emit(r::send_add, &[plus, 1, u32::MAX as usize, 0]);
        self.adjust(-1);
        self.store_hidden(counter);
        self.pop();
        let back = self.emit_jump(r::jump, &[]);
        self.patch(back, top);
        let exit = self.here();
        self.patch(j, exit);
        Ok(j)
    }

    fn hidden_var(&mut self, name: &str) -> usize {
        let s = self.scopes.last_mut().expect("open scope");
        let idx = s.vars.len();
        s.vars.push(String::from(name));
        idx
    }

    fn store_hidden(&mut self, idx: usize) {
        let s = self.scope();
        if s.has_ctx {
            self.emit(r::store_context, &[s.num_args + 1, 0, 2 + idx]);
        } else {
            self.emit(r::store_local, &[1 + idx]);
        }
    }

    fn push_hidden(&mut self, idx: usize) {
        let s = self.scope();
        if s.has_ctx {
            self.emit(r::push_context, &[s.num_args + 1, 0, 2 + idx]);
        } else {
            self.emit(r::push_local, &[1 + idx]);
        }
        self.adjust(1);
    }

    pub(super) fn pop(&mut self) {
        self.emit(r::pop, &[]);
        self.adjust(-1);
    }

    pub(super) fn inline_send(
        &mut self,
        receiver: &Expr,
        selector: &str,
        args: &[Expr],
    ) -> CompileResult<()> {
        let sel = self.vm.symbols.intern(selector) as usize;
        match selector {
            "ifTrue:" | "ifFalse:" | "and:" | "or:" => {
                let on_true = matches!(selector, "ifTrue:" | "and:");
                let fallback = self.fallback_operands(sel, args)?;
                let j = self.cond_jump(receiver, !on_true, fallback)?;
                self.inline_block(&args[0], &[])?;
                let end = self.emit_jump(r::jump, &[]);
                let other = self.here();
                self.patch(j, other);
                match selector {
                    "and:" => self.emit(r::push_const, &[Value::FALSE.0 as usize]),
                    "or:" => self.emit(r::push_const, &[Value::TRUE.0 as usize]),
                    _ => self.emit(r::push_nil, &[]),
                }
                let done = self.here();
                self.patch(end, done);
                self.patch_end(j, done);
            }
            "ifTrue:ifFalse:" | "ifFalse:ifTrue:" => {
                let fallback = self.fallback_operands(sel, args)?;
                let jump_if_true = selector != "ifTrue:ifFalse:";
                let j = self.cond_jump(receiver, jump_if_true, fallback)?;
                self.inline_block(&args[0], &[])?;
                self.adjust(-1);
                let end = self.emit_jump(r::jump, &[]);
                let other = self.here();
                self.patch(j, other);
                self.inline_block(&args[1], &[])?;
                let done = self.here();
                self.patch(end, done);
                self.patch_end(j, done);
            }
            "whileTrue:" | "whileFalse:" => {
                // A condition that is not a Boolean is sent the message, with the
                // body as a real block, as `Block>>whileTrue:` does.
                let fallback = self.fallback_operands(sel, args)?;
                let top = self.here();
                let jump_if_true = selector == "whileFalse:";
                let j = match receiver {
                    Expr::Block(b)
                        if b.temps.is_empty() && matches!(b.stmts.as_slice(), [Stmt::Expr(_)]) =>
                    {
                        let Stmt::Expr(cond) = &b.stmts[0] else {
                            unreachable!("matched above")
                        };
                        self.cond_jump(cond, jump_if_true, fallback)?
                    }
                    _ => {
                        self.inline_block(receiver, &[])?;
                        self.emit_test_jump(jump_if_true, fallback)
                    }
                };
                self.inline_block(&args[0], &[])?;
                self.pop();
                let back = self.emit_jump(r::jump, &[]);
                self.patch(back, top);
                let exit = self.here();
                self.patch(j, exit);
                self.emit(r::push_nil, &[]);
                self.adjust(1);
                let done = self.here();
                self.patch_end(j, done);
            }
            "to:do:" | "timesRepeat:" | "to:by:do:" => {
                let block_arg = match selector {
                    "to:do:" => &args[1],
                    "to:by:do:" => &args[2],
                    _ => &args[0],
                };
                let Expr::Block(b) = block_arg else {
                    unreachable!("checked by `inlined`")
                };
                // Receiver and bounds go on the stack for the guard, which sends the
                // message for real unless they are all SmallIntegers.
                self.expr(receiver)?;
                let mut values = 1;
                if selector != "timesRepeat:" {
                    self.expr(&args[0])?;
                    values += 1;
                }
                if selector == "to:by:do:" {
                    self.expr(&args[1])?;
                    values += 1;
                }
                let [_, _, _, link, fallback_block, _] =
                    self.fallback_operands(sel, core::slice::from_ref(block_arg))?;
                self.emit(r::int_loop_guard, &[values, sel, 0, link, fallback_block]);
                let guard = self.here() - 6;
                let start = self.hidden_var("(start)");
                let limit = self.hidden_var("(limit)");
                let counter = if selector == "timesRepeat:" {
                    self.hidden_var("(counter)")
                } else {
                    let s = self.scopes.last_mut().expect("open scope");
                    let idx = s.vars.len();
                    s.vars.push(b.params[0].clone());
                    idx
                };
                let literal_step = match args {
                    [_, Expr::Lit(Literal::Int(i)), _] => Some(*i),
                    [_, _, _] => None,
                    _ => Some(1),
                };
                let step_var = if selector == "to:by:do:" && literal_step.is_none() {
                    let v = self.hidden_var("(step)");
                    self.store_hidden(v);
                    Some(v)
                } else {
                    None
                };
                if selector == "to:by:do:" {
                    self.pop();
                }
                if selector == "timesRepeat:" {
                    self.store_hidden(limit);
                    self.store_hidden(start);
                    self.pop();
                    self.push_const(Value::int(1));
                    self.store_hidden(counter);
                    self.pop();
                } else {
                    self.store_hidden(limit);
                    self.pop();
                    self.store_hidden(start);
                    self.store_hidden(counter);
                    self.pop();
                }
                let fallback = [sel, args.len(), 0, 0, 0, 0];
                let mut ends = Vec::new();
                let literal_step = match args {
                    [_, Expr::Lit(Literal::Int(i)), _] => Some(*i),
                    [_, _, _] => None,
                    _ => Some(1),
                };
                match literal_step {
                    Some(i) => {
                        let step = Step::Const(i);
                        let cmp = if i >= 0 { "<=" } else { ">=" };
                        ends.push(self.counting_loop(counter, limit, step, cmp, b, fallback)?);
                    }
                    None => {
                        // The step's sign picks the comparison once, before looping.
                        let step = step_var.expect("a variable step was stored above");
                        self.push_hidden(step);
                        self.push_const(Value::int(0));
                        let negative = self.emit_fused(">", false, fallback);
                        ends.push(negative);
                        ends.push(self.counting_loop(
                            counter,
                            limit,
                            Step::Hidden(step),
                            "<=",
                            b,
                            fallback,
                        )?);
                        let skip = self.emit_jump(r::jump, &[]);
                        let other = self.here();
                        self.patch(negative, other);
                        ends.push(self.counting_loop(
                            counter,
                            limit,
                            Step::Hidden(step),
                            ">=",
                            b,
                            fallback,
                        )?);
                        let after = self.here();
                        self.patch(skip, after);
                    }
                }
                self.push_hidden(start);
                let done = self.here();
                for j in ends {
                    self.patch_end(j, done);
                }
                self.patch_from(guard + 3, guard, done);
            }
            _ => unreachable!("`inlined` lists the selectors handled here"),
        }
        Ok(())
    }
}

/// The comparison fused with a conditional jump for `selector`, if there is one.
fn fused_compare(selector: &str, jump_if_true: bool) -> Option<Routine> {
    Some(match (selector, jump_if_true) {
        ("<", false) => r::lt_jump_if_false,
        ("<", true) => r::lt_jump_if_true,
        (">", false) => r::gt_jump_if_false,
        (">", true) => r::gt_jump_if_true,
        ("<=", false) => r::le_jump_if_false,
        ("<=", true) => r::le_jump_if_true,
        (">=", false) => r::ge_jump_if_false,
        (">=", true) => r::ge_jump_if_true,
        ("=", false) => r::eq_jump_if_false,
        ("=", true) => r::eq_jump_if_true,
        _ => return None,
    })
}
