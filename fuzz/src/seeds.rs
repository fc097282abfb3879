//! Seed inputs, generated rather than written by hand.
//!
//! `cargo run --example write_seeds` (from `fuzz/`) writes these into
//! `corpus/<target>/`, as `seed-<name>` or, for inputs that once made a
//! target fail, under their `regression-` name. Everything is deterministic: the signing
//! key comes from a constant seed and Ed25519 signatures are deterministic,
//! so regenerating gives the same bytes.
//!
//! Besides the minisign fixtures, the artifact seeds are real artifacts made
//! with `encode_signed` / `encode_unsigned` over a small fake engine image,
//! so mutations start from inputs that pass the footer, block, canonical
//! form and key selection checks and reach hashing and verification.

use lucet_artifact::{
    Footer, Kind, MAGIC, Metadata, SIGNATURE_UNTRUSTED_COMMENT, encode_signed, encode_unsigned,
};
use lucet_signature::{Prehash, SecretKey};

use crate::{fixtures, fuzz_secret_key};

/// Trusted comment of the fuzzing key's signature over [`fixtures::DATA`].
pub const FUZZ_SIGNATURE_TRUSTED_COMMENT: &str = "timestamp:1700000000\tfile:data.txt\tfuzz key";

/// Prefix of the names of inputs that once made a target fail: kept so the
/// replay in CI guards the fix. They are refused by the parsers now.
pub const REGRESSION_PREFIX: &str = "regression-";

/// One seed input of one target.
#[derive(Debug, Clone)]
pub struct Seed {
    /// Name of the fuzz target (a directory under `corpus/`).
    pub target: &'static str,
    /// File name, without the `seed-` prefix.
    pub name: String,
    /// The input.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: &str, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: name.to_string(),
        bytes: bytes.into(),
    }
}

/// A fake engine image: not an ELF, just bytes of every value.
fn fake_image(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

/// Metadata of `image` as lucetc writes it, naming the fuzzing key as the
/// source's signer when `source_key`.
fn metadata_for(image: &[u8], source_key: bool) -> Metadata {
    Metadata {
        source_key: source_key.then(|| fuzz_secret_key().key_id()),
        ..Metadata::sample("seed", image, b"(module)")
    }
}

/// The Lucet legacy raw key form of `key`: the 158-byte structure, not
/// base64-encoded, tagged `Sc` although it is cleartext, with a zero
/// salt, zero limits and a zero checksum.
fn lucet_raw_key(key: &SecretKey, seed: &[u8; 32]) -> Vec<u8> {
    let mut out = b"EdScB2".to_vec();
    out.extend_from_slice(&[0u8; 32 + 8 + 8]);
    out.extend_from_slice(key.key_id().as_bytes());
    out.extend_from_slice(seed);
    out.extend_from_slice(key.public_key().ed25519_bytes());
    out.extend_from_slice(&[0u8; 32]);
    out
}

/// All seeds of all targets.
pub fn all() -> Vec<Seed> {
    let key = fuzz_secret_key();
    let mut seeds = signature_seeds(key);
    seeds.extend(key_seeds(key));
    seeds.extend(artifact_seeds(key));
    seeds.extend(regressions());
    seeds
}

/// signature: minisign's own, with the line-end variants the parser
/// accepts, one by the fuzzing key, and an artifact's signature block.
fn signature_seeds(key: &SecretKey) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (name, text) in fixtures::SIGNATURES {
        seeds.push(seed("signature", name, text));
    }
    let (_, prehashed) = fixtures::SIGNATURES[0];
    let crlf = String::from_utf8_lossy(prehashed).replace('\n', "\r\n");
    seeds.push(seed("signature", "data.txt.minisig-crlf", crlf.as_bytes()));
    seeds.push(seed(
        "signature",
        "data.txt.minisig-no-final-lf",
        prehashed.strip_suffix(b"\n").unwrap_or(prehashed),
    ));
    let fuzz_signature = key
        .sign_prehashed(
            &Prehash::of(fixtures::DATA),
            FUZZ_SIGNATURE_TRUSTED_COMMENT,
            SIGNATURE_UNTRUSTED_COMMENT,
        )
        .expect("comments within limits");
    seeds.push(seed(
        "signature",
        "data.txt.fuzz-key.minisig",
        fuzz_signature.to_text(),
    ));
    seeds
}

/// public_key: both text forms; secret_key: minisign's three kinds, ours,
/// and the Lucet raw form.
fn key_seeds(key: &SecretKey) -> Vec<Seed> {
    let mut seeds = Vec::new();
    for (name, text) in fixtures::PUBLIC_KEYS {
        seeds.push(seed("public_key", name, text));
    }
    let public = key.public_key();
    seeds.push(seed("public_key", "fuzz-key.pub", public.to_box()));
    seeds.push(seed(
        "public_key",
        "fuzz-key.base64",
        format!("{}\n", public.to_base64()),
    ));
    for (name, text) in fixtures::SECRET_KEYS {
        seeds.push(seed("secret_key", name, text));
    }
    seeds.push(seed(
        "secret_key",
        "fuzz-key.key",
        key.to_unencrypted_box().as_bytes(),
    ));
    seeds.push(seed(
        "secret_key",
        "fuzz-key.lucet-raw",
        lucet_raw_key(key, &crate::FUZZ_KEY_SEED),
    ));
    seeds
}

/// artifact and metadata: real artifacts over a few fake images, including
/// an empty one and one holding a footer look-alike.
fn artifact_seeds(key: &SecretKey) -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut footer_inside = fake_image(48);
    footer_inside.extend_from_slice(MAGIC);
    footer_inside.extend_from_slice(&[1, 0, 1, 0, 8, 0, 0, 0]);
    let images = [
        ("small", fake_image(64)),
        ("empty", Vec::new()),
        ("footer-inside", footer_inside),
    ];
    for (index, (name, image)) in images.iter().enumerate() {
        let mut metadata = metadata_for(image, index == 0);
        let prehash = metadata.image_blake2b;
        if index == 0 {
            // Reaches the percent-escaping of the optional `comment=` field.
            metadata.comment = Some("release 1.2 \u{2014} 100% reproducible\tby CI".into());
        }
        let signed = encode_signed(image, &metadata, &prehash, key).expect("encode signed");
        let unsigned = encode_unsigned(image, &metadata, &prehash).expect("encode unsigned");
        seeds.push(seed("artifact", &format!("signed-{name}"), signed));
        seeds.push(seed("artifact", &format!("unsigned-{name}"), unsigned));
        if index < 2 {
            let line = metadata.to_line().expect("metadata encodes");
            seeds.push(seed("metadata", &format!("line-{name}"), line));
        }
    }
    seeds
}

/// Inputs the fuzzers found failing (and their siblings from the root
/// cause), fixed in `lucet-artifact`: `Metadata::parse` accepted spellings
/// that `to_line` never writes (a timestamp with leading zeros or a `+`, a
/// lowercase source key id, a line over the 4077-byte limit, a `comment=`
/// holding raw bytes that `to_line` percent-escapes), so an artifact could
/// be re-spelled and still read.
fn regressions() -> Vec<Seed> {
    let image = fake_image(64);
    let metadata = metadata_for(&image, true);
    let line = metadata.to_line().expect("metadata encodes");
    let key_id = fuzz_secret_key().key_id().to_string();
    let variants = [
        (
            "timestamp-leading-zero",
            line.replacen(" timestamp=", " timestamp=0", 1),
        ),
        (
            "timestamp-plus",
            line.replacen(" timestamp=", " timestamp=+", 1),
        ),
        (
            "source-key-lowercase",
            line.replacen(&key_id, &key_id.to_lowercase(), 1),
        ),
        (
            "comment-raw-bytes",
            format!("{line} comment=caf\u{e9}\t\u{1b}[2J"),
        ),
        (
            "too-long",
            line.replacen(" cpu=baseline", &format!(" cpu={}", "x".repeat(4000)), 1),
        ),
    ];
    let mut seeds = Vec::new();
    for (name, variant) in variants {
        let block = format!("{variant}\n");
        let footer = Footer {
            kind: Kind::Unsigned,
            block_len: u32::try_from(block.len()).expect("short block"),
        };
        let mut artifact = image.clone();
        artifact.extend_from_slice(block.as_bytes());
        artifact.extend_from_slice(&footer.encode());
        let name = format!("{REGRESSION_PREFIX}{name}");
        seeds.push(seed("metadata", &name, variant));
        seeds.push(seed("artifact", &format!("{name}-unsigned"), artifact));
    }
    seeds
}
