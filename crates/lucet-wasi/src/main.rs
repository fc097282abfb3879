//! `lucet-wasi`: run a lucet artifact as a WASI command: a core module under
//! WASI preview 1, a component (`wasi:cli/run`) under WASI 0.2, as its
//! verified metadata says.
//!
//! With `--signature-pk`, only artifacts whose embedded signature verifies
//! against one of the keys run; the guest never starts otherwise.
#![forbid(unsafe_code)]

mod advice;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use lucet_runtime::{LoadOptions, LoadedArtifact, Outcome, TrapKind, WasiOptions};
use lucet_wasi::cli::Args;

fn main() -> ExitCode {
    let args = lucet_cli::parse::<Args>();
    if let Err(usage) = args.check() {
        usage.exit();
    }
    lucet_cli::exit("lucet-wasi", run(args), advice::advice)
}

fn run(args: Args) -> Result<u8> {
    if cfg!(feature = "require-signatures")
        && args.trust.signature_pk.is_empty()
        && args.policy_file.policy_file.is_none()
    {
        bail!(
            "this lucet-wasi only runs verified artifacts: give --signature-pk KEY or set LUCET_SIGNATURE_PK"
        );
    }
    let options = wasi_options(&args)?;
    let loaded = load(&args)?;
    let outcome =
        call(&args, &loaded, &options).with_context(|| args.module().display().to_string())?;
    // The guest wrote through our stdout: it leaves before our own message.
    let _ = std::io::stdout().flush();
    Ok(exit_status(outcome))
}

/// Opens MODULE once and loads it: verified and checked against the policy
/// when keys are given, else unverified (with a notice).
fn load(args: &Args) -> Result<LoadedArtifact> {
    let mut load_options = LoadOptions::default();
    load_options.read_limits.max_image_len = args.max_artifact_size;
    if let Some(size) = args.stack_size {
        load_options.max_wasm_stack = size;
    }

    let module = args.module();
    let file = open_module(args)?;
    let explain = |error: lucet_runtime::Error| {
        // Only a file without a lucet footer may be something else entirely.
        let no_footer = matches!(
            error,
            lucet_runtime::Error::Artifact(
                lucet_artifact::Error::BadMagic | lucet_artifact::Error::TooShort { .. }
            )
        );
        match no_footer
            .then(|| source_file_hint(&file, module, &error))
            .flatten()
        {
            Some(hint) => anyhow::anyhow!(hint),
            None => anyhow::Error::new(error).context(module.display().to_string()),
        }
    };
    let require = cfg!(feature = "require-signatures");
    let trust = lucet_cli::trust(&args.trust, &args.policy, &args.policy_file, require)?;
    let loaded = match trust {
        None => {
            if !args.allow_unverified {
                // As loud as it is cheap to silence: the user may not know
                // that no key is configured.
                eprintln!(
                    "lucet-wasi: notice: running {} unverified: no --signature-pk or LUCET_SIGNATURE_PK is given (--allow-unverified silences this notice)",
                    module.display()
                );
            }
            lucet_runtime::load_unverified(&file, load_options).map_err(explain)?
        }
        Some((keys, policy)) => {
            let checked = lucet_runtime::read_verified_audited(
                &file,
                &keys,
                &policy,
                load_options.read_limits,
            )
            .map_err(explain)?;
            let format = args.policy_file.log_format;
            lucet_cli::report_audit("lucet-wasi", module, &checked.audit_findings, format);
            lucet_runtime::load_verified_artifact(checked.artifact, load_options)
                .map_err(explain)?
        }
    };
    Ok(loaded)
}

/// MODULE opened once: a file, or for `oci://REF` the artifact from the
/// registry through the local cache (checked against its digest, and
/// verified below like any file). The registry is reached by `lucet-oci
/// fetch`, installed beside this program: linked in, its client would slow
/// every start, `oci://` or not.
fn open_module(args: &Args) -> Result<std::fs::File> {
    let module = args.module();
    match module.to_str().and_then(lucet_registry::oci_reference) {
        Some(reference) => {
            let options = lucet_registry::RegistryOptions {
                insecure_registries: args.registry.insecure_registry.clone(),
            };
            let runner = std::env::current_exe()
                .context("cannot find this program's directory, where lucet-oci is")?;
            let cached = lucet_registry::open_oci_with_fetcher(
                &runner,
                reference,
                &options,
                args.max_artifact_size,
            )?;
            Ok(cached.file)
        }
        None => lucet_signature::file::open_regular_file(module)
            .with_context(|| format!("cannot open {}", module.display())),
    }
}

/// Runs the guest: its entry point, or the function `--invoke` names, whose
/// results are printed one per line.
fn call(
    args: &Args,
    loaded: &LoadedArtifact,
    options: &WasiOptions,
) -> Result<Outcome, lucet_runtime::Error> {
    match &args.invoke {
        None => lucet_runtime::run(loaded, options),
        Some(function) => {
            let invocation = lucet_runtime::Invocation {
                function: function.clone(),
                args: args.guest_args().to_vec(),
            };
            lucet_runtime::invoke(loaded, options, &invocation).map(|(outcome, results)| {
                for result in results {
                    println!("{result}");
                }
                outcome
            })
        }
    }
}

/// The process's exit status for how the guest ended, with a line on stderr
/// when that is not the guest's own status.
fn exit_status(outcome: Outcome) -> u8 {
    let status = outcome.exit_status();
    match outcome {
        Outcome::Exited(code) if i32::from(status) != code => {
            // Passed on, 126 and above would read as "cannot execute", "not
            // found" or a signal to a shell or supervisor, and a negative
            // status as its low byte; wasmtime's CLI refuses them too.
            eprintln!(
                "lucet-wasi: guest exited with status {code}, which a process cannot pass on (only 0 to {} can; 126 and above mean a shell or signal failure); exiting 1",
                lucet_runtime::MAX_EXIT_STATUS
            );
        }
        Outcome::Exited(_) => {}
        Outcome::Trapped(trap) => {
            // The trap's message, then its wasm backtrace on the lines after.
            eprintln!("lucet-wasi: guest trapped: {trap}");
            if trap.kind == TrapKind::GcHeapOutOfMemory {
                eprintln!(
                    "lucet-wasi: the GC heap counts toward --max-heap-size: raise it if the guest needs more"
                );
            }
        }
        Outcome::TimedOut(limit) => {
            eprintln!("lucet-wasi: guest stopped: --timeout {limit:?} reached");
        }
    }
    status
}

/// When a file without a lucet footer is WebAssembly, says how to compile
/// it; when it is a native image (a corrupted artifact, or a wasmtime
/// `.cwasm`, which the header alone cannot tell apart), adds that advice to
/// `error`. Reads at most its first bytes, only after loading has failed.
fn source_file_hint(
    file: &std::fs::File,
    path: &Path,
    error: &lucet_runtime::Error,
) -> Option<String> {
    let mut head = [0u8; 64];
    let len = std::os::unix::fs::FileExt::read_at(file, &mut head, 0).unwrap_or(0);
    let head = head.get(..len).unwrap_or_default();
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start();
    let looks_like_wat = text.starts_with('(') || text.starts_with(";;");
    let path_so = path.with_extension("so");
    if head.starts_with(b"\0asm") || looks_like_wat {
        Some(format!(
            "{} is WebAssembly, not a lucet artifact: compile it first with `lucetc {} -o {}`",
            path.display(),
            path.display(),
            path_so.display()
        ))
    } else if head.starts_with(b"\x7fELF") {
        Some(format!(
            "{}: {error}; if it is a wasmtime .cwasm, compile its WebAssembly with `lucetc APP.wasm -o {}` instead",
            path.display(),
            path_so.display()
        ))
    } else {
        None
    }
}

fn wasi_options(args: &Args) -> Result<WasiOptions> {
    let program_name = match &args.argv0 {
        Some(name) => name.clone(),
        None => args
            .module()
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let mut env: Vec<(String, String)> = Vec::new();
    if args.inherit_env {
        // Variables that are not UTF-8 cannot be given to a guest.
        env.extend(std::env::vars_os().filter_map(|(name, value)| {
            Some((name.into_string().ok()?, value.into_string().ok()?))
        }));
    }
    for spec in &args.envs {
        let (name, value) = match spec.split_once('=') {
            Some((name, value)) => (name.to_string(), value.to_string()),
            None => {
                let value = std::env::var(spec).with_context(|| {
                    format!("--env {spec}: no such variable in this environment (write NAME=VALUE to set one)")
                })?;
                (spec.clone(), value)
            }
        };
        if name.is_empty() {
            bail!("--env {spec}: the variable name is empty");
        }
        // A later --env of the same name wins, over an inherited one too.
        env.retain(|(existing, _)| *existing != name);
        env.push((name, value));
    }
    let mut dirs = Vec::new();
    for spec in &args.dirs {
        let (host, guest) = spec
            .split_once("::")
            .or_else(|| spec.split_once(':'))
            .unwrap_or((spec, spec));
        if !Path::new(host).is_dir() {
            bail!("--dir {spec}: {host} is not a directory");
        }
        dirs.push((PathBuf::from(host), guest.to_string()));
    }
    Ok(WasiOptions {
        program_name,
        args: args.guest_args().to_vec(),
        env,
        dirs,
        entrypoint: args.entrypoint.clone(),
        max_heap_size: args.max_heap_size,
        max_table_elements: Some(args.max_table_elements),
        timeout: args.timeout,
    })
}
