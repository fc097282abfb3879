//! Verifying an artifact held in memory, the same read as every runner's
//! (`lucet_artifact::read_verified_into`), without a second copy of its
//! image: the bytes handed on are the caller's, all of which were read.

use std::io;

use lucet_artifact::{ArtifactSource, ImageBuffer, Metadata, Policy, ReadLimits};
use lucet_signature::{KeyId, PublicKeySet};

use crate::Error;

/// What verification established about an artifact: only [`verify`] makes one.
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    metadata: Metadata,
    signer: KeyId,
}

impl Verified {
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    pub fn signer(&self) -> KeyId {
        self.signer
    }
}

/// An image buffer that keeps nothing: each chunk is read into one scratch
/// buffer, hashed there by the reader, and dropped.
struct HashOnly {
    scratch: Vec<u8>,
}

impl ImageBuffer for HashOnly {
    fn for_len(_len: usize) -> io::Result<Self> {
        Ok(HashOnly {
            scratch: Vec::new(),
        })
    }
    fn read_chunk<S: ArtifactSource + ?Sized>(
        &mut self,
        source: &S,
        offset: u64,
        len: usize,
    ) -> io::Result<&[u8]> {
        self.scratch.resize(len, 0);
        source.read_exact_at(&mut self.scratch, offset)?;
        Ok(&self.scratch)
    }
    fn commit_chunk(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Verifies `artifact` against `keys`, then checks `policy` on its
/// authenticated metadata.
pub(crate) fn verify(
    artifact: &[u8],
    keys: &PublicKeySet,
    policy: &Policy,
) -> Result<Verified, Error> {
    let limits = ReadLimits {
        max_image_len: artifact.len() as u64,
    };
    let verified = lucet_artifact::read_verified_into::<HashOnly, [u8]>(artifact, keys, limits)
        .map_err(Error::Artifact)?;
    // Pull has no audit report: an audit-mode policy is enforced.
    policy
        .check_enforced(&verified, lucet_artifact::unix_now())
        .map_err(Error::Artifact)?;
    Ok(Verified {
        signer: verified.signer(),
        metadata: verified.metadata().clone(),
    })
}
