//! Keys, fixture files, the modules the rows run, and lucet's engine
//! settings for the bare wasmtime peers.

use std::fs;
use std::path::PathBuf;

use anyhow::{Context, Result};
use lucet_bench::fixture::{BenchKey, CompiledArtifact, compile_artifact};
use lucet_runtime::EngineSettings;
use wasmtime::{Config, Engine};

/// The runtime's epoch deadline that is never reached: bare wasmtime is
/// timed with exactly the runner's store settings.
pub use lucet_runtime::NO_DEADLINE;

/// A trivial command: `_start` returns at once.
pub const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

/// The project's hello world (one `fd_write`).
pub const HELLO_WAT: &str = include_str!("../../../../../examples/hello/hello.wat");
pub const HELLO_OUT: &[u8] = b"Hello, world!\n";

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
