//! Compiles method and block ASTs to threaded code.
//!
//! Variables live in the frame (`fp[1 + index]`) unless the scope creates a real block;
//! then all of the scope's variables live in a heap context object (`[parent, home
//! marker, vars...]`) that blocks reach through their outer-context chain. Control
//! messages with literal block arguments (`ifTrue:`, `whileTrue:`, `to:do:`, `and:` ...)
//! are compiled inline as jumps; their block variables become variables of the
//! enclosing scope.

use crate::ast::{Body, Expr, Literal, MethodDef, Stmt};
use crate::code::{Method, PrimFn, Routine, Word};
use crate::interp as r;
use crate::value::Value;
use crate::vm::{class_slot, Vm};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

struct Scope {
    vars: Vec<String>,
    visible: Vec<(String, usize)>,
    num_args: usize,
    has_ctx: bool,
    is_block: bool,
    /// A fallback block of an inlined control message: its outer scope is reached
    /// through a frame handle (see `interp::not_boolean`), not a context.
    frame_linked: bool,
}

struct Func {
    code: Vec<Word>,
    literals: Vec<Literal>,
    lit_fixups: Vec<(usize, usize)>,
    depth: usize,
    max: usize,
    ctx_init_at: Option<usize>,
}

struct Gen<'a> {
    vm: &'a mut Vm,
    holder: u32,
    fields: &'a [String],
    field_base: usize,
    selector: u32,
    file: &'a str,
    line: u32,
    scopes: Vec<Scope>,
    funcs: Vec<Func>,
}

/// A compile error (e.g. assignment to a global).
pub type CompileResult<T> = Result<T, String>;

/// Compiles a method of class `holder` whose instances have `fields` (for a metaclass:
/// the class-side fields).
pub fn compile_method(
    vm: &mut Vm,
    holder: u32,
    fields: &[String],
    def: &MethodDef,
    prim: Option<PrimFn>,
    file: &str,
) -> CompileResult<*mut Method> {
    let is_meta = vm.classes[holder as usize].is_meta;
    let selector = vm.symbols.intern(&def.selector);
    let mut g = Gen {
        vm,
        holder,
        fields,
        field_base: if is_meta { class_slot::COUNT } else { 0 },
        selector,
        file,
        line: def.line,
        scopes: Vec::new(),
        funcs: Vec::new(),
    };
    let empty = Body {
        params: def.params.clone(),
        temps: Vec::new(),
        stmts: Vec::new(),
    };
    let body = def.body.as_ref().unwrap_or(&empty);
    g.function(body, false, prim, def.body.is_none())
}

fn is_literal_block(e: &Expr, params: usize) -> bool {
    matches!(e, Expr::Block(b) if b.params.len() == params)
}

/// Is this send compiled inline?
fn inlined(receiver: &Expr, selector: &str, args: &[Expr]) -> bool {
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
fn creates_block(body: &Body) -> bool {
    body.stmts.iter().any(|s| match s {
        Stmt::Expr(e) | Stmt::Return(e) => expr_creates_block(e),
    })
}

fn expr_creates_block(e: &Expr) -> bool {
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
fn returns(body: &Body) -> bool {
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

/// The increment of an inlined counting loop.
#[derive(Clone, Copy)]
enum Step {
    Const(i64),
    Hidden(usize),
}

enum Var {
    Local(usize),
    /// A variable of the frame a fallback block is linked to.
    Frame(usize),
    Ctx {
        start: usize,
        hops: usize,
        index: usize,
    },
    Field(usize),
    Global(usize),
}

impl Gen<'_> {
    fn f(&mut self) -> &mut Func {
        self.funcs.last_mut().expect("a function is being compiled")
    }

    fn scope(&self) -> &Scope {
        self.scopes.last().expect("a scope is open")
    }

    fn emit(&mut self, routine: Routine, operands: &[usize]) {
        let f = self.f();
        f.code.push(Word { f: routine });
        for &o in operands {
            f.code.push(Word { u: o });
        }
    }

    fn adjust(&mut self, delta: isize) {
        let f = self.f();
        f.depth = (f.depth as isize + delta) as usize;
        f.max = f.max.max(f.depth);
    }

    fn here(&mut self) -> usize {
        self.f().code.len()
    }

    /// Emits a jump-like routine whose first operand is patched later; returns the
    /// operand's position.
    fn emit_jump(&mut self, routine: Routine, extra: &[usize]) -> usize {
        self.emit(routine, &[0]);
        let at = self.here() - 1;
        for &o in extra {
            self.f().code.push(Word { u: o });
        }
        at
    }

    /// Points the jump operand at `at` to `target`, as an offset from the routine word
    /// at `base`.
    fn patch_from(&mut self, at: usize, base: usize, target: usize) {
        let rel = target as isize - base as isize;
        self.f().code[at] = Word { i: rel as i64 };
    }

    /// Patches the first operand of a jump-like routine.
    fn patch(&mut self, at: usize, target: usize) {
        self.patch_from(at, at - 1, target);
    }

    /// Patches the end label of a conditional jump whose target operand is at `j`.
    fn patch_end(&mut self, j: usize, target: usize) {
        self.patch_from(j + 3, j - 1, target);
    }

    fn function(
        &mut self,
        body: &Body,
        is_block: bool,
        prim: Option<PrimFn>,
        prim_only: bool,
    ) -> CompileResult<*mut Method> {
        self.function_in(body, is_block, prim, prim_only, false)
    }

    fn function_in(
        &mut self,
        body: &Body,
        is_block: bool,
        prim: Option<PrimFn>,
        prim_only: bool,
        frame_linked: bool,
    ) -> CompileResult<*mut Method> {
        let has_ctx = creates_block(body);
        let mut scope = Scope {
            vars: Vec::new(),
            visible: Vec::new(),
            num_args: body.params.len(),
            has_ctx,
            is_block,
            frame_linked,
        };
        for p in body.params.iter().chain(body.temps.iter()) {
            scope.visible.push((p.clone(), scope.vars.len()));
            scope.vars.push(p.clone());
        }
        self.scopes.push(scope);
        self.funcs.push(Func {
            code: Vec::new(),
            literals: Vec::new(),
            lit_fixups: Vec::new(),
            depth: 0,
            max: 0,
            ctx_init_at: None,
        });
        self.emit(r::verify_selector, &[0]);
        if let Some(p) = prim {
            self.f().code.push(Word { f: r::primitive });
            self.f().code.push(Word { p });
        }
        if prim_only {
            self.emit(r::primitive_failed, &[]);
        } else {
            if has_ctx {
                self.emit(r::context_init, &[body.params.len(), 0, is_block as usize]);
                let at = self.here() - 2;
                self.f().ctx_init_at = Some(at);
            }
            self.statements(&body.stmts, !is_block)?;
            if is_block {
                self.emit(r::return_top, &[]);
            } else {
                self.emit(r::return_self, &[]);
            }
        }
        let scope = self.scopes.pop().expect("pushed above");
        let mut func = self.funcs.pop().expect("pushed above");
        if let Some(at) = func.ctx_init_at {
            func.code[at] = Word {
                u: scope.vars.len(),
            };
        }
        let num_temps = if scope.has_ctx {
            1
        } else {
            scope.vars.len() - scope.num_args
        };
        let mut code = func.code.into_boxed_slice();
        let code_len = code.len();
        let code_ptr = code.as_mut_ptr();
        core::mem::forget(code);
        let m = Box::new(Method {
            code: code_ptr,
            code_len,
            selector: self.selector,
            holder: self.holder,
            num_args: scope.num_args,
            num_temps,
            max_stack: func.max + 4,
            literals: alloc::vec![Value::NIL; func.literals.len()].into_boxed_slice(),
            invocations: 0,
            is_block,
            has_context: scope.has_ctx,
            primitive: prim,
            object: Value::NIL,
            line: self.line,
            file: String::from(self.file),
        });
        let m = self.vm.register_method(m);
        // SAFETY: `m` is registered (its literals are roots) and its code is ours to patch.
        unsafe {
            (*code_ptr.add(1)).u = m as usize;
            for (i, lit) in func.literals.iter().enumerate() {
                let v = literal_value(self.vm, lit);
                (&mut (*m).literals)[i] = v;
            }
            for &(at, i) in &func.lit_fixups {
                (*code_ptr.add(at)).u = (&(*m).literals)[i..].as_ptr() as usize;
            }
        }
        Ok(m)
    }

    fn statements(&mut self, stmts: &[Stmt], method_level: bool) -> CompileResult<()> {
        if stmts.is_empty() {
            if !method_level {
                self.emit(r::push_nil, &[]);
                self.adjust(1);
            }
            return Ok(());
        }
        for (i, s) in stmts.iter().enumerate() {
            let last = i + 1 == stmts.len();
            match s {
                Stmt::Expr(e) => {
                    self.expr(e)?;
                    if !last || method_level {
                        self.emit(r::pop, &[]);
                        self.adjust(-1);
                    }
                }
                Stmt::Return(e) => {
                    self.expr(e)?;
                    self.ret();
                    if method_level {
                        self.emit(r::pop, &[]);
                        self.adjust(-1);
                    }
                }
            }
        }
        Ok(())
    }

    /// `^` of the value on top of the stack; the value counts as still there afterwards
    /// (the code that follows is unreachable but must stay balanced).
    fn ret(&mut self) {
        if self.scopes.last().is_some_and(|s| s.is_block) {
            self.emit(r::return_nonlocal, &[]);
        } else {
            self.emit(r::return_top, &[]);
        }
    }

    fn add_literal(&mut self, lit: Literal) -> usize {
        let f = self.f();
        let i = f.literals.len();
        f.literals.push(lit);
        i
    }

    fn push_literal(&mut self, lit: &Literal) {
        match lit {
            Literal::Int(i) => self.emit(r::push_const, &[Value::int(*i).0 as usize]),
            Literal::Nil => self.emit(r::push_nil, &[]),
            Literal::True => self.emit(r::push_const, &[Value::TRUE.0 as usize]),
            Literal::False => self.emit(r::push_const, &[Value::FALSE.0 as usize]),
            other => {
                let i = self.add_literal(other.clone());
                self.emit(r::push_literal, &[0]);
                let at = self.here() - 1;
                self.f().lit_fixups.push((at, i));
            }
        }
        self.adjust(1);
    }

    fn resolve(&mut self, name: &str) -> Var {
        let cur = self.scopes.len() - 1;
        for level in (0..=cur).rev() {
            let s = &self.scopes[level];
            if let Some(&(_, index)) = s.visible.iter().rev().find(|(n, _)| n == name) {
                if level == cur {
                    return if s.has_ctx {
                        Var::Ctx {
                            start: s.num_args + 1,
                            hops: 0,
                            index: 2 + index,
                        }
                    } else {
                        Var::Local(1 + index)
                    };
                }
                let d = cur - level;
                let c = &self.scopes[cur];
                if c.frame_linked {
                    // The outer scope's frame is reached through the block's frame handle.
                    let outer = &self.scopes[cur - 1];
                    return if outer.has_ctx {
                        Var::Ctx {
                            start: r::FRAME_REF | (outer.num_args + 1),
                            hops: d - 1,
                            index: 2 + index,
                        }
                    } else if d == 1 {
                        Var::Frame(1 + index)
                    } else {
                        Var::Ctx {
                            start: r::FRAME_REF | r::FRAME_OUTER,
                            hops: d - 2,
                            index: 2 + index,
                        }
                    };
                }
                return if c.has_ctx {
                    Var::Ctx {
                        start: c.num_args + 1,
                        hops: d,
                        index: 2 + index,
                    }
                } else {
                    Var::Ctx {
                        start: usize::MAX,
                        hops: d - 1,
                        index: 2 + index,
                    }
                };
            }
        }
        if let Some(i) = self.fields.iter().rposition(|f| f == name) {
            return Var::Field(self.field_base + i);
        }
        let sym = self.vm.symbols.intern(name);
        Var::Global(self.vm.global_slot(sym))
    }

    fn in_block(&self) -> bool {
        self.scope().is_block
    }

    fn push_self(&mut self) {
        if self.in_block() {
            self.emit(r::push_block_self, &[]);
        } else {
            self.emit(r::push_self, &[]);
        }
        self.adjust(1);
    }

    fn push_var(&mut self, name: &str) {
        match name {
            "self" | "super" => return self.push_self(),
            "nil" => self.emit(r::push_nil, &[]),
            "true" => self.emit(r::push_const, &[Value::TRUE.0 as usize]),
            "false" => self.emit(r::push_const, &[Value::FALSE.0 as usize]),
            _ => match self.resolve(name) {
                Var::Local(i) => self.emit(r::push_local, &[i]),
                Var::Frame(i) => self.emit(r::push_linked_frame, &[i]),
                Var::Ctx { start, hops, index } if start >= r::FRAME_REF && start != usize::MAX => {
                    self.emit(r::push_linked_context, &[start, hops, index])
                }
                Var::Ctx { start, hops, index } => {
                    self.emit(r::push_context, &[start, hops, index])
                }
                Var::Field(i) if self.in_block() => self.emit(r::push_field_in_block, &[i]),
                Var::Field(i) => self.emit(r::push_field, &[i]),
                Var::Global(g) => {
                    let in_block = self.in_block() as usize;
                    self.emit(r::push_global, &[g, in_block])
                }
            },
        }
        self.adjust(1);
    }

    /// Stores the top of stack into `name`, leaving it on the stack.
    fn store_var(&mut self, name: &str) -> CompileResult<()> {
        match self.resolve(name) {
            Var::Local(i) => self.emit(r::store_local, &[i]),
            Var::Frame(i) => self.emit(r::store_linked_frame, &[i]),
            Var::Ctx { start, hops, index } if start >= r::FRAME_REF && start != usize::MAX => {
                self.emit(r::store_linked_context, &[start, hops, index])
            }
            Var::Ctx { start, hops, index } => self.emit(r::store_context, &[start, hops, index]),
            Var::Field(i) if self.in_block() => self.emit(r::store_field_in_block, &[i]),
            Var::Field(i) => self.emit(r::store_field, &[i]),
            Var::Global(_) => {
                return Err(format!(
                    "{}:{}: cannot assign to `{name}`: not a variable in scope",
                    self.file, self.line
                ));
            }
        }
        Ok(())
    }

    fn expr(&mut self, e: &Expr) -> CompileResult<()> {
        match e {
            Expr::Var(name) => self.push_var(name),
            Expr::Lit(l) => self.push_literal(l),
            Expr::Assign(name, value) => {
                if matches!(name.as_str(), "self" | "super" | "nil" | "true" | "false") {
                    return Err(format!(
                        "{}:{}: cannot assign to `{name}`",
                        self.file, self.line
                    ));
                }
                self.expr(value)?;
                self.store_var(name)?;
            }
            Expr::Block(b) => {
                let m = self.function(b, true, None, false)?;
                let ctx_slot = self.scope().num_args + 1;
                let in_block = self.in_block() as usize;
                self.emit(r::push_block, &[m as usize, ctx_slot, in_block]);
                self.adjust(1);
            }
            Expr::Send {
                receiver,
                selector,
                args,
            } => {
                if inlined(receiver, selector, args) {
                    return self.inline_send(receiver, selector, args);
                }
                let is_super = matches!(&**receiver, Expr::Var(n) if n == "super");
                self.expr(receiver)?;
                for a in args {
                    self.expr(a)?;
                }
                let sel = self.vm.symbols.intern(selector) as usize;
                let argc = args.len();
                if is_super {
                    let sup = self.vm.classes[self.holder as usize]
                        .superclass
                        .map_or(usize::MAX, |s| s as usize);
                    self.emit(r::super_send, &[sel, argc, sup]);
                } else {
                    let routine = special_send(selector).unwrap_or(r::send);
                    self.emit(routine, &[sel, argc, u32::MAX as usize, 0]);
                }
                self.adjust(-(argc as isize));
            }
        }
        Ok(())
    }

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

    /// Real blocks for the literal block arguments of an inlined control message, used
    /// only if its receiver turns out not to be a Boolean. A block that creates blocks
    /// or returns non-locally (or one inside another fallback block) has none (0): it is
    /// passed as `nil`.
    fn fallback_blocks(&mut self, args: &[Expr]) -> CompileResult<[usize; 2]> {
        let mut out = [0usize; 2];
        if self.scope().frame_linked {
            return Ok(out);
        }
        for (i, a) in args.iter().enumerate() {
            if let Expr::Block(b) = a {
                if !creates_block(b) && !returns(b) {
                    out[i] = self.function_in(b, true, None, false, true)? as usize;
                }
            }
        }
        Ok(out)
    }

    /// Emits the test of an inlined control message: consumes the condition and jumps to
    /// a target patched later when it is `true` (`jump_if_true`) or `false`. A
    /// comparison condition is fused with the jump. `fallback` holds the operands after
    /// the target (selector, argument count, end, is-block, fallback blocks). Returns
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
        let test: Routine = if jump_if_true {
            r::jump_if_true
        } else {
            r::jump_if_false
        };
        let j = self.emit_jump(test, &fallback);
        self.adjust(-1);
        Ok(j)
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

    fn pop(&mut self) {
        self.emit(r::pop, &[]);
        self.adjust(-1);
    }

    fn inline_send(&mut self, receiver: &Expr, selector: &str, args: &[Expr]) -> CompileResult<()> {
        let sel = self.vm.symbols.intern(selector) as usize;
        let argc = args.len();
        match selector {
            "ifTrue:" | "ifFalse:" | "and:" | "or:" => {
                let on_true = matches!(selector, "ifTrue:" | "and:");
                let fallback = self.fallback_blocks(args)?;
                let in_block = self.in_block() as usize;
                let j = self.cond_jump(
                    receiver,
                    !on_true,
                    [sel, argc, 0, in_block, fallback[0], fallback[1]],
                )?;
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
                let fallback = self.fallback_blocks(args)?;
                let in_block = self.in_block() as usize;
                let jump_if_true = selector != "ifTrue:ifFalse:";
                let j = self.cond_jump(
                    receiver,
                    jump_if_true,
                    [sel, argc, 0, in_block, fallback[0], fallback[1]],
                )?;
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
                let top = self.here();
                let jump_if_true = selector == "whileFalse:";
                let j = match receiver {
                    Expr::Block(b)
                        if b.temps.is_empty() && matches!(b.stmts.as_slice(), [Stmt::Expr(_)]) =>
                    {
                        let Stmt::Expr(cond) = &b.stmts[0] else {
                            unreachable!("matched above")
                        };
                        self.cond_jump(cond, jump_if_true, [sel, argc, 0, 0, 0, 0])?
                    }
                    _ => {
                        self.inline_block(receiver, &[])?;
                        let test: Routine = if jump_if_true {
                            r::jump_if_true
                        } else {
                            r::jump_if_false
                        };
                        let j = self.emit_jump(test, &[sel, argc, 0, 0, 0, 0]);
                        self.adjust(-1);
                        j
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
                if selector == "timesRepeat:" {
                    self.emit(r::push_const, &[Value::int(1).0 as usize]);
                    self.adjust(1);
                    self.store_hidden(counter);
                    self.pop();
                    self.expr(receiver)?;
                    self.store_hidden(start);
                } else {
                    self.expr(receiver)?;
                    self.store_hidden(start);
                    self.store_hidden(counter);
                    self.pop();
                    self.expr(&args[0])?;
                }
                self.store_hidden(limit);
                self.pop();
                let fallback = [sel, argc, 0, 0, 0, 0];
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
                        let step = self.hidden_var("(step)");
                        self.expr(&args[1])?;
                        self.store_hidden(step);
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

/// The routine with a SmallInteger fast path for a binary selector, if it has one.
fn special_send(selector: &str) -> Option<Routine> {
    Some(match selector {
        "+" => r::send_add,
        "-" => r::send_sub,
        "*" => r::send_mul,
        "<" => r::send_lt,
        ">" => r::send_gt,
        "<=" => r::send_le,
        ">=" => r::send_ge,
        "=" => r::send_eq,
        "~=" => r::send_ne,
        "==" => r::send_identical,
        _ => return None,
    })
}

/// Allocates the run-time value of a literal.
pub fn literal_value(vm: &mut Vm, lit: &Literal) -> Value {
    match lit {
        Literal::Int(i) => Value::int(*i),
        Literal::BigInt(neg, digits) => {
            let mut b =
                crate::bigint::Big::parse(digits).unwrap_or(crate::bigint::Big::from_i128(0));
            if *neg {
                b = b.neg();
            }
            vm.new_int(&b)
        }
        Literal::Double(d) => vm.new_double(*d),
        Literal::Str(s) => vm.new_string(s.as_bytes()),
        Literal::Symbol(s) => {
            let i = vm.symbols.intern(s);
            vm.symbol_obj(i)
        }
        Literal::Nil => Value::NIL,
        Literal::True => Value::TRUE,
        Literal::False => Value::FALSE,
        Literal::Array(items) => {
            let arr = vm.new_array(items.len());
            vm.handles.push(arr);
            for (i, item) in items.iter().enumerate() {
                let v = literal_value(vm, item);
                let arr = *vm.handles.last().expect("pushed above");
                // SAFETY: `arr` is an Array of `items.len()` slots.
                unsafe { crate::heap::set_slot(arr, i, v) };
            }
            vm.handles.pop().expect("pushed above")
        }
    }
}
