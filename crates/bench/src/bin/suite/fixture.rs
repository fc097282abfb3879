//! Keys, fixture files, the modules the rows run, and lucet's engine
//! settings for the bare wasmtime peers.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lucet_bench::fixture::{BenchKey, CompiledArtifact, compile_artifact};
use lucet_embed::PoolingLimits;
use lucet_runtime::EngineSettings;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

/// The runtime's epoch deadline that is never reached: bare wasmtime is
/// timed with exactly the runner's store settings.
pub use lucet_runtime::NO_DEADLINE;

/// A trivial command: `_start` returns at once.
pub const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

/// The project's hello world (one `fd_write`).
pub const HELLO_WAT: &str = include_str!("../../../../../examples/hello/hello.wat");
pub const HELLO_OUT: &[u8] = b"Hello, world!\n";

/// The end-to-end tests' wasm-GC program: it allocates far beyond any GC
/// heap, so the collector runs (about 0.2 s).
pub const GC_WAT: &str = include_str!("../../../../tests/fixtures/gc.wat");
pub const GC_OUT: &[u8] = b"gc: 66667666670000041\n";

/// wasmtime 48 has its own error type: turn it into anyhow's, with context.
pub trait WasmtimeContext<T> {
    fn wt(self, what: &str) -> Result<T>;
}

impl<T> WasmtimeContext<T> for wasmtime::Result<T> {
    fn wt(self, what: &str) -> Result<T> {
        self.map_err(|e| anyhow::anyhow!("{what}: {e:?}"))
    }
}

/// A key, and the fixtures' files, in a temporary directory.
pub struct Fixture {
    dir: tempfile::TempDir,
    pub key: BenchKey,
    /// The secret key as an unencrypted file, for lucetc's `raw:` keys.
    pub secret_path: PathBuf,
}

impl Fixture {
    pub fn new() -> Result<Fixture> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let key = BenchKey::generate(dir.path())?;
        let secret_path = dir.path().join("bench.key");
        fs::write(&secret_path, key.secret.to_unencrypted_box())?;
        Ok(Fixture {
            dir,
            key,
            secret_path,
        })
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A copy of the program `binary` in the fixture directory, as `name`
    /// (see `Tools::with_fresh_copies`).
    pub fn fresh_copy(&self, binary: &Path, name: &str) -> Result<PathBuf> {
        let copy = self.path(name);
        fs::copy(binary, &copy)
            .with_context(|| format!("copying {} for timing", binary.display()))?;
        Ok(copy)
    }

    /// lucetc's `--signature-sk` argument for the secret key file.
    pub fn secret_arg(&self) -> String {
        format!("raw:{}", self.secret_path.display())
    }

    /// Compiles `wasm` in process as lucetc does, signed by the key or not;
    /// returns the artifact and the engine image's length.
    pub fn artifact(
        &self,
        wasm: &[u8],
        settings: EngineSettings,
        signed: bool,
    ) -> Result<(Vec<u8>, usize)> {
        let signer = signed.then_some(&self.key.secret);
        let CompiledArtifact { bytes, image_len } = compile_artifact(wasm, settings, signer)?;
        Ok((bytes, image_len))
    }
}

pub fn wat(text: &str) -> Result<Vec<u8>> {
    Ok(lucet_runtime::compile::wasm_binary(text.as_bytes(), true)?.into_owned())
}

/// lucet's engine configuration (`lucet_runtime::engine_config`, the one
/// place both lucetc and lucet-wasi build it) for the bare wasmtime peers.
pub fn lucet_like_config(interruptible: bool) -> Result<Config> {
    let settings = EngineSettings {
        interruptible,
        ..EngineSettings::default()
    };
    lucet_runtime::engine_config(&settings).context("lucet engine configuration")
}

/// The bare in-process precompile with lucetc's default settings:
/// `Engine::new` and `precompile_module` with [`lucet_like_config`] at
/// lucetc's default opt level, for this host's CPU.
pub fn bare_precompile(wasm: &[u8], interruptible: bool) -> Result<Vec<u8>> {
    let mut config = lucet_like_config(interruptible)?;
    config
        .cranelift_opt_level(wasmtime::OptLevel::SpeedAndSize)
        .parallel_compilation(true);
    let engine = Engine::new(&config).wt("bare engine")?;
    engine.precompile_module(wasm).wt("bare precompile")
}

/// The pool `lucet_embed::Host` builds from `limits` (`pooling_config` in
/// lucet-embed's `host.rs`, mirrored here: keep the two alike), for the
/// bare wasmtime peers of P4 and P7.
pub fn embed_like_pool(limits: &PoolingLimits) -> Result<PoolingAllocationConfig> {
    let instances = limits.max_instances;
    let per_component = limits.max_core_instances_per_component.max(1);
    let tables_per_component = per_component
        .checked_mul(limits.max_tables_per_module)
        .context("tables per component overflow")?;
    let total = |per: u32| instances.checked_mul(per).context("pool size overflows");
    let mut pool = PoolingAllocationConfig::new();
    pool.total_core_instances(total(per_component)?)
        .total_memories(total(limits.max_memories_per_module)?)
        .total_tables(total(tables_per_component)?)
        .total_stacks(0)
        .total_component_instances(instances)
        .max_core_instances_per_component(per_component)
        .max_memories_per_component(limits.max_memories_per_module)
        .max_tables_per_component(tables_per_component)
        .max_component_instance_size(limits.max_instance_size)
        .max_memories_per_module(limits.max_memories_per_module)
        .max_memory_size(usize::try_from(limits.max_memory_size)?)
        .max_tables_per_module(limits.max_tables_per_module)
        .table_elements(limits.max_table_elements)
        .max_core_instance_size(limits.max_instance_size);
    Ok(pool)
}

/// The engine of a `lucet_embed::Host` with the pool of `limits`, built
/// bare: lucet's engine settings, lucetc's default opt level and the same
/// pool.
pub fn embed_like_engine(limits: &PoolingLimits) -> Result<Engine> {
    let pool = embed_like_pool(limits)?;
    let mut config = lucet_like_config(EngineSettings::default().interruptible)?;
    config
        .cranelift_opt_level(wasmtime::OptLevel::SpeedAndSize)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).wt("bare engine")
}

/// A bare run's WASI context, as lucet-embed gives its guests: empty stdin,
/// stdout and stderr captured in memory (1 MiB each), `argv[0]` = `name`.
/// Returns the builder and the stdout pipe to read after the run.
pub fn bare_wasi(name: &str) -> (WasiCtxBuilder, MemoryOutputPipe) {
    let stdout = MemoryOutputPipe::new(1 << 20);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdin(MemoryInputPipe::new(Vec::new()))
        .stdout(stdout.clone())
        .stderr(MemoryOutputPipe::new(1 << 20))
        .arg(name);
    (wasi, stdout)
}
