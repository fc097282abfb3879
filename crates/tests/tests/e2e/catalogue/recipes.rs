//! The vocabulary of the catalogue files: how a case's input files are made
//! (`files."NAME" = { ... }`) and the edits that break them. Each word is
//! implemented once here; README.md beside this file shows them in use.

use lucet_signature::{Prehash, SecretKey};
use serde::Deserialize;

use crate::util::{Scratch, lucetc, run};

/// The trusted comment of a `signature_of` signature unless the case gives
/// one: the word the minisig cases replace to break it.
const DEFAULT_TRUSTED_COMMENT: &str = "catalogue";

/// One input file of a case: the bytes it starts from (exactly one of
/// `from`, `contents`, `compiled_from`, `signature_of`), then its `edits`,
/// in order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecipe {
    /// Start from a copy of this file of the shared world (`good.pub`, ...).
    from: Option<String>,
    /// Start from these bytes.
    contents: Option<Bytes>,
    /// Start from the unsigned artifact lucetc compiles this file to.
    compiled_from: Option<String>,
    /// Start from a minisign signature of this file, made by the good key.
    signature_of: Option<String>,
    /// The trusted comment of the `signature_of` signature.
    trusted_comment: Option<String>,
    /// Who makes the `signature_of` signature: `good` (the default) or
    /// `spare` (the world's third key, whose public half is `spare.pub`).
    signer: Option<String>,
    /// Edit only the text of this line (counted from 1, without its newline).
    line: Option<usize>,
    /// Edit only the bytes this line's base64 decodes to (counted from 1);
    /// they are encoded again afterwards.
    base64_line: Option<usize>,
    #[serde(default)]
    edits: Vec<Edit>,
}

impl FileRecipe {
    /// When the file is made among its case's files: first those made from
    /// nothing or from the world (0), then artifacts (1), which may compile
    /// one of those, then signatures (2), which may sign either.
    pub fn stage(&self) -> u8 {
        match (&self.compiled_from, &self.signature_of) {
            (_, Some(_)) => 2,
            (Some(_), None) => 1,
            (None, None) => 0,
        }
    }

    /// The file's bytes; `scratch` holds the files it is made from.
    pub fn make(&self, scratch: &Scratch) -> Result<Vec<u8>, String> {
        let start = self.start(scratch)?;
        match (self.line, self.base64_line) {
            (None, None) => apply(&self.edits, start),
            (Some(number), None) => edit_line(&start, number, |text| apply(&self.edits, text)),
            (None, Some(number)) => edit_line(&start, number, |text| {
                let decoded = base64_decode(&text)?;
                Ok(base64_encode(&apply(&self.edits, decoded)?).into_bytes())
            }),
            (Some(_), Some(_)) => Err("give `line` or `base64_line`, not both".into()),
        }
    }

    fn start(&self, scratch: &Scratch) -> Result<Vec<u8>, String> {
        let read = |name: &str| {
            std::fs::read(scratch.path(name)).map_err(|e| format!("cannot read {name}: {e}"))
        };
        if (self.trusted_comment.is_some() || self.signer.is_some()) && self.signature_of.is_none()
        {
            return Err("`trusted_comment` and `signer` belong with `signature_of`".into());
        }
        let starts = (
            &self.from,
            &self.contents,
            &self.compiled_from,
            &self.signature_of,
        );
        match starts {
            (Some(from), None, None, None) => read(from),
            (None, Some(contents), None, None) => Ok(contents.to_vec()),
            (None, None, Some(source), None) => compile(scratch, source),
            (None, None, None, Some(signed)) => {
                let trusted_comment = self
                    .trusted_comment
                    .as_deref()
                    .unwrap_or(DEFAULT_TRUSTED_COMMENT);
                let key = match self.signer.as_deref() {
                    None | Some("good") => super::good_key(),
                    Some("spare") => super::spare_key(),
                    Some(other) => return Err(format!("unknown signer {other:?}: good or spare")),
                };
                sign(&key, &read(signed)?, trusted_comment)
            }
            _ => Err(
                "give exactly one of `from`, `contents`, `compiled_from` and `signature_of`".into(),
            ),
        }
    }
}

/// The unsigned artifact lucetc makes of `source`, a file in `scratch`.
fn compile(scratch: &Scratch, source: &str) -> Result<Vec<u8>, String> {
    // Compiled elsewhere, so no stray output is left in the shared world.
    let out = tempfile::tempdir().map_err(|e| format!("cannot make a directory: {e}"))?;
    let artifact = out.path().join("compiled.so");
    let output = run(&mut lucetc([
        scratch.path(source).as_os_str(),
        "-o".as_ref(),
        artifact.as_os_str(),
    ]));
    if output.status != 0 {
        return Err(format!("lucetc cannot compile {source}: {}", output.stderr));
    }
    std::fs::read(&artifact).map_err(|e| format!("cannot read the artifact of {source}: {e}"))
}

/// A minisign signature of `data` by `key`, as `.minisig` text.
fn sign(key: &SecretKey, data: &[u8], trusted_comment: &str) -> Result<Vec<u8>, String> {
    let signature = key
        .sign_prehashed(
            &Prehash::of(data),
            trusted_comment,
            "signature from a test key",
        )
        .map_err(|e| format!("cannot sign: {e}"))?;
    Ok(signature.to_text().into_bytes())
}

/// Bytes, written as a string (its UTF-8), a number (one byte), an array
/// (its parts, one after another), `{ repeat = BYTES, times = N }`, or a
/// little-endian integer: `{ u32_le = N }`, `{ u64_le = N }`.
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Bytes {
    Byte(u8),
    Text(String),
    Parts(Vec<Bytes>),
    Repeat { repeat: Box<Bytes>, times: usize },
    U32Le { u32_le: u32 },
    U64Le { u64_le: u64 },
}

impl Bytes {
    fn to_vec(&self) -> Vec<u8> {
        match self {
            Bytes::Byte(byte) => vec![*byte],
            Bytes::Text(text) => text.as_bytes().to_vec(),
            Bytes::Parts(parts) => parts.iter().flat_map(Bytes::to_vec).collect(),
            Bytes::Repeat { repeat, times } => repeat.to_vec().repeat(*times),
            Bytes::U32Le { u32_le } => u32_le.to_le_bytes().to_vec(),
            Bytes::U64Le { u64_le } => u64_le.to_le_bytes().to_vec(),
        }
    }
}

/// One change to a file's bytes (or to its selected line). A position `at`
/// counts from 0; a negative one counts back from the end (-16 is the first
/// byte of an artifact's footer).
#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Edit {
    /// A change only code can describe, by name.
    Named(NamedEdit),
    /// `{ drop_last = N }`: removes the last N bytes.
    DropLast { drop_last: usize },
    /// `{ keep_first = N }`: keeps only the first N bytes.
    KeepFirst { keep_first: usize },
    /// `{ keep_lines = N }`: keeps only the first N lines.
    KeepLines { keep_lines: usize },
    /// `{ becomes = BYTES }`: replaces all the bytes.
    Becomes { becomes: Bytes },
    /// `{ append = BYTES }`: adds bytes at the end.
    Append { append: Bytes },
    /// `{ replace = "TEXT", with = BYTES }`: replaces the first occurrence of TEXT.
    Replace { replace: String, with: Bytes },
    /// `{ at = I, set = BYTES }`: overwrites the bytes from position I on.
    Set { at: i64, set: Bytes },
    /// `{ at = I, xor = N }`: flips the bits of N in the byte at position I.
    Xor { at: i64, xor: u8 },
    /// `{ zero_from = I }`: sets every byte from position I to the end to 0.
    ZeroFrom { zero_from: usize },
}

/// The edits written as a name: `edits = ["set-padding-bits"]`.
#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NamedEdit {
    /// Sets the unused low bits of the last base64 digit before the `=`
    /// padding: the same bytes, in a non-canonical text.
    SetPaddingBits,
    /// Inserts 4096 zero bytes between an artifact's image and its signature
    /// block: every signature still verifies, the image length does not.
    PadBeforeSignatureBlock,
}

fn apply(edits: &[Edit], mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    for edit in edits {
        edit.apply(&mut bytes)?;
    }
    Ok(bytes)
}

impl Edit {
    fn apply(&self, bytes: &mut Vec<u8>) -> Result<(), String> {
        let len = bytes.len();
        let too_short = || format!("the file is too short ({len} bytes) for this edit");
        match self {
            Edit::Named(NamedEdit::SetPaddingBits) => {
                *bytes = set_padding_bits(as_text(bytes)?)?.into_bytes();
            }
            Edit::Named(NamedEdit::PadBeforeSignatureBlock) => {
                let block = signature_block_start(bytes)?;
                bytes.splice(block..block, std::iter::repeat_n(0, 4096));
            }
            Edit::DropLast { drop_last } => {
                let kept = len.checked_sub(*drop_last).ok_or_else(too_short)?;
                bytes.truncate(kept);
            }
            Edit::KeepFirst { keep_first } if *keep_first > len => return Err(too_short()),
            Edit::KeepFirst { keep_first } => bytes.truncate(*keep_first),
            Edit::KeepLines { keep_lines } => {
                let kept: String = as_text(bytes)?
                    .lines()
                    .take(*keep_lines)
                    .map(|line| format!("{line}\n"))
                    .collect();
                *bytes = kept.into_bytes();
            }
            Edit::Becomes { becomes } => *bytes = becomes.to_vec(),
            Edit::Append { append } => bytes.extend(append.to_vec()),
            Edit::Replace { replace, with } => {
                let found = find(bytes, replace.as_bytes())
                    .ok_or_else(|| format!("{replace:?} is not in the file"))?;
                bytes.splice(found..found + replace.len(), with.to_vec());
            }
            Edit::Set { at, set } => {
                let new = set.to_vec();
                let start = position(len, *at).ok_or_else(too_short)?;
                let target = bytes
                    .get_mut(start..start + new.len())
                    .ok_or_else(too_short)?;
                target.copy_from_slice(&new);
            }
            Edit::Xor { at, xor } => {
                let index = position(len, *at).ok_or_else(too_short)?;
                *bytes.get_mut(index).ok_or_else(too_short)? ^= xor;
            }
            Edit::ZeroFrom { zero_from } => {
                bytes.get_mut(*zero_from..).ok_or_else(too_short)?.fill(0)
            }
        }
        Ok(())
    }
}

/// Position `at` in a file of `len` bytes: from the start, or from the end
/// when negative.
fn position(len: usize, at: i64) -> Option<usize> {
    let distance = usize::try_from(at.unsigned_abs()).ok()?;
    if at < 0 {
        len.checked_sub(distance)
    } else {
        Some(distance)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

fn as_text(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|_| "this edit works on text, and the file is not".into())
}

/// The file with line `number` (counted from 1) replaced by what `edit`
/// makes of it; every line ends in a newline afterwards.
fn edit_line(
    bytes: &[u8],
    number: usize,
    edit: impl FnOnce(Vec<u8>) -> Result<Vec<u8>, String>,
) -> Result<Vec<u8>, String> {
    let mut lines: Vec<String> = as_text(bytes)?.lines().map(String::from).collect();
    let line = number
        .checked_sub(1)
        .and_then(|index| lines.get_mut(index))
        .ok_or_else(|| format!("the file has no line {number}"))?;
    let edited = edit(std::mem::take(line).into_bytes())?;
    *line = String::from_utf8(edited).map_err(|_| format!("line {number} is no longer text"))?;
    Ok(format!("{}\n", lines.join("\n")).into_bytes())
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn base64_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|e| format!("the line is not base64: {e}"))
}

fn set_padding_bits(line: &str) -> Result<String, String> {
    const DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = line.trim_end_matches('=');
    let last = data.chars().last().ok_or("the line has no base64 digits")?;
    let value = DIGITS.find(last).ok_or("the line is not base64")? | 0b1111;
    let digit = DIGITS.chars().nth(value).ok_or("the line is not base64")?;
    Ok(format!(
        "{}{digit}{}",
        &data[..data.len() - 1],
        &line[data.len()..]
    ))
}

/// Where an artifact's signature block starts: its 16-byte footer ends in
/// the block's length (u32, little-endian), and the block lies just before
/// the footer (docs/artifact-format.md).
fn signature_block_start(artifact: &[u8]) -> Result<usize, String> {
    let not_an_artifact = || "the file has no artifact footer".to_string();
    let footer = artifact.len().checked_sub(16).ok_or_else(not_an_artifact)?;
    let length: [u8; 4] = artifact[footer + 12..]
        .try_into()
        .map_err(|_| not_an_artifact())?;
    let length = usize::try_from(u32::from_le_bytes(length)).map_err(|_| not_an_artifact())?;
    footer.checked_sub(length).ok_or_else(not_an_artifact)
}
