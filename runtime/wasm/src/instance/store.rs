//! The objects instances share: memories, tables, globals, host functions, code, and
//! the signature ids `call_indirect` compares. A [`Store`] owns them all for as long as
//! any instance may reach them (a spec-test file, or one program run).

use super::trampoline;
use super::Machine;
use crate::module::FuncType;
use crate::wasi::Wasi;
use crate::{CompiledModule, Type};
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use kiln_abi::wasm::{FuncRef, TableDesc, MEMORY_RESERVATION, WASM_PAGE};
use kiln_abi::{Platform, Protection};

/// A linear memory: a reservation of `MEMORY_RESERVATION` bytes, mapped up to `size`.
pub struct Memory {
    platform: &'static dyn Platform,
    /// Base address.
    pub base: *mut u8,
    /// Current size in bytes; generated code reads this cell (the memory is boxed, so
    /// its address stays put).
    pub size: u64,
    /// Maximum size in pages.
    pub max_pages: u64,
}

impl Memory {
    /// Reserves a memory of `min` pages growing to at most `max` pages. May be inlined
    /// (into a program's instantiation at boot, where a call seam costs translation).
    #[inline]
    pub fn new(
        platform: &'static dyn Platform,
        min: u64,
        max: Option<u64>,
    ) -> Result<Box<Memory>, String> {
        let base = platform
            .reserve(MEMORY_RESERVATION as usize)
            .map_err(|_| "cannot reserve linear memory".to_string())?;
        let mut m = Box::new(Memory {
            platform,
            base,
            size: 0,
            max_pages: max.unwrap_or(65536).min(65536),
        });
        if m.grow(min).is_none() {
            return Err("initial memory size too large".into());
        }
        Ok(m)
    }

    /// Current size in pages.
    pub fn pages(&self) -> u64 {
        self.size / WASM_PAGE
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow(&mut self, delta: u64) -> Option<u64> {
        let old = self.pages();
        let new = old.checked_add(delta)?;
        if new > self.max_pages {
            return None;
        }
        if delta > 0 {
            // SAFETY: [old, new) pages lie inside this memory's reservation.
            let at = unsafe { self.base.add((old * WASM_PAGE) as usize) };
            self.platform
                .protect(at, (delta * WASM_PAGE) as usize, Protection::ReadWrite)
                .ok()?;
        }
        self.size = new * WASM_PAGE;
        Some(old)
    }

    /// The mapped bytes.
    pub fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: the first `size` bytes are mapped read+write and owned by this memory.
        unsafe { core::slice::from_raw_parts_mut(self.base, self.size as usize) }
    }
}

impl Drop for Memory {
    fn drop(&mut self) {
        self.platform
            .release(self.base, MEMORY_RESERVATION as usize);
    }
}

/// A table: its descriptor (read by generated code) and the elements it points to.
pub struct Table {
    /// `elems`/`len` as generated code sees them (tables are boxed, so its address stays
    /// put).
    pub desc: TableDesc,
    /// The entries: funcref pointers or externref values, 0 for null.
    pub elems: Vec<u64>,
    /// Maximum size.
    pub max: Option<u64>,
    /// Element type.
    pub elem: Type,
}

/// Upper bound on table sizes, so `table.grow` fails instead of exhausting memory.
const TABLE_LIMIT: u64 = 10_000_000;

impl Table {
    /// A table of `min` null entries.
    pub fn new(elem: Type, min: u64, max: Option<u64>) -> Box<Table> {
        let mut t = Box::new(Table {
            desc: TableDesc { elems: 0, len: 0 },
            elems: vec![0; min as usize],
            max,
            elem,
        });
        t.sync();
        t
    }

    fn sync(&mut self) {
        self.desc.elems = self.elems.as_mut_ptr() as u64;
        self.desc.len = self.elems.len() as u64;
    }

    /// Grows by `delta` entries set to `init`; returns the old size.
    pub fn grow(&mut self, delta: u64, init: u64) -> Option<u64> {
        let old = self.elems.len() as u64;
        let new = old.checked_add(delta)?;
        if new > self.max.unwrap_or(u32::MAX as u64) || new > TABLE_LIMIT {
            return None;
        }
        self.elems.resize(new as usize, init);
        self.sync();
        Some(old)
    }
}

/// A global's cell and type.
pub struct Global {
    /// The value (i32/f32 in the low half); generated code reads and writes it here
    /// (globals are boxed, so its address stays put).
    pub cell: u64,
    /// Value type.
    pub ty: Type,
    /// Whether it may change.
    pub mutable: bool,
}

/// A host function's implementation: it reads the argument slots and writes the results.
pub type HostFn = Box<dyn Fn(&mut [u64])>;

/// A host function callable from WASM. `#[repr(C)]`: generated code loads a memory
/// base from offset 0 and the adapter calls the function pointer at offset 8.
#[repr(C)]
pub struct HostFunc {
    zero: u64,
    trampoline: extern "sysv64" fn(*const HostFunc, *mut u64),
    /// The Rust implementation; sees the argument/result slots.
    pub func: HostFn,
    /// Number of slots (max of parameters and results).
    pub slots: usize,
}

extern "sysv64" fn host_trampoline(f: *const HostFunc, slots: *mut u64) {
    // SAFETY: the adapter passes the HostFunc it was called with and the caller's slots,
    // which hold at least `slots` values by the calling convention.
    unsafe {
        let f = &*f;
        (f.func)(core::slice::from_raw_parts_mut(slots, f.slots));
    }
}

/// Something an instance exports or imports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extern {
    /// A function (a `FuncRef` that stays valid while the store lives).
    Func(*const FuncRef),
    /// For an import the runtime provides itself (WASI, see
    /// `compile::symbols::runtime_import`): its own function, bound at instantiation to
    /// the importing instance and the store's WASI world.
    Runtime,
    /// A table of the store.
    Table(*mut Table),
    /// A memory of the store.
    Memory(*mut Memory),
    /// A global of the store.
    Global(*mut Global),
}

/// Machine code of one module, mapped read+execute: mapped by the store (released with
/// it), or placed in the image by the linker (never released).
pub struct CodeRegion {
    platform: &'static dyn Platform,
    /// Whether the store mapped the region (and so releases it).
    owned: bool,
    /// Start address.
    pub base: u64,
    /// Length in bytes (page-rounded).
    pub len: usize,
    /// The module it came from (for trap reports).
    pub module: Rc<CompiledModule>,
}

impl Drop for CodeRegion {
    fn drop(&mut self) {
        if self.owned {
            self.platform.release(self.base as *mut u8, self.len);
        }
    }
}

/// Boxed objects a store owns (their addresses stay put): the first in place, the rest
/// in a list. Most stores hold one instance and one memory, so they allocate no list
/// (at boot under an emulator, each allocation is code to translate).
pub(crate) struct Owned<T> {
    first: Option<Box<T>>,
    rest: Vec<Box<T>>,
}

impl<T> Owned<T> {
    const fn new() -> Self {
        Owned {
            first: None,
            rest: Vec::new(),
        }
    }

    /// Takes `object` (its address does not change).
    pub(crate) fn push(&mut self, object: Box<T>) {
        match self.first {
            None => self.first = Some(object),
            Some(_) => self.rest.push(object),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    /// The first object taken, if any.
    pub(crate) fn first(&self) -> Option<&T> {
        self.first.as_deref()
    }
}

/// Owner of everything instances point into. Every object is boxed so its address stays
/// fixed while generated code and other instances hold pointers to it.
#[allow(
    clippy::vec_box,
    reason = "boxes keep addresses stable as the vectors grow"
)]
pub struct Store {
    /// How generated code is run on this platform.
    pub machine: &'static dyn Machine,
    /// The machine's platform, asked once (each instantiation needs it).
    platform: &'static dyn Platform,
    pub(crate) memories: Owned<Memory>,
    pub(crate) tables: Vec<Box<Table>>,
    pub(crate) globals: Vec<Box<Global>>,
    pub(crate) host_funcs: Vec<Box<HostFunc>>,
    pub(crate) host_refs: Vec<Box<FuncRef>>,
    pub(crate) code: Vec<CodeRegion>,
    pub(crate) instances: Owned<super::data::InstanceData>,
    signatures: Vec<FuncType>,
    /// The WASI world of the program the store runs, if it has one.
    pub(crate) wasi: Option<Rc<Wasi>>,
}

impl Store {
    /// An empty store whose code runs on `machine`.
    #[inline]
    pub fn new(machine: &'static dyn Machine) -> Self {
        Store {
            machine,
            platform: machine.platform(),
            memories: Owned::new(),
            tables: Vec::new(),
            globals: Vec::new(),
            host_funcs: Vec::new(),
            host_refs: Vec::new(),
            code: Vec::new(),
            instances: Owned::new(),
            signatures: Vec::new(),
            wasi: None,
        }
    }

    /// Sets the WASI world the runtime's WASI functions work on for instances created
    /// from now on.
    #[inline]
    pub fn set_wasi(&mut self, wasi: Rc<Wasi>) {
        self.wasi = Some(wasi);
    }

    /// The platform the store's memories live on.
    pub fn platform(&self) -> &'static dyn Platform {
        self.platform
    }

    /// The store-wide id of a signature (equal signatures get equal ids).
    pub fn sig_id(&mut self, ty: &FuncType) -> u64 {
        let i = match self.signatures.iter().position(|t| t == ty) {
            Some(i) => i,
            None => {
                self.signatures.push(ty.clone());
                self.signatures.len() - 1
            }
        };
        i as u64 + 1
    }

    /// Maps a module's code read+execute (written while read+write, never both), linked
    /// where it lands (`CompiledModule::link`, with the runtime's symbols from
    /// [`trampoline::runtime_address`]). Returns the address and how many veneers the
    /// link needed to reach runtime symbols beyond `rel32` range.
    pub fn map_code(&mut self, module: Rc<CompiledModule>) -> Result<(u64, usize), String> {
        let len = module.linked_len().max(1).next_multiple_of(4096);
        let p = self.platform();
        let base = p.reserve(len).map_err(|_| "cannot reserve code memory")?;
        let linked = match module.link(base as u64, trampoline::runtime_address) {
            Ok(linked) => linked,
            Err(e) => {
                p.release(base, len);
                return Err(e);
            }
        };
        p.protect(base, len, Protection::ReadWrite)
            .map_err(|_| "cannot map code memory")?;
        // SAFETY: `base` has `len >= linked_len() >= bytes.len()` writable bytes.
        unsafe { core::ptr::copy_nonoverlapping(linked.bytes.as_ptr(), base, linked.bytes.len()) };
        p.protect(base, len, Protection::ReadExecute)
            .map_err(|_| "cannot make code executable")?;
        let base = base as u64;
        self.code.push(CodeRegion {
            platform: p,
            owned: true,
            base,
            len,
            module,
        });
        Ok((base, linked.veneers))
    }

    /// Registers code compiled ahead of time and already mapped read+execute at `base`
    /// (by the image's linker): instantiating `module` then uses it instead of mapping a
    /// copy, and traps in it are located like in mapped code.
    pub fn add_image_code(&mut self, module: Rc<CompiledModule>, base: u64, len: usize) {
        self.code.push(CodeRegion {
            platform: self.platform(),
            owned: false,
            base,
            len,
            module,
        });
    }

    /// Where `module`'s code is: its image code if registered, else a new mapped copy.
    pub(crate) fn code_for(&mut self, module: &Rc<CompiledModule>) -> Result<u64, String> {
        match self.code.iter().find(|c| Rc::ptr_eq(&c.module, module)) {
            Some(c) if !c.owned => Ok(c.base),
            _ => self.map_code(module.clone()).map(|(base, _)| base),
        }
    }

    /// The function name and offset of a code address, for trap reports.
    /// `pc` may be a return address just past the function's last byte, so the byte
    /// before it is looked up.
    pub fn locate(&self, pc: u64) -> Option<(String, u64)> {
        self.code.iter().find_map(|c| {
            let off = pc.checked_sub(c.base + 1)?;
            let (func, at) = c.module.func_at(u32::try_from(off).ok()?)?;
            Some((c.module.info.func_name(func), at as u64 + 1))
        })
    }

    /// A trap as kiln reports it: `trap: <kind> in <function> (+0xOFF)`, or
    /// `trap: <kind>` when it did not happen in code of this store.
    pub fn describe_trap(&self, trap: &super::Trap) -> String {
        match self.locate(trap.pc) {
            Some((func, off)) => {
                alloc::format!("trap: {} in {func} (+{off:#x})", trap.code.message())
            }
            None => alloc::format!("trap: {}", trap.code.message()),
        }
    }

    /// A host function of type `ty` implemented by `func`.
    pub fn host_func(&mut self, ty: &FuncType, func: HostFn) -> Extern {
        let slots = ty.params.len().max(ty.results.len());
        let hf = Box::new(HostFunc {
            zero: 0,
            trampoline: host_trampoline,
            func,
            slots,
        });
        let fr = Box::new(FuncRef {
            code: trampoline::host_adapter(),
            vmctx: &*hf as *const HostFunc as u64,
            sig_id: self.sig_id(ty),
        });
        self.host_funcs.push(hf);
        let p = &*fr as *const FuncRef;
        self.host_refs.push(fr);
        Extern::Func(p)
    }

    /// A new memory owned by the store.
    pub fn memory(&mut self, min: u64, max: Option<u64>) -> Result<Extern, String> {
        self.new_memory(min, max).map(Extern::Memory)
    }

    /// A new table owned by the store.
    pub fn table(&mut self, elem: Type, min: u64, max: Option<u64>) -> Extern {
        Extern::Table(self.new_table(elem, min, max))
    }

    /// A new global owned by the store.
    pub fn global(&mut self, ty: Type, mutable: bool, value: u64) -> Extern {
        Extern::Global(self.new_global(ty, mutable, value))
    }

    pub(crate) fn new_memory(&mut self, min: u64, max: Option<u64>) -> Result<*mut Memory, String> {
        let mut m = Memory::new(self.platform(), min, max)?;
        let p = &mut *m as *mut Memory;
        self.memories.push(m);
        Ok(p)
    }

    pub(crate) fn new_table(&mut self, elem: Type, min: u64, max: Option<u64>) -> *mut Table {
        let mut t = Table::new(elem, min, max);
        let p = &mut *t as *mut Table;
        self.tables.push(t);
        p
    }

    pub(crate) fn new_global(&mut self, ty: Type, mutable: bool, value: u64) -> *mut Global {
        let mut g = Box::new(Global {
            cell: value,
            ty,
            mutable,
        });
        let p = &mut *g as *mut Global;
        self.globals.push(g);
        p
    }

    /// Whether any signature has an id yet (an instance template assumes none has).
    pub(crate) fn has_signatures(&self) -> bool {
        !self.signatures.is_empty()
    }
}
