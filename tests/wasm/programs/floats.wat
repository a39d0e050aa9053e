;; Newton's method for sqrt(2) in f64 and f32, printed as the first 9 decimals, plus
;; the IEEE corner cases of min/max/nearest as 0/1 flags.
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $print (param $v i64) (local $p i32)
    (local.set $p (i32.const 100))
    (i32.store8 (local.get $p) (i32.const 10))
    (loop $digits
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $v) (i64.const 10)))))
      (local.set $v (i64.div_u (local.get $v) (i64.const 10)))
      (br_if $digits (i64.ne (local.get $v) (i64.const 0))))
    (i32.store (i32.const 0) (local.get $p))
    (i32.store (i32.const 4) (i32.sub (i32.const 101) (local.get $p)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $sqrt2 (result f64) (local $x f64) (local $i i32)
    (local.set $x (f64.const 1))
    (loop $iterate
      (local.set $x (f64.mul (f64.const 0.5)
        (f64.add (local.get $x) (f64.div (f64.const 2) (local.get $x)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $iterate (i32.lt_u (local.get $i) (i32.const 6))))
    (local.get $x))
  (func (export "_start")
    (call $print (i64.trunc_f64_u (f64.mul (call $sqrt2) (f64.const 1e9))))
    (call $print (i64.trunc_f32_u (f32.mul (f32.sqrt (f32.const 2)) (f32.const 1e6))))
    ;; min(-0, +0) is -0: its sign bit shows after copysign onto 1.
    (call $print (i64.extend_i32_u (f64.lt (f64.copysign (f64.const 1)
      (f64.min (f64.const 0) (f64.const -0))) (f64.const 0))))
    ;; max(NaN, 1) is NaN.
    (call $print (i64.extend_i32_u (f64.ne (f64.max (f64.const nan) (f64.const 1))
      (f64.max (f64.const nan) (f64.const 1)))))
    ;; nearest(2.5) = 2 (ties to even).
    (call $print (i64.trunc_f64_s (f64.nearest (f64.const 2.5))))))
