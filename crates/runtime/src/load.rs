//! Loading artifacts into wasmtime: verified, or explicitly unverified.
//!
//! # Safety contract of loading
//!
//! wasmtime's `Module::deserialize` (and `Component::deserialize`) executes
//! whatever machine code the image holds: it is sound only for the
//! unmodified output of `precompile_module` (`precompile_component`) from
//! the same wasmtime. This module upholds that as follows.
//!
//! * [`load_verified`] hands wasmtime only bytes whose Minisign signature, by
//!   a key the caller trusts, verified — the very bytes that were hashed, read
//!   once from one open file (through its handle, or a duplicate of it on
//!   the thread that reads large images ahead) into a memory file that is
//!   checked complete and sealed before wasmtime maps it ([`SealedImage`]).
//!   lucetc signs only images it has just produced, so a trusted signature
//!   vouches that the bytes are unmodified compiler output. No path is ever re-opened after verification (a
//!   component's sealed memory file is reopened only through this process's
//!   own descriptor of it, `/proc/self/fd/N`, as wasmtime takes components by
//!   path only).
//! * Whether the image is a module or a component is the `kind` of the same
//!   verified metadata ([`LoadedCode`]), never a guess from the bytes;
//!   wasmtime refuses an image of the other kind.
//! * [`load_verified_into`](crate::load_verified_into) does the same into an
//!   engine built once by an embedder; it has no unverified counterpart.
//! * [`load_unverified`] exists for deployments that configure no key (Lucet's
//!   behaviour, and `wasmtime run --allow-precompiled`'s): it trusts whoever
//!   can write the artifact file, and its name says so.
//!
//! In every case the image is stamped with this toolchain's engine version,
//! and bytes from another version are refused cleanly by wasmtime.

use lucet_artifact::{ArtifactSource, Metadata, Policy, ReadLimits, VerifiedArtifact};
use lucet_signature::{KeyId, PublicKeySet};
use wasmtime::Engine;

use crate::engine::engine_config;
use crate::image::{CodeKind, EngineImage, LoadedCode, SealedImage};
use crate::settings::{EngineSettings, missing_on_host};
use crate::{ENGINE, Error, host_triple};

/// Stack a guest's host calls (WASI, wasmtime's own libcalls) get beyond
/// its wasm stack, at least: guests run on a stack of `max_wasm_stack` plus
/// this much.
pub const HOST_STACK_MARGIN: usize = 1 << 20;

/// Host-side limits fixed when the engine is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// Maximum wasm stack, in bytes.
    pub max_wasm_stack: usize,
    /// Caps checked before an artifact's image is read.
    pub read_limits: ReadLimits,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            // wasmtime's default.
            max_wasm_stack: 512 << 10,
            read_limits: ReadLimits::default(),
        }
    }
}

/// What is known of where a loaded module came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    /// Its signature verified against this trusted key.
    Verified {
        /// The key that signed it.
        signer: KeyId,
    },
    /// Nothing was verified; the metadata is unauthenticated.
    Unverified,
}

/// Compiled code ready to instantiate, with the engine it was loaded into
/// and what its artifact says of it: a [`LoadedArtifact`] (a module or a
/// component, as its metadata's `kind` says).
///
/// Only the loaders make one, so a [`Provenance::Verified`] in it always
/// comes from a signature that verified: its fields are private.
#[derive(Debug)]
pub struct Loaded<Code> {
    pub(crate) code: Code,
    pub(crate) engine: Engine,
    pub(crate) metadata: Metadata,
    pub(crate) settings: EngineSettings,
    pub(crate) provenance: Provenance,
    pub(crate) options: LoadOptions,
}

/// A loaded artifact: a core module or a component.
pub type LoadedArtifact = Loaded<LoadedCode>;

impl<Code> Loaded<Code> {
    /// The compiled code.
    pub fn code(&self) -> &Code {
        &self.code
    }

    /// The engine, rebuilt from the artifact's recorded settings.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The artifact's metadata (authenticated only if
    /// [`provenance`](Loaded::provenance) is `Verified`).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The recorded engine settings.
    pub fn settings(&self) -> &EngineSettings {
        &self.settings
    }

    /// Whether the artifact was verified, and by which key.
    pub fn provenance(&self) -> Provenance {
        self.provenance
    }

    /// The limits the engine was built with.
    pub fn options(&self) -> &LoadOptions {
        &self.options
    }
}

/// Reads, verifies and loads a signed artifact. This is the only way to get a
/// module out of an artifact when keys are configured.
pub fn load_verified<S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
    options: LoadOptions,
) -> Result<LoadedArtifact, Error> {
    let verified =
        lucet_artifact::read_verified_into::<SealedImage, S>(source, keys, options.read_limits)?;
    load_verified_artifact(verified, options)
}

/// Reads and verifies a signed artifact into a sealed memory file, then
/// checks `policy` on it (its metadata, which the signature has just
/// authenticated, and its verified signers): the sequence every verifying
/// loader (lucet-wasi, lucet-serve, lucet-embed, the containerd shim) runs
/// before wasmtime sees an image, kept in one place. A policy in audit mode
/// is enforced here: this caller has no way to report what it would let
/// through ([`read_verified_audited`] has).
///
/// # Errors
///
/// Whatever reading and verifying refuses, and the policy's refusal.
pub fn read_verified_checked<S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
    policy: &Policy,
    limits: ReadLimits,
) -> Result<VerifiedArtifact<SealedImage>, Error> {
    let verified = lucet_artifact::read_verified_into::<SealedImage, S>(source, keys, limits)?;
    policy.check_enforced(&verified, lucet_artifact::unix_now())?;
    Ok(verified)
}

/// A verified artifact and, when its policy is in audit mode, what the
/// policy would have refused in enforce mode (each naming its rule).
#[derive(Debug)]
pub struct Checked<I> {
    /// The verified artifact.
    pub artifact: VerifiedArtifact<I>,
    /// Refusals audit mode let through: report each.
    pub audit_findings: Vec<lucet_artifact::Error>,
}

/// [`read_verified_checked`] for a caller that reports what an audit-mode
/// policy lets through. Policy rules on key validity use the current time.
pub fn read_verified_audited<S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
    policy: &Policy,
    limits: ReadLimits,
) -> Result<Checked<SealedImage>, Error> {
    let artifact = lucet_artifact::read_verified_into::<SealedImage, S>(source, keys, limits)?;
    let audit_findings = policy.check(&artifact, lucet_artifact::unix_now())?;
    Ok(Checked {
        artifact,
        audit_findings,
    })
}

/// Loads an artifact that [`lucet_artifact::read_verified`] (image in
/// memory) or [`lucet_artifact::read_verified_into`] (image in a
/// [`SealedImage`]) verified, for callers that also want the verified
/// metadata themselves.
pub fn load_verified_artifact<I: EngineImage>(
    verified: lucet_artifact::VerifiedArtifact<I>,
    options: LoadOptions,
) -> Result<LoadedArtifact, Error> {
    let provenance = Provenance::Verified {
        signer: verified.signer(),
    };
    let (image, metadata) = verified.into_image();
    load_image(image, metadata, provenance, options)
}

/// Reads and loads an artifact, signed or not, WITHOUT verifying anything:
/// whoever can write the file controls the code that runs.
pub fn load_unverified<S: ArtifactSource + ?Sized>(
    source: &S,
    options: LoadOptions,
) -> Result<LoadedArtifact, Error> {
    let artifact =
        lucet_artifact::read_unverified_into::<SealedImage, S>(source, options.read_limits)?;
    load_unverified_artifact(artifact, options)
}

/// Loads an artifact read by [`lucet_artifact::read_unverified`] (or
/// `read_unverified_into`), WITHOUT verification: see [`load_unverified`].
pub fn load_unverified_artifact<I: EngineImage>(
    artifact: lucet_artifact::UnverifiedArtifact<I>,
    options: LoadOptions,
) -> Result<LoadedArtifact, Error> {
    load_image(
        artifact.image,
        artifact.metadata,
        Provenance::Unverified,
        options,
    )
}

fn load_image<I: EngineImage>(
    image: I,
    metadata: Metadata,
    provenance: Provenance,
    options: LoadOptions,
) -> Result<LoadedArtifact, Error> {
    let settings = check_metadata(&metadata)?;
    let kind = CodeKind::of(metadata.kind)?;
    let engine = Engine::new(&runner_config(&settings, options)?).map_err(Error::Load)?;
    let code = image.into_code(&engine, kind)?;
    Ok(Loaded {
        code,
        engine,
        metadata,
        settings,
        provenance,
        options,
    })
}

/// Checks that this host can run an image with `metadata` (engine, target,
/// CPU features) and returns its recorded engine settings.
pub(crate) fn check_metadata(metadata: &Metadata) -> Result<EngineSettings, Error> {
    if metadata.engine != ENGINE {
        return Err(Error::EngineMismatch {
            artifact: metadata.engine.clone(),
            runtime: ENGINE.to_string(),
        });
    }
    let host = host_triple();
    if metadata.target != host {
        return Err(Error::TargetMismatch {
            artifact: metadata.target.clone(),
            host,
        });
    }
    let missing = missing_on_host(&metadata.cpu);
    if !missing.is_empty() {
        return Err(Error::MissingCpuFeatures {
            missing: missing.join(","),
        });
    }
    EngineSettings::from_metadata_value(&metadata.settings)
}

/// The runner's engine configuration for images recorded with `settings`.
pub(crate) fn runner_config(
    settings: &EngineSettings,
    options: LoadOptions,
) -> Result<wasmtime::Config, Error> {
    let mut config = engine_config(settings)?;
    config
        .max_wasm_stack(options.max_wasm_stack)
        // Guests run on a fiber stack of this size (see `run`).
        .async_stack_size(options.max_wasm_stack.max(2 << 20) + HOST_STACK_MARGIN);
    Ok(config)
}
