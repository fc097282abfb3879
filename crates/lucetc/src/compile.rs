//! The default mode: compile INPUT, verifying its signature first with
//! `-p/-P`, signing the artifact with `-s`, and saying in one line what was
//! written.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use lucet_artifact::ArtifactKind;
use lucet_runtime::EngineSettings;
use lucet_runtime::compile::{ArtifactLabel, CompileOptions, CompiledImage, SourceProvenance};
use lucet_signature::file::Durability;
use lucet_signature::{KeyId, Legacy, SecretKey};
use lucetc::cli::Args;

use crate::keys::{self, SecretKeyPath};
use crate::output::{self, write_atomically};
use crate::source::{self, SignatureAt};
use crate::source_name;

/// Compiles INPUT as `args` say.
pub fn run(args: &Args) -> Result<()> {
    let Some(input) = args.input.as_deref() else {
        bail!("no INPUT given: name the .wasm or .wat file to compile");
    };
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| input.with_extension("so"));
    output::refuse_overwriting_inputs(&output, args)?;
    output::refuse_unsigning(&output, args.signature_sk.is_some(), args.force)?;

    // Every key is opened before compiling: a bad key or wrong password fails fast.
    let trusted = keys::trusted_keys(args)?;
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
    let signature_at = SignatureAt(args.source_signature.as_deref());
    let source = source::read(
        input,
        trusted.as_ref().map(|keys| (keys, signature_at)),
        legacy,
        source_name_check(args),
        args.max_input_size,
    )?;
    let wasm = source::wasm_binary(input, &source.bytes, !args.no_translate_wat)?;

    let (settings, options) = compile_options(args);
    let started = Instant::now();
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
    write_atomically(&output, &artifact, Durability::Unsynced)?;
    let written = Written {
        output: &output,
        len: artifact.len(),
        input,
        compiled: &compiled,
        took: started.elapsed(),
        source_key: source.signer,
        signer: signer.as_ref(),
    };
    eprintln!("{}", written.summary());
    Ok(())
}

/// What one compile wrote, for its summary line.
struct Written<'a> {
    output: &'a Path,
    len: usize,
    input: &'a Path,
    compiled: &'a CompiledImage,
    took: Duration,
    source_key: Option<KeyId>,
    signer: Option<&'a SecretKey>,
}

impl Written<'_> {
    /// One line: what was written, from what, and who vouched for it, e.g.
    /// `wrote app.so (18.7 KiB): module from app.wat, compiled in 0.4s;
    /// source verified by key …; signed by key …`.
    fn summary(&self) -> String {
        let kind = match self.compiled.kind {
            ArtifactKind::Component => "component",
            _ => "module",
        };
        let source = self.source_key.map_or_else(
            || "source not verified".to_string(),
            |key| format!("source verified by key {key}"),
        );
        let signed = self.signer.map_or_else(
            || "unsigned".to_string(),
            |key| format!("signed by key {}", key.key_id()),
        );
        format!(
            "wrote {} ({}): {kind} from {}, compiled in {:.1}s; {source}; {signed}",
            self.output.display(),
            human_size(self.len),
            self.input.display(),
            self.took.as_secs_f64(),
        )
    }
}

/// A byte count as people read it: bytes below 10 KiB, else KiB or MiB
/// with one decimal.
fn human_size(len: usize) -> String {
    const KIB: f64 = 1024.0;
    // Precision is irrelevant here: artifacts are far below 2^52 bytes.
    #[allow(clippy::cast_precision_loss)]
    let bytes = len as f64;
    if bytes < 10.0 * KIB {
        format!("{len} bytes")
    } else if bytes < KIB * KIB {
        format!("{:.1} KiB", bytes / KIB)
    } else {
        format!("{:.1} MiB", bytes / (KIB * KIB))
    }
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

/// How the source signature's `file:` is checked (that the flags come with
/// a key is checked with the other usage errors, in `Args::check`).
fn source_name_check(args: &Args) -> source_name::SourceNameCheck {
    use source_name::SourceNameCheck;
    if args.require_source_name {
        SourceNameCheck::Required
    } else if args.ignore_source_name {
        SourceNameCheck::Ignored
    } else {
        SourceNameCheck::WhenPresent
    }
}

/// Seconds since the epoch, or `SOURCE_DATE_EPOCH` for reproducible builds.
pub fn timestamp() -> Result<u64> {
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

/// Shows a spinner with the time spent while `work` runs: only on a
/// terminal (indicatif draws nothing elsewhere), and cleared at the end, so
/// the summary line is the last word either way. wasmtime compiles the
/// functions in parallel with no progress hook, so elapsed time is all the
/// spinner can show.
fn with_spinner<T>(input: &Path, work: impl FnOnce() -> T) -> T {
    let spinner = indicatif::ProgressBar::new_spinner();
    if let Ok(style) = indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        spinner.set_style(style);
    }
    spinner.set_message(format!("compiling {}", input.display()));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let result = work();
    spinner.finish_and_clear();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_read_them() {
        assert_eq!(human_size(19_128), "18.7 KiB");
        assert_eq!(human_size(812), "812 bytes");
        assert_eq!(human_size(3 << 20), "3.0 MiB");
    }
}
