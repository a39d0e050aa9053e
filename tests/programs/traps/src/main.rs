//! Ends in the WebAssembly trap its argument names: `unreachable`, `divide-by-zero`,
//! `overflow` (`i32::MIN / -1`), `out-of-bounds`, `stack-exhaustion` or `indirect`
//! (a call through a function pointer of the wrong type). Rust guards most of these
//! with checks of its own (a panic instead of the trap), so the code below steps around
//! them on purpose: these are the instructions the traps are about.

use std::hint::black_box;

#[inline(never)]
fn divide(a: i32, b: i32) -> i32 {
    // SAFETY: deliberately false for the inputs given: telling the compiler that the
    // checked division succeeds removes Rust's own checks, so that `i32.div_s` itself
    // runs on these operands and traps.
    unsafe { a.checked_div(b).unwrap_unchecked() }
}

/// Recursion that no optimisation turns into a loop (rotate is no accumulator), and
/// that keeps nothing in linear memory, so the call stack runs out, not Rust's stack.
#[inline(never)]
fn deep(n: u32) -> u32 {
    if n == u32::MAX {
        return 0;
    }
    deep(n.wrapping_add(1)).rotate_left(n)
}

fn answer(x: i32) -> i32 {
    x + 1
}

fn main() {
    let kind = std::env::args().nth(1).unwrap_or_default();
    println!("trap kind: {kind}");
    match kind.as_str() {
        "unreachable" => std::process::abort(),
        "divide-by-zero" => println!("{}", divide(black_box(7), black_box(0))),
        "overflow" => println!("{}", divide(black_box(i32::MIN), black_box(-1))),
        "out-of-bounds" => {
            let addr = black_box(0xffff_fff0usize) as *const u32;
            // SAFETY: deliberately not: the address is past the end of linear memory.
            println!("{}", unsafe { addr.read_volatile() });
        }
        "stack-exhaustion" => println!("{}", deep(black_box(0))),
        "indirect" => {
            let f: fn(i32) -> i32 = black_box(answer);
            // SAFETY: deliberately not: the type differs, which `call_indirect` checks.
            let g: fn(f64, f64) -> f64 = unsafe { std::mem::transmute(f) };
            println!("{}", g(1.0, 2.0));
        }
        _ => {
            eprintln!("unknown trap kind `{kind}`");
            std::process::exit(2);
        }
    }
    println!("no trap");
}
