//! `lucetc`: compile WebAssembly ahead of time to a lucet artifact.
//!
//! With `--signature-pk`, compiles only sources whose `.minisig` verifies;
//! with `--signature-sk`, signs the artifact it writes.
#![forbid(unsafe_code)]

mod keys;
mod provenance;
mod source;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use lucet_runtime::compile::{CompileOptions, SourceProvenance};
use lucet_runtime::{EngineSettings, OptLevel, TargetCpu};
use lucet_signature::{KdfCost, Legacy};

use crate::keys::SecretKeyPath;

const EXAMPLES: &str = "\
The output is a wasmtime native image (an ELF relocatable object) followed by
lucet's signature or metadata block. It is named .so by Lucet habit but it is
NOT a shared library: run it with lucet-wasi, never dlopen it.

Examples:
  lucetc hello.wat -o hello.so
  lucetc --signature-keygen --signature-sk lucet.key --signature-pk lucet.pub
  lucetc app.wasm --signature-pk publisher.pub --signature-sk lucet.key -o app.so
  lucetc app.wasm --target aarch64-unknown-linux-gnu --target-cpu baseline -o app-arm64.so
  lucetc --resign app.so --signature-pk old.pub --signature-sk new.key
  lucetc --verify-rebuild app.so app.wasm --signature-pk lucet.pub

--signature-pk names the key that verifies INPUT.minisig when compiling, and the
key that verifies ARTIFACT with --resign and --verify-rebuild.

Exit status: 0 compiled (or keys written), 1 refused or failed, 2 usage error.";

/// Compile WebAssembly (.wasm or .wat) ahead of time to a native lucet artifact.
#[derive(Parser, Debug)]
#[command(name = "lucetc", version = version(), after_help = EXAMPLES)]
struct Args {
    /// WebAssembly module to compile: binary or text, detected by content.
    #[arg(value_name = "INPUT", required_unless_present_any = ["signature_keygen", "resign"])]
    input: Option<PathBuf>,

    /// Where to write the artifact [default: INPUT's stem + .so, beside INPUT].
    #[arg(short, long, value_name = "PATH")]
    output: Option<PathBuf>,

    /// Optimisation level: 0|1|2 or none|speed|speed_and_size.
    #[arg(long, value_name = "LEVEL", default_value = "speed_and_size")]
    opt_level: OptLevel,

    /// Target triple to compile for [default: this host].
    #[arg(long, value_name = "TRIPLE")]
    target: Option<String>,

    /// CPU features to start from: `native` (this host's) or `baseline` (portable).
    #[arg(long, value_name = "CPU", default_value = "native")]
    target_cpu: TargetCpu,

    /// Adjust CPU features: +NAME or -NAME, comma-separated or repeated (e.g. +avx2,-bmi2).
    #[arg(
        long,
        value_name = "+F,-F",
        value_delimiter = ',',
        allow_hyphen_values = true
    )]
    target_feature: Vec<String>,

    /// Address space reserved per linear memory (e.g. 4G); wasmtime's memory reservation.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size)]
    reserved_size: Option<u64>,

    /// Guard region after each linear memory (e.g. 32M).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size)]
    guard_size: Option<u64>,

    /// Lucet's flag; not supported (wasmtime reserves one size): use --reserved-size.
    #[arg(long, value_name = "SIZE", hide = true)]
    min_reserved_size: Option<String>,

    /// Lucet's flag; not supported (wasmtime reserves one size): use --reserved-size.
    #[arg(long, value_name = "SIZE", hide = true)]
    max_reserved_size: Option<String>,

    /// Compile without epoch interruption: faster code that lucet-wasi --timeout cannot stop.
    #[arg(long)]
    no_interruption: bool,

    /// Refuse WebAssembly text: accept only binary modules.
    #[arg(long)]
    no_translate_wat: bool,

    /// Compile only if INPUT.minisig verifies against this public key. Repeatable:
    /// any of the keys. With --signature-keygen: where to write the public key.
    #[arg(long = "signature-pk", value_name = "PATH")]
    signature_pk: Vec<PathBuf>,

    /// Sign the artifact with this secret key (prefix raw: for a key without a
    /// password). With --signature-keygen: where to write the secret key.
    #[arg(long = "signature-sk", value_name = "[raw:]PATH")]
    signature_sk: Option<String>,

    /// Create a key pair at --signature-sk and --signature-pk, then exit.
    #[arg(long, requires_all = ["signature_sk"])]
    signature_keygen: bool,

    /// Lucet's flag: verify the source (implied by --signature-pk, an error without it).
    #[arg(long)]
    signature_verify: bool,

    /// Lucet's flag: sign the artifact (implied by --signature-sk, an error without it).
    #[arg(long)]
    signature_create: bool,

    /// Accept legacy (non-prehashed) source signatures, such as Lucet-era ones.
    #[arg(long)]
    allow_legacy_signatures: bool,

    /// With --signature-keygen: overwrite existing key files.
    #[arg(long)]
    force: bool,

    /// Add `comment=TEXT` to the artifact's (signed) metadata.
    #[arg(long, value_name = "TEXT")]
    signature_comment: Option<String>,

    /// Re-sign ARTIFACT with --signature-sk without recompiling (key rotation,
    /// offline signing); verifies its old signature against --signature-pk first.
    /// Writes to -o, or replaces ARTIFACT.
    #[arg(long, value_name = "ARTIFACT", conflicts_with_all = ["signature_keygen", "verify_rebuild", "input"])]
    resign: Option<PathBuf>,

    /// Recompile INPUT with the settings recorded in ARTIFACT and compare the
    /// images byte for byte; --signature-pk verifies ARTIFACT's metadata first.
    #[arg(long, value_name = "ARTIFACT", conflicts_with = "signature_keygen")]
    verify_rebuild: Option<PathBuf>,

    /// With --resign or --verify-rebuild and no --signature-pk: proceed on an
    /// unverified artifact.
    #[arg(long)]
    allow_unverified: bool,

    /// Tests only: derive new key passwords with a trivially cheap scrypt cost.
    #[arg(long, hide = true)]
    insecure_cheap_kdf: bool,
}

fn version() -> String {
    lucet_runtime::version_line("lucetc")
        .trim_start_matches("lucetc ")
        .to_string()
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("lucetc: {error:#}");
            ExitCode::from(1)
        }
    }
}

fn run(args: Args) -> Result<()> {
    if args.signature_keygen {
        return keygen(&args);
    }
    if let Some(artifact) = &args.resign {
        let Some(secret) = args.signature_sk.as_deref() else {
            bail!("--resign needs --signature-sk KEY to sign with");
        };
        let output = args.output.as_deref().unwrap_or(artifact);
        let old = provenance::read_artifact(
            artifact,
            &args.signature_pk,
            args.allow_unverified,
            "re-sign",
        )?;
        let signer = keys::open_secret_key(&SecretKeyPath::parse(secret))?;
        return provenance::resign(old, &signer, output);
    }
    if let Some(artifact) = &args.verify_rebuild {
        let Some(input) = args.input.as_deref() else {
            bail!("--verify-rebuild ARTIFACT needs the INPUT to rebuild");
        };
        let recorded = provenance::read_artifact(
            artifact,
            &args.signature_pk,
            args.allow_unverified,
            "check",
        )?;
        return provenance::verify_rebuild(recorded, input, !args.no_translate_wat);
    }
    if args.signature_verify && args.signature_pk.is_empty() {
        bail!("--signature-verify needs --signature-pk KEY to verify the source against");
    }
    if args.signature_create && args.signature_sk.is_none() {
        bail!("--signature-create needs --signature-sk KEY to sign with");
    }
    if args.min_reserved_size.is_some() || args.max_reserved_size.is_some() {
        bail!(
            "--min-reserved-size/--max-reserved-size are Lucet's; wasmtime reserves one size per memory: use --reserved-size"
        );
    }
    let Some(input) = args.input.as_deref() else {
        bail!("no INPUT given: name the .wasm or .wat file to compile");
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("so"));

    // Every key is opened before compiling: a bad key or wrong password fails fast.
    let trusted = if args.signature_pk.is_empty() {
        None
    } else {
        Some(lucet_signature::read_public_keys(&args.signature_pk)?)
    };
    let signer = args
        .signature_sk
        .as_deref()
        .map(|text| keys::open_secret_key(&SecretKeyPath::parse(text)))
        .transpose()?;

    let legacy = if args.allow_legacy_signatures {
        Legacy::Allow
    } else {
        Legacy::Refuse
    };
    let source = source::read(input, trusted.as_ref(), legacy)?;
    let wasm = lucet_runtime::compile::wasm_binary(&source.bytes, !args.no_translate_wat)
        .with_context(|| input.display().to_string())?;

    let defaults = EngineSettings::default();
    let settings = EngineSettings {
        opt_level: args.opt_level,
        interruptible: !args.no_interruption,
        memory_reservation: args.reserved_size.unwrap_or(defaults.memory_reservation),
        memory_guard_size: args.guard_size.unwrap_or(defaults.memory_guard_size),
    };
    let options = CompileOptions {
        settings,
        target: args.target.clone(),
        target_cpu: args.target_cpu,
        target_features: args.target_feature.clone(),
    };
    let compiled = with_spinner(input, || lucet_runtime::compile::compile(&wasm, &options))
        .with_context(|| input.display().to_string())?;
    let provenance = SourceProvenance {
        prehash: source.prehash,
        signer: source.signer,
    };
    let artifact = lucet_runtime::compile::encode_artifact(
        &compiled,
        &settings,
        &provenance,
        timestamp()?,
        args.signature_comment.clone(),
        signer.as_ref(),
    )?;
    write_atomically(&output, &artifact)
}

fn keygen(args: &Args) -> Result<()> {
    if let Some(input) = &args.input {
        bail!(
            "--signature-keygen only makes keys; drop the input {}",
            input.display()
        );
    }
    let Some(secret) = args.signature_sk.as_deref() else {
        bail!("--signature-keygen needs --signature-sk FILE and --signature-pk FILE");
    };
    let [public] = args.signature_pk.as_slice() else {
        bail!(
            "--signature-keygen needs exactly one --signature-pk FILE to write the public key to"
        );
    };
    let cost = if args.insecure_cheap_kdf {
        KdfCost::TESTING
    } else {
        KdfCost::MINISIGN
    };
    keys::generate_key_pair(&SecretKeyPath::parse(secret), public, args.force, cost)
}

/// Seconds since the epoch, or `SOURCE_DATE_EPOCH` for reproducible builds.
fn timestamp() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(value) => value
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={value} is not a number of seconds")),
        Err(_) => Ok(std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)),
    }
}

/// Shows a spinner on a terminal while `work` runs.
fn with_spinner<T>(input: &Path, work: impl FnOnce() -> T) -> T {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("compiling {}", input.display()));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = work();
    spinner.finish_and_clear();
    result
}

/// Writes through a temporary file in the same directory and renames it into
/// place, so a failed or interrupted compile never leaves a partial artifact.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        bail!("output directory {} does not exist", dir.display());
    }
    let context = || format!("cannot write {}", path.display());
    let mut file = tempfile::Builder::new()
        .prefix(".lucetc-")
        .tempfile_in(dir)
        .with_context(context)?;
    file.write_all(bytes).with_context(context)?;
    file.as_file().sync_all().with_context(context)?;
    use std::os::unix::fs::PermissionsExt;
    file.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(context)?;
    file.persist(path)
        .map_err(|e| e.error)
        .with_context(context)?;
    Ok(())
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
