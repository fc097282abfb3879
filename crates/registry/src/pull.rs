//! `pull`: a reference to verified artifact bytes, or an error; nothing in
//! between reaches the caller.

use lucet_artifact::{Metadata, Policy};
use lucet_signature::{KeyId, PublicKeySet};

use crate::{Error, Registry, manifest, verify};

/// The largest artifact pulled unless the caller says otherwise: the
/// runners' default cap on an image.
pub const DEFAULT_MAX_ARTIFACT_SIZE: u64 = lucet_artifact::DEFAULT_MAX_IMAGE_LEN;

/// An artifact pulled and verified: only [`pull`] makes one.
#[derive(Debug)]
pub struct Pulled {
    bytes: Vec<u8>,
    manifest_digest: String,
    pinned: String,
    verified: verify::Verified,
}

impl Pulled {
    /// The artifact file, exactly as verified.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
    /// The digest of the manifest it came from (`sha256:...`).
    pub fn manifest_digest(&self) -> &str {
        &self.manifest_digest
    }
    /// `HOST/REPOSITORY@DIGEST`: the reference that names only this artifact.
    pub fn pinned(&self) -> &str {
        &self.pinned
    }
    /// Its authenticated metadata.
    pub fn metadata(&self) -> &Metadata {
        self.verified.metadata()
    }
    /// The trusted key its signature verified against.
    pub fn signer(&self) -> KeyId {
        self.verified.signer()
    }
    /// The artifact file, exactly as verified.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// Pulls the artifact `reference` names and verifies it against `keys` and
/// `policy`. In order: the manifest (against the reference's digest, if it
/// has one), its artifact type and one layer, the layer's declared size
/// against `max_size`, then the download (capped at that size, checked
/// against the layer digest), then the signature and policy.
pub async fn pull(
    registry: &Registry,
    reference: &str,
    keys: &PublicKeySet,
    policy: &Policy,
    max_size: u64,
) -> Result<Pulled, Error> {
    let conn = registry.connect(reference)?;
    let fetched = manifest::fetch(&conn, reference).await?;
    let layer = manifest::artifact_layer(&fetched.manifest, reference, max_size)?;
    let bytes = manifest::fetch_layer(&conn, reference, layer).await?;
    let verified = verify::verify(&bytes, keys, policy)?;
    Ok(Pulled {
        bytes,
        pinned: conn.pinned(&fetched.digest),
        manifest_digest: fetched.digest,
        verified,
    })
}
