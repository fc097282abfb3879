//! `--resign ARTIFACT`: the same image and metadata under a new signature.

use std::path::Path;

use anyhow::{Result, bail};
use lucet_signature::file::Durability;
use lucet_signature::{Prehash, SecretKey};
use lucetc::cli::Args;

use crate::keys::{self, SecretKeyPath};
use crate::output::{self, write_atomically};
use crate::provenance::{self, Recorded};

/// Re-signs `artifact` with `--signature-sk`, to `-o` or in place.
pub fn run(args: &Args, artifact: &Path) -> Result<()> {
    let Some(secret) = args.signature_sk.as_deref() else {
        // `Args::check` refused this as a usage error already.
        bail!("--resign needs -s/--signature-sk KEY to sign with");
    };
    let output = args.output.as_deref().unwrap_or(artifact);
    output::refuse_overwriting_inputs(output, args)?;
    let old = provenance::read_existing(args, artifact, "re-sign")?;
    let signer = keys::open_secret_key(&SecretKeyPath::parse(secret))?;
    resign(old, &signer, output)
}

/// `--resign`: the same image and metadata under a new signature.
///
/// Metadata read without verification is vouched for only as far as the
/// re-signer can: the source signer it names is dropped (`source-key=none`),
/// so a forged `source-key` in an unsigned artifact cannot become trusted
/// provenance that `--require-source-key` accepts.
fn resign(recorded: Recorded, signer: &SecretKey, output: &Path) -> Result<()> {
    let mut metadata = recorded.metadata;
    if !recorded.verified && metadata.source_key.take().is_some() {
        eprintln!(
            "warning: dropped the unverified artifact's source-key: re-signing cannot vouch for who signed its source"
        );
    }
    let prehash = Prehash::of(&recorded.image);
    let bytes = lucet_artifact::encode_signed(&recorded.image, &metadata, &prehash, signer)?;
    write_atomically(output, &bytes, Durability::Synced)?;
    eprintln!(
        "{} re-signed with key {}",
        output.display(),
        signer.key_id()
    );
    Ok(())
}
