//! Control-flow routines: jumps, conditional jumps (with the real-send fallback for
//! non-Booleans) and comparisons fused with conditional jumps.
use super::access::new_block;
use super::entry::home_marker;
use super::sends::{int_operands, send};
use super::{leave, marker, send_message, step};
use crate::code::{Method, Step, Word};
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
                if let Some(($a, $b)) = int_operands(sp) {
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

/// Sends `selector` for real from an inlined control message. `base[1..=leading]`
/// already hold the receiver and the leading arguments; one argument per entry of
/// `blocks` follows: a real block for that literal block, or `nil` where there is none
/// (0). `link` (from the compiler): bit 0, is this frame a block's; the other bits, the
/// frame slot of its context, or 0 if it has none. With a context the blocks are
/// ordinary blocks on it. Without one, they are linked to this frame through a handle
/// kept in `base[0]`, `[frame address, NLR marker of the home method]`, which lets
/// them reach its variables and `^` return from the home method; both are cleared
/// when the send returns. The result is left in `base[0]`.
///
/// # Safety
/// `base` must be this frame's operand stack top, with room for the arguments (the
/// compiler reserves it).
unsafe fn send_with_blocks(
    vm: &mut Vm,
    fp: *mut Value,
    base: *mut Value,
    leading: usize,
    selector: u32,
    blocks: &[usize],
    link: usize,
) -> bool {
    // SAFETY: as stated above; every allocation happens with `vm.sp` covering the values.
    unsafe {
        let in_block = link & 1 != 0;
        let ctx_slot = link >> 1;
        *base = Value::NIL;
        let first_block = base.add(1 + leading);
        for i in 0..blocks.len() {
            *first_block.add(i) = Value::NIL;
        }
        vm.sp = first_block.add(blocks.len());
        if blocks.iter().any(|&m| m != 0) {
            if ctx_slot == 0 {
                let home = if in_block {
                    home_marker(*fp)
                } else {
                    marker(fp)
                };
                let handle = vm.alloc(cls::CONTEXT, Format::Pointers, 2);
                heap::set_slot(handle, 0, Value::int(fp as i64));
                heap::set_slot(handle, 1, home);
                *base = handle;
            }
            for (i, &m) in blocks.iter().enumerate() {
                if m == 0 {
                    continue;
                }
                let outer = if ctx_slot == 0 {
                    base
                } else {
                    fp.add(ctx_slot)
                };
                *first_block.add(i) = new_block(vm, m as *const Method, outer, fp, in_block);
            }
        }
        let ok = send_message(vm, selector, leading - 1 + blocks.len(), base.add(1));
        if (*base).is_ptr() {
            heap::set_slot(*base, 0, Value::NIL);
            heap::set_slot(*base, 1, Value::NIL);
        }
        *base = *base.add(1);
        ok
    }
}

/// A non-Boolean reached an inlined control message: sends the message for real and
/// continues at the end of the inlined code. Operands: target, selector, argument
/// count, end, link, then one fallback block method per argument (0: pass `nil`).
///
/// # Safety
/// Called by the conditional jumps only, with the tested value popped off at `sp`.
unsafe fn not_boolean(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the compiler reserved stack room for the handle, receiver and arguments.
    unsafe {
        let selector = (*pc.add(2)).u as u32;
        let argc = (*pc.add(3)).u;
        let link = (*pc.add(5)).u;
        *sp.add(1) = *sp;
        let blocks = [(*pc.add(6)).u, (*pc.add(7)).u];
        if !send_with_blocks(vm, fp, sp, 1, selector, &blocks[..argc], link) {
            return leave(sp);
        }
        step(pc.offset((*pc.add(4)).i as isize), sp.add(1))
    }
}

/// Entry of an inlined counting loop (`to:do:`, `to:by:do:`, `timesRepeat:`): continues
/// if the receiver and the bounds on top of the stack are SmallIntegers; otherwise
/// sends the message for real (with the loop body as a fallback block) and continues at
/// the end. Operands: number of values, selector, end, link, fallback block.
///
/// # Safety
/// Called by the dispatch loop only.
pub unsafe fn int_loop_guard(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: the compiler pushed the values and reserved room for the real send.
    unsafe {
        let n = (*pc.add(1)).u;
        let base = sp.sub(n);
        if (0..n).all(|i| (*base.add(i)).is_int()) {
            return step(pc.add(6), sp);
        }
        for i in (0..n).rev() {
            *base.add(i + 1) = *base.add(i);
        }
        let selector = (*pc.add(2)).u as u32;
        let link = (*pc.add(4)).u;
        if !send_with_blocks(vm, fp, base, n, selector, &[(*pc.add(5)).u], link) {
            return leave(sp);
        }
        step(pc.offset((*pc.add(3)).i as isize), base.add(1))
    }
}

/// Pops a Boolean and jumps if it is `false`. Operands: target, then the fallback
/// operands of `not_boolean` (selector, argument count, end, link, two blocks).
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
