//! What the harnesses sign and load: a fresh key with its public key file,
//! and artifacts compiled in process the way lucetc compiles them.

use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lucet_runtime::EngineSettings;
use lucet_runtime::compile::{ArtifactLabel, CompileOptions, SourceProvenance};
use lucet_signature::{Prehash, PublicKeySet, SecretKey};

/// A freshly generated signing key, the key set that trusts it, and its
/// public key in a file, for the tools' `--signature-pk`.
pub struct BenchKey {
    /// The signing key.
    pub secret: SecretKey,
    /// Trusts `secret` alone.
    pub keys: PublicKeySet,
    /// `bench.pub`: the public key in minisign's format.
    pub public_path: PathBuf,
}

impl BenchKey {
    /// Generates a key and writes its public key to `dir/bench.pub`.
    pub fn generate(dir: &Path) -> Result<BenchKey> {
        let secret = SecretKey::generate().context("cannot generate a key")?;
        let public = secret.public_key();
        let public_path = dir.join("bench.pub");
        fs::write(&public_path, public.to_box())
            .with_context(|| format!("cannot write {}", public_path.display()))?;
        let keys = PublicKeySet::new(vec![public])?;
        Ok(BenchKey {
            secret,
            keys,
            public_path,
        })
    }
}

/// An artifact made by [`compile_artifact`].
pub struct CompiledArtifact {
    /// The artifact file's bytes.
    pub bytes: Vec<u8>,
    /// Length of its engine image: what loading it hashes.
    pub image_len: usize,
}

/// Compiles `wasm` in process as lucetc does with `settings`, and encodes
/// it as an artifact named `bench`, signed by `signer` when there is one.
pub fn compile_artifact(
    wasm: &[u8],
    settings: EngineSettings,
    signer: Option<&SecretKey>,
) -> Result<CompiledArtifact> {
    let options = CompileOptions {
        settings,
        ..CompileOptions::default()
    };
    let compiled = lucet_runtime::compile::compile(wasm, &options)?;
    let source = SourceProvenance {
        prehash: Prehash::of(wasm),
        signer: None,
    };
    let label = ArtifactLabel {
        name: "bench".into(),
        timestamp: 0,
        comment: None,
    };
    let bytes =
        lucet_runtime::compile::encode_artifact(&compiled, &settings, &source, label, signer)?;
    Ok(CompiledArtifact {
        bytes,
        image_len: compiled.image.len(),
    })
}

/// Writes `bytes` to a new file at `path` and syncs it, so that no
/// writeback of it runs during the timings.
pub fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file =
        File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))
}
