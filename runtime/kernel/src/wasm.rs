//! WebAssembly programs on bare metal, compiled ahead of time into the image.
//!
//! xtask compiled each module on the host and linked it in as an ELF object (see
//! `xtask/src/aot.rs`): its code sits in `.text`, and one record per module between
//! `__kiln_wasm_modules_start` and `__kiln_wasm_modules_end` (collected by the linker
//! script) points to its name, code, descriptor, data segment bytes, element segment
//! items, globals' initial values and instance template. A `WasmRun` entry of the bundle
//! names a module; running it sets up the program's WASI world — the arguments, the
//! `env=KEY=VALUE` options of the kernel command line as environment, the bundle's `File`
//! entries as a read-only tree —, instantiates the module from its template
//! (`kiln_wasm::instance::template`: xtask worked out on the host what instantiation
//! computes, and the image's link filled in the code addresses; nothing is compiled or
//! linked at boot) — linear memory in a reserved region with guard pages, mapped on
//! `memory.grow`; globals; tables; active data segments; the start function — and calls
//! its `_start` export (else `main`, printing its results), all on the native stack the
//! image reserves for WASM programs, above a guard page. The descriptor is decoded only
//! when a trap's report needs the functions' names. The image's last program keeps its
//! store as it ends: the machine powers off next.
//!
//! A trap prints `trap: <kind> in <function> (+0xOFFSET)` and a backtrace of WASM function
//! names, and ends the program with [`ExitStatus::Trap`]; the kernel goes on with the next
//! program. `proc_exit` ends the program with its status.

use crate::cmdline::CmdLine;
use crate::wasm_machine::{self, MACHINE};
use crate::{on_stack, println};
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};
use kiln_abi::bundle::Bundle;
use kiln_abi::ExitStatus;
use kiln_wasm::instance::descriptor;
use kiln_wasm::instance::instantiate::{self, InstantiateError};
use kiln_wasm::instance::template::{Template, ENTRY_POINTS};
use kiln_wasm::instance::{Store, Trap, Value};
use kiln_wasm::wasi::{Arg, Wasi};

/// Native stack of WASM programs: 512 KiB, wasmtime's default too (WASM code built by
/// standard toolchains keeps its own stack in linear memory; this one holds the frames
/// of WASM functions). The size is also what keeps a small image's boot inside the first
/// 2 MiB of RAM (image, stacks, the heap's start): QEMU backs guest RAM with transparent
/// huge pages, and each further 2 MiB the guest touches (here: the VMM zeroing `.stacks`,
/// then the stack's top) costs the host a 2 MiB clear, about 0.5 ms of boot.
const WASM_STACK: usize = 512 << 10;
/// Part of the stack kept free below the limit generated code checks: host functions,
/// builtins and the trap path run there. It also covers the few hundred bytes the stack
/// switch uses above the point where the limit is computed.
const STACK_RESERVE: usize = 128 << 10;

/// One module of the image, as xtask's object wrote it (`xtask/src/aot.rs`).
#[repr(C)]
pub(crate) struct Record {
    name: *const u8,
    name_len: usize,
    code: *const u8,
    code_len: usize,
    descriptor: *const u8,
    descriptor_len: usize,
    data: *const u8,
    data_len: usize,
    elems: *const u8,
    elems_len: usize,
    globals: *const u8,
    globals_len: usize,
    template: *const u8,
    template_len: usize,
}

extern "C" {
    static __kiln_wasm_modules_start: [Record; 0];
    static __kiln_wasm_modules_end: [Record; 0];
}

impl Record {
    pub(crate) fn name(&self) -> &'static str {
        // SAFETY: xtask wrote the name as UTF-8 bytes (an identifier) in read-only data.
        unsafe {
            core::str::from_utf8_unchecked(core::slice::from_raw_parts(self.name, self.name_len))
        }
    }

    pub(crate) fn descriptor(&self) -> &'static [u8] {
        // SAFETY: the linker filled in the descriptor's address; it is read-only data.
        unsafe { core::slice::from_raw_parts(self.descriptor, self.descriptor_len) }
    }

    /// The data bytes, element items and globals' initial values beside the descriptor.
    pub(crate) fn blobs(&self) -> descriptor::Blobs<'static> {
        let blob = |at, len| {
            // SAFETY: the linker filled in each blob's address; they are read-only data.
            unsafe { core::slice::from_raw_parts(at, len) }
        };
        descriptor::Blobs {
            data: blob(self.data, self.data_len),
            elems: blob(self.elems, self.elems_len),
            globals: blob(self.globals, self.globals_len),
        }
    }

    /// The instance template (empty for a module that has none).
    fn template(&self) -> &'static [u8] {
        // SAFETY: the linker filled in the template's address; it is read-only data.
        unsafe { core::slice::from_raw_parts(self.template, self.template_len) }
    }

    pub(crate) fn code_range(&self) -> (u64, u64) {
        let start = self.code as u64;
        (start, start + self.code_len as u64)
    }
}

/// Every module record of the image.
pub(crate) fn records() -> &'static [Record] {
    // SAFETY: the linker script places whole records between the two symbols.
    unsafe {
        let start = __kiln_wasm_modules_start.as_ptr();
        let end = __kiln_wasm_modules_end.as_ptr();
        core::slice::from_raw_parts(start, end.offset_from(start) as usize)
    }
}

/// Whether two names are equal, compared in one byte loop: `==` on strings calls
/// `memcmp`, whose many paths cost a boot under emulation more translation than the
/// comparison is worth.
fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Runs the image's module `name` with `args` (its name first), the environment from
/// the kernel command line's `env=KEY=VALUE` options and the bundle's files. May be
/// inlined into its one caller, which has the image's bundle as a constant: what this
/// asks of the bundle (whether it has files) is then settled at build time.
#[inline]
pub fn run(
    bundle: &Bundle<'static>,
    name: &str,
    args: Vec<Arg>,
    cmdline: &CmdLine<'static>,
) -> ExitStatus {
    let Some(record) = records().iter().find(|r| same_name(r.name(), name)) else {
        println!("kiln: the image has no compiled WASM module `{name}`");
        return ExitStatus::BootError;
    };
    let template = match Template::from_bytes(record.template()) {
        Ok(t) => t,
        Err(e) => {
            println!("kiln: module `{name}`: {e}");
            return ExitStatus::BootError;
        }
    };
    let wasi = match Wasi::for_image(args, cmdline.options(), bundle) {
        Ok(w) => Rc::new(w),
        Err(e) => {
            println!("kiln: the image's files cannot be a WASI tree: {e}");
            return ExitStatus::BootError;
        }
    };
    on_wasm_stack(record.code_range(), || run_module(record, &template, wasi))
}

// The native stack WASM programs run on: reserved in the image (`.stacks`, which costs no
// bytes in the file) above an unmapped guard page (`paging` leaves `__wasm_stack_guard`
// out of the page tables) and mapped at boot with the rest of the kernel, so starting a
// program maps nothing. Programs run one at a time, so one stack serves them all.
core::arch::global_asm!(
    ".pushsection .stacks, \"aw\", @nobits",
    ".p2align 12",
    ".global __wasm_stack_guard, __wasm_stack_bottom, __wasm_stack_top",
    "__wasm_stack_guard: .skip 4096",
    "__wasm_stack_bottom: .skip {size}",
    "__wasm_stack_top:",
    ".popsection",
    size = const WASM_STACK,
);

extern "C" {
    static mut __wasm_stack_bottom: u8;
    static mut __wasm_stack_top: u8;
}

/// Whether code runs on the WASM stack now (it has one user at a time).
static ON_WASM_STACK: AtomicBool = AtomicBool::new(false);

/// Runs `f` on the WASM programs' native stack, prepared for generated code in `code`.
/// Not reentrant: `f` must not call it again. Inlined into its callers (each runs it
/// once per program): no call seam to translate.
#[inline(always)]
pub(crate) fn on_wasm_stack<R>(code: (u64, u64), f: impl FnOnce() -> R) -> R {
    assert!(
        !ON_WASM_STACK.swap(true, Ordering::Acquire),
        "the WASM stack is already in use"
    );
    let bottom = &raw mut __wasm_stack_bottom;
    // SAFETY: the stack is mapped read-write and unused (checked above).
    let debug = unsafe { on_stack::zero_for_high_water(bottom, WASM_STACK) };
    // SAFETY: the top of the reserved stack, mapped at boot above its guard page, which
    // nothing else uses while `f` runs (checked above); it is page-aligned.
    let result = unsafe {
        on_stack::run_on(&raw mut __wasm_stack_top, || {
            let here = current_sp();
            let limit = here - (WASM_STACK - STACK_RESERVE) as u64;
            wasm_machine::prepare(code, (bottom as u64, here), limit);
            f()
        })
    };
    ON_WASM_STACK.store(false, Ordering::Release);
    if debug {
        crate::debug!(
            "wasm: stack high-water {} KiB of {} KiB",
            on_stack::high_water(bottom, WASM_STACK) >> 10,
            WASM_STACK >> 10
        );
    }
    result
}

/// Self-test: writes just below the WASM stack from code running on it, which must hit
/// the guard page (reported as a stack overflow) rather than memory next to the stack.
#[cfg(feature = "selftest")]
pub fn write_below_stack() -> Result<core::convert::Infallible, &'static str> {
    println!("selftest: writing below the WASM stack");
    on_wasm_stack((0, 0), || {
        let below = (&raw mut __wasm_stack_bottom).wrapping_sub(8);
        // SAFETY: deliberately invalid: the write must fault in the guard page.
        unsafe { core::ptr::write_volatile(core::hint::black_box(below), 1) };
    });
    Err("a write below the WASM stack did not fault")
}

/// The stack pointer of the caller.
fn current_sp() -> u64 {
    let sp: u64;
    // SAFETY: reads rsp only.
    unsafe { core::arch::asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack)) };
    sp
}

/// Instantiates the module and calls its entry point, on the program's stack. The store
/// (memory, tables, instance) is freed as the program ends, unless it is the image's last
/// program: the machine powers off next.
fn run_module(record: &Record, template: &Template<'_>, wasi: Rc<Wasi>) -> ExitStatus {
    let mut store = Store::new(&MACHINE);
    store.set_wasi(wasi);
    let status = instantiate_and_call(&mut store, record, template);
    if crate::programs::last_running() {
        core::mem::forget(store);
    }
    status
}

fn instantiate_and_call(store: &mut Store, record: &Record, template: &Template<'_>) -> ExitStatus {
    let inst = match instantiate::instantiate_template(store, template, record.blobs().data) {
        Ok(i) => i,
        Err(InstantiateError::Trap(t)) => return ended(store, record, &t),
        Err(e) => {
            println!("kiln: {}: cannot instantiate: {e:?}", record.name());
            return ExitStatus::Failure;
        }
    };
    let Some((entry, 0, results)) = template.entry() else {
        println!(
            "kiln: {} exports none of the functions {ENTRY_POINTS:?}, or it takes parameters",
            record.name()
        );
        return ExitStatus::Failure;
    };
    let mut slots = alloc::vec![0u64; results.len()];
    match instantiate::call(store, inst, entry, &mut slots) {
        Ok(()) => {
            for (t, v) in results.zip(&slots) {
                println!("{}", Value::from_slot(t, *v));
            }
            ExitStatus::Success
        }
        Err(t) => ended(store, record, &t),
    }
}

/// How a program that left through the trap path ended: `proc_exit`, or a trap (reported
/// with a backtrace, its functions named from the module's descriptor).
fn ended(store: &mut Store, record: &Record, trap: &Trap) -> ExitStatus {
    if let Some(status) = wasm_machine::exit_status() {
        return if status == 0 {
            ExitStatus::Success
        } else {
            ExitStatus::Failure
        };
    }
    match descriptor::decode(record.descriptor(), record.blobs()) {
        Ok(module) => store.add_image_code(Rc::new(module), record.code as u64, record.code_len),
        Err(e) => println!("kiln: {}: functions cannot be named: {e}", record.name()),
    }
    println!("{}", store.describe_trap(trap));
    // A trap at instantiation (an active segment out of bounds) ran no code: it has no
    // address (pc 0) and no frames, so no backtrace.
    let (frames, cut) = wasm_machine::last_backtrace();
    let pcs = core::iter::once(trap.pc)
        .filter(|&pc| pc != 0)
        .chain(frames);
    for (i, pc) in pcs.enumerate() {
        if i == 0 {
            println!("wasm backtrace:");
        }
        match store.locate(pc) {
            Some((func, off)) => println!("  #{i} {func} (+{off:#x})"),
            None => println!("  #{i} {pc:#018x}"),
        }
    }
    if cut {
        println!("  ... (more frames)");
    }
    ExitStatus::Trap
}
