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
//!
//! The component seeds are WebAssembly text, components and WebAssembly 3.0
//! modules, each also assembled with `wat`, so mutation starts from both
//! forms lucetc reads, valid under the engine's features.

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
    seeds.extend(component_seeds());
    seeds.extend(policy_seeds(key));
    seeds.extend(revocation_seeds());
    seeds.extend(regressions());
    seeds
}

/// policy: the documented shape with inline keys (the fuzzing key and a
/// second fixed one), in both modes, and a few refusals to start from.
fn policy_seeds(key: &SecretKey) -> Vec<Seed> {
    let other = SecretKey::from_seed(lucet_signature::KeyId::from_bytes([7; 8]), &[7; 32]);
    let valid = format!(
        "version = 1\nmode = \"enforce\"\n\
         [keys.ci]\nkey = \"{}\"\nroles = [\"compiler\"]\n\
         [keys.security]\nkey = \"{}\"\nroles = [\"security\", \"release\"]\nnot_before = 1767225600\nnot_after = 1830297600\n\
         [artifact]\nsigned_by = [{{ at_least = 2, of = [\"ci\", \"role:security\"] }}]\n\
         min_timestamp = 1767225600\nengines = [\"wasmtime-48.0.8\"]\ntargets = [\"x86_64-unknown-linux-gnu\"]\nname = \"app\"\n\
         [source]\nsigned_by = [\"ci\"]\n",
        key.public_key().to_base64(),
        other.public_key().to_base64()
    );
    vec![
        seed("policy", "enforce", valid.clone()),
        seed("policy", "audit", valid.replace("\"enforce\"", "\"audit\"")),
        seed(
            "policy",
            "newer",
            valid.replace("version = 1", "version = 2"),
        ),
        seed(
            "policy",
            "unknown-role",
            valid.replace("role:security", "role:nobody"),
        ),
        seed(
            "policy",
            "file-key",
            "version = 1\n[keys.ci]\nfile = \"ci.pub\"\nroles = [\"compiler\"]\n",
        ),
    ]
}

/// revocation: a list naming each kind of entry, an empty one, and a few
/// refusals to start from.
fn revocation_seeds() -> Vec<Seed> {
    let hash = "ab".repeat(64);
    let full = format!(
        "version = 1\nserial = 7\nexpires = 1830297600\n\
         keys = [\"B5EC7E8F95D4E4C1\", \"0707070707070707\"]\n\
         images = [\"{hash}\"]\nsources = [\"{hash}\"]\n"
    );
    vec![
        seed("revocation", "full", full.clone()),
        seed(
            "revocation",
            "empty",
            "version = 1\nserial = 1\nexpires = 18446744073709551615\n",
        ),
        seed(
            "revocation",
            "newer",
            full.replace("version = 1", "version = 2"),
        ),
        seed(
            "revocation",
            "uppercase-hash",
            full.replace(&hash, &hash.to_uppercase()),
        ),
    ]
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

/// The smallest command component: `wasi:cli/run` returns success at once.
const COMMAND_COMPONENT: &str = include_str!("../../crates/tests/fixtures/command.wat");

/// A command component shaped like the preview-1 adapter's output, in
/// small: WASI interfaces imported as instances with a resource type, an
/// outer alias of it, `canon lower` with memory and realloc options, a
/// resource drop, and nested core instances.
const WASI_COMPONENT: &str = r#"(component
  (import "wasi:io/streams@0.2.0" (instance $streams
    (export "output-stream" (type $os (sub resource)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $os)) (param "contents" (list u8)) (result (result))))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output-stream (type $os))
    (export "output-stream" (type $out (eq $os)))
    (export "get-stdout" (func (result (own $out))))))
  (core module $libc
    (memory (export "memory") 1)
    (func (export "realloc") (param i32 i32 i32 i32) (result i32) (i32.const 1024)))
  (core instance $libc (instantiate $libc))
  (core func $get-stdout (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower
    (func $streams "[method]output-stream.blocking-write-and-flush")
    (memory (core memory $libc "memory"))
    (realloc (core func $libc "realloc"))))
  (core func $drop (canon resource.drop $output-stream))
  (core module $command
    (import "wasi" "get-stdout" (func $get (result i32)))
    (import "wasi" "write" (func $write (param i32 i32 i32) (result i32)))
    (import "wasi" "drop" (func $drop (param i32)))
    (import "libc" "memory" (memory 1))
    (data (i32.const 16) "Hello, world!\n")
    (func (export "run") (result i32) (local $out i32) (local $failed i32)
      (local.set $out (call $get))
      (local.set $failed (call $write (local.get $out) (i32.const 16) (i32.const 14)))
      (call $drop (local.get $out))
      (local.get $failed)))
  (core instance $wasi
    (export "get-stdout" (func $get-stdout))
    (export "write" (func $write))
    (export "drop" (func $drop)))
  (core instance $command (instantiate $command
    (with "wasi" (instance $wasi))
    (with "libc" (instance $libc))))
  (func $run (result (result)) (canon lift (core func $command "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))
"#;

/// component: WebAssembly text, each also assembled: components (the
/// smallest, one shaped like the adapter's, one nesting a component and a
/// GC module) and core modules (the hello example and the WebAssembly 3.0
/// test fixtures: GC, exception handling, memory64); and bare headers.
fn component_seeds() -> Vec<Seed> {
    let texts: [(&str, &[u8]); 8] = [
        ("empty-component", b"(component)"),
        ("command-component", COMMAND_COMPONENT.as_bytes()),
        ("wasi-component", WASI_COMPONENT.as_bytes()),
        (
            "nested-component",
            br#"(component
  (component $inner
    (core module $gc
      (type $pair (struct (field i32) (field (mut i64))))
      (func (export "f") (result i32)
        (struct.get $pair 0 (struct.new $pair (i32.const 7) (i64.const 8)))))
    (core instance (instantiate $gc)))
  (instance (instantiate $inner)))
"#,
        ),
        ("hello", include_bytes!("../../examples/hello/hello.wat")),
        ("gc", include_bytes!("../../crates/tests/fixtures/gc.wat")),
        (
            "exceptions",
            include_bytes!("../../crates/tests/fixtures/exceptions.wat"),
        ),
        (
            "memory64",
            include_bytes!("../../crates/tests/fixtures/memory64.wat"),
        ),
    ];
    let mut seeds = Vec::new();
    for (name, text) in texts {
        let binary =
            wat::parse_bytes(text).unwrap_or_else(|e| panic!("seed {name} does not assemble: {e}"));
        seeds.push(seed(
            "component",
            &format!("{name}.wasm"),
            binary.into_owned(),
        ));
        seeds.push(seed("component", &format!("{name}.wat"), text));
    }
    seeds.push(seed("component", "header-component", *b"\0asm\x0d\0\x01\0"));
    seeds.push(seed("component", "header-module", *b"\0asm\x01\0\0\0"));
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
