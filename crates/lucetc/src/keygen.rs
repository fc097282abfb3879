//! `--signature-keygen`: make a key pair and show its public key.

use anyhow::{Result, bail};
use lucet_signature::KdfCost;
use lucetc::cli::Args;

use crate::keys::{self, SecretKeyPath};

/// Writes a new key pair at `--signature-sk` and `--signature-pk`.
pub fn run(args: &Args) -> Result<()> {
    // `Args::check` refused the rest as usage errors; these cannot happen.
    let (Some(secret), [public]) = (args.signature_sk.as_deref(), args.signature_pk.as_slice())
    else {
        bail!("--signature-keygen needs -s/--signature-sk FILE and one -p/--signature-pk FILE");
    };
    let cost = if args.insecure_cheap_kdf {
        KdfCost::TESTING
    } else {
        KdfCost::MINISIGN
    };
    keys::generate_key_pair(&SecretKeyPath::parse(secret), public, args.force, cost)
}
