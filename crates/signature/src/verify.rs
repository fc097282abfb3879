//! Verification against a set of trusted keys.
//!
//! It is split in two steps so that a caller can refuse a signature (legacy
//! format, unknown signer) before reading any data: [`PublicKeySet::select`]
//! picks the key, then [`PublicKey::verify_prehashed`] or
//! [`PublicKey::verify_legacy`] checks both signatures.
//! [`verify_file`](crate::verify_file) is the whole sequence for a file read
//! into memory, with the trusted comment checked before the file is read.

use std::io::{ErrorKind, Read};

use ed25519_dalek::Signature;

use crate::error::{Error, Result};
use crate::prehash::{Prehash, Prehasher};
use crate::public_key::PublicKey;
use crate::signature::{Algorithm, SignatureBox};

/// Whether legacy (`Ed`, non-prehashed) signatures may be verified.
///
/// They are refused by default: verifying one means holding the whole data
/// in memory, and minisign has not written them by default since 0.10, so
/// one usually means an old or unusual signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Legacy {
    /// Refuse legacy signatures with [`Error::LegacySignatureRefused`].
    #[default]
    Refuse,
    /// Verify legacy signatures too.
    Allow,
}

/// The trusted public keys: a signature is accepted if any of them made it,
/// so keys can be rotated by trusting old and new for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKeySet {
    keys: Vec<PublicKey>,
}

impl PublicKeySet {
    /// A set of trusted keys.
    ///
    /// Refuses an empty list ([`Error::NoTrustedKeys`]), which would reject
    /// everything and is surely a mistake, and two different keys with the
    /// same id ([`Error::DuplicateKeyId`]), which a signature's key id could
    /// not tell apart. Repeats of the same key are dropped.
    pub fn new(keys: Vec<PublicKey>) -> Result<PublicKeySet> {
        let mut unique: Vec<PublicKey> = Vec::with_capacity(keys.len());
        for key in keys {
            match unique.iter().find(|k| k.key_id() == key.key_id()) {
                Some(existing) if *existing == key => {}
                Some(_) => {
                    return Err(Error::DuplicateKeyId {
                        key_id: key.key_id(),
                    });
                }
                None => unique.push(key),
            }
        }
        if unique.is_empty() {
            return Err(Error::NoTrustedKeys);
        }
        Ok(PublicKeySet { keys: unique })
    }

    /// The keys, in the order given.
    pub fn iter(&self) -> std::slice::Iter<'_, PublicKey> {
        self.keys.iter()
    }

    /// Number of distinct keys (at least one).
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a set has at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// First step of verification: checks that the signature's algorithm is
    /// allowed and returns the trusted key whose id it names. Reads no data,
    /// verifies nothing yet.
    pub fn select(&self, sig: &SignatureBox, legacy: Legacy) -> Result<&PublicKey> {
        if sig.algorithm() == Algorithm::Legacy && legacy == Legacy::Refuse {
            return Err(Error::LegacySignatureRefused);
        }
        self.keys
            .iter()
            .find(|key| key.key_id() == sig.key_id())
            .ok_or_else(|| Error::UnknownKeyId {
                signature: sig.key_id(),
                trusted: self.keys.iter().map(PublicKey::key_id).collect(),
            })
    }
}

impl<'a> IntoIterator for &'a PublicKeySet {
    type Item = &'a PublicKey;
    type IntoIter = std::slice::Iter<'a, PublicKey>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl PublicKey {
    /// Verifies a prehashed (`ED`) signature of the data whose prehash is
    /// `prehash`: the data signature, then the global signature over the
    /// trusted comment.
    ///
    /// Uses Ed25519 strict verification (no small-order components, no
    /// non-canonical encodings), like libsodium.
    pub fn verify_prehashed(&self, sig: &SignatureBox, prehash: &Prehash) -> Result<()> {
        self.check_applies(sig, Algorithm::Prehashed)?;
        self.verify_both(sig, prehash.as_bytes())
    }

    /// Verifies a legacy (`Ed`) signature of `data`, held in memory whole.
    /// Whether legacy signatures are acceptable is the caller's decision
    /// ([`PublicKeySet::select`] makes it).
    pub fn verify_legacy(&self, sig: &SignatureBox, data: &[u8]) -> Result<()> {
        self.check_applies(sig, Algorithm::Legacy)?;
        self.verify_both(sig, data)
    }

    /// Guards direct calls that skip [`PublicKeySet::select`].
    fn check_applies(&self, sig: &SignatureBox, expected: Algorithm) -> Result<()> {
        if sig.algorithm() != expected {
            return Err(Error::AlgorithmMismatch {
                expected,
                actual: sig.algorithm(),
            });
        }
        if sig.key_id() != self.key_id() {
            return Err(Error::UnknownKeyId {
                signature: sig.key_id(),
                trusted: vec![self.key_id()],
            });
        }
        Ok(())
    }

    /// First half of a prehashed verification, for callers that must act on
    /// the trusted comment before they read the data (to bound what they
    /// read, say): checks the global signature, which covers the data
    /// signature and the trusted comment. The returned value is the only way
    /// to that comment as authenticated text, and to finish the job with
    /// [`CommentVerified::verify_prehashed`].
    pub fn verify_comment<'s>(&self, sig: &'s SignatureBox) -> Result<CommentVerified<'s>> {
        self.check_applies(sig, Algorithm::Prehashed)?;
        self.verify_global(sig)?;
        Ok(CommentVerified {
            sig,
            key: self.clone(),
        })
    }

    fn verify_both(&self, sig: &SignatureBox, message: &[u8]) -> Result<()> {
        self.verify_data(sig, message)?;
        self.verify_global(sig)
    }

    fn verify_data(&self, sig: &SignatureBox, message: &[u8]) -> Result<()> {
        self.verifying_key()
            .verify_strict(message, &Signature::from_bytes(sig.signature_bytes()))
            .map_err(|_| Error::InvalidSignature)
    }

    fn verify_global(&self, sig: &SignatureBox) -> Result<()> {
        self.verifying_key()
            .verify_strict(
                &sig.global_message(),
                &Signature::from_bytes(sig.global_signature_bytes()),
            )
            .map_err(|_| Error::InvalidGlobalSignature)
    }
}

/// A prehashed signature whose global signature verified: its trusted
/// comment is authentic (made by [`key`](CommentVerified::key) together with
/// this very data signature), the data not yet checked. Only
/// [`PublicKey::verify_comment`] makes one.
#[derive(Debug)]
pub struct CommentVerified<'s> {
    sig: &'s SignatureBox,
    key: PublicKey,
}

impl CommentVerified<'_> {
    /// The authenticated trusted comment.
    pub fn trusted_comment(&self) -> &str {
        self.sig.trusted_comment()
    }

    /// The key that made the signature.
    pub fn key(&self) -> &PublicKey {
        &self.key
    }

    /// Second half: checks the data signature against the data's prehash.
    pub fn verify_prehashed(&self, prehash: &Prehash) -> Result<()> {
        self.key.verify_data(self.sig, prehash.as_bytes())
    }
}

/// Size of the chunks data is read in, as minisign does.
const CHUNK: usize = 64 * 1024;

/// Verifies `sig` over the data read from `reader` with any key of `keys`,
/// returning the key that made it.
///
/// The key is selected first, so an unknown signer or a refused legacy
/// signature is reported without reading anything. Prehashed data is
/// streamed in 64 KiB chunks in constant memory. Legacy data (only when
/// `legacy` is [`Legacy::Allow`]) is read whole into memory, since Ed25519
/// needs all of it; cap the reader (e.g. with [`Read::take`]) if its size
/// is not already bounded.
pub fn verify_reader<'k>(
    keys: &'k PublicKeySet,
    sig: &SignatureBox,
    legacy: Legacy,
    mut reader: impl Read,
) -> Result<&'k PublicKey> {
    let key = keys.select(sig, legacy)?;
    match sig.algorithm() {
        Algorithm::Prehashed => {
            let mut hasher = Prehasher::new();
            let mut buf = vec![0u8; CHUNK];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => hasher.update(buf.get(..n).unwrap_or(&buf)),
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(source) => return Err(Error::ReadData { source }),
                }
            }
            key.verify_prehashed(sig, &hasher.finalize())?;
        }
        Algorithm::Legacy => {
            let mut data = Vec::new();
            reader
                .read_to_end(&mut data)
                .map_err(|source| Error::ReadData { source })?;
            key.verify_legacy(sig, &data)?;
        }
    }
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::io;

    use super::*;
    use crate::error::ObjectKind;
    use crate::fixtures::{
        DATA, EMPTY_SIG, ENCRYPTED, ENCRYPTED_KEY_SIG, LEGACY_SIG, SIG, UNENCRYPTED,
        key_set as set, public, signature as sig, unencrypted,
    };
    use crate::key_id::KeyId;
    use crate::secret_key::SecretKey;

    /// The fixture signature with its trusted comment replaced (signature
    /// bytes unchanged).
    fn with_trusted_comment(text: &[u8], comment: &str) -> SignatureBox {
        let text = String::from_utf8(text.to_vec()).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        let line = format!("trusted comment: {comment}");
        lines[2] = &line;
        sig((lines.join("\n") + "\n").as_bytes())
    }

    #[test]
    fn verifies_minisign_prehashed_signatures() {
        let keys = set(&[UNENCRYPTED.public]);
        let signer = verify_reader(&keys, &sig(SIG), Legacy::Refuse, DATA).unwrap();
        assert_eq!(signer.key_id().to_string(), "B5EC656A06C6B557");
        verify_reader(&keys, &sig(EMPTY_SIG), Legacy::Refuse, &b""[..]).unwrap();
        let key = keys.select(&sig(SIG), Legacy::Refuse).unwrap();
        key.verify_prehashed(&sig(SIG), &Prehash::of(DATA)).unwrap();
    }

    #[test]
    fn verifies_signature_from_minisign_encrypted_key() {
        let keys = set(&[ENCRYPTED.public]);
        let signer = verify_reader(&keys, &sig(ENCRYPTED_KEY_SIG), Legacy::Refuse, DATA).unwrap();
        assert_eq!(signer.key_id().to_string(), "312BA79C416C8E26");
    }

    #[test]
    fn legacy_is_refused_unless_allowed() {
        let keys = set(&[UNENCRYPTED.public]);
        let legacy = sig(LEGACY_SIG);
        let err = keys.select(&legacy, Legacy::Refuse).unwrap_err();
        assert!(matches!(err, Error::LegacySignatureRefused));
        assert!(
            err.to_string()
                .contains("legacy non-prehashed format, which is not allowed")
        );
        // Refused before reading anything.
        assert!(matches!(
            verify_reader(&keys, &legacy, Legacy::Refuse, FailingReader),
            Err(Error::LegacySignatureRefused)
        ));
        verify_reader(&keys, &legacy, Legacy::Allow, DATA).unwrap();
        keys.select(&legacy, Legacy::Allow)
            .unwrap()
            .verify_legacy(&legacy, DATA)
            .unwrap();
        assert!(matches!(
            verify_reader(&keys, &legacy, Legacy::Allow, &b"other data"[..]),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn legacy_signature_made_by_us_verifies() {
        let key = SecretKey::generate().unwrap();
        let keys = PublicKeySet::new(vec![key.public_key()]).unwrap();
        let legacy = key.sign_legacy_for_tests(b"payload", "legacy", "untrusted");
        assert_eq!(legacy.algorithm(), Algorithm::Legacy);
        verify_reader(&keys, &legacy, Legacy::Allow, &b"payload"[..]).unwrap();
    }

    #[test]
    fn wrong_algorithm_for_the_function_is_refused() {
        let key = public(UNENCRYPTED.public);
        assert!(matches!(
            key.verify_prehashed(&sig(LEGACY_SIG), &Prehash::of(DATA)),
            Err(Error::AlgorithmMismatch {
                expected: Algorithm::Prehashed,
                actual: Algorithm::Legacy
            })
        ));
        assert!(matches!(
            key.verify_legacy(&sig(SIG), DATA),
            Err(Error::AlgorithmMismatch {
                expected: Algorithm::Legacy,
                actual: Algorithm::Prehashed
            })
        ));
    }

    #[test]
    fn unknown_key_id_lists_trusted_keys() {
        let keys = set(&[ENCRYPTED.public]);
        let err = verify_reader(&keys, &sig(SIG), Legacy::Refuse, FailingReader).unwrap_err();
        match &err {
            Error::UnknownKeyId { signature, trusted } => {
                assert_eq!(signature.to_string(), "B5EC656A06C6B557");
                assert_eq!(trusted, &vec!["312BA79C416C8E26".parse::<KeyId>().unwrap()]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            err.to_string(),
            "signature was made by key B5EC656A06C6B557, which is not trusted (trusted: 312BA79C416C8E26)"
        );
        // Called directly with the wrong key.
        assert!(matches!(
            public(ENCRYPTED.public).verify_prehashed(&sig(SIG), &Prehash::of(DATA)),
            Err(Error::UnknownKeyId { .. })
        ));
    }

    #[test]
    fn wrong_key_with_same_id_is_invalid_signature() {
        let impostor = SecretKey::from_seed(public(UNENCRYPTED.public).key_id(), &[9; 32]);
        let keys = PublicKeySet::new(vec![impostor.public_key()]).unwrap();
        assert!(matches!(
            verify_reader(&keys, &sig(SIG), Legacy::Refuse, DATA),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn modified_data_is_invalid_signature() {
        let keys = set(&[UNENCRYPTED.public]);
        let mut data = DATA.to_vec();
        data[0] ^= 1;
        assert!(matches!(
            verify_reader(&keys, &sig(SIG), Legacy::Refuse, &data[..]),
            Err(Error::InvalidSignature)
        ));
        data[0] ^= 1;
        data.push(b'\n');
        assert!(matches!(
            verify_reader(&keys, &sig(SIG), Legacy::Refuse, &data[..]),
            Err(Error::InvalidSignature)
        ));
    }

    #[test]
    fn modified_trusted_comment_is_invalid_global_signature() {
        let keys = set(&[UNENCRYPTED.public]);
        let original = sig(SIG).trusted_comment().to_owned();
        for comment in [
            format!("{original} "),
            original.replace("1700000000", "1800000000"),
            original.replace('\t', " "),
            String::new(),
        ] {
            let tampered = with_trusted_comment(SIG, &comment);
            assert!(
                matches!(
                    verify_reader(&keys, &tampered, Legacy::Refuse, DATA),
                    Err(Error::InvalidGlobalSignature)
                ),
                "{comment:?}"
            );
        }
        // The legacy fixture too.
        let tampered = with_trusted_comment(LEGACY_SIG, "legacy signature of data.txt!");
        assert!(matches!(
            verify_reader(&keys, &tampered, Legacy::Allow, DATA),
            Err(Error::InvalidGlobalSignature)
        ));
    }

    #[test]
    fn comment_is_verified_before_the_data_and_the_data_after() {
        let key = public(UNENCRYPTED.public);
        let signature = sig(SIG);
        let checked = key.verify_comment(&signature).unwrap();
        assert_eq!(checked.trusted_comment(), sig(SIG).trusted_comment());
        assert_eq!(checked.key().key_id(), key.key_id());
        checked.verify_prehashed(&Prehash::of(DATA)).unwrap();
        assert!(matches!(
            checked.verify_prehashed(&Prehash::of(b"other data")),
            Err(Error::InvalidSignature)
        ));
        // A modified comment is refused before any data is looked at.
        let tampered = with_trusted_comment(SIG, "file:evil.wat");
        assert!(matches!(
            key.verify_comment(&tampered),
            Err(Error::InvalidGlobalSignature)
        ));
        // The first half applies the same key and algorithm checks as the whole.
        assert!(matches!(
            key.verify_comment(&sig(LEGACY_SIG)),
            Err(Error::AlgorithmMismatch { .. })
        ));
        assert!(matches!(
            public(ENCRYPTED.public).verify_comment(&sig(SIG)),
            Err(Error::UnknownKeyId { .. })
        ));
    }

    #[test]
    fn untrusted_comment_is_not_covered() {
        let text = String::from_utf8(SIG.to_vec()).unwrap();
        let changed = text.replacen("signature from minisign secret key", "anything", 1);
        let keys = set(&[UNENCRYPTED.public]);
        verify_reader(&keys, &sig(changed.as_bytes()), Legacy::Refuse, DATA).unwrap();
    }

    #[test]
    fn our_signatures_with_minisign_key_verify() {
        let key = unencrypted(UNENCRYPTED.secret);
        let signed = key
            .sign_prehashed(
                &Prehash::of(DATA),
                "timestamp:1700000000\tfile:data.txt",
                "ours",
            )
            .unwrap();
        // Ed25519 is deterministic: same key, same message, same signature
        // bytes as minisign made for the same data.
        assert_eq!(
            signed.to_text().lines().nth(1),
            String::from_utf8(SIG.to_vec()).unwrap().lines().nth(1)
        );
        let keys = set(&[UNENCRYPTED.public]);
        verify_reader(&keys, &signed, Legacy::Refuse, DATA).unwrap();
    }

    #[test]
    fn key_rotation_any_of() {
        let old = public(UNENCRYPTED.public);
        let new_key = SecretKey::generate().unwrap();
        let keys = PublicKeySet::new(vec![new_key.public_key(), old.clone()]).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(!keys.is_empty());
        assert_eq!(
            verify_reader(&keys, &sig(SIG), Legacy::Refuse, DATA).unwrap(),
            &old
        );
        let fresh = new_key
            .sign_prehashed(&Prehash::of(b"new"), "new", "new")
            .unwrap();
        assert_eq!(
            verify_reader(&keys, &fresh, Legacy::Refuse, &b"new"[..])
                .unwrap()
                .key_id(),
            new_key.key_id()
        );
        let ids: Vec<KeyId> = keys.iter().map(PublicKey::key_id).collect();
        assert_eq!(ids, vec![new_key.key_id(), old.key_id()]);
    }

    #[test]
    fn key_set_rules() {
        assert!(matches!(
            PublicKeySet::new(vec![]),
            Err(Error::NoTrustedKeys)
        ));
        let key = public(UNENCRYPTED.public);
        let same_twice = PublicKeySet::new(vec![key.clone(), key.clone()]).unwrap();
        assert_eq!(same_twice.len(), 1);
        let impostor = SecretKey::from_seed(key.key_id(), &[9; 32]).public_key();
        assert!(matches!(
            PublicKeySet::new(vec![key.clone(), impostor]),
            Err(Error::DuplicateKeyId { key_id }) if key_id == key.key_id()
        ));
    }

    /// Hands out data a few bytes at a time, with interruptions.
    struct Trickle<'a> {
        data: &'a [u8],
        interrupt: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt = !self.interrupt;
            if self.interrupt {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(self.data.len()).min(1000);
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    struct FailingReader;

    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("must not be read"))
        }
    }

    #[test]
    fn streams_large_data_through_short_reads_and_interruptions() {
        let key = SecretKey::generate().unwrap();
        let keys = PublicKeySet::new(vec![key.public_key()]).unwrap();
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
        let signed = key
            .sign_prehashed(&Prehash::of(&data), "big", "big")
            .unwrap();
        let reader = Trickle {
            data: &data,
            interrupt: false,
        };
        verify_reader(&keys, &signed, Legacy::Refuse, reader).unwrap();
        verify_reader(&keys, &signed, Legacy::Refuse, &data[..]).unwrap();
    }

    #[test]
    fn read_errors_are_reported() {
        let keys = set(&[UNENCRYPTED.public]);
        let err = verify_reader(&keys, &sig(SIG), Legacy::Refuse, FailingReader).unwrap_err();
        assert!(matches!(err, Error::ReadData { .. }));
        // The message names the step; the cause is the error's source.
        assert_eq!(err.to_string(), "cannot read the signed data");
        let source = std::error::Error::source(&err).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("must not be read"));
    }

    #[test]
    fn error_kinds_display() {
        assert_eq!(ObjectKind::Signature.to_string(), "signature");
        assert_eq!(
            Error::WrongPassword.to_string(),
            "wrong password for that key"
        );
    }
}
