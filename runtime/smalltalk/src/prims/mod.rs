//! Primitives: the methods the VM implements natively, found by class and selector when
//! a class is defined. A primitive may fail ([`Prim::Fail`]); the method's Smalltalk
//! body (for `primitive` methods: a "primitive failed" error) runs instead.

mod number;
mod object;
mod system;
mod text;

use crate::code::{Prim, PrimFn};
use crate::interp::send_message;
use crate::value::Value;
use crate::vm::{Vm, UNWIND_NONE};

/// The primitive for `class>>selector` (`class` is e.g. `Integer` or `Integer class`).
pub fn find(class: &str, selector: &str) -> Option<PrimFn> {
    number::find(class, selector)
        .or_else(|| object::find(class, selector))
        .or_else(|| text::find(class, selector))
        .or_else(|| system::find(class, selector))
}

/// Argument `i` of a primitive (0 is the receiver).
#[inline(always)]
pub(crate) fn arg(fp: *mut Value, i: usize) -> Value {
    // SAFETY: primitives run with `fp` at their receiver followed by their declared
    // arguments (the executor set up the frame for exactly this method).
    unsafe { *fp.add(i) }
}

/// A String result.
pub(crate) fn string(vm: &mut Vm, s: &str) -> Prim {
    Prim::Ok(vm.new_string(s.as_bytes()))
}

/// Sends `selector` to `receiver` with `args` from inside a primitive; the message's
/// frame goes on top of the value stack.
pub(crate) fn call(vm: &mut Vm, selector: u32, receiver: Value, args: &[Value]) -> Option<Value> {
    let base = vm.sp;
    vm.push(receiver);
    for &a in args {
        vm.push(a);
    }
    // SAFETY: the receiver and arguments were just pushed at `base`.
    let ok = unsafe { send_message(vm, selector, args.len(), base) };
    vm.sp = base;
    // SAFETY: the result was left at `base`.
    (ok && vm.unwind == UNWIND_NONE).then(|| unsafe { *base })
}
