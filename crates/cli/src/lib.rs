//! What the three tools share on the command line, defined once (as
//! wasmtime's CLI shares its flags): the verifying `--signature-pk` option
//! with its `LUCET_SIGNATURE_PK` fallback, the help sections after the
//! options, and the one exit path that prints an error as one line.
//!
//! Nothing here does the work of a tool: the libraries do.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod trust;

pub use trust::{LogFormat, PolicyFileFlags, report_audit, trust};

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

/// The variable that names trusted public keys when no `--signature-pk` is
/// given, colon-separated like `PATH`.
pub const SIGNATURE_PK_ENV: &str = "LUCET_SIGNATURE_PK";

/// Parses a tool's command line, after refusing a [`SIGNATURE_PK_ENV`]
/// that is set but names no key: a usage error (status 2) in every tool,
/// rather than "no keys" (lucetc's own reading) in one and a missing
/// `--signature-pk` value (clap's `env`) in the others. A deployment that
/// meant to name its trusted keys and named none finds out at once.
pub fn parse<A: clap::Parser>() -> A {
    let names_no_key = std::env::var_os(SIGNATURE_PK_ENV)
        .is_some_and(|paths| std::env::split_paths(&paths).all(|p| p.as_os_str().is_empty()));
    if names_no_key {
        A::command()
            .error(
                clap::error::ErrorKind::InvalidValue,
                format!(
                    "{SIGNATURE_PK_ENV} is set but names no key: unset it, or set it to the \
                     public key files to trust (colon-separated)"
                ),
            )
            .exit();
    }
    A::parse()
}

/// The paths in [`SIGNATURE_PK_ENV`], for a tool that cannot let clap read
/// it: lucetc's `--signature-pk` also names where keygen writes a public key,
/// and a variable must never choose a file to write. Empty entries are
/// skipped; an unset variable gives no keys (one set but naming no key was
/// refused by [`parse`]).
pub fn signature_pk_from_env() -> Vec<PathBuf> {
    std::env::var_os(SIGNATURE_PK_ENV)
        .map(|paths| {
            std::env::split_paths(&paths)
                .filter(|path| !path.as_os_str().is_empty())
                .collect()
        })
        .unwrap_or_default()
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

/// How the tools reach OCI registries (`lucet-oci`, and the runners for
/// `oci://REF` artifacts).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct RegistryFlags {
    /// Reach this registry (HOST[:PORT]) over plain HTTP although it is not
    /// on this machine (registries on loopback always are). Repeatable.
    #[arg(long, value_name = "HOST[:PORT]", global = true)]
    pub insecure_registry: Vec<String>,
}

/// The load policy a verifying runner checks on an artifact's signed
/// metadata (`lucet-wasi`, `lucet-serve`): each flag needs a trusted key.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PolicyFlags {
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
}

impl PolicyFlags {
    /// The policy these flags ask for.
    pub fn policy(&self) -> lucet_artifact::Policy {
        lucet_artifact::Policy {
            expected_name: self.expect_name.clone(),
            required_source_keys: self.require_source_key.clone(),
            min_timestamp: self.min_timestamp,
            ..lucet_artifact::Policy::default()
        }
    }

    /// The first policy flag given, for a usage error when there is no key
    /// to check it with.
    pub fn first_given(&self) -> Option<&'static str> {
        if !self.require_source_key.is_empty() {
            Some("--require-source-key")
        } else if self.min_timestamp.is_some() {
            Some("--min-timestamp")
        } else if self.expect_name.is_some() {
            Some("--expect-name")
        } else {
            None
        }
    }
}

/// The one exit path of a tool: `Ok(status)` exits with it; an error is
/// printed as one line, `TOOL: error: causes...; advice`, and exits 1.
/// `advice` says what to do in this tool's terms (its flags): the libraries'
/// errors say what is wrong, not which flag of which tool would change it.
/// Standard output is flushed first, so that what the tool (or its guest)
/// wrote leaves before the process ends.
pub fn exit(
    tool: &str,
    result: anyhow::Result<u8>,
    advice: impl Fn(&anyhow::Error) -> Option<String>,
) -> ExitCode {
    let status = match result {
        Ok(status) => status,
        Err(error) => {
            let _ = std::io::stdout().flush();
            // Causes from wasmtime or the OS may span lines; the error is one.
            let message = format!("{error:#}").replace('\n', " ");
            match advice(&error) {
                Some(advice) => eprintln!("{tool}: {message}; {advice}"),
                None => eprintln!("{tool}: {message}"),
            }
            1
        }
    };
    let _ = std::io::stdout().flush();
    ExitCode::from(status)
}

/// The first error of type `E` in `error`'s chain of causes.
pub fn cause<E: std::error::Error + Send + Sync + 'static>(error: &anyhow::Error) -> Option<&E> {
    error.chain().find_map(|cause| cause.downcast_ref::<E>())
}

/// What to do about an error from reading or loading an artifact, in the
/// toolchain's flags; for the tools to extend with their own.
pub fn load_advice(error: &anyhow::Error) -> Option<String> {
    use lucet_runtime::Error;
    let artifact_error = match cause::<Error>(error) {
        Some(Error::Artifact(error)) => Some(error),
        Some(Error::MissingCpuFeatures { .. }) => {
            return Some("recompile with `lucetc --target-cpu baseline` or on this host".into());
        }
        Some(Error::SettingsMismatch { .. }) => {
            return Some(
                "recompile it with matching --reserved-size, --guard-size and --no-interruption"
                    .into(),
            );
        }
        _ => cause::<lucet_artifact::Error>(error),
    };
    matches!(artifact_error, Some(lucet_artifact::Error::NotSigned))
        .then(|| "sign it with `lucetc --signature-sk`".into())
}

/// No advice: the error says all there is.
pub fn no_advice(_: &anyhow::Error) -> Option<String> {
    None
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
