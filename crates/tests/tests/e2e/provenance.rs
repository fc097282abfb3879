//! Provenance, inspection and load policy: lucet-objdump, the rebuild check,
//! reproducible and re-signable artifacts, policy flags and key rotation.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

/// A hello artifact compiled from the publisher-signed source and signed by a fresh raw key.
fn signed(scratch: &Scratch, stem: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (secret, public) = scratch.raw_key_pair(stem);
    let artifact = scratch.compile(
        &hello_wat(),
        stem,
        &[
            pk(&examples().join("hello/publisher.pub")),
            sk(raw(&secret)),
        ]
        .concat(),
    );
    (artifact, secret, public)
}

fn runs_with(artifact: &Path, extra: &[String]) -> Output {
    let mut command = lucet_wasi(extra);
    command.arg(artifact).env_remove("LUCET_SIGNATURE_PK");
    run(&mut command)
}

#[test]
fn objdump_verifies_first_and_only_then_lists_the_interface() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed(&scratch, "a");
    let output = run(lucet_objdump(pk(&public)).arg(&artifact));
    let text = output.ok();
    assert!(text.contains("verified:       yes"), "{text}");
    assert!(text.contains("source-key:     40FCCEDA8519379D"), "{text}");
    assert!(
        text.contains(
            "wasi_snapshot_preview1::fd_write (type (func (param i32 i32 i32 i32) (result i32)))"
        ),
        "{text}"
    );
    assert!(text.contains("_start (type (func))"), "{text}");

    // A gate: the wrong key is a refusal with the reason, and nothing is listed.
    let (_, _, stranger) = signed(&scratch, "b");
    run(lucet_objdump(pk(&stranger)).arg(&artifact)).refused(1, "which is not trusted");

    // Without a key: labelled, and no interface unless asked for.
    let output = run(&mut lucet_objdump([&artifact]));
    let text = output.ok();
    assert!(text.contains("NOT VERIFIED"), "{text}");
    assert!(!text.contains("fd_write"), "{text}");
    let output = run(&mut lucet_objdump([
        "--allow-unverified".into(),
        arg(&artifact),
    ]));
    assert!(output.ok().contains("imports (UNVERIFIED):"), "{output:#?}");
}

#[test]
fn objdump_json_has_the_documented_schema() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed(&scratch, "j");
    let output = run(lucet_objdump(["--json"]).args(pk(&public)).arg(&artifact));
    let value: serde_json::Value = serde_json::from_str(output.ok()).expect("one JSON object");
    for key in [
        "signed",
        "verified",
        "key_id",
        "metadata",
        "image_size",
        "image_blake2b",
        "imports",
        "exports",
    ] {
        assert!(value.get(key).is_some(), "missing {key}: {value}");
    }
    assert_eq!(value["signed"], true);
    assert_eq!(value["verified"], true);
    assert_eq!(value["metadata"]["source-key"], "40FCCEDA8519379D");
    assert_eq!(value["metadata"]["engine"], "wasmtime-48.0.8");
    assert_eq!(value["exports"][1]["name"], "_start");
    let unverified = run(&mut lucet_objdump(["--json".into(), arg(&artifact)]));
    let value: serde_json::Value = serde_json::from_str(unverified.ok()).expect("json");
    assert_eq!(value["verified"], false);
    assert!(value["imports"].is_null());
}

#[test]
fn extracted_signatures_verify_with_stock_minisign() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed(&scratch, "x");
    let dir = scratch.path("extracted");
    run(&mut lucet_objdump([
        "--extract-signature".into(),
        arg(&dir),
        arg(&artifact),
    ]))
    .ok();
    let verify = || {
        run(Command::new(external("minisign"))
            .args(["-V", "-m"])
            .arg(dir.join("image.bin"))
            .arg("-p")
            .arg(&public))
    };
    assert!(verify().ok().contains("Trusted comment: lucet-artifact=3 "));
    let mut image = std::fs::read(dir.join("image.bin")).expect("read");
    image[1000] ^= 1;
    std::fs::write(dir.join("image.bin"), image).expect("write");
    assert_ne!(verify().status, 0);
    // An unsigned artifact has nothing to extract.
    let unsigned = scratch.compile(&hello_wat(), "plain", &[]);
    run(&mut lucet_objdump([
        "--extract-signature".into(),
        arg(&dir),
        arg(&unsigned),
    ]))
    .refused(1, "not signed");
}

#[test]
fn rebuilds_match_byte_for_byte_and_mismatches_name_a_section() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed(&scratch, "r");
    let check = |input: &Path, extra: &[&str]| {
        let mut command = lucetc(["--verify-rebuild".into(), arg(&artifact), arg(input)]);
        command.args(extra);
        run(&mut command)
    };
    let output = check(&hello_wat(), &["--signature-pk", &arg(&public)]);
    assert!(output.ok().contains("rebuild matches"), "{output:#?}");
    assert!(
        output
            .stderr
            .contains("source matches the artifact's recorded source-blake2b (verified metadata)")
    );

    let other = check(&fixture("exit.wat"), &["--signature-pk", &arg(&public)]);
    assert_eq!(other.status, 1, "{other:#?}");
    assert!(
        other.stderr.contains("first differing section is .text"),
        "{other:#?}"
    );
    assert!(other.stderr.contains("source differs"), "{other:#?}");

    // Unverified metadata is refused unless accepted explicitly, and then labelled.
    check(&hello_wat(), &[]).refused(1, "--allow-unverified");
    let output = check(&hello_wat(), &["--allow-unverified"]);
    assert!(output.ok().contains("UNAUTHENTICATED"), "{output:#?}");
}

#[test]
fn signed_builds_are_reproducible_under_source_date_epoch() {
    let scratch = Scratch::new();
    let (secret, _) = scratch.raw_key_pair("repro");
    let build = |name: &str| {
        let out = scratch.path(name);
        let mut command = lucetc([
            arg(&hello_wat()),
            "--signature-sk".into(),
            raw(&secret),
            "-o".into(),
            arg(&out),
        ]);
        run(command.env("SOURCE_DATE_EPOCH", "1600000000")).ok();
        std::fs::read(out).expect("read")
    };
    let first = build("1.so");
    assert_eq!(first, build("2.so"));
    assert!(String::from_utf8_lossy(&first).contains(" timestamp=1600000000"));
}

#[test]
fn resign_moves_an_artifact_to_a_new_key_after_verifying_the_old_one() {
    let scratch = Scratch::new();
    let (artifact, _, old_public) = signed(&scratch, "old");
    let (new_secret, new_public) = scratch.raw_key_pair("new");
    let moved = scratch.path("moved.so");
    run(lucetc_resign(&artifact, &old_public, &new_secret)
        .arg("-o")
        .arg(&moved))
    .ok();
    assert_eq!(runs_with(&moved, &pk(&new_public)).ok(), HELLO);
    runs_with(&moved, &pk(&old_public)).refused(1, "which is not trusted");
    // The provenance survives the move.
    let text = run(lucet_objdump(pk(&new_public)).arg(&moved))
        .ok()
        .to_string();
    assert!(text.contains("source-key:     40FCCEDA8519379D"), "{text}");

    // Re-signing something unverified needs an explicit opt-in.
    let unsigned = scratch.compile(&hello_wat(), "unsigned", &[]);
    let resign = |extra: &[&str]| {
        let mut command = lucetc([
            "--resign".into(),
            arg(&unsigned),
            "--signature-sk".into(),
            raw(&new_secret),
        ]);
        command.args(extra);
        run(&mut command)
    };
    resign(&[]).refused(1, "--allow-unverified");
    resign(&["--allow-unverified"]).ok();
    assert_eq!(runs_with(&unsigned, &pk(&new_public)).ok(), HELLO);
    // A tampered artifact is not laundered by re-signing.
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes[2000] ^= 1;
    let tampered = scratch.write("tampered.so", bytes);
    run(&mut lucetc_resign(&tampered, &old_public, &new_secret)).refused(1, "signature");
}

#[test]
fn key_rotation_old_and_new_keys_side_by_side() {
    let scratch = Scratch::new();
    let (old_artifact, _, old_public) = signed(&scratch, "v1");
    let (new_artifact, _, new_public) = signed(&scratch, "v2");
    let both = [pk(&old_public), pk(&new_public)].concat();
    assert_eq!(runs_with(&old_artifact, &both).ok(), HELLO);
    assert_eq!(runs_with(&new_artifact, &both).ok(), HELLO);
    // Dropping the old key retires the artifacts it signed.
    let new_only = pk(&new_public);
    runs_with(&old_artifact, &new_only).refused(1, "which is not trusted");
    assert_eq!(runs_with(&new_artifact, &new_only).ok(), HELLO);
}

#[test]
fn load_policy_requires_source_keys_and_freshness() {
    let scratch = Scratch::new();
    let (artifact, secret, public) = signed(&scratch, "p");
    let pk = pk(&public);
    let with = |extra: &[&str]| {
        let mut args = pk.to_vec();
        args.extend(extra.iter().map(|s| s.to_string()));
        runs_with(&artifact, &args)
    };
    assert_eq!(
        with(&["--require-source-key", "40fcceda8519379d"]).ok(),
        HELLO
    );
    with(&["--require-source-key", "0000000000000001"])
        .refused(1, "policy requires one of: 0000000000000001");
    assert_eq!(with(&["--min-timestamp", "1000"]).ok(), HELLO);
    with(&["--min-timestamp", "99999999999"]).refused(1, "rollback refused");
    // Policy flags check signed metadata, so they need a key.
    runs_with(&artifact, &["--min-timestamp".into(), "1".into()])
        .usage_error("give --signature-pk");
    // An artifact whose source was never verified names no source key.
    let unverified_source = scratch.compile(&hello_wat(), "nosource", &sk(raw(&secret)));
    let mut args = pk.to_vec();
    args.extend([
        "--require-source-key".to_string(),
        "40FCCEDA8519379D".to_string(),
    ]);
    runs_with(&unverified_source, &args).refused(1, "not verified by lucetc");
    run(&mut lucet_wasi(["--require-source-key", "xyz", "a.so"]))
        .status
        .eq(&2)
        .then_some(())
        .expect("bad key id is a usage error");
}

#[test]
fn lucet_signature_pk_in_the_environment_acts_as_the_flag() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed(&scratch, "e");
    let (_, _, other) = signed(&scratch, "f");
    let unsigned = scratch.compile(&hello_wat(), "unsigned", &[]);
    let with_env = |path: &Path| {
        let mut command = lucet_wasi([path]);
        command.env(
            "LUCET_SIGNATURE_PK",
            format!("{}:{}", other.display(), public.display()),
        );
        run(&mut command)
    };
    assert_eq!(with_env(&artifact).ok(), HELLO);
    with_env(&unsigned).refused(1, "not signed");
}

/// A variable meant to name the trusted keys that names none is a usage
/// error in every tool, before anything is read or run.
#[test]
fn a_lucet_signature_pk_that_names_no_key_is_a_usage_error_everywhere() {
    let cases: [(&str, &[&str]); 5] = [
        ("lucetc", &["hello.wat"]),
        ("lucet-wasi", &["hello.so"]),
        ("lucet-objdump", &["hello.so"]),
        ("lucet-serve", &["hello.so"]),
        ("lucet-oci", &["inspect", "localhost/hello:1.0"]),
    ];
    for (name, args) in cases {
        for value in ["", ":"] {
            let mut command = Command::new(tool(name));
            command.args(args).env("LUCET_SIGNATURE_PK", value);
            run(&mut command).usage_error("LUCET_SIGNATURE_PK is set but names no key");
        }
    }
}

#[test]
fn signature_comments_are_signed_metadata() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("c");
    let artifact = scratch.compile(
        &hello_wat(),
        "commented",
        &[
            "--signature-sk".into(),
            raw(&secret),
            "--signature-comment".into(),
            "release 1.2 — 100% reviewed\u{1b}[2J".into(),
        ],
    );
    let output = run(lucet_objdump(["--json"]).args(pk(&public)).arg(&artifact));
    let value: serde_json::Value = serde_json::from_str(output.ok()).expect("json");
    // Shown decoded, with the escape character neutralised for terminals.
    assert_eq!(
        value["metadata"]["comment"],
        "release 1.2 — 100% reviewed\\u{1b}[2J"
    );
    // Stored escaped inside the signed trusted comment: changing it breaks the signature.
    let mut bytes = std::fs::read(&artifact).expect("read");
    let at = find(&bytes, b"comment=release").expect("comment field") + 8;
    bytes[at] = b'R';
    let edited = scratch.write("edited.so", bytes);
    run(lucet_wasi(pk(&public)).arg(&edited)).refused(1, "trusted comment was modified");
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `lucetc --countersign ARTIFACT --role ROLE -s KEY -p SIGNER`.
fn countersign(artifact: &Path, role: &str, secret: &Path, signer: &Path) -> Output {
    let mut command = lucetc([
        "--countersign".into(),
        arg(artifact),
        "--role".into(),
        role.into(),
    ]);
    command.arg(sign_raw(secret)).args(pk(signer));
    run(&mut command)
}

#[test]
fn counter_signatures_are_added_listed_extracted_and_verified_by_stock_minisign() {
    let scratch = Scratch::new();
    let (artifact, _, ci) = signed(&scratch, "ci");
    let (security_secret, security) = scratch.raw_key_pair("security");
    let (stranger_secret, _) = scratch.raw_key_pair("stranger");
    let original = std::fs::read(&artifact).expect("artifact");

    // Refused before anything is written: a wrong signer, the same key twice.
    countersign(&artifact, "security", &security_secret, &security)
        .refused(1, "which is not trusted");
    assert_eq!(std::fs::read(&artifact).expect("artifact"), original);
    countersign(&artifact, "security", &security_secret, &ci).ok();
    countersign(&artifact, "security", &security_secret, &ci)
        .refused(1, "has already signed this artifact");
    countersign(&artifact, "Bad Role", &stranger_secret, &ci).refused(1, "--role");
    countersign(&artifact, "release", &stranger_secret, &ci).ok();
    let mut unkeyed = lucetc(["--countersign".into(), arg(&artifact)]);
    unkeyed
        .arg(sign_raw(&stranger_secret))
        .env_remove("LUCET_SIGNATURE_PK");
    run(&mut unkeyed).usage_error("verifies ARTIFACT first");

    // The image and the artifact signature are kept byte for byte, and a
    // runner that trusts only the artifact's signer runs it as before.
    let block_at = original.len() - lucet_artifact::FOOTER_LEN;
    let countersigned = std::fs::read(&artifact).expect("artifact");
    assert_eq!(countersigned[..block_at], original[..block_at]);
    assert_eq!(runs_with(&artifact, &pk(&ci)).ok(), HELLO);

    // objdump lists each, verified where its key is trusted.
    let listed = run(lucet_objdump([pk(&ci), pk(&security)].concat()).arg(&artifact));
    let text = listed.ok();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("countersigned:"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].contains(", verified: lucet-countersignature=1 role=security timestamp="),
        "{text}"
    );
    assert!(
        lines[1].contains("not verified (key not trusted)"),
        "{text}"
    );

    // Each extracted counter-signature is a stock minisign signature.
    let dir = scratch.path("extracted");
    run(lucet_objdump(pk(&ci))
        .arg(&artifact)
        .arg("--extract-signature")
        .arg(&dir))
    .ok();
    let minisign = run(Command::new(external("minisign"))
        .args(["-V", "-m"])
        .arg(dir.join("image.bin"))
        .arg("-x")
        .arg(dir.join("image.bin.1.minisig"))
        .arg("-p")
        .arg(&security));
    assert!(minisign.ok().contains("role=security"), "{minisign:#?}");
    assert!(dir.join("image.bin.2.minisig").exists());
}
