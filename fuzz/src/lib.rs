//! What the fuzz targets check, as plain functions.
//!
//! Each `fuzz_targets/<name>.rs` is one line calling [`check_<name>`]: a
//! panic anywhere (in the code under test or in an `assert!` here) is a
//! finding. Keeping the checks here lets them be unit-tested, reused by the
//! seed generator ([`seeds`]), and read without libFuzzer in the way.
//!
//! The fixed keys: [`fuzz_secret_key`] is an Ed25519 key made from a
//! constant seed, so everything signed with it (the artifact and signature
//! seeds) is deterministic; the minisign fixtures in
//! `crates/signature/tests/data/` are trusted too by the signature target,
//! so their real signatures reach full verification.

#![forbid(unsafe_code)]

use std::borrow::Cow;
use std::sync::LazyLock;

use lucet_artifact::{
    ArtifactKind, FOOTER_LEN, Footer, Metadata, ReadLimits, encode_signed, encode_unsigned,
    read_unverified, read_verified,
};
use lucet_signature::{
    Algorithm, Error, KdfParams, KeyId, Legacy, Prehash, PublicKey, PublicKeySet, SecretKey,
    SecretKeyFile, SignatureBox,
};
use wasmparser::{Chunk, Encoding, Parser, Payload, Validator, WasmFeatures};

pub mod seeds;

/// The minisign fixtures (made with minisign 0.11; see their README).
pub mod fixtures {
    /// The data the fixture signatures `data.txt*.minisig` cover.
    pub const DATA: &[u8] = include_bytes!("../../crates/signature/tests/data/data.txt");
    /// Public key `B5EC656A06C6B557` (`minisign -G -W`).
    pub const UNENCRYPTED_PUB: &[u8] =
        include_bytes!("../../crates/signature/tests/data/minisign-unencrypted.pub");
    /// Public key `312BA79C416C8E26` (password-protected secret key).
    pub const ENCRYPTED_PUB: &[u8] =
        include_bytes!("../../crates/signature/tests/data/minisign-encrypted.pub");
    /// The signature fixtures.
    pub const SIGNATURES: [(&str, &[u8]); 4] = [
        (
            "data.txt.minisig",
            include_bytes!("../../crates/signature/tests/data/data.txt.minisig"),
        ),
        (
            "data.txt.legacy.minisig",
            include_bytes!("../../crates/signature/tests/data/data.txt.legacy.minisig"),
        ),
        (
            "data.txt.encrypted-key.minisig",
            include_bytes!("../../crates/signature/tests/data/data.txt.encrypted-key.minisig"),
        ),
        (
            "empty.txt.minisig",
            include_bytes!("../../crates/signature/tests/data/empty.txt.minisig"),
        ),
    ];
    /// The public key fixtures.
    pub const PUBLIC_KEYS: [(&str, &[u8]); 2] = [
        ("minisign-unencrypted.pub", UNENCRYPTED_PUB),
        ("minisign-encrypted.pub", ENCRYPTED_PUB),
    ];
    /// The secret key fixtures.
    pub const SECRET_KEYS: [(&str, &[u8]); 3] = [
        (
            "minisign-unencrypted.key",
            include_bytes!("../../crates/signature/tests/data/minisign-unencrypted.key"),
        ),
        (
            "minisign-encrypted.key",
            include_bytes!("../../crates/signature/tests/data/minisign-encrypted.key"),
        ),
        (
            "minisign-password-removed.key",
            include_bytes!("../../crates/signature/tests/data/minisign-password-removed.key"),
        ),
    ];
}

/// Key id of the fuzzing key (`"lucetfuz"` as bytes).
pub const FUZZ_KEY_ID: KeyId = KeyId::from_bytes(*b"lucetfuz");
/// Ed25519 seed of the fuzzing key. Public on purpose: it protects nothing.
pub const FUZZ_KEY_SEED: [u8; 32] = [0x5a; 32];

static FUZZ_KEY: LazyLock<SecretKey> =
    LazyLock::new(|| SecretKey::from_seed(FUZZ_KEY_ID, &FUZZ_KEY_SEED));

/// The fixed signing key of the seeds.
pub fn fuzz_secret_key() -> &'static SecretKey {
    &FUZZ_KEY
}

static ARTIFACT_KEYS: LazyLock<PublicKeySet> = LazyLock::new(|| {
    PublicKeySet::new(vec![fuzz_secret_key().public_key()]).expect("one key is a valid set")
});

/// What the artifact target trusts: the fuzzing key alone.
pub fn artifact_keys() -> &'static PublicKeySet {
    &ARTIFACT_KEYS
}

static SIGNATURE_KEYS: LazyLock<PublicKeySet> = LazyLock::new(|| {
    let mut keys = vec![fuzz_secret_key().public_key()];
    for (name, text) in fixtures::PUBLIC_KEYS {
        keys.push(PublicKey::from_text(text).unwrap_or_else(|e| panic!("{name}: {e}")));
    }
    PublicKeySet::new(keys).expect("distinct key ids")
});

/// What the signature target trusts: the fuzzing key and both minisign
/// fixture keys.
pub fn signature_keys() -> &'static PublicKeySet {
    &SIGNATURE_KEYS
}

static DATA_PREHASH: LazyLock<Prehash> = LazyLock::new(|| Prehash::of(fixtures::DATA));

/// `input` with CRLF turned into LF and a final LF added if missing: the
/// only liberties the strict parsers take with line-based text, so a text
/// object that parses must re-encode to exactly this.
pub fn normalize_line_ends(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() + 1);
    let mut rest = input;
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'\r' && tail.first() == Some(&b'\n') {
            // Dropped: the LF that follows is kept on the next turn.
        } else {
            out.push(byte);
        }
        rest = tail;
    }
    if !out.is_empty() && !out.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// Signature parsing and verification.
///
/// * A signature that parses re-encodes (`to_text`) to the input with its
///   line ends normalised, byte for byte: one file, one meaning.
/// * The re-encoding parses to an equal value.
/// * Key selection and both verification steps run against
///   [`signature_keys`] and the fixture data, without panicking; a legacy
///   signature is refused unless allowed, and verifying with the wrong
///   algorithm's method is refused.
pub fn check_signature(data: &[u8]) {
    let Ok(sig) = SignatureBox::parse(data) else {
        return;
    };
    let text = sig.to_text();
    assert_eq!(
        text.as_bytes(),
        normalize_line_ends(data).as_slice(),
        "a parsed signature re-encodes differently from its input"
    );
    let reparsed = SignatureBox::parse(text.as_bytes()).expect("to_text output parses");
    assert_eq!(reparsed, sig);

    let keys = signature_keys();
    if sig.algorithm() == Algorithm::Legacy {
        assert!(matches!(
            keys.select(&sig, Legacy::Refuse),
            Err(Error::LegacySignatureRefused)
        ));
    }
    let Ok(key) = keys.select(&sig, Legacy::Allow) else {
        return;
    };
    assert_eq!(key.key_id(), sig.key_id());
    let (verified, wrong_method) = match sig.algorithm() {
        Algorithm::Prehashed => (
            key.verify_prehashed(&sig, &DATA_PREHASH),
            key.verify_legacy(&sig, fixtures::DATA),
        ),
        Algorithm::Legacy => (
            key.verify_legacy(&sig, fixtures::DATA),
            key.verify_prehashed(&sig, &DATA_PREHASH),
        ),
    };
    assert!(matches!(wrong_method, Err(Error::AlgorithmMismatch { .. })));
    if verified.is_ok() {
        // The trusted comment is what the global signature covers, so a
        // signature that verifies carries one of the signers' own comments.
        assert!(
            known_trusted_comment(sig.trusted_comment()),
            "verified with a trusted comment no signer wrote: {:?}",
            sig.trusted_comment()
        );
    }
}

/// Trusted comments of the signatures over [`fixtures::DATA`] in the seeds.
fn known_trusted_comment(comment: &str) -> bool {
    fixtures::SIGNATURES
        .iter()
        .filter_map(|(_, text)| SignatureBox::parse(text).ok())
        .any(|sig| sig.trusted_comment() == comment)
        || comment == seeds::FUZZ_SIGNATURE_TRUSTED_COMMENT
}

/// Public key parsing.
///
/// * A key that parses re-encodes: the base64 line of the input (line ends
///   normalised) is exactly `to_base64()`, and both `to_base64()` and
///   `to_box()` parse back to an equal key.
/// * It can form a trusted set (a repeat is dropped, not refused).
pub fn check_public_key(data: &[u8]) {
    let Ok(key) = PublicKey::from_text(data) else {
        return;
    };
    let base64 = key.to_base64();
    let normalized = normalize_line_ends(data);
    let bare = format!("{base64}\n");
    let boxed = format!("\n{base64}\n");
    assert!(
        normalized == bare.as_bytes()
            || (normalized.ends_with(boxed.as_bytes())
                && normalized.iter().filter(|&&b| b == b'\n').count() == 2),
        "a parsed public key re-encodes differently from its input"
    );
    assert_eq!(
        PublicKey::from_base64(&base64).expect("to_base64 parses"),
        key
    );
    assert_eq!(
        PublicKey::from_text(key.to_box().as_bytes()).expect("to_box parses"),
        key
    );
    assert_eq!(key.to_bytes()[2..10], key.key_id().as_bytes()[..]);
    let set = PublicKeySet::new(vec![key.clone(), key]).expect("a repeated key is one key");
    assert_eq!(set.len(), 1);
}

/// Secret key parsing, stopping before scrypt.
///
/// [`SecretKeyFile::parse`] derives and caps the scrypt parameters but never
/// runs scrypt (only [`EncryptedSecretKey::decrypt`] does), so this stays
/// fast whatever the input claims.
///
/// * An encrypted key's parameters are within the caps and are the ones its
///   stored limits give.
/// * An unencrypted key re-encodes with `to_unencrypted_box`, which parses
///   back to an unencrypted key with the same key id and public key, and
///   re-encodes identically.
///
/// [`EncryptedSecretKey::decrypt`]: lucet_signature::EncryptedSecretKey::decrypt
pub fn check_secret_key(data: &[u8]) {
    match SecretKeyFile::parse(data) {
        Err(_) => {}
        Ok(SecretKeyFile::Encrypted(key)) => {
            let params = key.kdf_params();
            assert!(params.memory_bytes() <= KdfParams::MAX_MEMORY);
            assert!(params.work() <= KdfParams::MAX_WORK);
            assert!(params.log_n() <= KdfParams::MAX_LOG_N && params.p() > 0);
            assert_eq!(key.kdf_cost().params().ok(), Some(params));
        }
        Ok(SecretKeyFile::Unencrypted(key)) => {
            let text = key.to_unencrypted_box();
            let Ok(SecretKeyFile::Unencrypted(again)) = SecretKeyFile::parse(text.as_bytes())
            else {
                panic!("to_unencrypted_box does not parse back to an unencrypted key");
            };
            assert_eq!(again.key_id(), key.key_id());
            assert_eq!(again.public_key(), key.public_key());
            assert_eq!(again.to_unencrypted_box(), text);
        }
    }
}

/// Artifact reading, the surface parsed before (and without) verification.
///
/// On any bytes, both readers run; nothing may panic, and:
///
/// * a footer that decodes re-encodes to the same 16 bytes and leaves a
///   non-negative image length;
/// * `read_verified` succeeds only for an artifact that `encode_signed`
///   reproduces byte for byte from the returned image and metadata, up to
///   any counter-signatures after the artifact signature (every byte of a
///   signed artifact is pinned), and then `read_unverified` agrees;
/// * whatever `read_unverified` accepts is `image ‖ block ‖ footer` with the
///   returned image, and an unsigned one is reproduced byte for byte by
///   `encode_unsigned`.
pub fn check_artifact(data: &[u8]) {
    check_footer(data);
    let verified = read_verified(data, artifact_keys(), ReadLimits::default());
    let unverified = read_unverified(data, ReadLimits::default());
    if let Ok(artifact) = &verified {
        assert_eq!(artifact.signer(), FUZZ_KEY_ID);
        let prehash = Prehash::of(artifact.image());
        let again = encode_signed(
            artifact.image(),
            artifact.metadata(),
            &prehash,
            fuzz_secret_key(),
        )
        .expect("a verified artifact re-encodes");
        // Counter-signatures (kept, not evaluated) may follow the artifact
        // signature: everything before them is exactly what lucetc writes.
        let unsigned_tail = again.len() - FOOTER_LEN;
        assert!(
            data.len() >= again.len() && data[..unsigned_tail] == again[..unsigned_tail],
            "an artifact verified that encode_signed does not write"
        );
        let plain = unverified
            .as_ref()
            .expect("a verified artifact also reads unverified");
        assert_eq!(&plain.image, artifact.image());
        assert_eq!(&plain.metadata, artifact.metadata());
        assert_eq!(
            plain.signature.as_ref().map(|s| s.key_id()),
            Some(artifact.signer())
        );
    }
    if let Ok(artifact) = &unverified {
        assert!(data.starts_with(&artifact.image));
        check_metadata_value(&artifact.metadata);
        if artifact.signature.is_none() {
            let prehash = Prehash::of(&artifact.image);
            let again = encode_unsigned(&artifact.image, &artifact.metadata, &prehash)
                .expect("an unsigned artifact that reads re-encodes");
            assert!(
                again == data,
                "an unsigned artifact read that encode_unsigned does not write"
            );
        }
    }
}

/// The footer alone: decodes from the last 16 bytes, round-trips, and the
/// image length it implies fits in the input.
fn check_footer(data: &[u8]) {
    let Some(tail) = data
        .len()
        .checked_sub(FOOTER_LEN)
        .and_then(|start| data.get(start..))
    else {
        return;
    };
    let Ok(bytes) = <&[u8; FOOTER_LEN]>::try_from(tail) else {
        return;
    };
    let len = data.len() as u64;
    if let Ok(footer) = Footer::decode(bytes, len) {
        assert_eq!(&footer.encode(), bytes);
        assert!(footer.image_len(len) + u64::from(footer.block_len) + FOOTER_LEN as u64 == len);
    }
}

/// Trust policy files, with key files looked for in a directory that does
/// not exist (inline keys only reach the rules).
///
/// * Nothing panics; an error is one line.
/// * A policy that parses can be met and can fail: some key may sign
///   artifacts, every signer rule needs between 1 and all of its keys, and
///   every validity window starts before it ends.
pub fn check_policy(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = std::path::Path::new("/nonexistent/lucet-fuzz");
    match lucet_policy::parse_text(text, base) {
        Err(reason) => assert!(!reason.contains('\n'), "not one line: {reason:?}"),
        Ok(trust) => {
            assert!(!trust.artifact_keys.is_empty());
            for rule in &trust.policy.signer_rules {
                assert!((1..=rule.of.len()).contains(&rule.at_least), "{rule:?}");
            }
            for window in &trust.policy.key_windows {
                if let (Some(start), Some(end)) = (window.not_before, window.not_after) {
                    assert!(start <= end, "{window:?}");
                }
            }
        }
    }
}

/// Revocation lists (docs/policy.md, "Revocation"), as read once verified.
///
/// * Nothing panics; an error is one line.
/// * A list that parses is current up to its expiry and expired right
///   after it (its grace is 0 until a policy sets one), and revokes the key
///   ids it names.
pub fn check_revocation_list(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match lucet_policy::parse_revocation_list(text) {
        Err(reason) => assert!(!reason.contains('\n'), "not one line: {reason:?}"),
        Ok(list) => {
            use lucet_artifact::Freshness;
            assert_eq!(list.grace, 0);
            assert_eq!(list.freshness(list.expires), Freshness::Current);
            if let Some(after) = list.expires.checked_add(1) {
                assert_eq!(list.freshness(after), Freshness::Expired);
            }
            for key in &list.keys {
                assert!(list.revokes_key(*key));
            }
        }
    }
}

/// Metadata line parsing.
///
/// * A line that parses is exactly what `to_line` writes for the parsed
///   value (one meaning, one spelling), and re-parses to an equal value.
pub fn check_metadata(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(metadata) = Metadata::parse(line) else {
        return;
    };
    let written = check_metadata_value(&metadata);
    assert_eq!(
        written, line,
        "a metadata line parsed that to_line does not write"
    );
}

/// `to_line` succeeds on parsed metadata and parses back to it; returns the line.
fn check_metadata_value(metadata: &Metadata) -> String {
    let line = metadata
        .to_line()
        .expect("parsed metadata re-encodes with to_line");
    assert_eq!(
        Metadata::parse(&line)
            .expect("to_line output parses")
            .clone(),
        *metadata
    );
    line
}

/// The proposals lucetc's engine enables (`crates/runtime/src/engine.rs`):
/// WebAssembly 3.0 but threads, wide arithmetic, and the component model.
/// What the validator accepts under them is what lucetc goes on to compile.
pub const WASM_FEATURES: WasmFeatures = WasmFeatures::WASM3
    .union(WasmFeatures::WIDE_ARITHMETIC)
    .union(WasmFeatures::COMPONENT_MODEL)
    .difference(WasmFeatures::THREADS);

/// lucetc's input, as it reads it: a binary (`\0asm` first) as is, anything
/// else as WebAssembly text through `wat`; `None` for text `wat` refuses.
pub fn wasm_of_source(data: &[u8]) -> Option<Cow<'_, [u8]>> {
    if data.starts_with(b"\0asm") {
        return Some(Cow::Borrowed(data));
    }
    wat::parse_bytes(data).ok()
}

/// What the validator (wasmparser, as wasmtime 48 runs it, with
/// [`WASM_FEATURES`]) reads `wasm` as, if it is valid.
pub fn validated_kind(wasm: &[u8]) -> Option<ArtifactKind> {
    Validator::new_with_features(WASM_FEATURES)
        .validate_all(wasm)
        .ok()?;
    match Parser::new(0).parse(wasm, true) {
        Ok(Chunk::Parsed {
            payload: Payload::Version { encoding, .. },
            ..
        }) => Some(match encoding {
            Encoding::Component => ArtifactKind::Component,
            Encoding::Module => ArtifactKind::Module,
        }),
        other => panic!("a valid binary whose header does not parse: {other:?}"),
    }
}

/// Module or component: lucetc compiles a source with `precompile_component`
/// when `ArtifactKind::of_wasm` says component and with `precompile_module`
/// otherwise, and records that kind in the artifact's signed metadata.
///
/// On any bytes, read as lucetc reads a source ([`wasm_of_source`]):
///
/// * `ArtifactKind::of_wasm` never panics, and agrees with wasmparser's own
///   header tests: what `Parser::is_component` calls a component is one,
///   what `Parser::is_core_wasm` calls core wasm is a module;
/// * on every binary the validator accepts, it is the kind the validator
///   read: a valid component never goes to `precompile_module`, nor a valid
///   module to `precompile_component`, so no valid input is refused (or
///   recorded) as the other kind.
pub fn check_component(data: &[u8]) {
    let Some(wasm) = wasm_of_source(data) else {
        return;
    };
    let ours = ArtifactKind::of_wasm(&wasm);
    if Parser::is_component(&wasm) {
        assert_eq!(ours, ArtifactKind::Component, "wasmparser's header test");
    }
    if Parser::is_core_wasm(&wasm) {
        assert_eq!(ours, ArtifactKind::Module, "wasmparser's header test");
    }
    if let Some(validated) = validated_kind(&wasm) {
        assert_eq!(
            ours, validated,
            "a valid binary classified as the other kind"
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn normalize_line_ends_only_touches_terminators() {
        assert_eq!(normalize_line_ends(b""), b"");
        assert_eq!(normalize_line_ends(b"a\r\nb"), b"a\nb\n");
        assert_eq!(normalize_line_ends(b"a\rb\n"), b"a\rb\n");
        assert_eq!(normalize_line_ends(b"a\r\r\n"), b"a\r\n");
    }

    #[test]
    fn every_seed_passes_its_check() {
        for seed in seeds::all() {
            let check = match seed.target {
                "signature" => check_signature,
                "public_key" => check_public_key,
                "secret_key" => check_secret_key,
                "artifact" => check_artifact,
                "metadata" => check_metadata,
                "component" => check_component,
                other => panic!("unknown target {other}"),
            };
            check(&seed.bytes);
        }
    }

    #[test]
    fn seeds_reach_the_deep_paths() {
        let all = seeds::all();
        let of = |target: &'static str| {
            all.iter().filter(move |s| {
                s.target == target && !s.name.starts_with(seeds::REGRESSION_PREFIX)
            })
        };
        // Every signature seed parses, and several verify.
        let verified = of("signature")
            .filter(|s| {
                let sig = SignatureBox::parse(&s.bytes).unwrap();
                let key = signature_keys().select(&sig, Legacy::Allow).unwrap();
                match sig.algorithm() {
                    Algorithm::Prehashed => key.verify_prehashed(&sig, &DATA_PREHASH),
                    Algorithm::Legacy => key.verify_legacy(&sig, fixtures::DATA),
                }
                .is_ok()
            })
            .count();
        assert!(verified >= 4, "{verified}");
        // Signed artifact seeds verify; unsigned ones read.
        let (mut signed, mut unsigned) = (0, 0);
        for seed in of("artifact") {
            if read_verified(
                seed.bytes.as_slice(),
                artifact_keys(),
                ReadLimits::default(),
            )
            .is_ok()
            {
                signed += 1;
            } else {
                read_unverified(seed.bytes.as_slice(), ReadLimits::default()).unwrap();
                unsigned += 1;
            }
        }
        assert!(signed >= 2 && unsigned >= 2, "{signed} {unsigned}");
        for seed in of("public_key").chain(of("metadata")) {
            let parsed = match seed.target {
                "public_key" => PublicKey::from_text(&seed.bytes).is_ok(),
                _ => Metadata::parse(std::str::from_utf8(&seed.bytes).unwrap()).is_ok(),
            };
            assert!(parsed, "{}", seed.name);
        }
        for seed in of("secret_key") {
            SecretKeyFile::parse(&seed.bytes).unwrap();
        }
        // Every component seed is valid, as text and as a binary, and both
        // kinds are there.
        let (mut components, mut modules) = (0, 0);
        for seed in of("component") {
            let wasm = wasm_of_source(&seed.bytes).unwrap();
            match validated_kind(&wasm) {
                Some(ArtifactKind::Component) => components += 1,
                Some(_) => modules += 1,
                None => panic!("{} is not valid", seed.name),
            }
        }
        assert!(components >= 8 && modules >= 8, "{components} {modules}");
    }

    #[test]
    fn component_classification_at_the_edges_of_the_header() {
        let cases: [(&[u8], ArtifactKind, Option<ArtifactKind>); 7] = [
            (
                b"\0asm\x0d\0\x01\0",
                ArtifactKind::Component,
                Some(ArtifactKind::Component),
            ),
            (
                b"\0asm\x01\0\0\0",
                ArtifactKind::Module,
                Some(ArtifactKind::Module),
            ),
            // A component layer with a version this build does not know:
            // precompile_component refuses it, naming the version.
            (b"\0asm\x0e\0\x01\0", ArtifactKind::Component, None),
            (b"\0asm\x0d\0\x02\0", ArtifactKind::Module, None),
            (b"\0asm\x0d\0\x01", ArtifactKind::Module, None),
            (
                b"(component)",
                ArtifactKind::Component,
                Some(ArtifactKind::Component),
            ),
            (
                b"(module (memory i64 1))",
                ArtifactKind::Module,
                Some(ArtifactKind::Module),
            ),
        ];
        for (source, ours, validated) in cases {
            let wasm = wasm_of_source(source).unwrap();
            assert_eq!(ArtifactKind::of_wasm(&wasm), ours, "{source:?}");
            assert_eq!(validated_kind(&wasm), validated, "{source:?}");
            check_component(source);
        }
        // Text wat refuses, and proposals the engine leaves off, are not
        // valid inputs.
        assert!(wasm_of_source(b"(component oops)").is_none());
        let shared = wasm_of_source(b"(module (memory 1 1 shared))").unwrap();
        assert_eq!(validated_kind(&shared), None);
    }

    #[test]
    fn regression_seeds_are_refused() {
        let regressions: Vec<_> = seeds::all()
            .into_iter()
            .filter(|s| s.name.starts_with(seeds::REGRESSION_PREFIX))
            .collect();
        assert_eq!(regressions.len(), 10);
        for seed in regressions {
            let refused = match seed.target {
                "metadata" => Metadata::parse(std::str::from_utf8(&seed.bytes).unwrap()).is_err(),
                "artifact" => matches!(
                    read_unverified(seed.bytes.as_slice(), ReadLimits::default()),
                    Err(lucet_artifact::Error::Metadata(_))
                ),
                other => panic!("unexpected regression target {other}"),
            };
            assert!(refused, "{}", seed.name);
        }
    }
}
