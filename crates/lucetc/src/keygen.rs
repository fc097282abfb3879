//! `--signature-keygen`: make a key pair.

use anyhow::{Result, bail};
use lucet_signature::KdfCost;
use lucetc::cli::Args;

use crate::keys::{self, SecretKeyPath};

/// Writes a new key pair at `--signature-sk` and `--signature-pk`.
pub fn run(args: &Args) -> Result<()> {
    if let Some(input) = &args.input {
        bail!(
            "--signature-keygen only makes keys; drop the input {}",
            input.display()
        );
    }
    let Some(secret) = args.signature_sk.as_deref() else {
        bail!("--signature-keygen needs --signature-sk FILE and --signature-pk FILE");
    };
    let [public] = args.signature_pk.as_slice() else {
        bail!(
            "--signature-keygen needs exactly one --signature-pk FILE to write the public key to"
        );
    };
    let cost = if args.insecure_cheap_kdf {
        KdfCost::TESTING
    } else {
        KdfCost::MINISIGN
    };
    keys::generate_key_pair(&SecretKeyPath::parse(secret), public, args.force, cost)
}
