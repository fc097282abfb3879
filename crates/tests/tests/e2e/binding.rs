//! What a signature is *for*: source signatures bound to the file they name,
//! artifacts bound to the module name they were signed as, re-signing that
//! vouches for no more than it verified, and files padded around a valid
//! signature block refused before their image is read.

use std::path::{Path, PathBuf};

use lucet_signature::{Prehash, SecretKey};

use crate::util::*;

/// A publisher key pair written to `scratch`: (secret key, public key path).
fn publisher(scratch: &Scratch) -> (SecretKey, PathBuf) {
    let key = SecretKey::generate().expect("key");
    let public = scratch.write("publisher.pub", key.public_key().to_box());
    (key, public)
}

/// Writes `bytes` to `name` with a `.minisig` beside it whose trusted
/// comment is `comment`, as minisign writes one.
fn signed_source(scratch: &Scratch, key: &SecretKey, name: &str, comment: &str) -> PathBuf {
    let bytes = std::fs::read(hello_wat()).expect("read hello");
    let path = scratch.write(name, &bytes);
    let signature = key
        .sign_prehashed(
            &Prehash::of(&bytes),
            comment,
            "signature from minisign secret key",
        )
        .expect("sign");
    scratch.write(&format!("{name}.minisig"), signature.to_text());
    path
}

fn compile_args(public: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = pk(public).to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Review finding: a `.minisig` made for `evil.wat` verified `good.wat` once
/// both were copied over it.
#[test]
fn a_source_signature_for_another_file_is_refused() {
    let scratch = Scratch::new();
    let (key, public) = publisher(&scratch);
    let evil = signed_source(&scratch, &key, "evil.wat", "timestamp:1\tfile:evil.wat");
    // The attacker copies evil.wat and its signature over good.wat's.
    let good = scratch.path("good.wat");
    std::fs::copy(&evil, &good).expect("copy");
    std::fs::copy(
        scratch.path("evil.wat.minisig"),
        scratch.path("good.wat.minisig"),
    )
    .expect("copy");
    let compile = |extra: &[&str]| {
        let mut command = lucetc([arg(&good), "-o".into(), arg(&scratch.path("out.so"))]);
        command.args(compile_args(&public, extra));
        run(&mut command)
    };
    compile(&[]).refused(
        1,
        "source signature was made for `evil.wat`, not `good.wat`",
    );
    compile(&["--require-source-name"]).refused(1, "made for `evil.wat`");
    // A renamed source is the publisher's business: one explicit flag.
    compile(&["--ignore-source-name"]).ok();
    // The evil file under its own name compiles.
    let mut command = lucetc([arg(&evil), "-o".into(), arg(&scratch.path("evil.so"))]);
    command.args(compile_args(&public, &[]));
    run(&mut command).ok();
    // rsign2 writes the path it was given: base names are compared.
    let nested = signed_source(
        &scratch,
        &key,
        "nested.wat",
        "timestamp:1\tfile:build/out/nested.wat\tprehashed",
    );
    let mut command = lucetc([arg(&nested), "-o".into(), arg(&scratch.path("n.so"))]);
    command.args(compile_args(&public, &[]));
    run(&mut command).ok();
}

#[test]
fn a_source_signature_naming_no_file_is_refused_only_when_required() {
    let scratch = Scratch::new();
    let (key, public) = publisher(&scratch);
    let source = signed_source(&scratch, &key, "app.wat", "release 1.2, as published");
    let compile = |extra: &[&str]| {
        let mut command = lucetc([arg(&source), "-o".into(), arg(&scratch.path("app.so"))]);
        command.args(compile_args(&public, extra));
        run(&mut command)
    };
    compile(&[]).ok();
    compile(&["--require-source-name"]).refused(1, "names no file");
    // Without a source key the flags have nothing to check: said, not ignored.
    run(&mut lucetc([arg(&source), "--require-source-name".into()]))
        .usage_error("give -p/--signature-pk");
}

/// Review finding: any validly signed artifact ran under any name.
#[test]
fn runners_can_require_the_signed_module_name() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("ci");
    let source = |name: &str| scratch.write(name, std::fs::read(hello_wat()).expect("read hello"));
    let sign = ["--signature-sk".to_string(), raw(&secret)];
    let billing = scratch.compile(&source("billing.wat"), "billing", &sign);
    let reports = scratch.compile(&source("reports.wat"), "reports", &sign);
    let run_as = |artifact: &Path, name: &str| {
        let mut command = lucet_wasi([
            "--signature-pk".into(),
            arg(&public),
            "--expect-name".into(),
            name.to_string(),
        ]);
        command.arg(artifact);
        run(&mut command)
    };
    assert_eq!(run_as(&billing, "billing").ok(), HELLO);
    run_as(&reports, "billing").refused(
        1,
        "artifact was signed as module `reports`, but `billing` is required",
    );
    // Renaming the file changes nothing: the name is in the signed metadata.
    std::fs::copy(&reports, &billing).expect("swap");
    run_as(&billing, "billing").refused(1, "signed as module `reports`");
    // --name chooses the name; the policy needs a key to mean anything.
    let mut args = sign.to_vec();
    args.extend(["--name".to_string(), "billing".to_string()]);
    let named = scratch.compile(&hello_wat(), "named", &args);
    assert_eq!(run_as(&named, "billing").ok(), HELLO);
    run(lucet_wasi(["--expect-name", "billing"]).arg(&named)).usage_error("give --signature-pk");
    let mut bad = lucetc([arg(&hello_wat()), "--name".into(), "a\u{7}b".into()]);
    bad.arg("-o").arg(scratch.path("bad.so"));
    run(&mut bad).refused(1, "module name");
}

/// Review finding: metadata of an unsigned artifact (a forged `source-key`)
/// became trusted once re-signed with --allow-unverified.
#[test]
fn re_signing_an_unverified_artifact_drops_the_source_signer_it_claims() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("release");
    let unsigned = scratch.compile(&hello_wat(), "plain", &[]);
    // Forge the claim: the publisher's key as source signer.
    let bytes = std::fs::read(&unsigned).expect("read");
    let artifact = lucet_artifact::read_unverified(bytes.as_slice(), Default::default())
        .expect("read unsigned");
    let publisher_key = "40FCCEDA8519379D";
    let mut metadata = artifact.metadata;
    metadata.source_key = Some(publisher_key.parse().expect("key id"));
    let forged =
        lucet_artifact::encode_unsigned(&artifact.image, &metadata, &Prehash::of(&artifact.image))
            .expect("encode");
    let forged = scratch.write("forged.so", forged);
    let resigned = scratch.path("resigned.so");
    let output = run(&mut lucetc([
        "--resign".into(),
        arg(&forged),
        "--allow-unverified".into(),
        "--signature-sk".into(),
        raw(&secret),
        "-o".into(),
        arg(&resigned),
    ]));
    output.ok();
    assert!(
        output
            .stderr
            .contains("dropped the unverified artifact's source-key"),
        "{}",
        output.stderr
    );
    let mut command = lucet_wasi([
        "--signature-pk".into(),
        arg(&public),
        "--require-source-key".into(),
        publisher_key.into(),
    ]);
    command.arg(&resigned);
    run(&mut command).refused(1, "not verified by lucetc");
}

/// Review finding: a huge or sparse file ending in a trusted artifact's
/// signature block was copied whole into memory before it was refused.
#[test]
fn a_huge_sparse_file_around_a_valid_block_is_refused_before_reading() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("k");
    let artifact = scratch.compile(&hello_wat(), "hello", &sk(raw(&secret)));
    let bytes = std::fs::read(&artifact).expect("read");
    let block_len =
        u32::from_le_bytes(bytes[bytes.len() - 4..].try_into().expect("4 bytes")) as usize;
    let tail = &bytes[bytes.len() - 16 - block_len..];
    // 64 GiB of holes, then the real block and footer.
    let huge = scratch.path("huge.so");
    let file = std::fs::File::create(&huge).expect("create");
    file.set_len(64 << 30).expect("sparse");
    std::os::unix::fs::FileExt::write_all_at(&file, tail, 64 << 30).expect("tail");
    drop(file);
    let key = pk(&public);
    let mut command = lucet_wasi(&key);
    command.arg(&huge);
    run(&mut command).refused(1, "its signed metadata says");
    let mut command = lucet_wasi(["--max-artifact-size", "1K"]);
    command.args(&key).arg(&artifact);
    run(&mut command).refused(1, "more than the 1024-byte limit");
    // Unverified, the unauthenticated length still bounds the read.
    run(&mut lucet_wasi([&huge])).refused(1, "its signed metadata says");
    run(lucet_objdump(&key).arg(&huge)).refused(1, "its signed metadata says");
    let (new_secret, _) = scratch.raw_key_pair("new");
    run(lucetc_resign(&huge, &public, &new_secret)
        .arg("-o")
        .arg(scratch.path("resigned.so")))
    .refused(1, "its signed metadata says");
}
