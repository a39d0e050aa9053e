//! Instantiation: linking imports, building the VM context, applying segments, running
//! the start function; and calling exported functions.

use super::data::{InstanceData, Shape};
use super::store::{Extern, Global, Store};
use super::template::{Template, DATA_PASSIVE};
use super::{trampoline, Trap};
use crate::compile::symbols::{runtime_import, RuntimeSymbol};
use crate::module::{ConstExpr, ExportKind, ImportKind, ModuleInfo, SegmentMode};
use crate::range;
use crate::{CompiledModule, Type};
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use kiln_abi::wasm::{self as abi, FuncRef};

/// Why instantiation failed.
#[derive(Debug)]
pub enum InstantiateError {
    /// An import is missing or has the wrong type.
    Link(String),
    /// A segment initialiser or the start function trapped (effects before it stay).
    Trap(Trap),
    /// The runtime could not allocate something.
    Resource(String),
}

/// A handle to an instance living in a [`Store`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance(pub(crate) *mut InstanceData);

impl Instance {
    fn data(&self) -> &InstanceData {
        // SAFETY: instances live in their store, which outlives every handle's use.
        unsafe { &*self.0 }
    }

    /// The export called `name`.
    pub fn export(&self, name: &str) -> Option<Extern> {
        let d = self.data();
        let e = d.module.as_ref()?.info.export(name)?;
        let i = e.index as usize;
        Some(match e.kind {
            ExportKind::Func => Extern::Func(&d.funcs()[i] as *const FuncRef),
            ExportKind::Table => Extern::Table(d.tables[i]),
            ExportKind::Memory => Extern::Memory(d.memory?),
            ExportKind::Global => Extern::Global(d.globals[i]),
        })
    }

    /// The module this is an instance of (`None` if it was built from a template).
    pub fn module(&self) -> Option<&CompiledModule> {
        self.data().module.as_deref()
    }
}

fn limits_match(min: u64, max: Option<u64>, want_min: u64, want_max: Option<u64>) -> bool {
    min >= want_min
        && match (want_max, max) {
            (None, _) => true,
            (Some(w), Some(m)) => m <= w,
            (Some(_), None) => false,
        }
}

fn const_value(e: ConstExpr, funcs: &[FuncRef], globals: &[*mut Global]) -> u64 {
    match e {
        ConstExpr::I32(v) => v as u32 as u64,
        ConstExpr::I64(v) => v as u64,
        ConstExpr::F32(b) => b as u64,
        ConstExpr::F64(b) => b,
        ConstExpr::RefNull => 0,
        ConstExpr::RefFunc(f) => &funcs[f as usize] as *const FuncRef as u64,
        // SAFETY: globals point into the store.
        ConstExpr::GlobalGet(g) => unsafe { (*globals[g as usize]).cell },
    }
}

/// Instantiates `module` in `store` with `imports` (one per module import, in order).
pub fn instantiate(
    store: &mut Store,
    module: Rc<CompiledModule>,
    imports: &[Extern],
) -> Result<Instance, InstantiateError> {
    let info = &module.info;
    let link = |m: &str| InstantiateError::Link(m.to_string());
    if imports.len() != info.imports.len() {
        return Err(link("unknown import"));
    }
    // An instance built from a template can only be its store's first
    // (`instantiate_template` requires an empty store), so the first is the one to check.
    if store.instances.first().is_some_and(|i| i.module.is_none()) {
        return Err(link(
            "the store holds an instance built from a template, whose signature ids are its own",
        ));
    }
    let shape = Shape {
        funcs: info.funcs.len(),
        types: info.types.len(),
        tables: info.tables.len(),
        globals: info.globals.len(),
    };
    let mut data = InstanceData::new(store, shape, Some(module.clone()), None);
    for (id, t) in data.sig_ids_mut().iter_mut().zip(&info.types) {
        *id = store.sig_id(t);
    }
    let sig_id = |data: &InstanceData, t: u32| data.sig_ids()[t as usize];
    let vmctx = data.vmctx();
    let mut func = 0;
    for (import, ext) in info.imports.iter().zip(imports) {
        let provided = runtime_import(&import.module, &import.name);
        // SAFETY (all derefs below): externs point into the store.
        match (import.kind, *ext) {
            (ImportKind::Func(t), Extern::Runtime) => {
                let (Some(f), Some(w)) = (provided, &store.wasi) else {
                    return Err(link("unknown import"));
                };
                data.wasi = Some(w.clone());
                // The runtime's entry, with the importing instance's own context.
                data.funcs_mut()[func] = FuncRef {
                    code: trampoline::runtime_address(RuntimeSymbol::Wasi(f)),
                    vmctx,
                    sig_id: sig_id(&data, t),
                };
                func += 1;
            }
            // Compiled code calls the runtime's function directly: nothing else can stand in.
            (ImportKind::Func(_), Extern::Func(_)) if provided.is_some() => {
                return Err(link("incompatible import type"));
            }
            (ImportKind::Func(t), Extern::Func(f)) => {
                let f = unsafe { *f };
                if f.sig_id != sig_id(&data, t) {
                    return Err(link("incompatible import type"));
                }
                data.funcs_mut()[func] = f;
                func += 1;
            }
            (ImportKind::Table(t), Extern::Table(p)) => {
                let tb = unsafe { &*p };
                if tb.elem != t.elem || !limits_match(tb.elems.len() as u64, tb.max, t.min, t.max) {
                    return Err(link("incompatible import type"));
                }
                data.push_table(p);
            }
            (ImportKind::Memory(m), Extern::Memory(p)) => {
                let mem = unsafe { &*p };
                let max = (mem.max_pages < 65536).then_some(mem.max_pages);
                if !limits_match(mem.pages(), max, m.min, m.max) {
                    return Err(link("incompatible import type"));
                }
                data.set_memory(p);
            }
            (ImportKind::Global(g), Extern::Global(p)) => {
                let gl = unsafe { &*p };
                if gl.ty != g.ty || gl.mutable != g.mutable {
                    return Err(link("incompatible import type"));
                }
                data.push_global(p);
            }
            _ => return Err(link("incompatible import type")),
        }
    }
    let code_base = store
        .code_for(&module)
        .map_err(InstantiateError::Resource)?;
    for f in &module.funcs {
        let sig_id = sig_id(&data, info.funcs[f.index as usize]);
        data.funcs_mut()[f.index as usize] = FuncRef {
            code: code_base + f.offset as u64,
            vmctx,
            sig_id,
        };
    }
    for t in &info.tables[info.imported_tables as usize..] {
        data.push_table(store.new_table(t.elem, t.min, t.max));
    }
    for m in &info.memories[info.imported_memories as usize..] {
        let memory = store
            .new_memory(m.min, m.max)
            .map_err(InstantiateError::Resource)?;
        data.set_memory(memory);
    }
    for (g, init) in info.globals[info.imported_globals as usize..]
        .iter()
        .zip(&info.global_inits)
    {
        let v = const_value(*init, data.funcs(), &data.globals);
        data.push_global(store.new_global(g.ty, g.mutable, v));
    }
    data.elems = info
        .elems
        .iter()
        .map(|e| match e.mode {
            SegmentMode::Passive => e
                .items
                .iter()
                .map(|x| const_value(*x, data.funcs(), &data.globals))
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    data.data = info
        .data
        .iter()
        .map(|d| match d.mode {
            SegmentMode::Passive => d.bytes.clone(),
            _ => Vec::new(),
        })
        .collect();
    let inst = data.adopt(store);
    initialise(inst, info).map_err(InstantiateError::Trap)?;
    if let Some(start) = module.info.start {
        call(store, inst, start, &mut []).map_err(InstantiateError::Trap)?;
    }
    Ok(inst)
}

/// Instantiates a module compiled into the image from its instance template (see
/// `template`): `data_blob` holds its data segments' bytes. The instance must be the
/// first of `store`, whose signature ids the template assumes.
///
/// This runs once per program at boot, where under an emulator every distinct branch
/// costs its translation: the loops are plain, checks are combined into one test where
/// they can be, and the passive segment lists stop at the last passive segment (none
/// for most programs, so no list is allocated).
pub fn instantiate_template(
    store: &mut Store,
    template: &Template<'_>,
    data_blob: &[u8],
) -> Result<Instance, InstantiateError> {
    if let Some(code) = template.trap() {
        return Err(InstantiateError::Trap(Trap { code, pc: 0 }));
    }
    if !store.instances.is_empty() | store.has_signatures() {
        return Err(InstantiateError::Link(
            "an instance template's instance must be the first of its store".into(),
        ));
    }
    let damaged = || InstantiateError::Resource("the instance template is damaged".into());
    // The template's instance, the only one its store may hold, takes the store's WASI
    // world (a move: no reference count to raise, no empty one to drop).
    let wasi = store.wasi.take();
    let mut data = InstanceData::new(store, template.shape(), None, wasi);
    data.sig_ids_mut().copy_from_slice(template.sig_ids);
    let vmctx = data.vmctx();
    for (f, &[code, sig_id]) in data.funcs_mut().iter_mut().zip(template.funcs) {
        *f = FuncRef {
            code,
            vmctx,
            sig_id,
        };
    }
    let first = data.funcs().as_ptr() as u64;
    // A template reference is 0 (null) or a function index + 1 (`template` checked it).
    let reference = |r: u64| match r {
        0 => 0,
        _ => first + (r - 1) * u64::from(abi::FUNCREF_SIZE),
    };
    for t in template.tables() {
        let table = store.new_table(t.elem, t.items.len() as u64, t.max);
        // SAFETY: the table was just made by the store, which owns it.
        let elems = unsafe { &mut (*table).elems };
        for (e, r) in elems.iter_mut().zip(t.items) {
            *e = reference(*r);
        }
        data.push_table(table);
    }
    // The memory's bytes, for the active data segments (none without a memory).
    let mut memory: &mut [u8] = &mut [];
    if let Some((min, max)) = template.memory() {
        let m = store
            .new_memory(min, max)
            .map_err(InstantiateError::Resource)?;
        data.set_memory(m);
        // SAFETY: the memory was just made by the store, which owns it.
        memory = unsafe { (*m).bytes() };
    }
    for g in template.globals() {
        let v = match g.ty {
            Type::FuncRef => reference(g.value),
            _ => g.value,
        };
        data.push_global(store.new_global(g.ty, g.mutable, v));
    }
    let has_memory = data.memory.is_some();
    for (i, &[mode, at, from, len]) in template.data.iter().enumerate() {
        // The segment's bytes lie in the blob and, if it is active, its destination in
        // the memory: one test for all.
        let passive = mode == DATA_PASSIVE;
        let in_blob = range::fits(from, len, data_blob.len());
        let in_memory = passive | (has_memory & range::fits(at, len, memory.len()));
        if !(in_blob & in_memory) {
            return Err(damaged());
        }
        // SAFETY: the bytes lie in the blob (checked above).
        let bytes = unsafe { data_blob.get_unchecked(from as usize..(from + len) as usize) };
        if passive {
            data.data.resize_with(i, Vec::new);
            data.data.push(bytes.to_vec());
        } else {
            // SAFETY: the destination lies in the memory (checked above), which the
            // blob does not overlap.
            unsafe {
                let to = memory.as_mut_ptr().add(at as usize);
                core::ptr::copy_nonoverlapping(bytes.as_ptr(), to, bytes.len());
            }
        }
    }
    for (i, items) in template.elems().enumerate() {
        if let Some(items) = items {
            data.elems.resize_with(i, Vec::new);
            data.elems
                .push(items.iter().map(|&r| reference(r)).collect());
        }
    }
    let inst = data.adopt(store);
    if let Some(start) = template.start() {
        call(store, inst, start, &mut []).map_err(InstantiateError::Trap)?;
    }
    Ok(inst)
}

/// Applies the active element and data segments, in order.
fn initialise(inst: Instance, info: &ModuleInfo) -> Result<(), Trap> {
    // SAFETY: the instance and everything it points to live in the store.
    let d = unsafe { &mut *inst.0 };
    let oob = |code| Trap { code, pc: 0 };
    for e in &info.elems {
        if let SegmentMode::Active { index, offset } = e.mode {
            let at = const_value(offset, d.funcs(), &d.globals) as u32 as usize;
            // SAFETY: tables live in the store.
            let t = unsafe { &mut *d.tables[index as usize] };
            if at
                .checked_add(e.items.len())
                .is_none_or(|end| end > t.elems.len())
            {
                return Err(oob(abi::TrapCode::TableOutOfBounds));
            }
            for (k, x) in e.items.iter().enumerate() {
                t.elems[at + k] = const_value(*x, d.funcs(), &d.globals);
            }
        }
    }
    for s in &info.data {
        if let SegmentMode::Active { offset, .. } = s.mode {
            let at = const_value(offset, d.funcs(), &d.globals) as u32 as usize;
            let Some(m) = d.memory else {
                return Err(oob(abi::TrapCode::MemoryOutOfBounds));
            };
            // SAFETY: the memory lives in the store.
            let bytes = unsafe { (*m).bytes() };
            if at
                .checked_add(s.bytes.len())
                .is_none_or(|end| end > bytes.len())
            {
                return Err(oob(abi::TrapCode::MemoryOutOfBounds));
            }
            bytes[at..at + s.bytes.len()].copy_from_slice(&s.bytes);
        }
    }
    Ok(())
}

/// Calls function `func` of `inst` with `slots` holding the arguments (and, on return,
/// the results); `slots` must be long enough for both. May be inlined (a lookup and a
/// call: no seam worth a call of its own).
#[inline]
pub fn call(store: &Store, inst: Instance, func: u32, slots: &mut [u64]) -> Result<(), Trap> {
    let f = inst.data().funcs()[func as usize];
    call_ref(store, &f, slots)
}

/// Calls the function `f` refers to, which must belong to `store`.
#[inline]
pub fn call_ref(store: &Store, f: &FuncRef, slots: &mut [u64]) -> Result<(), Trap> {
    // SAFETY: FuncRefs are built by instantiation or Store::host_func and point into the
    // store; `slots` is sized by the caller for the function's type.
    unsafe { store.machine.enter(f.vmctx, f.code, slots) }
}
