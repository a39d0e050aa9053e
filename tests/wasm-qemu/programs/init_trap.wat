;; An active data segment that does not fit the memory: instantiation traps, and the
;; program never starts.
(module
  (memory 1)
  (data (i32.const 65534) "abc")
  (func (export "_start") (unreachable)))
