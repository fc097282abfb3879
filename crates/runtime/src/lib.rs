//! Compile WebAssembly to lucet artifacts and run them under WASI.
//!
//! * `compile` (cargo feature `compiler`): WebAssembly → engine image →
//!   artifact, signed or not.
//! * [`load_verified`] / [`load_unverified`]: artifact → wasmtime module or
//!   component, as the artifact's (verified) metadata says
//!   ([`LoadedArtifact`]). The safety contract of loading is documented in
//!   the [`load`] module.
//! * [`run`]: instantiate with a fresh WASI context and call the entry point
//!   (a module's `_start` under WASI preview 1, a component's
//!   `wasi:cli/run` under WASI 0.2), under one [`GuestLimiter`] for all
//!   memories and tables; how it ended is an [`Outcome`] (a trap is a
//!   [`GuestTrap`] of a [`TrapKind`]).
//! * [`guest_store`] / [`guest_linker`]: the store and linker of every guest
//!   run, the runner's and lucet-embed's alike.
//! * [`SharedEngine`] / [`load_verified_into`]: one engine, built once, for
//!   hosts that load many artifacts (see the `lucet-embed` crate).
//!
//! The compiler and the runner build their wasmtime `Config` in one place
//! (`engine.rs`) from the [`EngineSettings`] recorded in each artifact, so an
//! artifact always meets a compatible engine. The runner is built without
//! Cranelift: production hosts carry no code generator.
#![deny(missing_docs)]

#[cfg(feature = "compiler")]
pub mod compile;
mod component;
mod engine;
mod epoch;
mod error;
mod guest;
mod image;
mod invoke;
mod limits;
pub mod load;
mod outcome;
#[cfg(feature = "compiler")]
pub mod rebuild;
mod run;
mod settings;
mod shared;
mod units;

pub use component::{CommandExport, command_ended, command_export};
pub use engine::engine_config;
pub use epoch::EpochThread;
pub use error::Error;
pub use guest::{
    Deadline, GuestState, GuestStdio, GuestWorld, NO_DEADLINE, StartFailure, WasiCalls,
    component_linker, guest_linker, guest_store, set_deadline,
};
pub use image::{EngineImage, LoadedCode, SealedImage};
pub use invoke::{Invocation, Results};
pub use limits::{DEFAULT_MAX_TABLE_ELEMENTS, GuestLimiter, LimitRefusal, LimitedResource};
pub use load::{
    Checked, HOST_STACK_MARGIN, LoadOptions, Loaded, LoadedArtifact, Provenance, load_unverified,
    load_unverified_artifact, load_verified, load_verified_artifact, read_verified_audited,
    read_verified_checked,
};
pub use outcome::{GuestTrap, MAX_EXIT_STATUS, Outcome, TrapKind, outcome_of};
pub use run::{DEFAULT_ENTRYPOINT, WasiOptions, invoke, run};
pub use settings::{CpuFeatures, EngineSettings, OptLevel, TargetCpu};
pub use shared::{SharedEngine, load_verified_artifact_into, load_verified_into};
pub use units::{parse_duration, parse_size};

/// The exact wasmtime release this toolchain is built on (checked against
/// Cargo.lock by a test).
pub const WASMTIME_VERSION: &str = "48.0.8";

/// The engine as named in artifact metadata.
pub const ENGINE: &str = "wasmtime-48.0.8";

/// Whether this build can compile (carries Cranelift).
pub const HAS_COMPILER: bool = cfg!(feature = "compiler");

/// This host's target triple.
pub fn host_triple() -> String {
    target_lexicon::Triple::host().to_string()
}

/// This toolchain's versions, as every tool's `--version` prints them after
/// its name: package version, wasmtime version, artifact format, and whether
/// this build carries a compiler (a lean runner says `none`).
pub fn version_details() -> String {
    format!(
        "{} (wasmtime {WASMTIME_VERSION}, artifact format v{}, compiler: {})",
        env!("CARGO_PKG_VERSION"),
        lucet_artifact::FORMAT_VERSION,
        if HAS_COMPILER { "cranelift" } else { "none" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_names_the_pinned_wasmtime() {
        assert_eq!(ENGINE, format!("wasmtime-{WASMTIME_VERSION}"));
    }

    #[test]
    fn pinned_version_matches_the_lockfile() {
        let lock =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
                .expect("Cargo.lock at the workspace root");
        let expected = format!("name = \"wasmtime\"\nversion = \"{WASMTIME_VERSION}\"\n");
        assert!(
            lock.contains(&expected),
            "Cargo.lock does not pin wasmtime {WASMTIME_VERSION}"
        );
    }
}
