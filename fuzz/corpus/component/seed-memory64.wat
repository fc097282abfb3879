;; memory64: a 64-bit memory grown past 4 GiB of address space, written
;; and read above the 4 GiB mark. Only the pages touched are backed.
;; WASI sees the ordinary 32-bit memory 0.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory $io (export "memory") 1)
  (memory $wide i64 1)
  (data (memory $io) (i32.const 64) "memory64: read 42 at 4 GiB + 8\n")
  (data (memory $io) (i32.const 128) "memory64: failed\n")

  (func $say (param $at i32) (param $len i32)
    (i32.store $io (i32.const 0) (local.get $at))
    (i32.store $io (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    ;; 65,537 more pages: 4 GiB + 128 KiB in all.
    (if (i64.eq (memory.grow $wide (i64.const 65537)) (i64.const -1))
      (then (call $say (i32.const 128) (i32.const 17)) (return)))
    (i64.store $wide (i64.const 0x1_0000_0008) (i64.const 42))
    (if (i64.eq (i64.load $wide (i64.const 0x1_0000_0008)) (i64.const 42))
      (then (call $say (i32.const 64) (i32.const 31)))
      (else (call $say (i32.const 128) (i32.const 17))))))
