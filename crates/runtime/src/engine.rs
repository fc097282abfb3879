//! The one place that turns [`EngineSettings`] into a wasmtime `Config`.
//!
//! The compiler and the runner both start from [`engine_config`], so an
//! artifact always meets an engine with the same tunables and wasm features.
//! Every default that depends on wasmtime's cargo features (GC, concurrency,
//! wasm proposals) is set explicitly here: the runner is built without
//! Cranelift, and implicit defaults would otherwise drift between the two.

use std::num::NonZeroUsize;

use wasmtime::{Collector, Config, ModuleVersionStrategy};

use crate::settings::EngineSettings;
use crate::{ENGINE, Error};

/// Version stamp written into every engine image. Naming this toolchain and
/// the full wasmtime version means plain `wasmtime compile` output is refused
/// and any wasmtime patch release forces recompilation.
pub(crate) fn module_version() -> String {
    format!(
        "lucet-artifact-v{}+{ENGINE}",
        lucet_artifact::FORMAT_VERSION
    )
}

/// The engine configuration shared by compiling and loading (public so that
/// benchmarks compare against bare wasmtime with exactly these settings).
pub fn engine_config(settings: &EngineSettings) -> Result<Config, Error> {
    let mut config = Config::new();
    config
        .module_version(ModuleVersionStrategy::Custom(module_version()))
        .map_err(Error::Engine)?;
    config
        .epoch_interruption(settings.interruptible)
        .consume_fuel(false)
        .memory_reservation(settings.memory_reservation)
        .memory_guard_size(settings.memory_guard_size)
        .memory_may_move(true)
        .guard_before_linear_memory(true)
        .table_lazy_init(true)
        .memory_init_cow(true)
        .signals_based_traps(true)
        .gc_support(true)
        // The copying collector, wasmtime's own default (`Collector::Auto`
        // today), named here so a wasmtime upgrade cannot switch it under
        // artifacts compiled for it.
        .collector(Collector::Copying)
        .concurrency_support(false)
        // A short wasm backtrace is printed with every trap.
        .wasm_backtrace_max_frames(NonZeroUsize::new(20))
        // WebAssembly 3.0 as the wasmtime CLI runs it by default: GC with
        // typed function references, exception handling and memory64, on
        // top of 2.0 and the widely shipped proposals, and wide arithmetic,
        // which the CLI also accepts. Left off: threads (compiled out; the
        // CLI refuses shared memories by default too, and they would escape
        // the per-store limits), stack switching and custom page sizes
        // (unfinished proposals the CLI leaves off).
        .wasm_simd(true)
        .wasm_relaxed_simd(true)
        .relaxed_simd_deterministic(false)
        .wasm_bulk_memory(true)
        .wasm_multi_value(true)
        .wasm_tail_call(true)
        .wasm_extended_const(true)
        .wasm_multi_memory(true)
        .wasm_memory64(true)
        .wasm_function_references(true)
        .wasm_gc(true)
        .wasm_exceptions(true)
        .wasm_wide_arithmetic(true)
        .wasm_custom_page_sizes(false)
        .wasm_stack_switching(false)
        .wasm_component_model(true);
    Ok(config)
}
