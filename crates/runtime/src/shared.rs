//! One engine for many artifacts, for embedders such as servers.
//!
//! [`load_verified`](crate::load_verified) builds an engine per artifact from
//! the settings the artifact records. A host that runs many modules wants one
//! engine instead — one pooling allocator, one epoch counter — so it fixes
//! the settings up front in a [`SharedEngine`] and loads each verified
//! artifact into it with [`load_verified_into`]. An artifact whose recorded
//! settings differ from the engine's is refused by name
//! ([`Error::SettingsMismatch`]) before wasmtime sees its image; wasmtime's
//! own compatibility check at deserialization stays as a second line.
//!
//! The configuration is the one [`load_verified`](crate::load_verified) uses
//! (the same `engine_config` as the compiler); the embedder may add to it
//! what does not change how code was compiled, typically an instance
//! allocation strategy. There is no unverified counterpart here.
//!
//! [`run`](crate::run) advances the engine's epoch to enforce its timeout,
//! which on a shared engine would also interrupt other stores that wait on
//! an epoch deadline: an embedder ticks the epoch regularly and gives each
//! store its own deadline instead ([`Deadline::At`](crate::Deadline::At), as
//! lucet-embed does).

use lucet_artifact::{ArtifactSource, VerifiedArtifact};
use lucet_signature::PublicKeySet;
use wasmtime::{Config, Engine};

use crate::Error;
use crate::image::{CodeKind, EngineImage, SealedImage};
use crate::load::{LoadOptions, Loaded, LoadedArtifact, Provenance, check_metadata, runner_config};
use crate::settings::EngineSettings;

/// An engine built once, from fixed settings, to load many artifacts into.
#[derive(Clone, Debug)]
pub struct SharedEngine {
    engine: Engine,
    settings: EngineSettings,
    options: LoadOptions,
}

impl SharedEngine {
    /// Builds an engine for artifacts compiled with `settings` (their
    /// `opt_level` may differ: it does not affect loading).
    ///
    /// `customize` receives the runner's configuration before the engine is
    /// built, to add what the embedder needs, e.g.
    /// `config.allocation_strategy(InstanceAllocationStrategy::Pooling(..))`.
    /// Changing settings that images depend on (memory reservation, guard
    /// sizes, epoch interruption, wasm features) only makes every load fail.
    ///
    /// # Errors
    ///
    /// [`Error::Engine`] when wasmtime refuses the configuration (for
    /// instance a pool larger than the address space).
    pub fn new(
        settings: EngineSettings,
        options: LoadOptions,
        customize: impl FnOnce(&mut Config),
    ) -> Result<SharedEngine, Error> {
        let mut config = runner_config(&settings, options)?;
        customize(&mut config);
        let engine = Engine::new(&config).map_err(Error::Engine)?;
        Ok(SharedEngine {
            engine,
            settings,
            options,
        })
    }

    /// The wasmtime engine (cheap to clone).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The settings every artifact loaded into this engine was compiled with.
    pub fn settings(&self) -> EngineSettings {
        self.settings
    }

    /// The limits the engine was built with.
    pub fn options(&self) -> LoadOptions {
        self.options
    }

    /// Whether an artifact recorded with `artifact` settings can load here.
    fn accepts(&self, artifact: &EngineSettings) -> bool {
        artifact.interruptible == self.settings.interruptible
            && artifact.memory_reservation == self.settings.memory_reservation
            && artifact.memory_guard_size == self.settings.memory_guard_size
    }
}

/// The settings that must match, as the message shows them.
fn loading_settings(settings: &EngineSettings) -> String {
    format!(
        "epoch:{},reserve:{},guard:{}",
        u8::from(settings.interruptible),
        settings.memory_reservation,
        settings.memory_guard_size
    )
}

/// Reads, verifies and loads a signed artifact (a core module or a
/// component, as its metadata's `kind` says) into `shared`: like
/// [`load_verified`](crate::load_verified), with the engine given instead of
/// built for the artifact.
///
/// # Errors
///
/// Everything [`load_verified`](crate::load_verified) refuses, and
/// [`Error::SettingsMismatch`] for an artifact compiled with other settings.
pub fn load_verified_into<S: ArtifactSource + ?Sized>(
    shared: &SharedEngine,
    source: &S,
    keys: &PublicKeySet,
) -> Result<LoadedArtifact, Error> {
    let verified = lucet_artifact::read_verified_into::<SealedImage, S>(
        source,
        keys,
        shared.options.read_limits,
    )?;
    load_verified_artifact_into(shared, verified)
}

/// Loads into `shared` an artifact that [`lucet_artifact::read_verified`] or
/// [`lucet_artifact::read_verified_into`] verified, for callers that check
/// the verified metadata themselves first (a deployment policy, say).
///
/// # Errors
///
/// As [`load_verified_into`], less the reading and verification.
pub fn load_verified_artifact_into<I: EngineImage>(
    shared: &SharedEngine,
    verified: VerifiedArtifact<I>,
) -> Result<LoadedArtifact, Error> {
    let settings = check_metadata(verified.metadata())?;
    let kind = CodeKind::of(verified.metadata().kind)?;
    if !shared.accepts(&settings) {
        return Err(Error::SettingsMismatch {
            artifact: loading_settings(&settings),
            engine: loading_settings(&shared.settings),
        });
    }
    let signer = verified.signer();
    let (image, metadata) = verified.into_image();
    let code = image.into_code(&shared.engine, kind)?;
    Ok(Loaded {
        code,
        engine: shared.engine.clone(),
        metadata,
        settings,
        provenance: Provenance::Verified { signer },
        options: shared.options,
    })
}

#[cfg(all(test, feature = "compiler"))]
mod tests {
    use lucet_signature::{Prehash, PublicKeySet, SecretKey};

    use super::*;
    use crate::LoadedCode;
    use crate::compile::{
        ArtifactLabel, CompileOptions, SourceProvenance, compile, encode_artifact, wasm_binary,
    };

    /// `wat` compiled with the default settings and signed by `key`.
    fn signed_artifact(wat: &str, key: &SecretKey) -> Vec<u8> {
        let wasm = wasm_binary(wat.as_bytes(), true).expect("wat");
        let options = CompileOptions::default();
        let compiled = compile(&wasm, &options).expect("compile");
        let source = SourceProvenance {
            prehash: Prehash::of(wat.as_bytes()),
            signer: None,
        };
        let label = ArtifactLabel {
            name: "app".into(),
            timestamp: 0,
            comment: None,
        };
        encode_artifact(&compiled, &options.settings, &source, label, Some(key)).expect("encode")
    }

    #[test]
    fn a_shared_engine_loads_modules_and_components_by_their_signed_kind() {
        let key = SecretKey::generate().expect("key");
        let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
        let shared = SharedEngine::new(EngineSettings::default(), LoadOptions::default(), |_| {})
            .expect("engine");
        let component = signed_artifact("(component)", &key);
        let loaded = load_verified_into(&shared, component.as_slice(), &keys).expect("component");
        assert!(matches!(loaded.code(), LoadedCode::Component(_)));
        // From its sealed memory file on an engine of its own, too.
        let alone = crate::load_verified(component.as_slice(), &keys, LoadOptions::default())
            .expect("a component loads on its own engine");
        assert!(matches!(alone.code(), LoadedCode::Component(_)));

        let module = signed_artifact("(module)", &key);
        let loaded = load_verified_into(&shared, module.as_slice(), &keys).expect("a module");
        assert!(matches!(loaded.code(), LoadedCode::Module(_)));
        assert_eq!(loaded.metadata().kind, lucet_artifact::ArtifactKind::Module);
    }
}
