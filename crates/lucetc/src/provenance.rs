//! Reading an existing artifact, for `--resign` and `--verify-rebuild`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lucet_artifact::Metadata;
use lucetc::cli::Args;

/// An artifact's image and metadata, and whether the metadata is authenticated.
pub struct Recorded {
    pub image: Vec<u8>,
    pub metadata: Metadata,
    pub verified: bool,
}

/// Reads the existing artifact at `path` as the flags say: verified against
/// `--signature-pk` keys, at most `--max-artifact-size` of image.
pub fn read_existing(args: &Args, path: &Path, action: &str) -> Result<Recorded> {
    let limits = lucet_artifact::ReadLimits {
        max_image_len: args.max_artifact_size,
    };
    read_artifact(
        path,
        &args.signature_pk,
        args.allow_unverified,
        action,
        limits,
    )
}

/// Reads `path`, verified against `keys` when any are given; otherwise only
/// with `allow_unverified`, since `action` would vouch for unauthenticated bytes.
fn read_artifact(
    path: &Path,
    keys: &[PathBuf],
    allow_unverified: bool,
    action: &str,
    limits: lucet_artifact::ReadLimits,
) -> Result<Recorded> {
    let file = lucet_signature::file::open_regular_file(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let in_file = || path.display().to_string();
    if keys.is_empty() {
        if !allow_unverified {
            bail!(
                "refusing to {action} {} without verifying it: give --signature-pk KEY (its current signer), or --allow-unverified",
                path.display()
            );
        }
        let artifact = lucet_artifact::read_unverified(&file, limits).with_context(in_file)?;
        eprintln!(
            "warning: {} was not verified: its metadata is unauthenticated",
            path.display()
        );
        Ok(Recorded {
            image: artifact.image,
            metadata: artifact.metadata,
            verified: false,
        })
    } else {
        let keys = lucet_signature::read_public_keys(keys)?;
        let artifact = lucet_artifact::read_verified(&file, &keys, limits).with_context(in_file)?;
        let (image, metadata) = artifact.into_image();
        Ok(Recorded {
            image,
            metadata,
            verified: true,
        })
    }
}
