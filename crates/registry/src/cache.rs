//! `oci://REF` for the runners: the artifact a reference names, fetched
//! into a digest-addressed cache on this machine and handed back as an open
//! file that was just checked against its digest. The cache is never
//! trusted: every load re-hashes the cached file, and the runner verifies
//! the signature and policy on that same open file as for any other.

use std::fs::File;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

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

    fn path_of(&self, digest: &str) -> PathBuf {
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
    fn open_matching(&self, digest: &str) -> Result<Option<File>, Error> {
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
            true,
            lucet_signature::file::Durability::Synced,
        )
        .map_err(|error| cache_error(&path, &error.to_string()))
    }
}

/// The cache directory of [`Cache::default_location`], or why there is none.
fn default_cache(reference: &str) -> Result<Cache, Error> {
    let dir = Cache::default_location().ok_or_else(|| Error::Io {
        path: PathBuf::from(reference),
        source: std::io::Error::other("no cache directory: set LUCET_CACHE_DIR (or HOME)"),
    })?;
    Ok(Cache::new(dir))
}

fn cache_error(path: &Path, message: &str) -> Error {
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
    default_cache(reference)?.fetch_blocking(&Registry::new(options), reference, max_size)
}

/// The program [`open_oci_through`] runs: `lucet-oci`, whose `fetch`
/// subcommand is [`Cache::fetch`] into the default cache.
pub const FETCHER: &str = "lucet-oci";

/// The artifact an `oci://REF` argument names, like [`open_oci`], but
/// fetched by another process: `FETCHER fetch REF`, which fills the default
/// cache and prints the layer's digest. That file is then opened and
/// re-hashed here, as [`open_oci`] does.
///
/// For lucet-wasi, whose every start pays for what it links: the registry
/// client (HTTP, TLS, reference parsing) is a third of the data the loader
/// relocates before `main`, with or without `oci://` (BENCHMARKS.md, P5).
/// The fetcher is trusted no more than the registry: the digest it prints
/// must name a cached file that has it, and the runner verifies that file.
pub fn open_oci_through(
    fetcher: &Path,
    reference: &str,
    options: &RegistryOptions,
    max_size: u64,
) -> Result<CachedArtifact, Error> {
    let failed = |message: String| Error::Fetch {
        reference: reference.to_string(),
        fetcher: fetcher.to_path_buf(),
        message,
    };
    let mut command = Command::new(fetcher);
    for host in &options.insecure_registries {
        command.arg("--insecure-registry").arg(host);
    }
    command
        .args(["fetch", "--max-artifact-size", &max_size.to_string(), "--"])
        .arg(reference)
        .stdin(Stdio::null());
    let output = command.output().map_err(|error| {
        failed(match error.kind() {
            std::io::ErrorKind::NotFound => format!(
                "it is not installed there: install {FETCHER} beside this runner, or pull with `{FETCHER} pull` and run the file"
            ),
            _ => format!("cannot run it: {error}"),
        })
    })?;
    if !output.status.success() {
        return Err(failed(fetcher_complaint(&output)));
    }
    let printed = String::from_utf8_lossy(&output.stdout);
    let mut fields = printed.split_whitespace();
    let (Some(digest), Some(pinned)) = (fields.next(), fields.next()) else {
        return Err(failed(format!(
            "it printed {printed:?}, not DIGEST PINNED-REFERENCE"
        )));
    };
    if !is_sha256_digest(digest) {
        return Err(failed(format!(
            "it printed {digest:?}, not a sha256 digest"
        )));
    }
    let cache = default_cache(reference)?;
    let file = cache.open_matching(digest)?.ok_or_else(|| {
        cache_error(
            &cache.path_of(digest),
            "it does not have the digest it was fetched with: run again",
        )
    })?;
    Ok(CachedArtifact {
        file,
        digest: digest.to_string(),
        pinned: pinned.to_string(),
    })
}

/// The fetcher's own one-line error (its last line, without its name), and
/// how it ended.
fn fetcher_complaint(output: &std::process::Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty());
    match last {
        Some(line) => {
            let own = line
                .strip_prefix(FETCHER)
                .and_then(|rest| rest.strip_prefix(": "));
            format!("{} ({})", own.unwrap_or(line), output.status)
        }
        None => format!("it said nothing ({})", output.status),
    }
}

/// `sha256:` and 64 lowercase hex digits: what a cache path may be made of.
fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    })
}
