//! The default mode: compile INPUT, verifying its `.minisig` first with
//! `--signature-pk`, signing the artifact with `--signature-sk`.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lucet_runtime::EngineSettings;
use lucet_runtime::compile::{ArtifactLabel, CompileOptions, SourceProvenance};
use lucet_signature::Legacy;
use lucetc::cli::Args;

use crate::keys::{self, SecretKeyPath};
use crate::output::{self, write_atomically};
use crate::source;
use crate::source_name;

/// Compiles INPUT as `args` say.
pub fn run(args: &Args) -> Result<()> {
    refuse_lucet_only_flags(args)?;
    let Some(input) = args.input.as_deref() else {
        bail!("no INPUT given: name the .wasm or .wat file to compile");
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("so"));
    output::refuse_overwriting_inputs(&output, args)?;

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
    let name = module_name(args, input)?;
    let name_check = source_name_check(args)?;
    let source = source::read(
        input,
        trusted.as_ref(),
        legacy,
        name_check,
        args.max_input_size,
    )?;
    if args.no_translate_wat && !source.bytes.starts_with(b"\0asm") {
        bail!(
            "{}: not a WebAssembly binary (no \\0asm magic), and --no-translate-wat forbids reading it as text",
            input.display()
        );
    }
    let wasm = lucet_runtime::compile::wasm_binary(&source.bytes, !args.no_translate_wat)
        .with_context(|| input.display().to_string())?;

    let (settings, options) = compile_options(args);
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
        ArtifactLabel {
            name,
            timestamp: timestamp()?,
            comment: args.signature_comment.clone(),
        },
        signer.as_ref(),
    )?;
    write_atomically(&output, &artifact)
}

/// Lucet's flags that are accepted for compatibility but mean nothing alone.
fn refuse_lucet_only_flags(args: &Args) -> Result<()> {
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
    Ok(())
}

/// The engine settings and compile options `args` ask for.
fn compile_options(args: &Args) -> (EngineSettings, CompileOptions) {
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
    (settings, options)
}

/// The name recorded in the artifact: `--name`, or INPUT's file stem.
fn module_name(args: &Args, input: &Path) -> Result<String> {
    let name = match &args.name {
        Some(name) => name.clone(),
        None => input
            .file_stem()
            .and_then(|stem| stem.to_str())
            .map(str::to_string)
            .with_context(|| {
                format!(
                    "{}: the file name is not UTF-8 text; name the module with --name",
                    input.display()
                )
            })?,
    };
    lucet_artifact::check_name(&name).context("choose another with --name")?;
    Ok(name)
}

fn source_name_check(args: &Args) -> Result<source_name::SourceNameCheck> {
    use source_name::SourceNameCheck;
    if (args.require_source_name || args.ignore_source_name) && args.signature_pk.is_empty() {
        bail!(
            "--require-source-name and --ignore-source-name are about the source signature: give --signature-pk KEY to verify one"
        );
    }
    Ok(if args.require_source_name {
        SourceNameCheck::Required
    } else if args.ignore_source_name {
        SourceNameCheck::Ignored
    } else {
        SourceNameCheck::WhenPresent
    })
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
