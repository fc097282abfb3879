//! Embed lucet in a server: load signed artifacts once, run each request in a
//! fresh instance.
//!
//! A [`Host`] owns one wasmtime engine with a pooling instance allocator and
//! copy-on-write memory initialisation. [`Host::load_verified`] reads an
//! artifact once, verifies its Minisign signature against the configured
//! keys, checks the deployment [`Policy`] on the signed metadata and only
//! then hands the very bytes it verified to wasmtime — once. The resulting
//! [`ModuleHandle`] is instantiated per request by [`ModuleHandle::run`],
//! each run with its own WASI context (preview 1 for a core module, WASI 0.2
//! for a component; in-memory stdin, captured stdout and stderr, no file
//! system, no host environment), its own memory limit and a wall-clock
//! deadline. A host that wants instances ready ahead of its requests makes
//! them with [`ModuleHandle::instantiate`] and runs each later, on any
//! thread, with [`ReadyInstance::run`].
//!
//! ```no_run
//! use std::path::PathBuf;
//! use std::time::Duration;
//! use lucet_embed::{Host, HostConfig, InstanceConfig, Outcome};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let keys = lucet_signature::read_public_keys(&[PathBuf::from("lucet.pub")])?;
//! let host = Host::new(HostConfig::new(keys))?;
//! let upper = host.load_verified("modules/upper.so".as_ref())?;
//! let output = upper.run(InstanceConfig {
//!     stdin: b"hello".to_vec(),
//!     max_memory: Some(16 << 20),
//!     deadline: Some(Duration::from_millis(500)),
//!     ..InstanceConfig::default()
//! })?;
//! match output.outcome {
//!     Outcome::Exited(0) => println!("{}", String::from_utf8_lossy(&output.stdout)),
//!     other => eprintln!("guest failed: {other:?}"),
//! }
//! # Ok(())
//! # }
//! ```
//!
//! # Design decisions
//!
//! * **Verified only.** There is no unverified loading here: a host always
//!   has trusted keys ([`PublicKeySet`] cannot be empty), and an unsigned or
//!   untrusted artifact is refused before any of its image is parsed (see
//!   `docs/SECURITY.md`).
//! * **One engine, one set of settings.** Artifacts record the engine
//!   settings they were compiled with (memory reservation, guard size,
//!   epoch interruption). All modules of a host share one engine and one
//!   pool, so an artifact compiled with other settings is refused with
//!   [`lucet_runtime::Error::SettingsMismatch`] rather than given an engine
//!   of its own: the host's memory footprint stays what its
//!   [`PoolingLimits`] say. Configure [`HostConfig::engine`] to match your
//!   `lucetc` flags.
//! * **Deadlines without cross-talk.** One thread per host advances the
//!   shared engine's epoch every [`EPOCH_TICK`]; each store carries its own
//!   wall-clock deadline and checks it at each tick, so one run's deadline
//!   never interrupts another. Artifacts compiled with `--no-interruption`
//!   cannot be given a deadline ([`Error::NotInterruptible`]).
//! * **On the caller's thread.** [`ModuleHandle::run`] runs the guest on
//!   the thread that calls it, on its stack when that has room for the wasm
//!   stack plus [`lucet_runtime::HOST_STACK_MARGIN`], else on a stack
//!   allocated for the run: no thread is started or handed work per request
//!   (a thread per run cost 35–55 µs, ten times the run; see
//!   `BENCHMARKS.md`, P4).
//! * **Commands.** A module must export `_start: () -> ()` and import only
//!   WASI preview 1; a component must export `wasi:cli/run` and import only
//!   WASI 0.2. Both are checked at load, not per request, and which of the
//!   two an artifact holds is its signed metadata's `kind`, never a guess
//!   from its bytes.
//! * **Bounded.** Instances beyond [`PoolingLimits::max_instances`] are
//!   refused ([`Error::PoolExhausted`]), never queued, ready ones included
//!   (each holds its slot until it is run or dropped); output beyond
//!   [`InstanceConfig::max_output`] fails in the guest.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod host;
mod instance;

pub use error::{Error, PoolFull};
pub use host::{AuditedLoad, EPOCH_TICK, Host, HostConfig, ModuleHandle, PoolingLimits};
pub use instance::{InstanceConfig, ReadyInstance, RunOutput};
pub use lucet_artifact::{ArtifactKind, Metadata, Policy};
pub use lucet_runtime::{
    EngineSettings, GuestTrap, LimitRefusal, LimitedResource, Outcome, TrapKind,
};
pub use lucet_signature::{KeyId, PublicKeySet};
