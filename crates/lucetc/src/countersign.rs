//! `--countersign ARTIFACT`: one more signature over the same image, in a
//! role, after the artifact's own signature has verified.

use std::path::Path;

use anyhow::{Context, Result, bail};
use lucet_artifact::Countersignature;
use lucet_signature::file::Durability;
use lucetc::cli::Args;

use crate::keys::{self, SecretKeyPath};
use crate::output::{self, write_atomically};

/// Counter-signs `artifact` with `--signature-sk` in `--role`, to `-o` or
/// in place.
pub fn run(args: &Args, artifact: &Path) -> Result<()> {
    let Some(secret) = args.signature_sk.as_deref() else {
        // `Args::check` refused this as a usage error already.
        bail!("--countersign needs -s/--signature-sk KEY to sign with");
    };
    let Some(trusted) = keys::trusted_keys(args)? else {
        bail!("--countersign verifies ARTIFACT first: give -p/--signature-pk KEY");
    };
    let line = Countersignature {
        role: args.role.clone(),
        timestamp: crate::compile::timestamp()?,
    };
    lucet_artifact::check_role(&line.role).context("--role")?;
    let output = args.output.as_deref().unwrap_or(artifact);
    output::refuse_overwriting_inputs(output, args)?;
    let bytes = read_capped(artifact, args.max_artifact_size)?;
    // The same verified read a runner makes: only a signature that holds
    // is vouched for.
    let limits = lucet_artifact::ReadLimits {
        max_image_len: args.max_artifact_size,
    };
    let verified = lucet_artifact::read_verified(bytes.as_slice(), &trusted, limits)
        .with_context(|| artifact.display().to_string())?;
    let signer = keys::open_secret_key(&SecretKeyPath::parse(secret))?;
    let countersigned = lucet_artifact::countersign(&bytes, &verified, &signer, &line)
        .with_context(|| artifact.display().to_string())?;
    write_atomically(output, &countersigned, Durability::Synced)?;
    eprintln!(
        "{} counter-signed by key {} as {}",
        output.display(),
        signer.key_id(),
        line.role
    );
    Ok(())
}

/// The whole artifact, refused before reading when its image could exceed
/// `max_image_len` (a block and footer add at most 64 KiB).
fn read_capped(path: &Path, max_image_len: u64) -> Result<Vec<u8>> {
    let max = max_image_len.saturating_add(lucet_artifact::MAX_BLOCK_LEN as u64 + 16);
    Ok(lucet_signature::read_capped(path, max)?)
}
