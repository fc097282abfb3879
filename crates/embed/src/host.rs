//! The host: one engine, one instance pool, one epoch ticker, and the
//! verified modules and components loaded into them.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use lucet_artifact::{ArtifactSource, Metadata, Policy, ReadLimits};
use lucet_runtime::{
    CommandExport, EngineSettings, EpochThread, GuestState, LoadOptions, LoadedCode, SharedEngine,
    WasiCalls,
};
use lucet_signature::{KeyId, PublicKeySet};
use wasmtime::component::{self, Component};
use wasmtime::{
    ExternType, InstanceAllocationStrategy, InstancePre, Linker, Module, ModuleExport,
    PoolingAllocationConfig,
};
use wasmtime_wasi::p2::bindings::sync::CommandPre;

use crate::error::{Error, PoolFull};

/// The name of the entry point every module must export.
pub(crate) const ENTRYPOINT: &str = "_start";

/// How often the epoch advances. Deadlines are checked at each tick, so a
/// guest overruns its deadline by at most about this much (while it runs
/// wasm code: a blocking host call is not interrupted).
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sizes of the pooling allocator: every slot is reserved when the host is
/// built, so these bound the host's memory use up front.
///
/// A component counts as one instance, its core modules together as one
/// module: all their memories against `max_memories_per_module`, all their
/// tables against `max_tables_per_module` times
/// `max_core_instances_per_component`.
///
/// Virtual address space reserved is about `max_instances ×
/// max_memories_per_module × (memory_reservation + 2 × memory_guard_size)`
/// of the host's [`EngineSettings`] (a guard region precedes and follows
/// each memory): about 4 GiB per memory with lucetc's defaults, so hosts of
/// many instances are best served by artifacts compiled with a smaller
/// `lucetc --reserved-size`. Resident memory is only what guests touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolingLimits {
    /// Instances, of modules and components together, that may exist at
    /// once; one more is refused with [`Error::PoolExhausted`] until one
    /// finishes.
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
    /// the number of functions, globals and so on of a module); for a
    /// component, of all its core instances and its own together.
    pub max_instance_size: usize,
    /// Core module instances one component may make: a preview-1 program
    /// wrapped with the official adapter makes four (the program, the
    /// adapter and two small shims).
    pub max_core_instances_per_component: u32,
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
            max_core_instances_per_component: 8,
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
pub(crate) struct Shared {
    pub(crate) engine: SharedEngine,
    pub(crate) pooling: PoolingLimits,
    pub(crate) slots: InstanceSlots,
    keys: PublicKeySet,
    policy: Policy,
    linker: Linker<GuestState>,
    component_linker: component::Linker<GuestState>,
    _ticker: Option<EpochThread>,
}

/// By hand: a component linker has no `Debug`, and the linkers say nothing
/// a reader of a host's state needs.
impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("engine", &self.engine)
            .field("pooling", &self.pooling)
            .field("keys", &self.keys)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Runs many verified modules: load each once, instantiate it per request.
///
/// Cheap to clone (a reference count); usable from many threads at once.
/// The engine, its instance pool and an epoch thread (when artifacts are
/// interruptible) live until the host and every [`ModuleHandle`] and
/// [`ReadyInstance`](crate::ReadyInstance) from it are dropped.
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
    // A component's core instances each hold a slot, and may each define
    // tables (the adapter's shims do); memories, which cost address space,
    // are shared by them and counted per instance as for a module.
    let per_component = limits.max_core_instances_per_component.max(1);
    let total_core_instances =
        pool_total(limits, per_component, "max_core_instances_per_component")?;
    let tables_per_component = per_component
        .checked_mul(limits.max_tables_per_module)
        .ok_or_else(|| {
            Error::InvalidConfig(
                "pooling.max_core_instances_per_component × max_tables_per_module overflows".into(),
            )
        })?;
    let total_tables = pool_total(limits, tables_per_component, "max_tables_per_module")?;
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(total_core_instances)
        .total_memories(total_memories)
        .total_tables(total_tables)
        // Guests are called synchronously: no fiber stacks.
        .total_stacks(0)
        .total_component_instances(limits.max_instances)
        .max_core_instances_per_component(per_component)
        .max_memories_per_component(limits.max_memories_per_module)
        .max_tables_per_component(tables_per_component)
        .max_component_instance_size(limits.max_instance_size)
        .max_memories_per_module(limits.max_memories_per_module)
        .max_memory_size(max_memory_size)
        .max_tables_per_module(limits.max_tables_per_module)
        .table_elements(limits.max_table_elements)
        .max_core_instance_size(limits.max_instance_size);
    Ok(pool)
}

/// The count of running instances, module or component alike. wasmtime's
/// pool counts core instances, of which a component makes several, so it
/// holds `max_core_instances_per_component` per instance and this bounds
/// how many run at once to `max_instances`.
#[derive(Debug)]
pub(crate) struct InstanceSlots {
    running: AtomicU32,
    limit: u32,
}

/// One instance's slot, given back when dropped. It owns a reference to
/// the host, so that an instance held between instantiation and its run
/// ([`ReadyInstance`](crate::ReadyInstance)) keeps its slot counted.
pub(crate) struct InstanceSlot(Arc<Shared>);

impl InstanceSlot {
    /// The host whose slot this is.
    pub(crate) fn host(&self) -> &Arc<Shared> {
        &self.0
    }
}

impl InstanceSlots {
    fn new(limit: u32) -> InstanceSlots {
        InstanceSlots {
            running: AtomicU32::new(0),
            limit,
        }
    }
}

impl Shared {
    /// Runs `guest` (which calls into wasm) where the stack has room for it.
    ///
    /// wasmtime sets the guest's stack limit `max_wasm_stack` below the
    /// frame that enters wasm, so the stack under it must be that deep. A
    /// thread per run would give that too, at 35-55 µs a run (BENCHMARKS.md,
    /// P4); a stack allocated on this thread only when needed costs nothing
    /// in the common case. A panic in a host call (or a failed stack
    /// allocation) ends this call only, as it did when a thread of its own
    /// ran the guest.
    pub(crate) fn on_guest_stack<T>(
        &self,
        guest: impl FnOnce() -> Result<T, Error>,
    ) -> Result<T, Error> {
        let stack = self
            .engine
            .options()
            .max_wasm_stack
            .saturating_add(lucet_runtime::HOST_STACK_MARGIN);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            stacker::maybe_grow(stack, stack, guest)
        }))
        .map_err(|_| Error::RunPanicked)?
    }

    /// A slot, or [`PoolFull::Instances`] when all are taken: never waits.
    pub(crate) fn take_slot(self: &Arc<Shared>) -> Result<InstanceSlot, Error> {
        let slots = &self.slots;
        slots
            .running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |running| {
                (running < slots.limit).then_some(running + 1)
            })
            .map(|_| InstanceSlot(Arc::clone(self)))
            .map_err(|_| Error::PoolExhausted(PoolFull::Instances(slots.limit)))
    }
}

impl Drop for InstanceSlot {
    fn drop(&mut self) {
        self.0.slots.running.fetch_sub(1, Ordering::AcqRel);
    }
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
        let component_linker = lucet_runtime::component_linker(engine.engine(), WasiCalls::Sync)
            .map_err(Error::Engine)?;
        let ticker = if config.engine.interruptible {
            Some(EpochThread::every(engine.engine().clone(), EPOCH_TICK).map_err(Error::Thread)?)
        } else {
            None
        };
        Ok(Host {
            shared: Arc::new(Shared {
                engine,
                pooling: config.pooling,
                slots: InstanceSlots::new(config.pooling.max_instances),
                keys: config.trusted_keys,
                policy: config.policy,
                linker,
                component_linker,
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
    /// loads it: a core module or a component, as its signed metadata says.
    /// It is named after the file's stem (`echo.so` → `echo`), which is also
    /// the guest's `argv[0]`. Every rule is enforced, whatever the policy's
    /// mode: a host that reports what an audit-mode policy lets through
    /// calls [`load_verified_audited`](Host::load_verified_audited).
    ///
    /// # Errors
    ///
    /// [`Error::Open`], [`Error::Refused`] (with the reason), [`Error::Link`]
    /// or [`Error::NotACommand`]. Nothing of a refused artifact executes.
    pub fn load_verified(&self, path: &Path) -> Result<ModuleHandle, Error> {
        let (name, file) = open_artifact(path)?;
        Ok(self.load(name, &file, PolicyCheck::Enforce)?.handle)
    }

    /// [`load_verified`](Host::load_verified) under the policy's own mode:
    /// in audit mode, what enforce mode would refuse is loaded and returned
    /// beside the handle, one refusal per rule, for the host to report
    /// (revocations are refused in audit mode too). In enforce mode it is
    /// `load_verified` with no findings.
    ///
    /// # Errors
    ///
    /// As [`load_verified`](Host::load_verified).
    pub fn load_verified_audited(&self, path: &Path) -> Result<AuditedLoad, Error> {
        let (name, file) = open_artifact(path)?;
        self.load(name, &file, PolicyCheck::Report)
    }

    /// Verifies and loads an artifact already in memory, as
    /// [`load_verified`](Host::load_verified) does a file; `name` becomes the
    /// module's name and the guest's `argv[0]`.
    ///
    /// # Errors
    ///
    /// As [`load_verified`](Host::load_verified), less [`Error::Open`].
    pub fn load_verified_bytes(&self, name: &str, artifact: &[u8]) -> Result<ModuleHandle, Error> {
        Ok(self
            .load(name.to_string(), artifact, PolicyCheck::Enforce)?
            .handle)
    }

    fn load<S: ArtifactSource + ?Sized>(
        &self,
        name: String,
        source: &S,
        check: PolicyCheck,
    ) -> Result<AuditedLoad, Error> {
        let shared = &self.shared;
        // Into a sealed memory file that wasmtime maps (the image is held
        // once, not copied), and the policy checked on the authenticated
        // metadata before any of the image reaches wasmtime.
        let (keys, policy, limits) = (
            &shared.keys,
            &shared.policy,
            shared.engine.options().read_limits,
        );
        let (verified, audit_findings) = match check {
            PolicyCheck::Enforce => (
                lucet_runtime::read_verified_checked(source, keys, policy, limits)?,
                Vec::new(),
            ),
            PolicyCheck::Report => {
                let checked = lucet_runtime::read_verified_audited(source, keys, policy, limits)?;
                (checked.artifact, checked.audit_findings)
            }
        };
        let signer = verified.signer();
        let loaded = lucet_runtime::load_verified_artifact_into(&shared.engine, verified)?;
        let code = match loaded.code() {
            LoadedCode::Module(module) => shared.link_module(module)?,
            LoadedCode::Component(component) => Code::Component(shared.link_component(component)?),
        };
        let handle = ModuleHandle {
            inner: Arc::new(ModuleInner {
                name,
                code,
                metadata: loaded.metadata().clone(),
                signer,
                host: Arc::clone(shared),
            }),
        };
        Ok(AuditedLoad {
            handle,
            audit_findings,
        })
    }
}

/// How a load applies the host's policy.
#[derive(Clone, Copy)]
enum PolicyCheck {
    /// Every rule refuses, whatever the policy's mode.
    Enforce,
    /// The policy's mode decides; audit findings are returned.
    Report,
}

/// What [`Host::load_verified_audited`] returns.
#[derive(Debug)]
pub struct AuditedLoad {
    /// The loaded module or component.
    pub handle: ModuleHandle,
    /// What an audit-mode policy let through, each naming its rule
    /// ([`lucet_artifact::Error::policy_rule`]); empty in enforce mode.
    pub audit_findings: Vec<lucet_artifact::Error>,
}

/// Opens the artifact at `path` as a regular file; its name is the stem.
fn open_artifact(path: &Path) -> Result<(String, std::fs::File), Error> {
    let file = lucet_signature::file::open_regular_file(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((name, file))
}

impl Shared {
    /// A WASI command module (`_start: () -> ()`), linked to WASI preview 1.
    fn link_module(&self, module: &Module) -> Result<Code, Error> {
        let is_command = matches!(
            module.get_export(ENTRYPOINT),
            Some(ExternType::Func(ty)) if ty.params().len() == 0 && ty.results().len() == 0
        );
        let start = module.get_export_index(ENTRYPOINT);
        let (true, Some(start)) = (is_command, start) else {
            return Err(Error::NotACommand);
        };
        let pre = self.linker.instantiate_pre(module).map_err(Error::Link)?;
        Ok(Code::Module { pre, start })
    }

    /// A WASI 0.2 command component (`wasi:cli/run`), linked to WASI 0.2.
    fn link_component(&self, component: &Component) -> Result<CommandPre<GuestState>, Error> {
        match lucet_runtime::command_export(component) {
            CommandExport::Run => {}
            CommandExport::Missing => return Err(Error::NotACommand),
            CommandExport::OtherType => {
                return Err(Error::Refused(lucet_runtime::Error::RunOfAnotherType));
            }
        }
        let pre = self
            .component_linker
            .instantiate_pre(component)
            .map_err(Error::Link)?;
        // Checks the export's type too: `run: func() -> result`.
        CommandPre::new(pre).map_err(|_| Error::NotACommand)
    }
}

/// What a handle instantiates per run: a module linked to WASI preview 1, or
/// a component's `wasi:cli/run` linked to WASI 0.2.
pub(crate) enum Code {
    /// `start` is `_start`, found once here rather than by name per run.
    Module {
        pre: InstancePre<GuestState>,
        start: ModuleExport,
    },
    Component(CommandPre<GuestState>),
}

pub(crate) struct ModuleInner {
    pub(crate) name: String,
    pub(crate) code: Code,
    metadata: Metadata,
    signer: KeyId,
    pub(crate) host: Arc<Shared>,
}

/// A verified module or component, loaded once: [`run`](ModuleHandle::run)
/// makes a fresh instance of it each time.
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
