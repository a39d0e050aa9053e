//! Deliberate faults and stress runs for `tests/kernel/`, chosen with `selftest=NAME`.
//!
//! Only built with `--features selftest`. Each fault is raised in its own named,
//! never-inlined function so the symbolized backtrace shows where it came from.

use crate::platform::KernelPlatform;
use crate::{clock, exit, frames, heap, log, paging, println, rtc};
use alloc::vec::Vec;
use core::hint::black_box;
use kiln_abi::{ExitStatus, Platform, Protection};

/// Runs the self-test `name`; returns an error for an unknown name.
pub fn run(name: &str) -> Result<core::convert::Infallible, &'static str> {
    match name {
        "page_fault" => page_fault(),
        "invalid_opcode" => invalid_opcode(),
        "stack_overflow" => {
            println!("selftest: recursing until the stack guard page");
            black_box(stack_overflow(black_box(1)));
            Err("the recursion ended without a fault")
        }
        "heap_stress" => heap_stress(),
        "wx_write_exec" => wx_write_exec(),
        "wx_exec_write" => wx_exec_write(),
        "clock" => clock_check(),
        "platform_memory" => platform_memory(),
        "frames" => single_frames(),
        "stacks" => stacks(),
        "wx_audit" => wx_audit(),
        "panic" => deliberate_panic(),
        #[cfg(feature = "wasm")]
        "wasm_stack_guard" => crate::wasm::write_below_stack(),
        _ => Err("unknown selftest (page_fault, invalid_opcode, stack_overflow, heap_stress, wx_write_exec, wx_exec_write, clock, platform_memory, frames, stacks, wx_audit, panic; wasm_stack_guard with the WASM runtime)"),
    }
}

#[inline(never)]
fn page_fault() -> ! {
    let unmapped = black_box(0xdead_b000usize) as *const u64;
    // SAFETY: deliberately invalid: this read must raise a page fault.
    let value = unsafe { core::ptr::read_volatile(unmapped) };
    panic!("read from unmapped {unmapped:p} returned {value:#x}");
}

#[inline(never)]
fn invalid_opcode() -> ! {
    // SAFETY: ud2 raises #UD, which the fault handler reports; nothing runs after it.
    unsafe { core::arch::asm!("ud2", options(noreturn)) }
}

/// Recurses with a 512-byte frame until it hits the guard page below the boot stack.
#[inline(never)]
fn stack_overflow(depth: u64) -> u64 {
    let mut frame = [0u8; 512];
    frame[0] = depth as u8;
    black_box(&mut frame);
    if black_box(depth) == 0 {
        return frame[0].into();
    }
    stack_overflow(depth + 1) + u64::from(frame[511])
}

/// A small xorshift generator: the test must be reproducible, not secure.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// Allocates blocks of mixed sizes and alignments, fills each with a pattern derived from
/// its index, frees them in random order and checks every byte before it goes.
fn heap_stress() -> Result<core::convert::Infallible, &'static str> {
    use alloc::alloc::{alloc, dealloc, Layout};
    const ROUNDS: usize = 4;
    const BLOCKS: usize = 2000;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (used_before, size) = heap::usage();
    let mut allocated_bytes = 0usize;
    let mut peak = 0usize;
    for round in 0..ROUNDS {
        let mut blocks: Vec<(*mut u8, Layout, u8)> = Vec::with_capacity(BLOCKS);
        for i in 0..BLOCKS {
            let len = match rng.below(10) {
                0..=5 => 1 + rng.below(64),
                6..=8 => 64 + rng.below(2048),
                _ => 4096 + rng.below(60_000),
            };
            let align = 1usize << rng.below(13); // 1 B .. 4 KiB
            let layout = Layout::from_size_align(len, align).map_err(|_| "bad layout")?;
            // SAFETY: the layout has a non-zero size.
            let ptr = unsafe { alloc(layout) };
            if ptr.is_null() {
                return Err("heap_stress: allocation failed");
            }
            if !(ptr as usize).is_multiple_of(align) {
                return Err("heap_stress: misaligned block");
            }
            let tag = (i * 7 + round) as u8;
            // SAFETY: `ptr` points to `len` freshly allocated bytes.
            unsafe { core::ptr::write_bytes(ptr, tag, len) };
            allocated_bytes += len;
            blocks.push((ptr, layout, tag));
        }
        peak = peak.max(heap::usage().0);
        while !blocks.is_empty() {
            let (ptr, layout, tag) = blocks.swap_remove(rng.below(blocks.len() as u64));
            // SAFETY: the block is live and `layout.size()` bytes long.
            let bytes = unsafe { core::slice::from_raw_parts(ptr, layout.size()) };
            if bytes.iter().any(|&b| b != tag) {
                return Err("heap_stress: a block's contents changed (overlapping blocks?)");
            }
            // SAFETY: allocated above with this layout and freed once.
            unsafe { dealloc(ptr, layout) };
        }
    }
    let used_after = heap::usage().0;
    println!(
        "heap_stress: {} blocks, {} KiB allocated, peak {} KiB of {} KiB heap, all contents verified",
        ROUNDS * BLOCKS,
        allocated_bytes / 1024,
        peak / 1024,
        size / 1024
    );
    if used_after != used_before {
        println!("heap_stress: leak: {used_before} bytes in use before, {used_after} after");
        exit::exit(ExitStatus::Failure);
    }
    println!("heap_stress: ok");
    exit::exit(ExitStatus::Success)
}

/// A fresh page holding one `ret`, left writable; returns its address.
fn writable_code_page(platform: &KernelPlatform) -> Result<*mut u8, &'static str> {
    let page = platform.reserve(4096).map_err(|_| "reserve failed")?;
    platform
        .protect(page, 4096, Protection::ReadWrite)
        .map_err(|_| "protect RW failed")?;
    // SAFETY: the page was just mapped read+write.
    unsafe { page.write(0xc3) }; // ret
    Ok(page)
}

#[inline(never)]
fn write_to_code(code: *mut u8) {
    // SAFETY: deliberately invalid: the page is read+execute, so this write must fault.
    unsafe { core::ptr::write_volatile(code, 0x90) };
}

#[inline(never)]
fn execute_data(code: *const u8) {
    // SAFETY: deliberately invalid when the page is not executable: the call must fault.
    // When it is executable it holds a single `ret`.
    let f: extern "C" fn() = unsafe { core::mem::transmute(code) };
    f();
}

/// Flips a page to read+execute, shows it runs, then writes to it: must fault.
fn wx_write_exec() -> Result<core::convert::Infallible, &'static str> {
    let platform = KernelPlatform;
    let code = writable_code_page(&platform)?;
    platform
        .protect(code, 4096, Protection::ReadExecute)
        .map_err(|_| "protect RX failed")?;
    execute_data(code);
    println!(
        "selftest: code page at {:#018x} ran; writing to it",
        code as u64
    );
    write_to_code(code);
    Err("writing to an executable page did not fault")
}

/// Calls into a read+write page: must fault (NX).
fn wx_exec_write() -> Result<core::convert::Infallible, &'static str> {
    let platform = KernelPlatform;
    let code = writable_code_page(&platform)?;
    println!("selftest: executing writable page at {:#018x}", code as u64);
    execute_data(code);
    Err("executing a writable page did not fault")
}

/// Checks the TSC clock against the RTC over two RTC second edges (exactly 2 s apart)
/// and that many back-to-back reads never go backwards. Fails beyond 5% off.
fn clock_check() -> Result<core::convert::Infallible, &'static str> {
    const READS: usize = 100_000;
    const EDGES: u64 = 2;
    let mut last = clock::monotonic_ns();
    for _ in 0..READS {
        let now = clock::monotonic_ns();
        if now < last {
            println!("clock: monotonic FAILED: {now} after {last}");
            exit::exit(ExitStatus::Failure);
        }
        last = now;
    }
    println!("clock: monotonic ok ({READS} reads)");
    let wait_edge = || {
        let start = rtc::raw_seconds();
        while rtc::raw_seconds() == start {
            core::hint::spin_loop();
        }
        clock::monotonic_ns()
    };
    let t0 = wait_edge();
    let mut t1 = t0;
    for _ in 0..EDGES {
        t1 = wait_edge();
    }
    let kiln_ns = t1 - t0;
    let rtc_ns = EDGES * 1_000_000_000;
    let permille = (kiln_ns as i128 - rtc_ns as i128) * 1000 / rtc_ns as i128;
    let (hz, source) = clock::tsc_rate();
    println!(
        "clock: kiln_ns={kiln_ns} rtc_ns={rtc_ns} error={permille} permille (tsc {hz} Hz from {})",
        source.name()
    );
    println!(
        "clock: wall clock {} s since the epoch",
        clock::wall_clock_ns() / 1_000_000_000
    );
    if permille.abs() > 50 {
        println!("clock: rate FAILED: TSC and RTC disagree by more than 5%");
        exit::exit(ExitStatus::Failure);
    }
    println!("clock: rate ok");
    exit::exit(ExitStatus::Success)
}

/// Walks the whole address space and checks that no page is both writable and
/// executable, that there is code, and that the kernel's own text is not writable.
fn wx_audit() -> Result<core::convert::Infallible, &'static str> {
    let platform = KernelPlatform;
    // Add a JIT-style page flipped from RW to RX, so the audit also covers platform pages.
    let code = writable_code_page(&platform)?;
    platform
        .protect(code, 4096, Protection::ReadExecute)
        .map_err(|_| "protect RX failed")?;
    let audit = paging::audit();
    println!(
        "wx_audit: {} read-only, {} read-write, {} read-execute, {} write+execute pages",
        audit.read_only, audit.read_write, audit.read_execute, audit.write_execute
    );
    if audit.write_execute != 0 || audit.read_execute == 0 || audit.read_only == 0 {
        println!("wx_audit: FAILED");
        exit::exit(ExitStatus::Failure);
    }
    println!("wx_audit: ok");
    exit::exit(ExitStatus::Success)
}

/// Exercises `Platform::reserve/protect/release` the way a WASM linear memory uses them:
/// a 4 GiB + guard reservation, pages made accessible far apart, zero on first use,
/// contents dropped by `Protection::None`, and every frame back after `release`.
fn platform_memory() -> Result<core::convert::Infallible, &'static str> {
    const PAGE: usize = 4096;
    const REGION: usize = (4 << 30) + (2 << 30);
    let platform = KernelPlatform;
    let (frames_before, _) = frames::usage();
    let base = platform
        .reserve(REGION)
        .map_err(|_| "reserve of 6 GiB failed")?;
    if paging::is_mapped(base as u64) {
        return Err("a fresh reservation is already accessible");
    }
    let offsets = [0usize, 2 * PAGE, 64 << 20, (4 << 30) - 2 * PAGE];
    for &off in &offsets {
        // SAFETY: `off..off + 2 pages` lies inside the reservation.
        let page = unsafe { base.add(off) };
        platform
            .protect(page, 2 * PAGE, Protection::ReadWrite)
            .map_err(|_| "protect RW failed")?;
        // SAFETY: the two pages were just made readable and writable.
        let bytes = unsafe { core::slice::from_raw_parts_mut(page, 2 * PAGE) };
        if bytes.iter().any(|&b| b != 0) {
            return Err("a newly accessible page is not zeroed");
        }
        bytes.fill(0xa5);
        platform
            .protect(page, 2 * PAGE, Protection::Read)
            .map_err(|_| "protect R failed")?;
        if bytes.iter().any(|&b| b != 0xa5) {
            return Err("contents changed when the page became read-only");
        }
    }
    let mapped = frames::usage().0 - frames_before;
    // Give the first pair back and take it again: it must come back zeroed.
    platform
        .protect(base, 2 * PAGE, Protection::None)
        .map_err(|_| "protect None failed")?;
    if paging::is_mapped(base as u64) {
        return Err("a page given back with Protection::None is still mapped");
    }
    platform
        .protect(base, PAGE, Protection::ReadWrite)
        .map_err(|_| "protect RW again failed")?;
    // SAFETY: the page was just made readable and writable again.
    if unsafe { core::slice::from_raw_parts(base, PAGE) }
        .iter()
        .any(|&b| b != 0)
    {
        return Err("a page taken again still holds its old contents");
    }
    // SAFETY: only pointer arithmetic inside the reservation; nothing is accessed.
    let outside = unsafe { base.add(REGION) };
    if platform
        .protect(outside, PAGE, Protection::ReadWrite)
        .is_ok()
    {
        return Err("protect outside the reservation was accepted");
    }
    platform.release(base, REGION);
    let leaked = frames::usage().0 - frames_before;
    println!(
        "platform_memory: {} pages mapped over 4 GiB, {} frames in use after release (page tables)",
        offsets.len() * 2,
        leaked
    );
    // Only the region's page tables may stay: one PDPT, up to 3 directories, 4 tables.
    if leaked > 8 || leaked >= mapped {
        println!("platform_memory: FAILED: {leaked} frames not returned");
        exit::exit(ExitStatus::Failure);
    }
    println!("platform_memory: ok");
    exit::exit(ExitStatus::Success)
}

/// Takes more single frames than the RAM below the image holds (they come from there
/// first), checks that none lies where no RAM is usable (page 0, the legacy hole between
/// 640 KiB and 1 MiB, the image), writes each one whole and reads it back, and frees them.
#[inline(never)]
fn single_frames() -> Result<core::convert::Infallible, &'static str> {
    const COUNT: usize = 512;
    const WORDS: usize = 4096 / 8;
    let image = paging::kernel_start()..paging::kernel_end();
    let mut taken = Vec::with_capacity(COUNT);
    for _ in 0..COUNT {
        taken.push(frames::alloc().ok_or("out of frames")?);
    }
    let below_image = taken.iter().filter(|&&f| f < image.start).count();
    for (i, &frame) in taken.iter().enumerate() {
        if frame < 4096 || (0xa_0000..0x10_0000).contains(&frame) || image.contains(&frame) {
            println!("frames: FAILED: frame {i} at {frame:#x} is not usable RAM");
            exit::exit(ExitStatus::Failure);
        }
        // SAFETY: the frame was just allocated, so nothing else uses it; RAM is identity
        // mapped read+write.
        let words = unsafe { core::slice::from_raw_parts_mut(frame as *mut u64, WORDS) };
        words.fill(frame ^ i as u64);
    }
    for (i, &frame) in taken.iter().enumerate() {
        // SAFETY: as above; the frame is still ours.
        let words = unsafe { core::slice::from_raw_parts(frame as *const u64, WORDS) };
        if words.iter().any(|&w| w != frame ^ i as u64) {
            println!("frames: FAILED: frame {i} at {frame:#x} did not keep what was written");
            exit::exit(ExitStatus::Failure);
        }
    }
    taken.sort_unstable();
    if taken.windows(2).any(|w| w[0] == w[1]) {
        return Err("a frame was handed out twice");
    }
    for &frame in &taken {
        // SAFETY: every frame came from `frames::alloc` and is no longer used.
        unsafe { frames::free(frame) };
    }
    println!("frames: {COUNT} single frames written and read back, {below_image} below the image");
    println!("frames: ok");
    exit::exit(ExitStatus::Success);
}

/// Native stacks come and go with every program: makes and drops more 4 MiB stacks than
/// RAM holds, writing each one's deepest page from code running on it, and checks that
/// every frame comes back and that a refused run larger than RAM loses none.
#[inline(never)]
fn stacks() -> Result<core::convert::Infallible, &'static str> {
    const SIZE: usize = 4 << 20;
    const ROUNDS: usize = 64; // 256 MiB in all, on a machine with 128 MiB
    let (frames_before, _) = frames::usage();
    // Writes `value` to the deepest page of `stack` from code running on it; reads it back.
    let write_deepest = |stack: &crate::stack::Stack, value: u64| {
        stack.run(|| {
            let here = black_box(0u64);
            let top = &here as *const u64 as usize;
            // The page just above the guard page.
            let bottom = (top - (SIZE - 4096)) & !4095;
            // SAFETY: `[bottom, top)` lies inside this mapped stack, below the live frame.
            unsafe {
                (bottom as *mut u64).write_volatile(value);
                (bottom as *const u64).read_volatile()
            }
        })
    };
    for round in 1..=ROUNDS as u64 {
        let stack = crate::stack::Stack::new(SIZE).map_err(|_| "a stack could not be mapped")?;
        if write_deepest(&stack, round) != round {
            return Err("a stack's deepest page did not keep what was written");
        }
    }
    // A run larger than RAM is refused without using up the RAM left for smaller ones:
    // with the freed run held, the next stack still gets frames.
    let held = crate::stack::Stack::new(SIZE).map_err(|_| "a stack could not be mapped")?;
    if frames::alloc_contiguous(frames::usage().1 + 1).is_some() {
        return Err("a run larger than RAM was handed out");
    }
    let next = crate::stack::Stack::new(SIZE)
        .map_err(|_| "a refused large run lost the frames left for the next stack")?;
    drop((held, next));
    // Under the debug log a stack starts zeroed, so its high-water mark is exact.
    log::set_max_level(log::Level::Debug);
    let stack = crate::stack::Stack::new(SIZE).map_err(|_| "a stack could not be mapped")?;
    let untouched = stack.high_water();
    write_deepest(&stack, u64::MAX);
    let deepest = stack.high_water();
    drop(stack);
    log::set_max_level(log::Level::Info);
    println!("stacks: high-water mark {untouched} bytes before use, {deepest} after");
    if untouched != 0 || deepest < SIZE - 4096 {
        return Err("the high-water mark of a zeroed stack is wrong");
    }
    // Page tables of the released regions stay (their address ranges are never reused).
    let kept = frames::usage().0 - frames_before;
    println!("stacks: {ROUNDS} stacks of 4 MiB made and dropped, {kept} frames still in use");
    if kept > 4 * ROUNDS as u64 {
        println!("stacks: FAILED: stack frames were not returned");
        exit::exit(ExitStatus::Failure);
    }
    println!("stacks: ok");
    exit::exit(ExitStatus::Success)
}

#[inline(never)]
fn deliberate_panic() -> ! {
    panic!("selftest: deliberate panic");
}
