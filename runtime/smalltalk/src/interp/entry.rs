//! Routines at the start and end of an activation: word 0 (`verify_selector`), the
//! primitive call, context creation and the returns (local and non-local).
use super::{leave, marker, send_message, step};
use crate::code::{Method, Prim, Step, Word};
use crate::heap::{self, Format};
use crate::value::Value;
use crate::vm::{cls, sel, Vm, UNWIND_NLR};
use alloc::format;

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

/// The NLR marker of the home method of `block`, or `nil` if that method has returned:
/// found at the end of the block's outer-context chain, which ends at the home method's
/// context or at the frame handle of a fallback block (see `control::send_with_blocks`),
/// which holds the marker while the inlined control message runs.
///
/// # Safety
/// `block` must be a block object.
pub(crate) unsafe fn home_marker(block: Value) -> Value {
    // SAFETY: outer contexts link through slot 0 (`nil` or, in a frame handle, an
    // integer ends the chain) and hold the home marker in slot 1.
    unsafe {
        let mut ctx = heap::slot(block, 1);
        while heap::slot(ctx, 0).is_ptr() {
            ctx = heap::slot(ctx, 0);
        }
        heap::slot(ctx, 1)
    }
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
    // SAFETY: `fp[0]` is a block (see `home_marker`).
    unsafe {
        let value = *sp.sub(1);
        let home = home_marker(*fp);
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
