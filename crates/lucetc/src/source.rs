//! Reading the source module, verifying its `.minisig` first when keys are given.

use std::ffi::OsString;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use lucet_signature::{Algorithm, KeyId, Legacy, Prehash, PublicKeySet, SignatureBox};

/// The source as read, once.
pub struct Source {
    /// The bytes that were hashed (and verified, with keys) and will be compiled.
    pub bytes: Vec<u8>,
    /// BLAKE2b-512 of `bytes`.
    pub prehash: Prehash,
    /// The trusted key whose signature verified.
    pub signer: Option<KeyId>,
}

/// `INPUT.minisig`, beside the input.
fn signature_path(input: &Path) -> PathBuf {
    let mut name = OsString::from(input.as_os_str());
    name.push(".minisig");
    PathBuf::from(name)
}

/// Reads `input`. With `trusted` keys, its signature is parsed and matched to
/// a key first (a legacy or unknown-key signature is refused before the
/// source is read), then the source is hashed while it is read into the
/// buffer that will be compiled, and verified.
pub fn read(input: &Path, trusted: Option<&PublicKeySet>, legacy: Legacy) -> Result<Source> {
    let signature = match trusted {
        Some(_) => {
            let path = signature_path(input);
            if !path.exists() {
                anyhow::bail!(
                    "source signature {} not found: sign {} (e.g. `rsign sign` or `minisign -S`) or drop --signature-pk",
                    path.display(),
                    input.display()
                );
            }
            let bytes = lucet_signature::read_capped(&path, SignatureBox::MAX_ENCODED_LEN as u64)?;
            Some(
                SignatureBox::parse(&bytes)
                    .with_context(|| format!("signature {}", path.display()))?,
            )
        }
        None => None,
    };
    let key = match (trusted, &signature) {
        (Some(keys), Some(signature)) => Some(
            keys.select(signature, legacy)
                .with_context(|| format!("source signature {}", signature_path(input).display()))?,
        ),
        _ => None,
    };

    let file = File::open(input).with_context(|| format!("cannot open {}", input.display()))?;
    let (bytes, prehash) = lucet_signature::read_hashed(file)
        .with_context(|| format!("cannot read {}", input.display()))?;

    if let (Some(key), Some(signature)) = (key, &signature) {
        let verified = match signature.algorithm() {
            Algorithm::Prehashed => key.verify_prehashed(signature, &prehash),
            Algorithm::Legacy => key.verify_legacy(signature, &bytes),
        };
        verified.with_context(|| {
            format!(
                "{} does not verify against {}",
                input.display(),
                signature_path(input).display()
            )
        })?;
        eprintln!(
            "Trusted comment: {}",
            lucet_signature::escape_for_display(signature.trusted_comment())
        );
    }
    Ok(Source {
        bytes,
        prehash,
        signer: key.map(|k| k.key_id()),
    })
}
