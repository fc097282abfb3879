//! `--verify-rebuild ARTIFACT INPUT`: recompile INPUT as ARTIFACT records
//! and compare the engine images.

use std::path::Path;

use anyhow::{Result, bail};
use lucet_runtime::rebuild::Rebuild;
use lucet_signature::Prehash;
use lucetc::cli::Args;

use crate::provenance::{self, Recorded};

/// Rebuilds INPUT as `artifact` records and says whether the images match.
pub fn run(args: &Args, artifact: &Path) -> Result<()> {
    let Some(input) = args.input.as_deref() else {
        bail!("--verify-rebuild ARTIFACT needs the INPUT to rebuild");
    };
    let recorded = provenance::read_existing(args, artifact, "check")?;
    verify_rebuild(recorded, input, !args.no_translate_wat, args.max_input_size)
}

/// `--verify-rebuild`: recompile `input` (at most `max_input_len` bytes) as
/// recorded and compare.
fn verify_rebuild(
    recorded: Recorded,
    input: &Path,
    translate_wat: bool,
    max_input_len: u64,
) -> Result<()> {
    let source = crate::source::read_capped(input, max_input_len)?;
    let prehash = Prehash::of(&source);
    let authenticity = if recorded.verified {
        "verified"
    } else {
        "UNAUTHENTICATED"
    };
    if prehash == recorded.metadata.source_blake2b {
        eprintln!(
            "source matches the artifact's recorded source-blake2b ({authenticity} metadata)"
        );
    } else {
        eprintln!(
            "source differs from the artifact's recorded source-blake2b ({authenticity} metadata)"
        );
    }
    let wasm = crate::source::wasm_binary(input, &source, translate_wat)?;
    match lucet_runtime::rebuild::rebuild(&wasm, &recorded.metadata, &recorded.image)? {
        Rebuild::Identical { len } => {
            println!(
                "rebuild matches: the {len}-byte engine image is identical ({authenticity} metadata)"
            );
            Ok(())
        }
        Rebuild::Differs { offset, section } => bail!(
            "rebuild differs from the artifact's engine image (first at byte {offset}): {}",
            section.map_or_else(
                || "only the ELF headers differ".to_string(),
                |name| format!("first differing section is {name}")
            )
        ),
    }
}
