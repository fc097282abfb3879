//! The metadata line: what the artifact is, what it is for, and where it
//! came from.
//!
//! One line of space-separated `key=value` pairs in a fixed order. Values may
//! hold no spaces or control characters, so the line is also a valid minisign
//! trusted comment and splits unambiguously. In a signed artifact it is the
//! trusted comment: it is parsed only once the global signature over it
//! verified, and before the image is read, so that the signed image length
//! bounds what is read.

use lucet_signature::{KeyId, Prehash};

use crate::Error;

/// Longest metadata line written: the longest trusted comment minisign writes.
pub const MAX_METADATA_LEN: usize = 4077;

/// Longest module name, in bytes (before escaping).
pub const MAX_NAME_LEN: usize = 128;

/// The metadata version this build writes and reads (`lucet-artifact=`).
pub const METADATA_VERSION: u32 = 3;

/// What an artifact's image holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArtifactKind {
    /// A core WebAssembly module (`precompile_module`).
    Module,
    /// A WebAssembly component (`precompile_component`).
    Component,
}

impl ArtifactKind {
    /// Every kind this build reads and writes.
    const ALL: [ArtifactKind; 2] = [ArtifactKind::Module, ArtifactKind::Component];

    /// What the WebAssembly binary `wasm` holds, from its header alone: the
    /// `\0asm` magic, then a 16-bit version and a 16-bit layer field, and a
    /// layer of 1 makes a component. Anything else is a module here, left to
    /// the validator to refuse: this only picks which one refuses it.
    pub fn of_wasm(wasm: &[u8]) -> ArtifactKind {
        const COMPONENT_LAYER: [u8; 2] = [1, 0];
        match wasm.get(6..8) {
            Some(layer) if wasm.starts_with(b"\0asm") && layer == COMPONENT_LAYER => {
                ArtifactKind::Component
            }
            _ => ArtifactKind::Module,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Module => "module",
            ArtifactKind::Component => "component",
        }
    }
}

impl std::fmt::Display for ArtifactKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fields of an artifact's metadata line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// What the image holds.
    pub kind: ArtifactKind,
    /// The module's name, chosen when it was compiled (by default the
    /// source's file stem): what the signature is *for*. Runners can require
    /// it, so a validly signed artifact cannot stand in for another.
    pub name: String,
    /// Length of the engine image in bytes. Checked against the file before
    /// a byte of the image is read.
    pub image_len: u64,
    /// BLAKE2b-512 of the engine image (128 lowercase hex digits in the
    /// line), compared as bytes.
    pub image_blake2b: Prehash,
    /// BLAKE2b-512 of the source file as read (before any text
    /// translation).
    pub source_blake2b: Prehash,
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

/// A field of the line, known by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Version,
    Kind,
    Name,
    ImageLen,
    ImageHash,
    SourceHash,
    SourceKey,
    Engine,
    Target,
    Cpu,
    Settings,
    Timestamp,
    Comment,
}

impl Field {
    /// Every field, in the one order they are written.
    const ALL: [Field; 13] = [
        Field::Version,
        Field::Kind,
        Field::Name,
        Field::ImageLen,
        Field::ImageHash,
        Field::SourceHash,
        Field::SourceKey,
        Field::Engine,
        Field::Target,
        Field::Cpu,
        Field::Settings,
        Field::Timestamp,
        Field::Comment,
    ];

    /// The key the field is written under.
    fn key(self) -> &'static str {
        match self {
            Field::Version => "lucet-artifact",
            Field::Kind => "kind",
            Field::Name => "name",
            Field::ImageLen => "image-len",
            Field::ImageHash => "image-blake2b",
            Field::SourceHash => "source-blake2b",
            Field::SourceKey => "source-key",
            Field::Engine => "engine",
            Field::Target => "target",
            Field::Cpu => "cpu",
            Field::Settings => "settings",
            Field::Timestamp => "timestamp",
            Field::Comment => "comment",
        }
    }

    /// The field written under `key`, if any.
    fn named(key: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|field| field.key() == key)
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

impl Metadata {
    /// Encodes the metadata as one line, without a line terminator.
    pub fn to_line(&self) -> Result<String, Error> {
        check_name(&self.name)?;
        let source_key = self
            .source_key
            .map_or_else(|| "none".to_string(), |k| k.to_string());
        let mut fields = vec![
            (Field::Version, METADATA_VERSION.to_string()),
            (Field::Kind, self.kind.as_str().to_string()),
            (Field::Name, escape_comment(&self.name)),
            (Field::ImageLen, self.image_len.to_string()),
            (Field::ImageHash, hex(self.image_blake2b.as_bytes())),
            (Field::SourceHash, hex(self.source_blake2b.as_bytes())),
            (Field::SourceKey, source_key),
            (Field::Engine, self.engine.clone()),
            (Field::Target, self.target.clone()),
            (Field::Cpu, self.cpu.clone()),
            (Field::Settings, self.settings.clone()),
            (Field::Timestamp, self.timestamp.to_string()),
        ];
        if let Some(comment) = &self.comment {
            fields.push((Field::Comment, escape_comment(comment)));
        }
        let mut line = String::new();
        for (field, value) in fields {
            check_value(field, &value)?;
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(field.key());
            line.push('=');
            line.push_str(&value);
        }
        check_len(&line)?;
        Ok(line)
    }

    /// Parses a metadata line (without its terminator).
    ///
    /// Fields are looked up by name; each known field must appear once and
    /// nothing else may. Only the spelling [`Metadata::to_line`] writes is
    /// accepted (same order, uppercase key ids, decimal numbers without sign
    /// or leading zeros, canonical escapes): the parsed value is encoded
    /// again and must give back the very line, so one metadata has one
    /// spelling.
    pub fn parse(line: &str) -> Result<Metadata, Error> {
        check_len(line)?;
        let fields = Fields::split(line)?;
        let version = fields.get(Field::Version)?;
        if version != METADATA_VERSION.to_string() {
            return Err(version_error(version));
        }
        let metadata = Metadata {
            kind: parse_kind(fields.get(Field::Kind)?)?,
            name: unescape_comment(fields.get(Field::Name)?, Field::Name)?,
            image_len: parse_number(fields.get(Field::ImageLen)?, Field::ImageLen)?,
            image_blake2b: hash_field(fields.get(Field::ImageHash)?, Field::ImageHash)?,
            source_blake2b: hash_field(fields.get(Field::SourceHash)?, Field::SourceHash)?,
            source_key: parse_source_key(fields.get(Field::SourceKey)?)?,
            engine: fields.get(Field::Engine)?.to_string(),
            target: fields.get(Field::Target)?.to_string(),
            cpu: fields.get(Field::Cpu)?.to_string(),
            settings: fields.get(Field::Settings)?.to_string(),
            timestamp: parse_number(fields.get(Field::Timestamp)?, Field::Timestamp)?,
            comment: fields
                .optional(Field::Comment)
                .map(|escaped| unescape_comment(escaped, Field::Comment))
                .transpose()?,
        };
        if metadata.to_line()? != line {
            return Err(Error::Metadata(
                "fields are not in the one order and spelling lucetc writes".to_string(),
            ));
        }
        Ok(metadata)
    }

    /// Metadata of `image`, named `name`, compiled from `source` (by an
    /// unsigned source) the way lucetc records a module for x86-64 Linux
    /// with its default settings: for tests and fuzz seeds, which make real
    /// artifacts around fake images without a compiler.
    #[doc(hidden)]
    pub fn sample(name: &str, image: &[u8], source: &[u8]) -> Metadata {
        Metadata {
            kind: ArtifactKind::Module,
            name: name.into(),
            image_len: image.len() as u64,
            image_blake2b: Prehash::of(image),
            source_blake2b: Prehash::of(source),
            source_key: None,
            engine: "wasmtime-48.0.8".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            cpu: "baseline".into(),
            settings: "opt:speed_and_size,epoch:1,reserve:4294967296,guard:33554432".into(),
            timestamp: 1_700_000_000,
            comment: None,
        }
    }
}

/// A metadata line split into its `key=value` fields.
struct Fields<'a>(Vec<(Field, &'a str)>);

impl<'a> Fields<'a> {
    fn split(line: &'a str) -> Result<Fields<'a>, Error> {
        let mut fields: Vec<(Field, &str)> = Vec::new();
        for pair in line.split(' ') {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                Error::Metadata(format!("field `{}` is not key=value", truncate(pair)))
            })?;
            let field = Field::named(key)
                .ok_or_else(|| Error::Metadata(format!("unexpected field `{}`", truncate(key))))?;
            if fields.iter().any(|(seen, _)| *seen == field) {
                return Err(Error::Metadata(format!("field `{key}` appears twice")));
            }
            check_value(field, value)?;
            fields.push((field, value));
        }
        Ok(Fields(fields))
    }

    fn optional(&self, field: Field) -> Option<&'a str> {
        self.0.iter().find(|(f, _)| *f == field).map(|(_, v)| *v)
    }

    fn get(&self, field: Field) -> Result<&'a str, Error> {
        self.optional(field)
            .ok_or_else(|| Error::Metadata(format!("missing field `{field}`")))
    }
}

fn version_error(version: &str) -> Error {
    match version.parse::<u32>() {
        Ok(older) if older < METADATA_VERSION => Error::Metadata(format!(
            "metadata version {older} was written by an earlier lucetc: recompile the artifact with this one"
        )),
        Ok(newer) => Error::Metadata(format!(
            "metadata version {newer} was written by a newer lucetc: upgrade this tool to read it"
        )),
        Err(_) => Error::Metadata(format!(
            "metadata version `{}` is not supported",
            truncate(version)
        )),
    }
}

fn parse_kind(value: &str) -> Result<ArtifactKind, Error> {
    ArtifactKind::ALL
        .into_iter()
        .find(|kind| kind.as_str() == value)
        .ok_or_else(|| {
            Error::Metadata(format!(
                "the artifact holds a `{}`, which this build cannot run (it runs core modules and components): upgrade it",
                truncate(value)
            ))
        })
}

fn parse_number(value: &str, field: Field) -> Result<u64, Error> {
    value
        .parse::<u64>()
        .ok()
        // `u64::from_str` also takes a `+` sign and leading zeros.
        .filter(|number| number.to_string() == value)
        .ok_or_else(|| {
            Error::Metadata(format!(
                "`{field}` is not a decimal number without sign or leading zeros"
            ))
        })
}

fn parse_source_key(value: &str) -> Result<Option<KeyId>, Error> {
    if value == "none" {
        return Ok(None);
    }
    value
        .parse::<KeyId>()
        .ok()
        .filter(|key| key.to_string() == value)
        .map(Some)
        .ok_or_else(|| {
            Error::Metadata(format!(
                "`source-key` is not a key id in uppercase hex: `{}`",
                truncate(value)
            ))
        })
}

fn check_len(line: &str) -> Result<(), Error> {
    if line.len() > MAX_METADATA_LEN {
        return Err(Error::Metadata(format!(
            "{} bytes, more than the {MAX_METADATA_LEN}-byte limit",
            line.len()
        )));
    }
    Ok(())
}

/// A module name: 1 to [`MAX_NAME_LEN`] bytes of text without control
/// characters (it is shown to people and compared byte for byte).
pub fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_NAME_LEN || name.chars().any(char::is_control) {
        return Err(Error::InvalidName {
            name: truncate(name),
            max: MAX_NAME_LEN,
        });
    }
    Ok(())
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

fn unescape_comment(escaped: &str, field: Field) -> Result<String, Error> {
    let bad = || Error::Metadata(format!("`{field}` is not canonically escaped UTF-8 text"));
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

fn check_value(field: Field, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.chars().any(|c| c == ' ' || c.is_control()) {
        return Err(Error::Metadata(format!(
            "value of `{field}` is empty or holds a space or control character"
        )));
    }
    Ok(())
}

fn hash_field(value: &str, field: Field) -> Result<Prehash, Error> {
    Prehash::from_lowercase_hex(value)
        .ok_or_else(|| Error::Metadata(format!("`{field}` is not 128 lowercase hex digits")))
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
            kind: ArtifactKind::Module,
            name: "app".into(),
            image_len: 4096,
            image_blake2b: Prehash::from_bytes([0xab; 64]),
            source_blake2b: Prehash::from_bytes([0xcd; 64]),
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
        assert!(line.starts_with(
            "lucet-artifact=3 kind=module name=app image-len=4096 image-blake2b=abab"
        ));
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
    fn components_round_trip_and_unknown_kinds_ask_for_an_upgrade() {
        let component = Metadata {
            kind: ArtifactKind::Component,
            ..sample()
        };
        let line = component.to_line().expect("encode");
        assert!(line.starts_with("lucet-artifact=3 kind=component name=app "));
        assert_eq!(Metadata::parse(&line).expect("parse"), component);
        assert_eq!(ArtifactKind::Component.to_string(), "component");
        let later = line.replacen("kind=component", "kind=world", 1);
        let message = Metadata::parse(&later)
            .expect_err("unknown kind")
            .to_string();
        assert!(message.contains("`world`"), "{message}");
        assert!(message.contains("upgrade"), "{message}");
    }

    #[test]
    fn a_wasm_header_s_layer_field_tells_a_component_from_a_module() {
        let of = ArtifactKind::of_wasm;
        assert_eq!(of(b"\0asm\x01\0\0\0"), ArtifactKind::Module);
        assert_eq!(of(b"\0asm\x0d\0\x01\0"), ArtifactKind::Component);
        // The layer decides, whatever the version says (the validator
        // refuses a version it does not know, with its own message).
        assert_eq!(of(b"\0asm\x0e\0\x01\0\x01"), ArtifactKind::Component);
        for module in [
            &b""[..],
            b"\0asm",
            b"\0asm\x0d\0\x01",
            b"\0asm\x0d\0\x02\0",
            b"\0asm\x0d\0\0\x01",
            b"\0ASM\x0d\0\x01\0",
            b"(component)",
        ] {
            assert_eq!(of(module), ArtifactKind::Module, "{module:?}");
        }
    }

    #[test]
    fn malformed_lines_are_refused() {
        let line = sample().to_line().expect("encode");
        let cases = [
            String::new(),
            line.replacen("lucet-artifact=3", "lucet-artifact=4", 1),
            line.replacen("lucet-artifact=3", "lucet-artifact=2", 1),
            line.replacen("lucet-artifact=3", "lucet-artifact=1", 1),
            line.replacen("kind=module", "kind=Module", 1),
            line.replacen("kind=module", "kind=", 1),
            line.replacen(" name=app", "", 1),
            line.replacen("name=app", "name=a%20b%0A", 1),
            line.replacen("image-len=4096", "image-len=04096", 1),
            line.replacen(" kind=module name=app", " name=app kind=module", 1),
            format!("{line} name=app"),
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
