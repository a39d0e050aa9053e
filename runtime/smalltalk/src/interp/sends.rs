//! Send routines: the inline-cached send, super sends and the binary selectors with a
//! SmallInteger fast path.
use super::{invoke, leave, not_understood, step};
use crate::code::{Method, Step, Word};
use crate::value::Value;
use crate::vm::Vm;

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

/// The receiver and argument of a binary send (the top two stack values) as integers, if
/// both are SmallIntegers: the test behind every SmallInteger fast path.
///
/// # Safety
/// Two values must be on the stack below `sp`.
#[inline(always)]
pub(super) unsafe fn int_operands(sp: *mut Value) -> Option<(i64, i64)> {
    // SAFETY: the caller guarantees the two stack values.
    let (x, y) = unsafe { (*sp.sub(2), *sp.sub(1)) };
    (x.is_int() && y.is_int()).then(|| (x.as_int(), y.as_int()))
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
                if let Some(($a, $b)) = int_operands(sp) {
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
