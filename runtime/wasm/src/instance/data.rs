//! What one instance owns and generated code reaches through its VM context.
//!
//! The words generated code reads are one allocation, the instance's *block*: the VM
//! context itself (layout in `kiln_abi::wasm`), then one [`FuncRef`] per function of the
//! function index space, the signature id of each type, a table descriptor pointer per
//! table and a cell pointer per global, which the context's fields point to. One
//! allocation rather than five keeps instantiation short, which matters at boot under an
//! emulator (every distinct piece of code run costs its translation). The rest (tables,
//! memory and globals as the store's objects, passive segments, the WASI world) lives in
//! ordinary fields.

use super::store::{Global, Memory, Store, Table};
use super::Instance;
use crate::wasi::Wasi;
use crate::CompiledModule;
use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::vec::Vec;
use kiln_abi::wasm::{self as abi, FuncRef};
use kiln_abi::Platform;

/// Words of the VM context at the start of the block.
const VMCTX_WORDS: usize = abi::VMCTX_SIZE as usize / 8;
/// Words per function reference.
const FUNCREF_WORDS: usize = abi::FUNCREF_SIZE as usize / 8;

/// How many of each part an instance's block holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Shape {
    /// Functions, imported ones first.
    pub funcs: usize,
    /// Types.
    pub types: usize,
    /// Tables, imported ones first.
    pub tables: usize,
    /// Globals, imported ones first.
    pub globals: usize,
}

impl Shape {
    fn funcs_at(&self) -> usize {
        VMCTX_WORDS
    }

    fn sig_ids_at(&self) -> usize {
        self.funcs_at() + FUNCREF_WORDS * self.funcs
    }

    fn tables_at(&self) -> usize {
        self.sig_ids_at() + self.types
    }

    fn globals_at(&self) -> usize {
        self.tables_at() + self.tables
    }

    fn words(&self) -> usize {
        self.globals_at() + self.globals
    }
}

/// Everything generated code reaches through one instance's VM context.
pub struct InstanceData {
    /// The VM context and what it points to (see the module docs).
    block: Box<[u64]>,
    shape: Shape,
    /// Tables in index order.
    pub tables: Vec<*mut Table>,
    /// Memory 0, if any.
    pub memory: Option<*mut Memory>,
    /// Globals in index order.
    pub globals: Vec<*mut Global>,
    /// Passive element segments by segment index, resolved (empty once dropped). A
    /// segment past the list's end is an active or dropped one: an instance built from a
    /// template lists the segments only up to its last passive one.
    pub elems: Vec<Vec<u64>>,
    /// Passive data segments by segment index (empty once dropped); as for `elems`, a
    /// segment past the list's end is an active or dropped one.
    pub data: Vec<Vec<u8>>,
    /// The module (`None` for an instance built from a template, which keeps no module).
    pub module: Option<Rc<CompiledModule>>,
    /// The WASI world its runtime-provided imports work on (set when it has any).
    pub wasi: Option<Rc<Wasi>>,
    /// The platform of its store.
    pub platform: &'static dyn Platform,
}

impl InstanceData {
    /// An instance of `shape` in `store`, of `module` (if it keeps one) and working on
    /// the WASI world `wasi` (if it has one), whose functions, signature ids, tables,
    /// memory and globals are still to be set; its VM context already points at its
    /// parts, at the stack limit and back at the instance.
    pub(crate) fn new(
        store: &Store,
        shape: Shape,
        module: Option<Rc<CompiledModule>>,
        wasi: Option<Rc<Wasi>>,
    ) -> Box<InstanceData> {
        let platform = store.platform();
        let stack_limit = store.machine.stack_limit();
        let block = Box::<[u64]>::new_zeroed_slice(shape.words());
        let mut data = Box::new(InstanceData {
            // SAFETY: zero is a valid `u64`.
            block: unsafe { block.assume_init() },
            shape,
            tables: Vec::new(),
            memory: None,
            globals: Vec::new(),
            elems: Vec::new(),
            data: Vec::new(),
            module,
            wasi,
            platform,
        });
        let base = data.block.as_ptr() as u64;
        let at = |word: usize| base + 8 * word as u64;
        // The context's fields, written as one array: no bounds check per field.
        let mut ctx = [0u64; VMCTX_WORDS];
        ctx[abi::VMCTX_STACK_LIMIT as usize / 8] = stack_limit;
        ctx[abi::VMCTX_FUNCS as usize / 8] = at(shape.funcs_at());
        ctx[abi::VMCTX_SIG_IDS as usize / 8] = at(shape.sig_ids_at());
        ctx[abi::VMCTX_TABLES as usize / 8] = at(shape.tables_at());
        ctx[abi::VMCTX_GLOBALS as usize / 8] = at(shape.globals_at());
        ctx[abi::VMCTX_RUNTIME as usize / 8] = &mut *data as *mut InstanceData as u64;
        // SAFETY: the block starts with the context's words (`Shape` puts the parts after
        // them), and `ctx` is not the block.
        unsafe {
            core::ptr::copy_nonoverlapping(ctx.as_ptr(), data.part_mut(0, VMCTX_WORDS), VMCTX_WORDS)
        };
        data
    }

    /// The VM context's address.
    pub fn vmctx(&self) -> u64 {
        self.block.as_ptr() as u64
    }

    /// The instance whose VM context is at `vmctx`, read from the context's runtime slot
    /// (which `new` points back at the instance).
    ///
    /// # Safety
    /// `vmctx` is the VM context of a live instance (as generated code passes its own),
    /// and the instance is not otherwise borrowed while the result is in use.
    pub(crate) unsafe fn from_vmctx<'a>(vmctx: *const u64) -> &'a mut InstanceData {
        // SAFETY: the caller guarantees `vmctx` is a live instance's context, whose
        // runtime slot holds the address of the instance owning it.
        unsafe { &mut *(*vmctx.add(abi::VMCTX_RUNTIME as usize / 8) as *mut InstanceData) }
    }

    /// Where `len` words of the block from word `at` start. Not bounds-checked: these
    /// run once per instance at boot, where the checks of safe slicing cost 15 more
    /// translated blocks.
    ///
    /// # Safety
    /// `at + len` is at most the block's length: a part of the layout `shape` gives,
    /// which `new` made the block long enough for.
    unsafe fn part(&self, at: usize, len: usize) -> *const u64 {
        debug_assert!(at + len <= self.block.len());
        // SAFETY: the caller guarantees the part lies in the block.
        unsafe { self.block.as_ptr().add(at) }
    }

    /// As [`Self::part`], to write.
    ///
    /// # Safety
    /// As for [`Self::part`].
    unsafe fn part_mut(&mut self, at: usize, len: usize) -> *mut u64 {
        debug_assert!(at + len <= self.block.len());
        // SAFETY: the caller guarantees the part lies in the block.
        unsafe { self.block.as_mut_ptr().add(at) }
    }

    /// The function references, by function index.
    pub fn funcs(&self) -> &[FuncRef] {
        let (at, n) = (self.shape.funcs_at(), self.shape.funcs);
        // SAFETY: the block holds `n` function references from `at` (`Shape` places
        // them, and `new` sized the block by it); a `FuncRef` is three `u64`s
        // (`repr(C)`), as aligned as the block's words.
        unsafe {
            core::slice::from_raw_parts(self.part(at, FUNCREF_WORDS * n) as *const FuncRef, n)
        }
    }

    /// The function references, to fill in.
    pub(crate) fn funcs_mut(&mut self) -> &mut [FuncRef] {
        let (at, n) = (self.shape.funcs_at(), self.shape.funcs);
        // SAFETY: as in `funcs`, and `&mut self` makes the access exclusive.
        unsafe {
            core::slice::from_raw_parts_mut(self.part_mut(at, FUNCREF_WORDS * n) as *mut FuncRef, n)
        }
    }

    /// The signature id of each type.
    pub(crate) fn sig_ids(&self) -> &[u64] {
        let (at, n) = (self.shape.sig_ids_at(), self.shape.types);
        // SAFETY: the block holds the `n` ids from `at` (`Shape` places them).
        unsafe { core::slice::from_raw_parts(self.part(at, n), n) }
    }

    /// The signature id of each type, to fill in.
    pub(crate) fn sig_ids_mut(&mut self) -> &mut [u64] {
        let (at, n) = (self.shape.sig_ids_at(), self.shape.types);
        // SAFETY: as in `sig_ids`, and `&mut self` makes the access exclusive.
        unsafe { core::slice::from_raw_parts_mut(self.part_mut(at, n), n) }
    }

    /// Adds the next table (in index order).
    pub(crate) fn push_table(&mut self, table: *mut Table) {
        let at = self.shape.tables_at() + self.tables.len();
        // SAFETY: the table lives in the store, which outlives the instance, in a box, so
        // its descriptor's address stays put.
        self.block[at] = unsafe { &raw const (*table).desc as u64 };
        self.tables.push(table);
    }

    /// Adds the next global (in index order).
    pub(crate) fn push_global(&mut self, global: *mut Global) {
        let at = self.shape.globals_at() + self.globals.len();
        // SAFETY: the global lives in the store, in a box, so its cell stays put.
        self.block[at] = unsafe { &raw const (*global).cell as u64 };
        self.globals.push(global);
    }

    /// Sets memory 0.
    pub(crate) fn set_memory(&mut self, memory: *mut Memory) {
        // SAFETY: the memory lives in the store, in a box, so its size cell stays put.
        let (base, size) = unsafe { ((*memory).base, &raw const (*memory).size) };
        // SAFETY: the context is the block's first part; both fields are words of it.
        unsafe {
            let ctx = self.part_mut(0, VMCTX_WORDS);
            *ctx.add(abi::VMCTX_MEMORY_BASE as usize / 8) = base as u64;
            *ctx.add(abi::VMCTX_MEMORY_SIZE as usize / 8) = size as u64;
        }
        self.memory = Some(memory);
    }

    /// Hands the finished instance to `store`, which keeps it for its own lifetime.
    pub(crate) fn adopt(mut self: Box<Self>, store: &mut Store) -> Instance {
        let raw = &mut *self as *mut InstanceData;
        store.instances.push(self);
        Instance(raw)
    }
}
