//! Hello world with arguments and environment: prints a greeting, every argument after
//! the program name, and the environment variables whose names start with `KILN_`
//! (sorted, so the output does not depend on the order the host keeps them in).

fn main() {
    println!("hello from a wasm32-wasip1 program");
    for (i, arg) in std::env::args().enumerate().skip(1) {
        println!("arg {i}: {arg}");
    }
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| k.starts_with("KILN_"))
        .collect();
    vars.sort();
    for (k, v) in vars {
        println!("env {k}={v}");
    }
    eprintln!("hello on stderr");
}
