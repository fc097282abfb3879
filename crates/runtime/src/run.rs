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
use crate::invoke::{Invocation, Results, parse_args, show_results};
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
    run_calling(loaded, options, None).map(|(outcome, _)| outcome)
}

/// Runs `loaded` as [`run`] does, but calls the module's exported function
/// `invocation.function` with its arguments (parsed by the function's
/// parameter types) instead of the entry point, as `wasmtime run --invoke`
/// does, and returns its results as text with the outcome (none unless the
/// function returned). A component is refused: it runs `wasi:cli/run`.
pub fn invoke(
    loaded: &LoadedArtifact,
    options: &WasiOptions,
    invocation: &Invocation,
) -> Result<(Outcome, Results), Error> {
    run_calling(loaded, options, Some(invocation))
}

fn run_calling(
    loaded: &LoadedArtifact,
    options: &WasiOptions,
    invocation: Option<&Invocation>,
) -> Result<(Outcome, Results), Error> {
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
        event_loop.block_on(run_on_fiber(loaded, options, invocation))
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

async fn run_on_fiber(
    loaded: &LoadedArtifact,
    options: &WasiOptions,
    invocation: Option<&Invocation>,
) -> Result<(Outcome, Results), Error> {
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
    let call = match invocation {
        Some(invocation) => Call::Invoke(invocation),
        None => Call::Entrypoint(&options.entrypoint),
    };
    let mut results = Results::new();
    let result = match &loaded.code {
        LoadedCode::Module(module) => {
            instantiate_and_call(&loaded.engine, module, &mut store, call, &mut results).await
        }
        LoadedCode::Component(_) if invocation.is_some() => Err(Error::InvokeComponent),
        LoadedCode::Component(component) => {
            run_command(component, &mut store, &options.entrypoint).await
        }
    };
    drop(timer);
    let outcome = outcome_of(result?, options.timeout).map_err(Error::Host)?;
    Ok((outcome, results))
}

/// What a module's run calls.
#[derive(Debug, Clone, Copy)]
enum Call<'a> {
    /// A `() -> ()` export, a command's `_start` by default.
    Entrypoint(&'a str),
    /// Any export, with arguments.
    Invoke(&'a Invocation),
}

/// Instantiates the module and calls `entrypoint`: the call's result, or
/// the start function's when that traps or exits (both are the guest's
/// outcome, not a host error).
async fn instantiate_and_call(
    engine: &Engine,
    module: &Module,
    store: &mut Store<GuestState>,
    call: Call<'_>,
    results: &mut Results,
) -> Result<wasmtime::Result<()>, Error> {
    let linker = guest_linker(engine, WasiCalls::Async)?;
    let instance = match started(
        linker.instantiate_async(&mut *store, module).await,
        store.data(),
    )? {
        Ok(instance) => instance,
        Err(ended) => return Ok(Err(ended)),
    };
    let missing = |name: &str| Error::MissingEntrypoint {
        name: name.to_string(),
        exports: exported_functions(module),
    };
    match call {
        Call::Entrypoint(name) => {
            let entry = instance
                .get_typed_func::<(), ()>(&mut *store, name)
                .map_err(|_| missing(name))?;
            Ok(entry.call_async(&mut *store, ()).await)
        }
        Call::Invoke(invocation) => {
            let func = instance
                .get_func(&mut *store, &invocation.function)
                .ok_or_else(|| Error::Invocation {
                    function: invocation.function.clone(),
                    message: format!(
                        "the module exports no function of that name (it exports: {})",
                        exported_functions(module)
                    ),
                })?;
            let (args, mut vals) = parse_args(&func, store, invocation)?;
            let called = func.call_async(&mut *store, &args, &mut vals).await;
            if called.is_ok() {
                *results = show_results(&vals);
            }
            Ok(called)
        }
    }
}

/// The names of `module`'s exported functions, for a message.
fn exported_functions(module: &Module) -> String {
    let names: Vec<&str> = module
        .exports()
        .filter(|export| matches!(export.ty(), wasmtime::ExternType::Func(_)))
        .map(|export| export.name())
        .collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
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
