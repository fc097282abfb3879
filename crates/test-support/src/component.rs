//! Turning a WASI preview-1 command module into a WASI 0.2 component, for
//! the e2e tests, the conformance runner and lucet-embed's tests.

/// A preview-1 command module (`_start`, imports from
/// `wasi_snapshot_preview1`), binary or text, as a `wasi:cli/run` component:
/// wit-component wraps it with the official preview-1 command adapter of
/// the engine's wasmtime release, as `wasm-tools component new --adapt` does.
pub fn componentize(module: &[u8]) -> Result<Vec<u8>, String> {
    let module = wat::parse_bytes(module).map_err(|e| format!("not a module: {e}"))?;
    wit_component::ComponentEncoder::default()
        .module(&module)
        .and_then(|encoder| {
            encoder.adapter(
                "wasi_snapshot_preview1",
                wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_COMMAND_ADAPTER,
            )
        })
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("cannot make a component: {e:#}"))
}
