//! Running a loaded module as a WASI preview-1 command.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use wasmtime::{Linker, Store, StoreLimits, StoreLimitsBuilder, Trap, WasmBacktrace};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::{FsPerms, I32Exit, WasiCtxBuilder};

use crate::Error;
use crate::error::one_line;
use crate::load::LoadedModule;

/// Epoch deadline used when no timeout is asked: epochs never advance then,
/// but wasmtime's default deadline of zero would trap at once.
const NO_DEADLINE: u64 = 1 << 62;

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
    /// Largest linear memory the guest may have, in bytes.
    pub max_heap_size: Option<u64>,
    /// Wall-clock limit (needs an interruptible artifact).
    pub timeout: Option<Duration>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The entry point returned (status 0) or the guest called `proc_exit`.
    Exited(i32),
    /// The guest trapped: the trap and a short wasm backtrace.
    Trapped(String),
    /// The timeout elapsed.
    TimedOut(Duration),
}

struct Host {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
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

async fn run_on_fiber(loaded: &LoadedModule, options: &WasiOptions) -> Result<Outcome, Error> {
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
                    "cannot open --dir {}: {}",
                    host.display(),
                    one_line(&e)
                ))
            })?;
    }
    let mut limits = StoreLimitsBuilder::new();
    if let Some(max) = options.max_heap_size {
        limits = limits.memory_size(usize::try_from(max).unwrap_or(usize::MAX));
    }
    let host = Host {
        wasi: wasi.build_p1(),
        limits: limits.build(),
    };
    let mut store = Store::new(&loaded.engine, host);
    store.limiter(|host| &mut host.limits);

    let mut linker: Linker<Host> = Linker::new(&loaded.engine);
    wasmtime_wasi::p1::add_to_linker_async(&mut linker, |host| &mut host.wasi)
        .map_err(|e| Error::Instantiate(one_line(&e)))?;

    if loaded.settings.interruptible {
        store.epoch_deadline_trap();
        store.set_epoch_deadline(if options.timeout.is_some() {
            1
        } else {
            NO_DEADLINE
        });
    }
    let instance = linker
        .instantiate_async(&mut store, &loaded.module)
        .await
        .map_err(|e| Error::Instantiate(one_line(&e)))?;
    let entry = instance
        .get_typed_func::<(), ()>(&mut store, &options.entrypoint)
        .map_err(|_| Error::MissingEntrypoint(options.entrypoint.clone()))?;

    let result = match options.timeout {
        Some(timeout) => {
            // The timer thread advances the epoch once the timeout elapses,
            // unless the run ends first and drops `done`.
            let (done, finished) = mpsc::channel::<()>();
            let engine = loaded.engine.clone();
            let timer = std::thread::spawn(move || {
                if let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(timeout) {
                    engine.increment_epoch();
                }
            });
            let result = entry.call_async(&mut store, ()).await;
            drop(done);
            let _ = timer.join();
            result
        }
        None => entry.call_async(&mut store, ()).await,
    };
    outcome_of(result, options.timeout)
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
