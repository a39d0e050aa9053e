//! The threaded-code routines and the executor.
//!
//! [`execute`] sets up a frame on the value stack and runs the dispatch loop
//! `loop { (pc, sp) = (*pc).routine(pc, sp, fp, vm) }` until a routine answers a null
//! `pc`: the method returned (its result is in `fp[0]`) or an unwind is in progress
//! (`vm.unwind`). A send is a native call of `execute` for the callee, so the Smalltalk
//! call depth is bounded by `Options::max_depth`.
//!
//! Frame layout: `fp[0]` receiver (for blocks: the block), `fp[1..=n]` arguments, then
//! the temporaries (or one slot holding the context object), then the operand stack.

use crate::code::{Act, Method, Prim, Step, Word};
use crate::heap::{self, Format};
use crate::value::Value;
use crate::vm::{cls, sel, Vm, UNWIND_NLR, UNWIND_NONE};
use alloc::format;

#[inline(always)]
fn step(pc: *const Word, sp: *mut Value) -> Step {
    Step { pc, sp }
}

#[inline(always)]
fn leave(sp: *mut Value) -> Step {
    Step {
        pc: core::ptr::null(),
        sp,
    }
}

/// The NLR marker of a method frame.
#[inline(always)]
fn marker(fp: *mut Value) -> Value {
    Value::int(fp as i64 >> 3)
}

/// Runs method `m` on the frame at `fp` (receiver and arguments already in place).
/// Returns false if an unwind (non-local return past this frame, error, exit) is in
/// progress; otherwise the result is in `fp[0]`.
///
/// # Safety
/// `fp[0..=num_args]` must be the receiver and arguments on the value stack and `m` a
/// live method.
pub unsafe fn execute(vm: &mut Vm, m: *const Method, fp: *mut Value) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe { run_from(vm, m, fp, 0) }
}

/// Runs method `m` from code word `start` (0, or the first word of the body after the
/// primitive when a primitive already failed).
///
/// # Safety
/// As for [`execute`].
unsafe fn run_from(vm: &mut Vm, m: *const Method, fp: *mut Value, start: usize) -> bool {
    // SAFETY: guaranteed by the caller; the frame lies inside the value stack, which is
    // checked against its limit before anything is written past the arguments.
    unsafe {
        let md = &*m;
        let mut sp = fp.add(1 + md.num_args);
        if sp.add(md.num_temps + md.max_stack) > vm.stack_limit || vm.depth >= vm.options.max_depth
        {
            vm.sp = sp;
            vm.abort(format!(
                "Stack overflow: recursion deeper than {} activations in {}>>#{}",
                vm.depth,
                vm.class_name(md.holder),
                vm.symbols.name(md.selector)
            ));
            return false;
        }
        for _ in 0..md.num_temps {
            *sp = Value::NIL;
            sp = sp.add(1);
        }
        vm.depth += 1;
        let act = Act {
            method: m,
            fp,
            prev: vm.acts,
        };
        vm.acts = &act;
        let mut pc = md.code.add(start) as *const Word;
        loop {
            let s = ((*pc).f)(pc, sp, fp, vm);
            if s.pc.is_null() {
                break;
            }
            pc = s.pc;
            sp = s.sp;
        }
        vm.acts = act.prev;
        vm.depth -= 1;
        if md.has_context && !md.is_block {
            let ctx = *fp.add(md.context_slot());
            if ctx.is_ptr() {
                heap::set_slot(ctx, 1, Value::NIL);
            }
            if vm.unwind == UNWIND_NLR && vm.nlr_target == marker(fp).0 {
                *fp = vm.nlr_value;
                vm.nlr_value = Value::NIL;
                vm.unwind = UNWIND_NONE;
            }
        }
        vm.unwind == UNWIND_NONE
    }
}

/// Word index of the body of a method with a primitive: after `verify_selector` and
/// its operand, `primitive` and its operand.
const PRIMITIVE_BODY: usize = 4;

/// Sends `selector` to the receiver at `fp[0]` with `argc` arguments above it.
///
/// # Safety
/// `fp[0..=argc]` must be on the value stack, the top of which is `fp + argc + 1`.
pub unsafe fn send_message(vm: &mut Vm, selector: u32, argc: usize, fp: *mut Value) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let c = vm.class_of(*fp);
        match vm.dispatch(c, selector) {
            Some(m) => invoke(vm, m, selector, argc, fp),
            None => not_understood(vm, selector, argc, fp),
        }
    }
}

/// Runs `m` for a send of `selector` with `argc` arguments, checking the argument count.
///
/// # Safety
/// As for [`send_message`].
pub unsafe fn invoke(
    vm: &mut Vm,
    m: *const Method,
    selector: u32,
    argc: usize,
    fp: *mut Value,
) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe {
        if (*m).num_args != argc {
            vm.sp = fp.add(argc + 1);
            vm.abort(format!(
                "wrong number of arguments for #{}",
                vm.symbols.name(selector)
            ));
            return false;
        }
        vm.sends += 1;
        vm.sel = selector;
        if let Some(p) = (*m).primitive {
            // Primitive fast path: no frame, no activation record. It checks and counts
            // exactly as word 0 would; a failure runs the body after the primitive word.
            (*(m as *mut Method)).invocations += 1;
            vm.sp = fp.add(argc + 1);
            return match p(vm, fp) {
                Prim::Ok(v) => {
                    *fp = v;
                    true
                }
                Prim::Done => vm.unwind == UNWIND_NONE,
                Prim::Fail => run_from(vm, m, fp, PRIMITIVE_BODY),
            };
        }
        execute(vm, m, fp)
    }
}

/// The receiver did not understand `selector`: sends `doesNotUnderstand:arguments:`.
///
/// # Safety
/// As for [`send_message`].
pub unsafe fn not_understood(vm: &mut Vm, selector: u32, argc: usize, fp: *mut Value) -> bool {
    // SAFETY: the arguments are on the value stack below `fp + argc + 1`, a root while
    // the array and symbol are allocated.
    unsafe {
        vm.sp = fp.add(argc + 1);
        let arr = vm.new_array(argc);
        for i in 0..argc {
            heap::set_slot(arr, i, *fp.add(1 + i));
        }
        *fp.add(1) = arr;
        vm.sp = fp.add(2);
        let sym = vm.symbol_obj(selector);
        let arr = *fp.add(1);
        *fp.add(1) = sym;
        *fp.add(2) = arr;
        vm.sp = fp.add(3);
        let dnu = vm.special_sel(sel::DNU);
        let c = vm.class_of(*fp);
        match vm.dispatch(c, dnu) {
            Some(m) => invoke(vm, m, dnu, 2, fp),
            None => {
                vm.abort(format!(
                    "{}>>#{} not understood",
                    vm.class_name(c),
                    vm.symbols.name(selector)
                ));
                false
            }
        }
    }
}

// ----- word 0 and primitives -----

/// Word 0: checks that the method is the one the send looked for and counts the call.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn verify_selector(
    pc: *const Word,
    sp: *mut Value,
    _fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: word 1 holds the method's own header.
    unsafe {
        let m = (*pc.add(1)).u as *mut Method;
        (*m).invocations += 1;
        if (*m).selector != vm.sel {
            let msg = format!(
                "dispatch error: #{} arrived at {}>>#{}",
                vm.symbols.name(vm.sel),
                vm.class_name((*m).holder),
                vm.symbols.name((*m).selector)
            );
            vm.abort(msg);
            return leave(sp);
        }
        step(pc.add(2), sp)
    }
}

/// Runs the method's primitive; on failure continues with the Smalltalk body.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn primitive(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: word 1 is the primitive; `fp` is this activation's frame.
    unsafe {
        vm.sp = sp;
        match ((*pc.add(1)).p)(vm, fp) {
            Prim::Ok(v) => {
                *fp = v;
                leave(sp)
            }
            Prim::Done => leave(sp),
            Prim::Fail => step(pc.add(2), sp),
        }
    }
}

/// The body of a `primitive` method whose primitive failed (or does not exist).
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn primitive_failed(
    _pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: the activation record of this method is the innermost one.
    unsafe {
        let m = &*(*vm.acts).method;
        let recv = vm.class_of(*fp);
        vm.sp = sp;
        vm.abort(format!(
            "primitive {}>>#{} failed (receiver of class {})",
            vm.class_name(m.holder),
            vm.symbols.name(m.selector),
            vm.class_name(recv)
        ));
        leave(sp)
    }
}

/// Allocates the activation's context object and moves the arguments into it.
/// Operands: argument count, variable count, is-block.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn context_init(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the operands describe this frame; the new context has `2 + nvars` slots.
    unsafe {
        let nargs = (*pc.add(1)).u;
        let nvars = (*pc.add(2)).u;
        let is_block = (*pc.add(3)).u != 0;
        vm.sp = sp;
        let ctx = vm.alloc(cls::CONTEXT, Format::Pointers, 2 + nvars);
        if is_block {
            heap::set_slot(ctx, 0, heap::slot(*fp, 1));
        } else {
            heap::set_slot(ctx, 1, marker(fp));
        }
        for i in 0..nargs {
            heap::set_slot(ctx, 2 + i, *fp.add(1 + i));
        }
        *fp.add(nargs + 1) = ctx;
        step(pc.add(4), sp)
    }
}

// ----- returns -----

/// Returns the top of stack from the method (or, in a block, as the block's value).
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn return_top(_pc: *const Word, sp: *mut Value, fp: *mut Value, _vm: &mut Vm) -> Step {
    // SAFETY: there is a value on the operand stack.
    unsafe {
        *fp = *sp.sub(1);
        leave(sp)
    }
}

/// Returns the receiver.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn return_self(_pc: *const Word, sp: *mut Value, _fp: *mut Value, _vm: &mut Vm) -> Step {
    leave(sp)
}

/// `^` inside a block: returns from the block's home method, or sends `escapedBlock:`
/// if that method has already returned.
///
/// # Safety
/// Called by the dispatch loop only, in a block activation.
pub unsafe fn return_nonlocal(
    _pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: `fp[0]` is a block whose outer-context chain ends at its home method's context.
    unsafe {
        let value = *sp.sub(1);
        let mut ctx = heap::slot(*fp, 1);
        while heap::slot(ctx, 0) != Value::NIL {
            ctx = heap::slot(ctx, 0);
        }
        let home = heap::slot(ctx, 1);
        if home == Value::NIL {
            let block = *fp;
            let base = sp;
            *base = heap::slot(block, 2);
            *base.add(1) = block;
            vm.sp = base.add(2);
            if !send_message(vm, vm.special_sel(sel::ESCAPED), 1, base) {
                return leave(sp);
            }
            *fp = *base;
            return leave(sp);
        }
        vm.nlr_value = value;
        vm.nlr_target = home.0;
        vm.unwind = UNWIND_NLR;
        leave(sp)
    }
}

// ----- pushes and stores -----

/// Pops the top of stack.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn pop(pc: *const Word, sp: *mut Value, _fp: *mut Value, _vm: &mut Vm) -> Step {
    // SAFETY: the compiler only pops what it pushed.
    unsafe { step(pc.add(1), sp.sub(1)) }
}

macro_rules! push_routine {
    ($(#[$doc:meta])* $name:ident, $len:expr, |$pc:ident, $fp:ident| $value:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// Called by the dispatch loop only.
        pub unsafe fn $name($pc: *const Word, sp: *mut Value, $fp: *mut Value, _vm: &mut Vm) -> Step {
            // SAFETY: operands come from the compiler, which sized the operand stack.
            unsafe {
                *sp = $value;
                step($pc.add($len), sp.add(1))
            }
        }
    };
}

push_routine!(
    /// Pushes `nil`.
    push_nil, 1, |pc, _fp| Value::NIL);
push_routine!(
    /// Pushes the constant in operand 1 (SmallInteger, `true`, `false`).
    push_const, 2, |pc, _fp| (*pc.add(1)).v);
push_routine!(
    /// Pushes the literal whose slot address is operand 1.
    push_literal, 2, |pc, _fp| *((*pc.add(1)).u as *const Value));
push_routine!(
    /// Pushes the receiver of a method.
    push_self, 1, |pc, fp| *fp);
push_routine!(
    /// Pushes the receiver of a block's home method.
    push_block_self, 1, |pc, fp| heap::slot(*fp, 2));
push_routine!(
    /// Pushes frame slot operand 1.
    push_local, 2, |pc, fp| *fp.add((*pc.add(1)).u));
push_routine!(
    /// Pushes field operand 1 of the receiver.
    push_field, 2, |pc, fp| heap::slot(*fp, (*pc.add(1)).u));
push_routine!(
    /// Pushes field operand 1 of a block's receiver.
    push_field_in_block, 2, |pc, fp| heap::slot(heap::slot(*fp, 2), (*pc.add(1)).u));
push_routine!(
    /// Pushes a context variable. Operands: start (frame slot of the own context, or
    /// `usize::MAX` for the block's outer context), hops up the parent chain, slot.
    push_context, 4, |pc, fp| heap::slot(context_at(pc, fp), (*pc.add(3)).u));

/// Start flag of a context-variable operand: the context is found through the frame a
/// fallback block is linked to (that frame's slot in the low bits).
pub const FRAME_REF: usize = 1 << 40;
/// With [`FRAME_REF`]: the linked frame's block's outer context.
pub const FRAME_OUTER: usize = (1 << 32) - 1;

/// The frame a fallback block (at `fp[0]`) is linked to, or null once the control
/// message that created the block has returned (the handle is cleared then).
///
/// # Safety
/// `fp[0]` must be a fallback block.
#[inline]
unsafe fn linked_frame(fp: *mut Value) -> *mut Value {
    // SAFETY: fallback blocks hold a one-slot frame handle as their outer context.
    unsafe {
        let f = heap::slot(heap::slot(*fp, 1), 0);
        if f.is_int() {
            f.as_int() as *mut Value
        } else {
            core::ptr::null_mut()
        }
    }
}

fn dead_linked_frame(sp: *mut Value, vm: &mut Vm) -> Step {
    vm.sp = sp;
    vm.abort(alloc::string::String::from(
        "a block argument of an inlined control message was used after the message returned",
    ));
    leave(sp)
}

/// The context a linked-context routine addresses (operands as `push_context`, the
/// start with [`FRAME_REF`]), or `None` if the linked frame is gone.
///
/// # Safety
/// `fp[0]` must be a fallback block.
unsafe fn linked_context(pc: *const Word, fp: *mut Value) -> Option<Value> {
    // SAFETY: the linked frame is live (checked) and holds the context chain.
    unsafe {
        let f = linked_frame(fp);
        if f.is_null() {
            return None;
        }
        let start = (*pc.add(1)).u;
        let mut c = if start == FRAME_REF | FRAME_OUTER {
            heap::slot(*f, 1)
        } else {
            *f.add(start & !FRAME_REF)
        };
        for _ in 0..(*pc.add(2)).u {
            c = heap::slot(c, 0);
        }
        Some(c)
    }
}

/// Pushes a variable of the frame a fallback block is linked to (operand 1: slot).
///
/// # Safety
/// Called by the dispatch loop only, in a fallback block.
pub unsafe fn push_linked_frame(
    pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: a live linked frame holds the slot; a dead one is reported.
    unsafe {
        let f = linked_frame(fp);
        if f.is_null() {
            return dead_linked_frame(sp, vm);
        }
        *sp = *f.add((*pc.add(1)).u);
        step(pc.add(2), sp.add(1))
    }
}

/// Stores the top of stack (kept) into a variable of the linked frame.
///
/// # Safety
/// Called by the dispatch loop only, in a fallback block.
pub unsafe fn store_linked_frame(
    pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: as for `push_linked_frame`.
    unsafe {
        let f = linked_frame(fp);
        if f.is_null() {
            return dead_linked_frame(sp, vm);
        }
        *f.add((*pc.add(1)).u) = *sp.sub(1);
        step(pc.add(2), sp)
    }
}

/// Pushes a context variable reached through the linked frame.
///
/// # Safety
/// Called by the dispatch loop only, in a fallback block.
pub unsafe fn push_linked_context(
    pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: as for `push_linked_frame`.
    unsafe {
        match linked_context(pc, fp) {
            Some(c) => {
                *sp = heap::slot(c, (*pc.add(3)).u);
                step(pc.add(4), sp.add(1))
            }
            None => dead_linked_frame(sp, vm),
        }
    }
}

/// Stores the top of stack (kept) into a context variable reached through the linked frame.
///
/// # Safety
/// Called by the dispatch loop only, in a fallback block.
pub unsafe fn store_linked_context(
    pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    vm: &mut Vm,
) -> Step {
    // SAFETY: as for `push_linked_frame`.
    unsafe {
        match linked_context(pc, fp) {
            Some(c) => {
                heap::set_slot(c, (*pc.add(3)).u, *sp.sub(1));
                step(pc.add(4), sp)
            }
            None => dead_linked_frame(sp, vm),
        }
    }
}

/// The context a context-variable routine addresses.
///
/// # Safety
/// `pc` must be a push/store-context routine of the frame `fp`.
#[inline(always)]
unsafe fn context_at(pc: *const Word, fp: *mut Value) -> Value {
    // SAFETY: the compiler emits these routines only where the chain exists.
    unsafe {
        let start = (*pc.add(1)).u;
        let mut c = if start == usize::MAX {
            heap::slot(*fp, 1)
        } else {
            *fp.add(start)
        };
        for _ in 0..(*pc.add(2)).u {
            c = heap::slot(c, 0);
        }
        c
    }
}

/// Stores the top of stack (kept) into frame slot operand 1.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn store_local(pc: *const Word, sp: *mut Value, fp: *mut Value, _vm: &mut Vm) -> Step {
    // SAFETY: the slot is inside this frame.
    unsafe {
        *fp.add((*pc.add(1)).u) = *sp.sub(1);
        step(pc.add(2), sp)
    }
}

/// Stores the top of stack (kept) into a context variable (operands as `push_context`).
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn store_context(pc: *const Word, sp: *mut Value, fp: *mut Value, _vm: &mut Vm) -> Step {
    // SAFETY: as for `push_context`.
    unsafe {
        heap::set_slot(context_at(pc, fp), (*pc.add(3)).u, *sp.sub(1));
        step(pc.add(4), sp)
    }
}

/// Stores the top of stack (kept) into field operand 1 of the receiver.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn store_field(pc: *const Word, sp: *mut Value, fp: *mut Value, _vm: &mut Vm) -> Step {
    // SAFETY: the compiler checked the field index against the class layout.
    unsafe {
        heap::set_slot(*fp, (*pc.add(1)).u, *sp.sub(1));
        step(pc.add(2), sp)
    }
}

/// Stores the top of stack (kept) into field operand 1 of a block's receiver.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn store_field_in_block(
    pc: *const Word,
    sp: *mut Value,
    fp: *mut Value,
    _vm: &mut Vm,
) -> Step {
    // SAFETY: as for `store_field`.
    unsafe {
        heap::set_slot(heap::slot(*fp, 2), (*pc.add(1)).u, *sp.sub(1));
        step(pc.add(2), sp)
    }
}

/// Pushes global slot operand 1, loading a class on first use; an unknown global sends
/// `unknownGlobal:` to self. Operand 2: is this a block?
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn push_global(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the global slot index came from `Vm::global_slot`.
    unsafe {
        let g = (*pc.add(1)).u;
        let v = *vm.globals.as_ptr().add(g);
        if v != Value::UNBOUND {
            *sp = v;
            return step(pc.add(3), sp.add(1));
        }
        vm.sp = sp;
        if let Some(v) = vm.read_global(g) {
            *sp = v;
            return step(pc.add(3), sp.add(1));
        }
        if vm.unwind != UNWIND_NONE {
            return leave(sp);
        }
        *sp = if (*pc.add(2)).u != 0 {
            heap::slot(*fp, 2)
        } else {
            *fp
        };
        vm.sp = sp.add(1);
        let name = vm.global_names[g];
        let sym = vm.symbol_obj(name);
        *sp.add(1) = sym;
        vm.sp = sp.add(2);
        if !send_message(vm, vm.special_sel(sel::UNKNOWN_GLOBAL), 1, sp) {
            return leave(sp);
        }
        step(pc.add(3), sp.add(1))
    }
}

/// Creates a block. Operands: block method, frame slot of the context, is-block.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn push_block(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the frame has a context in the given slot (the compiler gives every scope
    // that creates a block one).
    unsafe {
        let m = (*pc.add(1)).u as *const Method;
        vm.sp = sp;
        let b = vm.alloc(cls::BLOCK1 + (*m).num_args as u32, Format::Pointers, 3);
        heap::set_slot(b, 0, Value::int(m as i64));
        heap::set_slot(b, 1, *fp.add((*pc.add(2)).u));
        let receiver = if (*pc.add(3)).u != 0 {
            heap::slot(*fp, 2)
        } else {
            *fp
        };
        heap::set_slot(b, 2, receiver);
        *sp = b;
        step(pc.add(4), sp.add(1))
    }
}

// ----- sends -----

/// A send with a monomorphic inline cache. Operands: selector, argument count, cached
/// class, cached method.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn send(pc: *const Word, sp: *mut Value, _fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the receiver and arguments are the top `argc + 1` stack values; the code
    // words are owned by the method and patched in place.
    unsafe {
        let selector = (*pc.add(1)).u as u32;
        let argc = (*pc.add(2)).u;
        let new_fp = sp.sub(argc + 1);
        let c = vm.class_of(*new_fp);
        let m = if (*pc.add(3)).u == c as usize {
            (*pc.add(4)).u as *const Method
        } else {
            match vm.dispatch(c, selector) {
                Some(m) => {
                    let w = pc as *mut Word;
                    (*w.add(3)).u = c as usize;
                    (*w.add(4)).u = m as usize;
                    m
                }
                None => {
                    if !not_understood(vm, selector, argc, new_fp) {
                        return leave(sp);
                    }
                    return step(pc.add(5), new_fp.add(1));
                }
            }
        };
        if !invoke(vm, m, selector, argc, new_fp) {
            return leave(sp);
        }
        step(pc.add(5), new_fp.add(1))
    }
}

/// A send to `super`. Operands: selector, argument count, class to look up from.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn super_send(pc: *const Word, sp: *mut Value, _fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: as for `send`.
    unsafe {
        let selector = (*pc.add(1)).u as u32;
        let argc = (*pc.add(2)).u;
        let new_fp = sp.sub(argc + 1);
        let from = (*pc.add(3)).u;
        let found = if from == usize::MAX {
            None
        } else {
            vm.dispatch(from as u32, selector)
        };
        let ok = match found {
            Some(m) => invoke(vm, m, selector, argc, new_fp),
            None => not_understood(vm, selector, argc, new_fp),
        };
        if !ok {
            return leave(sp);
        }
        step(pc.add(4), new_fp.add(1))
    }
}

macro_rules! int_binary {
    ($(#[$doc:meta])* $name:ident, |$a:ident, $b:ident| $fast:expr) => {
        $(#[$doc])*
        /// Falls back to a real send unless both operands are SmallIntegers.
        ///
        /// # Safety
        /// Called by the dispatch loop only.
        pub unsafe fn $name(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
            // SAFETY: two operands are on the stack.
            unsafe {
                let x = *sp.sub(2);
                let y = *sp.sub(1);
                if x.is_int() && y.is_int() {
                    let ($a, $b) = (x.as_int(), y.as_int());
                    let r: Option<Value> = $fast;
                    if let Some(r) = r {
                        vm.sends += 1;
                        *sp.sub(2) = r;
                        return step(pc.add(5), sp.sub(1));
                    }
                }
                send(pc, sp, fp, vm)
            }
        }
    };
}

int_binary!(
    /// `+`
    send_add, |a, b| Value::try_int(a + b));
int_binary!(
    /// `-`
    send_sub, |a, b| Value::try_int(a - b));
int_binary!(
    /// `*`
    send_mul, |a, b| a.checked_mul(b).and_then(Value::try_int));
int_binary!(
    /// `<`
    send_lt, |a, b| Some(Value::bool(a < b)));
int_binary!(
    /// `>`
    send_gt, |a, b| Some(Value::bool(a > b)));
int_binary!(
    /// `<=`
    send_le, |a, b| Some(Value::bool(a <= b)));
int_binary!(
    /// `>=`
    send_ge, |a, b| Some(Value::bool(a >= b)));
int_binary!(
    /// `=`
    send_eq, |a, b| Some(Value::bool(a == b)));
int_binary!(
    /// `~=`
    send_ne, |a, b| Some(Value::bool(a != b)));
int_binary!(
    /// `==`
    send_identical, |a, b| Some(Value::bool(a == b)));

// ----- comparisons fused with conditional jumps -----

macro_rules! fused_compare {
    ($(#[$doc:meta])* $name:ident, $jump_if:expr, |$a:ident, $b:ident| $test:expr) => {
        $(#[$doc])*
        /// Operands: those of `send` (selector, 1, cached class, cached method), then
        /// those of the conditional jump, whose offsets count from the fourth operand.
        ///
        /// # Safety
        /// Called by the dispatch loop only.
        pub unsafe fn $name(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
            // SAFETY: two operands are on the stack; offsets come from the compiler.
            unsafe {
                let x = *sp.sub(2);
                let y = *sp.sub(1);
                if x.is_int() && y.is_int() {
                    let ($a, $b) = (x.as_int(), y.as_int());
                    vm.sends += 1;
                    let jump_base = pc.add(4);
                    let taken: bool = $test;
                    return if taken == $jump_if {
                        step(jump_base.offset((*jump_base.add(1)).i as isize), sp.sub(2))
                    } else {
                        step(jump_base.add(8), sp.sub(2))
                    };
                }
                let s = send(pc, sp, fp, vm);
                if s.pc.is_null() {
                    return s;
                }
                if $jump_if {
                    jump_if_true(pc.add(4), s.sp, fp, vm)
                } else {
                    jump_if_false(pc.add(4), s.sp, fp, vm)
                }
            }
        }
    };
}

fused_compare!(
    /// `<` then jump if false.
    lt_jump_if_false, false, |a, b| a < b);
fused_compare!(
    /// `<` then jump if true.
    lt_jump_if_true, true, |a, b| a < b);
fused_compare!(
    /// `>` then jump if false.
    gt_jump_if_false, false, |a, b| a > b);
fused_compare!(
    /// `>` then jump if true.
    gt_jump_if_true, true, |a, b| a > b);
fused_compare!(
    /// `<=` then jump if false.
    le_jump_if_false, false, |a, b| a <= b);
fused_compare!(
    /// `<=` then jump if true.
    le_jump_if_true, true, |a, b| a <= b);
fused_compare!(
    /// `>=` then jump if false.
    ge_jump_if_false, false, |a, b| a >= b);
fused_compare!(
    /// `>=` then jump if true.
    ge_jump_if_true, true, |a, b| a >= b);
fused_compare!(
    /// `=` then jump if false.
    eq_jump_if_false, false, |a, b| a == b);
fused_compare!(
    /// `=` then jump if true.
    eq_jump_if_true, true, |a, b| a == b);

// ----- jumps -----

/// Unconditional jump by operand 1 words.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn jump(pc: *const Word, sp: *mut Value, _fp: *mut Value, _vm: &mut Vm) -> Step {
    // SAFETY: the compiler computed the offset inside this code array.
    unsafe { step(pc.offset((*pc.add(1)).i as isize), sp) }
}

/// A non-Boolean reached an inlined control message: sends the message for real and
/// continues at the end of the inlined code. Operands: target, selector, argument
/// count, end, is-block, then one fallback block method per argument (0: pass `nil`).
/// The fallback blocks reach this frame through a handle that is cleared afterwards.
///
/// # Safety
/// Called by the conditional jumps only, with the tested value popped off at `sp`.
unsafe fn not_boolean(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the compiler reserved stack room for the handle, receiver and arguments.
    unsafe {
        let selector = (*pc.add(2)).u as u32;
        let argc = (*pc.add(3)).u;
        let in_block = (*pc.add(5)).u != 0;
        let value = *sp;
        *sp = Value::NIL;
        *sp.add(1) = value;
        for i in 0..argc {
            *sp.add(2 + i) = Value::NIL;
        }
        vm.sp = sp.add(2 + argc);
        let blocks: [usize; 2] = [(*pc.add(6)).u, (*pc.add(7)).u];
        if blocks.iter().any(|&m| m != 0) {
            let handle = vm.alloc(cls::CONTEXT, Format::Pointers, 1);
            heap::set_slot(handle, 0, Value::int(fp as i64));
            *sp = handle;
            for (i, &m) in blocks.iter().enumerate().take(argc) {
                if m == 0 {
                    continue;
                }
                let b = vm.alloc(cls::BLOCK1, Format::Pointers, 3);
                heap::set_slot(b, 0, Value::int(m as i64));
                heap::set_slot(b, 1, *sp);
                heap::set_slot(b, 2, if in_block { heap::slot(*fp, 2) } else { *fp });
                *sp.add(2 + i) = b;
            }
        }
        let ok = send_message(vm, selector, argc, sp.add(1));
        if (*sp).is_ptr() {
            heap::set_slot(*sp, 0, Value::NIL);
        }
        if !ok {
            return leave(sp);
        }
        *sp = *sp.add(1);
        step(pc.offset((*pc.add(4)).i as isize), sp.add(1))
    }
}

/// Pops a Boolean and jumps if it is `false`. Operands: target, then the fallback
/// operands of `not_boolean` (selector, argument count, end, is-block, two blocks).
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn jump_if_false(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: a value is on the stack; offsets come from the compiler.
    unsafe {
        let sp = sp.sub(1);
        let v = *sp;
        if v == Value::FALSE {
            step(pc.offset((*pc.add(1)).i as isize), sp)
        } else if v == Value::TRUE {
            step(pc.add(8), sp)
        } else {
            not_boolean(pc, sp, fp, vm)
        }
    }
}

/// Pops a Boolean and jumps if it is `true` (operands as `jump_if_false`).
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn jump_if_true(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: as for `jump_if_false`.
    unsafe {
        let sp = sp.sub(1);
        let v = *sp;
        if v == Value::TRUE {
            step(pc.offset((*pc.add(1)).i as isize), sp)
        } else if v == Value::FALSE {
            step(pc.add(8), sp)
        } else {
            not_boolean(pc, sp, fp, vm)
        }
    }
}
