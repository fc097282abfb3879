//! Public keys: `base64("Ed" ‖ key id ‖ Ed25519 public key)`, alone on a
//! line or under an untrusted comment.

use std::fmt;

use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::base64;
use crate::constants::{
    ED25519_PUBLIC_KEY_LEN, KEY_ID_LEN, MAX_PUBLIC_KEY_TEXT_LEN, PUBLIC_KEY_BYTES, SIG_ALG_ED25519,
    UNTRUSTED_COMMENT_PREFIX,
};
use crate::error::{Error, ObjectKind, Result};
use crate::key_id::KeyId;
use crate::text::{has_more_than_one_line, refuse_oversized, split_key_box, split_lines};

const KIND: ObjectKind = ObjectKind::PublicKey;

/// A Minisign public key: a key id and an Ed25519 public key.
///
/// Only keys that can verify something are accepted: the bytes must be a
/// valid Ed25519 point of large order.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key_id: KeyId,
    key: VerifyingKey,
}

impl PublicKey {
    /// Largest input [`PublicKey::from_text`] reads.
    pub const MAX_ENCODED_LEN: usize = MAX_PUBLIC_KEY_TEXT_LEN;

    /// Parses a public key in either text form minisign uses:
    ///
    /// * a box, as in `minisign.pub`: `untrusted comment: ...` on line 1,
    ///   the base64 key on line 2, an optional final line terminator and
    ///   nothing else;
    /// * the bare base64 key (`RW...`, what `minisign -P` takes), with an
    ///   optional line terminator.
    ///
    /// Lines end in LF or CRLF. The comment is checked (no control
    /// characters but TAB) and then ignored: it is not authenticated.
    pub fn from_text(text: &[u8]) -> Result<PublicKey> {
        refuse_oversized(text, KIND, Self::MAX_ENCODED_LEN)?;
        if text.starts_with(UNTRUSTED_COMMENT_PREFIX.as_bytes()) || has_more_than_one_line(text) {
            Self::from_base64_line(split_key_box(text, KIND)?, 2)
        } else {
            let [key] = split_lines::<1>(text, KIND)?;
            Self::from_base64_line(key, 1)
        }
    }

    /// Parses the bare base64 form (`RW...`) with nothing around it.
    pub fn from_base64(text: &str) -> Result<PublicKey> {
        Self::from_base64_line(text.as_bytes(), 1)
    }

    fn from_base64_line(line: &[u8], line_number: usize) -> Result<PublicKey> {
        let bytes = base64::decode_exact::<PUBLIC_KEY_BYTES>(line, KIND, line_number)?;
        let (alg, rest) = bytes.split_first_chunk::<2>().ok_or(Error::WrongLength {
            kind: KIND,
            line: line_number,
            expected: PUBLIC_KEY_BYTES,
            actual: bytes.len(),
        })?;
        if *alg != SIG_ALG_ED25519 {
            return Err(Error::UnknownAlgorithm {
                kind: KIND,
                found: *alg,
            });
        }
        let (key_id, key) = split_key_id(rest).ok_or(Error::WrongLength {
            kind: KIND,
            line: line_number,
            expected: PUBLIC_KEY_BYTES,
            actual: bytes.len(),
        })?;
        Self::from_parts(KeyId::from_bytes(*key_id), key)
    }

    /// The public key with this id and these Ed25519 public key bytes.
    ///
    /// Refuses bytes that are not a point on the curve, and small-order
    /// points, for which signatures prove nothing (`verify_strict` would
    /// refuse every signature anyway; refusing early gives a clearer error).
    pub fn from_parts(key_id: KeyId, key: &[u8; ED25519_PUBLIC_KEY_LEN]) -> Result<PublicKey> {
        let key = VerifyingKey::from_bytes(key).map_err(|_| Error::InvalidPublicKey {
            reason: "not a valid ed25519 point",
        })?;
        if key.is_weak() {
            return Err(Error::InvalidPublicKey {
                reason: "a small-order ed25519 point",
            });
        }
        Ok(PublicKey { key_id, key })
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The Ed25519 public key bytes.
    pub fn ed25519_bytes(&self) -> &[u8; ED25519_PUBLIC_KEY_LEN] {
        self.key.as_bytes()
    }

    /// The public half of `signing`. No checks needed: a key derived from a
    /// seed is never weak.
    pub(crate) fn from_signing_key(key_id: KeyId, signing: &SigningKey) -> PublicKey {
        PublicKey {
            key_id,
            key: signing.verifying_key(),
        }
    }

    pub(crate) fn verifying_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// The 42 bytes minisign base64-encodes: `"Ed"` ‖ key id ‖ public key.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_BYTES] {
        let mut out = [0u8; PUBLIC_KEY_BYTES];
        let (alg, rest) = out.split_at_mut(2);
        let (id, key) = rest.split_at_mut(KEY_ID_LEN);
        alg.copy_from_slice(&SIG_ALG_ED25519);
        id.copy_from_slice(self.key_id.as_bytes());
        key.copy_from_slice(self.key.as_bytes());
        out
    }

    /// The bare base64 form (`RW...`), as `minisign -P` takes it.
    pub fn to_base64(&self) -> String {
        base64::encode(&self.to_bytes())
    }

    /// The box minisign writes to `minisign.pub`, final newline included:
    /// `untrusted comment: minisign public key <KEYID>\n<base64>\n`, with
    /// the key id in 16 digits (minisign 0.11 drops leading zeros in this
    /// comment; it is not parsed by anyone, so either form interoperates).
    pub fn to_box(&self) -> String {
        format!(
            "{UNTRUSTED_COMMENT_PREFIX}minisign public key {}\n{}\n",
            self.key_id,
            self.to_base64()
        )
    }
}

/// Splits key id ‖ key bytes (exactly 40 bytes).
fn split_key_id(rest: &[u8]) -> Option<(&[u8; KEY_ID_LEN], &[u8; ED25519_PUBLIC_KEY_LEN])> {
    let (key_id, key) = rest.split_first_chunk::<KEY_ID_LEN>()?;
    Some((key_id, key.try_into().ok()?))
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("key_id", &self.key_id)
            .field("base64", &self.to_base64())
            .finish()
    }
}

impl std::hash::Hash for PublicKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.key_id.hash(state);
        self.key.as_bytes().hash(state);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const PUB_BOX: &[u8] = include_bytes!("../tests/data/minisign-unencrypted.pub");
    const PUB_B64: &str = "RWRXtcYGamXstSK67WYVGG3ewSORSF/Ukl3Hp3CwV/zIKc24Fn/nAgjf";

    #[test]
    fn parses_minisign_box_and_round_trips() {
        let key = PublicKey::from_text(PUB_BOX).unwrap();
        assert_eq!(key.key_id().to_string(), "B5EC656A06C6B557");
        assert_eq!(key.to_base64(), PUB_B64);
        // minisign's own file is byte-identical to what we write. (This key
        // id has no leading zero: minisign 0.11 does not zero-pad it in the
        // comment, we do, as minisign's messages do.)
        assert_eq!(key.to_box().as_bytes(), PUB_BOX);
        assert_eq!(PublicKey::from_text(key.to_box().as_bytes()).unwrap(), key);
    }

    #[test]
    fn parses_bare_forms() {
        let key = PublicKey::from_text(PUB_BOX).unwrap();
        assert_eq!(PublicKey::from_base64(PUB_B64).unwrap(), key);
        assert_eq!(PublicKey::from_text(PUB_B64.as_bytes()).unwrap(), key);
        assert_eq!(
            PublicKey::from_text(format!("{PUB_B64}\n").as_bytes()).unwrap(),
            key
        );
        assert_eq!(
            PublicKey::from_text(format!("{PUB_B64}\r\n").as_bytes()).unwrap(),
            key
        );
    }

    #[test]
    fn accepts_crlf_box() {
        let text = String::from_utf8(PUB_BOX.to_vec())
            .unwrap()
            .replace('\n', "\r\n");
        assert!(PublicKey::from_text(text.as_bytes()).is_ok());
    }

    #[test]
    fn refuses_malformed() {
        // A signature line is not a public key.
        let signature_line = "RURXtcYGamXsteP5+dclurCONZw9n+ZoUmuoNVfc8LgD1XLOUevgIlta3QNQ1TcCkkRnVECsxO6uFSAQZq0dBzI2trOuTXQgIwI=";
        let too_big = "A".repeat(PublicKey::MAX_ENCODED_LEN + 1);
        // Each error's message names its variant's fields, so comparing
        // messages checks the kind of error and every number it carries.
        for (text, message) in [
            (
                format!("{PUB_B64}\n\n"),
                "public key line 1 does not start with \"untrusted comment: \"",
            ),
            (
                format!("untrusted comment: x\n{PUB_B64}\nmore\n"),
                "public key has data after its last line (line 2)",
            ),
            (
                "untrusted comment: x\n".into(),
                "public key ends before line 2",
            ),
            (
                format!("untrusted comment: \x1b[31m\n{PUB_B64}\n"),
                "untrusted comment of public key contains control character 0x1b at byte 0; only tab is allowed",
            ),
            (
                format!("{PUB_B64} "),
                "public key line 1 is not valid base64: invalid byte 0x20 at offset 56",
            ),
            (
                signature_line.into(),
                "public key line 1 decodes to 74 bytes, expected 42",
            ),
            (
                too_big,
                "public key is 1085 bytes, more than the 1084 bytes a valid one can have",
            ),
        ] {
            let refused = PublicKey::from_text(text.as_bytes()).unwrap_err();
            assert_eq!(refused.to_string(), message, "{text:?}");
        }
    }

    #[test]
    fn refuses_unknown_algorithm_and_bad_points() {
        let key = PublicKey::from_base64(PUB_B64).unwrap();
        let mut bytes = key.to_bytes();
        bytes[1] = b'D';
        assert!(matches!(
            PublicKey::from_base64(&base64::encode(&bytes)),
            Err(Error::UnknownAlgorithm {
                found: [b'E', b'D'],
                ..
            })
        ));
        // The identity point has order 1.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(matches!(
            PublicKey::from_parts(key.key_id(), &identity),
            Err(Error::InvalidPublicKey { .. })
        ));
        // y = 2 is not on the curve.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        assert!(matches!(
            PublicKey::from_parts(key.key_id(), &not_a_point),
            Err(Error::InvalidPublicKey { .. })
        ));
    }
}
