//! A guest's store, built in one place for the runner ([`run`](crate::run))
//! and lucet-embed's instances: the WASI context (preview 1 to a core
//! module, WASI 0.2 to a component, from the same context), the one
//! [`GuestLimiter`] for all memories and tables, and the epoch deadline.
//!
//! The two callers differ only in what they pass: the runner's guest is the
//! process's command, with its stdio and preopened directories (which the
//! runner adds to the [`GuestWorld`]'s context), and is stopped by a timer
//! that advances its own engine's epoch once; an embedded guest reads and
//! writes memory pipes and shares an engine whose epoch ticks for every
//! store, so it compares the clock with its own deadline.

use std::time::Instant;

use wasmtime::{Engine, Linker, Store, UpdateDeadline, component};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};
use wasmtime_wasi::{I32Exit, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::Error;
use crate::limits::{GuestLimiter, LimitRefusal};
use crate::outcome::ended_by_guest;

/// Epoch deadline of a store without a timeout: never reached (wasmtime's
/// default deadline of zero would trap an interruptible guest at once).
pub const NO_DEADLINE: u64 = 1 << 62;

/// What a guest's store holds: its WASI context and its limiter.
pub struct GuestState {
    wasi: WasiP1Ctx,
    limits: GuestLimiter,
}

impl GuestState {
    /// The store's limiter: after a failed instantiation, it says which
    /// limit the module's initial memories or tables exceed.
    pub fn limits(&self) -> &GuestLimiter {
        &self.limits
    }
}

/// A component's WASI 0.2 calls reach the same context a module's preview-1
/// calls do (wasmtime-wasi implements preview 1 on top of it).
impl WasiView for GuestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi.ctx()
    }
}

/// The guest's standard streams.
#[derive(Debug)]
pub enum GuestStdio {
    /// The host process's own: the guest is the command being run.
    Inherit,
    /// In memory: `stdin` is all the guest can read, and what it writes is
    /// kept in the pipes up to their capacity (a write past it fails in the
    /// guest). The caller keeps clones of the pipes to read them after the
    /// run.
    Memory {
        /// Everything the guest can read.
        stdin: Vec<u8>,
        /// Where its standard output goes.
        stdout: MemoryOutputPipe,
        /// Where its standard error goes.
        stderr: MemoryOutputPipe,
    },
}

/// Everything of the host a guest sees through WASI: nothing else leaks in.
#[derive(Debug)]
pub struct GuestWorld<'a> {
    /// `argv[0]` as the guest sees it (a name, never a host path).
    pub program_name: &'a str,
    /// Further arguments.
    pub args: &'a [String],
    /// The guest's whole environment.
    pub env: &'a [(String, String)],
    /// Its standard streams.
    pub stdio: GuestStdio,
}

impl GuestWorld<'_> {
    /// The builder of this world's WASI context: no file system yet, to
    /// which a caller may add preopened directories before building it
    /// (`build_p1`).
    pub fn wasi_builder(self) -> WasiCtxBuilder {
        let mut wasi = WasiCtxBuilder::new();
        match self.stdio {
            GuestStdio::Inherit => wasi.inherit_stdio(),
            GuestStdio::Memory {
                stdin,
                stdout,
                stderr,
            } => wasi
                .stdin(MemoryInputPipe::new(stdin))
                .stdout(stdout)
                .stderr(stderr),
        };
        wasi.arg(self.program_name).args(self.args);
        for (name, value) in self.env {
            wasi.env(name, value);
        }
        wasi
    }
}

/// When an interruptible guest is stopped (an engine without epoch
/// interruption never checks: its callers refuse deadlines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Never.
    None,
    /// At the engine's next epoch: for an engine of its own, whose epoch a
    /// timer advances once when the time is up
    /// ([`EpochThread::once_after`](crate::EpochThread::once_after)).
    NextEpoch,
    /// At the first epoch tick at or after this instant: for an engine
    /// shared with other stores, whose epoch ticks regularly
    /// ([`EpochThread::every`](crate::EpochThread::every)), so that no
    /// store's deadline stops another.
    At(Instant),
}

/// A fresh store for one guest run: its WASI context (a
/// [`GuestWorld`]'s), `limits` installed as its resource limiter, and
/// `deadline` set.
pub fn guest_store(
    engine: &Engine,
    wasi: WasiP1Ctx,
    limits: GuestLimiter,
    deadline: Deadline,
) -> Store<GuestState> {
    let mut store = Store::new(engine, GuestState { wasi, limits });
    store.limiter(|state| &mut state.limits);
    set_deadline(&mut store, deadline);
    store
}

/// Sets (or replaces) `store`'s deadline: an instance made ahead of its run
/// gets the run's own deadline when the run begins.
pub fn set_deadline(store: &mut Store<GuestState>, deadline: Deadline) {
    match deadline {
        Deadline::None => store.set_epoch_deadline(NO_DEADLINE),
        Deadline::NextEpoch => {
            store.epoch_deadline_trap();
            store.set_epoch_deadline(1);
        }
        Deadline::At(until) => {
            // At each tick the callback compares the wall clock with the
            // deadline; the engine's epoch is shared, so no run moves it for
            // another.
            store.set_epoch_deadline(1);
            store.epoch_deadline_callback(move |_| {
                Ok(if Instant::now() >= until {
                    UpdateDeadline::Interrupt
                } else {
                    UpdateDeadline::Continue(1)
                })
            });
        }
    }
}

/// How the guest's WASI calls are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasiCalls {
    /// From a guest called with `call_async`, on a fiber (the runner).
    Async,
    /// From a guest called with `call`, on the caller's stack (lucet-embed).
    Sync,
}

/// A linker providing WASI preview 1 to guests of `engine`, whose
/// `proc_exit` ends the run with any status as
/// [`Outcome::Exited`](crate::Outcome::Exited): wasmtime-wasi's own turns a
/// status of 126 or more into an error that does not say which status, and
/// the caller decides what such a status means (lucet-wasi refuses it,
/// naming it).
pub fn guest_linker(engine: &Engine, calls: WasiCalls) -> Result<Linker<GuestState>, Error> {
    let mut linker = Linker::new(engine);
    fn wasi(state: &mut GuestState) -> &mut WasiP1Ctx {
        &mut state.wasi
    }
    match calls {
        WasiCalls::Async => wasmtime_wasi::p1::add_to_linker_async(&mut linker, wasi),
        WasiCalls::Sync => wasmtime_wasi::p1::add_to_linker_sync(&mut linker, wasi),
    }
    .map_err(Error::Instantiate)?;
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
        .map(|_| ());
    linker.allow_shadowing(false);
    defined.map_err(Error::Instantiate)?;
    Ok(linker)
}

/// A linker providing WASI 0.2 to components of `engine`, whose guests are
/// called as `calls` says. `wasi:cli/exit` ends the run as
/// [`Outcome::Exited`](crate::Outcome::Exited) with its status.
pub fn component_linker(
    engine: &Engine,
    calls: WasiCalls,
) -> Result<component::Linker<GuestState>, Error> {
    let mut linker = component::Linker::new(engine);
    match calls {
        WasiCalls::Async => wasmtime_wasi::p2::add_to_linker_async(&mut linker),
        WasiCalls::Sync => wasmtime_wasi::p2::add_to_linker_sync(&mut linker),
    }
    .map_err(Error::Instantiate)?;
    Ok(linker)
}

/// Why instantiating a guest failed.
#[derive(Debug)]
pub enum StartFailure {
    /// A start function trapped or exited: the guest's own end, an outcome
    /// ([`outcome_of`](crate::outcome_of) says which).
    GuestEnded(wasmtime::Error),
    /// The module's initial memories or tables are over the limiter's
    /// limits (wasmtime's message names pages, not the limit).
    OverLimit(LimitRefusal),
    /// wasmtime refused to instantiate the module.
    Refused(wasmtime::Error),
}

impl StartFailure {
    /// Sorts out `error`, from instantiating a module in a store holding
    /// `state`.
    pub fn of(error: wasmtime::Error, state: &GuestState) -> StartFailure {
        if ended_by_guest(&error) {
            return StartFailure::GuestEnded(error);
        }
        match state.limits.last_refusal() {
            Some(refusal) => StartFailure::OverLimit(refusal),
            None => StartFailure::Refused(error),
        }
    }
}
