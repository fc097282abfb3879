//! Reading the source module, verifying its `.minisig` first when keys are
//! given. The verification itself is `lucet_signature::verify_file`'s; lucetc
//! adds where the signature is, the check of the file name it was made for,
//! and what to say in lucetc's flags.

use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};
use lucet_signature::{Error, KeyId, Legacy, Prehash, PublicKeySet, SignatureBox, VerifyFileError};

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

/// Reads `input`, at most `max_len` bytes, hashing it as it is read. With
/// `trusted` keys, its signature is verified first as `verify_file` does: a
/// legacy or unknown-key signature is refused, and a prehashed signature's
/// `file:` compared with `input` (`name_check`), before the source is read.
pub fn read(
    input: &Path,
    trusted: Option<&PublicKeySet>,
    legacy: Legacy,
    name_check: SourceNameCheck,
    max_len: u64,
) -> Result<Source> {
    let Some(keys) = trusted else {
        let (bytes, prehash) =
            lucet_signature::read_capped_hashed(input, max_len).map_err(over_max_input_size)?;
        return Ok(Source {
            bytes,
            prehash,
            signer: None,
        });
    };
    let signature = read_signature(input)?;
    let verified = lucet_signature::verify_file(
        keys,
        &signature,
        legacy,
        input,
        max_len,
        |trusted_comment| source_name::check(input, trusted_comment, name_check),
    )
    .map_err(|error| not_verified(input, error))?;
    eprintln!(
        "Trusted comment: {}",
        lucet_signature::escape_for_display(verified.trusted_comment())
    );
    Ok(Source {
        prehash: verified.prehash(),
        signer: Some(verified.signer()),
        bytes: verified.into_bytes(),
    })
}

/// Reads and parses `INPUT.minisig`.
fn read_signature(input: &Path) -> Result<SignatureBox> {
    let path = signature_path(input);
    lucet_signature::read_signature(&path).map_err(|error| match error {
        Error::Io { source, .. } if source.kind() == ErrorKind::NotFound => anyhow!(
            "source signature {} not found: sign {} (e.g. `rsign sign` or `minisign -S`) or drop --signature-pk",
            path.display(),
            input.display()
        ),
        other => other.into(),
    })
}

/// Says which step of verifying `input` refused it.
fn not_verified(input: &Path, error: VerifyFileError<anyhow::Error>) -> anyhow::Error {
    let signature = signature_path(input);
    match error {
        VerifyFileError::Refused(error) => {
            anyhow::Error::new(error).context(format!("source signature {}", signature.display()))
        }
        VerifyFileError::Invalid(error) => anyhow::Error::new(error).context(format!(
            "{} does not verify against {}",
            input.display(),
            signature.display()
        )),
        VerifyFileError::Comment(error) => error,
        VerifyFileError::Read(error) => over_max_input_size(error),
    }
}

/// Reads a source of at most `max_len` bytes (`--max-input-size`): a larger
/// file is refused from its size before any of it is read, and memory is
/// reserved fallibly, so no input ends in an allocation abort. Only regular
/// files are read: a FIFO or a device (`/dev/zero`) is refused at once.
pub(crate) fn read_capped(input: &Path, max_len: u64) -> Result<Vec<u8>> {
    lucet_signature::read_capped(input, max_len).map_err(over_max_input_size)
}

/// A source over the cap, said in lucetc's flag; other errors as they are.
fn over_max_input_size(error: Error) -> anyhow::Error {
    match error {
        Error::FileTooLarge { path, len, max } => anyhow!(
            "source {} is {len} bytes, more than --max-input-size ({max} bytes); raise --max-input-size if it really is the module to compile",
            path.display()
        ),
        other => other.into(),
    }
}
