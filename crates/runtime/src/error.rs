use std::time::Duration;

/// Why compiling, loading or running failed. Messages are one line and say
/// what to do where there is something to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A size argument could not be parsed.
    #[error("invalid size `{0}`: use bytes, or a K/KiB, M/MiB or G/GiB suffix")]
    InvalidSize(String),
    /// A duration argument could not be parsed.
    #[error("invalid duration `{0}`: use a positive number with ms, s, m or h, e.g. 500ms or 2s")]
    InvalidDuration(String),
    /// An engine or target setting is invalid.
    #[error("{0}")]
    InvalidSetting(String),
    /// The input is not WebAssembly that this toolchain accepts.
    #[error("{0}")]
    InvalidInput(String),
    /// wasmtime refused to compile the module (the validator's message, with its offset).
    #[error("compilation failed: {0}")]
    Compile(String),
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
    /// wasmtime refused the image or the engine configuration.
    #[error("cannot load artifact: {0}")]
    Load(String),
    /// A WASI setting (preopen, environment) could not be applied.
    #[error("{0}")]
    Wasi(String),
    /// The module could not be instantiated (missing imports, memory over the limit...).
    #[error("cannot instantiate module: {0}")]
    Instantiate(String),
    /// The module's initial memories or tables are over the runner's limits.
    #[error("module cannot start: {0}")]
    OverLimitAtStart(crate::LimitRefusal),
    /// The entry point does not exist or has the wrong type.
    #[error("module has no exported function `{0}` of type () -> ()")]
    MissingEntrypoint(String),
    /// A timeout was asked for an artifact compiled without interruption support.
    #[error(
        "artifact was compiled without interruption support, so it cannot be stopped after {0:?}"
    )]
    NotInterruptible(Duration),
    /// A host-side failure while the guest ran (not a trap).
    #[error("host error while running the guest: {0}")]
    Host(String),
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

/// Renders a wasmtime error with its causes on one line: every error this
/// toolchain prints is one line.
pub fn one_line(error: &wasmtime::Error) -> String {
    format!("{error:#}").replace('\n', " ")
}
