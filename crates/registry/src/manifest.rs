//! Fetching a manifest and reading a lucet artifact's layer out of it, with
//! the checks that come before any blob is downloaded.

use std::pin::Pin;
use std::task::{Context, Poll};

use oci_client::manifest::{OciDescriptor, OciImageManifest};
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWrite;

use crate::client::Connection;
use crate::{Error, media};

/// Largest manifest accepted. A lucet manifest is well under 4 KiB.
pub(crate) const MAX_MANIFEST_LEN: usize = 1 << 20;

/// A manifest as it arrived, its digest computed here from those bytes.
pub(crate) struct FetchedManifest {
    pub manifest: OciImageManifest,
    pub digest: String,
    pub raw: Vec<u8>,
}

/// `sha256:` and the hex digest of `bytes`, as OCI writes digests.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", lucet_artifact::hex(&Sha256::digest(bytes)))
}

/// Fetches `reference`'s manifest; when the reference names a digest, what
/// arrived must have it.
pub(crate) async fn fetch(conn: &Connection, reference: &str) -> Result<FetchedManifest, Error> {
    let (raw, _) = conn
        .client
        .pull_manifest_raw(&conn.reference, &conn.auth, &[media::OCI_MANIFEST])
        .await
        .map_err(|source| Error::Registry {
            reference: reference.to_string(),
            source,
        })?;
    let digest = sha256_digest(&raw);
    if let Some(expected) = conn.reference.digest()
        && expected != digest
    {
        return Err(Error::ManifestDigest {
            reference: reference.to_string(),
            actual: digest,
        });
    }
    parse(raw.to_vec(), digest, reference)
}

/// `raw` parsed as an OCI image manifest whose digest is `digest`.
pub(crate) fn parse(
    raw: Vec<u8>,
    digest: String,
    reference: &str,
) -> Result<FetchedManifest, Error> {
    let not_artifact = |reason: String| Error::NotAnArtifact {
        reference: reference.to_string(),
        reason,
    };
    if raw.len() > MAX_MANIFEST_LEN {
        return Err(not_artifact(format!("its manifest is {} bytes", raw.len())));
    }
    let manifest: OciImageManifest = serde_json::from_slice(&raw)
        .map_err(|error| not_artifact(format!("its manifest does not parse: {error}")))?;
    Ok(FetchedManifest {
        manifest,
        digest,
        raw,
    })
}

/// The one artifact layer of `manifest`, if it is a lucet artifact's and
/// the layer is no larger than `max_size`.
pub(crate) fn artifact_layer<'m>(
    manifest: &'m OciImageManifest,
    reference: &str,
    max_size: u64,
) -> Result<&'m OciDescriptor, Error> {
    let not_artifact = |reason: String| Error::NotAnArtifact {
        reference: reference.to_string(),
        reason,
    };
    let artifact_type = manifest.artifact_type.as_deref().unwrap_or("none");
    if artifact_type != media::ARTIFACT_TYPE
        && artifact_type.starts_with(media::ARTIFACT_TYPE_FAMILY)
    {
        return Err(not_artifact(format!(
            "its artifact type is {artifact_type}, a packaging newer than this build reads: upgrade"
        )));
    }
    if manifest.artifact_type.is_none()
        && manifest.config.media_type == crate::container::IMAGE_CONFIG
        && manifest
            .annotations
            .as_ref()
            .is_some_and(|annotations| annotations.contains_key(media::annotation::SIGNER))
    {
        // Claims, not checked: only the advice depends on them.
        return Err(not_artifact(
            "it is a container image made by `lucet-oci push --container-image`, for containerd's io.containerd.lucet.v1 runtime: push the artifact without --container-image to pull it".to_string(),
        ));
    }
    if artifact_type != media::ARTIFACT_TYPE {
        return Err(not_artifact(format!(
            "its artifact type is {artifact_type}, not {}",
            media::ARTIFACT_TYPE
        )));
    }
    let [layer] = manifest.layers.as_slice() else {
        return Err(not_artifact(format!(
            "it has {} layers, not one",
            manifest.layers.len()
        )));
    };
    if layer.media_type != media::ARTIFACT_LAYER {
        return Err(not_artifact(format!(
            "its layer is {}, not {}",
            layer.media_type,
            media::ARTIFACT_LAYER
        )));
    }
    let size = u64::try_from(layer.size)
        .map_err(|_| not_artifact(format!("its layer's size is {}", layer.size)))?;
    if size > max_size {
        return Err(Error::TooLarge {
            reference: reference.to_string(),
            size,
            limit: max_size,
        });
    }
    Ok(layer)
}

/// Downloads `layer` into memory: room for its declared size is reserved
/// up front, a byte more is refused, and oci-client checks the digest.
pub(crate) async fn fetch_layer(
    conn: &Connection,
    reference: &str,
    layer: &OciDescriptor,
) -> Result<Vec<u8>, Error> {
    let declared = usize::try_from(layer.size).unwrap_or(usize::MAX);
    let mut sink = CappedSink {
        bytes: Vec::with_capacity(declared),
        cap: declared,
        overflowed: false,
    };
    let result = conn
        .client
        .pull_blob(&conn.reference, layer, &mut sink)
        .await;
    let mismatch = |reason: String| Error::LayerMismatch {
        reference: reference.to_string(),
        reason,
    };
    if sink.overflowed {
        return Err(mismatch(format!(
            "more than the {declared} bytes its manifest declares"
        )));
    }
    result.map_err(|source| match source {
        oci_client::errors::OciDistributionError::DigestError(error) => {
            mismatch(format!("a layer that does not match its digest ({error})"))
        }
        source => Error::Registry {
            reference: reference.to_string(),
            source,
        },
    })?;
    if sink.bytes.len() != declared {
        return Err(mismatch(format!(
            "{} bytes, not the {declared} its manifest declares",
            sink.bytes.len()
        )));
    }
    Ok(sink.bytes)
}

/// Collects a download, refusing to grow past `cap`.
struct CappedSink {
    bytes: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl AsyncWrite for CappedSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.bytes.len().saturating_add(buf.len()) > self.cap {
            self.overflowed = true;
            return Poll::Ready(Err(std::io::Error::other("more bytes than declared")));
        }
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
