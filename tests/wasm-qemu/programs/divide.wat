;; Divides by a zero read from memory (the compiler cannot see it is zero).
(module
  (memory 1)
  (func $divide (param $a i32) (param $b i32) (result i32)
    (i32.div_s (local.get $a) (local.get $b)))
  (func (export "_start")
    (drop (call $divide (i32.const 7) (i32.load (i32.const 0))))))
