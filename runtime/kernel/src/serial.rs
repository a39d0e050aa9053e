//! COM1 16550 UART console and the `print!`/`println!` macros.
//!
//! kiln runs on one CPU with interrupts off, so the console needs no lock: each byte is
//! one port write, and a fault handler can always print even if it interrupted a print.

use crate::port::{inb, outb};
use core::fmt;

const COM1: u16 = 0x3f8;
const DATA: u16 = COM1;
const INTERRUPT_ENABLE: u16 = COM1 + 1;
const FIFO_CONTROL: u16 = COM1 + 2;
const LINE_CONTROL: u16 = COM1 + 3;
const MODEM_CONTROL: u16 = COM1 + 4;
const LINE_STATUS: u16 = COM1 + 5;

const LINE_STATUS_DATA_READY: u8 = 1;
const LINE_STATUS_TX_EMPTY: u8 = 1 << 5;

/// Programs COM1 for 115200 baud, 8 data bits, no parity, one stop bit, FIFOs on.
pub fn init() {
    outb(INTERRUPT_ENABLE, 0x00); // polled: no UART interrupts
    outb(LINE_CONTROL, 0x80); // DLAB on: the next two writes set the divisor
    outb(DATA, 0x01); // divisor 1 = 115200 baud
    outb(INTERRUPT_ENABLE, 0x00);
    outb(LINE_CONTROL, 0x03); // DLAB off, 8N1
    outb(FIFO_CONTROL, 0xc7); // enable and clear FIFOs, 14-byte threshold
    outb(MODEM_CONTROL, 0x03); // DTR + RTS
}

/// Bytes the transmit FIFO takes once it reports empty (16550A).
const FIFO_DEPTH: usize = 16;

/// Sends bytes, turning `\n` into `\r\n` for terminals. Waits for an empty transmit
/// FIFO once per 15 or 16 bytes rather than per byte: port reads are slow under
/// emulation. A byte and the `\r` that may precede it go after one check for room for
/// both, so the loop has one wait and two writes. Never inlined: one copy serves the
/// kernel's lines and the programs' output, so an emulator translates it once.
#[inline(never)]
pub fn write_bytes(bytes: &[u8]) {
    let mut room = 0;
    for &b in bytes {
        if room < 2 {
            while inb(LINE_STATUS) & LINE_STATUS_TX_EMPTY == 0 {
                core::hint::spin_loop();
            }
            room = FIFO_DEPTH;
        }
        if b == b'\n' {
            outb(DATA, b'\r');
            room -= 1;
        }
        outb(DATA, b);
        room -= 1;
    }
}

/// Reads the bytes that have arrived, without waiting; returns how many were read.
pub fn read_available(buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() && inb(LINE_STATUS) & LINE_STATUS_DATA_READY != 0 {
        buf[n] = inb(DATA);
        n += 1;
    }
    n
}

/// A piece of a line for [`print_line`].
pub enum Piece<'a> {
    Text(&'a str),
    /// A number in decimal, zero-padded to at least this many digits (at most 20).
    Num(u64, usize),
}

/// Prints one line made of text and decimal numbers, without `core::fmt`: for the lines
/// every run prints (the banner, the programs' summaries). Under an emulator each
/// distinct block of code costs its translation the first time it runs; `core::fmt`'s
/// machinery is several dozen blocks, this one loop (and one call for the whole line:
/// calls from the line's own code, one per piece, would be blocks of their own). Each
/// piece goes straight to [`write_bytes`], which sends byte by byte anyway. Never
/// inlined: the banner and the summaries share one copy.
#[inline(never)]
pub fn print_line(pieces: &[Piece]) {
    for piece in pieces {
        match *piece {
            Piece::Text(text) => write_bytes(text.as_bytes()),
            Piece::Num(value, digits) => write_bytes(Digits::new(value, digits).as_bytes()),
        }
    }
    write_bytes(b"\n");
}

/// A number's decimal digits, zero-padded: at least one, and at least the width asked.
struct Digits {
    buf: [u8; 20],
    start: usize,
}

impl Digits {
    /// All 20 digit places are filled (u64::MAX has 20 digits), from the last, in one
    /// loop whose body the compiler makes branch-free (its `if` is a select); the places
    /// before the first significant digit or the width are then left out.
    fn new(value: u64, width: usize) -> Digits {
        let mut buf = [0u8; 20];
        let mut rest = value;
        let mut shown = width.clamp(1, buf.len());
        for (place, digit) in buf.iter_mut().enumerate().rev() {
            *digit = b'0' + (rest % 10) as u8;
            // The place of a nonzero rest is significant: this digit and those after it.
            if rest != 0 {
                shown = shown.max(20 - place);
            }
            rest /= 10;
        }
        Digits {
            buf,
            start: 20 - shown,
        }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

/// The console as a `core::fmt::Write` sink.
pub struct Serial;

impl fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

#[doc(hidden)]
pub fn print_args(args: fmt::Arguments) {
    // Writing to the serial port cannot fail.
    let _ = fmt::Write::write_fmt(&mut Serial, args);
}

/// Prints to the serial console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::serial::print_args(format_args!($($arg)*)) };
}

/// Prints a line to the serial console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::serial::print_args(format_args!("{}\n", format_args!($($arg)*))) };
}
