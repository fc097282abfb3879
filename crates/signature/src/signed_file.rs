//! Verifying a signed file on disk for a caller that will use its bytes:
//! the whole sequence, once, in the one order that refuses as much as it can
//! before the file is opened ([`verify_file`]).

use std::fmt;
use std::path::Path;

use crate::error::{Error, ObjectKind};
use crate::identify::misidentified;
use crate::key_id::KeyId;
use crate::keyfile::{read_capped, read_capped_hashed};
use crate::prehash::Prehash;
use crate::signature::{Algorithm, SignatureBox};
use crate::verify::{Legacy, PublicKeySet};

/// A file whose signature verified with a trusted key: the bytes as they
/// were read and verified, with what the signature said about them. Only
/// [`verify_file`] makes one.
pub struct VerifiedFile {
    bytes: Vec<u8>,
    prehash: Prehash,
    signer: KeyId,
    trusted_comment: String,
}

impl VerifiedFile {
    /// The bytes that were read, once, and verified.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The verified bytes, for a caller done with the rest.
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }

    /// BLAKE2b-512 of the bytes.
    pub fn prehash(&self) -> Prehash {
        self.prehash
    }

    /// The id of the trusted key whose signature verified.
    pub fn signer(&self) -> KeyId {
        self.signer
    }

    /// The trusted comment, authenticated with the bytes. Untrusted text all
    /// the same: escape it ([`escape_for_display`](crate::escape_for_display))
    /// before printing it.
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }
}

impl fmt::Debug for VerifiedFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedFile")
            .field("len", &self.bytes.len())
            .field("prehash", &self.prehash)
            .field("signer", &self.signer)
            .field("trusted_comment", &self.trusted_comment)
            .finish()
    }
}

/// Why [`verify_file`] refused a file, by the step that refused it. Every
/// step but the caller's own check fails with this crate's [`Error`].
#[derive(Debug, thiserror::Error)]
pub enum VerifyFileError<E> {
    /// The signature was refused before anything was read: a legacy signature
    /// that is not allowed ([`Error::LegacySignatureRefused`]) or a signer
    /// that is not trusted ([`Error::UnknownKeyId`]).
    #[error(transparent)]
    Refused(Error),
    /// The signature does not verify: the trusted comment or the file was
    /// modified, or another key with the same id made it.
    #[error(transparent)]
    Invalid(Error),
    /// The caller's check refused the authenticated trusted comment.
    #[error(transparent)]
    Comment(E),
    /// The file could not be read: not a regular file, larger than the cap
    /// ([`Error::FileTooLarge`]), or an I/O error.
    #[error(transparent)]
    Read(Error),
}

/// Reads the file at `path` (a regular file of at most `max_len` bytes) and
/// verifies `signature` of it with any key of `keys`, in this order:
///
/// 1. The key is chosen ([`PublicKeySet::select`]): a legacy signature that
///    `legacy` refuses, or an untrusted signer, reads nothing.
/// 2. A prehashed signature's global signature is verified, and
///    `check_comment` runs on the trusted comment it authenticates (lucetc
///    compares its `file:` with the file's name), still before the file is
///    opened.
/// 3. The file is read once, capped and hashed as it is read
///    ([`read_capped_hashed`]), and its signature verified.
/// 4. A legacy signature covers the bytes themselves, so its trusted comment
///    is authenticated only now, and only now given to `check_comment`.
///
/// `check_comment` is called at most once, and only with authenticated text.
/// The [`VerifiedFile`] is returned only when every step passed.
pub fn verify_file<E>(
    keys: &PublicKeySet,
    signature: &SignatureBox,
    legacy: Legacy,
    path: &Path,
    max_len: u64,
    check_comment: impl FnOnce(&str) -> Result<(), E>,
) -> Result<VerifiedFile, VerifyFileError<E>> {
    let key = keys
        .select(signature, legacy)
        .map_err(VerifyFileError::Refused)?;
    let read = || read_capped_hashed(path, max_len).map_err(VerifyFileError::Read);
    let (bytes, prehash) = match signature.algorithm() {
        Algorithm::Prehashed => {
            // The global signature authenticates the comment without the
            // data: a signature the caller refuses (one made for another
            // file) leaves the file unopened.
            let comment = key
                .verify_comment(signature)
                .map_err(VerifyFileError::Invalid)?;
            check_comment(comment.trusted_comment()).map_err(VerifyFileError::Comment)?;
            let (bytes, prehash) = read()?;
            comment
                .verify_prehashed(&prehash)
                .map_err(VerifyFileError::Invalid)?;
            (bytes, prehash)
        }
        Algorithm::Legacy => {
            // Both signatures cover the bytes: the comment is authentic only
            // once they verified.
            let (bytes, prehash) = read()?;
            key.verify_legacy(signature, &bytes)
                .map_err(VerifyFileError::Invalid)?;
            check_comment(signature.trusted_comment()).map_err(VerifyFileError::Comment)?;
            (bytes, prehash)
        }
    };
    Ok(VerifiedFile {
        bytes,
        prehash,
        signer: key.key_id(),
        trusted_comment: signature.trusted_comment().to_owned(),
    })
}

/// Reads and parses the `.minisig` file at `path`, capped at the largest
/// signature [`SignatureBox::parse`] accepts. A read error names the file
/// already; a parse error is wrapped in [`Error::InFile`] to name it.
pub fn read_signature(path: &Path) -> Result<SignatureBox, Error> {
    let text = read_capped(path, SignatureBox::MAX_ENCODED_LEN as u64)?;
    SignatureBox::parse(&text).map_err(|error| Error::InFile {
        kind: ObjectKind::Signature,
        path: path.to_owned(),
        source: Box::new(misidentified(&text, ObjectKind::Signature).unwrap_or(error)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::cell::Cell;
    use std::path::PathBuf;

    use super::*;
    use crate::fixtures::{
        DATA, ENCRYPTED, LEGACY_SIG, SIG, UNENCRYPTED, key_set, make_fifo, public, signature,
    };
    use crate::secret_key::SecretKey;

    const DATA_LEN: u64 = DATA.len() as u64;

    /// A directory holding `data.txt`, the fixture [`SIG`] and [`LEGACY_SIG`]
    /// sign.
    struct Scratch {
        dir: tempfile::TempDir,
    }

    impl Scratch {
        fn new() -> Scratch {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("data.txt"), DATA).unwrap();
            Scratch { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        fn data(&self) -> PathBuf {
            self.path("data.txt")
        }
    }

    /// [`verify_file`] with a comment check that accepts every comment and
    /// counts its calls in `checks`.
    fn verify_counting(
        keys: &PublicKeySet,
        sig: &[u8],
        path: &Path,
        max_len: u64,
        checks: &Cell<u32>,
    ) -> Result<VerifiedFile, VerifyFileError<()>> {
        verify_file(keys, &signature(sig), Legacy::Allow, path, max_len, |_| {
            checks.set(checks.get() + 1);
            Ok(())
        })
    }

    #[test]
    fn a_good_signature_gives_the_bytes_and_what_signed_them() {
        let scratch = Scratch::new();
        let mut seen = None;
        let keys = key_set(&[ENCRYPTED.public, UNENCRYPTED.public]);
        let check = |comment: &str| {
            seen = Some(comment.to_owned());
            Ok::<(), ()>(())
        };
        let verified = verify_file(
            &keys,
            &signature(SIG),
            Legacy::Refuse,
            &scratch.data(),
            DATA_LEN,
            check,
        )
        .unwrap();
        let comment = "timestamp:1700000000\tfile:data.txt\ttab-separated";
        assert_eq!(seen.as_deref(), Some(comment));
        assert_eq!(verified.trusted_comment(), comment);
        assert_eq!(verified.signer(), public(UNENCRYPTED.public).key_id());
        assert_eq!(verified.prehash(), Prehash::of(DATA));
        assert_eq!(verified.bytes(), DATA);
        assert!(format!("{verified:?}").contains(&format!("len: {DATA_LEN}")));
        assert_eq!(verified.into_bytes(), DATA);
    }

    #[test]
    fn a_wrong_key_or_a_modified_file_is_refused() {
        let scratch = Scratch::new();
        let never_opened = scratch.path("never-opened");
        let checks = Cell::new(0);
        let untrusted = key_set(&[ENCRYPTED.public]);
        assert!(matches!(
            verify_counting(&untrusted, SIG, &never_opened, DATA_LEN, &checks),
            Err(VerifyFileError::Refused(Error::UnknownKeyId { .. }))
        ));
        // Another key with the same id: the comment's signature fails first.
        let impostor = SecretKey::from_seed(public(UNENCRYPTED.public).key_id(), &[9; 32]);
        let impostor = PublicKeySet::new(vec![impostor.public_key()]).unwrap();
        assert!(matches!(
            verify_counting(&impostor, SIG, &never_opened, DATA_LEN, &checks),
            Err(VerifyFileError::Invalid(Error::InvalidGlobalSignature))
        ));
        assert_eq!(checks.get(), 0);
        let trusted = key_set(&[UNENCRYPTED.public]);
        std::fs::write(scratch.data(), b"Hello, minisign!\nThis file is edited.\n").unwrap();
        assert!(matches!(
            verify_counting(&trusted, SIG, &scratch.data(), DATA_LEN, &checks),
            Err(VerifyFileError::Invalid(Error::InvalidSignature))
        ));
    }

    #[cfg(unix)]
    #[test]
    fn the_comment_check_refuses_before_the_file_is_opened() {
        let scratch = Scratch::new();
        let keys = key_set(&[UNENCRYPTED.public]);
        // Neither a missing file nor a FIFO (whose open would block until a
        // writer came, were it not opened non-blocking) is looked at: the
        // check refuses first.
        let fifo = scratch.path("fifo");
        make_fifo(&fifo);
        for path in [scratch.path("missing"), fifo] {
            let refuse = |comment: &str| Err::<(), _>(comment.to_owned());
            let refused = verify_file(&keys, &signature(SIG), Legacy::Refuse, &path, 1, refuse);
            assert!(
                matches!(&refused, Err(VerifyFileError::Comment(comment)) if comment.contains("file:data.txt")),
                "{refused:?}"
            );
        }
        // Accepted, the missing file is then opened.
        let checks = Cell::new(0);
        let missing = verify_counting(&keys, SIG, &scratch.path("missing"), 1, &checks);
        assert!(matches!(
            missing,
            Err(VerifyFileError::Read(Error::Io { .. }))
        ));
        assert_eq!(checks.get(), 1);
    }

    #[test]
    fn a_legacy_comment_is_checked_only_after_the_bytes_verified() {
        let scratch = Scratch::new();
        let keys = key_set(&[UNENCRYPTED.public]);
        let refused = verify_file(
            &keys,
            &signature(LEGACY_SIG),
            Legacy::Refuse,
            &scratch.path("never-opened"),
            DATA_LEN,
            |_| Ok::<(), ()>(()),
        );
        assert!(matches!(
            refused,
            Err(VerifyFileError::Refused(Error::LegacySignatureRefused))
        ));
        let checks = Cell::new(0);
        let verified = verify_counting(&keys, LEGACY_SIG, &scratch.data(), DATA_LEN, &checks);
        assert_eq!(
            verified.unwrap().trusted_comment(),
            "legacy signature of data.txt"
        );
        assert_eq!(checks.get(), 1);
        // A file that does not verify, or cannot be read, never reaches it.
        let missing = verify_counting(&keys, LEGACY_SIG, &scratch.path("missing"), 1, &checks);
        assert!(matches!(missing, Err(VerifyFileError::Read(_))));
        std::fs::write(scratch.data(), b"other").unwrap();
        assert!(matches!(
            verify_counting(&keys, LEGACY_SIG, &scratch.data(), DATA_LEN, &checks),
            Err(VerifyFileError::Invalid(Error::InvalidSignature))
        ));
        assert_eq!(checks.get(), 1);
    }

    #[test]
    fn a_file_over_the_cap_is_refused() {
        let scratch = Scratch::new();
        let keys = key_set(&[UNENCRYPTED.public]);
        let checks = Cell::new(0);
        let cap = DATA_LEN - 1;
        for sig in [SIG, LEGACY_SIG] {
            let refused = verify_counting(&keys, sig, &scratch.data(), cap, &checks);
            assert!(matches!(
                refused,
                Err(VerifyFileError::Read(Error::FileTooLarge { len, max, .. }))
                    if (len, max) == (DATA_LEN, cap)
            ));
        }
        // Only the prehashed signature's comment was checked, before the read.
        assert_eq!(checks.get(), 1);
        assert!(verify_counting(&keys, SIG, &scratch.data(), DATA_LEN, &checks).is_ok());
    }

    #[test]
    fn signature_files_are_read_capped_and_named_in_errors() {
        let scratch = Scratch::new();
        let path = scratch.path("data.txt.minisig");
        std::fs::write(&path, SIG).unwrap();
        assert_eq!(read_signature(&path).unwrap(), signature(SIG));
        std::fs::write(&path, b"untrusted comment: x\n").unwrap();
        let error = read_signature(&path).unwrap_err();
        assert!(matches!(
            &error,
            Error::InFile { kind: ObjectKind::Signature, source, .. }
                if matches!(**source, Error::MissingLine { line: 2, .. })
        ));
        assert_eq!(error.to_string(), format!("signature {}", path.display()));
        std::fs::write(&path, vec![b'x'; SignatureBox::MAX_ENCODED_LEN + 1]).unwrap();
        assert!(matches!(
            read_signature(&path),
            Err(Error::FileTooLarge { .. })
        ));
        let missing = read_signature(&scratch.path("missing")).unwrap_err();
        assert!(matches!(
            &missing,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound
        ));
    }
}
