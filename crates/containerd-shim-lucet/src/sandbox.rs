//! What runs inside a container's init process: verify the image's
//! artifact, then run it, and say why when it does not run.

use std::path::Path;

use anyhow::{Context, Result, bail};
use containerd_shim_wasm::sandbox::Sandbox;
use containerd_shim_wasm::sandbox::context::{RuntimeContext, Source};
use lucet_runtime::{LoadedArtifact, Outcome, WasiOptions};

use crate::NODE_CONFIG;
use crate::config::NodeConfig;

/// A guest container's engine. It holds nothing: the node's configuration
/// is [`NODE_CONFIG`].
#[derive(Default, Clone)]
pub struct LucetSandbox;

/// Exit status of a container whose artifact is refused.
const REFUSED: i32 = 1;

impl Sandbox for LucetSandbox {
    /// Every refusal is made by `run_wasi`, where it reaches the
    /// container's stderr: a refusal here is only "cannot handle" in
    /// containerd's error.
    async fn can_handle(&self, _ctx: &impl RuntimeContext) -> Result<()> {
        Ok(())
    }

    /// Always `Ok`: the crate turns an error into status 137, which reads
    /// as "killed". The status is lucet-wasi's: the guest's own (0-125), 134
    /// for a trap, 124 for the node's timeout, 1 for a refusal, 128+N for
    /// signal N.
    async fn run_wasi(&self, ctx: &impl RuntimeContext) -> Result<i32> {
        let status = match prepare(ctx) {
            Ok((loaded, options)) => run_until_signal(loaded, options).await,
            Err(error) => {
                report(&format!("not started: {error:#}"));
                REFUSED
            }
        };
        Ok(status)
    }
}

/// One line on the container's stderr (its log) and in the shim's log.
fn report(message: &str) {
    eprintln!("containerd-shim-lucet: {message}");
    log::error!("{message}");
}

/// Verifies and loads the entry point's artifact, and builds its WASI world.
fn prepare(ctx: &impl RuntimeContext) -> Result<(LoadedArtifact, WasiOptions)> {
    let node = match NODE_CONFIG.get() {
        Some(Ok(node)) => node,
        Some(Err(error)) => bail!("the node's configuration is unusable: {error}"),
        None => bail!("the node's configuration was not read"),
    };
    let entrypoint = ctx.entrypoint();
    let path = match entrypoint.source {
        Source::File(path) => path,
        Source::Oci(_) => {
            bail!("images with wasm layers are not run: the artifact must be a file in the image")
        }
    };
    let loaded = load(&path, node)?;
    let options = wasi_options(ctx, &path, entrypoint.func, node)?;
    Ok((loaded, options))
}

/// Verifies `path` against the node's keys and policy, then loads exactly
/// the bytes verified.
fn load(path: &Path, node: &NodeConfig) -> Result<LoadedArtifact> {
    if !path.is_absolute() {
        bail!(
            "the entry point {} is not an absolute path: name the artifact's path in the image",
            path.display()
        );
    }
    let file = lucet_signature::file::open_regular_file(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let checked = lucet_runtime::read_verified_audited(
        &file,
        &node.keys,
        &node.policy,
        node.load.read_limits,
    )
    .with_context(|| path.display().to_string())?;
    for finding in &checked.audit_findings {
        report(&format!(
            "audit: {}: rule {} would refuse it: {finding}; running anyway",
            path.display(),
            finding.policy_rule().unwrap_or_default()
        ));
    }
    lucet_runtime::load_verified_artifact(checked.artifact, node.load)
        .with_context(|| path.display().to_string())
}

fn wasi_options(
    ctx: &impl RuntimeContext,
    path: &Path,
    function: String,
    node: &NodeConfig,
) -> Result<WasiOptions> {
    let env = ctx
        .envs()
        .iter()
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    Ok(WasiOptions {
        program_name: path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default(),
        args: ctx.args().iter().skip(1).cloned().collect(),
        env,
        dirs: crate::mounts::guest_directories()?,
        entrypoint: function,
        max_heap_size: node.max_heap_size,
        max_table_elements: None,
        timeout: node.timeout,
    })
}

/// Runs the guest on a thread of its own (the runtime drives its run with
/// an event loop of its own, which cannot nest in the crate's), and ends
/// early on SIGTERM, SIGINT or SIGQUIT: the guest is PID 1 of its
/// container, which the kernel gives no default action for these.
async fn run_until_signal(loaded: LoadedArtifact, options: WasiOptions) -> i32 {
    use tokio::signal::unix::{SignalKind, signal};
    let (done, outcome) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(lucet_runtime::run(&loaded, &options));
    });
    let (Ok(mut term), Ok(mut int), Ok(mut quit)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
    ) else {
        report("cannot handle signals; not started");
        return REFUSED;
    };
    tokio::select! {
        outcome = outcome => match outcome {
            Ok(Ok(outcome)) => exit_status(outcome),
            Ok(Err(error)) => {
                report(&format!("guest failed: {:#}", anyhow::Error::new(error)));
                REFUSED
            }
            Err(_) => {
                report("the guest's thread ended without an outcome");
                REFUSED
            }
        },
        _ = term.recv() => 128 + libc_signal::TERM,
        _ = int.recv() => 128 + libc_signal::INT,
        _ = quit.recv() => 128 + libc_signal::QUIT,
    }
}

/// Signal numbers on Linux, for 128+N statuses.
mod libc_signal {
    pub const INT: i32 = 2;
    pub const QUIT: i32 = 3;
    pub const TERM: i32 = 15;
}

fn exit_status(outcome: Outcome) -> i32 {
    let status = outcome.exit_status();
    match outcome {
        Outcome::Exited(code) if i32::from(status) != code => report(&format!(
            "guest exited with status {code}, which a process cannot pass on; exiting 1"
        )),
        Outcome::Trapped(trap) => report(&format!("guest trapped: {trap}")),
        Outcome::TimedOut(limit) => report(&format!(
            "guest stopped: the node's timeout of {limit:?} reached"
        )),
        Outcome::Exited(_) => {}
    }
    i32::from(status)
}
