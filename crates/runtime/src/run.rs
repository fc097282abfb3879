//! Running a loaded module as a WASI preview-1 command.

use std::path::PathBuf;
use std::time::Duration;

use wasmtime::{Linker, Store, Trap, WasmBacktrace};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::Error;
use crate::epoch::EpochThread;
use crate::error::one_line;
use crate::limits::{DEFAULT_MAX_TABLE_ELEMENTS, GuestLimiter};
use crate::load::LoadedModule;

/// Epoch deadline of a store without a timeout: never reached (wasmtime's
/// default deadline of zero would trap an interruptible guest at once).
pub const NO_DEADLINE: u64 = 1 << 62;

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

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The entry point returned (status 0) or the guest called `proc_exit`:
    /// its status, whatever it is (a WASI status is a `u32`, kept bit for
    /// bit). Only 0 to [`MAX_EXIT_STATUS`] can become a process's exit status.
    Exited(i32),
    /// The guest trapped: the trap and a short wasm backtrace.
    Trapped(String),
    /// The timeout elapsed.
    TimedOut(Duration),
}

/// The largest `proc_exit` status a process can pass on: 126 and above mean
/// "cannot execute", "not found" and "killed by signal N" (128 + N) to a
/// shell, and wasmtime-wasi refuses them for that reason.
pub const MAX_EXIT_STATUS: i32 = 125;

struct Host {
    wasi: WasiP1Ctx,
    limits: GuestLimiter,
}

/// Shadows WASI's `proc_exit` in `linker` with one that ends the run with
/// any status as [`Outcome::Exited`]. wasmtime-wasi's turns a status of 126
/// or more into an error that does not say which status; the caller decides
/// what such a status means (lucet-wasi refuses it, naming it).
pub fn pass_every_exit_status<T: 'static>(linker: &mut Linker<T>) -> Result<(), Error> {
    linker.allow_shadowing(true);
    let defined = linker
        .func_wrap(
            "wasi_snapshot_preview1",
            "proc_exit",
            |status: u32| -> wasmtime::Result<()> {
                // Bit for bit: C's `exit(-1)` arrives as 4294967295 and is -1 here.
                Err(I32Exit(status as i32).into())
            },
        )
        .map(|_| ())
        .map_err(|e| Error::Instantiate(one_line(&e)));
    linker.allow_shadowing(false);
    defined
}

/// Instantiates `loaded` with a fresh WASI context and calls its entry point.
///
/// The guest runs on a fiber stack sized by [`crate::LoadOptions`] (the wasm
/// stack plus room for the host calls it makes), driven by a single-threaded
/// event loop on the calling thread. A synchronous run would need a guest
/// thread with a stack that large and would start wasmtime-wasi's shared
/// multi-threaded runtime (a worker thread per core) for its first WASI
/// call: about half a millisecond of a hello world's whole process.
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
    .map_err(|_| Error::Host("the guest's run panicked".into()))?
}

/// The guest's WASI context: inherited stdio, its arguments, environment
/// and preopened directories, nothing else of the host.
fn wasi_context(options: &WasiOptions) -> Result<WasiP1Ctx, Error> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stdio()
        .arg(&options.program_name)
        .args(&options.args);
    for (name, value) in &options.env {
        wasi.env(name, value);
    }
    for (host, guest) in &options.dirs {
        wasi.preopened_dir(host, guest, FsPerms::ReadWrite)
            .map_err(|e| {
                Error::Wasi(format!(
                    "cannot open the preopened directory {}: {}",
                    host.display(),
                    one_line(&e)
                ))
            })?;
    }
    Ok(wasi.build_p1())
}

/// Whether `error` is the guest's own end (a trap or `proc_exit`), not a
/// host-side failure.
fn guest_ended(error: &wasmtime::Error) -> bool {
    error.downcast_ref::<Trap>().is_some() || error.downcast_ref::<I32Exit>().is_some()
}

/// Why instantiation failed: the limit that refused the module's initial
/// memories or tables when there is one (wasmtime's message names pages,
/// not the limit), else wasmtime's message.
fn instantiation_error(error: &wasmtime::Error, limits: &GuestLimiter) -> Error {
    match limits.last_refusal() {
        Some(refusal) => Error::OverLimitAtStart(refusal),
        None => Error::Instantiate(one_line(error)),
    }
}

async fn run_on_fiber(loaded: &LoadedModule, options: &WasiOptions) -> Result<Outcome, Error> {
    let host = Host {
        wasi: wasi_context(options)?,
        limits: GuestLimiter::new(
            options.max_heap_size,
            options
                .max_table_elements
                .unwrap_or(DEFAULT_MAX_TABLE_ELEMENTS),
        ),
    };
    let mut store = Store::new(&loaded.engine, host);
    store.limiter(|host| &mut host.limits);

    let mut linker: Linker<Host> = Linker::new(&loaded.engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |host| &mut host.wasi)
        .map_err(|e| Error::Instantiate(one_line(&e)))?;
    pass_every_exit_status(&mut linker)?;

    if loaded.settings.interruptible {
        store.epoch_deadline_trap();
        store.set_epoch_deadline(if options.timeout.is_some() {
            1
        } else {
            NO_DEADLINE
        });
    }
    // Started before instantiation, so that the timeout covers a start
    // function too.
    let timer = options
        .timeout
        .map(|timeout| EpochThread::once_after(loaded.engine.clone(), timeout))
        .transpose()
        .map_err(|e| Error::io("cannot start the timeout timer thread", e))?;
    let result = instantiate_and_call(&linker, &mut store, loaded, options).await;
    drop(timer);
    outcome_of(result?, options.timeout)
}

/// Instantiates the module and calls its entry point: the call's result, or
/// the start function's when that traps or exits (both are the guest's
/// outcome, not a host error).
async fn instantiate_and_call(
    linker: &Linker<Host>,
    store: &mut Store<Host>,
    loaded: &LoadedModule,
    options: &WasiOptions,
) -> Result<wasmtime::Result<()>, Error> {
    let instance = match linker.instantiate_async(&mut *store, &loaded.module).await {
        Ok(instance) => instance,
        Err(error) if guest_ended(&error) => return Ok(Err(error)),
        Err(error) => return Err(instantiation_error(&error, &store.data().limits)),
    };
    let entry = instance
        .get_typed_func::<(), ()>(&mut *store, &options.entrypoint)
        .map_err(|_| Error::MissingEntrypoint(options.entrypoint.clone()))?;
    Ok(entry.call_async(&mut *store, ()).await)
}

/// How a call of the entry point ended: the guest's exit status, a trap
/// (with its kind and a short wasm backtrace), the deadline (`timeout`, for
/// the report), or — not a guest outcome — a host-side error.
pub fn outcome_of(
    result: wasmtime::Result<()>,
    timeout: Option<Duration>,
) -> Result<Outcome, Error> {
    let error = match result {
        Ok(()) => return Ok(Outcome::Exited(0)),
        Err(error) => error,
    };
    if let Some(exit) = error.downcast_ref::<I32Exit>() {
        return Ok(Outcome::Exited(exit.0));
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => Ok(Outcome::TimedOut(timeout.unwrap_or_default())),
        Some(trap) => {
            let mut message = trap.to_string();
            if let Some(backtrace) = error.downcast_ref::<WasmBacktrace>() {
                message.push('\n');
                message.push_str(backtrace.to_string().trim_end());
            }
            Ok(Outcome::Trapped(message))
        }
        None => Err(Error::Host(one_line(&error))),
    }
}
