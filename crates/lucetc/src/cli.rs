//! The command-line definition of `lucetc`: its flags, help text and the
//! sections after the options.
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O or touches keys.

use std::path::PathBuf;

use clap::Parser;
use lucet_runtime::{OptLevel, TargetCpu};

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Output",
        "\
The output is a wasmtime native image (an ELF relocatable object) followed by
lucet's signature or metadata block. It is named .so by Lucet habit but it is
NOT a shared library: run it with lucet-wasi, never dlopen it.",
    ),
    (
        "Keys",
        "\
--signature-pk names the key that verifies INPUT.minisig when compiling, and the
key that verifies ARTIFACT with --resign and --verify-rebuild. A secret key is
password-protected unless its path is prefixed with raw:, which makes and opens
an unencrypted key for automation. Passwords are asked without echo on a
terminal; otherwise one line per prompt is read from standard input.",
    ),
    (
        "Environment",
        "\
SOURCE_DATE_EPOCH sets the artifact's timestamp (Unix seconds), so builds are
reproducible byte for byte.
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when no flag is given (except with --signature-keygen, which writes the flag's
path).",
    ),
    (
        "Examples",
        "  lucetc hello.wat -o hello.so
  lucetc --signature-keygen --signature-sk lucet.key --signature-pk lucet.pub
  lucetc app.wasm --signature-pk publisher.pub --signature-sk lucet.key -o app.so
  lucetc app.wasm --target aarch64-unknown-linux-gnu --target-cpu baseline -o app-arm64.so
  lucetc app.wasm --name billing --signature-pk publisher.pub --signature-sk lucet.key
  lucetc --resign app.so --signature-pk old.pub --signature-sk new.key
  lucetc --verify-rebuild app.so app.wasm --signature-pk lucet.pub",
    ),
    (
        "Exit status",
        "  0   compiled (or keys written, re-signed, rebuild matched)
  1   refused or failed
  2   usage error",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// Compile WebAssembly (.wasm or .wat) ahead of time to a native lucet artifact.
#[derive(Parser, Debug)]
#[command(name = "lucetc", version = lucet_runtime::version_details(), after_help = after_help())]
pub struct Args {
    /// WebAssembly module to compile: binary or text, detected by content.
    #[arg(value_name = "INPUT", required_unless_present_any = ["signature_keygen", "resign"])]
    pub input: Option<PathBuf>,

    /// Where to write the artifact [default: INPUT's stem + .so, beside INPUT].
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,

    /// Optimisation level: 0|1|2 or none|speed|speed_and_size.
    #[arg(long, value_name = "LEVEL", default_value = "speed_and_size")]
    pub opt_level: OptLevel,

    /// Target triple to compile for [default: this host].
    #[arg(long, value_name = "TRIPLE")]
    pub target: Option<String>,

    /// CPU features to start from: `native` (this host's) or `baseline` (portable).
    #[arg(long, value_name = "CPU", default_value = "native")]
    pub target_cpu: TargetCpu,

    /// Adjust CPU features: +NAME or -NAME, comma-separated or repeated (e.g. +avx2,-bmi2).
    #[arg(
        long,
        value_name = "+F,-F",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    pub target_feature: Vec<String>,

    /// Address space reserved per linear memory (e.g. 4G); wasmtime's memory reservation.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size)]
    pub reserved_size: Option<u64>,

    /// Guard region after each linear memory (e.g. 32M).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size)]
    pub guard_size: Option<u64>,

    /// Lucet's flag; not supported (wasmtime reserves one size): use --reserved-size.
    #[arg(long, value_name = "SIZE", hide = true)]
    pub min_reserved_size: Option<String>,

    /// Lucet's flag; not supported (wasmtime reserves one size): use --reserved-size.
    #[arg(long, value_name = "SIZE", hide = true)]
    pub max_reserved_size: Option<String>,

    /// Compile without epoch interruption: faster code that lucet-wasi --timeout cannot stop.
    #[arg(long)]
    pub no_interruption: bool,

    /// Refuse WebAssembly text: accept only binary modules.
    #[arg(long)]
    pub no_translate_wat: bool,

    /// Refuse a source (INPUT) larger than this, before reading it (e.g. 1G).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "256M")]
    pub max_input_size: u64,

    /// Compile only if INPUT.minisig verifies against this public key. Repeatable:
    /// any of the keys; LUCET_SIGNATURE_PK (colon-separated paths) is used when
    /// no flag is given. With --signature-keygen: where to write the public key.
    #[arg(long = "signature-pk", value_name = "PATH")]
    pub signature_pk: Vec<PathBuf>,

    /// Sign the artifact with this secret key (prefix raw: for a key without a
    /// password). With --signature-keygen: where to write the secret key.
    #[arg(long = "signature-sk", value_name = "[raw:]PATH")]
    pub signature_sk: Option<String>,

    /// Create a key pair at --signature-sk and --signature-pk, then exit.
    #[arg(long, requires_all = ["signature_sk"])]
    pub signature_keygen: bool,

    /// Lucet's flag: verify the source (implied by --signature-pk, an error without it).
    #[arg(long)]
    pub signature_verify: bool,

    /// Lucet's flag: sign the artifact (implied by --signature-sk, an error without it).
    #[arg(long)]
    pub signature_create: bool,

    /// Accept legacy (non-prehashed) source signatures, such as Lucet-era ones.
    #[arg(long)]
    pub allow_legacy_signatures: bool,

    /// With --signature-keygen: overwrite existing key files.
    #[arg(long)]
    pub force: bool,

    /// The module's name, recorded in the artifact's signed metadata: what the
    /// signature is for (runners can require it with --expect-name)
    /// [default: INPUT's file stem].
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,

    /// Refuse a source signature whose trusted comment does not name INPUT's
    /// file (`file:NAME`, as minisign and rsign write it). Without this flag
    /// the name is checked whenever the trusted comment has a `file:` field.
    #[arg(long, conflicts_with = "ignore_source_name")]
    pub require_source_name: bool,

    /// Do not compare the source signature's `file:` with INPUT's file name
    /// (for a source renamed after it was signed).
    #[arg(long)]
    pub ignore_source_name: bool,

    /// Largest engine image read from ARTIFACT with --resign or --verify-rebuild.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G")]
    pub max_artifact_size: u64,

    /// Add `comment=TEXT` to the artifact's (signed) metadata.
    #[arg(long, value_name = "TEXT")]
    pub signature_comment: Option<String>,

    /// Re-sign ARTIFACT with --signature-sk without recompiling (key rotation,
    /// offline signing); verifies its old signature against --signature-pk first.
    /// Writes to -o, or replaces ARTIFACT.
    #[arg(long, value_name = "ARTIFACT", conflicts_with_all = ["signature_keygen", "verify_rebuild", "input"])]
    pub resign: Option<PathBuf>,

    /// Recompile INPUT with the settings recorded in ARTIFACT and compare the
    /// images byte for byte; --signature-pk verifies ARTIFACT's metadata first.
    #[arg(long, value_name = "ARTIFACT", conflicts_with = "signature_keygen")]
    pub verify_rebuild: Option<PathBuf>,

    /// With --resign or --verify-rebuild and no --signature-pk: proceed on an
    /// unverified artifact.
    #[arg(long)]
    pub allow_unverified: bool,

    /// Tests only: derive new key passwords with a trivially cheap scrypt cost.
    #[arg(long, hide = true)]
    pub insecure_cheap_kdf: bool,
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
