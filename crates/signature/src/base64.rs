//! Strict base64: the standard alphabet, `=` padding required, and only the
//! canonical encoding of each byte string.
//!
//! minisign (via libsodium) accepts a few sloppier spellings; refusing them
//! means a signature or key has exactly one text form, so a file cannot be
//! altered without the change showing up as an error.

use ::base64::Engine as _;
use ::base64::engine::general_purpose::STANDARD;
use ::base64::{DecodeError, DecodeSliceError};
use zeroize::Zeroizing;

use crate::error::{Base64Problem, Error, ObjectKind, Result};

/// Encodes `bytes` in standard padded base64.
pub(crate) fn encode(bytes: &[u8]) -> String {
    // `STANDARD` pads and refuses trailing bits when decoding; see `decode_exact`.
    STANDARD.encode(bytes)
}

/// Decodes line `line` of a `kind` object, which must be the canonical
/// base64 encoding of exactly `N` bytes.
///
/// Decodes into a fixed buffer, so a long line allocates nothing unless it
/// is valid base64 of more than `N` bytes, and then only to report its
/// decoded length; callers cap the whole input before calling this. The
/// result is wrapped in `Zeroizing` because some lines hold secret keys.
pub(crate) fn decode_exact<const N: usize>(
    text: &[u8],
    kind: ObjectKind,
    line: usize,
) -> Result<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    match STANDARD.decode_slice(text, &mut out[..]) {
        Ok(actual) if actual == N => Ok(out),
        Ok(actual) => Err(Error::WrongLength {
            kind,
            line,
            expected: N,
            actual,
        }),
        Err(DecodeSliceError::OutputSliceTooSmall) => {
            match STANDARD.decode(text).map(Zeroizing::new) {
                Ok(decoded) => Err(Error::WrongLength {
                    kind,
                    line,
                    expected: N,
                    actual: decoded.len(),
                }),
                Err(e) => Err(invalid(e, kind, line)),
            }
        }
        Err(DecodeSliceError::DecodeError(e)) => Err(invalid(e, kind, line)),
    }
}

/// How many bytes `text` decodes to, if it is valid base64 at all: enough to
/// tell Minisign objects apart by their length (`identify`). The bytes are
/// wiped, since the text may be a secret key.
pub(crate) fn decoded_len(text: &[u8]) -> Option<usize> {
    STANDARD
        .decode(text)
        .ok()
        .map(|decoded| Zeroizing::new(decoded).len())
}

fn invalid(e: DecodeError, kind: ObjectKind, line: usize) -> Error {
    let problem = match e {
        DecodeError::InvalidByte(offset, byte) => Base64Problem::InvalidByte { offset, byte },
        DecodeError::InvalidLength(len) => Base64Problem::InvalidLength { len },
        DecodeError::InvalidLastSymbol(offset, _) => Base64Problem::NonCanonical { offset },
        DecodeError::InvalidPadding => Base64Problem::InvalidPadding,
    };
    Error::InvalidBase64 {
        kind,
        line,
        problem,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn decode3(text: &str) -> Result<[u8; 3]> {
        decode_exact::<3>(text.as_bytes(), ObjectKind::Signature, 2).map(|b| *b)
    }

    #[test]
    fn decodes_canonical() {
        assert_eq!(decode3("AAEC").unwrap(), [0, 1, 2]);
    }

    #[test]
    fn refuses_missing_padding() {
        assert!(matches!(
            decode_exact::<2>(b"AAE", ObjectKind::Signature, 2),
            Err(Error::InvalidBase64 {
                problem: Base64Problem::InvalidPadding | Base64Problem::InvalidLength { .. },
                ..
            })
        ));
    }

    #[test]
    fn refuses_non_canonical_trailing_bits() {
        // "AAE=" is [0, 1]; "AAF=" sets a bit that encodes nothing.
        assert_eq!(
            *decode_exact::<2>(b"AAE=", ObjectKind::Signature, 2).unwrap(),
            [0, 1]
        );
        assert!(matches!(
            decode_exact::<2>(b"AAF=", ObjectKind::Signature, 2),
            Err(Error::InvalidBase64 {
                problem: Base64Problem::NonCanonical { offset: 2 },
                ..
            })
        ));
    }

    #[test]
    fn refuses_other_alphabets_and_whitespace() {
        assert!(matches!(
            decode3("AA-_"),
            Err(Error::InvalidBase64 {
                problem: Base64Problem::InvalidByte {
                    offset: 2,
                    byte: b'-'
                },
                ..
            })
        ));
        assert!(matches!(decode3("AAEC "), Err(Error::InvalidBase64 { .. })));
    }

    #[test]
    fn reports_wrong_lengths() {
        assert!(matches!(
            decode3("AAE="),
            Err(Error::WrongLength {
                expected: 3,
                actual: 2,
                line: 2,
                ..
            })
        ));
        assert!(matches!(
            decode3("AAECAw=="),
            Err(Error::WrongLength {
                expected: 3,
                actual: 4,
                ..
            })
        ));
        assert!(matches!(
            decode3(""),
            Err(Error::WrongLength {
                expected: 3,
                actual: 0,
                ..
            })
        ));
    }
}
