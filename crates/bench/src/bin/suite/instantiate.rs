//! P8's per-request instantiate cost, measured in process: what
//! lucet-serve does for each request before the guest runs (a store with
//! a WASI context, limits and an epoch deadline; an instance of the
//! component from the pool) and after (drop), with lucet-serve's engine
//! and pool, mirrored here as `fixture.rs` mirrors lucet-embed's.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use lucet_artifact::Policy;
use lucet_runtime::{EngineSettings, LoadOptions, LoadedCode, SharedEngine};
use lucet_signature::PublicKeySet;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, ResourceType};
use wasmtime::{
    InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
    UpdateDeadline,
};
use wasmtime_wasi::p2::{DynInputStream, DynOutputStream, DynPollable, IoError};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::fixture::WasmtimeContext;

/// lucet-serve's pool (`pooling_config` in its `app.rs`; keep the two
/// alike) for `instances` requests at once, memories of `max_heap` bytes.
fn serve_like_pool(instances: u32, max_heap: usize) -> Result<PoolingAllocationConfig> {
    const CORE_INSTANCES: u32 = 32;
    const MEMORIES: u32 = 2;
    const TABLES: u32 = 32;
    let times = |per: u32| instances.checked_mul(per).context("pool size overflows");
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(times(CORE_INSTANCES)?)
        .total_memories(times(MEMORIES)?)
        .total_tables(times(TABLES)?)
        .total_stacks(instances)
        .max_core_instances_per_component(CORE_INSTANCES)
        .max_memories_per_component(MEMORIES)
        .max_tables_per_component(TABLES)
        .max_memories_per_module(MEMORIES)
        .max_tables_per_module(TABLES)
        .max_memory_size(max_heap)
        .table_elements(20_000)
        .max_core_instance_size(1 << 20)
        .max_component_instance_size(1 << 20);
    Ok(pool)
}

/// One request's store data, as lucet-serve's (less the `wasi:http`
/// context, which is a few empty fields).
pub struct ServeLikeState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for ServeLikeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The signed artifact verified and loaded as lucet-serve loads it, into
/// an engine with its pool, linked to WASI 0.2; the `wasi:http` imports
/// (not in this build) are stubs, which instantiation never calls.
pub fn serve_like_pre(
    artifact: &Path,
    keys: &PublicKeySet,
    instances: u32,
    max_heap: usize,
) -> Result<InstancePre<ServeLikeState>> {
    let options = LoadOptions::default();
    let file = File::open(artifact).with_context(|| format!("opening {}", artifact.display()))?;
    let verified =
        lucet_runtime::read_verified_checked(&file, keys, &Policy::default(), options.read_limits)?;
    let settings = EngineSettings::from_metadata_value(&verified.metadata().settings)?;
    let pool = serve_like_pool(instances, max_heap)?;
    let shared = SharedEngine::new(settings, options, |config| {
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    })?;
    let loaded = lucet_runtime::load_verified_artifact_into(&shared, verified)?;
    let LoadedCode::Component(component) = loaded.code() else {
        bail!("{} is not a component", artifact.display());
    };
    let mut linker = Linker::new(loaded.engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).wt("WASI 0.2 linker")?;
    stub_http(&mut linker, component).wt("wasi:http stubs")?;
    linker.instantiate_pre(component).wt("instantiate_pre")
}

/// Defines the component's `wasi:http` imports: functions that trap, and
/// resources. wasmtime's `define_unknown_imports_as_traps` cannot serve:
/// it also redefines the WASI resources other interfaces `use` (a clock's
/// `pollable`) as new types, which then do not match.
fn stub_http(linker: &mut Linker<ServeLikeState>, component: &Component) -> wasmtime::Result<()> {
    let engine = linker.engine().clone();
    let ty = component.component_type();
    for (name, import) in ty.imports(&engine) {
        let ComponentItem::ComponentInstance(instance) = import.ty else {
            continue;
        };
        if !name.starts_with("wasi:http/") {
            continue;
        }
        let mut defined = linker.instance(name)?;
        for (item, export) in instance.exports(&engine) {
            match export.ty {
                ComponentItem::ComponentFunc(_) => {
                    let what = format!("{name}#{item}");
                    defined.func_new(item, move |_, _, _, _| {
                        wasmtime::bail!("{what}: not linked in this benchmark")
                    })?;
                }
                ComponentItem::Resource(_) => {
                    defined.resource(item, http_resource(item), |_, _| Ok(()))?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// The host type of a resource in a `wasi:http` interface: WASI's own for
/// those it `use`s from `wasi:io`, which must match their definitions
/// there; a stand-in for its own.
fn http_resource(name: &str) -> ResourceType {
    match name {
        "input-stream" => ResourceType::host::<DynInputStream>(),
        "output-stream" => ResourceType::host::<DynOutputStream>(),
        "pollable" => ResourceType::host::<DynPollable>(),
        "io-error" => ResourceType::host::<IoError>(),
        _ => ResourceType::host::<()>(),
    }
}

/// One request's worth: store, WASI context (stdout and stderr inherited,
/// as lucet-serve's), limiter, epoch deadline with lucet-serve's callback,
/// instance from the pool, drop. Returns its duration.
fn cycle(pre: &InstancePre<ServeLikeState>, max_heap: usize) -> Result<Duration> {
    let start = Instant::now();
    let state = ServeLikeState {
        wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
        table: ResourceTable::new(),
        limits: StoreLimitsBuilder::new().memory_size(max_heap).build(),
    };
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|state| &mut state.limits);
    let deadline = start + Duration::from_secs(10);
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        Ok(if Instant::now() >= deadline {
            UpdateDeadline::Interrupt
        } else {
            UpdateDeadline::Continue(1)
        })
    });
    pre.instantiate(&mut store)
        .map_err(|e| anyhow!("instantiate: {e:?}"))?;
    drop(store);
    Ok(start.elapsed())
}

/// `iters` cycles after a few untimed ones; their durations.
pub fn measure(
    pre: &InstancePre<ServeLikeState>,
    max_heap: usize,
    iters: usize,
) -> Result<Vec<Duration>> {
    for _ in 0..iters.min(20) {
        cycle(pre, max_heap)?;
    }
    (0..iters).map(|_| cycle(pre, max_heap)).collect()
}
