//! Signatures (`.minisig` files): exactly four lines.
//!
//! ```text
//! untrusted comment: <text, not authenticated>
//! base64(algorithm[2] ‖ key id[8] ‖ Ed25519 signature of the data or its prehash[64])
//! trusted comment: <text, authenticated>
//! base64(Ed25519 signature of (the signature[64] ‖ trusted comment)[64])
//! ```

use std::fmt;

use ed25519_dalek::Signer as _;

use crate::base64;
use crate::constants::{
    ED25519_SIGNATURE_LEN, KEY_ID_LEN, MAX_SIGNATURE_TEXT_LEN, MAX_TRUSTED_COMMENT_LEN,
    MAX_TRUSTED_COMMENT_WRITE_LEN, MAX_UNTRUSTED_COMMENT_LEN, MAX_UNTRUSTED_COMMENT_WRITE_LEN,
    SIG_ALG_ED25519, SIG_ALG_PREHASHED, SIGNATURE_BYTES, TRUSTED_COMMENT_PREFIX,
    UNTRUSTED_COMMENT_PREFIX,
};
use crate::error::{CommentKind, Error, ObjectKind, Result};
use crate::key_id::KeyId;
use crate::prehash::Prehash;
use crate::secret_key::SecretKey;
use crate::text::{
    CommentProblem, check_comment, parse_comment_line, refuse_oversized, split_lines,
};

const KIND: ObjectKind = ObjectKind::Signature;

/// What the data signature covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// `ED`: Ed25519 over BLAKE2b-512 of the data. minisign's default since
    /// 0.10, and the only kind this crate creates.
    Prehashed,
    /// `Ed`: Ed25519 over the data itself, which must then be held in
    /// memory whole to verify. Only verified when explicitly allowed.
    Legacy,
}

impl Algorithm {
    /// The two bytes that identify the algorithm in a signature.
    pub const fn id(&self) -> [u8; 2] {
        match self {
            Algorithm::Prehashed => SIG_ALG_PREHASHED,
            Algorithm::Legacy => SIG_ALG_ED25519,
        }
    }

    fn from_id(id: [u8; 2]) -> Result<Algorithm> {
        match id {
            SIG_ALG_PREHASHED => Ok(Algorithm::Prehashed),
            SIG_ALG_ED25519 => Ok(Algorithm::Legacy),
            found => Err(Error::UnknownAlgorithm { kind: KIND, found }),
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Algorithm::Prehashed => "prehashed (ED)",
            Algorithm::Legacy => "legacy (Ed)",
        })
    }
}

/// A parsed `.minisig` signature.
///
/// Comments are kept byte for byte; the trusted comment in particular is
/// never trimmed, since it is signed exactly as written.
#[derive(Clone, PartialEq, Eq)]
pub struct SignatureBox {
    untrusted_comment: String,
    algorithm: Algorithm,
    key_id: KeyId,
    signature: [u8; ED25519_SIGNATURE_LEN],
    trusted_comment: String,
    global_signature: [u8; ED25519_SIGNATURE_LEN],
}

impl SignatureBox {
    /// Largest input [`SignatureBox::parse`] reads (9410 bytes: the four
    /// longest lines it accepts, with CRLF terminators). Callers should cap
    /// their reads of signature files at this.
    pub const MAX_ENCODED_LEN: usize = MAX_SIGNATURE_TEXT_LEN;

    /// Parses a signature strictly:
    ///
    /// * exactly four lines ending in LF or CRLF; the last terminator is
    ///   optional, any other CR is an error, and anything after line 4 is
    ///   [`Error::TrailingData`];
    /// * line 1 starts with `untrusted comment: ` and is at most 1024 bytes;
    /// * line 3 starts with `trusted comment: ` followed by at most 8173
    ///   bytes (what minisign reads);
    /// * comments are UTF-8 without control characters except TAB;
    /// * lines 2 and 4 are canonical padded base64 of exactly 74 and 64
    ///   bytes, and line 2 names a known algorithm.
    pub fn parse(input: &[u8]) -> Result<SignatureBox> {
        refuse_oversized(input, KIND, Self::MAX_ENCODED_LEN)?;
        let [line1, line2, line3, line4] = split_lines::<4>(input, KIND)?;
        let untrusted_comment = parse_comment_line(
            line1,
            1,
            KIND,
            CommentKind::Untrusted,
            MAX_UNTRUSTED_COMMENT_LEN,
        )?;
        let sig = base64::decode_exact::<SIGNATURE_BYTES>(line2, KIND, 2)?;
        let trusted_comment = parse_comment_line(
            line3,
            3,
            KIND,
            CommentKind::Trusted,
            MAX_TRUSTED_COMMENT_LEN,
        )?;
        let global_signature = base64::decode_exact::<ED25519_SIGNATURE_LEN>(line4, KIND, 4)?;

        let wrong_length = || Error::WrongLength {
            kind: KIND,
            line: 2,
            expected: SIGNATURE_BYTES,
            actual: sig.len(),
        };
        let (alg, rest) = sig.split_first_chunk::<2>().ok_or_else(wrong_length)?;
        let (key_id, signature) = rest
            .split_first_chunk::<KEY_ID_LEN>()
            .ok_or_else(wrong_length)?;
        let signature: [u8; ED25519_SIGNATURE_LEN] =
            signature.try_into().map_err(|_| wrong_length())?;
        Ok(SignatureBox {
            untrusted_comment: untrusted_comment.to_owned(),
            algorithm: Algorithm::from_id(*alg)?,
            key_id: KeyId::from_bytes(*key_id),
            signature,
            trusted_comment: trusted_comment.to_owned(),
            global_signature: *global_signature,
        })
    }

    /// The signature in minisign's format with LF line endings, final
    /// newline included. `parse(to_text(x)) == x`.
    pub fn to_text(&self) -> String {
        let mut sig = [0u8; SIGNATURE_BYTES];
        let (alg, rest) = sig.split_at_mut(2);
        let (key_id, signature) = rest.split_at_mut(KEY_ID_LEN);
        alg.copy_from_slice(&self.algorithm.id());
        key_id.copy_from_slice(self.key_id.as_bytes());
        signature.copy_from_slice(&self.signature);
        format!(
            "{UNTRUSTED_COMMENT_PREFIX}{}\n{}\n{TRUSTED_COMMENT_PREFIX}{}\n{}\n",
            self.untrusted_comment,
            base64::encode(&sig),
            self.trusted_comment,
            base64::encode(&self.global_signature),
        )
    }

    /// The untrusted comment (line 1, without its prefix). Not
    /// authenticated: anyone can change it. Escape it with
    /// [`escape_for_display`](crate::escape_for_display) before printing.
    pub fn untrusted_comment(&self) -> &str {
        &self.untrusted_comment
    }

    /// The trusted comment (line 3, without its prefix), exactly as signed.
    /// Authenticated only once verification succeeded. May contain TABs;
    /// escape it before printing.
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }

    /// The id of the key that claims to have made the signature.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// Whether the data or its prehash was signed.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn signature_bytes(&self) -> &[u8; ED25519_SIGNATURE_LEN] {
        &self.signature
    }

    pub(crate) fn global_signature_bytes(&self) -> &[u8; ED25519_SIGNATURE_LEN] {
        &self.global_signature
    }

    /// What the global signature covers: the data signature followed by
    /// the trusted comment bytes (no prefix, no terminator).
    pub(crate) fn global_message(&self) -> Vec<u8> {
        let mut message = Vec::with_capacity(ED25519_SIGNATURE_LEN + self.trusted_comment.len());
        message.extend_from_slice(&self.signature);
        message.extend_from_slice(self.trusted_comment.as_bytes());
        message
    }

    /// Signs `message` as `algorithm` and the trusted comment, with
    /// comments already checked.
    fn create(
        key: &SecretKey,
        algorithm: Algorithm,
        message: &[u8],
        trusted_comment: &str,
        untrusted_comment: &str,
    ) -> SignatureBox {
        let signing = key.signing_key();
        let signature = signing.sign(message).to_bytes();
        let mut sig = SignatureBox {
            untrusted_comment: untrusted_comment.to_owned(),
            algorithm,
            key_id: key.key_id(),
            signature,
            trusted_comment: trusted_comment.to_owned(),
            global_signature: [0u8; ED25519_SIGNATURE_LEN],
        };
        sig.global_signature = signing.sign(&sig.global_message()).to_bytes();
        sig
    }
}

impl fmt::Debug for SignatureBox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignatureBox")
            .field("untrusted_comment", &self.untrusted_comment)
            .field("algorithm", &self.algorithm)
            .field("key_id", &self.key_id)
            .field("signature", &base64::encode(&self.signature))
            .field("trusted_comment", &self.trusted_comment)
            .field("global_signature", &base64::encode(&self.global_signature))
            .finish()
    }
}

/// Checks a comment given for signing: no control characters but TAB, and
/// no longer than minisign can handle.
fn check_comment_to_sign(text: &str, comment: CommentKind, max: usize) -> Result<()> {
    match check_comment(text.as_bytes(), max) {
        Ok(_) => Ok(()),
        Err(CommentProblem::TooLong { len, max }) => {
            Err(Error::CommentTooLongToSign { comment, len, max })
        }
        Err(problem) => Err(problem.into_error(KIND, comment)),
    }
}

impl SecretKey {
    /// Signs `prehash` (see [`Prehasher`](crate::Prehasher)) in minisign's
    /// default prehashed format, with `trusted_comment` covered by the
    /// global signature.
    ///
    /// Refuses comments with control characters other than TAB (a newline
    /// would break the format), trusted comments over 4077 bytes and
    /// untrusted comments over 1003 bytes: the most minisign (C) writes and
    /// reads, so every signature we make verifies with it.
    pub fn sign_prehashed(
        &self,
        prehash: &Prehash,
        trusted_comment: &str,
        untrusted_comment: &str,
    ) -> Result<SignatureBox> {
        check_comment_to_sign(
            trusted_comment,
            CommentKind::Trusted,
            MAX_TRUSTED_COMMENT_WRITE_LEN,
        )?;
        check_comment_to_sign(
            untrusted_comment,
            CommentKind::Untrusted,
            MAX_UNTRUSTED_COMMENT_WRITE_LEN,
        )?;
        Ok(SignatureBox::create(
            self,
            Algorithm::Prehashed,
            prehash.as_bytes(),
            trusted_comment,
            untrusted_comment,
        ))
    }

    /// Legacy signatures are never created outside tests; tests need them
    /// to exercise verification.
    #[cfg(test)]
    pub(crate) fn sign_legacy_for_tests(
        &self,
        data: &[u8],
        trusted_comment: &str,
        untrusted_comment: &str,
    ) -> SignatureBox {
        SignatureBox::create(
            self,
            Algorithm::Legacy,
            data,
            trusted_comment,
            untrusted_comment,
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::error::Base64Problem;

    const PREHASHED: &[u8] = include_bytes!("../tests/data/data.txt.minisig");
    const LEGACY: &[u8] = include_bytes!("../tests/data/data.txt.legacy.minisig");

    fn text(sig: &[u8]) -> String {
        String::from_utf8(sig.to_vec()).unwrap()
    }

    fn parse(s: &str) -> Result<SignatureBox> {
        SignatureBox::parse(s.as_bytes())
    }

    /// The fixture with line `index` (0-based) replaced.
    fn with_line(index: usize, line: &str) -> String {
        let mut lines: Vec<String> = text(PREHASHED).lines().map(str::to_owned).collect();
        lines[index] = line.to_owned();
        lines.join("\n") + "\n"
    }

    fn line(index: usize) -> String {
        text(PREHASHED).lines().nth(index).unwrap().to_owned()
    }

    #[test]
    fn parses_minisign_fixtures_and_round_trips() {
        let sig = SignatureBox::parse(PREHASHED).unwrap();
        assert_eq!(sig.algorithm(), Algorithm::Prehashed);
        assert_eq!(sig.key_id().to_string(), "B5EC656A06C6B557");
        assert_eq!(
            sig.untrusted_comment(),
            "signature from minisign secret key"
        );
        assert_eq!(
            sig.trusted_comment(),
            "timestamp:1700000000\tfile:data.txt\ttab-separated"
        );
        assert_eq!(sig.to_text().as_bytes(), PREHASHED);
        assert_eq!(SignatureBox::parse(sig.to_text().as_bytes()).unwrap(), sig);

        let legacy = SignatureBox::parse(LEGACY).unwrap();
        assert_eq!(legacy.algorithm(), Algorithm::Legacy);
        assert_eq!(legacy.to_text().as_bytes(), LEGACY);
    }

    #[test]
    fn accepts_crlf_and_missing_final_newline() {
        let expected = SignatureBox::parse(PREHASHED).unwrap();
        let crlf = text(PREHASHED).replace('\n', "\r\n");
        assert_eq!(parse(&crlf).unwrap(), expected);
        let crlf_no_final = crlf.strip_suffix("\r\n").unwrap();
        assert_eq!(parse(crlf_no_final).unwrap(), expected);
        let lf_no_final = text(PREHASHED);
        assert_eq!(
            parse(lf_no_final.strip_suffix('\n').unwrap()).unwrap(),
            expected
        );
        // Mixed terminators are fine too.
        let mixed = text(PREHASHED).replacen('\n', "\r\n", 1);
        assert_eq!(parse(&mixed).unwrap(), expected);
    }

    #[test]
    fn keeps_comments_verbatim() {
        let sig = parse(&with_line(2, "trusted comment:  padded\t ")).unwrap();
        assert_eq!(sig.trusted_comment(), " padded\t ");
        let sig = parse(&with_line(0, "untrusted comment: ")).unwrap();
        assert_eq!(sig.untrusted_comment(), "");
    }

    #[test]
    fn refuses_trailing_data() {
        for extra in ["\n", "x", "\n\n", "garbage\n", "\r\n"] {
            let input = text(PREHASHED) + extra;
            assert!(
                matches!(parse(&input), Err(Error::TrailingData { lines: 4, .. })),
                "{extra:?}"
            );
        }
    }

    #[test]
    fn refuses_missing_lines() {
        let full = text(PREHASHED);
        let lines: Vec<&str> = full.lines().collect();
        for n in 0..4 {
            let input = lines[..n]
                .iter()
                .map(|l| format!("{l}\n"))
                .collect::<String>();
            assert!(
                matches!(parse(&input), Err(Error::MissingLine { line, .. }) if line == n + 1),
                "{n} lines"
            );
        }
    }

    #[test]
    fn refuses_stray_carriage_returns() {
        // A CR inside the trusted comment would be signed if kept, and
        // minisign would trim it: refuse rather than guess.
        assert!(matches!(
            parse(&with_line(2, "trusted comment: a\rb")),
            Err(Error::StrayCarriageReturn { line: 3, .. })
        ));
        // A lone CR as a terminator.
        let input = text(PREHASHED).replacen('\n', "\r", 1);
        assert!(matches!(
            parse(&input),
            Err(Error::StrayCarriageReturn { line: 1, .. })
        ));
        let input = text(PREHASHED).replace('\n', "\r\r\n");
        assert!(matches!(
            parse(&input),
            Err(Error::StrayCarriageReturn { line: 1, .. })
        ));
    }

    #[test]
    fn refuses_wrong_prefixes() {
        for (index, bad) in [
            (0, "Untrusted comment: x"),
            (0, "untrusted comment:x"),
            (0, "trusted comment: x"),
            (2, "untrusted comment: x"),
            (2, "trusted comment:"),
            (2, " trusted comment: x"),
        ] {
            assert!(
                matches!(parse(&with_line(index, bad)), Err(Error::MissingPrefix { line, .. }) if line == index + 1),
                "{bad}"
            );
        }
    }

    #[test]
    fn refuses_control_characters_and_bad_utf8() {
        assert!(matches!(
            parse(&with_line(2, "trusted comment: a\x1b[2Jb")),
            Err(Error::ControlCharacter {
                comment: CommentKind::Trusted,
                offset: 1,
                byte: 0x1b,
                ..
            })
        ));
        assert!(matches!(
            parse(&with_line(0, "untrusted comment: \x00")),
            Err(Error::ControlCharacter {
                comment: CommentKind::Untrusted,
                byte: 0,
                ..
            })
        ));
        assert!(matches!(
            parse(&with_line(2, "trusted comment: del\x7f")),
            Err(Error::ControlCharacter { byte: 0x7f, .. })
        ));
        let mut input = text(PREHASHED).into_bytes();
        let at = input.iter().position(|&b| b == b'\t').unwrap();
        input[at] = 0xff;
        assert!(matches!(
            SignatureBox::parse(&input),
            Err(Error::InvalidUtf8 {
                comment: CommentKind::Trusted,
                offset: 20,
                ..
            })
        ));
    }

    #[test]
    fn tab_is_accepted() {
        let sig = parse(&with_line(0, "untrusted comment: a\tb")).unwrap();
        assert_eq!(sig.untrusted_comment(), "a\tb");
    }

    #[test]
    fn comment_size_limits() {
        let ok = format!("trusted comment: {}", "t".repeat(8173));
        assert_eq!(
            parse(&with_line(2, &ok)).unwrap().trusted_comment().len(),
            8173
        );
        let too_long = format!("trusted comment: {}", "t".repeat(8174));
        assert!(matches!(
            parse(&with_line(2, &too_long)),
            Err(Error::CommentTooLong {
                comment: CommentKind::Trusted,
                len: 8174,
                max: 8173,
                ..
            })
        ));
        let ok = format!("untrusted comment: {}", "u".repeat(1024 - 19));
        assert!(parse(&with_line(0, &ok)).is_ok());
        let too_long = format!("untrusted comment: {}", "u".repeat(1024 - 18));
        assert!(matches!(
            parse(&with_line(0, &too_long)),
            Err(Error::CommentTooLong {
                comment: CommentKind::Untrusted,
                ..
            })
        ));
        // The largest acceptable signature, with CRLFs, is within the cap...
        let biggest = [
            format!("untrusted comment: {}", "u".repeat(1024 - 19)),
            line(1),
            format!("trusted comment: {}", "t".repeat(8173)),
            line(3),
        ]
        .join("\r\n")
            + "\r\n";
        assert_eq!(biggest.len(), SignatureBox::MAX_ENCODED_LEN);
        assert!(parse(&biggest).is_ok());
        // ...and anything larger is refused before being looked at.
        let huge = "x".repeat(SignatureBox::MAX_ENCODED_LEN + 1);
        assert!(matches!(
            parse(&huge),
            Err(Error::InputTooLarge {
                len: 9411,
                max: 9410,
                ..
            })
        ));
    }

    #[test]
    fn refuses_bad_base64() {
        // Flip a padding bit: line 2 ends "wI=" where 'I' carries two unused
        // bits; "wJ=" sets one of them.
        let sig_line = line(1);
        assert!(sig_line.ends_with("wI="));
        let flipped_signature = format!("{}J=", &sig_line[..sig_line.len() - 2]);
        // Line 4 ends "Dw==": 'w' carries four unused bits.
        let global = line(3);
        assert!(global.ends_with("Dw=="));
        let flipped_global = format!("{}Dx==", &global[..global.len() - 4]);
        let url_safe = sig_line.replace('+', "-").replace('/', "_");
        assert_ne!(url_safe, sig_line);
        for (index, text, non_canonical) in [
            (1, flipped_signature, true),
            (3, flipped_global, true),
            // Unpadded, URL-safe, embedded space.
            (3, global.trim_end_matches('=').to_owned(), false),
            (1, url_safe, false),
            (1, format!(" {sig_line}"), false),
        ] {
            match parse(&with_line(index, &text)) {
                Err(Error::InvalidBase64 { line, problem, .. }) => {
                    assert_eq!(line, index + 1, "{text}");
                    if non_canonical {
                        let expected = matches!(problem, Base64Problem::NonCanonical { .. });
                        assert!(expected, "{text}: {problem}");
                    }
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_wrong_lengths() {
        // Truncated global signature (the case that panics other parsers).
        let global = line(3);
        for (index, text, expected, actual) in [
            (3, base64::encode(&[0u8; 48]), 64, 48),
            (3, String::new(), 64, 0),
            (3, base64::encode(&[0u8; 65]), 64, 65),
            // A global signature where the signature line belongs.
            (1, global, 74, 64),
        ] {
            match parse(&with_line(index, &text)) {
                Err(Error::WrongLength {
                    line,
                    expected: e,
                    actual: a,
                    ..
                }) => {
                    assert_eq!((line, e, a), (index + 1, expected, actual), "{text}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn refuses_unknown_algorithm() {
        let mut bytes = *base64::decode_exact::<74>(line(1).as_bytes(), KIND, 2).unwrap();
        bytes[0..2].copy_from_slice(b"EE");
        let err = parse(&with_line(1, &base64::encode(&bytes))).unwrap_err();
        assert!(matches!(
            err,
            Error::UnknownAlgorithm {
                kind: ObjectKind::Signature,
                found: [b'E', b'E']
            }
        ));
        assert_eq!(
            err.to_string(),
            "signature uses unknown signature algorithm \"EE\""
        );
    }

    #[test]
    fn sign_refuses_bad_comments() {
        let key = SecretKey::generate().unwrap();
        let prehash = Prehash::of(b"data");
        assert!(key.sign_prehashed(&prehash, &"t".repeat(4077), "").is_ok());
        assert!(matches!(
            key.sign_prehashed(&prehash, &"t".repeat(4078), ""),
            Err(Error::CommentTooLongToSign {
                comment: CommentKind::Trusted,
                len: 4078,
                max: 4077
            })
        ));
        assert!(matches!(
            key.sign_prehashed(&prehash, "a\nb", ""),
            Err(Error::ControlCharacter {
                comment: CommentKind::Trusted,
                byte: b'\n',
                ..
            })
        ));
        assert!(matches!(
            key.sign_prehashed(&prehash, "ok", "a\rb"),
            Err(Error::ControlCharacter {
                comment: CommentKind::Untrusted,
                byte: b'\r',
                ..
            })
        ));
        assert!(matches!(
            key.sign_prehashed(&prehash, "ok", &"u".repeat(1004)),
            Err(Error::CommentTooLongToSign {
                comment: CommentKind::Untrusted,
                ..
            })
        ));
        let sig = key.sign_prehashed(&prehash, "a\tb", "c\td").unwrap();
        assert_eq!(SignatureBox::parse(sig.to_text().as_bytes()).unwrap(), sig);
    }
}
