//! The one small interface between the language runtimes and the machine.
//!
//! `runtime/wasm` and `runtime/smalltalk` never know whether they run on bare metal
//! (`runtime/kernel`) or inside a Linux process (`runtime/hosted`): both implement
//! [`Platform`], and the language crates take a `&dyn Platform` (or a generic `P:
//! Platform`). Keep this trait small; anything a language needs from the machine that
//! is not here must be added here, for both platforms, not worked around.

/// Access rights of a range of pages. There is deliberately no read+write+execute:
/// kiln keeps W^X everywhere, so code is written while `ReadWrite` and then flipped to
/// `ReadExecute`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protection {
    /// Reserved address space; any access faults.
    None,
    /// Readable only.
    Read,
    /// Readable and writable, never executable.
    ReadWrite,
    /// Readable and executable, never writable.
    ReadExecute,
}

/// Why a memory request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryError {
    /// Not enough physical memory or address space.
    OutOfMemory,
    /// The range is not page-aligned or not inside a region this platform handed out.
    BadRange,
}

/// The machine as the language runtimes see it.
pub trait Platform {
    /// Size of a page in bytes; every address and length given to the memory calls is a
    /// multiple of it.
    fn page_size(&self) -> usize {
        4096
    }

    /// Writes bytes to the console (serial port on bare metal, stdout when hosted).
    fn console_write(&self, bytes: &[u8]);

    /// Writes bytes to the error console (the same serial port on bare metal, stderr hosted).
    fn console_write_err(&self, bytes: &[u8]) {
        self.console_write(bytes)
    }

    /// Reads up to `buf.len()` bytes of console input; returns 0 at end of input.
    fn console_read(&self, buf: &mut [u8]) -> usize;

    /// Nanoseconds since an arbitrary fixed point; never goes backwards.
    fn monotonic_ns(&self) -> u64;

    /// Nanoseconds since the Unix epoch, from the real-time clock.
    fn wall_clock_ns(&self) -> u64;

    /// Fills `buf` with random bytes (hardware randomness where the CPU has it).
    fn random_fill(&self, buf: &mut [u8]);

    /// Reserves `len` bytes of address space with no access. Pages become usable through
    /// [`Platform::protect`]; pages made accessible for the first time read as zero.
    fn reserve(&self, len: usize) -> Result<*mut u8, MemoryError>;

    /// Sets the protection of `[addr, addr + len)` inside a reserved region, backing
    /// the pages with memory as needed. `Protection::None` gives the memory back.
    fn protect(&self, addr: *mut u8, len: usize, prot: Protection) -> Result<(), MemoryError>;

    /// Returns a whole reserved region to the platform.
    fn release(&self, addr: *mut u8, len: usize);

    /// Ends the program (the whole machine on bare metal) with `status`.
    fn exit(&self, status: i32) -> !;
}
