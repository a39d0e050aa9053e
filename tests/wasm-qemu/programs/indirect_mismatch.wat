;; call_indirect through a table entry whose function has another type.
(module
  (type $unary (func (param i32) (result i32)))
  (type $nullary (func (result i32)))
  (table 1 funcref)
  (elem (i32.const 0) $answer)
  (func $answer (result i32) (i32.const 42))
  (func $dispatch (result i32)
    (call_indirect (type $unary) (i32.const 1) (i32.const 0)))
  (func (export "_start")
    (drop (call $dispatch))))
