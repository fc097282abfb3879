//! Text handling shared by the line-based formats: splitting lines strictly,
//! validating comments, and escaping untrusted text for display.

use crate::constants::{
    MAX_UNTRUSTED_COMMENT_LEN, TRUSTED_COMMENT_PREFIX, UNTRUSTED_COMMENT_PREFIX,
};
use crate::error::{CommentKind, Error, ObjectKind, Result};

/// Refuses an `input` longer than `max`, the longest valid `kind` object,
/// before anything else looks at it.
pub(crate) fn refuse_oversized(input: &[u8], kind: ObjectKind, max: usize) -> Result<()> {
    if input.len() > max {
        return Err(Error::InputTooLarge {
            kind,
            len: input.len(),
            max,
        });
    }
    Ok(())
}

/// Splits a key box, public or secret: an untrusted comment on line 1,
/// checked and then ignored (nothing authenticates it), and the base64 key on
/// line 2, which is returned.
pub(crate) fn split_key_box(input: &[u8], kind: ObjectKind) -> Result<&[u8]> {
    let [comment, key] = split_lines::<2>(input, kind)?;
    parse_comment_line(
        comment,
        1,
        kind,
        CommentKind::Untrusted,
        MAX_UNTRUSTED_COMMENT_LEN,
    )?;
    Ok(key)
}

/// Splits `input` into exactly `N` lines.
///
/// Lines end in LF or CRLF; the last line may lack a terminator. A CR
/// anywhere else is refused, as is anything after the `N`th line's
/// terminator. minisign itself is laxer (it trims CRs and ignores trailing
/// lines); we are strict so that one file has one meaning.
pub(crate) fn split_lines<const N: usize>(input: &[u8], kind: ObjectKind) -> Result<[&[u8]; N]> {
    let mut lines: [&[u8]; N] = [&[]; N];
    let mut rest = input;
    for (index, slot) in lines.iter_mut().enumerate() {
        let line_number = index + 1;
        if rest.is_empty() {
            return Err(Error::MissingLine {
                kind,
                line: line_number,
            });
        }
        let (line, after) = match rest.iter().position(|&b| b == b'\n') {
            Some(newline) => {
                let (line, with_newline) = rest.split_at_checked(newline).unwrap_or((rest, &[]));
                // Only a CR directly before the LF is part of the terminator.
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                (line, with_newline.get(1..).unwrap_or_default())
            }
            // The last line may lack a terminator; a CR at its end is then a
            // stray CR, caught below.
            None => (rest, &[][..]),
        };
        if line.contains(&b'\r') {
            return Err(Error::StrayCarriageReturn {
                kind,
                line: line_number,
            });
        }
        *slot = line;
        rest = after;
    }
    if !rest.is_empty() {
        return Err(Error::TrailingData { kind, lines: N });
    }
    Ok(lines)
}

/// Whether anything follows the first line terminator of `input`. Used to
/// tell a bare one-line public key from a two-line box.
pub(crate) fn has_more_than_one_line(input: &[u8]) -> bool {
    match input.iter().position(|&b| b == b'\n') {
        Some(newline) => input.len() > newline + 1,
        None => false,
    }
}

/// Why a comment is not acceptable.
pub(crate) enum CommentProblem {
    TooLong { len: usize, max: usize },
    Control { offset: usize, byte: u8 },
    Utf8 { offset: usize },
}

impl CommentProblem {
    /// Turns the problem into an error about `comment` of `kind`.
    pub(crate) fn into_error(self, kind: ObjectKind, comment: CommentKind) -> Error {
        match self {
            CommentProblem::TooLong { len, max } => Error::CommentTooLong {
                kind,
                comment,
                len,
                max,
            },
            CommentProblem::Control { offset, byte } => Error::ControlCharacter {
                kind,
                comment,
                offset,
                byte,
            },
            CommentProblem::Utf8 { offset } => Error::InvalidUtf8 {
                kind,
                comment,
                offset,
            },
        }
    }
}

/// Checks a comment: at most `max` bytes, UTF-8, and no control character
/// (C0 or DEL) except TAB. TAB is allowed because minisign's own default
/// trusted comment is tab-separated; everything else could break the line
/// structure or drive a terminal.
///
/// The length is checked first so that nothing else is examined (or
/// allocated) for an oversized comment.
pub(crate) fn check_comment(bytes: &[u8], max: usize) -> Result<&str, CommentProblem> {
    if bytes.len() > max {
        return Err(CommentProblem::TooLong {
            len: bytes.len(),
            max,
        });
    }
    if let Some(offset) = bytes
        .iter()
        .position(|&b| (b < 0x20 && b != b'\t') || b == 0x7f)
    {
        let byte = bytes.get(offset).copied().unwrap_or_default();
        return Err(CommentProblem::Control { offset, byte });
    }
    std::str::from_utf8(bytes).map_err(|e| CommentProblem::Utf8 {
        offset: e.valid_up_to(),
    })
}

/// Checks a comment line (`line_number` of a `kind` object): it must start
/// with `prefix`, and the rest must pass [`check_comment`] with at most
/// `max` bytes. Returns the comment without its prefix, never trimmed:
/// trusted comments are signed byte for byte.
pub(crate) fn parse_comment_line(
    line: &[u8],
    line_number: usize,
    kind: ObjectKind,
    comment: CommentKind,
    max: usize,
) -> Result<&str> {
    let prefix = match comment {
        CommentKind::Untrusted => UNTRUSTED_COMMENT_PREFIX,
        CommentKind::Trusted => TRUSTED_COMMENT_PREFIX,
    };
    let text = line
        .strip_prefix(prefix.as_bytes())
        .ok_or(Error::MissingPrefix {
            kind,
            line: line_number,
            expected: prefix,
        })?;
    check_comment(text, max).map_err(|problem| problem.into_error(kind, comment))
}

/// Whether `c` must be escaped before reaching a terminal: every control
/// character (C0, DEL and the C1 range U+0080–U+009F, which some terminals
/// interpret as escape sequences) and the Unicode bidirectional formatting
/// characters, which can make displayed text read differently from what it
/// is.
fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

/// Renders untrusted text (comments, file names from signatures) safe to
/// print: control characters become `\t`, `\n`, `\r` or `\u{..}` escapes,
/// and a backslash is doubled so that an escape in the output always means
/// an escaped character in the input.
///
/// ```
/// use lucet_signature::escape_for_display;
/// assert_eq!(escape_for_display("a\tb\x1b[31m"), "a\\tb\\u{1b}[31m");
/// ```
pub fn escape_for_display(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn escapes_ansi_escape_sequences() {
        assert_eq!(
            escape_for_display("\x1b[2J\x1b]0;title\x07ok"),
            "\\u{1b}[2J\\u{1b}]0;title\\u{7}ok"
        );
    }

    #[test]
    fn escapes_line_breaks_and_tabs() {
        assert_eq!(escape_for_display("a\nb\r\tc"), "a\\nb\\r\\tc");
    }

    #[test]
    fn escapes_c1_controls_and_del() {
        // U+009B is the single-character CSI some terminals honour.
        assert_eq!(
            escape_for_display("\u{9b}31m\u{85}\u{7f}"),
            "\\u{9b}31m\\u{85}\\u{7f}"
        );
    }

    #[test]
    fn escapes_bidi_overrides_and_backslashes() {
        assert_eq!(escape_for_display("a\u{202e}b"), "a\\u{202e}b");
        assert_eq!(escape_for_display("c:\\n"), "c:\\\\n");
    }

    #[test]
    fn leaves_ordinary_text_alone() {
        let text = "timestamp:1700000000 file:données.wasm ✓";
        assert_eq!(escape_for_display(text), text);
    }

    #[test]
    fn split_lines_accepts_lf_crlf_and_missing_final_terminator() {
        let lines = split_lines::<2>(b"a\r\nb", ObjectKind::PublicKey).unwrap();
        assert_eq!(lines, [&b"a"[..], &b"b"[..]]);
        let lines = split_lines::<2>(b"a\nb\r\n", ObjectKind::PublicKey).unwrap();
        assert_eq!(lines, [&b"a"[..], &b"b"[..]]);
        let lines = split_lines::<2>(b"a\n\n", ObjectKind::PublicKey).unwrap();
        assert_eq!(lines, [&b"a"[..], &b""[..]]);
    }

    #[test]
    fn split_lines_refuses_stray_cr_trailing_data_and_missing_lines() {
        /// Why two lines are refused in `input`, and the line number the
        /// error names (the number of lines, for trailing data).
        fn refusal(input: &[u8]) -> (&'static str, usize) {
            match split_lines::<2>(input, ObjectKind::Signature) {
                Err(Error::StrayCarriageReturn { line, .. }) => ("stray CR", line),
                Err(Error::TrailingData { lines, .. }) => ("trailing data", lines),
                Err(Error::MissingLine { line, .. }) => ("missing line", line),
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(refusal(b"a\rb\nc\n"), ("stray CR", 1));
        assert_eq!(refusal(b"a\nb\r"), ("stray CR", 2));
        assert_eq!(refusal(b"a\nb\n\n"), ("trailing data", 2));
        assert_eq!(refusal(b"a\n"), ("missing line", 2));
        assert_eq!(refusal(b""), ("missing line", 1));
    }

    #[test]
    fn check_comment_rules() {
        assert!(check_comment(b"tab\tok", 10).is_ok());
        assert!(matches!(
            check_comment(b"0123456789x", 10),
            Err(CommentProblem::TooLong { len: 11, max: 10 })
        ));
        assert!(matches!(
            check_comment(b"a\x7f", 10),
            Err(CommentProblem::Control {
                offset: 1,
                byte: 0x7f
            })
        ));
        assert!(matches!(
            check_comment(b"ab\xff", 10),
            Err(CommentProblem::Utf8 { offset: 2 })
        ));
    }
}
