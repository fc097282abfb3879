//! The command-line definition of `lucet-wasi`: its flags, help text and the
//! sections after the options (the exit statuses among them).
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Exit status",
        "  0     the entry point returned
  N     the guest called proc_exit(N), N from 0 to 125
  134   the guest trapped (the trap and a wasm backtrace are printed)
  124   --timeout was reached
  2     usage error
  1     any host-side refusal or failure (file, format, engine mismatch, signature),
        or proc_exit(N) with N of 126 or more, or negative (a line names N)

A guest can exit 1 or 124 itself, and print to stderr, but it cannot make
lucet-wasi exit 134 or 126 and above: tell a trap apart by 134.",
    ),
    (
        "Environment",
        "\
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when no flag is given. The guest sees none of the host's environment unless
passed with --env.",
    ),
    (
        "Examples",
        "  lucet-wasi --signature-pk lucet.pub hello.so
  lucet-wasi --signature-pk lucet.pub --require-source-key 40FCCEDA8519379D app.so
  lucet-wasi --dir data:/data --env LANG=C --timeout 2s app.so -- --verbose input.txt",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// Run a lucet artifact under WASI (preview 1).
#[derive(Parser, Debug)]
#[command(name = "lucet-wasi", version = lucet_runtime::version_details(), after_help = after_help())]
pub struct Args {
    /// Artifact to run, as made by lucetc.
    #[arg(value_name = "MODULE")]
    pub module: PathBuf,

    /// Arguments for the guest (put them after `--` if they start with `-`).
    #[arg(
        value_name = "ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub args: Vec<String>,

    /// Preopen host directory HOST as GUEST in the guest (GUEST defaults to HOST). Repeatable.
    #[arg(long = "dir", value_name = "HOST[:GUEST]")]
    pub dirs: Vec<String>,

    /// Set NAME=VALUE in the guest's environment, or pass the host's NAME through. Repeatable.
    /// Nothing else of the host environment reaches the guest.
    #[arg(long = "env", value_name = "NAME[=VALUE]")]
    pub envs: Vec<String>,

    /// Exported function to call.
    #[arg(long, value_name = "NAME", default_value = "_start")]
    pub entrypoint: String,

    /// Linear memory the guest may have, all its memories together (e.g. 64M); growth
    /// beyond it fails in the guest, and a module whose initial memories exceed it does
    /// not start.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size)]
    pub max_heap_size: Option<u64>,

    /// Table elements the guest may have, all its tables together (a count; K, M and G
    /// suffixes are binary multiples); growth beyond it fails in the guest, and a module
    /// whose initial tables exceed it does not start.
    #[arg(
        long,
        value_name = "COUNT",
        value_parser = lucet_runtime::parse_size,
        default_value = "1M"
    )]
    pub max_table_elements: u64,

    /// Maximum wasm stack (e.g. 8M); deeper recursion traps.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size)]
    pub stack_size: Option<u64>,

    /// Stop the guest after this long (e.g. 500ms, 2s, 1m). Does not interrupt a
    /// blocking host call such as a read of stdin or a sleep.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration)]
    pub timeout: Option<Duration>,

    /// The trusted keys: `--signature-pk`, or `LUCET_SIGNATURE_PK`.
    #[command(flatten)]
    pub trust: lucet_cli::TrustedKeys,

    /// Policy: run only artifacts whose source lucetc verified against this key
    /// (16 hex digits, as minisign prints key ids). Repeatable: any of. Needs --signature-pk.
    #[arg(long = "require-source-key", value_name = "KEYID")]
    pub require_source_key: Vec<lucet_signature::KeyId>,

    /// Policy: refuse artifacts made before this Unix time (simple anti-rollback).
    /// Needs --signature-pk.
    #[arg(long, value_name = "UNIX_TIME")]
    pub min_timestamp: Option<u64>,

    /// Policy: run only an artifact signed as this module name (lucetc --name;
    /// by default the source's file stem), so a validly signed artifact cannot
    /// stand in for another. Needs --signature-pk.
    #[arg(long, value_name = "NAME")]
    pub expect_name: Option<String>,

    /// Refuse artifacts whose engine image is larger than this, before reading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G")]
    pub max_artifact_size: u64,

    /// Lucet's flag, accepted for compatibility: verification happens whenever
    /// --signature-pk is given, and this flag without a key is an error.
    #[arg(long)]
    pub signature_verify: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn the_table_limit_defaults_to_the_runtimes() {
        let args = Args::try_parse_from(["lucet-wasi", "app.so"]).expect("parse");
        assert_eq!(
            args.max_table_elements,
            lucet_runtime::DEFAULT_MAX_TABLE_ELEMENTS
        );
    }
}
