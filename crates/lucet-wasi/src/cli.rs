//! The command-line definition of `lucet-wasi`: its flags, help text and the
//! sections after the options (the exit statuses among them).
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O.

use std::path::Path;
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
  lucet-wasi --dir data:/data --env LANG=C --timeout 2s app.so --verbose input.txt
  lucet-wasi --invoke add math.so 2 40",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// Headings that group the options in `--help`.
const GUEST: &str = "Guest";
const TRUST: &str = "Trust";
const LIMITS: &str = "Limits";

/// Run a lucet artifact under WASI: a module under preview 1, a component
/// under WASI 0.2.
///
/// Options come before MODULE: everything after it is the guest's, as with
/// `wasmtime run` (`lucet-wasi app.so --env X=1` passes `--env X=1` to the
/// guest).
#[derive(Parser, Debug)]
#[command(name = "lucet-wasi", version = lucet_runtime::version_details(), after_help = after_help())]
pub struct Args {
    /// The artifact to run, as made by lucetc, then the guest's arguments.
    /// Everything after MODULE is the guest's, flags included; a `--` right
    /// after MODULE is dropped.
    #[arg(
        value_names = ["MODULE", "ARGS"],
        required = true,
        // Everything after the first value, flags too (not before it: an
        // unknown flag before MODULE stays a usage error).
        trailing_var_arg = true,
        num_args = 1..
    )]
    pub module_and_args: Vec<String>,

    /// Preopen host directory HOST as GUEST in the guest (GUEST defaults to HOST). Repeatable.
    #[arg(long = "dir", value_name = "HOST[:GUEST]", help_heading = GUEST)]
    pub dirs: Vec<String>,

    /// Set NAME=VALUE in the guest's environment, or pass the host's NAME through. Repeatable.
    /// Nothing else of the host environment reaches the guest, unless --inherit-env.
    #[arg(long = "env", value_name = "NAME[=VALUE]", help_heading = GUEST)]
    pub envs: Vec<String>,

    /// Pass the host's whole environment to the guest (--env still adds or overrides).
    #[arg(long, help_heading = GUEST)]
    pub inherit_env: bool,

    /// The guest's argv[0] (default: MODULE's file name).
    #[arg(long, value_name = "NAME", help_heading = GUEST)]
    pub argv0: Option<String>,

    /// Exported function to call (a module's; a component runs wasi:cli/run).
    #[arg(long, value_name = "NAME", default_value = "_start", help_heading = GUEST)]
    pub entrypoint: String,

    /// Call the module's exported function NAME with ARGS as its arguments
    /// (decimal integers, floats), and print its results, one per line, as
    /// `wasmtime run --invoke` does.
    #[arg(long, value_name = "NAME", conflicts_with = "entrypoint", help_heading = GUEST)]
    pub invoke: Option<String>,

    /// Linear memory the guest may have, all its memories together (e.g. 64M); growth
    /// beyond it fails in the guest, and a module whose initial memories exceed it does
    /// not start.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, help_heading = LIMITS)]
    pub max_heap_size: Option<u64>,

    /// Table elements the guest may have, all its tables together (a count; K, M and G
    /// suffixes are binary multiples); growth beyond it fails in the guest, and a module
    /// whose initial tables exceed it does not start.
    #[arg(
        long,
        value_name = "COUNT",
        value_parser = lucet_runtime::parse_size,
        default_value = "1M",
        help_heading = LIMITS
    )]
    pub max_table_elements: u64,

    /// Maximum wasm stack, 64K to 1G (e.g. 8M); deeper recursion traps.
    #[arg(long, value_name = "SIZE", value_parser = parse_stack_size, help_heading = LIMITS)]
    pub stack_size: Option<usize>,

    /// Stop the guest after this long (e.g. 500ms, 2s, 1m). Does not interrupt a
    /// blocking host call such as a read of stdin or a sleep.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration, help_heading = LIMITS)]
    pub timeout: Option<Duration>,

    /// The trusted keys: `--signature-pk`, or `LUCET_SIGNATURE_PK`.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: lucet_cli::TrustedKeys,

    /// Run an artifact without verifying it, when no key is configured,
    /// without the notice that says so on stderr.
    #[arg(long, help_heading = TRUST)]
    pub allow_unverified: bool,

    /// The load policy: `--require-source-key`, `--min-timestamp`, `--expect-name`.
    #[command(flatten, next_help_heading = TRUST)]
    pub policy: lucet_cli::PolicyFlags,

    /// `--policy FILE` and `--log-format`.
    #[command(flatten, next_help_heading = TRUST)]
    pub policy_file: lucet_cli::PolicyFileFlags,

    /// Refuse artifacts whose engine image is larger than this, before reading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G", help_heading = LIMITS)]
    pub max_artifact_size: u64,

    /// How a MODULE given as oci://REF is fetched.
    #[command(flatten, next_help_heading = TRUST)]
    pub registry: lucet_cli::RegistryFlags,

    /// Lucet's flag, accepted for compatibility: verification happens whenever
    /// --signature-pk is given, and this flag without a key is an error.
    #[arg(long, hide = true)]
    pub signature_verify: bool,
}

impl Args {
    /// The artifact to run.
    pub fn module(&self) -> &Path {
        Path::new(self.module_and_args.first().map_or("", String::as_str))
    }

    /// The guest's arguments after argv[0]: everything after MODULE, less a
    /// `--` right after it.
    pub fn guest_args(&self) -> &[String] {
        let rest = self.module_and_args.get(1..).unwrap_or_default();
        match rest.split_first() {
            Some((first, after)) if first == "--" => after,
            _ => rest,
        }
    }

    /// Combinations clap cannot express, as usage errors (exit status 2).
    pub fn check(&self) -> Result<(), clap::Error> {
        use clap::CommandFactory;
        if let Some(flag) = self.policy_file.conflict(&self.trust, &self.policy) {
            return Err(Args::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                lucet_cli::PolicyFileFlags::conflict_message(flag),
            ));
        }
        let no_key = self.trust.signature_pk.is_empty();
        let needs_key = if self.signature_verify {
            Some("--signature-verify")
        } else if self
            .module()
            .to_str()
            .is_some_and(|module| module.starts_with("oci://"))
        {
            Some("an oci:// MODULE")
        } else {
            self.policy.first_given()
        };
        match needs_key {
            Some(flag) if no_key => Err(Args::command().error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!(
                    "{flag} checks the artifact's signature and signed metadata: give --signature-pk KEY (or set LUCET_SIGNATURE_PK) too"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// A `--stack-size`: a size from 64 KiB to 1 GiB.
fn parse_stack_size(text: &str) -> Result<usize, String> {
    let size = lucet_runtime::parse_size(text).map_err(|error| error.to_string())?;
    usize::try_from(size)
        .ok()
        .filter(|size| (64 << 10..=1 << 30).contains(size))
        .ok_or_else(|| format!("{text} is outside 64K to 1G"))
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
