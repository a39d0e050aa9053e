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

use crate::code::{Act, Method, Prim, Step, Trivial, Word};
use crate::heap::{self};
use crate::value::Value;
use crate::vm::{sel, Vm, UNWIND_NLR, UNWIND_NONE};
use alloc::format;

mod access;
mod control;
mod entry;
mod sends;

pub use access::*;
pub use control::*;
pub use entry::*;
pub use sends::*;

#[inline(always)]
pub(crate) fn step(pc: *const Word, sp: *mut Value) -> Step {
    Step { pc, sp }
}

#[inline(always)]
pub(crate) fn leave(sp: *mut Value) -> Step {
    Step {
        pc: core::ptr::null(),
        sp,
    }
}

/// The NLR marker of a method frame.
#[inline(always)]
pub(crate) fn marker(fp: *mut Value) -> Value {
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
        if !md.is_block {
            if md.has_context {
                let ctx = *fp.add(md.context_slot());
                if ctx.is_ptr() {
                    heap::set_slot(ctx, 1, Value::NIL);
                }
            }
            // A `^` in a fallback block may return here even without a context.
            if vm.unwind == UNWIND_NLR && vm.nlr_target == marker(fp).0 {
                *fp = vm.nlr_value;
                vm.nlr_value = Value::NIL;
                vm.unwind = UNWIND_NONE;
            }
        }
        vm.unwind == UNWIND_NONE
    }
}

/// Word index after word 0 (`verify_selector`) and its operand.
const AFTER_WORD_0: usize = 2;

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
#[inline(always)]
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
        // Word 0 runs for every invocation: it checks the selector and counts the call.
        let code = (*m).code as *const Word;
        if ((*code).f)(code, fp.add(argc + 1), fp, vm).pc.is_null() {
            return false;
        }
        let trivial = (*m).trivial;
        if trivial != Trivial::No {
            // Accessors and constants run in place, without a frame.
            match trivial {
                Trivial::ReturnField(i) => *fp = heap::slot(*fp, i),
                Trivial::ReturnConst(v) => *fp = v,
                Trivial::SetField(i) => heap::set_slot(*fp, i, *fp.add(1)),
                Trivial::ReturnSelf | Trivial::No => {}
            }
            return true;
        }
        if let Some(p) = (*m).primitive {
            // Primitives run without a frame; a failure runs the body after the
            // primitive word in a frame.
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
        run_from(vm, m, fp, AFTER_WORD_0)
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
