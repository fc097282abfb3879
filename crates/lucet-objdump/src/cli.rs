//! The command-line definition of `lucet-objdump`: its flags, help text and
//! the sections after the options.
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O.

use std::path::PathBuf;

use clap::Parser;

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "JSON",
        "\
With --json: one object with keys artifact, signed, verified, key_id, metadata
(an object of the metadata fields, or null), image_size, image_blake2b, imports and
exports (arrays of {module, name, type} / {name, type}, or null when not listed;
a component's imports are {name, type}, named by interface, typed by item kind).
Without --signature-pk, verified is false and nothing in the object is authenticated.",
    ),
    (
        "Environment",
        "\
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when no flag is given.",
    ),
    (
        "Examples",
        "  lucet-objdump --signature-pk lucet.pub app.so          # verify-only gate
  lucet-objdump --json --signature-pk lucet.pub app.so
  lucet-objdump --extract-signature out/ app.so && minisign -Vm out/image.bin -p lucet.pub",
    ),
    (
        "Exit status",
        "  0   shown (and, with --signature-pk, verified)
  1   refused or unreadable
  2   usage error",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// Inspect a lucet artifact.
#[derive(Parser, Debug)]
#[command(name = "lucet-objdump", version = lucet_runtime::version_details(), after_help = after_help())]
pub struct Args {
    /// Artifact to inspect.
    #[arg(value_name = "ARTIFACT")]
    pub artifact: PathBuf,

    /// The trusted keys: `--signature-pk`, or `LUCET_SIGNATURE_PK`.
    #[command(flatten)]
    pub trust: lucet_cli::TrustedKeys,

    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,

    /// List imports and exports of an artifact that was not verified (labelled as such).
    #[arg(long)]
    pub allow_unverified: bool,

    /// Write DIR/image.bin and DIR/image.bin.minisig, for stock minisign or rsign2 to verify.
    #[arg(long, value_name = "DIR")]
    pub extract_signature: Option<PathBuf>,

    /// Refuse artifacts whose engine image is larger than this, before reading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G")]
    pub max_artifact_size: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
