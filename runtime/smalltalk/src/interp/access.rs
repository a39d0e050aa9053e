//! Routines that move values: pushes and stores of constants, literals, frame slots,
//! fields, context variables, variables of a linked frame, globals; block creation.
use super::{leave, send_message, step};
use crate::code::{Method, Step, Word};
use crate::heap::{self, Format};
use crate::value::Value;
use crate::vm::{cls, sel, Vm, UNWIND_NONE};

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
    /// [`OUTER_CONTEXT`]), hops up the parent chain, slot.
    push_context, 4, |pc, fp| heap::slot(context_at(pc, fp), (*pc.add(3)).u));

/// Start operand of a context-variable or linked-variable routine: the chain starts at
/// the outer context of the (linked) frame's block.
pub const OUTER_CONTEXT: usize = usize::MAX;
/// Start operand of a linked-variable routine: the variable is the linked frame's slot
/// `index` itself.
pub const LINKED_FRAME: usize = usize::MAX - 1;

fn dead_linked_frame(sp: *mut Value, vm: &mut Vm) -> Step {
    vm.sp = sp;
    vm.abort(alloc::string::String::from(
        "a block argument of an inlined control message was used after the message returned",
    ));
    leave(sp)
}

/// The frame a fallback block (at `fp[0]`) is linked to, through the frame handle that
/// is its outer context, or `None` once the control message that created the block has
/// returned (the handle is cleared then).
///
/// # Safety
/// `fp[0]` must be a frame-linked fallback block (see `control::send_with_blocks`).
#[inline]
unsafe fn linked_frame(fp: *mut Value) -> Option<*mut Value> {
    // SAFETY: such a block holds its frame handle in slot 1.
    let f = unsafe { heap::slot(heap::slot(*fp, 1), 0) };
    f.is_int().then(|| f.as_int() as *mut Value)
}

/// The address of the variable a linked-variable routine addresses, or `None` if a
/// frame on the way is gone. Operands: the number of frame links to follow (from
/// fallback blocks nested in each other to the frame they are linked to), then, in
/// that frame: start ([`LINKED_FRAME`]: the frame slot `index`; [`OUTER_CONTEXT`]: its
/// block's outer context), hops up the context chain, index.
///
/// # Safety
/// `pc` must be a linked-variable routine of the frame `fp`, compiled in a
/// frame-linked fallback block.
#[inline]
unsafe fn linked_var(pc: *const Word, fp: *mut Value) -> Option<*mut Value> {
    // SAFETY: every frame on the way is a live fallback block activation (checked) and
    // the last one holds the variable or the context chain that does.
    unsafe {
        let mut f = fp;
        for _ in 0..(*pc.add(1)).u {
            f = linked_frame(f)?;
        }
        let index = (*pc.add(4)).u;
        if (*pc.add(2)).u == LINKED_FRAME {
            return Some(f.add(index));
        }
        // The start and hops operands sit one word later than a context routine's.
        Some(heap::slots(context_at(pc.add(1), f)).add(index))
    }
}

/// Pushes a variable reached through the frame a fallback block is linked to
/// (operands: see `linked_var`).
///
/// # Safety
/// Called by the dispatch loop only, in a frame-linked fallback block.
pub unsafe fn push_linked(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: a live linked frame holds the variable; a dead one is reported.
    unsafe {
        let Some(var) = linked_var(pc, fp) else {
            return dead_linked_frame(sp, vm);
        };
        *sp = *var;
        step(pc.add(5), sp.add(1))
    }
}

/// Stores the top of stack (kept) into a variable reached through the linked frame.
///
/// # Safety
/// Called by the dispatch loop only, in a frame-linked fallback block.
pub unsafe fn store_linked(pc: *const Word, sp: *mut Value, fp: *mut Value, vm: &mut Vm) -> Step {
    // SAFETY: as for `push_linked`.
    unsafe {
        let Some(var) = linked_var(pc, fp) else {
            return dead_linked_frame(sp, vm);
        };
        *var = *sp.sub(1);
        step(pc.add(5), sp)
    }
}

/// The context a context-variable routine addresses: operand 1 is the start (a frame
/// slot holding a context, or [`OUTER_CONTEXT`]), operand 2 the hops up the parent chain.
///
/// # Safety
/// `pc` must be a push/store-context routine of the frame `fp` (or a linked-variable
/// routine's operands shifted by one, with a start other than [`LINKED_FRAME`], and `fp`
/// the linked frame).
#[inline(always)]
unsafe fn context_at(pc: *const Word, fp: *mut Value) -> Value {
    // SAFETY: the compiler emits these routines only where the chain exists.
    unsafe {
        let start = (*pc.add(1)).u;
        let mut c = if start == OUTER_CONTEXT {
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
        *sp = new_block(vm, m, fp.add((*pc.add(2)).u), fp, (*pc.add(3)).u != 0);
        step(pc.add(4), sp.add(1))
    }
}

/// Allocates a block running method `m`, created in the frame `fp` (a block's frame if
/// `in_block`, a method's otherwise). Its outer context is read from `*outer` and its
/// receiver from the frame, both after the allocation, which may move them.
///
/// # Safety
/// `m` must be a block method from the compiler; `vm.sp` must cover the frame and
/// `outer` (a slot of the frame or of its operand stack).
#[inline(always)]
pub(super) unsafe fn new_block(
    vm: &mut Vm,
    m: *const Method,
    outer: *const Value,
    fp: *mut Value,
    in_block: bool,
) -> Value {
    // SAFETY: as stated above, so the slots read hold live values after a collection.
    unsafe {
        let b = vm.alloc(cls::BLOCK1 + (*m).num_args as u32, Format::Pointers, 3);
        heap::set_slot(b, 0, Value::int(m as i64));
        heap::set_slot(b, 1, *outer);
        let receiver = if in_block { heap::slot(*fp, 2) } else { *fp };
        heap::set_slot(b, 2, receiver);
        b
    }
}
