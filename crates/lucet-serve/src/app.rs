//! The served application: the artifact verified and loaded once into an
//! engine with a pooling allocator, pre-linked to WASI and `wasi:http`, and
//! the per-request store each instance runs in.

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use lucet_artifact::{ArtifactKind, Metadata, Policy};
use lucet_runtime::{EngineSettings, EpochThread, LoadOptions, LoadedArtifact, LoadedCode};
use lucet_runtime::{SealedImage, SharedEngine};
use lucet_signature::{Prehash, PublicKeySet};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store, StoreLimits,
    StoreLimitsBuilder, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpHooks, WasiHttpView};

use lucet_serve::cli::Args;

/// How often the epoch advances: a request overruns its deadline by at most
/// about this much while it runs wasm code.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Core instances one component may make: ComponentizeJS components make a
/// handful; a generous bound costs only pool slots.
const CORE_INSTANCES_PER_COMPONENT: u32 = 32;

/// Memories and tables one component may define, all its core instances
/// together.
const MEMORIES_PER_COMPONENT: u32 = 2;
const TABLES_PER_COMPONENT: u32 = 32;

/// Table bytes each pool slot keeps between requests (see `--keep-resident`).
const TABLE_KEEP_RESIDENT: usize = 1 << 20;

/// A verified (or, with `--allow-unverified`, unverified) component, ready
/// to instantiate per request.
pub struct App {
    pub pre: ProxyPre<ServeState>,
    pub timeout: Duration,
    /// The signed image hash: an unchanged file is not reloaded.
    pub image_hash: Prehash,
    /// The first hex digits of the image hash, naming the app in logs.
    pub image: String,
    /// When the artifact was made, by its signed metadata: a replacement
    /// older than this is refused (anti-rollback).
    pub timestamp: u64,
    max_heap_size: usize,
    _ticker: EpochThread,
}

/// How every app is read and checked: the same at start and on reload.
pub struct Loader {
    /// `None` only with `--allow-unverified`.
    keys: Option<PublicKeySet>,
    policy: Policy,
    log_format: lucet_cli::LogFormat,
    options: LoadOptions,
    max_heap_size: usize,
    max_concurrency: u32,
    keep_resident: usize,
    timeout: Duration,
    registry: lucet_registry::RegistryOptions,
}

impl Loader {
    /// Reads the trusted keys once and takes the limits from `args`.
    pub fn new(args: &Args) -> Result<Loader> {
        let (keys, policy) =
            match lucet_cli::trust(&args.trust, &args.policy, &args.policy_file, false)? {
                Some((keys, policy)) => (Some(keys), policy),
                None => (None, args.policy.policy()),
            };
        let max_heap_size = usize::try_from(args.max_heap_size)
            .map_err(|_| anyhow!("--max-heap-size does not fit this host's address space"))?;
        let mut options = LoadOptions::default();
        options.read_limits.max_image_len = args.max_artifact_size;
        Ok(Loader {
            keys,
            policy,
            log_format: args.policy_file.log_format,
            options,
            max_heap_size,
            max_concurrency: args.max_concurrency,
            keep_resident: usize::try_from(args.keep_resident).unwrap_or(usize::MAX),
            timeout: args.timeout,
            registry: lucet_registry::RegistryOptions {
                insecure_registries: args.registry.insecure_registry.clone(),
            },
        })
    }

    /// Reads, verifies (when keys are given), checks and links the artifact
    /// at `path`. A verified one made before `not_before` is refused: a
    /// reload never rolls an app back.
    pub fn load(&self, path: &Path, not_before: Option<u64>) -> Result<App> {
        let file = self.open(path)?;
        let loaded = match &self.keys {
            Some(keys) => self.load_verified(keys, (path, &file), not_before)?,
            None => load_unverified(&file, self.options)?,
        };
        if !loaded.settings().interruptible {
            bail!(
                "compiled with --no-interruption: lucet-serve needs epoch interruption to enforce --timeout"
            );
        }
        let component = match loaded.code() {
            LoadedCode::Component(component) => component.clone(),
            LoadedCode::Module(_) => bail!("{}", not_a_component()),
        };
        let pre = link(loaded.engine(), &component)?;
        let metadata = loaded.metadata();
        let image = metadata.image_blake2b.as_bytes()[..6]
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        let ticker = EpochThread::every(loaded.engine().clone(), EPOCH_TICK)
            .context("cannot start the epoch thread")?;
        Ok(App {
            pre,
            timeout: self.timeout,
            image_hash: metadata.image_blake2b,
            image,
            timestamp: metadata.timestamp,
            max_heap_size: self.max_heap_size,
            _ticker: ticker,
        })
    }

    /// The artifact at `path`, or for `oci://REF` the one the registry
    /// names now, through the local cache (verified below like any file).
    fn open(&self, path: &Path) -> Result<File> {
        match path.to_str().and_then(lucet_registry::oci_reference) {
            Some(reference) => {
                let max_size = self.options.read_limits.max_image_len;
                Ok(lucet_registry::open_oci(reference, self.registry.clone(), max_size)?.file)
            }
            None => lucet_signature::file::open_regular_file(path)
                .with_context(|| format!("cannot open {}", path.display())),
        }
    }

    fn load_verified(
        &self,
        keys: &PublicKeySet,
        (path, file): (&Path, &File),
        not_before: Option<u64>,
    ) -> Result<LoadedArtifact> {
        let read_limits = self.options.read_limits;
        let checked = lucet_runtime::read_verified_audited(file, keys, &self.policy, read_limits)?;
        let findings = &checked.audit_findings;
        lucet_cli::report_audit("lucet-serve", path, findings, self.log_format);
        let verified = checked.artifact;
        // A reload never rolls an app back, whatever the policy's mode.
        let timestamp = verified.metadata().timestamp;
        if let Some(min) = not_before
            && timestamp < min
        {
            return Err(lucet_artifact::Error::TooOld { timestamp, min }.into());
        }
        require_component(verified.metadata())?;
        // The engine takes the settings the artifact was signed with, so that
        // any lucetc --reserved-size or --guard-size loads.
        let settings = EngineSettings::from_metadata_value(&verified.metadata().settings)?;
        let mut pool = pooling_config(self.max_concurrency, self.max_heap_size, &settings)?;
        // Zeroing kept pages costs less than faulting them in again: with
        // the default (nothing kept) a handler spent most of its time in
        // the kernel (BENCHMARKS.md, P8).
        pool.linear_memory_keep_resident(self.keep_resident.min(self.max_heap_size))
            .table_keep_resident(TABLE_KEEP_RESIDENT);
        let shared = SharedEngine::new(settings, self.options, |config| {
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        })?;
        Ok(lucet_runtime::load_verified_artifact_into(
            &shared, verified,
        )?)
    }
}

impl App {
    /// A fresh store for one request, stopped at `deadline` (at the first
    /// epoch tick after it) and capped at `--max-heap-size`.
    pub fn store(&self, deadline: Instant) -> Store<ServeState> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.max_heap_size)
            .build();
        let state = ServeState {
            wasi: WasiCtx::builder().inherit_stdout().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limits,
            hooks: DenyOutgoing,
        };
        let mut store = Store::new(self.pre.engine(), state);
        store.limiter(|state| &mut state.limits);
        // The epoch is shared by every request: each store compares the wall
        // clock with its own deadline at each tick.
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| {
            Ok(if Instant::now() >= deadline {
                UpdateDeadline::Interrupt
            } else {
                UpdateDeadline::Continue(1)
            })
        });
        store
    }
}

fn not_a_component() -> &'static str {
    "a core module, not a component: lucet-serve serves wasi:http/proxy components"
}

/// Refuses a module from its signed metadata, before anything is loaded.
fn require_component(metadata: &Metadata) -> Result<()> {
    match metadata.kind {
        ArtifactKind::Component => Ok(()),
        ArtifactKind::Module => bail!("{}", not_a_component()),
        other => bail!("an artifact of kind {other:?}: lucet-serve serves components"),
    }
}

/// Local development only: no verification, and wasmtime's on-demand
/// allocator on an engine of the artifact's own.
fn load_unverified(file: &File, options: LoadOptions) -> Result<LoadedArtifact> {
    let artifact =
        lucet_artifact::read_unverified_into::<SealedImage, File>(file, options.read_limits)?;
    require_component(&artifact.metadata)?;
    Ok(lucet_runtime::load_unverified_artifact(artifact, options)?)
}

/// The pool: `instances` components at once, each with fiber stacks for its
/// async calls, memories of at most `max_heap_size` bytes.
fn pooling_config(
    instances: u32,
    max_heap_size: usize,
    settings: &EngineSettings,
) -> Result<PoolingAllocationConfig> {
    if max_heap_size as u64 > settings.memory_reservation {
        bail!(
            "--max-heap-size ({max_heap_size} bytes) exceeds the artifact's memory reservation ({} bytes): recompile with a larger lucetc --reserved-size",
            settings.memory_reservation
        );
    }
    let times = |per: u32| {
        instances
            .checked_mul(per)
            .ok_or_else(|| anyhow!("--max-concurrency {instances} is too large for the pool"))
    };
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(instances)
        .total_core_instances(times(CORE_INSTANCES_PER_COMPONENT)?)
        .total_memories(times(MEMORIES_PER_COMPONENT)?)
        .total_tables(times(TABLES_PER_COMPONENT)?)
        // Guests run on fibers (async calls): one stack per instance.
        .total_stacks(instances)
        .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
        .max_memories_per_component(MEMORIES_PER_COMPONENT)
        .max_tables_per_component(TABLES_PER_COMPONENT)
        .max_memories_per_module(MEMORIES_PER_COMPONENT)
        .max_tables_per_module(TABLES_PER_COMPONENT)
        .max_memory_size(max_heap_size)
        .table_elements(20_000)
        .max_core_instance_size(1 << 20)
        .max_component_instance_size(1 << 20);
    Ok(pool)
}

/// Links WASI 0.2 and `wasi:http` and checks the component is a proxy.
fn link(engine: &Engine, component: &Component) -> Result<ProxyPre<ServeState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    let pre = linker.instantiate_pre(component).map_err(|error| {
        anyhow!("cannot link the component to WASI 0.2 and wasi:http: {error:#}")
    })?;
    ProxyPre::new(pre).map_err(|_| {
        anyhow!("the component does not export wasi:http/incoming-handler: not a wasi:http/proxy")
    })
}

/// One request's store data.
pub struct ServeState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limits: StoreLimits,
    hooks: DenyOutgoing,
}

impl WasiView for ServeState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for ServeState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

/// Outgoing requests are refused: a served app reaches nothing but its
/// client (no TLS stack or resolver in the server either).
struct DenyOutgoing;

type OutgoingFuture = Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>;

impl WasiHttpHooks for DenyOutgoing {
    fn send_request(
        &mut self,
        _request: hyper::Request<WasiBody>,
        _options: Option<wasmtime_wasi_http::RequestOptions>,
        _fut: OutgoingFuture,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (hyper::Response<WasiBody>, OutgoingFuture),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        Box::new(async { Err(wasmtime_wasi_http::Error::HttpRequestDenied) })
    }
}
