//! Exit statuses a kiln guest reports to the host.
//!
//! Under QEMU the guest exits through the `isa-debug-exit` device, and QEMU's own
//! process status becomes `(status << 1) | 1`. xtask undoes that mapping and names the
//! status with [`ExitStatus::describe`], so the host-side and guest-side meanings can
//! never drift apart.

/// Why a guest stopped. The numeric values are what the guest writes to the exit port.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// The program (or the runtime with nothing to run) finished normally.
    Success = 0,
    /// The program asked to exit with a failure status of its own (e.g. `proc_exit(1)`).
    Failure = 1,
    /// A Rust panic inside the runtime.
    Panic = 3,
    /// A CPU exception the runtime did not expect (page fault, invalid opcode, ...).
    Fault = 4,
    /// A WASM trap or an unhandled Smalltalk error in a guest program.
    Trap = 5,
    /// The runtime could not start: bad command line, missing CPU feature, no memory.
    BootError = 6,
}

impl ExitStatus {
    /// The status a guest byte names, if it is one of kiln's own statuses.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => Self::Success,
            1 => Self::Failure,
            3 => Self::Panic,
            4 => Self::Fault,
            5 => Self::Trap,
            6 => Self::BootError,
            _ => return None,
        })
    }

    /// A short human description, used by xtask when it reports how a guest ended and
    /// by the kernel's summary line after each program. A table indexed by the status
    /// rather than a match: a load is no branch for an emulator to translate.
    pub fn describe(self) -> &'static str {
        /// By status value; 2 is no status.
        const TEXT: [&str; 7] = [
            "success",
            "program failure",
            "",
            "runtime panic",
            "CPU fault",
            "guest trap",
            "boot error",
        ];
        TEXT[self as usize]
    }
}

/// QEMU's process status for a guest that wrote `code` to `isa-debug-exit`.
pub const fn qemu_status(code: u8) -> i32 {
    ((code as i32) << 1) | 1
}

/// The guest code behind a QEMU process status, if the guest exited through
/// `isa-debug-exit` (those statuses are always odd).
pub const fn guest_code(qemu_status: i32) -> Option<u8> {
    if qemu_status & 1 == 1 && qemu_status > 0 && qemu_status < 512 {
        Some((qemu_status >> 1) as u8)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_mapping_round_trips_every_status() {
        for code in 0..=255u8 {
            assert_eq!(guest_code(qemu_status(code)), Some(code));
        }
        // QEMU's own statuses (0 = powered off normally, 2 = error) are not guest codes.
        assert_eq!(guest_code(0), None);
        assert_eq!(guest_code(2), None);
    }

    #[test]
    fn every_named_status_parses_back() {
        for s in [
            ExitStatus::Success,
            ExitStatus::Failure,
            ExitStatus::Panic,
            ExitStatus::Fault,
            ExitStatus::Trap,
            ExitStatus::BootError,
        ] {
            assert_eq!(ExitStatus::from_code(s as u8), Some(s));
            assert!(!s.describe().is_empty(), "{s:?}");
        }
        assert_eq!(ExitStatus::Trap.describe(), "guest trap");
        assert_eq!(ExitStatus::from_code(2), None);
    }
}
