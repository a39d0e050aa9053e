//! Primitives of the `system` object: globals, class loading, console, clocks, GC, exit.

use super::{arg, string};
use crate::code::{Prim, PrimFn};
use crate::value::Value;
use crate::vm::{Vm, UNWIND_EXIT};
use alloc::string::String;

pub(super) fn find(class: &str, selector: &str) -> Option<PrimFn> {
    if class != "System" {
        return None;
    }
    let f: PrimFn = match selector {
        "global:" => |vm, fp| {
            let Some(s) = vm.symbol_index(arg(fp, 1)) else {
                return Prim::Fail;
            };
            let slot = vm.global_slot(s);
            Prim::Ok(vm.read_global(slot).unwrap_or(Value::NIL))
        },
        "global:put:" => |vm, fp| {
            let Some(s) = vm.symbol_index(arg(fp, 1)) else {
                return Prim::Fail;
            };
            vm.set_global(s, arg(fp, 2));
            Prim::Ok(arg(fp, 2))
        },
        "hasGlobal:" => |vm, fp| {
            let Some(s) = vm.symbol_index(arg(fp, 1)) else {
                return Prim::Fail;
            };
            let slot = vm.global_slot(s);
            Prim::Ok(Value::bool(vm.globals[slot] != Value::UNBOUND))
        },
        "load:" => |vm, fp| {
            let Some(s) = vm.symbol_index(arg(fp, 1)) else {
                return Prim::Fail;
            };
            match vm.load_class(s) {
                Ok(Some(c)) => Prim::Ok(vm.classes[c as usize].obj),
                Ok(None) => Prim::Ok(Value::NIL),
                Err(msg) => {
                    vm.abort(msg);
                    Prim::Done
                }
            }
        },
        "exit:" => |vm, fp| {
            let code = arg(fp, 1);
            if !code.is_int() {
                return Prim::Fail;
            }
            vm.exit_code = code.as_int() as i32;
            vm.unwind = UNWIND_EXIT;
            Prim::Done
        },
        "printString:" => |vm, fp| print(vm, fp, false, false),
        "printNewline" => |vm, fp| {
            vm.platform.console_write(b"\n");
            Prim::Ok(arg(fp, 0))
        },
        "errorPrint:" => |vm, fp| print(vm, fp, true, false),
        "errorPrintln:" => |vm, fp| print(vm, fp, true, true),
        "time" => |vm, _| {
            Prim::Ok(Value::int(
                ((vm.platform.monotonic_ns() - vm.start_ns) / 1_000_000) as i64,
            ))
        },
        "ticks" => |vm, _| {
            Prim::Ok(Value::int(
                ((vm.platform.monotonic_ns() - vm.start_ns) / 1_000) as i64,
            ))
        },
        "fullGC" => |vm, fp| {
            vm.collect(0);
            let _ = fp;
            Prim::Ok(Value::TRUE)
        },
        "sendCount" => |vm, _| Prim::Ok(Value::int(vm.sends as i64)),
        "gcCount" => |vm, _| Prim::Ok(Value::int(vm.heap.collections as i64)),
        "loadFile:" => |vm, fp| {
            let Some(name) = vm.string_of(arg(fp, 1)) else {
                return Prim::Fail;
            };
            match vm.files.read(&String::from_utf8_lossy(&name)) {
                Some(bytes) => Prim::Ok(vm.new_string(&bytes)),
                None => Prim::Ok(Value::NIL),
            }
        },
        _ => return None,
    };
    Some(f)
}

fn print(vm: &mut Vm, fp: *mut Value, err: bool, newline: bool) -> Prim {
    let Some(mut b) = vm.string_of(arg(fp, 1)) else {
        return string(vm, "printString: expects a String");
    };
    if newline {
        b.push(b'\n');
    }
    if err {
        vm.platform.console_write_err(&b);
    } else {
        vm.platform.console_write(&b);
    }
    Prim::Ok(arg(fp, 0))
}
