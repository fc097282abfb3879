//! Reading the source module, verifying its `.minisig` first when keys are given.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use lucet_signature::{Algorithm, KeyId, Legacy, Prehash, PublicKeySet, SignatureBox};

use crate::source_name::{self, SourceNameCheck};

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
pub(crate) fn signature_path(input: &Path) -> PathBuf {
    let mut name = OsString::from(input.as_os_str());
    name.push(".minisig");
    PathBuf::from(name)
}

/// Reads `input`. With `trusted` keys, its signature is parsed and matched to
/// a key first (a legacy or unknown-key signature is refused before the
/// source is read); a prehashed signature's trusted comment is then
/// authenticated and its `file:` compared with `input` (`name_check`), still
/// before the source is read. Then the source is hashed while it is read
/// into the buffer that will be compiled, and verified. A source over
/// `max_len` bytes is refused before it is read.
pub fn read(
    input: &Path,
    trusted: Option<&PublicKeySet>,
    legacy: Legacy,
    name_check: SourceNameCheck,
    max_len: u64,
) -> Result<Source> {
    let signature = match trusted {
        Some(_) => Some(read_signature(input)?),
        None => None,
    };
    let key = match (trusted, &signature) {
        (Some(keys), Some(signature)) => Some(
            keys.select(signature, legacy)
                .with_context(|| format!("source signature {}", signature_path(input).display()))?,
        ),
        _ => None,
    };
    let does_not_verify = || {
        format!(
            "{} does not verify against {}",
            input.display(),
            signature_path(input).display()
        )
    };
    let comment_verified = match (key, &signature) {
        (Some(key), Some(signature)) if signature.algorithm() == Algorithm::Prehashed => {
            let verified = key
                .verify_comment(signature)
                .with_context(does_not_verify)?;
            source_name::check(input, verified.trusted_comment(), name_check)?;
            Some(verified)
        }
        _ => None,
    };

    let bytes = read_capped(input, max_len)?;
    let prehash = Prehash::of(&bytes);

    if let (Some(key), Some(signature)) = (key, &signature) {
        match &comment_verified {
            Some(verified) => verified.verify_prehashed(&prehash),
            None => key.verify_legacy(signature, &bytes),
        }
        .with_context(does_not_verify)?;
        if comment_verified.is_none() {
            source_name::check(input, signature.trusted_comment(), name_check)?;
        }
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

/// Reads and parses `INPUT.minisig`.
fn read_signature(input: &Path) -> Result<SignatureBox> {
    let path = signature_path(input);
    if !path.exists() {
        bail!(
            "source signature {} not found: sign {} (e.g. `rsign sign` or `minisign -S`) or drop --signature-pk",
            path.display(),
            input.display()
        );
    }
    let bytes = lucet_signature::read_capped(&path, SignatureBox::MAX_ENCODED_LEN as u64)?;
    SignatureBox::parse(&bytes).with_context(|| format!("signature {}", path.display()))
}

/// Reads a source of at most `max_len` bytes (`--max-input-size`): a larger
/// file is refused from its size before any of it is read, and memory is
/// reserved fallibly, so no input ends in an allocation abort. Only regular
/// files are read: a FIFO or a device (`/dev/zero`) is refused at once.
pub(crate) fn read_capped(input: &Path, max_len: u64) -> Result<Vec<u8>> {
    match lucet_signature::read_capped(input, max_len) {
        Err(lucet_signature::Error::FileTooLarge { path, len, max }) => bail!(
            "source {} is {len} bytes, more than --max-input-size ({max} bytes); raise --max-input-size if it really is the module to compile",
            path.display()
        ),
        result => Ok(result?),
    }
}
