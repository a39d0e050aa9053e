//! Compiles small modules, runs them hosted and checks results and traps.

use super::cli::on_wasm_thread;
use kiln_abi::wasm::TrapCode;
use kiln_wasm::instance::instantiate::{self as instance, Instance};
use kiln_wasm::instance::{Extern, Store};
use kiln_wasm::module::FuncType;
use kiln_wasm::Type;
use std::rc::Rc;

fn instantiate(store: &mut Store, wat: &str, imports: &[Extern]) -> Instance {
    let wasm = wat::parse_str(wat).unwrap();
    let module = Rc::new(kiln_wasm::compile(&wasm, kiln_wasm::supported_features()).unwrap());
    instance::instantiate(store, module, imports)
        .map_err(|e| format!("{e:?}"))
        .unwrap()
}

fn call(
    store: &Store,
    inst: Instance,
    name: &str,
    args: &[u64],
    results: usize,
) -> Result<Vec<u64>, TrapCode> {
    let Some(Extern::Func(f)) = inst.export(name) else {
        panic!("no {name}")
    };
    let mut slots = vec![0; args.len().max(results)];
    slots[..args.len()].copy_from_slice(args);
    // SAFETY: the FuncRef lives in the store the caller keeps alive.
    instance::call_ref(store, unsafe { &*f }, &mut slots).map_err(|t| t.code)?;
    slots.truncate(results);
    Ok(slots)
}

const PROGRAM: &str = r#"(module
  (import "host" "double" (func $double (param i32) (result i32)))
  (memory 1 3)
  (table 2 funcref)
  (elem (i32.const 0) $fac $double)
  (type $i64_i64 (func (param i64) (result i64)))
  (func $fac (export "fac") (param i64) (result i64)
    (if (result i64) (i64.eqz (local.get 0))
      (then (i64.const 1))
      (else (i64.mul (local.get 0) (call $fac (i64.sub (local.get 0) (i64.const 1)))))))
  (func (export "via_table") (param i32 i64) (result i64)
    (call_indirect (type $i64_i64) (local.get 1) (local.get 0)))
  (func (export "twice") (param i32) (result i32) (call $double (local.get 0)))
  (func (export "div") (param i32 i32) (result i32) (i32.div_s (local.get 0) (local.get 1)))
  (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
  (func (export "peek") (param i32) (result i32) (i32.load (local.get 0)))
  (func (export "poke") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
  (func (export "min") (param f64 f64) (result f64) (f64.min (local.get 0) (local.get 1)))
  (func (export "pair") (param i32) (result i32 i64)
    (local.get 0) (i64.extend_i32_s (i32.sub (i32.const 0) (local.get 0))))
  (func $deep (export "deep") (param i32) (result i32)
    (i32.add (i32.const 1) (call $deep (local.get 0)))))"#;

#[test]
fn compiled_code_computes_traps_and_calls_the_host() {
    on_wasm_thread(|| {
        let mut store = Store::new(&super::trap::MACHINE);
        let sig = FuncType {
            params: vec![Type::I32],
            results: vec![Type::I32],
        };
        let double = store.host_func(&sig, Box::new(|s| s[0] = (s[0] as u32 * 2) as u64));
        let inst = instantiate(&mut store, PROGRAM, &[double]);
        assert_eq!(
            call(&store, inst, "fac", &[20], 1),
            Ok(vec![2_432_902_008_176_640_000])
        );
        assert_eq!(call(&store, inst, "twice", &[21], 1), Ok(vec![42]));
        assert_eq!(call(&store, inst, "via_table", &[0, 5], 1), Ok(vec![120]));
        assert_eq!(
            call(&store, inst, "via_table", &[1, 5], 1),
            Err(TrapCode::IndirectCallTypeMismatch)
        );
        assert_eq!(
            call(&store, inst, "via_table", &[2, 5], 1),
            Err(TrapCode::UndefinedElement)
        );
        assert_eq!(
            call(&store, inst, "div", &[7, (-2i32) as u32 as u64], 1),
            Ok(vec![(-3i32) as u32 as u64])
        );
        assert_eq!(
            call(&store, inst, "div", &[7, 0], 1),
            Err(TrapCode::IntegerDivideByZero)
        );
        let min = i32::MIN as u32 as u64;
        assert_eq!(
            call(&store, inst, "div", &[min, u32::MAX as u64], 1),
            Err(TrapCode::IntegerOverflow)
        );
        assert_eq!(
            call(&store, inst, "peek", &[65536], 1),
            Err(TrapCode::MemoryOutOfBounds)
        );
        assert_eq!(call(&store, inst, "grow", &[1], 1), Ok(vec![1]));
        assert_eq!(call(&store, inst, "poke", &[65536, 99], 0), Ok(vec![]));
        assert_eq!(call(&store, inst, "peek", &[65536], 1), Ok(vec![99]));
        assert_eq!(
            call(&store, inst, "grow", &[5], 1),
            Ok(vec![u32::MAX as u64])
        );
        let (neg0, pos0) = ((-0.0f64).to_bits(), 0.0f64.to_bits());
        assert_eq!(call(&store, inst, "min", &[pos0, neg0], 1), Ok(vec![neg0]));
        let nan = call(&store, inst, "min", &[f64::NAN.to_bits(), pos0], 1).unwrap()[0];
        assert!(f64::from_bits(nan).is_nan());
        assert_eq!(
            call(&store, inst, "pair", &[5], 2),
            Ok(vec![5, (-5i64) as u64])
        );
        assert_eq!(
            call(&store, inst, "deep", &[0], 1),
            Err(TrapCode::StackOverflow)
        );
        // The instance still works after a stack overflow unwound it.
        assert_eq!(call(&store, inst, "fac", &[3], 1), Ok(vec![6]));
    });
}

#[test]
fn spec_runner_counts_passes_and_failures() {
    let text: &'static str = r#"
        (module (func (export "f") (param i32) (result i32) (i32.add (local.get 0) (i32.const 1))))
        (assert_return (invoke "f" (i32.const 1)) (i32.const 2))
        (assert_return (invoke "f" (i32.const 1)) (i32.const 3))
        (assert_invalid (module (func (result i32) (i64.const 0))) "type mismatch")
        (assert_trap (module (func $u unreachable) (start $u)) "unreachable")"#;
    let (passed, failed) = on_wasm_thread(move || {
        let mut r = super::spec::Runner::new(kiln_wasm::supported_features(), text);
        r.run();
        (r.passed, r.failed)
    });
    assert_eq!((passed, failed), (4, 1));
}

#[test]
fn wasi_imports_link_and_see_the_instance_memory() {
    on_wasm_thread(|| {
        let wat = r#"(module
            (import "wasi_snapshot_preview1" "args_sizes_get" (func $sizes (param i32 i32) (result i32)))
            (import "wasi_snapshot_preview1" "sock_accept" (func $sock (param i32 i32 i32) (result i32)))
            (memory (export "memory") 1)
            (func (export "argc") (result i32 i32)
                (drop (call $sizes (i32.const 0) (i32.const 4)))
                (i32.load (i32.const 0)) (i32.load (i32.const 4)))
            (func (export "sock") (result i32) (call $sock (i32.const 0) (i32.const 0) (i32.const 0)))
            ;; The same import through a table, and re-exported.
            (type $sizes_t (func (param i32 i32) (result i32)))
            (table funcref (elem $sizes))
            (export "sizes" (func $sizes))
            (func (export "argc_indirect") (result i32 i32)
                (drop (call_indirect (type $sizes_t) (i32.const 8) (i32.const 12) (i32.const 0)))
                (i32.load (i32.const 8)) (i32.load (i32.const 12))))"#;
        let wasm = wat::parse_str(wat).unwrap();
        let module = Rc::new(kiln_wasm::compile(&wasm, kiln_wasm::supported_features()).unwrap());
        let mut store = Store::new(&super::trap::MACHINE);
        let wasi = Rc::new(kiln_wasm::wasi::Wasi::new(vec!["p".into(), "abc".into()]));
        let imports = kiln_wasm::instance::wasi_link::imports(&mut store, &module, wasi).unwrap();
        let inst = instance::instantiate(&mut store, module, &imports)
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        assert_eq!(call(&store, inst, "argc", &[], 2), Ok(vec![2, 6]));
        assert_eq!(call(&store, inst, "argc_indirect", &[], 2), Ok(vec![2, 6]));
        // Called from outside, the re-exported import works on its instance's memory.
        assert_eq!(call(&store, inst, "sizes", &[16, 20], 1), Ok(vec![0]));
        assert_eq!(call(&store, inst, "argc_indirect", &[], 2), Ok(vec![2, 6]));
        assert_eq!(
            call(&store, inst, "sock", &[], 1),
            Ok(vec![kiln_wasm::wasi::errno::NOSYS as u64])
        );
    });
}

#[test]
fn wasi_imports_are_the_runtimes_own_and_checked() {
    let compile = |wat: &str| {
        kiln_wasm::compile(
            &wat::parse_str(wat).unwrap(),
            kiln_wasm::supported_features(),
        )
    };
    let err = compile(
        r#"(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32))))"#,
    )
    .unwrap_err();
    assert!(
        err.message
            .contains("wasi_snapshot_preview1::fd_write is declared"),
        "{err}"
    );
    let unknown =
        compile(r#"(module (import "wasi_snapshot_preview1" "no_such" (func)))"#).unwrap();
    let mut store = Store::new(&super::trap::MACHINE);
    let wasi = Rc::new(kiln_wasm::wasi::Wasi::new(vec![]));
    let err = kiln_wasm::instance::wasi_link::imports(&mut store, &unknown, wasi).unwrap_err();
    assert!(err.contains("not a function of WASI preview 1"), "{err}");
}

#[test]
fn far_runtime_symbols_are_reached_through_veneers() {
    on_wasm_thread(|| {
        let wat = r#"(module (memory 1 4)
            (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0)))
            (func $boom (export "boom") (unreachable)))"#;
        let module = Rc::new(
            kiln_wasm::compile(
                &wat::parse_str(wat).unwrap(),
                kiln_wasm::supported_features(),
            )
            .unwrap(),
        );
        let mut store = Store::new(&super::trap::MACHINE);
        let (base, veneers) = store.map_code(module.clone()).unwrap();
        // The code is mapped far (more than 2 GiB) from this executable's text, as Linux
        // lays out a process: the trap routine and memory.grow each need a veneer.
        let trap = kiln_wasm::instance::trampoline::runtime_address(
            kiln_wasm::compile::symbols::RuntimeSymbol::Trap,
        );
        assert!(base.abs_diff(trap) > 1 << 31, "{base:#x} vs {trap:#x}");
        assert_eq!(veneers, 2);
        let inst = instance::instantiate(&mut store, module, &[])
            .map_err(|e| format!("{e:?}"))
            .unwrap();
        assert_eq!(call(&store, inst, "grow", &[2], 1), Ok(vec![1]));
        assert_eq!(
            call(&store, inst, "grow", &[2], 1),
            Ok(vec![u32::MAX as u64])
        );
        let Some(Extern::Func(f)) = inst.export("boom") else {
            panic!("no boom")
        };
        // SAFETY: the FuncRef lives in the store.
        let t = instance::call_ref(&store, unsafe { &*f }, &mut []).unwrap_err();
        // The veneer jumps: the trap's return address is still in the trapping function.
        let text = super::cli::describe_trap(&store, &t);
        assert!(text.starts_with("trap: unreachable in boom (+0x"), "{text}");
    });
}

#[test]
fn traps_name_the_function_and_offset() {
    on_wasm_thread(|| {
        let mut store = Store::new(&super::trap::MACHINE);
        let wat = r#"(module (func $boom (export "boom") (param i32) (result i32)
            (if (local.get 0) (then unreachable)) (i32.const 1)))"#;
        let inst = instantiate(&mut store, wat, &[]);
        let Some(Extern::Func(f)) = inst.export("boom") else {
            panic!("no boom")
        };
        let mut slots = [1u64];
        // SAFETY: the FuncRef lives in the store.
        let trap = instance::call_ref(&store, unsafe { &*f }, &mut slots).unwrap_err();
        let text = super::cli::describe_trap(&store, &trap);
        assert!(text.starts_with("trap: unreachable in boom (+0x"), "{text}");
    });
}

#[test]
fn the_stack_limit_lies_inside_this_threads_stack() {
    let local = 0u8;
    let here = std::hint::black_box(&local) as *const u8 as u64;
    let limit = super::trap::stack_limit();
    assert!(
        limit < here && here - limit < 64 << 20,
        "{limit:#x} vs {here:#x}"
    );
}

/// A module whose `f` keeps `depth` values of each type live at once (forcing spills)
/// across calls, then sums them (exactly, for the float values chosen).
fn pressure_module(depth: usize) -> String {
    let mut ints = String::new();
    let mut floats = String::new();
    for k in 0..depth {
        // Alternate locals, constants and calls so every operand kind gets spilled.
        let term = match k % 3 {
            0 => "(local.get 0)".to_string(),
            1 => format!("(i64.const {})", k * 1_000_003),
            _ => "(call $id (local.get 1))".to_string(),
        };
        ints.push_str(&format!("(i64.mul (i64.const {}) {term}) ", k + 1));
        floats.push_str(&format!("(f64.mul (f64.const {}.5) (local.get 2)) ", k));
    }
    format!(
        r#"(module
          (func $id (param i64) (result i64) (local.get 0))
          (func (export "f") (param i64 i64 f64) (result i64 f64)
            {ints} {sum_i}
            {floats} {sum_f}))"#,
        sum_i = "i64.add ".repeat(depth - 1),
        sum_f = "f64.add ".repeat(depth - 1),
    )
}

#[test]
fn many_live_values_spill_and_survive_calls() {
    on_wasm_thread(|| {
        let depth = 40;
        let mut store = Store::new(&super::trap::MACHINE);
        let inst = instantiate(&mut store, &pressure_module(depth), &[]);
        let (a, b, c) = (7i64, -3i64, 1.25f64);
        let got = call(&store, inst, "f", &[a as u64, b as u64, c.to_bits()], 2).unwrap();
        let mut want_i = 0i64;
        let mut want_f = 0f64;
        for k in 0..depth {
            let term = match k % 3 {
                0 => a,
                1 => (k * 1_000_003) as i64,
                _ => b,
            };
            want_i = want_i.wrapping_add((k as i64 + 1).wrapping_mul(term));
            want_f += (k as f64 + 0.5) * c;
        }
        assert_eq!(got[0] as i64, want_i);
        assert_eq!(f64::from_bits(got[1]), want_f);
    });
}

#[test]
fn division_by_constants_matches_rust() {
    on_wasm_thread(|| {
        let divisors = [1u32, 2, 8, 7, 1 << 30, u32::MAX];
        let mut funcs = String::new();
        for (k, d) in divisors.iter().enumerate() {
            for op in ["div_u", "rem_u", "div_s", "rem_s"] {
                funcs.push_str(&format!(
                    r#"(func (export "i32_{op}_{k}") (param i32) (result i32) (i32.{op} (local.get 0) (i32.const {d})))
                       (func (export "i64_{op}_{k}") (param i64) (result i64) (i64.{op} (local.get 0) (i64.const {d})))"#
                ));
            }
        }
        let mut store = Store::new(&super::trap::MACHINE);
        let inst = instantiate(&mut store, &format!("(module {funcs})"), &[]);
        for x in [0u32, 1, 5, 1000, 0x8000_0000, u32::MAX, 123_456_789] {
            for (k, &d) in divisors.iter().enumerate() {
                let (xs, ds) = (x as i32, d as i32);
                let cases32 = [
                    ("div_u", Some(x / d)),
                    ("rem_u", Some(x % d)),
                    ("div_s", xs.checked_div(ds).map(|v| v as u32)),
                    ("rem_s", Some(xs.wrapping_rem(ds) as u32)),
                ];
                for (op, want) in cases32 {
                    let got = call(&store, inst, &format!("i32_{op}_{k}"), &[x as u64], 1);
                    match want {
                        Some(w) => assert_eq!(got, Ok(vec![w as u64]), "i32.{op} {x} {d}"),
                        None => assert_eq!(got, Err(TrapCode::IntegerOverflow), "i32.{op} {x} {d}"),
                    }
                }
                let (x64, d64) = (x as u64 * 3 + 1, d as i64 as u64);
                let got = call(&store, inst, &format!("i64_div_u_{k}"), &[x64], 1);
                assert_eq!(got, Ok(vec![x64 / d64]), "i64.div_u {x64} {d64}");
                let got = call(&store, inst, &format!("i64_rem_u_{k}"), &[x64], 1);
                assert_eq!(got, Ok(vec![x64 % d64]), "i64.rem_u {x64} {d64}");
                let (s64, sd) = (-(x64 as i64), d64 as i64);
                let got = call(&store, inst, &format!("i64_div_s_{k}"), &[s64 as u64], 1);
                assert_eq!(got, Ok(vec![(s64 / sd) as u64]), "i64.div_s {s64} {sd}");
                let got = call(&store, inst, &format!("i64_rem_s_{k}"), &[s64 as u64], 1);
                assert_eq!(got, Ok(vec![(s64 % sd) as u64]), "i64.rem_s {s64} {sd}");
            }
        }
    });
}

/// The Linux platform with console output captured, to check what programs print.
struct CapturePlatform(std::sync::Mutex<Vec<u8>>);

static CAPTURE: CapturePlatform = CapturePlatform(std::sync::Mutex::new(Vec::new()));

impl kiln_abi::Platform for CapturePlatform {
    fn console_write(&self, bytes: &[u8]) {
        self.0.lock().unwrap().extend_from_slice(bytes);
    }
    fn console_read(&self, _: &mut [u8]) -> usize {
        0
    }
    fn monotonic_ns(&self) -> u64 {
        crate::LinuxPlatform.monotonic_ns()
    }
    fn wall_clock_ns(&self) -> u64 {
        crate::LinuxPlatform.wall_clock_ns()
    }
    fn random_fill(&self, buf: &mut [u8]) {
        crate::LinuxPlatform.random_fill(buf)
    }
    fn reserve(&self, len: usize) -> Result<*mut u8, kiln_abi::MemoryError> {
        crate::LinuxPlatform.reserve(len)
    }
    fn protect(
        &self,
        addr: *mut u8,
        len: usize,
        prot: kiln_abi::Protection,
    ) -> Result<(), kiln_abi::MemoryError> {
        crate::LinuxPlatform.protect(addr, len, prot)
    }
    fn release(&self, addr: *mut u8, len: usize) {
        crate::LinuxPlatform.release(addr, len)
    }
    fn exit(&self, status: i32) -> ! {
        panic!("program exited with {status}")
    }
}

/// The hosted machine on the capturing platform.
struct CaptureMachine;

static CAPTURE_MACHINE: CaptureMachine = CaptureMachine;

impl kiln_wasm::instance::Machine for CaptureMachine {
    fn platform(&self) -> &dyn kiln_abi::Platform {
        &CAPTURE
    }
    unsafe fn enter(
        &self,
        vmctx: u64,
        code: u64,
        slots: &mut [u64],
    ) -> Result<(), kiln_wasm::instance::Trap> {
        // SAFETY: forwarded from the caller.
        unsafe { super::trap::MACHINE.enter(vmctx, code, slots) }
    }
    fn stack_limit(&self) -> u64 {
        super::trap::MACHINE.stack_limit()
    }
}

#[test]
fn example_programs_print_what_their_out_files_say() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/wasm/programs");
    let mut programs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wat"))
        .collect();
    programs.sort();
    assert!(programs.len() >= 3, "programs in {dir}");
    on_wasm_thread(move || {
        for path in programs {
            let wasm = super::cli::wat_to_wasm(std::fs::read(&path).unwrap()).unwrap();
            let module =
                Rc::new(kiln_wasm::compile(&wasm, kiln_wasm::supported_features()).unwrap());
            let mut store = Store::new(&CAPTURE_MACHINE);
            let wasi = Rc::new(kiln_wasm::wasi::Wasi::new(vec![path.display().to_string()]));
            let imports =
                kiln_wasm::instance::wasi_link::imports(&mut store, &module, wasi).unwrap();
            let inst = instance::instantiate(&mut store, module, &imports)
                .map_err(|e| format!("{e:?}"))
                .unwrap();
            CAPTURE.0.lock().unwrap().clear();
            call(&store, inst, "_start", &[], 0).unwrap();
            let out = String::from_utf8(CAPTURE.0.lock().unwrap().clone()).unwrap();
            let want = std::fs::read_to_string(path.with_extension("out")).unwrap();
            assert_eq!(out, want, "{}", path.display());
        }
    });
}

#[test]
fn a_locals_old_value_survives_an_in_place_update() {
    on_wasm_thread(|| {
        let wat = r#"(module
          (func (export "f") (param i32) (result i32) (local i32)
            (local.set 1 (i32.const 10))
            (local.get 1)
            (local.set 1 (i32.add (local.get 1) (i32.const 5)))
            (local.get 1)
            (i32.mul (local.get 0))
            (local.set 1 (i32.sub (local.get 0) (local.get 1)))
            (i32.add (local.get 1))
            (i32.add))
          (memory 1)
          (data (i32.const 8) "\2a\00\00\00")
          ;; Follows a pointer into the same local: 8 -> 42; the old 8 stays readable.
          (func (export "g") (result i32) (local i32)
            (local.set 0 (i32.const 8))
            (local.get 0)
            (local.set 0 (i32.load (local.get 0)))
            (i32.mul (local.get 0))))"#;
        let mut store = Store::new(&super::trap::MACHINE);
        let inst = instantiate(&mut store, wat, &[]);
        for p in [0u64, 3, 1000] {
            let want = (10 + 15 * p + p).wrapping_sub(15) as u32 as u64;
            assert_eq!(call(&store, inst, "f", &[p], 1), Ok(vec![want]), "p = {p}");
        }
        assert_eq!(call(&store, inst, "g", &[], 1), Ok(vec![8 * 42]));
    });
}

/// `module`'s instance template with its code mapped in `store` and linked there (as an
/// image's link does), and its data blob.
fn linked_template(
    store: &mut Store,
    module: &Rc<kiln_wasm::CompiledModule>,
) -> (Vec<u64>, Vec<u8>) {
    use kiln_wasm::compile::symbols::Target;
    use kiln_wasm::instance::{descriptor, template, trampoline};
    let (base, _) = store.map_code(module.clone()).unwrap();
    let built = template::build(module).unwrap();
    let mut words = built.words.clone();
    for r in &built.relocs {
        words[r.word] = match r.target {
            Target::Func(f) => base + u64::from(module.func(f).unwrap().offset),
            Target::Runtime(s) => trampoline::runtime_address(s),
        };
    }
    (words, descriptor::encode(module).data)
}

/// A template's instance lists its passive segments only up to the last passive one;
/// the active segments past it (dropped at instantiation) behave as dropped, exactly as
/// in a generic instance: `memory.init` and `table.init` of none of their items pass,
/// of any trap, and `data.drop`/`elem.drop` of them do nothing.
#[test]
fn template_segments_past_the_last_passive_one_are_dropped() {
    use kiln_wasm::instance::template::Template;
    on_wasm_thread(|| {
        let wat = r#"(module
          (memory 1)
          (table 2 funcref)
          (func $f)
          (data "p")
          (data (i32.const 0) "a")
          (elem func $f)
          (elem (i32.const 0) $f)
          (func (export "data") (param i32)
            (memory.init 1 (i32.const 8) (i32.const 0) (local.get 0)))
          (func (export "elem") (param i32)
            (table.init 1 (i32.const 0) (i32.const 0) (local.get 0)))
          (func (export "passive") (memory.init 0 (i32.const 8) (i32.const 0) (i32.const 1)))
          (func (export "drop") (data.drop 1) (elem.drop 1))
          (func (export "_start")))"#;
        let wasm = wat::parse_str(wat).unwrap();
        let module = Rc::new(kiln_wasm::compile(&wasm, kiln_wasm::supported_features()).unwrap());
        let func = |name| module.info.export(name).unwrap().index;
        let run = |store: &Store, inst| {
            let arg = |name, a: u64| {
                let mut slots = [a];
                instance::call(store, inst, func(name), &mut slots).map_err(|t| t.code)
            };
            [
                arg("data", 0),
                arg("data", 1),
                arg("elem", 0),
                arg("elem", 1),
                arg("drop", 0),
                arg("passive", 0),
            ]
        };
        let mut generic = Store::new(&super::trap::MACHINE);
        let inst = instance::instantiate(&mut generic, module.clone(), &[]).unwrap();
        let expected = run(&generic, inst);
        let mut store = Store::new(&super::trap::MACHINE);
        let (words, blob) = linked_template(&mut store, &module);
        let t = Template::read(&words).unwrap();
        let inst = instance::instantiate_template(&mut store, &t, &blob).unwrap();
        let got = run(&store, inst);
        assert_eq!(got, expected);
        let oob = |code| Err(code);
        assert_eq!(
            got,
            [
                Ok(()),
                oob(TrapCode::MemoryOutOfBounds),
                Ok(()),
                oob(TrapCode::TableOutOfBounds),
                Ok(()),
                Ok(())
            ]
        );
    })
}

/// An instance built from its template (as an image's program is, at boot) runs exactly
/// like one instantiated the generic way.
#[test]
fn template_instances_run_like_generic_ones() {
    use kiln_wasm::instance::template::Template;
    use kiln_wasm::instance::wasi_link;
    use kiln_wasm::wasi::Wasi;
    on_wasm_thread(|| {
        let wat = include_str!("../../../../tests/wasm-qemu/programs/instance_state.wat");
        let wasm = wat::parse_str(wat).unwrap();
        let module = Rc::new(kiln_wasm::compile(&wasm, kiln_wasm::supported_features()).unwrap());
        let main = module.info.export("main").unwrap().index;
        let run = |store: &Store, inst| {
            let mut slots = vec![0; 8];
            instance::call(store, inst, main, &mut slots).map(|()| slots)
        };

        let mut generic = Store::new(&super::trap::MACHINE);
        let wasi = Rc::new(Wasi::new(vec![]));
        let imports = wasi_link::imports(&mut generic, &module, wasi.clone()).unwrap();
        let inst = instance::instantiate(&mut generic, module.clone(), &imports).unwrap();
        let expected = run(&generic, inst).unwrap();

        let mut store = Store::new(&super::trap::MACHINE);
        store.set_wasi(wasi);
        let (words, blob) = linked_template(&mut store, &module);
        let t = Template::read(&words).unwrap();
        let inst = instance::instantiate_template(&mut store, &t, &blob).unwrap();
        let got = run(&store, inst).unwrap();
        assert_eq!(got, expected);
        let word = |s: &[u8; 4]| u64::from(u32::from_le_bytes(*s));
        assert_eq!(
            got,
            [
                107,
                7,
                0,
                word(b"kiln"),
                8,
                word(b"pass"),
                7,
                (-5i64) as u64
            ]
        );
        // A second instance in the same store would need signature ids the template
        // did not count on.
        assert!(instance::instantiate_template(&mut store, &t, &blob).is_err());
        // So would a generic one.
        let imports = wasi_link::imports(&mut store, &module, Rc::new(Wasi::new(vec![]))).unwrap();
        assert!(matches!(
            instance::instantiate(&mut store, module.clone(), &imports),
            Err(instance::InstantiateError::Link(_))
        ));
    })
}

/// A template whose segments do not fit traps at instantiation, as the generic path does.
#[test]
fn template_instantiation_traps_like_the_generic_path() {
    use kiln_wasm::instance::template::{self, Template};
    let wasm = wat::parse_str(r#"(module (memory 1) (data (i32.const 65534) "abc"))"#).unwrap();
    let module = kiln_wasm::compile(&wasm, kiln_wasm::supported_features()).unwrap();
    let built = template::build(&module).unwrap();
    let mut store = Store::new(&super::trap::MACHINE);
    let t = Template::read(&built.words).unwrap();
    match instance::instantiate_template(&mut store, &t, &[]) {
        Err(instance::InstantiateError::Trap(trap)) => {
            assert_eq!(trap.code, TrapCode::MemoryOutOfBounds)
        }
        other => panic!("{other:?}"),
    }
    let mut generic = Store::new(&super::trap::MACHINE);
    match instance::instantiate(&mut generic, Rc::new(module), &[]) {
        Err(instance::InstantiateError::Trap(trap)) => {
            assert_eq!(trap.code, TrapCode::MemoryOutOfBounds)
        }
        other => panic!("{other:?}"),
    }
}

/// A damaged template whose active data segment lies past the end of the address space
/// is refused as damaged, not by a panic on the overflowing sum.
#[test]
fn a_template_data_segment_past_the_address_space_is_damage() {
    use kiln_wasm::instance::template::{self, Template, DATA_ACTIVE, HEADER};
    let wat = r#"(module (memory 1) (data (i32.const 8) "abc") (func (export "_start")))"#;
    let module = kiln_wasm::compile(
        &wat::parse_str(wat).unwrap(),
        kiln_wasm::supported_features(),
    )
    .unwrap();
    let mut words = template::build(&module).unwrap().words;
    // After the header: one function (2 words) and one type (1 word), then the segment.
    let segment = HEADER + 3;
    assert_eq!(words[segment..segment + 4], [DATA_ACTIVE, 8, 0, 3]);
    words[segment + 1] = u64::MAX - 1;
    let t = Template::read(&words).unwrap();
    let mut store = Store::new(&super::trap::MACHINE);
    match instance::instantiate_template(&mut store, &t, b"abc") {
        Err(instance::InstantiateError::Resource(e)) => assert!(e.contains("damaged"), "{e}"),
        other => panic!("{other:?}"),
    }
}
