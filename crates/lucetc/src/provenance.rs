//! Working with existing artifacts: re-signing and the rebuild check.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lucet_artifact::Metadata;
use lucet_runtime::rebuild::Rebuild;
use lucet_signature::{Prehash, SecretKey};

/// An artifact's image and metadata, and whether the metadata is authenticated.
pub struct Recorded {
    pub image: Vec<u8>,
    pub metadata: Metadata,
    pub verified: bool,
}

/// Reads `path`, verified against `keys` when any are given; otherwise only
/// with `allow_unverified`, since `action` would vouch for unauthenticated bytes.
pub fn read_artifact(
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

/// `--resign`: the same image and metadata under a new signature.
///
/// Metadata read without verification is vouched for only as far as the
/// re-signer can: the source signer it names is dropped (`source-key=none`),
/// so a forged `source-key` in an unsigned artifact cannot become trusted
/// provenance that `--require-source-key` accepts.
pub fn resign(recorded: Recorded, signer: &SecretKey, output: &Path) -> Result<()> {
    let mut metadata = recorded.metadata;
    if !recorded.verified && metadata.source_key.take().is_some() {
        eprintln!(
            "warning: dropped the unverified artifact's source-key: re-signing cannot vouch for who signed its source"
        );
    }
    let prehash = Prehash::of(&recorded.image);
    let bytes = lucet_artifact::encode_signed(&recorded.image, &metadata, &prehash, signer)?;
    crate::write_atomically(output, &bytes)?;
    eprintln!(
        "{} re-signed with key {}",
        output.display(),
        signer.key_id()
    );
    Ok(())
}

/// `--verify-rebuild`: recompile `input` (at most `max_input_len` bytes) as
/// recorded and compare.
pub fn verify_rebuild(
    recorded: Recorded,
    input: &Path,
    translate_wat: bool,
    max_input_len: u64,
) -> Result<()> {
    let source = crate::source::read_capped(input, max_input_len)?;
    let prehash = Prehash::of(&source);
    let authenticity = if recorded.verified {
        "verified"
    } else {
        "UNAUTHENTICATED"
    };
    if prehash == recorded.metadata.source_blake2b {
        eprintln!(
            "source matches the artifact's recorded source-blake2b ({authenticity} metadata)"
        );
    } else {
        eprintln!(
            "source differs from the artifact's recorded source-blake2b ({authenticity} metadata)"
        );
    }
    let wasm = lucet_runtime::compile::wasm_binary(&source, translate_wat)
        .with_context(|| input.display().to_string())?;
    match lucet_runtime::rebuild::rebuild(&wasm, &recorded.metadata, &recorded.image)? {
        Rebuild::Identical { len } => {
            println!(
                "rebuild matches: the {len}-byte engine image is identical ({authenticity} metadata)"
            );
            Ok(())
        }
        Rebuild::Differs { offset, section } => bail!(
            "rebuild differs from the artifact's engine image (first at byte {offset}): {}",
            section.map_or_else(
                || "only the ELF headers differ".to_string(),
                |name| format!("first differing section is {name}")
            )
        ),
    }
}
