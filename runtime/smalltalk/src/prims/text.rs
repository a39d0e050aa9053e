//! String and Symbol primitives. Strings are byte strings.

use super::arg;
use crate::code::{Prim, PrimFn};
use crate::value::Value;
use crate::vm::{cls, Vm};
use alloc::vec::Vec;

pub(super) fn find(class: &str, selector: &str) -> Option<PrimFn> {
    let f: PrimFn = match (class, selector) {
        ("String", "length") => {
            |vm, fp| with_bytes(vm, fp, |_, b| Prim::Ok(Value::int(b.len() as i64)))
        }
        ("String", "charAt:") => |vm, fp| {
            let i = arg(fp, 1);
            let Some(b) = vm.string_of(arg(fp, 0)) else {
                return Prim::Fail;
            };
            if !i.is_int() || i.as_int() < 1 || i.as_int() as usize > b.len() {
                return Prim::Fail;
            }
            let c = b[i.as_int() as usize - 1];
            Prim::Ok(vm.new_string(&[c]))
        },
        ("String", "concatenate:") => |vm, fp| {
            let (Some(mut a), Some(b)) = (vm.string_of(arg(fp, 0)), vm.string_of(arg(fp, 1)))
            else {
                return Prim::Fail;
            };
            a.extend_from_slice(&b);
            Prim::Ok(vm.new_string(&a))
        },
        ("String", "asSymbol") => |vm, fp| match vm.symbol_index(arg(fp, 0)) {
            Some(s) => Prim::Ok(vm.symbol_obj(s)),
            None => Prim::Fail,
        },
        ("Symbol", "asString") => |vm, fp| with_bytes(vm, fp, |vm, b| Prim::Ok(vm.new_string(&b))),
        ("Symbol", "numArgs") => |vm, fp| {
            with_bytes(vm, fp, |_, b| {
                let colons = b.iter().filter(|&&c| c == b':').count();
                let binary = !b.is_empty() && !b[0].is_ascii_alphabetic() && b[0] != b'_';
                Prim::Ok(Value::int(if binary { 1 } else { colons as i64 }))
            })
        },
        ("String", "=") => |vm, fp| {
            let (a, b) = (arg(fp, 0), arg(fp, 1));
            let kb = vm.class_of(b);
            if kb != cls::STRING && kb != cls::SYMBOL && !vm.inherits(kb, cls::STRING) {
                return Prim::Ok(Value::FALSE);
            }
            Prim::Ok(Value::bool(vm.string_of(a) == vm.string_of(b)))
        },
        ("String", "hashcode") => |vm, fp| {
            with_bytes(vm, fp, |_, b| {
                let h = b
                    .iter()
                    .fold(0u64, |h, &c| h.wrapping_mul(31).wrapping_add(c as u64));
                Prim::Ok(Value::int((h & 0x3fff_ffff_ffff) as i64))
            })
        },
        ("String", "primSubstringFrom:to:") => |vm, fp| {
            let (s, e) = (arg(fp, 1), arg(fp, 2));
            let Some(b) = vm.string_of(arg(fp, 0)) else {
                return Prim::Fail;
            };
            if !s.is_int() || !e.is_int() {
                return Prim::Fail;
            }
            let (s, e) = (s.as_int(), e.as_int());
            if s < 1 || e > b.len() as i64 || e < s - 1 {
                return Prim::Fail;
            }
            Prim::Ok(vm.new_string(&b[s as usize - 1..e as usize]))
        },
        ("String", "indexOf:") => |vm, fp| {
            let (Some(a), Some(b)) = (vm.string_of(arg(fp, 0)), vm.string_of(arg(fp, 1))) else {
                return Prim::Fail;
            };
            let pos = if b.is_empty() {
                None
            } else {
                a.windows(b.len()).position(|w| w == &b[..])
            };
            Prim::Ok(Value::int(pos.map_or(0, |p| p as i64 + 1)))
        },
        ("String", "asUppercase") => |vm, fp| {
            with_bytes(vm, fp, |vm, b| {
                Prim::Ok(vm.new_string(&b.to_ascii_uppercase()))
            })
        },
        ("String", "asLowercase") => |vm, fp| {
            with_bytes(vm, fp, |vm, b| {
                Prim::Ok(vm.new_string(&b.to_ascii_lowercase()))
            })
        },
        ("String", "isWhiteSpace") => |vm, fp| test_all(vm, fp, |c| c.is_ascii_whitespace()),
        ("String", "isLetters") => |vm, fp| test_all(vm, fp, |c| c.is_ascii_alphabetic()),
        ("String", "isDigits") => |vm, fp| test_all(vm, fp, |c| c.is_ascii_digit()),
        ("String", "split:") => |vm, fp| {
            let (Some(a), Some(sep)) = (vm.string_of(arg(fp, 0)), vm.string_of(arg(fp, 1))) else {
                return Prim::Fail;
            };
            let parts = split(&a, &sep);
            let arr = vm.new_array(parts.len());
            vm.handles.push(arr);
            for (i, p) in parts.iter().enumerate() {
                let s = vm.new_string(p);
                let arr = *vm.handles.last().expect("pushed above");
                // SAFETY: `arr` has `parts.len()` slots.
                unsafe { crate::heap::set_slot(arr, i, s) };
            }
            Prim::Ok(vm.handles.pop().expect("pushed above"))
        },
        _ => return None,
    };
    Some(f)
}

fn with_bytes(
    vm: &mut Vm,
    fp: *mut crate::value::Value,
    f: impl FnOnce(&mut Vm, Vec<u8>) -> Prim,
) -> Prim {
    match vm.string_of(arg(fp, 0)) {
        Some(b) => f(vm, b),
        None => Prim::Fail,
    }
}

fn test_all(vm: &mut Vm, fp: *mut Value, f: fn(&u8) -> bool) -> Prim {
    with_bytes(vm, fp, |_, b| {
        Prim::Ok(Value::bool(!b.is_empty() && b.iter().all(f)))
    })
}

fn split(a: &[u8], sep: &[u8]) -> Vec<Vec<u8>> {
    if sep.is_empty() {
        return alloc::vec![a.to_vec()];
    }
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i + sep.len() <= a.len() {
        if &a[i..i + sep.len()] == sep {
            out.push(a[start..i].to_vec());
            i += sep.len();
            start = i;
        } else {
            i += 1;
        }
    }
    out.push(a[start..].to_vec());
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_keeps_empty_fields() {
        let parts = super::split(b"a,,b", b",");
        assert_eq!(parts, [b"a".to_vec(), b"".to_vec(), b"b".to_vec()]);
    }
}
