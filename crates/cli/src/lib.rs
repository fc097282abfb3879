//! What the three tools share on the command line, defined once (as
//! wasmtime's CLI shares its flags): the verifying `--signature-pk` option
//! with its `LUCET_SIGNATURE_PK` fallback, the help sections after the
//! options, and the one exit path that prints an error as one line.
//!
//! Nothing here does the work of a tool: the libraries do.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub type Sections = &'static [(&'static str, &'static str)];

/// `sections` as `--help` prints them after the options.
pub fn after_help(sections: Sections) -> String {
    sections
        .iter()
        .map(|(heading, body)| format!("{heading}:\n{body}"))
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// The keys a verifying tool trusts (`lucet-wasi`, `lucet-objdump`):
/// `--signature-pk`, repeatable, or `LUCET_SIGNATURE_PK` when no flag is
/// given.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TrustedKeys {
    /// Verify the artifact's embedded signature against this public key
    /// (minisign or rsign2 format) first, and refuse the artifact otherwise.
    /// Repeatable: any of the keys. LUCET_SIGNATURE_PK (colon-separated
    /// paths) is used when no flag is given.
    #[arg(
        long = "signature-pk",
        value_name = "PATH",
        env = "LUCET_SIGNATURE_PK",
        value_delimiter = ':'
    )]
    pub signature_pk: Vec<PathBuf>,
}

/// The one exit path of a tool: `Ok(status)` exits with it; an error is
/// printed as one line, `TOOL: error: causes...`, and exits 1. Standard
/// output is flushed first, so that what the tool (or its guest) wrote
/// leaves before the process ends.
pub fn exit(tool: &str, result: anyhow::Result<u8>) -> ExitCode {
    let status = match result {
        Ok(status) => status,
        Err(error) => {
            let _ = std::io::stdout().flush();
            eprintln!("{tool}: {error:#}");
            1
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_printed_under_their_headings() {
        let text = after_help(&[("Examples", "  tool a"), ("Exit status", "  0 ok")]);
        assert_eq!(text, "Examples:\n  tool a\n\nExit status:\n  0 ok");
    }
}
