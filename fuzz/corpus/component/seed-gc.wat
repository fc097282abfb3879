;; Wasm GC as Kotlin/Wasm and Dart emit it: recursive struct types, arrays,
;; i31 references, typed function references (call_ref) and casts
;; (br_on_cast). It builds and drops 200 lists of 100,000 nodes, far more
;; than any GC heap it is given, so the collector must run; the live set
;; stays one list.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "gc: ")

  (type $node (struct (field $value i64) (field $next (ref null $node))))
  (type $digits (array (mut i8)))
  (type $map (func (param i64) (result i64)))

  (func $square (type $map) (i64.mul (local.get 0) (local.get 0)))
  (elem declare func $square)

  ;; n, n-1, ..., 1 as a list.
  (func $build (param $n i32) (result (ref null $node))
    (local $list (ref null $node))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $list
          (struct.new $node (i64.extend_i32_u (local.get $n)) (local.get $list)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $next)))
    (local.get $list))

  ;; The sum of f(value) over the list.
  (func $sum (param $list (ref null $node)) (param $f (ref $map)) (result i64)
    (local $total i64)
    (loop $next
      (if (ref.is_null (local.get $list)) (then (return (local.get $total))))
      (local.set $total
        (i64.add (local.get $total)
          (call_ref $map (struct.get $node $value (local.get $list)) (local.get $f))))
      (local.set $list (struct.get $node $next (local.get $list)))
      (br $next))
    (unreachable))

  ;; An i31 gives its value; any other reference -1.
  (func $classify (param $x anyref) (result i32)
    (block $small (result (ref i31))
      (br_on_cast $small anyref (ref i31) (local.get $x))
      (drop)
      (return (i32.const -1)))
    (i31.get_s))

  ;; `value` in decimal, as a GC array of digits copied into memory at 68.
  (func $print (param $value i64)
    (local $digits (ref $digits)) (local $len i32) (local $i i32)
    (local.set $digits (array.new $digits (i32.const 0) (i32.const 20)))
    (loop $next
      (array.set $digits (local.get $digits) (local.get $len)
        (i32.add (i32.const 48) (i32.wrap_i64 (i64.rem_u (local.get $value) (i64.const 10)))))
      (local.set $len (i32.add (local.get $len) (i32.const 1)))
      (local.set $value (i64.div_u (local.get $value) (i64.const 10)))
      (br_if $next (i64.ne (local.get $value) (i64.const 0))))
    (loop $copy
      (i32.store8 (i32.add (i32.const 68) (local.get $i))
        (array.get_u $digits (local.get $digits)
          (i32.sub (i32.sub (local.get $len) (local.get $i)) (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $copy (i32.lt_u (local.get $i) (local.get $len))))
    (i32.store8 (i32.add (i32.const 68) (local.get $len)) (i32.const 10))
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.add (local.get $len) (i32.const 5)))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))

  (func (export "_start")
    (local $round i32) (local $total i64)
    (loop $rounds
      (local.set $total
        (i64.add (local.get $total)
          (call $sum (call $build (i32.const 100000)) (ref.func $square))))
      (local.set $round (i32.add (local.get $round) (i32.const 1)))
      (br_if $rounds (i32.lt_u (local.get $round) (i32.const 200))))
    (local.set $total
      (i64.add (local.get $total)
        (i64.extend_i32_s (call $classify (ref.i31 (i32.const 42))))))
    (local.set $total
      (i64.add (local.get $total)
        (i64.extend_i32_s (call $classify (call $build (i32.const 1))))))
    (call $print (local.get $total))))
