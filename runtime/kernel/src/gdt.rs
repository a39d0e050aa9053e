//! The kernel's GDT and TSS. Long mode ignores segment bases and limits, so the GDT only
//! holds a 64-bit code segment, a data segment and the TSS, whose IST slots give every
//! exception handler a known-good stack (a stack overflow must not fault again while the
//! CPU pushes the exception frame).

use crate::boot;
use crate::start::CpuTable;
use core::arch::asm;
use core::mem::size_of;

/// Selector of the 64-bit kernel code segment.
pub const KERNEL_CODE: u16 = 0x08;
/// Selector of the kernel data segment.
pub const KERNEL_DATA: u16 = 0x10;
/// The code and data descriptors. `boot` loads a GDT with the same two at the same
/// selectors before entering Rust, so switching to this GDT needs no segment reload.
/// Their accessed bit is already set: the CPU would otherwise write it into the GDT
/// on the first load of each.
pub const CODE_DESCRIPTOR: u64 = 0x00af_9b00_0000_ffff;
pub const DATA_DESCRIPTOR: u64 = 0x00cf_9300_0000_ffff;
const TSS_SELECTOR: u16 = 0x18;

/// IST slot (1-based, as in the IDT gate) of ordinary exceptions.
pub const IST_FAULT: u8 = 1;
/// IST slot of #DF, NMI and #MC, which may strike while the ordinary IST stack is in use.
pub const IST_FATAL: u8 = 2;

/// The 64-bit task-state segment: only the IST table is used.
#[repr(C, packed(4))]
struct Tss {
    reserved0: u32,
    rsp: [u64; 3],
    reserved1: u64,
    ist: [u64; 7],
    reserved2: u64,
    reserved3: u16,
    iomap_base: u16,
}

static TSS: CpuTable<Tss> = CpuTable::new(Tss {
    reserved0: 0,
    rsp: [0; 3],
    reserved1: 0,
    ist: [0; 7],
    reserved2: 0,
    reserved3: 0,
    iomap_base: size_of::<Tss>() as u16, // no I/O permission bitmap
});
static GDT: CpuTable<[u64; 5]> = CpuTable::new([0; 5]);

#[repr(C, packed)]
struct DescriptorPointer {
    limit: u16,
    base: u64,
}

fn stack_top(sym: &u8) -> u64 {
    sym as *const u8 as u64
}

/// Builds the TSS and GDT and loads them (and TR).
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn init() {
    // SAFETY: only the addresses of the linker-placed stack symbols are taken.
    let (fault_top, fatal_top) = unsafe {
        (
            stack_top(&boot::__ist_fault_top),
            stack_top(&boot::__ist_fatal_top),
        )
    };
    // SAFETY: `kiln_main` calls this once, before the TSS is loaded (`ltr` below).
    let tss = unsafe {
        TSS.init(|tss| {
            tss.ist[usize::from(IST_FAULT) - 1] = fault_top;
            tss.ist[usize::from(IST_FATAL) - 1] = fatal_top;
        })
    };
    let base = tss as *const Tss as u64;
    let limit = (size_of::<Tss>() - 1) as u64;
    // A 16-byte system descriptor: type 9 (available 64-bit TSS), present.
    let tss_low = (limit & 0xffff)
        | ((base & 0xff_ffff) << 16)
        | (0x89 << 40)
        | (((limit >> 16) & 0xf) << 48)
        | (((base >> 24) & 0xff) << 56);
    let tss_high = base >> 32;
    // SAFETY: `kiln_main` calls this once, before the GDT is loaded (`lgdt` below).
    let gdt =
        unsafe { GDT.init(|gdt| *gdt = [0, CODE_DESCRIPTOR, DATA_DESCRIPTOR, tss_low, tss_high]) };
    let pointer = DescriptorPointer {
        limit: (size_of::<[u64; 5]>() - 1) as u16,
        base: gdt.as_ptr() as u64,
    };
    // SAFETY: the GDT is 'static. CS, DS, ES and SS hold the selectors `boot` loaded,
    // whose descriptors here are the same (`CODE_DESCRIPTOR`, `DATA_DESCRIPTOR`), so the
    // segment registers stay valid without a reload (which costs a far return and three
    // segment loads, slow under emulation); TR is loaded for the first time.
    unsafe {
        asm!(
            "lgdt [{ptr}]",
            "ltr {tss:x}",
            ptr = in(reg) &pointer,
            tss = in(reg) u64::from(TSS_SELECTOR),
        )
    }
}
