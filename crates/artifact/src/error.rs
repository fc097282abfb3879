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
    /// The artifact was written by an earlier lucetc, in a format this
    /// build no longer reads (version 1 signed neither the image length nor
    /// the module name).
    #[error(
        "artifact format version {found} was written by an earlier lucetc (this build reads version {supported}): recompile the source with this lucetc"
    )]
    OlderVersion {
        /// Version found in the footer.
        found: u16,
        /// Version this build reads.
        supported: u16,
    },
    /// The format version is newer than this build reads.
    #[error(
        "artifact format version {found} is newer than this build reads (version {supported}): upgrade this tool"
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
    /// The signed image length differs from the image the file holds: the
    /// file was extended, truncated or padded around a valid signature block.
    #[error(
        "artifact holds a {found}-byte image but its signed metadata says {signed} bytes (the file was extended or truncated around a valid signature)"
    )]
    ImageLengthMismatch {
        /// Length the signed metadata records.
        signed: u64,
        /// Length the file layout gives.
        found: u64,
    },
    /// The image is larger than the reader's cap.
    #[error(
        "artifact image is {len} bytes, more than the {max}-byte limit; raise the limit if this artifact is expected"
    )]
    ImageTooLarge {
        /// Image length.
        len: u64,
        /// The cap.
        max: u64,
    },
    /// The signature block holds more signatures than the format allows, or
    /// a counter-signature in a form this build does not know.
    #[error("artifact signature block is malformed: {0}")]
    BadSignatureBlock(String),
    /// A module name is empty, too long or holds control characters.
    #[error(
        "module name `{name}` is not valid: 1 to {max} bytes of text without control characters"
    )]
    InvalidName {
        /// The name (shortened and escaped for display).
        name: String,
        /// Longest name in bytes.
        max: usize,
    },
    /// The artifact's signed name is not the one the caller expects.
    #[error(
        "artifact was signed as module `{found}`, but `{expected}` is required (a validly signed artifact swapped in for another?)"
    )]
    NameMismatch {
        /// Name in the signed metadata (escaped for display).
        found: String,
        /// Name required.
        expected: String,
    },
    /// A key was configured but the artifact carries no signature.
    #[error("artifact is not signed, and a trusted key was given")]
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
    /// A counter-signature cannot be read.
    #[error("artifact counter-signature is malformed: {0}")]
    BadCountersignature(String),

    /// A counter-signature cannot be added.
    #[error("cannot counter-sign: {0}")]
    CannotCountersign(String),

    /// A counter-signature by a trusted key does not verify: the block was altered.
    #[error("artifact counter-signature by trusted key {signer} refused")]
    CountersignatureRefused {
        /// The key it names.
        signer: lucet_signature::KeyId,
        /// Why.
        #[source]
        source: lucet_signature::Error,
    },

    /// A key signed the artifact outside its validity window.
    #[error("artifact is signed by key {key}, which is valid {} and it is now {now}", window(*not_before, *not_after))]
    KeyNotValid {
        /// The key.
        key: lucet_signature::KeyId,
        /// Its window's start.
        not_before: Option<u64>,
        /// Its window's end.
        not_after: Option<u64>,
        /// The time of the check.
        now: u64,
    },

    /// Too few of the keys a signer rule names signed the artifact.
    #[error("rule {rule} needs {needed} of its keys to have signed, and {} did{}", counted.len(), if counted.is_empty() { String::new() } else { format!(" ({})", counted.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ")) })]
    TooFewSigners {
        /// The rule, as the policy names it.
        rule: String,
        /// How many it needs.
        needed: usize,
        /// The valid keys of the rule that signed.
        counted: Vec<lucet_signature::KeyId>,
    },

    /// The artifact's engine or target is not one the policy allows.
    #[error("artifact's {field} is {found}, which the policy does not allow (allowed: {allowed})")]
    NotAllowed {
        /// `engine` or `target`.
        field: &'static str,
        /// What the metadata says, escaped.
        found: String,
        /// What the policy allows.
        allowed: String,
    },

    /// A revocation list names the artifact's signing key, image or source.
    #[error("artifact's {what} {value} is revoked (revocation list serial {serial})")]
    Revoked {
        /// What the list names.
        what: crate::Revoked,
        /// The key id or the BLAKE2b-512 hash, as the list writes it.
        value: String,
        /// The list's serial number.
        serial: u64,
    },

    /// The revocation list is out of date beyond its grace period: without
    /// a current list nothing is known not to be revoked.
    #[error(
        "revocation list serial {serial} expired at {expires} (grace {grace} s) and it is now {now}: publish a newer list signed by a `revocation` key"
    )]
    RevocationListExpired {
        /// The list's serial number.
        serial: u64,
        /// Its expiry, Unix seconds.
        expires: u64,
        /// The grace period, seconds.
        grace: u64,
        /// The time of the check.
        now: u64,
    },
}

impl Error {
    /// For a policy's refusal, the rule that made it, as policy files name
    /// rules (`artifact.signed_by[0]`, `artifact.min_timestamp`, ...);
    /// `None` for any other error.
    pub fn policy_rule(&self) -> Option<String> {
        Some(match self {
            Error::NameMismatch { .. } => "artifact.name".into(),
            Error::SourceKeyNotAllowed { .. } => "source.signed_by".into(),
            Error::TooOld { .. } => "artifact.min_timestamp".into(),
            Error::NotAllowed { field, .. } => format!("artifact.{field}s"),
            Error::KeyNotValid { .. } => "keys.not_before/not_after".into(),
            Error::TooFewSigners { rule, .. } => rule.clone(),
            Error::Revoked { what, .. } => what.rule().into(),
            Error::RevocationListExpired { .. } => "revocation.expires".into(),
            _ => return None,
        })
    }

    /// Whether this is a revocation's refusal, which audit mode enforces too.
    pub fn is_revocation(&self) -> bool {
        matches!(
            self,
            Error::Revoked { .. } | Error::RevocationListExpired { .. }
        )
    }
}

/// A key's validity window in words.
fn window(not_before: Option<u64>, not_after: Option<u64>) -> String {
    match (not_before, not_after) {
        (Some(start), Some(end)) => format!("from {start} to {end}"),
        (Some(start), None) => format!("from {start}"),
        (None, Some(end)) => format!("until {end}"),
        (None, None) => "always".into(),
    }
}
