;; The smallest WASI 0.2 command component: its `wasi:cli/run` returns
;; success at once.
(component
  (core module $command
    (func (export "run") (result i32) (i32.const 0)))
  (core instance $command (instantiate $command))
  (func $run (result (result)) (canon lift (core func $command "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.12" (instance $cli)))
