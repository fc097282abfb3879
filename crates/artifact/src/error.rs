/// Why an artifact could not be read, verified or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is shorter than the fixed footer.
    #[error(
        "artifact is {len} bytes, too short to hold the {min}-byte lucet footer (not a lucet artifact, or truncated)"
    )]
    TooShort {
        /// Length of the file.
        len: u64,
        /// The least length a footer needs.
        min: u64,
    },
    /// The footer does not start with the format's magic bytes.
    #[error(
        "not a lucet artifact: no LUCETART footer at its end (truncated, extended, or some other file)"
    )]
    BadMagic,
    /// The format version is not one this build reads.
    #[error(
        "artifact format version {found} is not supported (this build reads version {supported}); recompile with this lucetc"
    )]
    UnsupportedVersion {
        /// Version found in the footer.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The footer's kind field is neither unsigned nor signed.
    #[error("artifact footer has unknown kind {0}")]
    UnknownKind(u16),
    /// The block length in the footer is out of bounds.
    #[error(
        "artifact footer declares a {len}-byte block; the limit is {max} bytes and the file is {file_len} bytes"
    )]
    BadBlockLength {
        /// Declared length.
        len: u32,
        /// Format limit.
        max: u32,
        /// Length of the file.
        file_len: u64,
    },
    /// A key was configured but the artifact carries no signature.
    #[error(
        "artifact is not signed, and a trusted key was given; sign it with `lucetc --signature-sk`"
    )]
    NotSigned,
    /// The signature block failed to parse as a minisign signature.
    #[error("artifact signature block is malformed")]
    Signature(#[source] lucet_signature::Error),
    /// The signature block parses but is not in the one canonical form lucetc writes.
    #[error("artifact signature block is not in canonical form ({0}); the artifact was modified")]
    NonCanonicalBlock(&'static str),
    /// The signature is from a key that is not trusted, or does not verify.
    #[error("artifact signature refused")]
    Verification(#[source] lucet_signature::Error),
    /// The metadata line is malformed.
    #[error("artifact metadata is malformed: {0}")]
    Metadata(String),
    /// The image hash recorded in the metadata differs from the image.
    #[error(
        "artifact image does not match the BLAKE2b-512 recorded in its metadata (corrupted or modified)"
    )]
    ImageHashMismatch,
    /// Reading the artifact failed.
    #[error("cannot read artifact")]
    Io(#[from] std::io::Error),
    /// The signing key failed to produce a signature (e.g. metadata too long).
    #[error("cannot sign artifact")]
    Signing(#[source] lucet_signature::Error),
    /// The policy asks for a source signer the metadata does not name.
    #[error("artifact's source was {}, but the policy requires one of: {}", found.map_or_else(|| "not verified by lucetc".to_string(), |k| format!("signed by key {k}")), allowed.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", "))]
    SourceKeyNotAllowed {
        /// The source key recorded in the metadata.
        found: Option<lucet_signature::KeyId>,
        /// The keys the policy accepts.
        allowed: Vec<lucet_signature::KeyId>,
    },
    /// The artifact is older than the policy allows.
    #[error(
        "artifact was made at {timestamp}, before the minimum timestamp {min} (an older build: rollback refused)"
    )]
    TooOld {
        /// Recorded timestamp.
        timestamp: u64,
        /// Minimum accepted.
        min: u64,
    },
}
