//! Hello world with arguments and environment: prints a greeting, every argument after
//! the program name, and the environment variables whose names start with `KILN_`
//! (sorted, so the output does not depend on the order the host keeps them in).
//! With `--stdin` it also counts the lines and bytes of its input; with `--time` it
//! checks the real-time clock and sleeps 20 ms on the monotonic one; with `--exit N` it
//! ends with exit status N.

use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn main() {
    println!("hello from a wasm32-wasip1 program");
    let args: Vec<String> = std::env::args().skip(1).collect();
    for (i, arg) in args.iter().enumerate() {
        println!("arg {}: {arg}", i + 1);
    }
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("KILN_"))
        .collect();
    vars.sort();
    for (k, v) in vars {
        println!("env {k}={v}");
    }
    if args.iter().any(|a| a == "--stdin") {
        let mut input = Vec::new();
        std::io::stdin()
            .read_to_end(&mut input)
            .expect("reading stdin");
        let lines = input.iter().filter(|&&b| b == b'\n').count();
        println!("stdin: {lines} lines, {} bytes", input.len());
    }
    if args.iter().any(|a| a == "--time") {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        println!(
            "realtime after 2020: {}",
            since_epoch > Duration::from_secs(1_577_836_800)
        );
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(20));
        println!(
            "slept 20 ms: {}",
            start.elapsed() >= Duration::from_millis(20)
        );
    }
    eprintln!("hello on stderr");
    // `--exit N`: end through `proc_exit(N)` instead of returning from main.
    if let Some(code) = args
        .iter()
        .position(|a| a == "--exit")
        .and_then(|i| args.get(i + 1)?.parse().ok())
    {
        std::process::exit(code);
    }
}
