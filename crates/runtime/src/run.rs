//! Running a loaded artifact as a WASI command: a core module under WASI
//! preview 1 (its entry point, `_start` by default), a component under WASI
//! 0.2 (its `wasi:cli/run`), with the same world, limits and deadline.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Engine, Module, Store};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::Error;
use crate::component::run_command;
use crate::epoch::EpochThread;
use crate::guest::{
    Deadline, GuestState, GuestStdio, GuestWorld, StartFailure, WasiCalls, guest_linker,
    guest_store,
};
use crate::image::LoadedCode;
use crate::limits::{DEFAULT_MAX_TABLE_ELEMENTS, GuestLimiter};
use crate::load::LoadedArtifact;
use crate::outcome::{Outcome, outcome_of};

/// A command module's entry point, and the only one a component takes (it
/// runs its `wasi:cli/run` export).
pub const DEFAULT_ENTRYPOINT: &str = "_start";

/// The guest's WASI world and limits.
#[derive(Debug, Clone, Default)]
pub struct WasiOptions {
    /// `argv[0]` as the guest sees it (a file name, never a host path).
    pub program_name: String,
    /// Further arguments.
    pub args: Vec<String>,
    /// The guest's whole environment: nothing of the host's leaks in by default.
    pub env: Vec<(String, String)>,
    /// Preopened directories: host path and guest path.
    pub dirs: Vec<(PathBuf, String)>,
    /// Exported function of a core module to call ([`DEFAULT_ENTRYPOINT`]
    /// for a command); a component takes no other than that, and runs its
    /// `wasi:cli/run`.
    pub entrypoint: String,
    /// Bytes of linear memory the guest may have, all its memories together
    /// (`None`: no limit).
    pub max_heap_size: Option<u64>,
    /// Table elements the guest may have, all its tables together (`None`:
    /// [`DEFAULT_MAX_TABLE_ELEMENTS`]).
    pub max_table_elements: Option<u64>,
    /// Wall-clock limit (needs an interruptible artifact).
    pub timeout: Option<Duration>,
}

/// Instantiates `loaded` with a fresh WASI context (the process's stdio,
/// `options`' arguments, environment and directories) and calls its entry
/// point: a core module's exported function, a component's `wasi:cli/run`.
///
/// The guest runs on a fiber stack sized by [`crate::LoadOptions`] (the wasm
/// stack plus room for the host calls it makes), driven by a single-threaded
/// event loop on the calling thread. A synchronous run would need a guest
/// thread with a stack that large and would start wasmtime-wasi's shared
/// multi-threaded runtime (a worker thread per core) for its first WASI
/// call: about half a millisecond of a hello world's whole process.
///
/// The timeout advances `loaded`'s engine's epoch: it is the run's own
/// engine, which no other store waits on.
pub fn run(loaded: &LoadedArtifact, options: &WasiOptions) -> Result<Outcome, Error> {
    if let Some(timeout) = options.timeout
        && !loaded.settings.interruptible
    {
        return Err(Error::NotInterruptible(timeout));
    }
    let event_loop = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| Error::io("cannot start the WASI event loop", e))?;
    // A panic in a host call ends the run with an error, not the process.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        event_loop.block_on(run_on_fiber(loaded, options))
    }))
    .map_err(|_| Error::RunPanicked)?
}

/// The guest's WASI context: the process's stdio, `options`' arguments,
/// environment and preopened directories, nothing else of the host.
fn wasi_context(options: &WasiOptions) -> Result<WasiP1Ctx, Error> {
    let mut wasi = GuestWorld {
        program_name: &options.program_name,
        args: &options.args,
        env: &options.env,
        stdio: GuestStdio::Inherit,
    }
    .wasi_builder();
    for (host, guest) in &options.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|source| Error::Preopen {
                path: host.clone(),
                source,
            })?;
    }
    Ok(wasi.build_p1())
}

async fn run_on_fiber(loaded: &LoadedArtifact, options: &WasiOptions) -> Result<Outcome, Error> {
    let wasi = wasi_context(options)?;
    let limits = GuestLimiter::new(
        options.max_heap_size,
        options
            .max_table_elements
            .unwrap_or(DEFAULT_MAX_TABLE_ELEMENTS),
    );
    let deadline = match options.timeout {
        Some(_) => Deadline::NextEpoch,
        None => Deadline::None,
    };
    let mut store = guest_store(&loaded.engine, wasi, limits, deadline);
    // Started before instantiation, so that the timeout covers a start
    // function too.
    let timer = options
        .timeout
        .map(|timeout| EpochThread::once_after(loaded.engine.clone(), timeout))
        .transpose()
        .map_err(|e| Error::io("cannot start the timeout timer thread", e))?;
    let result = match &loaded.code {
        LoadedCode::Module(module) => {
            instantiate_and_call(&loaded.engine, module, &mut store, &options.entrypoint).await
        }
        LoadedCode::Component(component) => {
            run_command(component, &mut store, &options.entrypoint).await
        }
    };
    drop(timer);
    outcome_of(result?, options.timeout).map_err(Error::Host)
}

/// Instantiates the module and calls `entrypoint`: the call's result, or
/// the start function's when that traps or exits (both are the guest's
/// outcome, not a host error).
async fn instantiate_and_call(
    engine: &Engine,
    module: &Module,
    store: &mut Store<GuestState>,
    entrypoint: &str,
) -> Result<wasmtime::Result<()>, Error> {
    let linker = guest_linker(engine, WasiCalls::Async)?;
    let instance = match started(
        linker.instantiate_async(&mut *store, module).await,
        store.data(),
    )? {
        Ok(instance) => instance,
        Err(ended) => return Ok(Err(ended)),
    };
    let entry = instance
        .get_typed_func::<(), ()>(&mut *store, entrypoint)
        .map_err(|_| Error::MissingEntrypoint(entrypoint.to_string()))?;
    Ok(entry.call_async(&mut *store, ()).await)
}

/// How an instantiation in a store holding `state` went: the instance; or
/// the guest's own end, in a start function (an outcome, not a host error);
/// or the host's refusal.
pub(crate) fn started<T>(
    instantiated: wasmtime::Result<T>,
    state: &GuestState,
) -> Result<wasmtime::Result<T>, Error> {
    match instantiated {
        Ok(instance) => Ok(Ok(instance)),
        Err(error) => match StartFailure::of(error, state) {
            StartFailure::GuestEnded(error) => Ok(Err(error)),
            StartFailure::OverLimit(refusal) => Err(Error::OverLimitAtStart(refusal)),
            StartFailure::Refused(error) => Err(Error::Instantiate(error)),
        },
    }
}
