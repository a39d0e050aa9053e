//! The runtime routines generated code calls for operations too long to inline
//! (`kiln_abi::wasm::Builtin`): memory growth, bulk memory and table operations.
//! Each receives the caller's VM context and returns 0 or a trap code (or a result).
//! They are `#[no_mangle]` under [`Builtin::symbol`](kiln_abi::wasm::Builtin::symbol)'s
//! names: AOT objects call them through relocations the image's link resolves.

use super::data::InstanceData;
use alloc::vec::Vec;
use kiln_abi::wasm::TrapCode;

/// Signature shared by all builtins (unused trailing arguments are ignored). Unsafe to
/// call: the first argument must be the VM context of a live instance, as generated code
/// passes it (the functions themselves are private; only generated code calls them).
pub type BuiltinFn = unsafe extern "sysv64" fn(*mut u64, u64, u64, u64, u64, u64) -> u64;

/// The builtins in `kiln_abi::wasm::Builtin` order.
pub const TABLE: [BuiltinFn; kiln_abi::wasm::Builtin::COUNT] = [
    kiln_wasm_builtin_memory_grow,
    kiln_wasm_builtin_memory_fill,
    kiln_wasm_builtin_memory_copy,
    kiln_wasm_builtin_memory_init,
    kiln_wasm_builtin_data_drop,
    kiln_wasm_builtin_table_grow,
    kiln_wasm_builtin_table_fill,
    kiln_wasm_builtin_table_copy,
    kiln_wasm_builtin_table_init,
    kiln_wasm_builtin_elem_drop,
];

fn instance<'a>(vmctx: *mut u64) -> &'a mut InstanceData {
    // SAFETY: generated code passes its own VM context, of a live instance, and a builtin
    // holds no other reference to that instance.
    unsafe { InstanceData::from_vmctx(vmctx) }
}

/// Passive segment `seg` of an instance's list, moved out: empty once dropped, and for
/// a segment past the list's end (an active one, dropped at instantiation; see
/// `InstanceData::data`).
fn take_segment<T>(list: &mut [Vec<T>], seg: u64) -> Vec<T> {
    list.get_mut(seg as usize)
        .map(core::mem::take)
        .unwrap_or_default()
}

/// Puts segment `seg` of an instance's list back (or drops it, given an empty one);
/// nothing to do past the list's end.
fn put_segment<T>(list: &mut [Vec<T>], seg: u64, items: Vec<T>) {
    if let Some(s) = list.get_mut(seg as usize) {
        *s = items;
    }
}

fn memory<'a>(vmctx: *mut u64) -> &'a mut [u8] {
    let inst = instance(vmctx);
    // SAFETY: code using memory instructions was validated to have a memory, which lives
    // in the store.
    unsafe { (*inst.memory.expect("validated: module has a memory")).bytes() }
}

/// `[at, at + len)` inside `size`, as a range.
fn range(at: u64, len: u64, size: usize) -> Option<core::ops::Range<usize>> {
    let end = (at as u32 as u64) + (len as u32 as u64);
    (end <= size as u64).then_some(at as u32 as usize..end as usize)
}

const OK: u64 = 0;

fn trap(code: TrapCode) -> u64 {
    code as u64
}

/// Copies `len` items from `src[from..]` to `dst[at..]`, or traps with `code` when either
/// range is out of bounds (then nothing is copied).
fn copy_checked<T: Copy>(
    dst: &mut [T],
    at: u64,
    src: &[T],
    from: u64,
    len: u64,
    code: TrapCode,
) -> u64 {
    match (range(at, len, dst.len()), range(from, len, src.len())) {
        (Some(d), Some(s)) => {
            dst[d].copy_from_slice(&src[s]);
            OK
        }
        _ => trap(code),
    }
}

/// Copies `len` items of `items` from `from` to `at` (the ranges may overlap), or traps
/// with `code` when either range is out of bounds (then nothing is copied).
fn copy_within_checked<T: Copy>(
    items: &mut [T],
    at: u64,
    from: u64,
    len: u64,
    code: TrapCode,
) -> u64 {
    match (range(at, len, items.len()), range(from, len, items.len())) {
        (Some(d), Some(s)) => {
            items.copy_within(s, d.start);
            OK
        }
        _ => trap(code),
    }
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_memory_grow(
    vmctx: *mut u64,
    delta: u64,
    _: u64,
    _: u64,
    _: u64,
    _: u64,
) -> u64 {
    let inst = instance(vmctx);
    // SAFETY: the memory lives in the store.
    let m = unsafe { &mut *inst.memory.expect("validated: module has a memory") };
    m.grow(delta as u32 as u64)
        .map_or(u32::MAX as u64, |old| old)
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_memory_fill(
    vmctx: *mut u64,
    dst: u64,
    val: u64,
    len: u64,
    _: u64,
    _: u64,
) -> u64 {
    let mem = memory(vmctx);
    match range(dst, len, mem.len()) {
        Some(r) => {
            mem[r].fill(val as u8);
            OK
        }
        None => trap(TrapCode::MemoryOutOfBounds),
    }
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_memory_copy(
    vmctx: *mut u64,
    dst: u64,
    src: u64,
    len: u64,
    _: u64,
    _: u64,
) -> u64 {
    copy_within_checked(memory(vmctx), dst, src, len, TrapCode::MemoryOutOfBounds)
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_memory_init(
    vmctx: *mut u64,
    seg: u64,
    dst: u64,
    src: u64,
    len: u64,
    _: u64,
) -> u64 {
    let data = take_segment(&mut instance(vmctx).data, seg);
    let status = copy_checked(
        memory(vmctx),
        dst,
        &data,
        src,
        len,
        TrapCode::MemoryOutOfBounds,
    );
    put_segment(&mut instance(vmctx).data, seg, data);
    status
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_data_drop(
    vmctx: *mut u64,
    seg: u64,
    _: u64,
    _: u64,
    _: u64,
    _: u64,
) -> u64 {
    put_segment(&mut instance(vmctx).data, seg, Vec::new());
    OK
}

fn table<'a>(vmctx: *mut u64, index: u64) -> &'a mut super::store::Table {
    // SAFETY: validated table index; tables live in the store.
    unsafe { &mut *instance(vmctx).tables[index as usize] }
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_table_grow(
    vmctx: *mut u64,
    t: u64,
    init: u64,
    delta: u64,
    _: u64,
    _: u64,
) -> u64 {
    table(vmctx, t)
        .grow(delta as u32 as u64, init)
        .map_or(u32::MAX as u64, |old| old)
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_table_fill(
    vmctx: *mut u64,
    t: u64,
    dst: u64,
    val: u64,
    len: u64,
    _: u64,
) -> u64 {
    let t = table(vmctx, t);
    match range(dst, len, t.elems.len()) {
        Some(r) => {
            t.elems[r].fill(val);
            OK
        }
        None => trap(TrapCode::TableOutOfBounds),
    }
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_table_copy(
    vmctx: *mut u64,
    dt: u64,
    st: u64,
    dst: u64,
    src: u64,
    len: u64,
) -> u64 {
    const OOB: TrapCode = TrapCode::TableOutOfBounds;
    if dt == st {
        return copy_within_checked(&mut table(vmctx, dt).elems, dst, src, len, OOB);
    }
    // Two tables: the source's entries are moved out for the copy and back (no clone;
    // the vector's buffer, which generated code points to, stays where it is).
    let items = core::mem::take(&mut table(vmctx, st).elems);
    let status = copy_checked(&mut table(vmctx, dt).elems, dst, &items, src, len, OOB);
    table(vmctx, st).elems = items;
    status
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_table_init(
    vmctx: *mut u64,
    t: u64,
    seg: u64,
    dst: u64,
    src: u64,
    len: u64,
) -> u64 {
    // Moved out for the copy and back, like `memory.init`'s segment (no clone).
    let items = take_segment(&mut instance(vmctx).elems, seg);
    let status = copy_checked(
        &mut table(vmctx, t).elems,
        dst,
        &items,
        src,
        len,
        TrapCode::TableOutOfBounds,
    );
    put_segment(&mut instance(vmctx).elems, seg, items);
    status
}

#[no_mangle]
extern "sysv64" fn kiln_wasm_builtin_elem_drop(
    vmctx: *mut u64,
    seg: u64,
    _: u64,
    _: u64,
    _: u64,
    _: u64,
) -> u64 {
    put_segment(&mut instance(vmctx).elems, seg, Vec::new());
    OK
}
