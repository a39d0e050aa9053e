//! The ABI of code compiled from WebAssembly: registers, the VM context, calls and traps.
//!
//! Everything the compiler (`runtime/wasm`) emits and everything the runtimes that run it
//! (`runtime/hosted`, `runtime/kernel`) provide agrees on the numbers in this module.
//!
//! # Registers
//!
//! | register | role |
//! |---|---|
//! | `r15` | [`VMCTX_REG`]: the current instance's VM context (layout below) |
//! | `r14` | [`MEMORY_BASE_REG`]: base address of linear memory 0 (copy of [`VMCTX_MEMORY_BASE`]) |
//! | `rbp` | frame pointer; every function keeps a `push rbp; mov rbp, rsp` frame |
//! | `rsp` | 16-byte aligned at every `call` instruction |
//! | others | scratch; every register except `rbp`, `rsp`, `r14`, `r15` is clobbered by a call |
//!
//! # Calls between WASM functions
//!
//! All parameters and results travel in memory, in 8-byte slots, so multi-value and
//! host calls need nothing special. Every function keeps an outgoing area at the bottom
//! of its frame, `[rsp]`, as large as its largest call needs (`max(params, results)`
//! slots); for a call it writes parameter `i` to `[rsp + 8*i]` and `call`s. The callee sees parameter `i` at `[rbp + 16 + 8*i]`
//! and writes result `i` to the same place before `ret`; the caller reads result `i`
//! from `[rsp + 8*i]`. An `i32` occupies the low 4 bytes of its slot, an `f32` the
//! low 4 bytes, a reference the whole slot.
//!
//! A direct call to a function of the same module is a `call rel32` against the callee's
//! symbol (an ELF relocation in AOT objects, resolved by the loader in memory).
//! Calls to functions bound at instantiation (imports other than the runtime's own, see
//! below; only the spec-suite harness binds those: `spectest` and registered modules) and
//! `call_indirect` go through a [`FuncRef`]: the caller loads `r15` with
//! `FuncRef::vmctx` and `r14` with that context's memory base, calls `FuncRef::code`,
//! then restores both from its own frame (the callee never changes them): every function
//! stores its own VM context at `[rbp - 8]` in its prologue.
//!
//! Host functions are reached the same way: their `FuncRef::code` is a small adapter of
//! the runtime that passes the argument slots to Rust, and their `FuncRef::vmctx` points
//! to the runtime's record of the function, whose first word (read as a memory base by
//! the caller's context switch) is 0.
//!
//! # Imports the runtime provides
//!
//! The functions of `wasi_snapshot_preview1` are the runtime's own: a call to one is a
//! `call rel32` against the runtime symbol [`WASI_PREVIEW1_PREFIX`]`<name>`
//! (`kiln_wasi_preview1_fd_write`, ...), an entry in this calling convention that finds
//! the program's WASI state and memory through the caller's VM context (`r15`). A
//! [`FuncRef`] for such an import (`ref.func`, tables, exports) is that same entry with
//! the importing instance's own context, so direct and indirect calls run the same code.
//!
//! # Stack limit
//!
//! Every prologue compares `rsp` with [`VMCTX_STACK_LIMIT`] and traps with
//! [`TrapCode::StackOverflow`] below it.
//!
//! # Traps
//!
//! Generated code raises a trap by loading the [`TrapCode`] into `edi` and calling
//! (`call rel32`) the runtime symbol [`TRAP_SYMBOL`]. That routine never returns: the
//! runtime unwinds to the entry point and reports the code and the return address
//! (which names the function and offset). Out-of-bounds memory accesses are not checked
//! in code: they fault in the guard region ([`MEMORY_RESERVATION`]) and the runtime's
//! fault handler turns the fault into [`TrapCode::MemoryOutOfBounds`].
//!
//! # Builtins
//!
//! Operations too long to inline (`memory.grow`, bulk memory, table operations) call
//! runtime routines by `call rel32` against their symbols ([`Builtin::symbol`]), with the
//! System V calling convention: `extern "sysv64" fn(vmctx, a, b, c, d, e) -> u64` with as
//! many arguments as the operation has (each zero-extended to 64 bits). Those that can
//! trap return `0` on success or a `TrapCode` value, which the generated code then raises.
//!
//! # Runtime symbols
//!
//! The trap routine, the builtins and the WASI entries are defined once, by `kiln-wasm`,
//! under the names above. An AOT object refers to them as undefined symbols
//! (`R_X86_64_PLT32`) that the image's link resolves; code loaded in memory resolves them
//! through `kiln-wasm`'s own table, with a veneer (`jmp [rip]`) when one is beyond the
//! reach of `rel32`.

/// Register number (x86-64 encoding) holding the VM context.
pub const VMCTX_REG: u8 = 15;
/// Register number (x86-64 encoding) holding the base of linear memory 0.
pub const MEMORY_BASE_REG: u8 = 14;

/// Bytes of address space reserved per linear memory: 4 GiB addressable by a 32-bit
/// index plus 4 GiB for a 32-bit static offset, so `base + index + offset` always lands
/// inside the reservation and unmapped pages turn every out-of-bounds access into a fault.
pub const MEMORY_RESERVATION: u64 = 8 << 30;
/// Bytes in a WASM page.
pub const WASM_PAGE: u64 = 64 * 1024;

/// `u64`: base address of linear memory 0 (0 when the module has no memory).
pub const VMCTX_MEMORY_BASE: u32 = 0;
/// `*const u64`: the current size in bytes of linear memory 0, a cell shared by every
/// instance that imports the memory (0 when the module has no memory).
pub const VMCTX_MEMORY_SIZE: u32 = 8;
/// `u64`: lowest `rsp` generated code may run at.
pub const VMCTX_STACK_LIMIT: u32 = 16;
/// `*const FuncRef`: one entry per function of the module's function index space.
pub const VMCTX_FUNCS: u32 = 24;
/// `*const *mut TableDesc`: one pointer per table (shared by every instance using it).
pub const VMCTX_TABLES: u32 = 32;
/// `*const *mut u64`: one pointer per global to its 8-byte cell (shared with exporters).
pub const VMCTX_GLOBALS: u32 = 40;
/// `*const u64`: the runtime-wide signature id of each type index of the module.
pub const VMCTX_SIG_IDS: u32 = 48;
/// `u64` owned by the runtime (e.g. a pointer back to its instance); generated code
/// never reads it.
pub const VMCTX_RUNTIME: u32 = 56;
/// Size in bytes of the VM context.
pub const VMCTX_SIZE: u32 = VMCTX_RUNTIME + 8;

/// A function reference: what a funcref value points to, an import slot and a table
/// entry hold. A null funcref is the null pointer.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct FuncRef {
    /// Entry point, following the WASM calling convention above.
    pub code: u64,
    /// VM context to load into `r15` before calling `code`.
    pub vmctx: u64,
    /// Runtime-wide signature id, compared by `call_indirect`.
    pub sig_id: u64,
}

/// Byte offset of [`FuncRef::code`].
pub const FUNCREF_CODE: u32 = 0;
/// Byte offset of [`FuncRef::vmctx`].
pub const FUNCREF_VMCTX: u32 = 8;
/// Byte offset of [`FuncRef::sig_id`].
pub const FUNCREF_SIG_ID: u32 = 16;
/// Size of a [`FuncRef`].
pub const FUNCREF_SIZE: u32 = 24;

/// A table as generated code sees it: `len` entries of 8 bytes (a funcref pointer or an
/// externref value) at `elems`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct TableDesc {
    /// First entry.
    pub elems: u64,
    /// Current number of entries.
    pub len: u64,
}

/// Byte offset of [`TableDesc::elems`].
pub const TABLE_ELEMS: u32 = 0;
/// Byte offset of [`TableDesc::len`].
pub const TABLE_LEN: u32 = 8;
/// Size of a [`TableDesc`].
pub const TABLE_DESC_SIZE: u32 = 16;

/// Runtime routines generated code calls (see the module docs for the convention).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builtin {
    /// `(vmctx, delta_pages) -> old pages, or u32::MAX as u64 on failure`
    MemoryGrow = 0,
    /// `(vmctx, dst, value, len) -> trap`
    MemoryFill,
    /// `(vmctx, dst, src, len) -> trap`
    MemoryCopy,
    /// `(vmctx, segment, dst, src, len) -> trap`
    MemoryInit,
    /// `(vmctx, segment) -> 0`
    DataDrop,
    /// `(vmctx, table, init, delta) -> old size, or u32::MAX as u64 on failure`
    TableGrow,
    /// `(vmctx, table, dst, value, len) -> trap`
    TableFill,
    /// `(vmctx, dst_table, src_table, dst, src, len) -> trap`
    TableCopy,
    /// `(vmctx, table, segment, dst, src, len) -> trap`
    TableInit,
    /// `(vmctx, segment) -> 0`
    ElemDrop,
}

/// The symbol of the trap routine generated code calls.
pub const TRAP_SYMBOL: &str = "kiln_wasm_trap";
/// The symbols of the runtime's `wasi_snapshot_preview1` entries are this prefix and the
/// function's name.
pub const WASI_PREVIEW1_PREFIX: &str = "kiln_wasi_preview1_";

impl Builtin {
    /// Number of builtins.
    pub const COUNT: usize = 10;

    /// Every builtin, in order.
    pub const ALL: [Builtin; Builtin::COUNT] = [
        Builtin::MemoryGrow,
        Builtin::MemoryFill,
        Builtin::MemoryCopy,
        Builtin::MemoryInit,
        Builtin::DataDrop,
        Builtin::TableGrow,
        Builtin::TableFill,
        Builtin::TableCopy,
        Builtin::TableInit,
        Builtin::ElemDrop,
    ];

    /// The runtime symbol generated code calls for this builtin.
    pub const fn symbol(self) -> &'static str {
        match self {
            Builtin::MemoryGrow => "kiln_wasm_builtin_memory_grow",
            Builtin::MemoryFill => "kiln_wasm_builtin_memory_fill",
            Builtin::MemoryCopy => "kiln_wasm_builtin_memory_copy",
            Builtin::MemoryInit => "kiln_wasm_builtin_memory_init",
            Builtin::DataDrop => "kiln_wasm_builtin_data_drop",
            Builtin::TableGrow => "kiln_wasm_builtin_table_grow",
            Builtin::TableFill => "kiln_wasm_builtin_table_fill",
            Builtin::TableCopy => "kiln_wasm_builtin_table_copy",
            Builtin::TableInit => "kiln_wasm_builtin_table_init",
            Builtin::ElemDrop => "kiln_wasm_builtin_elem_drop",
        }
    }
}

/// Why generated code stopped. The values are what generated code puts in `edi`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrapCode {
    /// `unreachable` was executed.
    Unreachable = 1,
    /// A load or store outside linear memory.
    MemoryOutOfBounds,
    /// Integer division or remainder by zero.
    IntegerDivideByZero,
    /// Signed division overflow (`INT_MIN / -1`).
    IntegerOverflow,
    /// Float-to-int truncation of NaN.
    InvalidConversion,
    /// The call stack ran past the stack limit.
    StackOverflow,
    /// `call_indirect` to a function of another type.
    IndirectCallTypeMismatch,
    /// `call_indirect` through a null table entry.
    UninitializedElement,
    /// A table index outside the table.
    TableOutOfBounds,
    /// A `call_indirect` index outside the table.
    UndefinedElement,
    /// A bulk operation on an element or data segment outside its bounds.
    SegmentOutOfBounds,
}

impl TrapCode {
    /// The trap a code value names.
    pub fn from_u32(code: u32) -> Option<Self> {
        use TrapCode::*;
        Some(match code {
            1 => Unreachable,
            2 => MemoryOutOfBounds,
            3 => IntegerDivideByZero,
            4 => IntegerOverflow,
            5 => InvalidConversion,
            6 => StackOverflow,
            7 => IndirectCallTypeMismatch,
            8 => UninitializedElement,
            9 => TableOutOfBounds,
            10 => UndefinedElement,
            11 => SegmentOutOfBounds,
            _ => return None,
        })
    }

    /// The message the WASM specification's test suite uses for this trap.
    pub fn message(self) -> &'static str {
        use TrapCode::*;
        match self {
            Unreachable => "unreachable",
            MemoryOutOfBounds => "out of bounds memory access",
            IntegerDivideByZero => "integer divide by zero",
            IntegerOverflow => "integer overflow",
            InvalidConversion => "invalid conversion to integer",
            StackOverflow => "call stack exhausted",
            IndirectCallTypeMismatch => "indirect call type mismatch",
            UninitializedElement => "uninitialized element",
            TableOutOfBounds => "out of bounds table access",
            UndefinedElement => "undefined element",
            SegmentOutOfBounds => "out of bounds memory access",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trap_codes_round_trip() {
        for code in 1..=11 {
            let t = TrapCode::from_u32(code).unwrap();
            assert_eq!(t as u32, code);
            assert!(!t.message().is_empty());
        }
        assert_eq!(TrapCode::from_u32(0), None);
        assert_eq!(TrapCode::from_u32(12), None);
    }

    #[test]
    fn layouts_match_the_offsets() {
        assert_eq!(core::mem::size_of::<FuncRef>() as u32, FUNCREF_SIZE);
        assert_eq!(core::mem::size_of::<TableDesc>() as u32, TABLE_DESC_SIZE);
        for (i, b) in Builtin::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i);
            assert!(b.symbol().starts_with("kiln_wasm_builtin_"));
            let same = Builtin::ALL.iter().filter(|o| o.symbol() == b.symbol());
            assert_eq!(same.count(), 1, "{}", b.symbol());
        }
    }
}
