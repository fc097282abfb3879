//! Running a loaded module as a WASI preview-1 command.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Linker, Store};
use wasmtime_wasi::FsPerms;
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::Error;
use crate::epoch::EpochThread;
use crate::guest::{
    Deadline, GuestState, GuestStdio, GuestWorld, StartFailure, WasiCalls, guest_linker,
    guest_store,
};
use crate::limits::{DEFAULT_MAX_TABLE_ELEMENTS, GuestLimiter};
use crate::load::LoadedModule;
use crate::outcome::{Outcome, outcome_of};

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
    /// Exported function to call.
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
/// point.
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
pub fn run(loaded: &LoadedModule, options: &WasiOptions) -> Result<Outcome, Error> {
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

async fn run_on_fiber(loaded: &LoadedModule, options: &WasiOptions) -> Result<Outcome, Error> {
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
    let linker = guest_linker(&loaded.engine, WasiCalls::Async)?;
    // Started before instantiation, so that the timeout covers a start
    // function too.
    let timer = options
        .timeout
        .map(|timeout| EpochThread::once_after(loaded.engine.clone(), timeout))
        .transpose()
        .map_err(|e| Error::io("cannot start the timeout timer thread", e))?;
    let result = instantiate_and_call(&linker, &mut store, loaded, &options.entrypoint).await;
    drop(timer);
    outcome_of(result?, options.timeout).map_err(Error::Host)
}

/// Instantiates the module and calls `entrypoint`: the call's result, or
/// the start function's when that traps or exits (both are the guest's
/// outcome, not a host error).
async fn instantiate_and_call(
    linker: &Linker<GuestState>,
    store: &mut Store<GuestState>,
    loaded: &LoadedModule,
    entrypoint: &str,
) -> Result<wasmtime::Result<()>, Error> {
    let instance = match linker.instantiate_async(&mut *store, &loaded.module).await {
        Ok(instance) => instance,
        Err(error) => {
            return match StartFailure::of(error, store.data()) {
                StartFailure::GuestEnded(error) => Ok(Err(error)),
                StartFailure::OverLimit(refusal) => Err(Error::OverLimitAtStart(refusal)),
                StartFailure::Refused(error) => Err(Error::Instantiate(error)),
            };
        }
    };
    let entry = instance
        .get_typed_func::<(), ()>(&mut *store, entrypoint)
        .map_err(|_| Error::MissingEntrypoint(entrypoint.to_string()))?;
    Ok(entry.call_async(&mut *store, ()).await)
}
