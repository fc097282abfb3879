//! Compiling WebAssembly to an engine image, and wrapping it in an artifact.

use std::borrow::Cow;

use lucet_artifact::{ArtifactKind, Metadata};
use lucet_signature::{KeyId, Prehash, SecretKey};
use wasmtime::Engine;

use crate::engine::engine_config;
use crate::settings::{CpuFeatures, EngineSettings, OptLevel, TargetCpu};
use crate::{ENGINE, Error, host_triple};

/// How to compile.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// Settings recorded in the artifact and matched at load time.
    pub settings: EngineSettings,
    /// Target triple; `None` means this host.
    pub target: Option<String>,
    /// Starting set of CPU features.
    pub target_cpu: TargetCpu,
    /// `+name` / `-name` adjustments to it.
    pub target_features: Vec<String>,
}

/// An engine image and what it was compiled for.
#[derive(Debug)]
pub struct CompiledImage {
    /// Exactly what wasmtime's `precompile_module` (for a core module) or
    /// `precompile_component` (for a component) produced.
    pub image: Vec<u8>,
    /// What the source was, so what the image holds.
    pub kind: ArtifactKind,
    /// Target triple.
    pub target: String,
    /// Resolved CPU features.
    pub cpu: CpuFeatures,
}

/// The WebAssembly binary in `source`: binary input as is, text translated
/// unless `translate_wat` is off. Detection is by content (the `\0asm` magic).
pub fn wasm_binary(source: &[u8], translate_wat: bool) -> Result<Cow<'_, [u8]>, Error> {
    if source.starts_with(b"\0asm") {
        return Ok(Cow::Borrowed(source));
    }
    if !translate_wat {
        return Err(Error::InvalidInput(
            "input is not a WebAssembly binary (no \\0asm magic), and translating text was not asked for".into(),
        ));
    }
    wat::parse_bytes(source).map_err(|e| {
        Error::InvalidInput(format!(
            "input is neither a WebAssembly binary nor valid WebAssembly text: {}",
            e.to_string().replace('\n', " ")
        ))
    })
}

/// Refuses, by name, a target whose Cranelift backend this build left out:
/// the `compiler` feature builds the x86-64 and aarch64 backends only (the
/// others double the build time), and wasmtime's own message for the rest
/// is "Support for this target is disabled".
fn check_backend_built(arch: &str, target: &str) -> Result<(), Error> {
    if cfg!(feature = "all-targets") || matches!(arch, "x86_64" | "aarch64") {
        return Ok(());
    }
    Err(Error::InvalidSetting(format!(
        "target `{target}`: this build compiles for x86_64 and aarch64 only; build it with the `all-targets` cargo feature for {arch}"
    )))
}

/// Compiles a WebAssembly binary, a core module or a component
/// ([`ArtifactKind::of_wasm`]), to an engine image.
pub fn compile(wasm: &[u8], options: &CompileOptions) -> Result<CompiledImage, Error> {
    let host = host_triple();
    let target = options.target.clone().unwrap_or_else(|| host.clone());
    let arch = target.split('-').next().unwrap_or_default();
    check_backend_built(arch, &target)?;
    let cpu = CpuFeatures::resolve(
        arch,
        target == host,
        options.target_cpu,
        &options.target_features,
    )?;
    let mut config = engine_config(&options.settings)?;
    config.target(&target).map_err(|source| Error::Target {
        target: target.clone(),
        source,
    })?;
    config
        .cranelift_opt_level(match options.settings.opt_level {
            OptLevel::None => wasmtime::OptLevel::None,
            OptLevel::Speed => wasmtime::OptLevel::Speed,
            OptLevel::SpeedAndSize => wasmtime::OptLevel::SpeedAndSize,
        })
        .parallel_compilation(true);
    for flag in cpu.cranelift_flags() {
        // SAFETY: `flag` comes from the fixed table of Cranelift ISA feature
        // flags in `settings.rs`; enabling one only lets Cranelift use those
        // instructions. Running the result on a CPU without them is prevented
        // at load: the runner checks the recorded `cpu=` features, and
        // wasmtime checks the image's ISA flags against the host.
        #[allow(unsafe_code)]
        unsafe {
            config.cranelift_flag_enable(flag);
        }
    }
    let engine = Engine::new(&config).map_err(Error::Engine)?;
    let kind = ArtifactKind::of_wasm(wasm);
    let image = match kind {
        ArtifactKind::Component => engine.precompile_component(wasm),
        _ => engine.precompile_module(wasm),
    }
    .map_err(Error::Compile)?;
    Ok(CompiledImage {
        image,
        kind,
        target,
        cpu,
    })
}

/// Where the source came from, for the artifact's metadata.
#[derive(Debug, Clone)]
pub struct SourceProvenance {
    /// BLAKE2b-512 of the source file as read.
    pub prehash: Prehash,
    /// Key whose signature over the source verified, if any.
    pub signer: Option<KeyId>,
}

/// What an artifact says of itself beyond its image: recorded in its
/// (signed) metadata.
#[derive(Debug, Clone)]
pub struct ArtifactLabel {
    /// The module's name: what the signature is for.
    pub name: String,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// Free text from the signer.
    pub comment: Option<String>,
}

/// Wraps a compiled image in an artifact, signed when `signer` is given.
pub fn encode_artifact(
    compiled: &CompiledImage,
    settings: &EngineSettings,
    source: &SourceProvenance,
    label: ArtifactLabel,
    signer: Option<&SecretKey>,
) -> Result<Vec<u8>, Error> {
    let image_prehash = Prehash::of(&compiled.image);
    let metadata = Metadata {
        kind: compiled.kind,
        name: label.name,
        image_len: compiled.image.len() as u64,
        image_blake2b: image_prehash,
        source_blake2b: source.prehash,
        source_key: source.signer,
        engine: ENGINE.to_string(),
        target: compiled.target.clone(),
        cpu: compiled.cpu.to_metadata_value(),
        settings: settings.to_metadata_value(),
        timestamp: label.timestamp,
        comment: label.comment,
    };
    let bytes = match signer {
        Some(key) => {
            lucet_artifact::encode_signed(&compiled.image, &metadata, &image_prehash, key)?
        }
        None => lucet_artifact::encode_unsigned(&compiled.image, &metadata, &image_prehash)?,
    };
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_error_keeps_wasmtime_s_reason_as_its_source() {
        // A function type section cut short.
        let error = compile(
            b"\0asm\x01\0\0\0\x01\x04\x01\x60",
            &CompileOptions::default(),
        )
        .expect_err("invalid wasm");
        assert!(matches!(error, Error::Compile(_)), "{error:?}");
        assert_eq!(error.to_string(), "compilation failed");
        let reason = std::error::Error::source(&error).expect("a source");
        let chain = std::iter::successors(Some(reason), |cause| cause.source())
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(": ");
        assert!(chain.contains("offset"), "{chain}");
    }

    #[test]
    fn components_are_told_from_modules_by_their_header() {
        let module = wasm_binary(b"(module)", true).expect("module");
        assert_eq!(ArtifactKind::of_wasm(&module), ArtifactKind::Module);
        let component = wasm_binary(b"(component)", true).expect("component");
        assert_eq!(ArtifactKind::of_wasm(&component), ArtifactKind::Component);
        let compiled = compile(&component, &CompileOptions::default()).expect("compile");
        assert_eq!(compiled.kind, ArtifactKind::Component);
    }

    #[test]
    fn targets_without_a_built_backend_are_refused_by_name() {
        assert!(check_backend_built("x86_64", "x86_64-unknown-linux-gnu").is_ok());
        assert!(check_backend_built("aarch64", "aarch64-unknown-linux-gnu").is_ok());
        let refused = check_backend_built("s390x", "s390x-unknown-linux-gnu");
        if cfg!(feature = "all-targets") {
            assert!(refused.is_ok());
        } else {
            let message = refused.expect_err("s390x is not built").to_string();
            assert!(message.contains("all-targets"), "{message}");
        }
    }
}
