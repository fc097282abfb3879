//! `lucet-oci`: signed lucet artifacts to and from OCI registries. A thin
//! binary: the clap definition is `cli.rs`, the work `lucet-registry`'s.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use anyhow::{Context, Result};
use lucet_oci::cli::{Args, Command, Fetch, Inspect, Pull, Push};
use lucet_registry::{Cache, Packaging, Registry, RegistryOptions, SourceFiles};

fn main() -> ExitCode {
    let args = lucet_cli::parse::<Args>();
    if let Err(usage) = args.check() {
        usage.exit();
    }
    lucet_cli::exit("lucet-oci", run(args), advice)
}

fn run(args: Args) -> Result<u8> {
    let registry = Registry::new(RegistryOptions {
        insecure_registries: args.registry.insecure_registry,
    });
    // One request at a time: a current-thread runtime is all it needs.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.command {
        Command::Push(push) => runtime.block_on(run_push(&registry, push)),
        Command::Pull(pull) => runtime.block_on(run_pull(&registry, pull)),
        Command::Inspect(inspect) => runtime.block_on(run_inspect(&registry, inspect)),
        Command::Fetch(fetch) => runtime.block_on(run_fetch(&registry, fetch)),
    }
}

/// The trusted keys, which push and pull both require (`Args::check`).
fn trusted_keys(trust: &lucet_cli::TrustedKeys) -> Result<lucet_signature::PublicKeySet> {
    Ok(lucet_signature::read_public_keys(&trust.signature_pk)?)
}

async fn run_push(registry: &Registry, push: Push) -> Result<u8> {
    let keys = trusted_keys(&push.trust)?;
    let source = push.source.map(SourceFiles::beside);
    let pushed = lucet_registry::push(
        registry,
        &push.artifact,
        &push.reference,
        &keys,
        source.as_ref(),
        if push.container_image {
            Packaging::ContainerImage
        } else {
            Packaging::Artifact
        },
        push.max_artifact_size,
    )
    .await?;
    println!("{}", pushed.pinned);
    Ok(0)
}

async fn run_pull(registry: &Registry, pull: Pull) -> Result<u8> {
    let keys = trusted_keys(&pull.trust)?;
    let pulled = lucet_registry::pull(
        registry,
        &pull.reference,
        &keys,
        &pull.policy.policy(),
        pull.max_artifact_size,
    )
    .await?;
    // Written only now, verified, and atomically: never a partial file.
    lucet_signature::file::write_atomically(
        &pull.output,
        pulled.bytes(),
        0o644,
        lucet_signature::file::Existing::Replace,
        lucet_signature::file::Durability::Synced,
    )
    .with_context(|| format!("cannot write {}", pull.output.display()))?;
    eprintln!(
        "lucet-oci: {} verified (signed by key {}, name {}); written to {}",
        pull.reference,
        pulled.signer(),
        pulled.metadata().name,
        pull.output.display()
    );
    println!("{}", pulled.pinned());
    Ok(0)
}

async fn run_inspect(registry: &Registry, inspect: Inspect) -> Result<u8> {
    let description = lucet_registry::inspect(registry, &inspect.reference).await?;
    println!("digest: {}", description.manifest_digest);
    println!("size: {}", description.manifest_size);
    println!(
        "artifact-type: {}",
        description.artifact_type.as_deref().unwrap_or("none")
    );
    for (media_type, size, digest) in &description.layers {
        println!("layer: {media_type} {size} {digest}");
    }
    for (key, value) in &description.annotations {
        println!("annotation: {key}={value}");
    }
    for referrer in &description.referrers {
        println!(
            "referrer: {} {}",
            referrer.artifact_type.as_deref().unwrap_or("none"),
            referrer.digest
        );
    }
    eprintln!("lucet-oci: what the registry says, not verified: pull verifies");
    Ok(0)
}

/// Prints `DIGEST PINNED`: the one line lucet-wasi reads
/// (`lucet_registry::open_oci_with_fetcher`).
async fn run_fetch(registry: &Registry, fetch: Fetch) -> Result<u8> {
    let cached = Cache::at_default_location(&fetch.reference)?
        .fetch(registry, &fetch.reference, fetch.max_artifact_size)
        .await?;
    println!("{} {}", cached.digest, cached.pinned);
    Ok(0)
}

/// What to do about an error, in lucet-oci's flags.
fn advice(error: &anyhow::Error) -> Option<String> {
    use lucet_registry::Error;
    match lucet_cli::cause::<Error>(error)? {
        Error::TooLarge { .. } => {
            Some("raise --max-artifact-size if the artifact is expected to be this large".into())
        }
        Error::Artifact(_) => lucet_cli::load_advice(error),
        _ => None,
    }
}
