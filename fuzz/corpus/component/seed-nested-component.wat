(component
  (component $inner
    (core module $gc
      (type $pair (struct (field i32) (field (mut i64))))
      (func (export "f") (result i32)
        (struct.get $pair 0 (struct.new $pair (i32.const 7) (i64.const 8)))))
    (core instance (instantiate $gc)))
  (instance (instantiate $inner)))
