//! The metadata line: what the artifact is and where it came from.
//!
//! One line of space-separated `key=value` pairs in a fixed order. Values may
//! hold no spaces or control characters, so the line is also a valid minisign
//! trusted comment and splits unambiguously. In a signed artifact it is the
//! trusted comment, so it is parsed only after the signature verified.

use lucet_signature::KeyId;

use crate::Error;

/// Longest metadata line written: the longest trusted comment minisign writes.
pub const MAX_METADATA_LEN: usize = 4077;

/// The fields of an artifact's metadata line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// BLAKE2b-512 of the engine image, lowercase hex.
    pub image_blake2b: String,
    /// BLAKE2b-512 of the source file as read (before any text translation), lowercase hex.
    pub source_blake2b: String,
    /// Key that signed the source, when the compiler verified one.
    pub source_key: Option<KeyId>,
    /// Engine that produced the image, e.g. `wasmtime-48.0.8`.
    pub engine: String,
    /// Target triple of the image.
    pub target: String,
    /// Resolved CPU features the image may use (`baseline` when none beyond the triple's).
    pub cpu: String,
    /// Every engine setting that must match at load time, as `name:value` pairs joined by `,`.
    pub settings: String,
    /// Seconds since the Unix epoch when the artifact was made.
    pub timestamp: u64,
    /// Free text the signer added (`lucetc --signature-comment`); stored
    /// percent-escaped as the optional last field `comment=`.
    pub comment: Option<String>,
}

const KEYS: [&str; 9] = [
    "lucet-artifact",
    "image-blake2b",
    "source-blake2b",
    "source-key",
    "engine",
    "target",
    "cpu",
    "settings",
    "timestamp",
];

impl Metadata {
    /// Encodes the metadata as one line, without a line terminator.
    pub fn to_line(&self) -> Result<String, Error> {
        let source_key = self
            .source_key
            .map_or_else(|| "none".to_string(), |k| k.to_string());
        let timestamp = self.timestamp.to_string();
        let values = [
            "1",
            &self.image_blake2b,
            &self.source_blake2b,
            &source_key,
            &self.engine,
            &self.target,
            &self.cpu,
            &self.settings,
            &timestamp,
        ];
        let mut line = String::new();
        for (key, value) in KEYS.iter().zip(values) {
            check_value(key, value)?;
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(key);
            line.push('=');
            line.push_str(value);
        }
        if let Some(comment) = &self.comment {
            line.push_str(" comment=");
            line.push_str(&escape_comment(comment));
        }
        if line.len() > MAX_METADATA_LEN {
            return Err(Error::Metadata(format!(
                "{} bytes, more than the {MAX_METADATA_LEN}-byte limit",
                line.len()
            )));
        }
        Ok(line)
    }

    /// Parses a metadata line (without its terminator).
    ///
    /// Only the spelling [`Metadata::to_line`] writes is accepted: at most
    /// [`MAX_METADATA_LEN`] bytes, the source key id in uppercase, the
    /// timestamp in decimal without sign or leading zeros.
    pub fn parse(line: &str) -> Result<Metadata, Error> {
        if line.len() > MAX_METADATA_LEN {
            return Err(Error::Metadata(format!(
                "{} bytes, more than the {MAX_METADATA_LEN}-byte limit",
                line.len()
            )));
        }
        let mut fields = line.split(' ');
        let mut next = |key: &str| -> Result<&str, Error> {
            let field = fields
                .next()
                .ok_or_else(|| Error::Metadata(format!("missing field `{key}`")))?;
            let value = field
                .strip_prefix(key)
                .and_then(|rest| rest.strip_prefix('='))
                .ok_or_else(|| {
                    Error::Metadata(format!(
                        "expected field `{key}=`, found `{}`",
                        truncate(field)
                    ))
                })?;
            check_value(key, value)?;
            Ok(value)
        };
        let version = next(KEYS[0])?;
        if version != "1" {
            return Err(Error::Metadata(format!(
                "metadata version `{}` is not supported",
                truncate(version)
            )));
        }
        let image_blake2b = hash_field(next(KEYS[1])?, KEYS[1])?;
        let source_blake2b = hash_field(next(KEYS[2])?, KEYS[2])?;
        let source_key = match next(KEYS[3])? {
            "none" => None,
            id => Some(
                id.parse::<KeyId>()
                    .ok()
                    .filter(|key| key.to_string() == id)
                    .ok_or_else(|| {
                        Error::Metadata(format!(
                            "`source-key` is not a key id in uppercase hex: `{}`",
                            truncate(id)
                        ))
                    })?,
            ),
        };
        let engine = next(KEYS[4])?.to_string();
        let target = next(KEYS[5])?.to_string();
        let cpu = next(KEYS[6])?.to_string();
        let settings = next(KEYS[7])?.to_string();
        let timestamp = next(KEYS[8])?;
        let timestamp = timestamp
            .parse::<u64>()
            .ok()
            // `u64::from_str` also takes a `+` sign and leading zeros.
            .filter(|value| value.to_string() == timestamp)
            .ok_or_else(|| {
                Error::Metadata(
                    "`timestamp` is not a decimal number without sign or leading zeros".to_string(),
                )
            })?;
        let comment = match fields.next() {
            None => None,
            Some(field) => match field.strip_prefix("comment=") {
                Some(escaped) => Some(unescape_comment(escaped)?),
                None => {
                    return Err(Error::Metadata(format!(
                        "unexpected field `{}`",
                        truncate(field)
                    )));
                }
            },
        };
        if let Some(extra) = fields.next() {
            return Err(Error::Metadata(format!(
                "unexpected field `{}`",
                truncate(extra)
            )));
        }
        Ok(Metadata {
            image_blake2b,
            source_blake2b,
            source_key,
            engine,
            target,
            cpu,
            settings,
            timestamp,
            comment,
        })
    }
}

/// Whether `byte` stands for itself in an escaped comment: printable ASCII
/// except space and `%`. Everything else is `%XX` (uppercase hex), so the
/// field holds no spaces or control characters and has one spelling.
fn is_plain(byte: u8) -> bool {
    (0x21..=0x7e).contains(&byte) && byte != b'%'
}

fn escape_comment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if is_plain(byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn unescape_comment(escaped: &str) -> Result<String, Error> {
    let bad = || Error::Metadata("`comment` is not canonically escaped UTF-8 text".to_string());
    let mut bytes = Vec::with_capacity(escaped.len());
    let mut rest = escaped.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        if first != b'%' {
            // Anything but a plain byte would have been escaped by `to_line`.
            if !is_plain(first) {
                return Err(bad());
            }
            bytes.push(first);
            rest = tail;
            continue;
        }
        let (hex, tail) = tail.split_at_checked(2).ok_or_else(bad)?;
        let hex = std::str::from_utf8(hex).map_err(|_| bad())?;
        let byte = u8::from_str_radix(hex, 16).map_err(|_| bad())?;
        // One spelling only: uppercase hex, and only for bytes that need it.
        if is_plain(byte) || hex != format!("{byte:02X}") {
            return Err(bad());
        }
        bytes.push(byte);
        rest = tail;
    }
    String::from_utf8(bytes).map_err(|_| bad())
}

fn check_value(key: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.chars().any(|c| c == ' ' || c.is_control()) {
        return Err(Error::Metadata(format!(
            "value of `{key}` is empty or holds a space or control character"
        )));
    }
    Ok(())
}

fn hash_field(value: &str, key: &str) -> Result<String, Error> {
    if value.len() != 128
        || !value
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::Metadata(format!(
            "`{key}` is not 128 lowercase hex digits"
        )));
    }
    Ok(value.to_string())
}

/// Shortens untrusted text quoted in an error so a hostile line cannot flood the terminal.
fn truncate(text: &str) -> String {
    let short: String = text.chars().take(40).collect();
    lucet_signature::escape_for_display(&short)
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample() -> Metadata {
        Metadata {
            image_blake2b: "ab".repeat(64),
            source_blake2b: "cd".repeat(64),
            source_key: Some("0123456789ABCDEF".parse().expect("key id")),
            engine: "wasmtime-48.0.8".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            cpu: "+sse3,+avx2".into(),
            settings: "opt:speed_and_size,epoch:1".into(),
            timestamp: 1_700_000_000,
            comment: None,
        }
    }

    #[test]
    fn round_trip() {
        let line = sample().to_line().expect("encode");
        assert!(line.starts_with("lucet-artifact=1 image-blake2b=abab"));
        assert!(line.contains(" source-key=0123456789ABCDEF "));
        assert_eq!(Metadata::parse(&line).expect("parse"), sample());
        let unsigned_source = Metadata {
            source_key: None,
            ..sample()
        };
        let line = unsigned_source.to_line().expect("encode");
        assert!(line.contains(" source-key=none "));
        assert_eq!(Metadata::parse(&line).expect("parse"), unsigned_source);
    }

    #[test]
    fn malformed_lines_are_refused() {
        let line = sample().to_line().expect("encode");
        let cases = [
            String::new(),
            line.replacen("lucet-artifact=1", "lucet-artifact=2", 1),
            line.replacen(" engine=", "  engine=", 1),
            line.replacen("source-key=0123456789ABCDEF", "source-key=xyz", 1),
            line.replacen("timestamp=1700000000", "timestamp=-1", 1),
            format!("{line} extra=1"),
            line.replacen("image-blake2b=ab", "image-blake2b=AB", 1),
            line.replacen("cpu=", "cpu=\u{7}", 1),
            line.replacen(" timestamp=1700000000", "", 1),
        ];
        for case in cases {
            assert!(Metadata::parse(&case).is_err(), "accepted {case:?}");
        }
    }

    /// Found by the `metadata` and `artifact` fuzz targets: each of these
    /// parsed to the same value as the canonical line, so one metadata had
    /// several spellings (and an over-long line parsed that `to_line`
    /// refuses to write).
    #[test]
    fn only_the_canonical_spelling_parses() {
        let line = sample().to_line().expect("encode");
        let cases = [
            line.replacen("timestamp=1700000000", "timestamp=01700000000", 1),
            line.replacen("timestamp=1700000000", "timestamp=+1700000000", 1),
            line.replacen("timestamp=1700000000", "timestamp=00", 1),
            line.replacen(
                "source-key=0123456789ABCDEF",
                "source-key=0123456789abcdef",
                1,
            ),
            line.replacen("cpu=+sse3,+avx2", &format!("cpu={}", "x".repeat(4000)), 1),
        ];
        for case in cases {
            assert!(Metadata::parse(&case).is_err(), "accepted {case:?}");
        }
        let zero = Metadata {
            timestamp: 0,
            ..sample()
        };
        let line = zero.to_line().expect("encode");
        assert!(line.ends_with(" timestamp=0"));
        assert_eq!(Metadata::parse(&line).expect("parse"), zero);
        let longest = Metadata {
            cpu: "x".repeat(MAX_METADATA_LEN - line.len() + zero.cpu.len()),
            ..zero
        };
        let line = longest.to_line().expect("encode");
        assert_eq!(line.len(), MAX_METADATA_LEN);
        assert_eq!(Metadata::parse(&line).expect("parse"), longest);
    }

    #[test]
    fn values_with_spaces_are_not_written() {
        let bad = Metadata {
            settings: "a b".into(),
            ..sample()
        };
        assert!(bad.to_line().is_err());
    }

    #[test]
    fn comments_round_trip_with_one_spelling() {
        let text = "release 1.2 — built by CI, 100% reproducible\tok";
        let with_comment = Metadata {
            comment: Some(text.to_string()),
            ..sample()
        };
        let line = with_comment.to_line().expect("encode");
        assert!(
            line.ends_with(
                " comment=release%201.2%20%E2%80%94%20built%20by%20CI,%20100%25%20reproducible%09ok"
            ),
            "{line}"
        );
        assert_eq!(Metadata::parse(&line).expect("parse"), with_comment);
        let base = sample().to_line().expect("encode");
        for bad in ["%41", "%e2%80%94", "%2", "%ZZ", "%FF", "a%20%"] {
            let line = format!("{base} comment={bad}");
            assert!(Metadata::parse(&line).is_err(), "accepted comment={bad}");
        }
        assert!(Metadata::parse(&format!("{base} comment=ok extra=1")).is_err());
    }

    /// Found by the `metadata` fuzz target: bytes that `to_line` escapes
    /// were also accepted unescaped (raw control characters, NUL, TAB,
    /// non-ASCII), giving a second spelling and letting control characters
    /// through into `comment` from an unsigned artifact.
    #[test]
    fn comments_hold_only_plain_bytes_unescaped() {
        let base = sample().to_line().expect("encode");
        for raw in [
            "a\tb",
            "\u{1b}[2J",
            "nul\0",
            "caf\u{e9}",
            "\u{2014}",
            "\u{7f}",
        ] {
            let line = format!("{base} comment={raw}");
            assert!(Metadata::parse(&line).is_err(), "accepted comment={raw:?}");
        }
        let line = format!("{base} comment=%1B[2J");
        let parsed = Metadata::parse(&line).expect("escaped form parses");
        assert_eq!(parsed.comment.as_deref(), Some("\u{1b}[2J"));
        assert_eq!(parsed.to_line().expect("encode"), line);
    }
}
