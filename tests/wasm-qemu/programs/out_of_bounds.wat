;; Loads from just past the end of a one-page memory: the guard region faults.
(module
  (memory 1)
  (func $peek (param $at i32) (result i32) (i32.load (local.get $at)))
  (func (export "_start")
    (drop (call $peek (i32.const 65536)))))
