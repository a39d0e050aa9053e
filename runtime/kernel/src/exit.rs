//! Leaving the machine through QEMU's `isa-debug-exit` device (I/O port 0xf4).

use crate::port::outl;
use core::arch::asm;
use kiln_abi::ExitStatus;

const DEBUG_EXIT_PORT: u16 = 0xf4;

/// Ends the machine with a raw status byte. QEMU exits with `(status << 1) | 1`.
pub fn exit_code(code: u8) -> ! {
    outl(DEBUG_EXIT_PORT, u32::from(code));
    // No exit device (another VMM, or QEMU without it): stop the CPU for good.
    loop {
        // SAFETY: with interrupts off, `hlt` just parks the CPU; nothing else runs.
        unsafe { asm!("cli", "hlt", options(nomem, nostack)) }
    }
}

/// Ends the machine with one of kiln's exit statuses.
pub fn exit(status: ExitStatus) -> ! {
    exit_code(status as u8)
}
