//! Running one instance of a module or component: a fresh store, WASI
//! context and pool slot per run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lucet_runtime::{
    Deadline, GuestLimiter, GuestState, GuestStdio, GuestWorld, Outcome, StartFailure, guest_store,
    set_deadline,
};
use wasmtime::{Extern, Instance, InstancePre, ModuleExport, PoolConcurrencyLimitError, Store};
use wasmtime_wasi::p2::bindings::sync::{Command, CommandPre};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::error::{Error, PoolFull};
use crate::host::{Code, ENTRYPOINT, InstanceSlot, ModuleHandle};

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
    /// Wall-clock limit from the start of instantiation (for an instance made
    /// ahead with [`ModuleHandle::instantiate`], again from the start of its
    /// [`run`](ReadyInstance::run)); the guest is stopped
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
    /// Time from the start of instantiation to the end of the run
    /// ([`ModuleHandle::run`]), or from the start of the run to its end
    /// ([`ReadyInstance::run`]).
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
    /// The same as [`instantiate`](ModuleHandle::instantiate) then
    /// [`ReadyInstance::run`], with one deadline over both, and
    /// [`RunOutput::elapsed`] counted over both.
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
    pub fn run(&self, config: InstanceConfig) -> Result<RunOutput, Error> {
        let started = Instant::now();
        let host = &self.inner.host;
        host.on_guest_stack(|| self.instantiate_here(config, started)?.finish(started))
    }

    /// Makes an instance now and runs it later: its pool slot, memory and
    /// WASI context are taken here, and the module's start function (if
    /// any) runs here, while `_start` or `wasi:cli/run` waits for
    /// [`ReadyInstance::run`]. A host keeps instances ready ahead of
    /// requests this way; each holds its slot until it is run or dropped.
    ///
    /// `config.deadline` bounds instantiation, and bounds the run again from
    /// its start. A start function that traps or exits ends the guest: that
    /// is the outcome [`ReadyInstance::run`] reports.
    ///
    /// # Errors
    ///
    /// As [`run`](ModuleHandle::run), less the outcomes of the run.
    pub fn instantiate(&self, config: InstanceConfig) -> Result<ReadyInstance, Error> {
        let started = Instant::now();
        let host = &self.inner.host;
        host.on_guest_stack(|| self.instantiate_here(config, started))
    }

    fn instantiate_here(
        &self,
        mut config: InstanceConfig,
        started: Instant,
    ) -> Result<ReadyInstance, Error> {
        let host = &self.inner.host;
        if let Some(deadline) = config.deadline
            && !host.engine.settings().interruptible
        {
            return Err(Error::NotInterruptible(deadline));
        }
        // Held until the store is dropped, when the pool has its slots back.
        let slot = host.take_slot()?;
        let stdout = MemoryOutputPipe::new(config.max_output);
        let stderr = MemoryOutputPipe::new(config.max_output);
        let world = GuestWorld {
            program_name: &self.inner.name,
            args: &config.args,
            env: &config.env,
            stdio: GuestStdio::Memory {
                stdin: std::mem::take(&mut config.stdin),
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
        let mut store = guest_store(
            host.engine.engine(),
            wasi,
            limits,
            deadline_from(started, config.deadline),
        );
        let entry = match &self.inner.code {
            Code::Module { pre, start } => instantiate_module(pre, *start, &mut store)?,
            Code::Component(pre) => instantiate_component(pre, &mut store)?,
        };
        Ok(ReadyInstance {
            store,
            entry,
            stdout,
            stderr,
            deadline: config.deadline,
            _slot: slot,
        })
    }
}

/// The host's ticker advances the shared epoch every EPOCH_TICK; the store
/// checks its own deadline, `limit` after `started`, at each tick.
fn deadline_from(started: Instant, limit: Option<Duration>) -> Deadline {
    match limit.and_then(|limit| started.checked_add(limit)) {
        Some(until) => Deadline::At(until),
        None => Deadline::None,
    }
}

/// An instance made by [`ModuleHandle::instantiate`], not yet run: it holds
/// a pool slot, its memory and its WASI context until
/// [`run`](ReadyInstance::run) or drop. It can be sent to another thread
/// and run there.
pub struct ReadyInstance {
    // Dropped first: the store gives its instance back to the pool before
    // the slot is counted free.
    store: Store<GuestState>,
    entry: Entry,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
    deadline: Option<Duration>,
    _slot: InstanceSlot,
}

impl std::fmt::Debug for ReadyInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadyInstance")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// What a ready instance calls when run.
enum Entry {
    /// A module's instance, and where its `_start` is.
    Start(Instance, ModuleExport),
    /// A component's `wasi:cli/run`.
    Run(Command),
    /// The start function already ended the guest: how.
    Ended(wasmtime::Error),
}

impl ReadyInstance {
    /// Calls the instance's `_start` (or `wasi:cli/run`) on the calling
    /// thread, as [`ModuleHandle::run`] does, with the deadline counted
    /// from now; [`RunOutput::elapsed`] is counted from now too.
    ///
    /// # Errors
    ///
    /// [`Error::Host`] or [`Error::RunPanicked`]. A trap, an exit status or
    /// the deadline are [`RunOutput::outcome`]s.
    pub fn run(mut self) -> Result<RunOutput, Error> {
        let started = Instant::now();
        if self.deadline.is_some() {
            set_deadline(&mut self.store, deadline_from(started, self.deadline));
        }
        let host = Arc::clone(self._slot.host());
        host.on_guest_stack(|| self.finish(started))
    }

    fn finish(self, started: Instant) -> Result<RunOutput, Error> {
        // Bindings drop in reverse order: the slot, bound first, is counted
        // free only after the store has given its instance back to the pool,
        // on every path out of here (an error or a panic too).
        let ReadyInstance {
            _slot,
            mut store,
            entry,
            stdout,
            stderr,
            deadline,
        } = self;
        let result = match entry {
            Entry::Start(instance, start) => call_start(&mut store, instance, &start),
            Entry::Run(command) => {
                lucet_runtime::command_ended(command.wasi_cli_run().call_run(&mut store))
            }
            Entry::Ended(error) => Err(error),
        };
        let outcome = lucet_runtime::outcome_of(result, deadline).map_err(Error::Host)?;
        let elapsed = started.elapsed();
        // The pipes hold their buffers until the store (and the WASI context
        // in it) is gone; the slot returns to the pool after it.
        drop(store);
        Ok(RunOutput {
            outcome,
            stdout: stdout.contents().to_vec(),
            stderr: stderr.contents().to_vec(),
            elapsed,
        })
    }
}

/// Instantiates a command module: the instance, or how its start function
/// ended the guest.
fn instantiate_module(
    pre: &InstancePre<GuestState>,
    start: ModuleExport,
    store: &mut Store<GuestState>,
) -> Result<Entry, Error> {
    match pre.instantiate(&mut *store) {
        Ok(instance) => Ok(Entry::Start(instance, start)),
        Err(error) => start_failed(error, store.data()),
    }
}

/// Calls the instance's `_start`, whose type the load checked.
fn call_start(
    store: &mut Store<GuestState>,
    instance: Instance,
    start: &ModuleExport,
) -> wasmtime::Result<()> {
    let start = instance
        .get_module_export(&mut *store, start)
        .and_then(Extern::into_func)
        .ok_or_else(|| wasmtime::format_err!("the instance has no `{ENTRYPOINT}`"))?;
    start.typed::<(), ()>(&*store)?.call(&mut *store, ())
}

/// Instantiates a command component: its `wasi:cli/run`, as
/// [`instantiate_module`] does `_start`.
fn instantiate_component(
    pre: &CommandPre<GuestState>,
    store: &mut Store<GuestState>,
) -> Result<Entry, Error> {
    match pre.instantiate(&mut *store) {
        Ok(command) => Ok(Entry::Run(command)),
        Err(error) => start_failed(error, store.data()),
    }
}

/// A failed instantiation: the guest's own end when a start function trapped
/// or exited (an outcome), else the error.
fn start_failed(error: wasmtime::Error, state: &GuestState) -> Result<Entry, Error> {
    match StartFailure::of(error, state) {
        StartFailure::GuestEnded(error) => Ok(Entry::Ended(error)),
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
