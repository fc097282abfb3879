//! `push`: an artifact verified here, uploaded as one layer of an OCI
//! artifact manifest annotated from its verified metadata; optionally its
//! source and `.minisig` as a referrer.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use lucet_artifact::Policy;
use lucet_signature::{Prehash, PublicKeySet};
use oci_client::manifest::{ImageIndexEntry, OciDescriptor, OciImageIndex, OciImageManifest};

use crate::client::Connection;
use crate::manifest::sha256_digest;
use crate::media::{self, annotation};
use crate::{Error, Registry, container, verify};

/// The source an artifact was compiled from, and its minisign signature.
#[derive(Debug, Clone)]
pub struct SourceFiles {
    /// The `.wasm` or `.wat` file as lucetc read it.
    pub source: PathBuf,
    /// Its signature, by default `SOURCE.minisig`.
    pub signature: PathBuf,
}

impl SourceFiles {
    /// `source` with its signature beside it, as lucetc finds it.
    pub fn beside(source: PathBuf) -> SourceFiles {
        let mut signature = source.clone().into_os_string();
        signature.push(".minisig");
        SourceFiles {
            source,
            signature: signature.into(),
        }
    }
}

/// How an artifact is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packaging {
    /// An OCI artifact whose one layer is the artifact: what `pull` and
    /// `oci://` read.
    Artifact,
    /// A container image that containerd runs with `containerd-shim-lucet`
    /// ([`crate::container`]).
    ContainerImage,
}

/// What `push` stored.
#[derive(Debug, Clone)]
pub struct Pushed {
    /// The artifact manifest's digest.
    pub manifest_digest: String,
    /// `HOST/REPOSITORY@DIGEST`: the reference that can only ever name this artifact.
    pub pinned: String,
    /// The source referrer's manifest digest, when a source was attached.
    pub source_digest: Option<String>,
}

/// Verifies the artifact at `artifact` against `keys` and pushes it to
/// `reference` (a tag, usually); with `source`, also the source it was
/// compiled from (checked against the signed source hash) and its
/// signature, as a referrer of the artifact manifest. Files larger than
/// `max_size` are refused before they are read.
pub async fn push(
    registry: &Registry,
    artifact: &Path,
    reference: &str,
    keys: &PublicKeySet,
    source: Option<&SourceFiles>,
    packaging: Packaging,
    max_size: u64,
) -> Result<Pushed, Error> {
    let bytes = read_capped(artifact, max_size)?;
    let verified = verify::verify(&bytes, keys, &Policy::default())?;
    let source_bytes = match source {
        Some(files) => Some(read_source(files, verified.metadata(), max_size)?),
        None => None,
    };
    let conn = registry.connect(reference)?;
    conn.authorize().await;

    let annotations = media::artifact_annotations(verified.metadata(), verified.signer());
    let manifest = match packaging {
        Packaging::Artifact => {
            let title = file_name(artifact);
            let layer = upload_blob(&conn, reference, bytes, media::ARTIFACT_LAYER, title).await?;
            OciImageManifest {
                schema_version: 2,
                media_type: Some(media::OCI_MANIFEST.to_string()),
                config: upload_empty_config(&conn, reference).await?,
                layers: vec![layer],
                subject: None,
                artifact_type: Some(media::ARTIFACT_TYPE.to_string()),
                annotations: Some(annotations),
            }
        }
        Packaging::ContainerImage => {
            let layer = container::layer(&bytes)?;
            drop(bytes);
            let config = container::config(verified.metadata(), &layer, &annotations)?;
            OciImageManifest {
                schema_version: 2,
                media_type: Some(media::OCI_MANIFEST.to_string()),
                config: upload_blob(&conn, reference, config, container::IMAGE_CONFIG, None)
                    .await?,
                layers: vec![
                    upload_blob(&conn, reference, layer, container::TAR_LAYER, None).await?,
                ],
                subject: None,
                artifact_type: None,
                annotations: Some(annotations),
            }
        }
    };
    let subject = upload_manifest(&conn, reference, &conn.reference, &manifest).await?;

    let source_digest = match (source, source_bytes) {
        (Some(files), Some((source, signature))) => {
            Some(push_source_referrer(&conn, reference, files, source, signature, &subject).await?)
        }
        _ => None,
    };
    Ok(Pushed {
        pinned: conn.pinned(&subject.digest),
        manifest_digest: subject.digest,
        source_digest,
    })
}

/// Reads a whole file, refused before reading when larger than `max_size`.
fn read_capped(path: &Path, max_size: u64) -> Result<Vec<u8>, Error> {
    let io = |source: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = lucet_signature::file::open_regular_file(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    if len > max_size {
        return Err(io(std::io::Error::other(format!(
            "{len} bytes, over the limit of {max_size}"
        ))));
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.by_ref()
        .take(max_size.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > max_size {
        return Err(io(std::io::Error::other("the file grew while it was read")));
    }
    Ok(bytes)
}

/// The source and its signature, once the source is shown to be the one
/// the verified metadata names.
fn read_source(
    files: &SourceFiles,
    metadata: &lucet_artifact::Metadata,
    max_size: u64,
) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let source = read_capped(&files.source, max_size)?;
    if Prehash::of(&source) != metadata.source_blake2b {
        return Err(Error::SourceMismatch {
            path: files.source.clone(),
        });
    }
    // A minisign signature file is a few hundred bytes.
    let signature = read_capped(&files.signature, 64 * 1024)?;
    Ok((source, signature))
}

fn file_name(path: &Path) -> Option<String> {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
}

async fn upload_blob(
    conn: &Connection,
    reference: &str,
    bytes: Vec<u8>,
    media_type: &str,
    title: Option<String>,
) -> Result<OciDescriptor, Error> {
    let digest = sha256_digest(&bytes);
    let size = bytes.len() as i64;
    conn.client
        .push_blob(&conn.reference, bytes, &digest)
        .await
        .map_err(|source| registry_error(reference, source))?;
    Ok(OciDescriptor {
        media_type: media_type.to_string(),
        digest,
        size,
        annotations: title.map(|title| BTreeMap::from([(annotation::TITLE.to_string(), title)])),
        ..OciDescriptor::default()
    })
}

/// The OCI 1.1 empty config (`{}`), which artifacts without a config carry.
async fn upload_empty_config(conn: &Connection, reference: &str) -> Result<OciDescriptor, Error> {
    let bytes = media::EMPTY_CONFIG_BYTES.to_vec();
    upload_blob(conn, reference, bytes, media::EMPTY_CONFIG, None).await
}

/// Uploads `manifest` under `target` (a tag or its own digest) and returns
/// a descriptor of it, its digest computed from the bytes sent.
async fn upload_manifest(
    conn: &Connection,
    reference: &str,
    target: &oci_client::Reference,
    manifest: &OciImageManifest,
) -> Result<OciDescriptor, Error> {
    let raw = serde_json::to_vec(manifest).expect("a manifest always serialises");
    let digest = sha256_digest(&raw);
    let size = raw.len() as i64;
    let content_type = http_header(media::OCI_MANIFEST);
    conn.client
        .push_manifest_raw(target, raw, content_type)
        .await
        .map_err(|source| registry_error(reference, source))?;
    Ok(OciDescriptor {
        media_type: media::OCI_MANIFEST.to_string(),
        digest,
        size,
        ..OciDescriptor::default()
    })
}

/// Pushes the source referrer of `subject`, and lists it where referrers
/// are found: the registry's referrers API when it has one, else the OCI
/// 1.1 fallback tag (`sha256-HEX`, an index of referrers).
async fn push_source_referrer(
    conn: &Connection,
    reference: &str,
    files: &SourceFiles,
    source: Vec<u8>,
    signature: Vec<u8>,
    subject: &OciDescriptor,
) -> Result<String, Error> {
    let source = upload_blob(
        conn,
        reference,
        source,
        media::SOURCE_LAYER,
        file_name(&files.source),
    )
    .await?;
    let signature = upload_blob(
        conn,
        reference,
        signature,
        media::MINISIG_LAYER,
        file_name(&files.signature),
    )
    .await?;
    let manifest = OciImageManifest {
        schema_version: 2,
        media_type: Some(media::OCI_MANIFEST.to_string()),
        config: upload_empty_config(conn, reference).await?,
        layers: vec![source, signature],
        subject: Some(subject.clone()),
        artifact_type: Some(media::SOURCE_TYPE.to_string()),
        annotations: None,
    };
    let raw = serde_json::to_vec(&manifest).expect("a manifest always serialises");
    let target = conn.at_digest(&sha256_digest(&raw));
    let referrer = upload_manifest(conn, reference, &target, &manifest).await?;

    let listed = conn
        .client
        .pull_referrers(&conn.at_digest(&subject.digest), Some(media::SOURCE_TYPE))
        .await
        .map_err(|source| registry_error(reference, source))?;
    if !listed
        .manifests
        .iter()
        .any(|entry| entry.digest == referrer.digest)
    {
        add_to_fallback_index(conn, reference, subject, &referrer).await?;
    }
    Ok(referrer.digest)
}

/// Adds `referrer` to the referrers index under `subject`'s fallback tag,
/// creating the index if there is none.
async fn add_to_fallback_index(
    conn: &Connection,
    reference: &str,
    subject: &OciDescriptor,
    referrer: &OciDescriptor,
) -> Result<(), Error> {
    let tag = conn.at_tag(&subject.digest.replace(':', "-"));
    let mut index = match conn
        .client
        .pull_manifest_raw(&tag, &conn.auth, &[media::OCI_INDEX])
        .await
    {
        Ok((raw, _)) => {
            serde_json::from_slice::<OciImageIndex>(&raw).map_err(|error| Error::NotAnArtifact {
                reference: tag.whole(),
                reason: format!("its referrers index does not parse: {error}"),
            })?
        }
        Err(error) if !is_not_found(&error) => return Err(registry_error(reference, error)),
        Err(_) => OciImageIndex {
            schema_version: 2,
            media_type: Some(media::OCI_INDEX.to_string()),
            manifests: Vec::new(),
            artifact_type: None,
            annotations: None,
        },
    };
    index.manifests.push(ImageIndexEntry {
        media_type: media::OCI_MANIFEST.to_string(),
        digest: referrer.digest.clone(),
        size: referrer.size,
        platform: None,
        annotations: None,
        artifact_type: Some(media::SOURCE_TYPE.to_string()),
    });
    let raw = serde_json::to_vec(&index).expect("an index always serialises");
    conn.client
        .push_manifest_raw(&tag, raw, http_header(media::OCI_INDEX))
        .await
        .map_err(|source| registry_error(reference, source))?;
    Ok(())
}

/// Whether the registry said that what was asked for does not exist.
fn is_not_found(error: &oci_client::errors::OciDistributionError) -> bool {
    use oci_client::errors::OciDistributionError as E;
    match error {
        E::ImageManifestNotFoundError(_) => true,
        E::ServerError { code, .. } => *code == 404,
        E::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .any(|error| error.code == oci_client::errors::OciErrorCode::ManifestUnknown),
        _ => false,
    }
}

fn http_header(media_type: &'static str) -> http::HeaderValue {
    http::HeaderValue::from_static(media_type)
}

fn registry_error(reference: &str, source: oci_client::errors::OciDistributionError) -> Error {
    Error::Registry {
        reference: reference.to_string(),
        source,
    }
}
