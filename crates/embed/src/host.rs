//! The host: one engine, one instance pool, one epoch ticker, and the
//! verified modules loaded into them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use lucet_artifact::{ArtifactSource, Metadata, Policy, ReadLimits};
use lucet_runtime::{
    EngineSettings, EpochThread, GuestState, LoadOptions, SealedImage, SharedEngine, WasiCalls,
};
use lucet_signature::{KeyId, PublicKeySet};
use wasmtime::{
    ExternType, InstanceAllocationStrategy, InstancePre, Linker, PoolingAllocationConfig,
};

use crate::error::Error;

/// The name of the entry point every module must export.
pub(crate) const ENTRYPOINT: &str = "_start";

/// How often the epoch advances. Deadlines are checked at each tick, so a
/// guest overruns its deadline by at most about this much (while it runs
/// wasm code: a blocking host call is not interrupted).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sizes of the pooling allocator: every slot is reserved when the host is
/// built, so these bound the host's memory use up front.
///
/// Virtual address space reserved is about `max_instances ×
/// max_memories_per_module × (memory_reservation + 2 × memory_guard_size)`
/// of the host's [`EngineSettings`] (a guard region precedes and follows
/// each memory): about 4 GiB per memory with lucetc's defaults, so hosts of
/// many instances are best served by artifacts compiled with a smaller
/// `lucetc --reserved-size`. Resident memory is only what guests touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolingLimits {
    /// Instances that may exist at once; one more is refused with
    /// [`Error::PoolExhausted`] until one finishes.
    pub max_instances: u32,
    /// Linear memories a module may define.
    pub max_memories_per_module: u32,
    /// Largest size, in bytes, any linear memory may reach; at most the
    /// engine's `memory_reservation`. Also the default limit of all of an
    /// instance's memories together, which
    /// [`InstanceConfig::max_memory`](crate::InstanceConfig::max_memory)
    /// sets per instance.
    pub max_memory_size: u64,
    /// Tables a module may define.
    pub max_tables_per_module: u32,
    /// Elements any table may hold, and all of an instance's tables together.
    pub max_table_elements: usize,
    /// Bytes of instance metadata (wasmtime's `VMContext`, which grows with
    /// the number of functions, globals and so on of a module).
    pub max_instance_size: usize,
}

impl Default for PoolingLimits {
    fn default() -> Self {
        PoolingLimits {
            max_instances: 64,
            max_memories_per_module: 1,
            max_memory_size: 128 << 20,
            max_tables_per_module: 1,
            // wasmtime's defaults for the remaining two.
            max_table_elements: 20_000,
            max_instance_size: 1 << 20,
        }
    }
}

/// Everything a [`Host`] is built from.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Keys whose signatures are trusted: a module loads only if one of
    /// them signed its artifact. There is no unverified mode.
    pub trusted_keys: PublicKeySet,
    /// Conditions on the signed metadata (required source signer, minimum
    /// timestamp), checked before anything of the image is loaded.
    pub policy: Policy,
    /// The engine settings every artifact must have been compiled with
    /// (`lucetc --reserved-size`, `--guard-size`, `--no-interruption`); an
    /// artifact compiled otherwise is refused with
    /// [`lucet_runtime::Error::SettingsMismatch`]. The default is lucetc's.
    pub engine: EngineSettings,
    /// The instance pool.
    pub pooling: PoolingLimits,
    /// Maximum wasm stack of each instance, in bytes (64 KiB to 1 GiB).
    pub max_wasm_stack: usize,
    /// Caps checked before an artifact's image is read (largest image).
    pub read_limits: ReadLimits,
}

impl HostConfig {
    /// A configuration trusting `trusted_keys`, with lucetc's default engine
    /// settings, no policy, the default pool and wasmtime's default stack.
    pub fn new(trusted_keys: PublicKeySet) -> HostConfig {
        HostConfig {
            trusted_keys,
            policy: Policy::default(),
            engine: EngineSettings::default(),
            pooling: PoolingLimits::default(),
            max_wasm_stack: LoadOptions::default().max_wasm_stack,
            read_limits: ReadLimits::default(),
        }
    }
}

/// What the host and every module handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) engine: SharedEngine,
    pub(crate) pooling: PoolingLimits,
    keys: PublicKeySet,
    policy: Policy,
    linker: Linker<GuestState>,
    _ticker: Option<EpochThread>,
}

/// Runs many verified modules: load each once, instantiate it per request.
///
/// Cheap to clone (a reference count); usable from many threads at once.
/// The engine, its instance pool and an epoch thread (when artifacts are
/// interruptible) live until the host and every [`ModuleHandle`] from it are
/// dropped.
#[derive(Clone, Debug)]
pub struct Host {
    shared: Arc<Shared>,
}

fn pooling_config(config: &HostConfig) -> Result<PoolingAllocationConfig, Error> {
    let limits = &config.pooling;
    if limits.max_instances == 0 {
        return Err(Error::InvalidConfig(
            "pooling.max_instances is 0: no instance could ever run".into(),
        ));
    }
    if limits.max_memory_size > config.engine.memory_reservation {
        return Err(Error::InvalidConfig(format!(
            "pooling.max_memory_size ({} bytes) exceeds the artifacts' memory reservation ({} bytes): a memory cannot grow past its reservation",
            limits.max_memory_size, config.engine.memory_reservation
        )));
    }
    let max_memory_size = usize::try_from(limits.max_memory_size).map_err(|_| {
        Error::InvalidConfig(format!(
            "pooling.max_memory_size ({} bytes) does not fit this host's address space",
            limits.max_memory_size
        ))
    })?;
    let total_memories = pool_total(
        limits,
        limits.max_memories_per_module,
        "max_memories_per_module",
    )?;
    let total_tables = pool_total(
        limits,
        limits.max_tables_per_module,
        "max_tables_per_module",
    )?;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(limits.max_instances)
        .total_memories(total_memories)
        .total_tables(total_tables)
        // Guests are called synchronously: no fiber stacks, no components.
        .total_stacks(0)
        .total_component_instances(0)
        .max_memories_per_module(limits.max_memories_per_module)
        .max_memory_size(max_memory_size)
        .max_tables_per_module(limits.max_tables_per_module)
        .table_elements(limits.max_table_elements)
        .max_core_instance_size(limits.max_instance_size);
    Ok(pool)
}

/// How many memories or tables the pool holds: `per_module` of them (the
/// `PoolingLimits` field named `field`) for each of its instances.
fn pool_total(limits: &PoolingLimits, per_module: u32, field: &str) -> Result<u32, Error> {
    limits
        .max_instances
        .checked_mul(per_module)
        .ok_or_else(|| Error::InvalidConfig(format!("pooling.max_instances × {field} overflows")))
}

impl Host {
    /// Builds the engine and reserves the instance pool.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for inconsistent limits, [`Error::Engine`]
    /// when wasmtime refuses the configuration or cannot reserve the pool.
    pub fn new(config: HostConfig) -> Result<Host, Error> {
        if !(64 << 10..=1 << 30).contains(&config.max_wasm_stack) {
            return Err(Error::InvalidConfig(format!(
                "max_wasm_stack is {} bytes; it must be between 64 KiB and 1 GiB",
                config.max_wasm_stack
            )));
        }
        let pool = pooling_config(&config)?;
        let options = LoadOptions {
            max_wasm_stack: config.max_wasm_stack,
            read_limits: config.read_limits,
        };
        let engine = SharedEngine::new(config.engine, options, |wasmtime| {
            wasmtime.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        })
        .map_err(Error::Engine)?;
        // Any proc_exit status is the guest's to report (`Outcome::Exited`).
        let linker =
            lucet_runtime::guest_linker(engine.engine(), WasiCalls::Sync).map_err(Error::Engine)?;
        let ticker = if config.engine.interruptible {
            Some(EpochThread::every(engine.engine().clone(), EPOCH_TICK).map_err(Error::Thread)?)
        } else {
            None
        };
        Ok(Host {
            shared: Arc::new(Shared {
                engine,
                pooling: config.pooling,
                keys: config.trusted_keys,
                policy: config.policy,
                linker,
                _ticker: ticker,
            }),
        })
    }

    /// The engine settings artifacts must have been compiled with.
    pub fn settings(&self) -> EngineSettings {
        self.shared.engine.settings()
    }

    /// The pool's limits.
    pub fn pooling(&self) -> PoolingLimits {
        self.shared.pooling
    }

    /// Reads the artifact at `path` once, verifies it, checks the policy and
    /// loads it. The module is named after the file's stem (`echo.so` →
    /// `echo`), which is also the guest's `argv[0]`.
    ///
    /// # Errors
    ///
    /// [`Error::Open`], [`Error::Refused`] (with the reason), [`Error::Link`]
    /// or [`Error::NotACommand`]. Nothing of a refused artifact executes.
    pub fn load_verified(&self, path: &Path) -> Result<ModuleHandle, Error> {
        let file =
            lucet_signature::file::open_regular_file(path).map_err(|source| Error::Open {
                path: path.to_owned(),
                source,
            })?;
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        self.load(name, &file)
    }

    /// Verifies and loads an artifact already in memory, as
    /// [`load_verified`](Host::load_verified) does a file; `name` becomes the
    /// module's name and the guest's `argv[0]`.
    ///
    /// # Errors
    ///
    /// As [`load_verified`](Host::load_verified), less [`Error::Open`].
    pub fn load_verified_bytes(&self, name: &str, artifact: &[u8]) -> Result<ModuleHandle, Error> {
        self.load(name.to_string(), artifact)
    }

    fn load<S: ArtifactSource + ?Sized>(
        &self,
        name: String,
        source: &S,
    ) -> Result<ModuleHandle, Error> {
        let shared = &self.shared;
        // Into a sealed memory file that wasmtime maps: the image is held
        // once, not copied.
        let verified = lucet_artifact::read_verified_into::<SealedImage, S>(
            source,
            &shared.keys,
            shared.engine.options().read_limits,
        )
        .map_err(lucet_runtime::Error::from)?;
        // The metadata is authenticated now: apply the policy before any of
        // the image reaches wasmtime.
        shared
            .policy
            .check(verified.metadata())
            .map_err(lucet_runtime::Error::from)?;
        let signer = verified.signer();
        let loaded = lucet_runtime::load_verified_artifact_into(&shared.engine, verified)?;
        let is_command = matches!(
            loaded.module().get_export(ENTRYPOINT),
            Some(ExternType::Func(ty)) if ty.params().len() == 0 && ty.results().len() == 0
        );
        if !is_command {
            return Err(Error::NotACommand);
        }
        let pre = shared
            .linker
            .instantiate_pre(loaded.module())
            .map_err(Error::Link)?;
        Ok(ModuleHandle {
            inner: Arc::new(ModuleInner {
                name,
                pre,
                metadata: loaded.metadata().clone(),
                signer,
                host: Arc::clone(shared),
            }),
        })
    }
}

pub(crate) struct ModuleInner {
    pub(crate) name: String,
    pub(crate) pre: InstancePre<GuestState>,
    metadata: Metadata,
    signer: KeyId,
    pub(crate) host: Arc<Shared>,
}

/// A verified module, loaded once: [`run`](ModuleHandle::run) makes a fresh
/// instance of it each time.
///
/// Cheap to clone; usable from many threads at once. It keeps its host's
/// engine and pool alive.
#[derive(Clone)]
pub struct ModuleHandle {
    pub(crate) inner: Arc<ModuleInner>,
}

impl std::fmt::Debug for ModuleHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ModuleHandle")
            .field("name", &self.inner.name)
            .field("signer", &self.inner.signer)
            .finish_non_exhaustive()
    }
}

impl ModuleHandle {
    /// The module's name (the artifact's file stem, or the name given).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The artifact's signed metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// The trusted key that signed the artifact.
    pub fn signer(&self) -> KeyId {
        self.inner.signer
    }
}
