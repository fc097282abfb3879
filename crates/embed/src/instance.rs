//! Running one instance of a module or component: a fresh store, WASI
//! context and pool slot per run.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use lucet_runtime::{
    Deadline, GuestLimiter, GuestState, GuestStdio, GuestWorld, Outcome, StartFailure, guest_store,
};
use wasmtime::{InstancePre, PoolConcurrencyLimitError, Store};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::error::{Error, PoolFull};
use crate::host::{Code, ENTRYPOINT, ModuleHandle};

/// One run's inputs and limits.
#[derive(Debug, Clone)]
pub struct InstanceConfig {
    /// Arguments after `argv[0]` (which is the module's name).
    pub args: Vec<String>,
    /// The guest's whole environment: nothing of the host's leaks in.
    pub env: Vec<(String, String)>,
    /// Everything the guest can read from standard input.
    pub stdin: Vec<u8>,
    /// Bytes of linear memory the instance may have, all its memories
    /// together; `memory.grow` past it fails in the guest, and a module whose
    /// initial memories exceed it does not start ([`Error::OverLimitAtStart`]).
    /// `None` means the pool's
    /// [`max_memory_size`](crate::PoolingLimits::max_memory_size), which
    /// also bounds each memory on its own.
    pub max_memory: Option<u64>,
    /// Wall-clock limit from the start of instantiation; the guest is stopped
    /// within about [`EPOCH_TICK`](crate::EPOCH_TICK) of it while it runs wasm
    /// code (a blocking host call is not interrupted). `None`: no limit.
    pub deadline: Option<Duration>,
    /// Bytes kept of each of stdout and stderr; a write past it fails in the
    /// guest.
    pub max_output: usize,
}

impl Default for InstanceConfig {
    /// No arguments, environment or input; the pool's memory limit, no
    /// deadline, 1 MiB of each output.
    fn default() -> Self {
        InstanceConfig {
            args: Vec::new(),
            env: Vec::new(),
            stdin: Vec::new(),
            max_memory: None,
            deadline: None,
            max_output: 1 << 20,
        }
    }
}

/// How a run ended, and what the guest wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunOutput {
    /// Exit status, trap, or deadline.
    pub outcome: Outcome,
    /// Standard output (at most `max_output` bytes).
    pub stdout: Vec<u8>,
    /// Standard error (at most `max_output` bytes).
    pub stderr: Vec<u8>,
    /// Time from the start of instantiation to the end of the run.
    pub elapsed: Duration,
}

impl RunOutput {
    /// The exit status, if the guest exited (0 when `_start` returned).
    pub fn exit_code(&self) -> Option<i32> {
        match self.outcome {
            Outcome::Exited(code) => Some(code),
            _ => None,
        }
    }

    /// Whether the guest exited with status 0.
    pub fn success(&self) -> bool {
        self.exit_code() == Some(0)
    }
}

impl ModuleHandle {
    /// Runs the module or component once, in a fresh instance from the pool
    /// with its own WASI context (`stdin` as input, output captured in
    /// memory, no preopened directories, no host environment): preview 1 to
    /// a module, whose `_start` is called, WASI 0.2 to a component, whose
    /// `wasi:cli/run` is (`run` returning an error is exit status 1).
    ///
    /// The guest runs on the calling thread: on its stack when that has room
    /// for the host's wasm stack plus
    /// [`HOST_STACK_MARGIN`](lucet_runtime::HOST_STACK_MARGIN) (the main
    /// thread, tokio's workers and Rust's default threads do at the default
    /// wasm stack), otherwise on a stack of that size allocated for this run.
    ///
    /// # Errors
    ///
    /// [`Error::NotInterruptible`] for a deadline on non-interruptible
    /// artifacts, [`Error::PoolExhausted`] when every slot is busy,
    /// [`Error::OverLimitAtStart`], [`Error::Instantiate`], [`Error::Host`]
    /// or [`Error::RunPanicked`]. A trap, an exit status or the deadline are
    /// [`RunOutput::outcome`]s.
    pub fn run(&self, mut config: InstanceConfig) -> Result<RunOutput, Error> {
        let engine = &self.inner.host.engine;
        if let Some(deadline) = config.deadline
            && !engine.settings().interruptible
        {
            return Err(Error::NotInterruptible(deadline));
        }
        let stdin = std::mem::take(&mut config.stdin);
        // wasmtime sets the guest's stack limit `max_wasm_stack` below the
        // frame that enters wasm, so the stack under it must be that deep. A
        // thread per run would give that too, at 35-55 µs a run (BENCHMARKS.md,
        // P4); a stack allocated on this thread only when needed costs
        // nothing in the common case.
        let stack = engine
            .options()
            .max_wasm_stack
            .saturating_add(lucet_runtime::HOST_STACK_MARGIN);
        // A panic in a host call (or a failed stack allocation) ends this run
        // only, as it did when a thread of its own ran the guest.
        std::panic::catch_unwind(AssertUnwindSafe(|| {
            stacker::maybe_grow(stack, stack, || self.run_here(&config, stdin))
        }))
        .map_err(|_| Error::RunPanicked)?
    }

    fn run_here(&self, config: &InstanceConfig, stdin: Vec<u8>) -> Result<RunOutput, Error> {
        let started = Instant::now();
        let host = &self.inner.host;
        // Held until the store is dropped, when the pool has its slots back.
        let _slot = host.slots.take()?;
        let stdout = MemoryOutputPipe::new(config.max_output);
        let stderr = MemoryOutputPipe::new(config.max_output);
        let world = GuestWorld {
            program_name: &self.inner.name,
            args: &config.args,
            env: &config.env,
            stdio: GuestStdio::Memory {
                stdin,
                stdout: stdout.clone(),
                stderr: stderr.clone(),
            },
        };
        // No preopened directory: an embedded guest has no file system.
        let wasi = world.wasi_builder().build_p1();
        // One limiter for all memories and all tables: the pool bounds each
        // on its own, not their sum.
        let limits = GuestLimiter::new(
            Some(config.max_memory.unwrap_or(host.pooling.max_memory_size)),
            u64::try_from(host.pooling.max_table_elements).unwrap_or(u64::MAX),
        );
        // The host's ticker advances the shared epoch every EPOCH_TICK; the
        // store checks its own deadline at each tick.
        let deadline = match config.deadline.and_then(|d| started.checked_add(d)) {
            Some(until) => Deadline::At(until),
            None => Deadline::None,
        };
        let mut store = guest_store(host.engine.engine(), wasi, limits, deadline);

        let result = match &self.inner.code {
            Code::Module(pre) => call_module(pre, &mut store)?,
            Code::Component(pre) => call_component(pre, &mut store)?,
        };
        let outcome = lucet_runtime::outcome_of(result, config.deadline).map_err(Error::Host)?;
        let elapsed = started.elapsed();
        // The pipes hold their buffers until the store (and the WASI context
        // in it) is gone; the slot returns to the pool here too.
        drop(store);
        Ok(RunOutput {
            outcome,
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            elapsed,
        })
    }
}

/// Instantiates a command module and calls its `_start`: the call's result,
/// or the instantiation's when that ends the guest.
fn call_module(
    pre: &InstancePre<GuestState>,
    store: &mut Store<GuestState>,
) -> Result<wasmtime::Result<()>, Error> {
    match pre.instantiate(&mut *store) {
        Ok(instance) => {
            let entry = instance
                .get_typed_func::<(), ()>(&mut *store, ENTRYPOINT)
                .map_err(|_| Error::NotACommand)?;
            Ok(entry.call(&mut *store, ()))
        }
        Err(error) => start_failed(error, store.data()),
    }
}

/// Instantiates a command component and calls its `wasi:cli/run`, as
/// [`call_module`] does `_start`.
fn call_component(
    pre: &CommandPre<GuestState>,
    store: &mut Store<GuestState>,
) -> Result<wasmtime::Result<()>, Error> {
    match pre.instantiate(&mut *store) {
        Ok(command) => Ok(lucet_runtime::command_ended(
            command.wasi_cli_run().call_run(&mut *store),
        )),
        Err(error) => start_failed(error, store.data()),
    }
}

/// A failed instantiation: the guest's own end when a start function trapped
/// or exited (an outcome), else the error.
fn start_failed(error: wasmtime::Error, state: &GuestState) -> Result<wasmtime::Result<()>, Error> {
    match StartFailure::of(error, state) {
        StartFailure::GuestEnded(error) => Ok(Err(error)),
        StartFailure::OverLimit(refusal) => Err(Error::OverLimitAtStart(refusal)),
        StartFailure::Refused(error) => Err(instantiation_error(error)),
    }
}

/// Why wasmtime refused to instantiate: every slot of the pool in use, or
/// anything else.
fn instantiation_error(error: wasmtime::Error) -> Error {
    match error.downcast::<PoolConcurrencyLimitError>() {
        Ok(full) => Error::PoolExhausted(PoolFull::Resources(full)),
        Err(error) => Error::Instantiate(error),
    }
}
