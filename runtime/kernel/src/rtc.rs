//! The CMOS real-time clock: wall-clock time in whole seconds.

use crate::calendar::days_from_civil;
use crate::port::{inb, outb};

const CMOS_INDEX: u16 = 0x70;
const CMOS_DATA: u16 = 0x71;
/// Bit 7 of the index port masks NMIs; kiln keeps them masked while it reads.
const NMI_DISABLE: u8 = 0x80;

const SECONDS: u8 = 0x00;
const MINUTES: u8 = 0x02;
const HOURS: u8 = 0x04;
const DAY: u8 = 0x07;
const MONTH: u8 = 0x08;
const YEAR: u8 = 0x09;
const STATUS_A: u8 = 0x0a;
const STATUS_B: u8 = 0x0b;
const CENTURY: u8 = 0x32;

const UPDATE_IN_PROGRESS: u8 = 0x80;
const BINARY_MODE: u8 = 0x04;
const HOUR_24: u8 = 0x02;
const PM: u8 = 0x80;

fn read(register: u8) -> u8 {
    outb(CMOS_INDEX, NMI_DISABLE | register);
    inb(CMOS_DATA)
}

/// The RTC's seconds register as stored (BCD or binary), for edge detection. Only the
/// clock self-test needs it.
#[cfg(feature = "selftest")]
pub fn raw_seconds() -> u8 {
    while read(STATUS_A) & UPDATE_IN_PROGRESS != 0 {
        core::hint::spin_loop();
    }
    read(SECONDS)
}

/// Date and time as the RTC registers give them.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Registers([u8; 7]);

fn snapshot() -> Registers {
    while read(STATUS_A) & UPDATE_IN_PROGRESS != 0 {
        core::hint::spin_loop();
    }
    Registers([SECONDS, MINUTES, HOURS, DAY, MONTH, YEAR, CENTURY].map(read))
}

fn from_bcd(v: u8) -> u64 {
    u64::from(v >> 4) * 10 + u64::from(v & 0xf)
}

/// Seconds since the Unix epoch, from the RTC (read until two reads agree).
pub fn unix_seconds() -> u64 {
    let mut regs = snapshot();
    loop {
        let again = snapshot();
        if again == regs {
            break;
        }
        regs = again;
    }
    let status_b = read(STATUS_B);
    let [sec, min, hour_raw, day, month, year, century] = regs.0;
    let decode = |v: u8| {
        if status_b & BINARY_MODE != 0 {
            u64::from(v)
        } else {
            from_bcd(v)
        }
    };
    let mut hour = decode(hour_raw & !PM);
    if status_b & HOUR_24 == 0 {
        // 12-hour mode: 12 AM is 0, 12 PM is 12.
        hour %= 12;
        if hour_raw & PM != 0 {
            hour += 12;
        }
    }
    // A missing century register reads 0 or 0xff; assume the 2000s then.
    let century = match decode(century) {
        c @ 19..=21 => c,
        _ => 20,
    };
    let year = century * 100 + decode(year);
    let days = days_from_civil(year, decode(month), decode(day));
    days * 86_400 + hour * 3_600 + decode(min) * 60 + decode(sec)
}
