//! Rebuild check: recompile a source with the settings an artifact records
//! and compare the result with its engine image, byte for byte.
//!
//! wasmtime's output is deterministic for the same input, settings and
//! compiler, and the metadata records the *resolved* CPU features, so an
//! honest mismatch means a different source, different settings or a
//! different compiler.

use lucet_artifact::{ArtifactKind, Metadata};

use crate::Error;
use crate::compile::{CompileOptions, compile};
use crate::settings::{EngineSettings, TargetCpu};

/// The compile options an artifact's metadata records.
pub fn options_from_metadata(metadata: &Metadata) -> Result<CompileOptions, Error> {
    let target_features = if metadata.cpu == "baseline" {
        Vec::new()
    } else {
        metadata.cpu.split(',').map(str::to_string).collect()
    };
    Ok(CompileOptions {
        settings: EngineSettings::from_metadata_value(&metadata.settings)?,
        target: Some(metadata.target.clone()),
        target_cpu: TargetCpu::Baseline,
        target_features,
    })
}

/// How a rebuild compared with the artifact's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebuild {
    /// The rebuilt image is identical.
    Identical {
        /// Image length in bytes.
        len: usize,
    },
    /// The images differ, first at `offset`.
    Differs {
        /// First differing byte offset.
        offset: usize,
        /// The first ELF section (in file order) whose contents differ, if any.
        section: Option<String>,
    },
}

/// Recompiles `wasm` with `metadata`'s settings and compares with `image`.
/// A source of another kind than the artifact records (a core module for a
/// component, or the reverse) is refused by name before compiling.
pub fn rebuild(wasm: &[u8], metadata: &Metadata, image: &[u8]) -> Result<Rebuild, Error> {
    let source_kind = ArtifactKind::of_wasm(wasm);
    if source_kind != metadata.kind {
        return Err(Error::InvalidInput(format!(
            "the source is a {}, but the artifact holds a {}: it cannot rebuild it",
            describe(source_kind),
            describe(metadata.kind)
        )));
    }
    let rebuilt = compile(wasm, &options_from_metadata(metadata)?)?.image;
    let offset = image
        .iter()
        .zip(&rebuilt)
        .position(|(a, b)| a != b)
        .or((image.len() != rebuilt.len()).then(|| image.len().min(rebuilt.len())));
    Ok(match offset {
        None => Rebuild::Identical { len: image.len() },
        Some(offset) => Rebuild::Differs {
            offset,
            section: first_differing_section(image, &rebuilt),
        },
    })
}

/// The first section, in the artifact image's file order, whose contents
/// differ from the same-named section of the rebuilt image (or that the
/// rebuilt image lacks). `None` if every section matches (only headers differ)
/// or the image is not ELF.
fn first_differing_section(image: &[u8], rebuilt: &[u8]) -> Option<String> {
    use object::read::elf::ElfFile64;
    use object::{Object, ObjectSection};
    let original = ElfFile64::<object::Endianness>::parse(image).ok()?;
    let rebuilt = ElfFile64::<object::Endianness>::parse(rebuilt).ok()?;
    let mut sections: Vec<_> = original.sections().collect();
    sections.sort_by_key(|section| section.file_range().map_or(u64::MAX, |(start, _)| start));
    sections.into_iter().find_map(|section| {
        let name = section.name().unwrap_or("?");
        let same = rebuilt
            .section_by_name(name)
            .is_some_and(|other| other.data().ok() == section.data().ok());
        (!same).then(|| name.to_string())
    })
}

/// A kind as a sentence names it.
fn describe(kind: ArtifactKind) -> String {
    match kind {
        ArtifactKind::Module => "core module".to_string(),
        other => other.to_string(),
    }
}
