;; Exception handling (try_table, throw, exnref): an exception thrown 10,000
;; frames down is caught and rethrown as an exnref (catch_all_ref,
;; throw_ref) halfway up, then caught with its payload at the top.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "caught 7 across 10000 frames\n")
  (data (i32.const 128) "not caught\n")

  (tag $oops (param i32))

  (func $dive (param $depth i32)
    (if (i32.eqz (local.get $depth))
      (then (throw $oops (i32.const 7))))
    (call $dive (i32.sub (local.get $depth) (i32.const 1))))

  ;; Catches everything and rethrows the same exception.
  (func $relay (param $depth i32)
    (throw_ref
      (block $caught (result exnref)
        (try_table (catch_all_ref $caught)
          (call $dive (local.get $depth)))
        (return))))

  (func $catch (result i32)
    (block $handler (result i32)
      (try_table (catch $oops $handler)
        (call $dive (i32.const 5000))
        (call $relay (i32.const 5000)))
      (i32.const -1)))

  (func $say (param $at i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $at))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (if (i32.eq (call $catch) (i32.const 7))
      (then (call $say (i32.const 64) (i32.const 29)))
      (else (call $say (i32.const 128) (i32.const 11))))))
