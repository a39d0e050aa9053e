;; A module without `_start`: its `main` export runs and its results are printed.
(module
  (func $fib (param $n i32) (result i32)
    (if (result i32) (i32.lt_u (local.get $n) (i32.const 2))
      (then (local.get $n))
      (else (i32.add (call $fib (i32.sub (local.get $n) (i32.const 1)))
                     (call $fib (i32.sub (local.get $n) (i32.const 2)))))))
  (func (export "main") (result i32 i64 f64)
    (call $fib (i32.const 20))
    (i64.const -5)
    (f64.const 2.5)))
