//! Interoperability with the minisign (C) command-line tool, both ways.
//!
//! Needs `minisign` on `PATH` (or `$MINISIGN` naming the binary): the test
//! script installs it, and a missing tool fails rather than skips. Uses only cheap operations: our
//! encrypted keys use `KdfCost::TESTING`, and minisign keys are unencrypted.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
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

/// A temporary directory with a data file, `data.bin`, and minisign to sign
/// and verify it.
struct Scratch {
    minisign: String,
    dir: tempfile::TempDir,
    data: Vec<u8>,
}

impl Scratch {
    fn new(data: &[u8]) -> Scratch {
        let scratch = Scratch {
            minisign: minisign(),
            dir: tempfile::tempdir().unwrap(),
            data: data.to_vec(),
        };
        fs::write(scratch.data_path(), data).unwrap();
        scratch
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn data_path(&self) -> PathBuf {
        self.path("data.bin")
    }

    /// Where minisign puts the signature of the data by default.
    fn sig_path(&self) -> PathBuf {
        self.path("data.bin.minisig")
    }

    /// Runs minisign with `args`, `stdin` as its standard input.
    fn run(&self, args: &[&str], stdin: &[u8]) -> Output {
        let mut child = Command::new(&self.minisign)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        child.wait_with_output().unwrap()
    }

    /// `minisign -S`: signs the data with the secret key at `key`, and
    /// `extra` arguments.
    fn sign(&self, key: &Path, extra: &[&str], stdin: &[u8]) -> Output {
        let data = self.data_path();
        let args = [&["-S", "-s", path(key), "-m", path(&data)], extra].concat();
        self.run(&args, stdin)
    }

    /// `minisign -V`: verifies the data's signature with the public key at
    /// `public`, and `extra` arguments.
    fn verify(&self, public: &Path, extra: &[&str]) -> Output {
        let data = self.data_path();
        let args = [&["-V", "-p", path(public), "-m", path(&data)], extra].concat();
        self.run(&args, b"")
    }

    /// Verifies the signature minisign wrote with our code, returning it.
    fn verify_ours(&self, public: &PublicKey) -> SignatureBox {
        let sig = SignatureBox::parse(&fs::read(self.sig_path()).unwrap()).unwrap();
        let keys = PublicKeySet::new(vec![public.clone()]).unwrap();
        verify_reader(&keys, &sig, Legacy::Refuse, &self.data[..]).unwrap();
        sig
    }
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

#[test]
fn minisign_signs_with_our_unencrypted_key_without_password() {
    let scratch = Scratch::new(b"signed by minisign with our key");
    let key = SecretKey::generate().unwrap();
    let key_path = scratch.path("our.key");
    fs::write(&key_path, key.to_unencrypted_box()).unwrap();
    // Empty stdin: minisign would fail if it asked for a password.
    let out = scratch.sign(&key_path, &["-t", "trusted\twith tab"], b"");
    assert!(ok(&out));
    let sig = scratch.verify_ours(&key.public_key());
    assert_eq!(sig.trusted_comment(), "trusted\twith tab");
}

#[test]
fn minisign_signs_with_our_encrypted_key() {
    let scratch = Scratch::new(b"encrypted key");
    let key = SecretKey::generate().unwrap();
    let key_path = scratch.path("our.key");
    let text = key
        .to_encrypted_box(b"pass phrase", KdfCost::TESTING)
        .unwrap();
    fs::write(&key_path, text).unwrap();
    assert!(ok(&scratch.sign(&key_path, &[], b"pass phrase\n")));
    scratch.verify_ours(&key.public_key());
    // And minisign refuses a wrong password, as we do.
    let out = scratch.sign(&key_path, &[], b"wrong\n");
    assert!(!out.status.success());
}

#[test]
fn minisign_verifies_our_signatures_and_keys() {
    let data = vec![0xa5u8; 200_000];
    let scratch = Scratch::new(&data);
    let key = SecretKey::generate().unwrap();
    let pub_path = scratch.path("our.pub");
    fs::write(&pub_path, key.public_key().to_box()).unwrap();
    // The longest trusted comment we write.
    let trusted = format!("tab\t{}", "x".repeat(4077 - 4));
    let untrusted = "u".repeat(1003);
    let sig = key
        .sign_prehashed(&Prehash::of(&data), &trusted, &untrusted)
        .unwrap();
    fs::write(scratch.sig_path(), sig.to_text()).unwrap();
    // -H: minisign must see a prehashed signature.
    let out = scratch.verify(&pub_path, &["-H", "-Q"]);
    assert!(ok(&out));
    assert_eq!(out.stdout, format!("{trusted}\n").into_bytes());
    // The bare form, with -P.
    let b64 = key.public_key().to_base64();
    let (data_path, sig_path) = (scratch.data_path(), scratch.sig_path());
    let out = scratch.run(
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
    assert!(!scratch.verify(&pub_path, &[]).status.success());
}

#[test]
fn we_use_keys_minisign_generates() {
    let scratch = Scratch::new(b"data");
    let pub_path = scratch.path("m.pub");
    let key_path = scratch.path("m.key");
    let out = scratch.run(
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

    let sig = key
        .sign_prehashed(&Prehash::of(b"data"), "ours", "ours")
        .unwrap();
    fs::write(scratch.sig_path(), sig.to_text()).unwrap();
    assert!(ok(&scratch.verify(&pub_path, &[])));

    // minisign -S with its own key; we verify.
    fs::remove_file(scratch.sig_path()).unwrap();
    assert!(ok(&scratch.sign(&key_path, &[], b"")));
    scratch.verify_ours(&public);
}
