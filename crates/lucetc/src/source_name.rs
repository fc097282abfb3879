//! Binding a source signature to the file it was made for.
//!
//! minisign and rsign2 write `timestamp:<secs>\tfile:<name>` as the default
//! trusted comment. The comment is signed, but the name in it was never
//! compared with the file being verified, so a `.minisig` made for
//! `evil.wasm` verified `good.wasm` once both were swapped. The name is now
//! checked wherever the comment carries one; a source renamed after signing
//! needs `--ignore-source-name`, and a signature without a `file:` field is
//! refused only with `--require-source-name` (a custom trusted comment is a
//! publisher's choice, and refusing it by default would break them).

use std::path::Path;

use anyhow::{Result, bail};

/// How strictly the source signature's `file:` must match the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceNameCheck {
    /// Compare when the trusted comment has a `file:` field.
    WhenPresent,
    /// A `file:` field naming the input is required.
    Required,
    /// Never compare.
    Ignored,
}

/// The `file:` value of a minisign trusted comment (tab-separated
/// `key:value` fields), if it has one.
pub fn file_field(trusted_comment: &str) -> Option<&str> {
    trusted_comment
        .split('\t')
        .find_map(|field| field.strip_prefix("file:"))
}

/// Checks that the verified `trusted_comment` names `input`'s file.
pub fn check(input: &Path, trusted_comment: &str, mode: SourceNameCheck) -> Result<()> {
    if mode == SourceNameCheck::Ignored {
        return Ok(());
    }
    let input_name = input
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    // minisign writes the file's base name, rsign2 the path it was given:
    // the base names are compared.
    let signed_name =
        file_field(trusted_comment).map(|value| value.rsplit('/').next().unwrap_or(value));
    match signed_name {
        Some(signed_for) if signed_for == input_name => Ok(()),
        Some(signed_for) => bail!(
            "source signature was made for `{}`, not `{input_name}` (a signature swapped from another file?); pass --ignore-source-name if the file was renamed after signing",
            lucet_signature::escape_for_display(signed_for)
        ),
        None if mode == SourceNameCheck::Required => bail!(
            "source signature's trusted comment names no file (no `file:` field) and --require-source-name is given; sign with minisign or rsign's default trusted comment"
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINISIGN: &str = "timestamp:1700000000\tfile:good.wasm\thashed";

    #[test]
    fn the_file_field_is_found_among_others() {
        assert_eq!(file_field(MINISIGN), Some("good.wasm"));
        assert_eq!(file_field("timestamp:1\tfile:a b.wasm"), Some("a b.wasm"));
        assert_eq!(file_field("published by us"), None);
        assert_eq!(file_field("profile:x"), None);
    }

    #[test]
    fn a_signature_for_another_file_is_refused() {
        let good = Path::new("dir/good.wasm");
        let evil = Path::new("dir/evil.wasm");
        for mode in [SourceNameCheck::WhenPresent, SourceNameCheck::Required] {
            assert!(check(good, MINISIGN, mode).is_ok());
            let error = check(evil, MINISIGN, mode).expect_err("swapped");
            assert!(
                error.to_string().contains("made for `good.wasm`"),
                "{error}"
            );
        }
        assert!(check(evil, MINISIGN, SourceNameCheck::Ignored).is_ok());
    }

    #[test]
    fn rsign_paths_compare_by_base_name() {
        let comment = "timestamp:1	file:build/out/good.wasm	prehashed";
        let mode = SourceNameCheck::WhenPresent;
        assert!(check(Path::new("good.wasm"), comment, mode).is_ok());
        assert!(check(Path::new("other/evil.wasm"), comment, mode).is_err());
    }

    #[test]
    fn a_comment_without_a_file_is_refused_only_when_required() {
        let input = Path::new("app.wasm");
        assert!(check(input, "release 1.2", SourceNameCheck::WhenPresent).is_ok());
        assert!(check(input, "release 1.2", SourceNameCheck::Required).is_err());
    }
}
