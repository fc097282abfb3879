//! The one error type of the crate.
//!
//! Every failure is a variant with the detail a caller (or a user reading
//! the message) needs: which object, which line, expected and actual sizes.
//! A variant that wraps another error exposes it as its `source()` and does
//! not repeat it in its own message, so a cause chain prints each part once.
//! Messages are one lowercase line saying what is wrong. Nothing in an error
//! message comes verbatim from untrusted input except through
//! [`escape_for_display`](crate::escape_for_display) or as numbers.

use std::fmt;
use std::path::PathBuf;

use crate::key_id::KeyId;
use crate::signature::Algorithm;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which Minisign object a parse error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// A public key (box or bare base64).
    PublicKey,
    /// A secret key file.
    SecretKey,
    /// A `.minisig` signature.
    Signature,
}

impl fmt::Display for ObjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectKind::PublicKey => "public key",
            ObjectKind::SecretKey => "secret key",
            ObjectKind::Signature => "signature",
        })
    }
}

/// Which comment a comment error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CommentKind {
    /// The first line, not covered by any signature.
    Untrusted,
    /// The third line of a signature, covered by the global signature.
    Trusted,
}

impl fmt::Display for CommentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CommentKind::Untrusted => "untrusted comment",
            CommentKind::Trusted => "trusted comment",
        })
    }
}

/// What is wrong with a base64 line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Base64Problem {
    /// A byte outside the standard alphabet (or padding in the wrong place).
    InvalidByte {
        /// Offset of the byte in the line.
        offset: usize,
        /// The byte.
        byte: u8,
    },
    /// The length is not a multiple of four (padding is required).
    InvalidLength {
        /// Length of the line.
        len: usize,
    },
    /// The last symbol has non-zero bits that encode nothing: another
    /// encoding of the same bytes, which a strict reader refuses.
    NonCanonical {
        /// Offset of the symbol in the line.
        offset: usize,
    },
    /// Missing or superfluous `=` padding.
    InvalidPadding,
}

impl fmt::Display for Base64Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Base64Problem::InvalidByte { offset, byte } => {
                write!(f, "invalid byte 0x{byte:02x} at offset {offset}")
            }
            Base64Problem::InvalidLength { len } => {
                write!(f, "length {len} is not a multiple of 4")
            }
            Base64Problem::NonCanonical { offset } => {
                write!(
                    f,
                    "non-canonical encoding (unused bits set) at offset {offset}"
                )
            }
            Base64Problem::InvalidPadding => f.write_str("invalid padding"),
        }
    }
}

/// Which scrypt resource a key file asks too much of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KdfResource {
    /// Memory, in bytes (128 · r · N).
    Memory,
    /// Work, in scrypt iterations (p · N).
    Work,
}

impl fmt::Display for KdfResource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KdfResource::Memory => "bytes of memory",
            KdfResource::Work => "scrypt iterations (p*n)",
        })
    }
}

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done, e.g. "cannot read".
        action: &'static str,
        /// The file (or directory) concerned.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A key file could not be used; `source` says why.
    #[error("{kind} {}", path.display())]
    InFile {
        /// What the file should hold.
        kind: ObjectKind,
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        source: Box<Error>,
    },
    /// Reading the data to verify failed.
    #[error("cannot read the signed data")]
    ReadData {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The operating system's random number generator failed.
    #[error("cannot get random bytes from the operating system")]
    Random {
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than what may be read for its kind.
    #[error("{} is {len} bytes, more than the {max} bytes allowed for this kind of file", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or as much of it as was read before giving up).
        len: u64,
        /// The cap.
        max: u64,
    },
    /// A key file already exists and overwriting was not asked for.
    #[error("{} already exists", path.display())]
    KeyFileExists {
        /// The existing file.
        path: PathBuf,
    },

    /// Input is larger than any valid object of its kind.
    #[error("{kind} is {len} bytes, more than the {max} bytes a valid one can have")]
    InputTooLarge {
        /// What was being parsed.
        kind: ObjectKind,
        /// Input length.
        len: usize,
        /// Largest valid length.
        max: usize,
    },
    /// The input ends before a required line.
    #[error("{kind} ends before line {line}")]
    MissingLine {
        /// What was being parsed.
        kind: ObjectKind,
        /// The missing line (1-based).
        line: usize,
    },
    /// A carriage return that is not part of a CRLF line terminator.
    #[error("{kind} line {line} contains a carriage return that does not end the line")]
    StrayCarriageReturn {
        /// What was being parsed.
        kind: ObjectKind,
        /// The line (1-based).
        line: usize,
    },
    /// Something follows the last line of the object.
    #[error("{kind} has data after its last line (line {lines})")]
    TrailingData {
        /// What was being parsed.
        kind: ObjectKind,
        /// Number of lines the object has.
        lines: usize,
    },
    /// A line does not start with its required prefix.
    #[error("{kind} line {line} does not start with \"{expected}\"")]
    MissingPrefix {
        /// What was being parsed.
        kind: ObjectKind,
        /// The line (1-based).
        line: usize,
        /// The required prefix.
        expected: &'static str,
    },
    /// A comment is longer than allowed.
    #[error("{comment} of {kind} is {len} bytes, more than the {max} allowed")]
    CommentTooLong {
        /// The object the comment belongs to.
        kind: ObjectKind,
        /// Which comment.
        comment: CommentKind,
        /// Its length in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A comment contains a control character other than TAB.
    #[error(
        "{comment} of {kind} contains control character 0x{byte:02x} at byte {offset}; only tab is allowed"
    )]
    ControlCharacter {
        /// The object the comment belongs to.
        kind: ObjectKind,
        /// Which comment.
        comment: CommentKind,
        /// Offset of the character in the comment.
        offset: usize,
        /// The character.
        byte: u8,
    },
    /// A comment is not valid UTF-8.
    #[error("{comment} of {kind} is not valid utf-8 (at byte {offset})")]
    InvalidUtf8 {
        /// The object the comment belongs to.
        kind: ObjectKind,
        /// Which comment.
        comment: CommentKind,
        /// Offset of the first invalid byte in the comment.
        offset: usize,
    },
    /// A line is not strict base64.
    #[error("{kind} line {line} is not valid base64: {problem}")]
    InvalidBase64 {
        /// What was being parsed.
        kind: ObjectKind,
        /// The line (1-based).
        line: usize,
        /// What is wrong.
        problem: Base64Problem,
    },
    /// A base64 line decodes to the wrong number of bytes.
    #[error("{kind} line {line} decodes to {actual} bytes, expected {expected}")]
    WrongLength {
        /// What was being parsed.
        kind: ObjectKind,
        /// The line (1-based).
        line: usize,
        /// Required decoded length.
        expected: usize,
        /// Actual decoded length.
        actual: usize,
    },
    /// A signature algorithm that Minisign does not define.
    #[error("{kind} uses unknown signature algorithm {}", show_alg(found))]
    UnknownAlgorithm {
        /// What was being parsed.
        kind: ObjectKind,
        /// The two algorithm bytes.
        found: [u8; 2],
    },
    /// A secret key key-derivation algorithm other than scrypt or none.
    #[error("secret key uses unknown key derivation algorithm {}", show_alg(found))]
    UnknownKdfAlgorithm {
        /// The two algorithm bytes.
        found: [u8; 2],
    },
    /// A secret key checksum algorithm other than BLAKE2b.
    #[error("secret key uses unknown checksum algorithm {}", show_alg(found))]
    UnknownChecksumAlgorithm {
        /// The two algorithm bytes.
        found: [u8; 2],
    },
    /// A secret key file is neither a Minisign text key nor a Lucet raw key.
    #[error(
        "secret key file is neither a minisign key (text starting with \"untrusted comment: \") nor a 158-byte lucet raw key"
    )]
    UnrecognizedSecretKey,
    /// A file holds another Minisign object than the one asked for: a secret
    /// key given as a public key, a signature given as a key, and so on.
    #[error("it is {}, not a {expected}", describe(found))]
    WrongObject {
        /// What the file should hold.
        expected: ObjectKind,
        /// What it holds.
        found: ObjectKind,
    },
    /// The public key bytes cannot be used for verification.
    #[error("public key is unusable: {reason}")]
    InvalidPublicKey {
        /// Why.
        reason: &'static str,
    },
    /// A key id string is not 16 hexadecimal digits.
    #[error("key id must be exactly 16 hexadecimal digits")]
    InvalidKeyId,

    /// Decrypting a secret key gave a wrong checksum.
    #[error("wrong password for that key")]
    WrongPassword,
    /// An unencrypted secret key's checksum does not match its contents.
    #[error("secret key checksum does not match: the key file is corrupt")]
    BadChecksum,
    /// The public half stored in a secret key is not the one its seed gives.
    #[error("secret key's stored public key does not match its seed: the key file is corrupt")]
    PublicKeyMismatch,
    /// The scrypt parameters of a key (or asked for a new key) exceed our limits.
    #[error("scrypt parameters need {required} {resource}, more than the limit of {limit}")]
    ExcessiveKdfCost {
        /// The resource over its limit.
        resource: KdfResource,
        /// How much the parameters need.
        required: u64,
        /// How much we allow.
        limit: u64,
    },
    /// scrypt cannot run with the parameters a key's limits give (p = 0).
    #[error("scrypt cannot run with parameters n = 2^{log_n}, r = {r}, p = {p}")]
    UnusableKdfParams {
        /// log2 of N.
        log_n: u8,
        /// r.
        r: u32,
        /// p.
        p: u32,
    },

    /// A comment given for signing is too long for minisign to read.
    #[error("{comment} is {len} bytes, more than the {max} minisign can handle")]
    CommentTooLongToSign {
        /// Which comment.
        comment: CommentKind,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// No trusted key was given.
    #[error("no trusted public key was given")]
    NoTrustedKeys,
    /// Two different trusted keys share a key id, so a signature's key id
    /// cannot tell them apart.
    #[error("two different trusted public keys have the same key id {key_id}")]
    DuplicateKeyId {
        /// The shared key id.
        key_id: KeyId,
    },
    /// A legacy (non-prehashed) signature was found and not allowed.
    #[error("signature uses the legacy non-prehashed format, which is not allowed")]
    LegacySignatureRefused,
    /// The signature's key id is not that of any trusted key.
    #[error(
        "signature was made by key {signature}, which is not trusted (trusted: {})",
        show_ids(trusted)
    )]
    UnknownKeyId {
        /// Key id in the signature.
        signature: KeyId,
        /// Key ids of the trusted keys.
        trusted: Vec<KeyId>,
    },
    /// A verification function was called for the other algorithm.
    #[error("signature uses the {actual} algorithm, not {expected}")]
    AlgorithmMismatch {
        /// What the function verifies.
        expected: Algorithm,
        /// What the signature uses.
        actual: Algorithm,
    },
    /// The data signature does not verify.
    #[error("signature does not verify: the data was modified or signed by a different key")]
    InvalidSignature,
    /// The global signature (over the trusted comment) does not verify.
    #[error("trusted comment signature does not verify: the trusted comment was modified")]
    InvalidGlobalSignature,
}

/// Algorithm bytes as an escaped string literal, e.g. `"Xy"` or `"\x00\x01"`.
fn show_alg(found: &[u8; 2]) -> String {
    format!("\"{}\"", found.escape_ascii())
}

/// `kind` with an article, as a user would name the file holding it.
fn describe(kind: &ObjectKind) -> &'static str {
    match kind {
        ObjectKind::PublicKey => "a minisign public key",
        ObjectKind::SecretKey => "a minisign secret key",
        ObjectKind::Signature => "a minisign signature (a .minisig file)",
    }
}

fn show_ids(ids: &[KeyId]) -> String {
    let ids: Vec<String> = ids.iter().map(KeyId::to_string).collect();
    ids.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static + std::error::Error>() {}
        check::<Error>();
    }

    #[test]
    fn messages_are_one_lowercase_line() {
        let id = KeyId::from_bytes([0; 8]);
        let errors = [
            Error::WrongPassword,
            Error::BadChecksum,
            Error::PublicKeyMismatch,
            Error::UnrecognizedSecretKey,
            Error::WrongObject {
                expected: ObjectKind::PublicKey,
                found: ObjectKind::SecretKey,
            },
            Error::InvalidKeyId,
            Error::NoTrustedKeys,
            Error::LegacySignatureRefused,
            Error::InvalidSignature,
            Error::InvalidGlobalSignature,
            Error::DuplicateKeyId { key_id: id },
            Error::UnknownKeyId {
                signature: id,
                trusted: vec![id, id],
            },
            Error::UnknownKdfAlgorithm { found: [0, 1] },
            Error::TrailingData {
                kind: ObjectKind::Signature,
                lines: 4,
            },
            Error::WrongLength {
                kind: ObjectKind::Signature,
                line: 4,
                expected: 64,
                actual: 48,
            },
            Error::InvalidBase64 {
                kind: ObjectKind::PublicKey,
                line: 1,
                problem: Base64Problem::NonCanonical { offset: 3 },
            },
            Error::ExcessiveKdfCost {
                resource: KdfResource::Work,
                required: 2,
                limit: 1,
            },
            Error::AlgorithmMismatch {
                expected: Algorithm::Prehashed,
                actual: Algorithm::Legacy,
            },
            Error::KeyFileExists {
                path: PathBuf::from("k"),
            },
        ];
        for error in errors {
            let message = error.to_string();
            assert!(!message.contains('\n'), "{message}");
            assert!(
                message.starts_with(|c: char| !c.is_uppercase()),
                "{message}"
            );
        }
        assert_eq!(
            Error::UnknownKdfAlgorithm { found: [0, 1] }.to_string(),
            "secret key uses unknown key derivation algorithm \"\\x00\\x01\""
        );
        assert_eq!(
            Error::WrongLength {
                kind: ObjectKind::Signature,
                line: 4,
                expected: 64,
                actual: 48
            }
            .to_string(),
            "signature line 4 decodes to 48 bytes, expected 64"
        );
    }
}
