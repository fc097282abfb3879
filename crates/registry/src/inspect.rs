//! `inspect`: what a registry says about an artifact, without downloading
//! or trusting it.

use std::collections::BTreeMap;

use crate::{Error, Registry, manifest, media};

/// A manifest as the registry describes it. Nothing in it is verified: the
/// annotations are what the pusher's verified metadata said, or what anyone
/// with push access wrote.
#[derive(Debug, Clone)]
pub struct Description {
    /// The manifest's digest, computed from the bytes received.
    pub manifest_digest: String,
    /// Its size in bytes.
    pub manifest_size: usize,
    /// Its `artifactType`, if any.
    pub artifact_type: Option<String>,
    /// Its layers: media type, size, digest.
    pub layers: Vec<(String, i64, String)>,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// Manifests that refer to it (sources, signatures of other tools).
    pub referrers: Vec<Referrer>,
}

/// A manifest whose `subject` is the inspected one.
#[derive(Debug, Clone)]
pub struct Referrer {
    /// Its digest.
    pub digest: String,
    /// Its `artifactType`.
    pub artifact_type: Option<String>,
}

/// Describes the manifest `reference` names and the referrers listed for it.
pub async fn inspect(registry: &Registry, reference: &str) -> Result<Description, Error> {
    let conn = registry.connect(reference)?;
    let fetched = manifest::fetch(&conn, reference).await?;
    let listed = conn
        .client
        .pull_referrers(&conn.at_digest(&fetched.digest), None)
        .await
        .map_err(|source| Error::Registry {
            reference: reference.to_string(),
            source,
        })?;
    let manifest = fetched.manifest;
    Ok(Description {
        manifest_digest: fetched.digest,
        manifest_size: fetched.raw.len(),
        artifact_type: manifest.artifact_type,
        layers: manifest
            .layers
            .into_iter()
            .map(|layer| (layer.media_type, layer.size, layer.digest))
            .collect(),
        annotations: manifest.annotations.unwrap_or_default(),
        referrers: listed
            .manifests
            .into_iter()
            .filter(|entry| entry.media_type == media::OCI_MANIFEST)
            .map(|entry| Referrer {
                digest: entry.digest,
                artifact_type: entry.artifact_type,
            })
            .collect(),
    })
}
