//! The media types and annotation keys lucet artifacts are stored under, as
//! docs/artifact-format.md specifies them. A reader refuses a manifest whose
//! artifact type or layer media type it does not know: a new packaging gets
//! new names, never a new meaning for these.

use std::collections::BTreeMap;

use lucet_artifact::{Metadata, hex};
use lucet_signature::KeyId;

/// `artifactType` of a manifest holding one signed lucet artifact.
pub const ARTIFACT_TYPE: &str = "application/vnd.lucet.artifact.v1";
/// What every version of [`ARTIFACT_TYPE`] starts with: a reader that
/// meets another version knows it is newer, not foreign.
pub const ARTIFACT_TYPE_FAMILY: &str = "application/vnd.lucet.artifact.v";
/// Media type of its one layer: the artifact file, byte for byte.
pub const ARTIFACT_LAYER: &str = "application/vnd.lucet.artifact.layer.v1";
/// `artifactType` of the referrer holding the source an artifact was
/// compiled from.
pub const SOURCE_TYPE: &str = "application/vnd.lucet.source.v1";
/// The source file's layer in that referrer (`.wasm` or `.wat`, as given).
pub const SOURCE_LAYER: &str = "application/vnd.lucet.source.layer.v1";
/// The source's minisign signature (`INPUT.minisig`) in that referrer.
pub const MINISIG_LAYER: &str = "application/vnd.lucet.minisig.v1";

/// The OCI image manifest media type, the only manifest kind read or written.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index, used only for the referrers tag schema.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The OCI 1.1 empty descriptor's media type, for the config of artifacts
/// that have none.
pub const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The empty descriptor's content, `{}`.
pub const EMPTY_CONFIG_BYTES: &[u8] = b"{}";

/// Annotation keys: claims copied from verified metadata when pushed, for
/// `lucet-oci inspect` and registry search. A puller never decides by them.
pub mod annotation {
    /// The artifact's signed name (lucetc --name).
    pub const NAME: &str = "dev.lucet.artifact.name";
    /// `module` or `component`.
    pub const KIND: &str = "dev.lucet.artifact.kind";
    /// Key id (16 hex digits) of the key the artifact signature verified against.
    pub const SIGNER: &str = "dev.lucet.artifact.signer";
    /// BLAKE2b-512 of the engine image, hex.
    pub const IMAGE_BLAKE2B: &str = "dev.lucet.artifact.image-blake2b";
    /// BLAKE2b-512 of the source, hex.
    pub const SOURCE_BLAKE2B: &str = "dev.lucet.artifact.source-blake2b";
    /// Key id the compiler verified the source against, when it did.
    pub const SOURCE_KEY: &str = "dev.lucet.artifact.source-key";
    /// The engine that produced the image, and its target.
    pub const ENGINE: &str = "dev.lucet.artifact.engine";
    /// The standard creation time, from the signed timestamp (RFC 3339, UTC).
    pub const CREATED: &str = "org.opencontainers.image.created";
    /// The standard title of a layer: its file name.
    pub const TITLE: &str = "org.opencontainers.image.title";
}

/// The manifest annotations for an artifact whose signature verified
/// against `signer` and whose metadata is `metadata`.
pub fn artifact_annotations(metadata: &Metadata, signer: KeyId) -> BTreeMap<String, String> {
    let mut annotations = BTreeMap::from([
        (annotation::NAME, metadata.name.clone()),
        (annotation::KIND, metadata.kind.to_string()),
        (annotation::SIGNER, signer.to_string()),
        (
            annotation::IMAGE_BLAKE2B,
            hex(metadata.image_blake2b.as_bytes()),
        ),
        (
            annotation::SOURCE_BLAKE2B,
            hex(metadata.source_blake2b.as_bytes()),
        ),
        (
            annotation::ENGINE,
            format!("{} {}", metadata.engine, metadata.target),
        ),
        (annotation::CREATED, rfc3339_utc(metadata.timestamp)),
    ]);
    if let Some(key) = metadata.source_key {
        annotations.insert(annotation::SOURCE_KEY, key.to_string());
    }
    annotations
        .into_iter()
        .map(|(key, value)| (key.to_string(), value))
        .collect()
}

/// Unix time as RFC 3339 in UTC, e.g. `2026-12-05T16:11:57Z`.
fn rfc3339_utc(unix: u64) -> String {
    i64::try_from(unix)
        .ok()
        .and_then(|seconds| chrono::DateTime::from_timestamp(seconds, 0))
        .map(|time| time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| format!("@{unix}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_utc(1_796_487_117), "2026-12-05T16:11:57Z");
        assert_eq!(rfc3339_utc(4_102_444_799), "2099-12-31T23:59:59Z");
    }
}
