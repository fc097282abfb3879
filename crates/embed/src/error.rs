use std::path::PathBuf;
use std::time::Duration;

use lucet_runtime::{LimitRefusal, LimitedResource};
use wasmtime::PoolConcurrencyLimitError;

/// Why building a host, loading a module or running an instance failed.
///
/// Messages are one line. As is usual for Rust errors, `Display` shows this
/// error's own message and the causes are in the [`source`](std::error::Error::source)
/// chain; [`Error::report`] joins them all for a log line.
///
/// A guest that traps, exits with a status or runs past its deadline is not
/// an error: see [`RunOutput`](crate::RunOutput).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`HostConfig`](crate::HostConfig) is inconsistent (the reason
    /// says which field, with the numbers involved).
    #[error("invalid host configuration: {0}")]
    InvalidConfig(String),
    /// wasmtime refused the engine or pool configuration (for instance, a
    /// pool whose reservations exceed the address space).
    #[error("cannot build the engine")]
    Engine(#[source] lucet_runtime::Error),
    /// The artifact file could not be opened.
    #[error("cannot open {}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The artifact was refused: unsigned, signed by an untrusted key,
    /// modified, refused by the policy, made for another engine, target, CPU
    /// or settings, or rejected by wasmtime. Nothing of it was executed.
    #[error(transparent)]
    Refused(#[from] lucet_runtime::Error),
    /// The module imports something other than WASI preview 1, or the
    /// component something other than WASI 0.2 (the source names the
    /// import).
    #[error(
        "artifact imports what this host does not provide (WASI preview 1 to modules, WASI 0.2 to components)"
    )]
    Link(#[source] wasmtime::Error),
    /// The module or component is not a WASI command.
    #[error(
        "artifact is not a WASI command: a module must export a function `_start` of type () -> (), a component `wasi:cli/run`"
    )]
    NotACommand,
    /// A deadline was asked, but this host's artifacts are compiled without
    /// epoch interruption, so nothing could stop the guest at the deadline.
    #[error(
        "a deadline of {0:?} was asked, but this host's engine is not interruptible (HostConfig::engine.interruptible is false), so nothing could stop the guest"
    )]
    NotInterruptible(Duration),
    /// Every slot of the pooling allocator is in use: retry later, or raise
    /// [`PoolingLimits::max_instances`](crate::PoolingLimits::max_instances).
    /// The source says which pool is full, and its limit.
    #[error("no free instance slot")]
    PoolExhausted(#[source] PoolFull),
    /// The module's initial memories or tables are over the instance's
    /// limits, so it does not start; the message names the setting to raise.
    #[error("module cannot start: {0}; raise {setting}", setting = limit_setting(.0.resource))]
    OverLimitAtStart(LimitRefusal),
    /// wasmtime refused to instantiate the module.
    #[error("cannot instantiate module")]
    Instantiate(#[source] wasmtime::Error),
    /// A host-side failure while the guest ran (not a trap).
    #[error("host error while running the guest")]
    Host(#[source] wasmtime::Error),
    /// A host call panicked, or the run's stack could not be allocated: this
    /// run ended, the host did not.
    #[error("host error while running the guest: the guest's run panicked")]
    RunPanicked,
    /// The host's epoch thread could not be started.
    #[error("cannot start a thread")]
    Thread(#[source] std::io::Error),
}

/// Which part of the pool is full.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PoolFull {
    /// As many instances as
    /// [`PoolingLimits::max_instances`](crate::PoolingLimits::max_instances)
    /// are running (a component counts once, however many core instances it
    /// makes).
    #[error("all instance slots are in use: limit of {0} (PoolingLimits::max_instances)")]
    Instances(u32),
    /// wasmtime's pool of memories, tables or core instances is full.
    #[error(transparent)]
    Resources(PoolConcurrencyLimitError),
}

impl Error {
    /// The message and every cause, joined by `: ` on one line, e.g.
    /// `artifact signature refused: signature was made by key …, which is
    /// not trusted (trusted: …)`.
    pub fn report(&self) -> String {
        let mut report = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let message = error.to_string();
            // A wrapper that already shows its cause is not repeated.
            if !report.ends_with(&message) {
                report.push_str(": ");
                report.push_str(&message);
            }
            cause = error.source();
        }
        report.replace('\n', " ")
    }
}

/// The setting that raises the limit on `resource`.
fn limit_setting(resource: LimitedResource) -> &'static str {
    match resource {
        LimitedResource::LinearMemory => "InstanceConfig::max_memory",
        LimitedResource::TableElements => "PoolingLimits::max_table_elements",
    }
}
