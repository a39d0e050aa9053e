//! Control-flow routines: jumps, conditional jumps (with the real-send fallback for
//! non-Booleans) and comparisons fused with conditional jumps.
use super::sends::send;
use super::{leave, send_message, step};
use crate::code::{Step, Word};
use crate::heap::{self, Format};
use crate::value::Value;
use crate::vm::{cls, Vm};

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
