//! End-to-end unit tests: compiler output, interpreter behaviour and the collector.

use crate::code::Word;
use crate::heap::{self, Format};
use crate::interp;
use crate::runner::Outcome;
use crate::testing::{run, vm_with};
use crate::value::Value;
use crate::vm::cls;
use alloc::string::String;
use alloc::vec::Vec;

fn out_of(src: &str) -> String {
    let (outcome, out) = run(src, false);
    assert_eq!(outcome, Outcome::Finished, "output so far: {out}");
    out
}

#[test]
fn hello_and_arithmetic() {
    let out = out_of(
        "Main = ( run = ( 'hi' println. (3 + 4 * 2) println. (1 << 70) println. 2.5 println ) )",
    );
    assert_eq!(out, "hi\n14\n1180591620717411303424\n2.5\n");
}

#[test]
fn blocks_non_local_return_and_closures() {
    let out = out_of(
        "Main = ( find = ( #(3 8 12) do: [:e | e > 5 ifTrue: [^e]]. ^0 )
          counter = ( | n | n := 0. ^[n := n + 1] )
          run = ( | c | self find println. c := self counter. c value. c value println ) )",
    );
    assert_eq!(out, "8\n2\n");
}

#[test]
fn unhandled_dnu_reports_class_selector_and_backtrace() {
    let (outcome, _) = run(
        "Main = ( helper = ( ^3 frobnicate ) run = ( self helper ) )",
        false,
    );
    let Outcome::Error(msg) = outcome else {
        panic!("expected an error, got {outcome:?}")
    };
    assert!(
        msg.starts_with("Integer>>#frobnicate not understood"),
        "{msg}"
    );
    assert!(
        msg.contains("at Main>>#helper") && msg.contains("at Main>>#run"),
        "{msg}"
    );
}

#[test]
fn deep_recursion_is_a_smalltalk_error() {
    let (outcome, _) = run(
        "Main = ( down: n = ( ^(self down: n + 1) + 1 ) run = ( self down: 1 ) )",
        false,
    );
    let Outcome::Error(msg) = outcome else {
        panic!("expected an error, got {outcome:?}")
    };
    assert!(msg.starts_with("Stack overflow"), "{msg}");
}

#[test]
fn parse_errors_name_file_line_and_column() {
    let (outcome, _) = run("Main = (\n  run = ( ^ 1 + )\n)", false);
    assert_eq!(
        outcome,
        Outcome::Error(String::from(
            "t/Main.som:2:17: expected an expression (found `)`)"
        ))
    );
}

#[test]
fn exit_status_is_reported() {
    let (outcome, out) = run(
        "Main = ( run = ( 'a' print. system exit: 3. 'b' print ) )",
        false,
    );
    assert_eq!((outcome, out.as_str()), (Outcome::Exit(3), "a"));
}

/// The code words of `Main>>#sel`.
fn code_of(src: &str, sel: &str) -> Vec<usize> {
    let (mut vm, _) = vm_with(&[("Main", src)], false);
    let name = vm.symbols.intern("Main");
    let c = vm.load_class(name).unwrap().unwrap();
    let s = vm.symbols.intern(sel);
    let m = vm.lookup(c, s).unwrap();
    // SAFETY: the method is live and its code has `code_len` words.
    unsafe { (0..(*m).code_len).map(|i| (*(*m).code.add(i)).u).collect() }
}

fn routine(f: crate::code::Routine) -> usize {
    // SAFETY: reading the routine back as a plain address.
    unsafe { Word { f }.u }
}

#[test]
fn word_zero_verifies_and_counts_and_control_flow_is_inlined() {
    let code = code_of(
        "Main = ( m: x = ( ^x > 3 ifTrue: [1] ifFalse: [2] ) )",
        "m:",
    );
    assert_eq!(code[0], routine(interp::verify_selector));
    assert!(
        code.contains(&routine(interp::gt_jump_if_false)),
        "ifTrue:ifFalse: on a comparison becomes a fused compare-and-jump"
    );
    assert!(
        !code.contains(&routine(interp::send)),
        "no real send is left"
    );
    assert!(
        !code.contains(&routine(interp::push_block)),
        "no block object is created"
    );
    let code = code_of(
        "Main = ( m: x = ( ^x isNil ifTrue: [1] ifFalse: [x + 1] ) )",
        "m:",
    );
    assert!(
        code.contains(&routine(interp::jump_if_false)),
        "a plain conditional jump"
    );
    assert!(
        code.contains(&routine(interp::send_add)),
        "`+` uses the SmallInteger fast path"
    );
    let code = code_of("Main = ( m: x = ( ^x collect: [:e | e + 1] ) )", "m:");
    assert!(
        code.contains(&routine(interp::push_block))
            && code.contains(&routine(interp::context_init))
    );
}

#[test]
fn invocation_counter_and_inline_cache() {
    let (mut vm, _) = vm_with(
        &[(
            "Main",
            "Main = ( f = ( ^1 ) run = ( 1 to: 5 do: [:i | self f] ) )",
        )],
        false,
    );
    assert_eq!(vm.run_main("Main", &[]), Outcome::Finished);
    let c = vm
        .load_class(vm.symbols.find("Main").unwrap())
        .unwrap()
        .unwrap();
    let f = vm.lookup(c, vm.symbols.find("f").unwrap()).unwrap();
    // SAFETY: methods live as long as the VM.
    assert_eq!(unsafe { (*f).invocations }, 5);
    let run = vm.lookup(c, vm.symbols.find("run").unwrap()).unwrap();
    // SAFETY: as above; the send site's operands follow its routine word.
    let cached = unsafe {
        let code = (*run).code;
        let at = (0..(*run).code_len)
            .find(|&i| (*code.add(i)).u == routine(interp::send))
            .unwrap();
        ((*code.add(at + 3)).u, (*code.add(at + 4)).u)
    };
    assert_eq!(
        cached,
        (c as usize, f as usize),
        "the send site caches Main and Main>>#f"
    );
}

#[test]
fn collector_keeps_reachable_objects_and_moves_them() {
    let (mut vm, _) = vm_with(&[], false);
    let arr = vm.new_array(3);
    vm.handles.push(arr);
    let s = vm.new_string(b"kept");
    // SAFETY: `handles[0]` is a 3-slot Array.
    unsafe { heap::set_slot(vm.handles[0], 0, s) };
    let garbage = vm.new_string(b"garbage");
    let _ = garbage;
    let used_before = vm.heap.used();
    vm.collect(0);
    let after = vm.handles[0];
    assert_ne!(after, arr, "a copying collector moves live objects");
    // SAFETY: the Array is live after the collection.
    let kept = unsafe { heap::slot(after, 0) };
    assert_eq!(vm.string_of(kept).unwrap(), b"kept");
    assert!(
        vm.heap.used() < used_before,
        "the unreachable string is gone"
    );
    assert_eq!(vm.class_of(after), cls::ARRAY);
    // SAFETY: as above.
    unsafe { assert_eq!(heap::format(after), Format::Pointers) };
}

#[test]
fn collector_preserves_cycles_and_identity_hashes() {
    let (mut vm, _) = vm_with(&[], false);
    let a = vm.new_array(1);
    vm.handles.push(a);
    let b = vm.new_array(1);
    let a = vm.handles[0];
    // SAFETY: both are 1-slot Arrays.
    let hash = unsafe {
        heap::set_slot(a, 0, b);
        heap::set_slot(b, 0, a);
        heap::identity_hash(a)
    };
    for _ in 0..3 {
        vm.collect(0);
    }
    let a = vm.handles[0];
    // SAFETY: the cycle is reachable from the handle.
    unsafe {
        assert_eq!(heap::slot(heap::slot(a, 0), 0), a);
        assert_eq!(heap::identity_hash(a), hash);
    }
    assert!(vm.heap.collections >= 3);
}

#[test]
fn programs_run_the_same_under_gc_stress() {
    let src = "Main = ( run = ( | v d | v := Vector new. 1 to: 200 do: [:i | v append: i printString].
        d := Dictionary new. v do: [:s | d at: s put: s length].
        (d at: '150') println. (v inject: 0 into: [:a :s | a + s length]) println. (1 << 100) sqrt println ) )";
    let (normal, out) = run(src, false);
    let (stressed, out_stressed) = run(src, true);
    assert_eq!(normal, Outcome::Finished);
    assert_eq!(stressed, Outcome::Finished);
    assert_eq!(out, "3\n492\n1125899906842624\n");
    assert_eq!(out, out_stressed);
}

#[test]
fn tagged_values() {
    assert!(Value::int(-5).is_int() && Value::int(-5).as_int() == -5);
    assert_eq!(Value::try_int(1 << 62), None);
    assert!(!Value::NIL.is_ptr() && !Value::NIL.is_int());
    assert!(Value(0x1000).is_ptr());
}

#[test]
fn failed_primitives_fall_back_to_the_method_body() {
    let (outcome, _) = run("Main = ( run = ( ^3 + 'x' ) )", false);
    let Outcome::Error(msg) = outcome else {
        panic!("expected an error, got {outcome:?}")
    };
    assert!(
        msg.starts_with("Error: cannot add 'x' to an Integer"),
        "{msg}"
    );
    assert!(
        msg.contains("at Integer>>#+"),
        "the Smalltalk body of Integer>>#+ ran: {msg}"
    );
    let out = out_of("Main = ( run = ( (3 + 4) println. (3 + 0.5) println ) )");
    assert_eq!(out, "7\n3.5\n");
}

#[test]
fn hostile_programs_get_errors_not_crashes() {
    for (src, expected) in [
        (
            "Main = ( run = ( Block1 new value ) )",
            "primitive Class>>#new failed",
        ),
        (
            "Main = ( run = ( 3 perform: #at: inSuperclass: Array ) )",
            "primitive Object>>#perform:inSuperclass: failed",
        ),
        ("Main = ( run = ( Array new: 1 << 40 ) )", "out of memory"),
        (
            "Main = ( run = ( self perform: #foo: withArguments: (Array new: 100000) ) )",
            "primitive Object>>#perform:withArguments: failed",
        ),
        (
            "Main = ( run = ( #(1 2) at: 3 ) )",
            "Error: Array index out of bounds: 3",
        ),
    ] {
        let (outcome, _) = run(src, false);
        let Outcome::Error(msg) = outcome else {
            panic!("{src}: expected an error, got {outcome:?}")
        };
        assert!(msg.starts_with(expected), "{src}: {msg}");
    }
}

#[test]
fn trivial_methods_run_without_a_frame_but_behave_and_count() {
    let src = "Main = ( | x | x = ( ^x ) x: v = ( x := v ) me = ( ^self ) seven = ( ^7 ) none = ( )
        run = ( (self x: 4) == self ifFalse: [^nil]. self x println. (self me == self) println.
                self seven println. (self none == self) println. self x: 5. self x println ) )";
    let (mut vm, platform) = vm_with(&[("Main", src)], false);
    assert_eq!(vm.run_main("Main", &[]), Outcome::Finished);
    let _ = platform;
    let c = vm
        .load_class(vm.symbols.find("Main").unwrap())
        .unwrap()
        .unwrap();
    let getter = vm.lookup(c, vm.symbols.find("x").unwrap()).unwrap();
    let runner = vm.lookup(c, vm.symbols.find("run").unwrap()).unwrap();
    // SAFETY: methods live as long as the VM.
    unsafe {
        assert_eq!((*getter).trivial, crate::code::Trivial::ReturnField(0));
        assert_eq!((*getter).invocations, 2);
        assert_eq!((*runner).trivial, crate::code::Trivial::No);
    }
    let (_, out) = run(src, false);
    assert_eq!(out, "4\ntrue\n7\ntrue\n5\n");
}

#[test]
fn loops_are_inlined_unless_their_variables_are_captured() {
    let code = code_of(
        "Main = ( m: x = ( 1 to: x do: [:i | i > 2 ifTrue: [^i]]. ^0 ) )",
        "m:",
    );
    assert!(
        code.contains(&routine(interp::int_loop_guard)),
        "to:do: is inlined"
    );
    assert!(
        !code.contains(&routine(interp::push_block)),
        "no block object is created"
    );
    let code = code_of(
        "Main = ( m = ( | b | 1 to: 3 do: [:i | b := [i]]. ^b ) )",
        "m",
    );
    assert!(
        !code.contains(&routine(interp::int_loop_guard)),
        "a captured loop variable is not inlined"
    );
    assert!(
        code.contains(&routine(interp::send)),
        "to:do: is a real send"
    );
    let (outcome, out) = run(
        "Main = ( run = ( | b | 1 to: 3 do: [:i | i = 2 ifTrue: [b := [i]]]. b value println ) )",
        false,
    );
    assert_eq!((outcome, out.as_str()), (Outcome::Finished, "2\n"));
}

#[test]
fn fallback_blocks_reach_their_frame_while_it_lives_and_fail_cleanly_after() {
    // `self` is not a Boolean, so the inlined `ifTrue:`/`ifFalse:` send for real, with
    // fallback blocks that read and write `x` in the frame of `live`/`keep`.
    let src = "Main = (
        | saved |
        ifTrue: b = ( ^b value )
        ifFalse: b = ( saved := b )
        live = ( | x | x := 5. self ifTrue: [ x := x + 1 ]. ^x )
        keep = ( | x | x := 5. self ifFalse: [ x ] )
        run = ( self live println. self keep. saved value println )
    )";
    for gc_stress in [false, true] {
        let (outcome, out) = run(src, gc_stress);
        assert_eq!(out, "6\n", "the live frame's variable was read and written");
        let Outcome::Error(msg) = outcome else {
            panic!("expected an error, got {outcome:?}")
        };
        assert!(
            msg.contains("used after the message returned"),
            "a dead frame is reported: {msg}"
        );
    }
}

#[test]
fn escaped_fallback_blocks_keep_their_context_and_return_through_escaped_block() {
    // `self` is not a Boolean and keeps the block `ifTrue:` is sent with. In `keep` the
    // method has a context (it creates `[x]`), so the fallback block is an ordinary
    // block on it and still works after `keep` returned; in `ret` it is linked to the
    // frame, and its `^` after `ret` returned goes to `escapedBlock:`.
    let src = "Main = (
        | saved |
        ifTrue: b = ( saved := b. ^#kept )
        escapedBlock: b = ( ^#escaped )
        keep = ( | x f | f := [x]. x := 5. self ifTrue: [ x := x + 1. f value * 10 ]. ^f )
        ret = ( self ifTrue: [ ^7 ]. ^8 )
        run = ( | f |
            f := self keep. saved value println. f value println.
            self ret println. saved value println )
    )";
    for gc_stress in [false, true] {
        let (outcome, out) = run(src, gc_stress);
        assert_eq!(
            (outcome, out.as_str()),
            (Outcome::Finished, "60\n6\n8\nescaped\n"),
            "gc stress: {gc_stress}"
        );
    }
}

#[test]
fn test_class_counts_come_from_the_harness_globals_and_broken_runs_count_as_failures() {
    let harness = "TestHarness = ( run: args = ( | name |
        name := args at: 2.
        name = 'Good' ifTrue: [
            system global: #TestsPassed put: 4. system global: #TestsFailed put: 1 ].
        name = 'Exits' ifTrue: [ system exit: 3 ].
        name = 'Breaks' ifTrue: [ system global: #TestsPassed put: 2. nil frobnicate ] ) )";
    let counts = |class: &str| {
        let (mut vm, _) = vm_with(&[("TestHarness", harness)], false);
        let c = vm.run_test_class(class);
        (c.passed, c.failed, c.problem.unwrap_or_default())
    };
    assert_eq!(counts("Good"), (4, 1, String::new()));
    assert_eq!(
        counts("Exits"),
        (0, 1, String::from("exited with status 3"))
    );
    let (passed, failed, problem) = counts("Breaks");
    assert_eq!((passed, failed), (2, 1));
    assert!(
        problem.starts_with("unhandled error: Nil>>#frobnicate not understood"),
        "{problem}"
    );
}
