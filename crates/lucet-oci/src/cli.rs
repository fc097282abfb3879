//! The command-line definition of `lucet-oci`: its subcommands, flags, help
//! text and the sections after the options. Nothing here does I/O.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Text after the options, as `(heading, body)` sections in order.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Exit status",
        "  0     done: pushed, pulled and verified, inspected, or fetched
  2     usage error
  1     any refusal or failure: a registry error, a manifest that is not a
        lucet artifact's or not the digest asked for, an artifact over the
        size limit, a signature or policy that does not verify",
    ),
    (
        "Registries",
        "\
REF is HOST[:PORT]/REPOSITORY[:TAG][@DIGEST], as docker and skopeo write it.
Registries on this machine (localhost, 127.0.0.0/8, ::1) are reached over
plain HTTP, any other over HTTPS unless --insecure-registry names it.
Credentials come from docker's configuration ($DOCKER_CONFIG/config.json,
else ~/.docker/config.json, credential helpers included), else from podman's
and skopeo's auth.json ($REGISTRY_AUTH_FILE, else
$XDG_RUNTIME_DIR/containers/auth.json): log in with `docker login`,
`skopeo login` or `podman login`.",
    ),
    (
        "Environment",
        "\
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when no flag is given.",
    ),
    (
        "Examples",
        "  lucet-oci push --signature-pk lucet.pub --source hello.wasm hello.so registry.example/apps/hello:1.0
  lucet-oci push --signature-pk lucet.pub --container-image hello.so registry.example/images/hello:1.0
  lucet-oci pull --signature-pk lucet.pub -o hello.so registry.example/apps/hello:1.0
  lucet-oci pull --signature-pk lucet.pub -o hello.so registry.example/apps/hello@sha256:4f1c...
  lucet-oci inspect registry.example/apps/hello:1.0
  lucet-oci fetch registry.example/apps/hello:1.0",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// `lucet-oci --version`: the tool, the artifact format and the OCI
/// artifact type it reads and writes.
pub fn version() -> String {
    format!(
        "{} (artifact format v{}, OCI artifact type {})",
        env!("CARGO_PKG_VERSION"),
        lucet_artifact::FORMAT_VERSION,
        lucet_registry::media::ARTIFACT_TYPE
    )
}

const TRUST: &str = "Trust";

/// Push signed lucet artifacts to OCI registries and pull them back,
/// verified: nothing is written that did not verify.
#[derive(Parser, Debug)]
#[command(name = "lucet-oci", version = version(), after_help = after_help())]
pub struct Args {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// How registries are reached.
    #[command(flatten)]
    pub registry: lucet_cli::RegistryFlags,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify ARTIFACT and push it to REF, annotated with its verified
    /// signer, name, hashes and engine; prints the pinned reference
    /// (REPOSITORY@DIGEST) on stdout.
    Push(Push),
    /// Pull REF, verify it against the trusted keys and policy, and only
    /// then write it to the output file; prints the pinned reference.
    Pull(Pull),
    /// Print what the registry says about REF (not verified): digest,
    /// artifact type, layers, annotations, referrers.
    Inspect(Inspect),
    /// Fetch REF into the cache that `lucet-wasi oci://REF` runs from
    /// (lucet-wasi runs this for it), not verified: every run re-hashes and
    /// verifies the cached file. Prints the layer's digest and the pinned
    /// reference, which then runs without the registry.
    Fetch(Fetch),
}

/// `lucet-oci push`.
#[derive(clap::Args, Debug)]
#[command(after_help = after_help())]
pub struct Push {
    /// The signed artifact, as made by lucetc.
    #[arg(value_name = "ARTIFACT")]
    pub artifact: PathBuf,

    /// Where to push it: HOST[:PORT]/REPOSITORY[:TAG].
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Attach the source ARTIFACT was compiled from, and SOURCE.minisig
    /// beside it, as an OCI referrer. The source must be the one the
    /// artifact's signed metadata names.
    #[arg(long, value_name = "SOURCE")]
    pub source: Option<PathBuf>,

    /// Push a container image instead of an OCI artifact: the artifact as
    /// the file /app.lucet (mode 0644) in one tar layer, with that file as
    /// the entry point, for containerd's io.containerd.lucet.v1 runtime
    /// (containerd-shim-lucet). `pull` and oci:// read only OCI artifacts.
    #[arg(long)]
    pub container_image: bool,

    /// Refuse an artifact (or source) larger than this (e.g. 512M).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G")]
    pub max_artifact_size: u64,

    /// The keys ARTIFACT must verify against before it is pushed.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: lucet_cli::TrustedKeys,
}

/// `lucet-oci pull`.
#[derive(clap::Args, Debug)]
#[command(after_help = after_help())]
pub struct Pull {
    /// What to pull: HOST[:PORT]/REPOSITORY[:TAG][@DIGEST]. With a digest,
    /// the manifest that arrives must have it.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Where to write the verified artifact (replaced atomically, and only
    /// after verification).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Refuse an artifact larger than this (e.g. 512M), before downloading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G")]
    pub max_artifact_size: u64,

    /// The keys the artifact must verify against.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: lucet_cli::TrustedKeys,

    /// What the verified artifact must also satisfy.
    #[command(flatten, next_help_heading = TRUST)]
    pub policy: lucet_cli::PolicyFlags,
}

/// `lucet-oci inspect`.
#[derive(clap::Args, Debug)]
#[command(after_help = after_help())]
pub struct Inspect {
    /// What to describe: HOST[:PORT]/REPOSITORY[:TAG][@DIGEST].
    #[arg(value_name = "REF")]
    pub reference: String,
}

/// `lucet-oci fetch`.
#[derive(clap::Args, Debug)]
#[command(after_help = after_help())]
pub struct Fetch {
    /// What to fetch: HOST[:PORT]/REPOSITORY[:TAG][@DIGEST]. With a digest
    /// whose manifest and layer are cached, the registry is not asked.
    #[arg(value_name = "REF")]
    pub reference: String,

    /// Refuse an artifact larger than this (e.g. 512M), before downloading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G")]
    pub max_artifact_size: u64,
}

impl Args {
    /// Usage errors clap cannot see: push and pull verify, so they need a
    /// trusted key; there is no unverified mode.
    pub fn check(&self) -> Result<(), clap::Error> {
        use clap::CommandFactory;
        let (subcommand, trust) = match &self.command {
            Command::Push(push) => ("push", &push.trust),
            Command::Pull(pull) => ("pull", &pull.trust),
            Command::Inspect(_) | Command::Fetch(_) => return Ok(()),
        };
        if trust.signature_pk.is_empty() {
            return Err(Args::command().error(
                clap::error::ErrorKind::MissingRequiredArgument,
                format!(
                    "{subcommand} verifies the artifact first: give --signature-pk KEY (or set LUCET_SIGNATURE_PK)"
                ),
            ));
        }
        Ok(())
    }
}
