;; proc_exit ends the program (not the machine) with its status.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (func (export "_start")
    (call $exit (i32.const 7))
    unreachable))
