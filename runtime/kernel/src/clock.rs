//! Time: a monotonic nanosecond clock from the TSC, and wall-clock time from the RTC.
//!
//! The TSC rate comes from CPUID leaf 0x15 (crystal ratio) or 0x16 (base frequency) when
//! the CPU reports them; otherwise (QEMU's TCG models report neither) it is measured
//! against PIT channel 0 over at least 0.25 ms at boot. The measurement starts early
//! ([`begin`]) and ends once the rest of start-up is done ([`init`]), so that start-up's
//! own work fills the window instead of a wait. Channel 0 is used rather than the usual
//! channel 2 because channel 2's gate sits behind port 0x61, which `microvm` lacks; the
//! counter is read by latching, so no PIT interrupt is ever needed.

use crate::port::{inb, outb};
use crate::{cpu, rtc};
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use spin::Once;

const PIT_HZ: u64 = 1_193_182;
const PIT_CHANNEL0: u16 = 0x40;
const PIT_COMMAND: u16 = 0x43;
/// Channel 0, lobyte/hibyte access, mode 2 (rate generator), binary.
const PIT_MODE2_CH0: u8 = 0b0011_0100;
/// Channel 0 counter latch command.
const PIT_LATCH_CH0: u8 = 0b0000_0000;
/// PIT ticks measured for calibration: 298 ticks = 0.25 ms (one tick is 0.34%).
const CALIBRATION_TICKS: u64 = PIT_HZ / 4000;
/// Reads of the PIT after which calibration gives up (no PIT on this machine).
const CALIBRATION_MAX_READS: u32 = 1_000_000;
/// The longest window, in TSC ticks, over which the PIT counter is known not to have
/// wrapped (it wraps every 65536 ticks, 55 ms): 40 M ticks last at most 50 ms on any TSC
/// of 800 MHz or more (an x86-64 CPU's invariant TSC runs at 1 GHz or more, and QEMU's
/// TCG and KVM give the guest the host's). A longer gap between [`begin`] and [`init`] (a
/// slow debug boot) starts the measurement over, which costs another 0.25 ms of waiting
/// and more code to translate: with a window of a few milliseconds, a boot slowed by a
/// busy host or by QEMU's translation log (`bench boot` counts blocks with it) did.
const MAX_WINDOW_TSC: u64 = 40_000_000;

/// How the TSC rate was found.
#[derive(Clone, Copy, Debug)]
#[repr(u8)]
pub enum Source {
    Cpuid15,
    Cpuid16,
    Pit,
}

impl Source {
    /// Short name for the banner.
    pub fn name(self) -> &'static str {
        match self {
            Source::Cpuid15 => "cpuid 0x15",
            Source::Cpuid16 => "cpuid 0x16",
            Source::Pit => "pit",
        }
    }
}

/// The sources by their number in [`SOURCE`].
const SOURCES: [Source; 3] = [Source::Cpuid15, Source::Cpuid16, Source::Pit];

/// TSC ticks per second, and how that was found (the source's index in [`SOURCES`]), set
/// by [`init`]. Plain words, like the next, read without a check for being set: each
/// check would be one more branch for an emulator.
static TSC_HZ: AtomicU64 = AtomicU64::new(0);
static SOURCE: AtomicU8 = AtomicU8::new(0);
/// Nanoseconds per TSC tick as a 32.32 fixed-point number, set by [`init`] (0 before:
/// every time reads as 0). Every clock reading converts with it.
static NS_PER_TICK_32: AtomicU64 = AtomicU64::new(0);
/// RTC seconds and monotonic ns read at the same moment, for the wall clock.
static WALL_BASE: Once<(u64, u64)> = Once::new();

fn pit_count() -> u16 {
    outb(PIT_COMMAND, PIT_LATCH_CH0);
    let lo = inb(PIT_CHANNEL0);
    let hi = inb(PIT_CHANNEL0);
    u16::from_le_bytes([lo, hi])
}

/// One PIT reading, bracketed by TSC readings taken just before and just after it.
struct Sample {
    pit: u16,
    tsc: u64,
    width: u64,
}

/// Reads the PIT between two TSC readings.
///
/// Both counters follow the host's clock under emulation, so time lost between two
/// samples costs nothing; what matters is how well each PIT reading is dated. The
/// bracket says it: under TCG the first run of any code is translated first (tens of
/// microseconds), and a busy host can preempt the virtual CPU mid-read. Such samples
/// are wide, and calibration never starts or ends on one.
#[inline(always)]
fn sample() -> Sample {
    let before = cpu::rdtsc();
    let pit = pit_count();
    let after = cpu::rdtsc();
    Sample {
        pit,
        tsc: before + (after - before) / 2,
        width: after - before,
    }
}

/// Where a PIT measurement started: a reading taken just as the counter changed, with a
/// narrow TSC bracket.
pub struct Edge {
    pit: u16,
    tsc: u64,
    /// The narrowest bracket seen while warming up; samples up to twice as wide count as
    /// well dated.
    narrowest: u64,
}

impl Edge {
    fn tight(&self, s: &Sample) -> bool {
        s.width <= twice(self.narrowest)
    }
}

/// `2 * width`, saturated without a branch (a bracket is never near `u64::MAX / 2`, but
/// the warm-up starts from `u64::MAX`).
fn twice(width: u64) -> u64 {
    width.min(u64::MAX / 2) * 2
}

/// Programs the PIT and waits for a counter edge read tightly, or `None` if the PIT does
/// not count.
fn pit_start() -> Option<Edge> {
    outb(PIT_COMMAND, PIT_MODE2_CH0);
    outb(PIT_CHANNEL0, 0); // reload value 0 = 65536: the longest period, 55 ms
    outb(PIT_CHANNEL0, 0);
    // Warm up (translate the loop) and learn how long an undisturbed reading takes.
    let mut last = sample().pit;
    let mut narrowest = u64::MAX;
    // `black_box` keeps this a loop: unrolled, it would be one long block of port I/O,
    // slow for an emulator to translate. Tested at its end only: it runs at least once.
    let mut warm_up = core::hint::black_box(8u32);
    loop {
        narrowest = narrowest.min(sample().width);
        warm_up -= 1;
        if warm_up == 0 {
            break;
        }
    }
    // Start on a counter edge, read tightly, so the first partial tick is not counted.
    // (`&`, not `&&`: one branch where two would each end a translated block.)
    let limit = twice(narrowest);
    for _ in 0..CALIBRATION_MAX_READS {
        let s = sample();
        let edge = (s.pit != last) & (s.width <= limit);
        last = s.pit;
        if edge {
            return Some(Edge {
                pit: s.pit,
                tsc: s.tsc,
                narrowest,
            });
        }
    }
    None
}

/// TSC ticks per second measured against the PIT from `start` on, or `None` if the PIT
/// does not count. Ends at the first tightly read sample at least
/// [`CALIBRATION_TICKS`] after the start, which is the first sample when start-up took
/// longer than that.
fn pit_finish(mut start: Edge) -> Option<u64> {
    let mut last = start.pit;
    let mut elapsed = 0u64;
    for _ in 0..CALIBRATION_MAX_READS {
        let s = sample();
        if s.tsc - start.tsc > MAX_WINDOW_TSC {
            // The counter may have wrapped unseen: measure afresh.
            start = pit_start()?;
            last = start.pit;
            elapsed = 0;
            continue;
        }
        // The counter counts down and wraps; the difference modulo 2^16 is the ticks passed.
        elapsed += u64::from(last.wrapping_sub(s.pit));
        last = s.pit;
        if (elapsed >= CALIBRATION_TICKS) & start.tight(&s) {
            return Some((s.tsc - start.tsc) * PIT_HZ / elapsed);
        }
    }
    None
}

fn from_cpuid() -> Option<(u64, Source)> {
    let max = cpu::cpuid(0, 0).eax;
    if max >= 0x15 {
        let r = cpu::cpuid(0x15, 0);
        if r.eax != 0 && r.ebx != 0 && r.ecx != 0 {
            return Some((
                u64::from(r.ecx) * u64::from(r.ebx) / u64::from(r.eax),
                Source::Cpuid15,
            ));
        }
    }
    if max >= 0x16 {
        let mhz = cpu::cpuid(0x16, 0).eax & 0xffff;
        if mhz != 0 {
            return Some((u64::from(mhz) * 1_000_000, Source::Cpuid16));
        }
    }
    None
}

/// A TSC rate being found: known from CPUID, or a PIT measurement under way.
pub enum Calibrating {
    Known(u64, Source),
    Pit(Edge),
    NoPit,
}

/// Starts finding the TSC rate: reads it from CPUID, or starts measuring it against the
/// PIT. [`init`] finishes; what runs in between shortens the wait there or removes it.
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn begin() -> Calibrating {
    match from_cpuid() {
        Some((hz, source)) => Calibrating::Known(hz, source),
        None => pit_start().map_or(Calibrating::NoPit, Calibrating::Pit),
    }
}

/// Finishes finding the TSC rate. Fails only if neither CPUID nor the PIT gives it.
// Called once, by `kiln_main`: inlined there (see `start`).
#[inline(always)]
pub fn init(calibrating: Calibrating) -> Result<(), &'static str> {
    const NO_RATE: &str = "no TSC rate from CPUID and the PIT does not count";
    let (tsc_hz, source) = match calibrating {
        Calibrating::Known(hz, source) => (hz, source),
        Calibrating::Pit(start) => (pit_finish(start).ok_or(NO_RATE)?, Source::Pit),
        Calibrating::NoPit => return Err(NO_RATE),
    };
    TSC_HZ.store(tsc_hz, Ordering::Relaxed);
    SOURCE.store(source as u8, Ordering::Relaxed);
    let ns_per_tick_32 = ((1_000_000_000u128 << 32) / u128::from(tsc_hz)) as u64;
    NS_PER_TICK_32.store(ns_per_tick_32, Ordering::Relaxed);
    Ok(())
}

/// TSC ticks per second and how that was found (once [`init`] has run).
pub fn tsc_rate() -> (u64, Source) {
    let source = usize::from(SOURCE.load(Ordering::Relaxed)) % SOURCES.len();
    (TSC_HZ.load(Ordering::Relaxed), SOURCES[source])
}

/// Converts TSC ticks to nanoseconds (0 before [`init`]).
pub fn ticks_to_ns(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(NS_PER_TICK_32.load(Ordering::Relaxed))) >> 32) as u64
}

/// Nanoseconds since the CPU was reset (the TSC counts from reset). Never goes back.
pub fn monotonic_ns() -> u64 {
    ticks_to_ns(cpu::rdtsc())
}

/// Nanoseconds since the Unix epoch: the RTC (read once, on first use) plus the
/// monotonic time since.
pub fn wall_clock_ns() -> u64 {
    let &(rtc_ns, mono_at_read) =
        WALL_BASE.call_once(|| (rtc::unix_seconds() * 1_000_000_000, monotonic_ns()));
    rtc_ns + (monotonic_ns() - mono_at_read)
}
