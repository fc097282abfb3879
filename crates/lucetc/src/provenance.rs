//! Reading an existing artifact, for `--resign` and `--verify-rebuild`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use lucet_artifact::Metadata;
use lucet_signature::PublicKeySet;
use lucetc::cli::Args;

/// An artifact's image and metadata, and whether the metadata is authenticated.
pub struct Recorded {
    pub image: Vec<u8>,
    pub metadata: Metadata,
    pub verified: bool,
}

/// Reads the existing artifact at `path` as the flags say: verified against
/// the `-p`/`-P` keys, at most `--max-artifact-size` of image.
pub fn read_existing(args: &Args, path: &Path, action: &str) -> Result<Recorded> {
    let limits = lucet_artifact::ReadLimits {
        max_image_len: args.max_artifact_size,
    };
    let keys = crate::keys::trusted_keys(args)?;
    read_artifact(path, keys.as_ref(), args.allow_unverified, action, limits)
}

/// Reads `path`, verified against `keys` when any are given; otherwise only
/// with `allow_unverified`, since `action` would vouch for unauthenticated bytes.
fn read_artifact(
    path: &Path,
    keys: Option<&PublicKeySet>,
    allow_unverified: bool,
    action: &str,
    limits: lucet_artifact::ReadLimits,
) -> Result<Recorded> {
    let file = lucet_signature::file::open_regular_file(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let in_file = || path.display().to_string();
    let Some(keys) = keys else {
        if !allow_unverified {
            bail!(
                "refusing to {action} {} without verifying it: give -p/--signature-pk KEY (its current signer), or --allow-unverified",
                path.display()
            );
        }
        let artifact = lucet_artifact::read_unverified(&file, limits).with_context(in_file)?;
        eprintln!(
            "warning: {} was not verified: its metadata is unauthenticated",
            path.display()
        );
        return Ok(Recorded {
            image: artifact.image,
            metadata: artifact.metadata,
            verified: false,
        });
    };
    let artifact = lucet_artifact::read_verified(&file, keys, limits).with_context(in_file)?;
    let (image, metadata) = artifact.into_image();
    Ok(Recorded {
        image,
        metadata,
        verified: true,
    })
}
