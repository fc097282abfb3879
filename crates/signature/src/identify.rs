//! Telling which Minisign object a file holds, so that one given where
//! another belongs (a secret key as a public key, a `.minisig` as a key) is
//! refused by name rather than with a line-and-length error that leaves the
//! user to work out what went wrong.
//!
//! Only the shape is looked at: a signature has a `trusted comment:` third
//! line, and the base64 line of each object decodes to a length no other
//! object has (42 bytes for a public key, 158 for a secret key, 74 for a
//! signature). Nothing is verified or kept.

use crate::base64;
use crate::constants::{
    PUBLIC_KEY_BYTES, SECRET_KEY_BYTES, SIGNATURE_BYTES, TRUSTED_COMMENT_PREFIX,
    UNTRUSTED_COMMENT_PREFIX,
};
use crate::error::{Error, ObjectKind};

/// The Minisign object `text` looks like, if it looks like one: a box (an
/// untrusted comment, then the base64 line, and for a signature its trusted
/// comment), a bare base64 line, or a 158-byte Lucet raw secret key.
pub fn identify(text: &[u8]) -> Option<ObjectKind> {
    let mut lines = text
        .split(|&byte| byte == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line));
    let first = lines.next()?;
    let payload = if first.starts_with(UNTRUSTED_COMMENT_PREFIX.as_bytes()) {
        let payload = lines.next()?;
        if lines
            .next()
            .is_some_and(|line| line.starts_with(TRUSTED_COMMENT_PREFIX.as_bytes()))
        {
            return Some(ObjectKind::Signature);
        }
        payload
    } else if text.len() == SECRET_KEY_BYTES && text.starts_with(b"EdSc") {
        return Some(ObjectKind::SecretKey);
    } else {
        first
    };
    match base64::decoded_len(payload)? {
        PUBLIC_KEY_BYTES => Some(ObjectKind::PublicKey),
        SECRET_KEY_BYTES => Some(ObjectKind::SecretKey),
        SIGNATURE_BYTES => Some(ObjectKind::Signature),
        _ => None,
    }
}

/// [`Error::WrongObject`] when `text`, which failed to parse as `expected`,
/// is recognisably another Minisign object; `None` when it is not (its own
/// parse error then says best what is wrong).
pub fn misidentified(text: &[u8], expected: ObjectKind) -> Option<Error> {
    identify(text)
        .filter(|found| *found != expected)
        .map(|found| Error::WrongObject { expected, found })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::fixtures::{SIG, UNENCRYPTED};
    use crate::key_id::KeyId;
    use crate::secret_key::SecretKey;

    #[test]
    fn each_object_is_told_apart() {
        let key = SecretKey::from_seed(KeyId::from_bytes([1; 8]), &[2; 32]);
        let public = key.public_key();
        for (text, kind) in [
            (public.to_box().into_bytes(), ObjectKind::PublicKey),
            (public.to_base64().into_bytes(), ObjectKind::PublicKey),
            (
                key.to_unencrypted_box().as_bytes().to_vec(),
                ObjectKind::SecretKey,
            ),
            (UNENCRYPTED.secret.to_vec(), ObjectKind::SecretKey),
            (SIG.to_vec(), ObjectKind::Signature),
        ] {
            assert_eq!(identify(&text), Some(kind), "{}", text.escape_ascii());
        }
        let crlf = String::from_utf8(SIG.to_vec())
            .unwrap()
            .replace('\n', "\r\n");
        assert_eq!(identify(crlf.as_bytes()), Some(ObjectKind::Signature));
    }

    #[test]
    fn anything_else_is_not_identified() {
        for text in [
            &b""[..],
            b"\0asm\x01\0\0\0",
            b"untrusted comment: x\n",
            b"untrusted comment: x\nAAAA\n",
            b"hello world",
        ] {
            assert_eq!(identify(text), None, "{}", text.escape_ascii());
        }
    }

    #[test]
    fn only_another_kind_is_misidentified() {
        let key = SecretKey::from_seed(KeyId::from_bytes([1; 8]), &[2; 32]);
        let secret = key.to_unencrypted_box();
        assert!(misidentified(secret.as_bytes(), ObjectKind::SecretKey).is_none());
        let error = misidentified(secret.as_bytes(), ObjectKind::PublicKey).unwrap();
        assert_eq!(
            error.to_string(),
            "it is a minisign secret key, not a public key"
        );
        let error = misidentified(SIG, ObjectKind::SecretKey).unwrap();
        assert_eq!(
            error.to_string(),
            "it is a minisign signature (a .minisig file), not a secret key"
        );
    }
}
