//! Interoperability with the minisign (C) command-line tool, both ways.
//!
//! Needs `minisign` on `PATH` (or `$MINISIGN` naming the binary): the test
//! script installs it, and a missing tool fails rather than skips. Uses only cheap operations: our
//! encrypted keys use `KdfCost::TESTING`, and minisign keys are unencrypted.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use lucet_signature::{
    KdfCost, Legacy, Prehash, PublicKey, PublicKeySet, SecretKey, SecretKeyFile, SignatureBox,
    verify_reader,
};

fn minisign() -> String {
    let program = std::env::var("MINISIGN").unwrap_or_else(|_| "minisign".to_owned());
    if let Err(e) = Command::new(&program).arg("-v").output() {
        panic!("cannot run {program} ({e}): run scripts/install-test-deps.sh");
    }
    program
}

fn run(program: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn ok(output: &Output) -> bool {
    if !output.status.success() {
        eprintln!(
            "minisign failed: {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output.status.success()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn verify_ours(public: &PublicKey, sig_path: &Path, data: &[u8]) -> SignatureBox {
    let sig = SignatureBox::parse(&fs::read(sig_path).unwrap()).unwrap();
    let keys = PublicKeySet::new(vec![public.clone()]).unwrap();
    verify_reader(&keys, &sig, Legacy::Refuse, data).unwrap();
    sig
}

#[test]
fn minisign_signs_with_our_unencrypted_key_without_password() {
    let minisign = minisign();
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let key_path = dir.path().join("our.key");
    let data_path = dir.path().join("data.bin");
    let sig_path = dir.path().join("data.bin.minisig");
    fs::write(&key_path, key.to_unencrypted_box()).unwrap();
    fs::write(&data_path, b"signed by minisign with our key").unwrap();
    // Empty stdin: minisign would fail if it asked for a password.
    let out = run(
        &minisign,
        &[
            "-S",
            "-s",
            path(&key_path),
            "-m",
            path(&data_path),
            "-t",
            "trusted\twith tab",
        ],
        b"",
    );
    assert!(ok(&out));
    let sig = verify_ours(
        &key.public_key(),
        &sig_path,
        b"signed by minisign with our key",
    );
    assert_eq!(sig.trusted_comment(), "trusted\twith tab");
}

#[test]
fn minisign_signs_with_our_encrypted_key() {
    let minisign = minisign();
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let key_path = dir.path().join("our.key");
    let data_path = dir.path().join("data.bin");
    let sig_path = dir.path().join("data.bin.minisig");
    let text = key
        .to_encrypted_box(b"pass phrase", KdfCost::TESTING)
        .unwrap();
    fs::write(&key_path, text).unwrap();
    fs::write(&data_path, b"encrypted key").unwrap();
    let out = run(
        &minisign,
        &["-S", "-s", path(&key_path), "-m", path(&data_path)],
        b"pass phrase\n",
    );
    assert!(ok(&out));
    verify_ours(&key.public_key(), &sig_path, b"encrypted key");
    // And minisign refuses a wrong password, as we do.
    let out = run(
        &minisign,
        &["-S", "-s", path(&key_path), "-m", path(&data_path)],
        b"wrong\n",
    );
    assert!(!out.status.success());
}

#[test]
fn minisign_verifies_our_signatures_and_keys() {
    let minisign = minisign();
    let dir = tempfile::tempdir().unwrap();
    let key = SecretKey::generate().unwrap();
    let pub_path = dir.path().join("our.pub");
    let data_path = dir.path().join("data.bin");
    let sig_path = dir.path().join("data.bin.minisig");
    let data = vec![0xa5u8; 200_000];
    fs::write(&pub_path, key.public_key().to_box()).unwrap();
    fs::write(&data_path, &data).unwrap();
    // The longest trusted comment we write.
    let trusted = format!("tab\t{}", "x".repeat(4077 - 4));
    let untrusted = "u".repeat(1003);
    let sig = key
        .sign_prehashed(&Prehash::of(&data), &trusted, &untrusted)
        .unwrap();
    fs::write(&sig_path, sig.to_text()).unwrap();
    // -H: minisign must see a prehashed signature.
    let out = run(
        &minisign,
        &[
            "-V",
            "-H",
            "-p",
            path(&pub_path),
            "-m",
            path(&data_path),
            "-Q",
        ],
        b"",
    );
    assert!(ok(&out));
    assert_eq!(out.stdout, format!("{trusted}\n").into_bytes());
    // The bare form, with -P.
    let b64 = key.public_key().to_base64();
    let out = run(
        &minisign,
        &[
            "-V",
            "-P",
            &b64,
            "-m",
            path(&data_path),
            "-x",
            path(&sig_path),
        ],
        b"",
    );
    assert!(ok(&out));
    // A modified trusted comment fails in minisign too.
    let tampered = sig.to_text().replace("tab\t", "tab ");
    fs::write(&sig_path, tampered).unwrap();
    let out = run(
        &minisign,
        &["-V", "-p", path(&pub_path), "-m", path(&data_path)],
        b"",
    );
    assert!(!out.status.success());
}

#[test]
fn we_use_keys_minisign_generates() {
    let minisign = minisign();
    let dir = tempfile::tempdir().unwrap();
    let pub_path = dir.path().join("m.pub");
    let key_path = dir.path().join("m.key");
    let data_path = dir.path().join("data.bin");
    let out = run(
        &minisign,
        &["-G", "-W", "-p", path(&pub_path), "-s", path(&key_path)],
        b"",
    );
    assert!(ok(&out));
    let public = PublicKey::from_text(&fs::read(&pub_path).unwrap()).unwrap();
    let key = match SecretKeyFile::parse(&fs::read(&key_path).unwrap()).unwrap() {
        SecretKeyFile::Unencrypted(key) => key,
        SecretKeyFile::Encrypted(_) => panic!("minisign -W key parsed as encrypted"),
    };
    assert_eq!(key.public_key(), public);
    // Our public key box matches minisign's, except that minisign 0.11 does
    // not zero-pad the key id in the (untrusted, unparsed) comment, so only
    // the key line is compared.
    let theirs = String::from_utf8(fs::read(&pub_path).unwrap()).unwrap();
    assert_eq!(public.to_box().lines().nth(1), theirs.lines().nth(1));
    assert_eq!(
        public
            .to_box()
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("untrusted comment: minisign public key ")
            .trim_start_matches('0'),
        theirs
            .lines()
            .next()
            .unwrap()
            .trim_start_matches("untrusted comment: minisign public key ")
    );

    fs::write(&data_path, b"data").unwrap();
    let sig = key
        .sign_prehashed(&Prehash::of(b"data"), "ours", "ours")
        .unwrap();
    let sig_path = dir.path().join("data.bin.minisig");
    fs::write(&sig_path, sig.to_text()).unwrap();
    let out = run(
        &minisign,
        &["-V", "-p", path(&pub_path), "-m", path(&data_path)],
        b"",
    );
    assert!(ok(&out));

    // minisign -S with its own key; we verify.
    fs::remove_file(&sig_path).unwrap();
    let out = run(
        &minisign,
        &["-S", "-s", path(&key_path), "-m", path(&data_path)],
        b"",
    );
    assert!(ok(&out));
    verify_ours(&public, &sig_path, b"data");
}
