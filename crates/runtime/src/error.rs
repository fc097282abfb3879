use std::path::PathBuf;
use std::time::Duration;

/// Why compiling, loading or running failed.
///
/// `Display` shows this error's own message, one line; where wasmtime said
/// why, its error is the [`source`](std::error::Error::source) (print the
/// chain, as `{:#}` of an `anyhow::Error` does, for the whole story). A
/// guest that traps, exits or times out is not an error: see
/// [`Outcome`](crate::Outcome).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A size argument could not be parsed.
    #[error("invalid size `{0}`: use bytes, or a K/KiB, M/MiB or G/GiB suffix")]
    InvalidSize(String),
    /// A duration argument could not be parsed.
    #[error("invalid duration `{0}`: use a positive number with ms, s, m or h, e.g. 500ms or 2s")]
    InvalidDuration(String),
    /// An engine or target setting is invalid (the message says which, and
    /// what is accepted).
    #[error("{0}")]
    InvalidSetting(String),
    /// CPU features were asked as `native` (this host's) for a target that is
    /// not this host.
    #[error("target CPU `native` describes this host, not a foreign {arch} target")]
    NativeCpuForForeignTarget {
        /// The target's architecture.
        arch: String,
    },
    /// wasmtime does not know the target triple, or cannot compile for it.
    #[error("target `{target}`")]
    Target {
        /// The triple asked for.
        target: String,
        /// wasmtime's reason.
        #[source]
        source: wasmtime::Error,
    },
    /// wasmtime refused the engine configuration (for instance a pool larger
    /// than the address space).
    #[error("wasmtime refused the engine configuration")]
    Engine(#[source] wasmtime::Error),
    /// The input is not WebAssembly that this toolchain accepts.
    #[error("{0}")]
    InvalidInput(String),
    /// wasmtime refused to compile the module (the source says why: the
    /// validator's message, with its offset).
    #[error("compilation failed")]
    Compile(#[source] wasmtime::Error),
    /// The artifact could not be read or verified.
    #[error(transparent)]
    Artifact(#[from] lucet_artifact::Error),
    /// The artifact was made by another engine version.
    #[error(
        "artifact was compiled by {artifact}, but this runtime is {runtime}; recompile it with this release's lucetc"
    )]
    EngineMismatch {
        /// Engine named in the artifact.
        artifact: String,
        /// Engine of this build.
        runtime: String,
    },
    /// The artifact targets another platform.
    #[error("artifact targets {artifact}, but this host is {host}")]
    TargetMismatch {
        /// Target named in the artifact.
        artifact: String,
        /// This host's triple.
        host: String,
    },
    /// The artifact uses CPU features this host lacks.
    #[error(
        "artifact needs CPU features this host lacks ({missing}): it was compiled for another CPU"
    )]
    MissingCpuFeatures {
        /// Missing feature names, comma-separated.
        missing: String,
    },
    /// The artifact was compiled with engine settings other than those of
    /// the shared engine it is loaded into.
    #[error("artifact was compiled with settings {artifact}, but this engine loads {engine}")]
    SettingsMismatch {
        /// The artifact's settings that matter for loading.
        artifact: String,
        /// The engine's.
        engine: String,
    },
    /// wasmtime refused the image, or an engine for its recorded settings.
    #[error("cannot load artifact")]
    Load(#[source] wasmtime::Error),
    /// The artifact holds a kind of code this runtime does not load.
    #[error("artifact holds a {0}, which this runtime does not load: upgrade it")]
    UnsupportedKind(lucet_artifact::ArtifactKind),
    /// A directory to preopen for the guest could not be opened.
    #[error("cannot open the preopened directory {}", path.display())]
    Preopen {
        /// The host directory.
        path: PathBuf,
        /// wasmtime-wasi's reason.
        #[source]
        source: wasmtime::Error,
    },
    /// The module or component could not be instantiated (an import that
    /// is not WASI, for instance).
    #[error("cannot instantiate")]
    Instantiate(#[source] wasmtime::Error),
    /// The module's initial memories or tables are over the runner's limits.
    #[error("module cannot start: {0}")]
    OverLimitAtStart(crate::LimitRefusal),
    /// The entry point does not exist or has the wrong type.
    #[error("module has no exported function `{name}` of type () -> () (it exports: {exports})")]
    MissingEntrypoint {
        /// The name asked for.
        name: String,
        /// The module's exported functions, comma-separated, or `none`.
        exports: String,
    },
    /// The arguments given for a function to invoke do not fit its
    /// parameters.
    #[error("cannot invoke `{function}`: {message}")]
    Invocation {
        /// The function.
        function: String,
        /// What does not fit.
        message: String,
    },
    /// A function was to be invoked in a component, which runs its
    /// `wasi:cli/run` only.
    #[error("a component runs its wasi:cli/run export; it has no function to invoke")]
    InvokeComponent,
    /// The component does not export `wasi:cli/run`: it is not a command.
    #[error("component does not export wasi:cli/run, so it is not a command this runner can start")]
    NotACommand,
    /// The component exports `wasi:cli/run`, but its `run` is not the
    /// command's `func() -> result`.
    #[error(
        "component exports wasi:cli/run, but its `run` is not `func() -> result` (a WASI 0.2 command's)"
    )]
    RunOfAnotherType,
    /// An entry point other than `_start` was asked of a component, which
    /// runs its `wasi:cli/run` export.
    #[error("a component runs its wasi:cli/run export; it has no entry point `{0}` to call")]
    ComponentEntrypoint(String),
    /// A timeout was asked for an artifact compiled without interruption support.
    #[error(
        "artifact was compiled without interruption support, so it cannot be stopped after {0:?}"
    )]
    NotInterruptible(Duration),
    /// A host-side failure while the guest ran (not a trap).
    #[error("host error while running the guest")]
    Host(#[source] wasmtime::Error),
    /// A host call panicked while the guest ran: the run ended, the process
    /// did not.
    #[error("host error while running the guest: the guest's run panicked")]
    RunPanicked,
    /// Reading or writing a file failed.
    #[error("{context}")]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}
