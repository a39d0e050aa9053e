//! `poll_oneoff`: clock subscriptions sleep (a busy-wait on the monotonic clock, which
//! works the same hosted and on bare metal); descriptor subscriptions are ready at once.

use super::errno;
use super::files::Files;
use super::mem::{Mem, Res};
use super::Clock;
use alloc::vec::Vec;
use kiln_abi::Platform;

/// Size of a `subscription` and of an `event`.
const SUBSCRIPTION: u64 = 48;
const EVENT: u64 = 32;

/// `subclockflags` bit: the timeout is an absolute time.
const ABSTIME: u16 = 1;

/// An event to report: userdata, errno, event type, bytes available.
type Event = (u64, u32, u8, u64);

pub fn poll_oneoff(
    p: &dyn Platform,
    files: &Files,
    mem: &mut Mem<'_>,
    subs: u64,
    events: u64,
    count: u64,
    nevents: u64,
) -> Res {
    if count == 0 {
        return Err(errno::INVAL);
    }
    let now = p.monotonic_ns();
    let mut ready: Vec<Event> = Vec::new();
    // Clock subscriptions: userdata and the monotonic time they fire at.
    let mut timers: Vec<(u64, u64)> = Vec::new();
    for i in 0..count {
        let at = subs.checked_add(i * SUBSCRIPTION).ok_or(errno::FAULT)?;
        let userdata = mem.u64(at)?;
        let tag = mem.u8(at + 8)?;
        match tag {
            0 => {
                let timeout = mem.u64(at + 24)?;
                let absolute = mem.u16(at + 40)? & ABSTIME != 0;
                match Clock::from_id(mem.u32(at + 16)?) {
                    Some(clock) if absolute => {
                        let left = timeout.saturating_sub(clock.now(p));
                        timers.push((userdata, now.saturating_add(left)));
                    }
                    Some(_) => timers.push((userdata, now.saturating_add(timeout))),
                    None => ready.push((userdata, errno::INVAL, tag, 0)),
                }
            }
            1 | 2 => {
                let fd = u64::from(mem.u32(at + 16)?);
                match files.poll_ready(fd, tag == 2) {
                    Ok(n) => ready.push((userdata, errno::SUCCESS, tag, n)),
                    Err(e) => ready.push((userdata, e, tag, 0)),
                }
            }
            _ => return Err(errno::INVAL),
        }
    }
    if ready.is_empty() {
        let deadline = timers.iter().map(|t| t.1).min().unwrap_or(now);
        while p.monotonic_ns() < deadline {
            core::hint::spin_loop();
        }
        let now = p.monotonic_ns();
        ready.extend(
            timers
                .iter()
                .filter(|t| t.1 <= now)
                .map(|t| (t.0, errno::SUCCESS, 0, 0)),
        );
    }
    for (k, (userdata, error, tag, nbytes)) in ready.iter().enumerate() {
        let at = events.checked_add(k as u64 * EVENT).ok_or(errno::FAULT)?;
        mem.slice(at, EVENT)?.fill(0);
        mem.put_u64(at, *userdata)?;
        mem.put_u16(at + 8, *error as u16)?;
        mem.put_u8(at + 10, *tag)?;
        mem.put_u64(at + 16, *nbytes)?;
    }
    mem.put_u32(nevents, ready.len() as u32)
}
