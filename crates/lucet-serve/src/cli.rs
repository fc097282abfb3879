//! The command-line definition of `lucet-serve`: its flags, help text and
//! the sections after the options.
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Responses of the server itself",
        "  503   --max-concurrency requests are running (answered at once)
  504   the app ran past --timeout
  500   the app trapped, went past --max-heap-size, or set no response",
    ),
    (
        "Exit status",
        "  0     stopped by SIGTERM or SIGINT, in-flight requests drained
  2     usage error
  1     refused to start (no trusted key, an artifact that does not verify or
        is not a wasi:http/proxy component, an address in use)",
    ),
    (
        "Environment",
        "\
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when no flag is given.",
    ),
    (
        "Examples",
        "  lucet-serve --signature-pk lucet.pub app.so
  lucet-serve --listen 0.0.0.0:8080 --timeout 2s --signature-pk lucet.pub app.so",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// Headings that group the options in `--help`.
const TRUST: &str = "Trust";
const LIMITS: &str = "Limits";

/// Serve a signed wasi:http/proxy component: every artifact verified first,
/// one fresh pooled instance per request.
#[derive(Parser, Debug)]
#[command(name = "lucet-serve", version = lucet_runtime::version_details(), after_help = after_help())]
pub struct Args {
    /// The component artifact to serve, as made by lucetc.
    #[arg(value_name = "APP")]
    pub app: PathBuf,

    /// Address to listen on (port 0 picks a free port; the address bound is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// The trusted keys: `--signature-pk`, or `LUCET_SIGNATURE_PK`.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: lucet_cli::TrustedKeys,

    /// INSECURE, for local development only: serve an artifact WITHOUT verifying
    /// its signature when no key is given. Whoever can write the file controls
    /// the code that runs.
    #[arg(long, help_heading = TRUST, conflicts_with_all = ["require_source_key", "min_timestamp", "expect_name"])]
    pub allow_unverified: bool,

    /// The load policy: `--require-source-key`, `--min-timestamp`, `--expect-name`.
    #[command(flatten, next_help_heading = TRUST)]
    pub policy: lucet_cli::PolicyFlags,

    /// Wall-clock time a request may run (e.g. 500ms, 10s); past it the instance is
    /// stopped and the client gets 504.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration, default_value = "10s", help_heading = LIMITS)]
    pub timeout: Duration,

    /// Linear memory each instance may have, all its memories together (e.g. 64M).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "256M", help_heading = LIMITS)]
    pub max_heap_size: u64,

    /// Requests served at once (and instances reserved in the pool); one more is
    /// answered 503 at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = LIMITS)]
    pub max_concurrency: u32,

    /// On SIGTERM or SIGINT, how long in-flight requests may still run before the
    /// server exits anyway.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration, default_value = "10s", help_heading = LIMITS)]
    pub shutdown_timeout: Duration,

    /// Refuse artifacts whose engine image is larger than this, before reading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G", help_heading = LIMITS)]
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
