//! Primitives of Object, Class, Array, the Block classes and Method/Primitive.

use super::arg;
use crate::code::{Method, Prim, PrimFn};
use crate::heap::{self, Format};
use crate::interp::{execute, invoke, send_message};
use crate::value::Value;
use crate::vm::{class_slot, cls, Vm, UNWIND_NONE};
use alloc::format;
use alloc::string::String;

pub(super) fn find(class: &str, selector: &str) -> Option<PrimFn> {
    let f: PrimFn = match (class, selector) {
        ("Object", "class") => |vm, fp| {
            let c = vm.class_of(arg(fp, 0));
            Prim::Ok(vm.classes[c as usize].obj)
        },
        ("Object", "objectSize") => |_, fp| {
            let v = arg(fp, 0);
            // SAFETY: pointer values are live objects.
            Prim::Ok(Value::int(if v.is_ptr() {
                unsafe { heap::size(v) as i64 }
            } else {
                0
            }))
        },
        ("Object", "==") => |vm, fp| {
            let (a, b) = (arg(fp, 0), arg(fp, 1));
            if a == b {
                return Prim::Ok(Value::TRUE);
            }
            // Integers are values: two large integers with the same value are identical.
            let both_large = a.is_ptr()
                && b.is_ptr()
                && vm.class_of(a) == cls::INTEGER
                && vm.class_of(b) == cls::INTEGER;
            Prim::Ok(Value::bool(both_large && vm.big_of(a) == vm.big_of(b)))
        },
        ("Object", "hashcode") | ("Object", "identityHash") => |_, fp| {
            let v = arg(fp, 0);
            // SAFETY: pointer values are live objects.
            Prim::Ok(Value::int(if v.is_ptr() {
                unsafe { heap::identity_hash(v) as i64 }
            } else {
                v.0 as i64 >> 1
            }))
        },
        ("Object", "copy") => object_copy,
        ("Object", "error:") => |vm, fp| {
            let msg = vm.string_of(arg(fp, 1)).unwrap_or_default();
            let text = String::from_utf8_lossy(&msg).into_owned();
            vm.abort(format!("Error: {text}"));
            Prim::Done
        },
        ("Object", "doesNotUnderstand:arguments:") => |vm, fp| {
            let c = vm.class_of(arg(fp, 0));
            let name = vm.string_of(arg(fp, 1)).unwrap_or_default();
            let msg = format!(
                "{}>>#{} not understood",
                vm.class_name(c),
                String::from_utf8_lossy(&name)
            );
            vm.abort(msg);
            Prim::Done
        },
        ("Object", "escapedBlock:") => |vm, fp| {
            let c = vm.class_of(arg(fp, 0));
            vm.abort(format!(
                "{}>>#escapedBlock: a block returned to a method that has already returned",
                vm.class_name(c)
            ));
            Prim::Done
        },
        ("Object", "unknownGlobal:") => |vm, fp| {
            let name = vm.string_of(arg(fp, 1)).unwrap_or_default();
            vm.abort(format!(
                "Unknown global: {}",
                String::from_utf8_lossy(&name)
            ));
            Prim::Done
        },
        ("Object", "respondsTo:") => |vm, fp| {
            let Some(s) = vm.symbol_index(arg(fp, 1)) else {
                return Prim::Fail;
            };
            let c = vm.class_of(arg(fp, 0));
            Prim::Ok(Value::bool(vm.lookup(c, s).is_some()))
        },
        ("Object", "perform:") => |vm, fp| perform(vm, fp, 0, None),
        ("Object", "perform:withArguments:") => |vm, fp| perform(vm, fp, 2, None),
        ("Object", "perform:inSuperclass:") => |vm, fp| perform(vm, fp, 0, Some(2)),
        ("Object", "perform:withArguments:inSuperclass:") => |vm, fp| perform(vm, fp, 2, Some(3)),
        ("Object", "instVarAt:") => |vm, fp| match field_index(vm, fp) {
            // SAFETY: `field_index` checked the bounds.
            Some(i) => Prim::Ok(unsafe { heap::slot(arg(fp, 0), i) }),
            None => Prim::Fail,
        },
        ("Object", "instVarAt:put:") => |vm, fp| match field_index(vm, fp) {
            Some(i) => {
                // SAFETY: `field_index` checked the bounds.
                unsafe { heap::set_slot(arg(fp, 0), i, arg(fp, 2)) };
                Prim::Ok(arg(fp, 2))
            }
            None => Prim::Fail,
        },
        ("Class", "new") => |vm, fp| {
            let Some(c) = vm.class_index_of(arg(fp, 0)) else {
                return Prim::Fail;
            };
            if vm_internal(vm, c) {
                return Prim::Fail;
            }
            let info = &vm.classes[c as usize];
            let (fmt, n) = (info.format, info.fields.len());
            Prim::Ok(vm.alloc(c, fmt, if fmt == Format::Pointers { n } else { 0 }))
        },
        ("Class", "name") => |vm, fp| {
            let Some(c) = vm.class_index_of(arg(fp, 0)) else {
                return Prim::Fail;
            };
            let name = vm.class_name(c);
            let s = vm.symbols.intern(&name);
            Prim::Ok(vm.symbol_obj(s))
        },
        ("Class", "superclass") => |vm, fp| class_slot_of(vm, fp, class_slot::SUPERCLASS),
        ("Class", "fields") => |vm, fp| class_slot_of(vm, fp, class_slot::FIELDS),
        ("Class", "methods") => class_methods,
        ("Class", "canUnderstand:") => |vm, fp| {
            let (Some(c), Some(s)) = (vm.class_index_of(arg(fp, 0)), vm.symbol_index(arg(fp, 1)))
            else {
                return Prim::Fail;
            };
            Prim::Ok(Value::bool(vm.lookup(c, s).is_some()))
        },
        ("Array", "at:") => |_, fp| match index(fp) {
            // SAFETY: `index` checked the bounds.
            Some(i) => Prim::Ok(unsafe { heap::slot(arg(fp, 0), i) }),
            None => Prim::Fail,
        },
        ("Array", "at:put:") => |_, fp| match index(fp) {
            Some(i) => {
                // SAFETY: `index` checked the bounds.
                unsafe { heap::set_slot(arg(fp, 0), i, arg(fp, 2)) };
                Prim::Ok(arg(fp, 2))
            }
            None => Prim::Fail,
        },
        // SAFETY: Arrays are pointer objects.
        ("Array", "length") => {
            |_, fp| Prim::Ok(Value::int(unsafe { heap::size(arg(fp, 0)) } as i64))
        }
        ("Array class", "new:") => |vm, fp| {
            let n = arg(fp, 1);
            let Some(c) = vm.class_index_of(arg(fp, 0)) else {
                return Prim::Fail;
            };
            if !n.is_int() || n.as_int() < 0 {
                return Prim::Fail;
            }
            if !vm.can_allocate(n.as_int() as usize * 8) {
                vm.abort(format!(
                    "out of memory: cannot allocate an Array of {} elements",
                    n.as_int()
                ));
                return Prim::Done;
            }
            Prim::Ok(vm.alloc(c, Format::Pointers, n.as_int() as usize))
        },
        ("Block", "numArgs") => |vm, fp| {
            let c = vm.class_of(arg(fp, 0));
            Prim::Ok(Value::int((c - cls::BLOCK1) as i64))
        },
        ("Block", "valueWithArguments:") => |vm, fp| {
            let args = arg(fp, 1);
            if vm.class_of(args) != cls::ARRAY {
                return Prim::Fail;
            }
            // SAFETY: an Array is a pointer object.
            let n = unsafe { heap::size(args) };
            let block = arg(fp, 0);
            if !vm.has_stack_room(n + 1) {
                return Prim::Fail;
            }
            let base = vm.sp;
            vm.push(block);
            for i in 0..n {
                // SAFETY: in bounds; re-read after each push (no allocation happens).
                vm.push(unsafe { heap::slot(args, i) });
            }
            let r = run_block(vm, base, n);
            vm.sp = base;
            r
        },
        ("Block1", "value") => |vm, fp| run_block(vm, fp, 0),
        ("Block2", "value:") => |vm, fp| run_block(vm, fp, 1),
        ("Block3", "value:with:") | ("Block3", "value:value:") => |vm, fp| run_block(vm, fp, 2),
        ("Method", "signature") | ("Primitive", "signature") => {
            |vm, fp| match method_of(arg(fp, 0)) {
                // SAFETY: method objects hold live method addresses.
                Some(m) => Prim::Ok(vm.symbol_obj(unsafe { (*m).selector })),
                None => Prim::Fail,
            }
        }
        ("Method", "holder") | ("Primitive", "holder") => |vm, fp| match method_of(arg(fp, 0)) {
            // SAFETY: as above.
            Some(m) => Prim::Ok(vm.classes[unsafe { (*m).holder } as usize].obj),
            None => Prim::Fail,
        },
        ("Method", "invocationCount") | ("Primitive", "invocationCount") => {
            |_, fp| match method_of(arg(fp, 0)) {
                // SAFETY: as above.
                Some(m) => Prim::Ok(Value::int(unsafe { (*m).invocations } as i64)),
                None => Prim::Fail,
            }
        }
        ("Method", "invokeOn:with:") | ("Primitive", "invokeOn:with:") => invoke_on,
        _ => return None,
    };
    Some(f)
}

fn object_copy(vm: &mut Vm, fp: *mut Value) -> Prim {
    let v = arg(fp, 0);
    if !v.is_ptr() {
        return Prim::Ok(v);
    }
    // SAFETY: `v` is live; it is re-read from the frame (a root) after allocating.
    unsafe {
        let (c, fmt, n) = (heap::class_index(v), heap::format(v), heap::size(v));
        let copy = vm.alloc(c, fmt, n);
        let v = arg(fp, 0);
        let words = if fmt.has_pointers() { n * 8 } else { n };
        core::ptr::copy_nonoverlapping(
            heap::slots(v) as *const u8,
            heap::slots(copy) as *mut u8,
            words,
        );
        Prim::Ok(copy)
    }
}

fn field_index(vm: &Vm, fp: *mut Value) -> Option<usize> {
    let (o, i) = (arg(fp, 0), arg(fp, 1));
    if vm_internal(vm, vm.class_of(o)) {
        return None;
    }
    // SAFETY: only pointer objects are indexed, within their size.
    let ok = o.is_ptr()
        && i.is_int()
        && unsafe {
            heap::format(o).has_pointers()
                && i.as_int() >= 1
                && i.as_int() as usize <= heap::size(o)
        };
    let _ = vm;
    ok.then(|| i.as_int() as usize - 1)
}

fn index(fp: *mut Value) -> Option<usize> {
    let (o, i) = (arg(fp, 0), arg(fp, 1));
    // SAFETY: Array receivers are pointer objects.
    let n = unsafe { heap::size(o) };
    (i.is_int() && i.as_int() >= 1 && i.as_int() as usize <= n).then(|| i.as_int() as usize - 1)
}

/// Classes whose instances have a layout only the VM may create or change: blocks,
/// methods, contexts, classes, numbers, symbols.
fn vm_internal(vm: &Vm, c: u32) -> bool {
    let internal = [
        cls::NIL,
        cls::BOOLEAN,
        cls::BLOCK,
        cls::METHOD,
        cls::PRIMITIVE,
        cls::CONTEXT,
        cls::CLASS,
        cls::INTEGER,
        cls::DOUBLE,
        cls::SYMBOL,
    ];
    vm.classes[c as usize].is_meta || internal.iter().any(|&k| vm.inherits(c, k))
}

/// A fixed slot of a class object, if the receiver is one.
fn class_slot_of(vm: &Vm, fp: *mut Value, slot: usize) -> Prim {
    match vm.class_index_of(arg(fp, 0)) {
        // SAFETY: class objects have the fixed class slots.
        Some(_) => Prim::Ok(unsafe { heap::slot(arg(fp, 0), slot) }),
        None => Prim::Fail,
    }
}

/// The method a Method/Primitive object stands for. Such objects are only made by the
/// VM (`Class>>#new` refuses them and `instVarAt:put:` cannot change them).
fn method_of(v: Value) -> Option<*const Method> {
    // SAFETY: Method and Primitive objects have one slot holding the method address.
    let m = unsafe { v.is_ptr().then(|| heap::slot(v, 0)) }?;
    m.is_int().then(|| m.as_int() as *const Method)
}

/// Runs the block at `fp[0]` with `argc` arguments above it; the result goes to `fp[0]`.
fn run_block(vm: &mut Vm, fp: *mut Value, argc: usize) -> Prim {
    let block = arg(fp, 0);
    // SAFETY: blocks hold their method's address in slot 0; the frame is on the stack.
    unsafe {
        let m = heap::slot(block, 0).as_int() as *const Method;
        if (*m).num_args != argc {
            vm.abort(format!(
                "wrong number of arguments for a block: {} expected, {argc} given",
                (*m).num_args
            ));
            return Prim::Done;
        }
        vm.sel = (*m).selector;
        vm.sends += 1;
        execute(vm, m, fp);
        if vm.unwind == UNWIND_NONE {
            Prim::Ok(*fp)
        } else {
            Prim::Done
        }
    }
}

fn perform(vm: &mut Vm, fp: *mut Value, args_at: usize, class_at: Option<usize>) -> Prim {
    let Some(s) = vm.symbol_index(arg(fp, 1)) else {
        return Prim::Fail;
    };
    let args = if args_at == 0 {
        Value::NIL
    } else {
        arg(fp, args_at)
    };
    if args_at != 0 && vm.class_of(args) != cls::ARRAY {
        return Prim::Fail;
    }
    let start = match class_at {
        // Only a class the receiver inherits from: its primitives assume its layout.
        Some(i) => match vm.class_index_of(arg(fp, i)) {
            Some(c) if vm.inherits(vm.class_of(arg(fp, 0)), c) => Some(c),
            _ => return Prim::Fail,
        },
        None => None,
    };
    // SAFETY: arrays are pointer objects; no allocation happens while copying.
    let n = if args_at == 0 {
        0
    } else {
        unsafe { heap::size(args) }
    };
    if !vm.has_stack_room(n + 1) {
        return Prim::Fail;
    }
    let base = vm.sp;
    vm.push(arg(fp, 0));
    for i in 0..n {
        // SAFETY: in bounds.
        vm.push(unsafe { heap::slot(args, i) });
    }
    // SAFETY: the frame was just pushed at `base`.
    let ok = unsafe {
        match start {
            None => send_message(vm, s, n, base),
            Some(c) => match vm.dispatch(c, s) {
                Some(m) => invoke(vm, m, s, n, base),
                None => crate::interp::not_understood(vm, s, n, base),
            },
        }
    };
    vm.sp = base;
    if ok {
        // SAFETY: the result was left at `base`.
        Prim::Ok(unsafe { *base })
    } else {
        Prim::Done
    }
}

fn class_methods(vm: &mut Vm, fp: *mut Value) -> Prim {
    let Some(c) = vm.class_index_of(arg(fp, 0)) else {
        return Prim::Fail;
    };
    let methods: alloc::vec::Vec<*const Method> =
        vm.classes[c as usize].methods.values().copied().collect();
    let arr = vm.new_array(methods.len());
    vm.handles.push(arr);
    for (i, &m) in methods.iter().enumerate() {
        // SAFETY: registered methods live as long as the VM; their reflective object is a root.
        unsafe {
            let mm = m as *mut Method;
            if (*mm).object == Value::NIL {
                let k = if (*mm).primitive.is_some() {
                    cls::PRIMITIVE
                } else {
                    cls::METHOD
                };
                let o = vm.alloc(k, Format::Pointers, 1);
                heap::set_slot(o, 0, Value::int(m as i64));
                (*mm).object = o;
            }
            let arr = *vm.handles.last().expect("pushed above");
            heap::set_slot(arr, i, (*mm).object);
        }
    }
    Prim::Ok(vm.handles.pop().expect("pushed above"))
}

fn invoke_on(vm: &mut Vm, fp: *mut Value) -> Prim {
    let Some(m) = method_of(arg(fp, 0)) else {
        return Prim::Fail;
    };
    // SAFETY: `method_of` only answers addresses of registered methods.
    if !vm.inherits(vm.class_of(arg(fp, 1)), unsafe { (*m).holder }) {
        return Prim::Fail;
    }
    let args = arg(fp, 2);
    let n = if args == Value::NIL {
        0
    } else if vm.class_of(args) == cls::ARRAY {
        // SAFETY: an Array.
        unsafe { heap::size(args) }
    } else {
        return Prim::Fail;
    };
    if !vm.has_stack_room(n + 1) {
        return Prim::Fail;
    }
    let base = vm.sp;
    vm.push(arg(fp, 1));
    for i in 0..n {
        // SAFETY: in bounds.
        vm.push(unsafe { heap::slot(args, i) });
    }
    // SAFETY: the frame was just pushed.
    let ok = unsafe { invoke(vm, m, (*m).selector, n, base) };
    vm.sp = base;
    if ok {
        // SAFETY: the result is at `base`.
        Prim::Ok(unsafe { *base })
    } else {
        Prim::Done
    }
}
