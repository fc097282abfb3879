//! `oci://REF` for the runners: the artifact a reference names, fetched
//! into a digest-addressed cache on this machine and handed back as an open
//! file that was just checked against its digest. The cache is never
//! trusted: every load re-hashes the cached file, and the runner verifies
//! the signature and policy on that same open file as for any other.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::client::Connection;
use crate::manifest::{self, FetchedManifest, sha256_digest};
use crate::{Error, Registry, RegistryOptions};

/// The prefix that makes an artifact argument a registry reference.
pub const OCI_SCHEME: &str = "oci://";

/// Where fetched artifacts and manifests are kept, by digest.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

/// An artifact from the cache: open, and matching its layer digest when it
/// was opened. Not verified: the runner does that.
#[derive(Debug)]
pub struct CachedArtifact {
    /// The open cached file, read from the start by the runner.
    pub file: File,
    /// The layer's digest (`sha256:HEX`), which the file had when opened.
    pub digest: String,
    /// `HOST/REPOSITORY@DIGEST` of the manifest it came from.
    pub pinned: String,
}

impl Cache {
    /// A cache in `dir` (created when first written to).
    pub fn new(dir: PathBuf) -> Cache {
        Cache { dir }
    }

    /// `$LUCET_CACHE_DIR`, else `$XDG_CACHE_HOME/lucet`, else
    /// `~/.cache/lucet`; `oci/` inside it.
    pub fn default_location() -> Option<PathBuf> {
        let var = |name| std::env::var_os(name).filter(|value| !value.is_empty());
        let base = var("LUCET_CACHE_DIR").map(PathBuf::from).or_else(|| {
            var("XDG_CACHE_HOME")
                .map(|dir| PathBuf::from(dir).join("lucet"))
                .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache/lucet")))
        })?;
        Some(base.join("oci"))
    }

    /// The cache at [`Cache::default_location`], for work on `reference`;
    /// an error naming it when there is no such place.
    pub fn at_default_location(reference: &str) -> Result<Cache, Error> {
        let dir = Cache::default_location().ok_or_else(|| Error::Io {
            path: PathBuf::from(reference),
            source: std::io::Error::other("no cache directory: set LUCET_CACHE_DIR (or HOME)"),
        })?;
        Ok(Cache::new(dir))
    }

    /// The artifact `reference` names: its manifest from the cache when the
    /// reference pins a digest and the cached copy has it, else from the
    /// registry; its layer from the cache when the cached file has the
    /// layer's digest, else downloaded (capped at `max_size`) into it.
    pub async fn fetch(
        &self,
        registry: &Registry,
        reference: &str,
        max_size: u64,
    ) -> Result<CachedArtifact, Error> {
        let conn = registry.connect(reference)?;
        let fetched = match self.cached_manifest(&conn, reference) {
            Some(fetched) => fetched,
            None => {
                let fetched = manifest::fetch(&conn, reference).await?;
                self.store(&fetched.digest, &fetched.raw)?;
                fetched
            }
        };
        let layer = manifest::artifact_layer(&fetched.manifest, reference, max_size)?;
        if let Some(file) = self.open_matching(&layer.digest)? {
            return Ok(CachedArtifact {
                file,
                digest: layer.digest.clone(),
                pinned: conn.pinned(&fetched.digest),
            });
        }
        let bytes = manifest::fetch_layer(&conn, reference, layer).await?;
        self.store(&layer.digest, &bytes)?;
        let file = self.open_matching(&layer.digest)?.ok_or_else(|| {
            cache_error(&self.path_of(&layer.digest), "changed as it was written")
        })?;
        Ok(CachedArtifact {
            file,
            digest: layer.digest.clone(),
            pinned: conn.pinned(&fetched.digest),
        })
    }

    /// [`fetch`](Cache::fetch) for callers without an async runtime: it runs
    /// on a thread of its own, so it may be called from any thread.
    pub fn fetch_blocking(
        &self,
        registry: &Registry,
        reference: &str,
        max_size: u64,
    ) -> Result<CachedArtifact, Error> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|source| Error::Io {
                            path: PathBuf::from("(async runtime)"),
                            source,
                        })?;
                    runtime.block_on(self.fetch(registry, reference, max_size))
                })
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }

    pub(crate) fn path_of(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir.join("sha256").join(hex)
    }

    /// The cached manifest a digest reference pins, if the cached bytes
    /// still have that digest.
    fn cached_manifest(&self, conn: &Connection, reference: &str) -> Option<FetchedManifest> {
        let digest = conn.reference.digest()?;
        let raw = std::fs::read(self.path_of(digest)).ok()?;
        if sha256_digest(&raw) != digest {
            return None;
        }
        manifest::parse(raw, digest.to_string(), reference).ok()
    }

    /// The cached file with `digest`, opened and re-hashed through the
    /// handle returned; `None` when absent or different.
    pub(crate) fn open_matching(&self, digest: &str) -> Result<Option<File>, Error> {
        let path = self.path_of(digest);
        let mut file = match lucet_signature::file::open_regular_file(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(cache_error(&path, &error.to_string())),
        };
        let mut hasher = Sha256::new();
        let mut chunk = vec![0u8; 1 << 20];
        loop {
            let read = file
                .read(&mut chunk)
                .map_err(|error| cache_error(&path, &error.to_string()))?;
            if read == 0 {
                break;
            }
            hasher.update(&chunk[..read]);
        }
        let actual = format!("sha256:{}", lucet_artifact::hex(&hasher.finalize()));
        Ok((actual == digest).then_some(file))
    }

    /// Writes `bytes` under `digest`, atomically (a reader sees the old
    /// file or the new one, never a part).
    fn store(&self, digest: &str, bytes: &[u8]) -> Result<(), Error> {
        let path = self.path_of(digest);
        let dir = lucet_signature::file::parent_dir(&path);
        std::fs::create_dir_all(dir).map_err(|error| cache_error(dir, &error.to_string()))?;
        lucet_signature::file::write_atomically(
            &path,
            bytes,
            0o644,
            lucet_signature::file::Existing::Replace,
            lucet_signature::file::Durability::Synced,
        )
        .map_err(|error| cache_error(&path, &error.to_string()))
    }
}

pub(crate) fn cache_error(path: &Path, message: &str) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(format!("in the artifact cache: {message}")),
    }
}

/// The reference in a runner's artifact argument, if it is `oci://REF`.
pub fn oci_reference(argument: &str) -> Option<&str> {
    argument.strip_prefix(OCI_SCHEME)
}

/// The artifact an `oci://REF` argument names, through the default cache
/// ([`Cache::default_location`]), for the runners: callable from any thread.
pub fn open_oci(
    reference: &str,
    options: RegistryOptions,
    max_size: u64,
) -> Result<CachedArtifact, Error> {
    Cache::at_default_location(reference)?.fetch_blocking(
        &Registry::new(options),
        reference,
        max_size,
    )
}
