;; Hello world for WASI preview 1, written by hand so the example needs no
;; C toolchain: one fd_write of a static string to stdout.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: { buf = 16, len = 14 }
  (data (i32.const 0) "\10\00\00\00\0e\00\00\00")
  (data (i32.const 16) "Hello, world!\n")
  (func (export "_start")
    (drop (call $fd_write
      (i32.const 1)    ;; stdout
      (i32.const 0)    ;; iovecs
      (i32.const 1)    ;; one iovec
      (i32.const 8)))) ;; where to store the byte count
)
