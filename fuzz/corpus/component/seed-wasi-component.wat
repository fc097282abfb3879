(component
  (import "wasi:io/streams@0.2.0" (instance $streams
    (export "output-stream" (type $os (sub resource)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $os)) (param "contents" (list u8)) (result (result))))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type $os))
    (export "output-stream" (type $out (eq $os)))
    (export "get-stdout" (func (result (own $out))))))
  (core module $libc
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
  (core instance $libc (instantiate $libc))
  (core func $get-stdout (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower
    (func $streams "[method]output-stream.blocking-write-and-flush")
    (memory (core memory $libc "memory"))
    (realloc (core func $libc "realloc"))))
  (core func $drop (canon resource.drop $output-stream))
  (core module $command
    (import "wasi" "get-stdout" (func $get (result i32)))
    (import "wasi" "write" (func $write (param i32 i32 i32) (result i32)))
    (import "wasi" "drop" (func $drop (param i32)))
    (import "libc" "memory" (memory 1))
    (data (i32.const 16) "Hello, world!\n")
    (func (export "run") (result i32) (local $out i32) (local $failed i32)
      (local.set $out (call $get))
      (local.set $failed (call $write (local.get $out) (i32.const 16) (i32.const 14)))
      (call $drop (local.get $out))
      (local.get $failed)))
  (core instance $wasi
    (export "get-stdout" (func $get-stdout))
    (export "write" (func $write))
    (export "drop" (func $drop)))
  (core instance $command (instantiate $command
    (with "wasi" (instance $wasi))
    (with "libc" (instance $libc))))
  (func $run (result (result)) (canon lift (core func $command "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
