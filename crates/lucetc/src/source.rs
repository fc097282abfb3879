//! Reading the source module, verifying its `.minisig` (or `-x` file) first
//! when keys are given, and turning it into a WebAssembly binary. The
//! verification itself is `lucet_signature::verify_file`'s; lucetc adds where
//! the signature is, the check of the file name it was made for, and what to
//! say in lucetc's flags.

use std::borrow::Cow;
use std::ffi::OsString;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use lucet_signature::{Error, KeyId, Legacy, Prehash, PublicKeySet, SignatureBox, VerifyFileError};

use crate::source_name::{self, SourceNameCheck};

/// The source as read, once.
pub struct Source {
    /// The bytes that were hashed (and verified, with keys) and will be compiled.
    pub bytes: Vec<u8>,
    /// BLAKE2b-512 of `bytes`.
    pub prehash: Prehash,
    /// The trusted key whose signature verified.
    pub signer: Option<KeyId>,
}

/// `INPUT.minisig`, beside the input.
pub(crate) fn signature_path(input: &Path) -> PathBuf {
    let mut name = OsString::from(input.as_os_str());
    name.push(".minisig");
    PathBuf::from(name)
}

/// Where the source's signature is: `-x PATH`, or `INPUT.minisig`.
#[derive(Debug, Clone, Copy)]
pub struct SignatureAt<'a>(pub Option<&'a Path>);

impl SignatureAt<'_> {
    /// The signature file of `input`.
    pub fn of(self, input: &Path) -> PathBuf {
        self.0
            .map_or_else(|| signature_path(input), Path::to_path_buf)
    }
}

/// Reads `input`, at most `max_len` bytes, hashing it as it is read. With
/// `trusted` keys, its signature (at `signature`) is verified first as
/// `verify_file` does: a legacy or unknown-key signature is refused, and a
/// prehashed signature's `file:` compared with `input` (`name_check`),
/// before the source is read.
pub fn read(
    input: &Path,
    trusted: Option<(&PublicKeySet, SignatureAt<'_>)>,
    legacy: Legacy,
    name_check: SourceNameCheck,
    max_len: u64,
) -> Result<Source> {
    let Some((keys, signature_at)) = trusted else {
        let (bytes, prehash) =
            lucet_signature::read_capped_hashed(input, max_len).map_err(over_max_input_size)?;
        return Ok(Source {
            bytes,
            prehash,
            signer: None,
        });
    };
    let signature_path = signature_at.of(input);
    let signature = read_signature(input, &signature_path, signature_at.0.is_some())?;
    let verified = lucet_signature::verify_file(
        keys,
        &signature,
        legacy,
        input,
        max_len,
        |trusted_comment| source_name::check(input, trusted_comment, name_check),
    )
    .map_err(|error| not_verified(input, &signature_path, error))?;
    eprintln!(
        "source trusted comment: {}",
        show_trusted_comment(verified.trusted_comment())
    );
    Ok(Source {
        prehash: verified.prehash(),
        signer: Some(verified.signer()),
        bytes: verified.into_bytes(),
    })
}

/// A trusted comment made safe to print, its tabs kept as tabs: minisign's
/// default comment is tab-separated fields (`timestamp:...<TAB>file:...`),
/// which read best as they are. Everything else that could drive a terminal
/// is escaped, field by field.
pub(crate) fn show_trusted_comment(comment: &str) -> String {
    comment
        .split('\t')
        .map(lucet_signature::escape_for_display)
        .collect::<Vec<_>>()
        .join("\t")
}

/// Reads and parses the source's signature at `path` (`-x` when `given`,
/// else `INPUT.minisig`).
fn read_signature(input: &Path, path: &Path, given: bool) -> Result<SignatureBox> {
    lucet_signature::read_signature(path).map_err(|error| match error {
        Error::Io { source, .. } if source.kind() == ErrorKind::NotFound && !given => anyhow!(
            "source signature {} not found: sign {} (e.g. `rsign sign` or `minisign -S`), name its signature with -x, or drop --signature-pk",
            path.display(),
            input.display()
        ),
        other => other.into(),
    })
}

/// Says which step of verifying `input` against `signature` refused it.
fn not_verified(
    input: &Path,
    signature: &Path,
    error: VerifyFileError<anyhow::Error>,
) -> anyhow::Error {
    match error {
        VerifyFileError::Refused(error) => {
            anyhow::Error::new(error).context(format!("source signature {}", signature.display()))
        }
        VerifyFileError::Invalid(error) => anyhow::Error::new(error).context(format!(
            "{} does not verify against {}",
            input.display(),
            signature.display()
        )),
        VerifyFileError::Comment(error) => error,
        VerifyFileError::Read(error) => over_max_input_size(error),
    }
}

/// The WebAssembly binary in `source` (read from `input`): binary input as
/// is, text translated unless `translate_wat` is off. A text error is one
/// line that starts with `input`'s line and column, as compilers print them.
/// The binary is what `lucet_runtime::compile::wasm_binary` makes of the
/// same bytes: only the errors differ.
pub fn wasm_binary<'a>(
    input: &Path,
    source: &'a [u8],
    translate_wat: bool,
) -> Result<Cow<'a, [u8]>> {
    if source.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(source));
    }
    if !translate_wat {
        bail!(
            "{}: not a WebAssembly binary (no \\0asm magic), and --no-translate-wat forbids reading it as text",
            input.display()
        );
    }
    if std::str::from_utf8(source).is_err() {
        bail!(
            "{}: neither a WebAssembly binary (no \\0asm magic) nor WebAssembly text (not UTF-8)",
            input.display()
        );
    }
    wat::Parser::new()
        .parse_bytes(Some(input), source)
        .map_err(|error| anyhow!("{}", wat_error_line(&error)))
}

/// A `wat` error, which spans several lines (the message, `--> FILE:LINE:COL`
/// and a source excerpt), as one: `FILE:LINE:COL: invalid WebAssembly text:
/// MESSAGE`.
fn wat_error_line(error: &wat::Error) -> String {
    use lucet_signature::escape_for_display as escape;
    // The message may quote the source (an unknown name), which is not
    // necessarily the user's own: escaped, as all untrusted text is.
    let text = error.to_string();
    let mut lines = text.lines();
    let message = escape(lines.next().unwrap_or_default());
    match lines.find_map(|line| line.trim_start().strip_prefix("--> ")) {
        Some(location) => format!("{}: invalid WebAssembly text: {message}", escape(location)),
        None => format!(
            "invalid WebAssembly text: {}",
            escape(&text.replace('\n', " "))
        ),
    }
}

/// Reads a source of at most `max_len` bytes (`--max-input-size`): a larger
/// file is refused from its size before any of it is read, and memory is
/// reserved fallibly, so no input ends in an allocation abort. Only regular
/// files are read: a FIFO or a device (`/dev/zero`) is refused at once.
pub(crate) fn read_capped(input: &Path, max_len: u64) -> Result<Vec<u8>> {
    lucet_signature::read_capped(input, max_len).map_err(over_max_input_size)
}

/// A source over the cap, said in lucetc's flag; other errors as they are.
fn over_max_input_size(error: Error) -> anyhow::Error {
    match error {
        Error::FileTooLarge { path, len, max } => anyhow!(
            "source {} is {len} bytes, more than --max-input-size ({max} bytes); raise --max-input-size if it really is the module to compile",
            path.display()
        ),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_comments_keep_their_tabs_and_nothing_else() {
        assert_eq!(
            show_trusted_comment("timestamp:1\tfile:app.wat\thashed"),
            "timestamp:1\tfile:app.wat\thashed"
        );
        assert_eq!(
            show_trusted_comment("a\x1b[2Jb\tc\\d"),
            "a\\u{1b}[2Jb\tc\\\\d"
        );
    }

    #[test]
    fn text_errors_are_one_line_naming_file_line_and_column() {
        let input = Path::new("dir/app.wat");
        let error =
            wasm_binary(input, b"(module\n  (func\n    (i32.ad)))\n", true).expect_err("bad text");
        assert_eq!(
            error.to_string(),
            "dir/app.wat:3:6: invalid WebAssembly text: unknown operator or unexpected token"
        );
        let error = wasm_binary(input, b"\xff\xfe", true).expect_err("not text");
        assert!(error.to_string().contains("not UTF-8"), "{error}");
        let error = wasm_binary(input, b"(module)", false).expect_err("no text");
        assert!(error.to_string().contains("--no-translate-wat"), "{error}");
    }

    #[test]
    fn the_binary_is_the_runtimes() {
        let text = b"(module (func (export \"f\")))";
        let ours = wasm_binary(Path::new("f.wat"), text, true).expect("ours");
        let runtime = lucet_runtime::compile::wasm_binary(text, true).expect("runtime");
        assert_eq!(ours, runtime);
    }
}
