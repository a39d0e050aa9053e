;; Something of every kind instantiation sets up: a WASI import reached through a table,
;; equal types, a start function, mutable, funcref and i64 globals, a funcref and an
;; externref table, active, passive and declared element segments, active and passive
;; data segments. `main` reads it all back; each result is printed on a line of its own.
;; Expected: 107 (start ran once), 7 and 0 (table entries: $seven, then WASI sched_yield),
;; "kiln" (active data, as a little-endian i32), 8 (table.init from the passive segment),
;; "pass" (memory.init from the passive data), 7 (a funcref global stored in the table), -5.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func $yield (result i32)))
  (type $v_i (func (result i32)))
  (type $again (func (result i32)))
  (memory 1 2)
  (global $g (mut i32) (i32.const 7))
  (global $f funcref (ref.func $seven))
  (global $k i64 (i64.const -5))
  (table $t 4 funcref)
  (table $x 2 externref)
  (elem (i32.const 1) $seven $yield)
  (elem $p funcref (ref.func $eight) (ref.null func))
  (elem declare func $eight)
  (data (i32.const 16) "kiln")
  (data $d "passive")
  (func $seven (type $v_i) (i32.const 7))
  (func $eight (type $again) (i32.const 8))
  (func $start (global.set $g (i32.add (global.get $g) (i32.const 100))))
  (start $start)
  (func $call_at (param i32) (result i32) (call_indirect (type $v_i) (local.get 0)))
  (func (export "main") (result i32 i32 i32 i32 i32 i32 i32 i64)
    (global.get $g)
    (call $call_at (i32.const 1))
    (call $call_at (i32.const 2))
    (i32.load (i32.const 16))
    (table.init $t $p (i32.const 2) (i32.const 0) (i32.const 1))
    (call $call_at (i32.const 2))
    (memory.init $d (i32.const 100) (i32.const 0) (i32.const 4))
    (i32.load (i32.const 100))
    (table.set $t (i32.const 3) (global.get $f))
    (call $call_at (i32.const 3))
    (global.get $k)))
