//! Compiles method and block ASTs to threaded code.
//!
//! Variables live in the frame (`fp[1 + index]`) unless the scope creates a real block;
//! then all of the scope's variables live in a heap context object (`[parent, home
//! marker, vars...]`) that blocks reach through their outer-context chain. Control
//! messages with literal block arguments (`ifTrue:`, `whileTrue:`, `to:do:`, `and:` ...)
//! are compiled inline as jumps; their block variables become variables of the
//! enclosing scope.

use crate::ast::{Body, Expr, Literal, MethodDef, Stmt};
use crate::code::{Method, PrimFn, Routine, Trivial, Word};
use crate::interp as r;
use crate::value::Value;
use crate::vm::{class_slot, Vm};
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

mod analysis;
mod inline;

use analysis::{creates_block, inlined};

struct Scope {
    vars: Vec<String>,
    visible: Vec<(String, usize)>,
    num_args: usize,
    has_ctx: bool,
    is_block: bool,
    /// A fallback block of an inlined control message: its outer scope is reached
    /// through a frame handle (see `interp::send_with_blocks`), not a context.
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
    let m = g.function(body, false, prim, def.body.is_none())?;
    if prim.is_none() {
        if let Some(body) = &def.body {
            let base = if is_meta { class_slot::COUNT } else { 0 };
            // SAFETY: `m` was just registered and nothing else refers to it yet.
            unsafe { (*m).trivial = trivial(body, fields, base) };
        }
    }
    Ok(m)
}

/// Recognises the method bodies that need no frame.
fn trivial(body: &Body, fields: &[String], field_base: usize) -> Trivial {
    let local = |n: &str| body.params.iter().chain(body.temps.iter()).any(|p| p == n);
    let field = |n: &str| {
        (!local(n))
            .then(|| fields.iter().rposition(|f| f == n))
            .flatten()
            .map(|i| field_base + i)
    };
    match body.stmts.as_slice() {
        [] => Trivial::ReturnSelf,
        [Stmt::Return(Expr::Var(n))] => match n.as_str() {
            "self" => Trivial::ReturnSelf,
            "nil" => Trivial::ReturnConst(Value::NIL),
            "true" => Trivial::ReturnConst(Value::TRUE),
            "false" => Trivial::ReturnConst(Value::FALSE),
            other => field(other).map_or(Trivial::No, Trivial::ReturnField),
        },
        [Stmt::Return(Expr::Lit(Literal::Int(i)))] => Trivial::ReturnConst(Value::int(*i)),
        [Stmt::Expr(Expr::Assign(f, value))] if body.params.len() == 1 && body.temps.is_empty() => {
            match &**value {
                Expr::Var(a) if *a == body.params[0] => {
                    field(f).map_or(Trivial::No, Trivial::SetField)
                }
                _ => Trivial::No,
            }
        }
        _ => Trivial::No,
    }
}

enum Var {
    Local(usize),
    /// A variable reached through the frame a fallback block is linked to (operands of
    /// `interp::push_linked`).
    Linked([usize; 4]),
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
            trivial: Trivial::No,
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
                    // Fallback blocks in methods without a context: this one and those
                    // around it (`links` of them) are linked to the frames they were
                    // created in; none of them, nor the first scope outside them,
                    // has a context.
                    let links = self.scopes[..=cur]
                        .iter()
                        .rev()
                        .take_while(|s| s.frame_linked)
                        .count();
                    return Var::Linked(if d <= links {
                        [d, r::LINKED_FRAME, 0, 1 + index]
                    } else {
                        [links, r::OUTER_CONTEXT, d - links - 1, 2 + index]
                    });
                }
                return if c.has_ctx {
                    Var::Ctx {
                        start: c.num_args + 1,
                        hops: d,
                        index: 2 + index,
                    }
                } else {
                    Var::Ctx {
                        start: r::OUTER_CONTEXT,
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
                Var::Linked(operands) => self.emit(r::push_linked, &operands),
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
            Var::Linked(operands) => self.emit(r::store_linked, &operands),
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
