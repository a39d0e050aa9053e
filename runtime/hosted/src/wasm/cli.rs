//! The `kiln-hosted wasm` and `kiln-hosted compile-bench` commands.

use kiln_abi::ExitStatus;
use kiln_wasm::instance::instantiate::{self as instance, InstantiateError};
use kiln_wasm::instance::template;
use kiln_wasm::instance::wasi_link;
use kiln_wasm::instance::Trap;
use kiln_wasm::instance::Value;
use kiln_wasm::instance::{Extern, Store};
use kiln_wasm::module::ExportKind;
use kiln_wasm::wasi::tree::Tree;
use kiln_wasm::wasi::Wasi;
use std::path::Path;
use std::process::ExitCode;
use std::rc::Rc;

/// Native stack of the thread WASM runs on (generated code may use most of it).
pub const WASM_THREAD_STACK: usize = 64 << 20;

/// Runs `f` on a thread with a stack large enough for generated code.
pub fn on_wasm_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(WASM_THREAD_STACK)
        .spawn(f)
        .expect("cannot start the WASM thread")
        .join()
        .expect("the WASM thread panicked")
}

/// `trap: <kind> in <function> (+0xOFF)`.
pub fn describe_trap(store: &Store, trap: &Trap) -> String {
    store.describe_trap(trap)
}

fn fail(status: ExitStatus, msg: String) -> ExitCode {
    eprintln!("kiln-hosted wasm: {msg}");
    ExitCode::from(status as u8)
}

/// Reads `path` (binary or text format) and compiles it: the module's binary bytes and
/// the compiled module, or the exit code after the failure was reported (`BootError` if
/// the file cannot be read, `Failure` if it does not compile).
fn load(path: &str) -> Result<(Vec<u8>, kiln_wasm::CompiledModule), ExitCode> {
    let bytes = std::fs::read(path)
        .map_err(|e| fail(ExitStatus::BootError, format!("cannot read {path}: {e}")))?;
    let bytes =
        wat_to_wasm(bytes).map_err(|e| fail(ExitStatus::Failure, format!("{path}: {e}")))?;
    let module = kiln_wasm::compile(&bytes, kiln_wasm::supported_features())
        .map_err(|e| fail(ExitStatus::Failure, format!("{path}: {e}")))?;
    Ok((bytes, module))
}

/// What `kiln-hosted wasm` runs: the module, its entry point and its WASI world.
struct RunOpts {
    path: String,
    invoke: Option<String>,
    args: Vec<String>,
    env: Vec<String>,
    /// `(host directory, guest directory)` pairs for the read-only tree.
    dirs: Vec<(String, String)>,
}

const USAGE: &str = "usage: kiln-hosted wasm [--dir HOST[::GUEST]]... [--env KEY=VALUE]... FILE.wasm [--invoke NAME] [ARGS...]";

/// Reads the options: `--dir` and `--env` before the file, `--invoke` before the first
/// program argument; everything after that goes to the program untouched.
fn parse_opts(args: Vec<String>) -> Result<RunOpts, String> {
    let mut opts = RunOpts {
        path: String::new(),
        invoke: None,
        args: Vec::new(),
        env: Vec::new(),
        dirs: Vec::new(),
    };
    let mut path = None;
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut value = |what: &str| it.next().ok_or(format!("{a} needs {what}"));
        match a.as_str() {
            _ if !opts.args.is_empty() => opts.args.push(a),
            "--invoke" => opts.invoke = Some(value("a function name")?),
            "--env" if path.is_none() => {
                let kv = value("KEY=VALUE")?;
                if !kv.contains('=') {
                    return Err(format!("--env {kv}: expected KEY=VALUE"));
                }
                opts.env.push(kv);
            }
            "--dir" if path.is_none() => {
                let d = value("HOST[::GUEST]")?;
                let (host, guest) = d.split_once("::").unwrap_or((&d, &d));
                opts.dirs.push((host.to_string(), guest.to_string()));
            }
            _ if path.is_none() => path = Some(a),
            _ => opts.args.push(a),
        }
    }
    opts.path = path.ok_or(USAGE)?;
    Ok(opts)
}

/// Adds the files under host directory `host` to `tree` under `guest`, recursively.
fn add_host_dir(tree: &mut Tree, host: &Path, guest: &str) -> Result<(), String> {
    tree.add_dir(guest).map_err(|e| e.to_string())?;
    let listing =
        std::fs::read_dir(host).map_err(|e| format!("cannot read {}: {e}", host.display()))?;
    for entry in listing {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", host.display()))?;
        let host_path = entry.path();
        let guest_path = format!("{guest}/{}", entry.file_name().to_string_lossy());
        if host_path.is_dir() {
            add_host_dir(tree, &host_path, &guest_path)?;
        } else {
            let bytes = std::fs::read(&host_path)
                .map_err(|e| format!("cannot read {}: {e}", host_path.display()))?;
            tree.add_file(&guest_path, bytes)
                .map_err(|e| e.to_string())?;
        }
    }
    Ok(())
}

/// `kiln-hosted wasm [--dir HOST[::GUEST]] [--env K=V] app.wasm [--invoke NAME] [ARGS...]`.
///
/// The program sees the `--dir` trees read-only under the preopened `/` (a guest
/// directory `data` or `/data` is `/data`; without `::GUEST` the host path is used), and
/// only the `--env` variables.
pub fn run(args: Vec<String>) -> ExitCode {
    let opts = match parse_opts(args) {
        Ok(opts) => opts,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let mut tree = Tree::default();
    for (host, guest) in &opts.dirs {
        if let Err(e) = add_host_dir(&mut tree, Path::new(host), guest) {
            return fail(ExitStatus::BootError, format!("--dir {host}::{guest}: {e}"));
        }
    }
    on_wasm_thread(move || run_file(opts, tree))
}

fn run_file(opts: RunOpts, tree: Tree) -> ExitCode {
    let (path, invoke, args) = (opts.path.as_str(), opts.invoke, &opts.args[..]);
    let module = match load(path) {
        Ok((_, m)) => Rc::new(m),
        Err(code) => return code,
    };
    let (name, func) = match invoke {
        Some(name) => match module.info.export(&name) {
            Some(e) if e.kind == ExportKind::Func => (name, e.index),
            _ => {
                let msg = format!("{path} exports no function `{name}`");
                return fail(ExitStatus::Failure, msg);
            }
        },
        None => match template::entry_point(&module.info) {
            Some((name, f)) => (name.to_string(), f),
            None => {
                let msg = format!(
                    "{path} exports none of the functions a program starts at ({})",
                    template::ENTRY_POINTS.join(", ")
                );
                return fail(ExitStatus::Failure, msg);
            }
        },
    };
    let ty = module.info.func_type(func).clone();
    // Arguments of a function without parameters are the program's (WASI) arguments.
    let (args, program_args) = if ty.params.is_empty() {
        (&[][..], args)
    } else {
        (args, &[][..])
    };
    if args.len() != ty.params.len() {
        let msg = format!(
            "`{name}` takes {} arguments, {} given",
            ty.params.len(),
            args.len()
        );
        return fail(ExitStatus::Failure, msg);
    }
    let mut slots = vec![0u64; ty.params.len().max(ty.results.len())];
    for (k, (t, a)) in ty.params.iter().zip(args).enumerate() {
        match Value::parse(*t, a) {
            Ok(v) => slots[k] = v.to_slot(),
            Err(e) => return fail(ExitStatus::Failure, e),
        }
    }
    let mut store = Store::new(&super::trap::MACHINE);
    let program_args = std::iter::once(path.to_string())
        .chain(program_args.iter().cloned())
        .collect();
    let wasi = Rc::new(Wasi::new(program_args).with_env(opts.env).with_tree(tree));
    let imports = match wasi_link::imports(&mut store, &module, wasi) {
        Ok(i) => i,
        Err(e) => return fail(ExitStatus::Failure, e),
    };
    let inst = match instance::instantiate(&mut store, module.clone(), &imports) {
        Ok(i) => i,
        Err(InstantiateError::Trap(t)) => {
            eprintln!("{}", describe_trap(&store, &t));
            return ExitCode::from(ExitStatus::Trap as u8);
        }
        Err(e) => return fail(ExitStatus::Failure, format!("{e:?}")),
    };
    let Some(Extern::Func(f)) = inst.export(&name) else {
        return fail(ExitStatus::Failure, format!("no function `{name}`"));
    };
    // SAFETY: the FuncRef lives in the store.
    match instance::call_ref(&store, unsafe { &*f }, &mut slots) {
        Ok(()) => {
            for (t, s) in ty.results.iter().zip(&slots) {
                println!("{}", Value::from_slot(*t, *s));
            }
            ExitCode::SUCCESS
        }
        Err(t) => {
            eprintln!("{}", describe_trap(&store, &t));
            ExitCode::from(ExitStatus::Trap as u8)
        }
    }
}

/// Binary modules pass through; anything else is parsed as the text format.
pub fn wat_to_wasm(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    let text = String::from_utf8(bytes).map_err(|_| "neither a binary module nor UTF-8 text")?;
    let buf = wast::parser::ParseBuffer::new(&text).map_err(|e| e.to_string())?;
    let mut wat = wast::parser::parse::<wast::Wat>(&buf).map_err(|e| e.to_string())?;
    wat.encode().map_err(|e| e.to_string())
}

/// Seconds per call of `f` (at least 3 calls and 1 s), and the number of calls.
fn time_runs(mut f: impl FnMut() -> bool) -> (f64, u32) {
    let start = std::time::Instant::now();
    let mut runs = 0u32;
    while runs < 3 || start.elapsed().as_secs_f64() < 1.0 {
        std::hint::black_box(f());
        runs += 1;
    }
    (start.elapsed().as_secs_f64() / runs as f64, runs)
}

/// `kiln-hosted compile-bench FILE.wasm`: compile throughput (validation included, and
/// validation alone for comparison).
pub fn compile_bench(args: Vec<String>) -> ExitCode {
    let Some(path) = args.first() else {
        eprintln!("usage: kiln-hosted compile-bench FILE.wasm");
        return ExitCode::from(2);
    };
    let (bytes, first) = match load(path) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let body_bytes: usize = first.info.bodies.iter().map(|r| r.len()).sum();
    let funcs = first.funcs.len().max(1);
    let (compile_s, runs) =
        time_runs(|| kiln_wasm::compile(&bytes, kiln_wasm::supported_features()).is_ok());
    let (validate_s, _) =
        time_runs(|| kiln_wasm::parse(&bytes, kiln_wasm::supported_features()).is_ok());
    let mib = |s: f64| body_bytes as f64 / s / (1024.0 * 1024.0);
    println!(
        "compile-bench {path}: {funcs} functions, {body_bytes} body bytes -> {} code bytes",
        first.code.len()
    );
    println!(
        "compile-bench: {:.2} MiB/s of function bodies, {:.2} us per function ({runs} runs, {:.3} ms per run)",
        mib(compile_s),
        compile_s * 1e6 / funcs as f64,
        compile_s * 1e3
    );
    println!(
        "compile-bench: of which validation alone {:.2} MiB/s ({:.3} ms per run)",
        mib(validate_s),
        validate_s * 1e3
    );
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn options_before_the_file_and_program_arguments_after_it() {
        let o = parse_opts(words(
            "--dir host::/g --dir plain --env A=1 app.wasm --invoke f x --env B=2",
        ))
        .unwrap();
        assert_eq!(o.path, "app.wasm");
        assert_eq!(o.invoke.as_deref(), Some("f"));
        assert_eq!(o.args, ["x", "--env", "B=2"]);
        assert_eq!(o.env, ["A=1"]);
        assert_eq!(
            o.dirs,
            [
                ("host".into(), "/g".into()),
                ("plain".into(), "plain".into())
            ]
        );
        assert!(parse_opts(words("--env NOVALUE app.wasm")).is_err());
        assert!(parse_opts(words("--dir")).is_err());
        assert!(parse_opts(Vec::new()).is_err());
    }

    #[test]
    fn host_directories_become_guest_trees() {
        let mut tree = Tree::default();
        let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/programs/data");
        add_host_dir(&mut tree, Path::new(data), "/data").unwrap();
        let root = kiln_wasm::wasi::tree::ROOT;
        assert!(tree.resolve(root, "data/docs/kiln.txt").is_ok());
        assert!(tree.resolve(root, "data/empty").is_ok());
        assert!(add_host_dir(&mut tree, Path::new("/no/such/dir"), "/x").is_err());
    }
}
