;; memory.grow maps zeroed pages: a store to the new page works and reads back; the old
;; size is returned; growing past the maximum fails with -1.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory 1 2)
  (func (export "_start")
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const 1)) (then (call $exit (i32.const 2))))
    (if (i32.ne (i32.load (i32.const 100000)) (i32.const 0)) (then (call $exit (i32.const 3))))
    (i32.store (i32.const 100000) (i32.const 42))
    (if (i32.ne (i32.load (i32.const 100000)) (i32.const 42)) (then (call $exit (i32.const 4))))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const -1)) (then (call $exit (i32.const 5))))
    (call $exit (i32.const 0))))
