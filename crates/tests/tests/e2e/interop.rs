//! Interoperability with the reference tools, both ways: minisign (C) and
//! rsign2 make keys and signatures we verify; they verify ours.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::*;

fn minisign() -> Command {
    Command::new(external("minisign"))
}

fn rsign() -> Command {
    Command::new(external("rsign"))
}

/// Splits a signed artifact as docs/artifact-format.md describes: the engine
/// image and its minisign signature, for stock tools to check.
fn extract(scratch: &Scratch, artifact: &Path) -> (PathBuf, PathBuf) {
    let bytes = std::fs::read(artifact).expect("read artifact");
    let footer = bytes.len() - 16;
    let block_len = u32::from_le_bytes(bytes[footer + 12..].try_into().expect("u32")) as usize;
    let block = footer - block_len;
    let image = scratch.write("image.bin", &bytes[..block]);
    let signature = scratch.write("image.bin.minisig", &bytes[block..footer]);
    (image, signature)
}

/// Compiles hello.wat signed with `secret` (fed `password` on stdin).
fn sign_artifact(scratch: &Scratch, secret: &str, password: &[u8]) -> PathBuf {
    let artifact = scratch.path("signed.so");
    run_with_stdin(
        &mut lucetc_signed(&hello_wat(), secret, &artifact),
        password,
    )
    .ok();
    artifact
}

/// Compiles hello.wat signed with `secret` (fed `password` on stdin) and
/// runs it trusting `public`; returns what it printed.
fn run_signed_by(scratch: &Scratch, secret: &str, password: &[u8], public: &Path) -> String {
    let artifact = sign_artifact(scratch, secret, password);
    run(lucet_wasi(pk(public)).arg(&artifact)).ok().to_string()
}

/// Compiles `source` verifying it against `public`, and runs the result.
fn compile_verified(scratch: &Scratch, source: &Path, public: &Path) -> Output {
    let artifact = scratch.path("verified.so");
    let output = run(&mut lucetc_verified(source, public, &artifact));
    if output.status == 0 {
        assert_eq!(run(&mut lucet_wasi([&artifact])).ok(), HELLO);
    }
    output
}

fn source_copy(scratch: &Scratch) -> PathBuf {
    scratch.write("prog.wat", std::fs::read(hello_wat()).expect("read"))
}

#[test]
fn minisign_unencrypted_key_and_signature_verify_in_lucetc() {
    let scratch = Scratch::new();
    let (public, secret) = (scratch.path("c.pub"), scratch.path("c.key"));
    run(minisign()
        .arg("-G")
        .arg("-W")
        .arg("-p")
        .arg(&public)
        .arg("-s")
        .arg(&secret))
    .ok();
    // Text and binary sources alike: the signature covers the file as stored.
    let wasm = scratch.write("prog.wasm", wat::parse_file(hello_wat()).expect("wat"));
    for source in [source_copy(&scratch), wasm] {
        run(minisign()
            .args(["-S", "-s"])
            .arg(&secret)
            .arg("-m")
            .arg(&source))
        .ok();
        compile_verified(&scratch, &source, &public).ok();
    }
    // The same minisign -W key signs artifacts, with or without raw:.
    for spelling in [arg(&secret), raw(&secret)] {
        assert_eq!(run_signed_by(&scratch, &spelling, b"", &public), HELLO);
    }
}

#[test]
fn minisign_password_key_opens_in_lucetc() {
    let scratch = Scratch::new();
    let (public, secret) = (scratch.path("c.pub"), scratch.path("c.key"));
    // minisign reads the password from stdin when it is not a terminal; its
    // scrypt cost is ~1 GiB, which is why only this test pays it.
    run_with_stdin(
        minisign()
            .arg("-G")
            .arg("-p")
            .arg(&public)
            .arg("-s")
            .arg(&secret),
        b"c-password\nc-password\n",
    )
    .ok();
    let printed = run_signed_by(&scratch, &arg(&secret), b"c-password\n", &public);
    assert_eq!(printed, HELLO);
}

#[test]
fn lucetc_keys_and_artifact_signatures_verify_in_minisign() {
    let scratch = Scratch::new();
    let (public, secret) = (scratch.path("l.pub"), scratch.path("l.key"));
    run_with_stdin(
        &mut password_keygen(&secret, &public),
        b"l-password\nl-password\n",
    )
    .ok();
    let artifact = sign_artifact(&scratch, &arg(&secret), b"l-password\n");
    let (image, signature) = extract(&scratch, &artifact);
    let output = run(minisign()
        .arg("-V")
        .arg("-H")
        .arg("-m")
        .arg(&image)
        .arg("-x")
        .arg(&signature)
        .arg("-p")
        .arg(&public));
    output.ok();
    assert!(
        output.stdout.contains("Trusted comment: lucet-artifact=3 "),
        "{output:#?}"
    );
    // minisign opens our password-protected key and signs with it.
    let source = source_copy(&scratch);
    run_with_stdin(
        minisign()
            .args(["-S", "-s"])
            .arg(&secret)
            .arg("-m")
            .arg(&source),
        b"l-password\n",
    )
    .ok();
    compile_verified(&scratch, &source, &public).ok();
    // A one-line public key, as `minisign -P` takes it, works too.
    let line = std::fs::read_to_string(&public)
        .expect("read")
        .lines()
        .nth(1)
        .expect("key line")
        .to_string();
    let bare = scratch.write("bare.pub", format!("{line}\n"));
    let output = run(minisign()
        .arg("-V")
        .arg("-m")
        .arg(&image)
        .arg("-x")
        .arg(&signature)
        .arg("-P")
        .arg(&line));
    output.ok();
    let output = run(lucet_wasi(pk(&bare)).arg(&artifact));
    assert_eq!(output.ok(), HELLO);
}

#[test]
fn rsign2_keys_and_signatures_verify_in_lucetc() {
    // `-W` keys are encrypted with the empty password, `--unencrypted` ones are not.
    for (flavour, flag) in [("passwordless", "-W"), ("unencrypted", "--unencrypted")] {
        let scratch = Scratch::new();
        let (public, secret) = (scratch.path("r.pub"), scratch.path("r.key"));
        run(rsign()
            .args(["generate", flag, "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret))
        .ok();
        let source = source_copy(&scratch);
        let output = run(rsign()
            .args(["sign", "-W", "-s"])
            .arg(&secret)
            .arg("-p")
            .arg(&public)
            .arg(&source));
        assert_eq!(output.status, 0, "{flavour}: {output:#?}");
        compile_verified(&scratch, &source, &public).ok();
        let printed = run_signed_by(&scratch, &raw(&secret), b"", &public);
        assert_eq!(printed, HELLO, "{flavour}");
    }
}

#[test]
fn rsign2_password_key_opens_in_lucetc() {
    let scratch = Scratch::new();
    let (public, secret) = (scratch.path("r.pub"), scratch.path("r.key"));
    let command = shell_line(
        rsign()
            .args(["generate", "-p"])
            .arg(&public)
            .arg("-s")
            .arg(&secret),
    );
    run_in_tty(&command, b"r-password\nr-password\n").ok();
    assert!(secret.is_file(), "rsign2 wrote no key");
    let printed = run_signed_by(&scratch, &arg(&secret), b"r-password\n", &public);
    assert_eq!(printed, HELLO);
}

#[test]
fn lucetc_artifact_signatures_verify_in_rsign2() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("lucet");
    let artifact = sign_artifact(&scratch, &raw(&secret), b"");
    let (image, signature) = extract(&scratch, &artifact);
    run(rsign()
        .args(["verify", "-p"])
        .arg(&public)
        .arg("-x")
        .arg(&signature)
        .arg(&image))
    .ok();
    // And a tampered image is refused by rsign2 too: the recipe is a real check.
    let mut bytes = std::fs::read(&image).expect("read");
    bytes[100] ^= 1;
    std::fs::write(&image, bytes).expect("write");
    let output = run(rsign()
        .args(["verify", "-p"])
        .arg(&public)
        .arg("-x")
        .arg(&signature)
        .arg(&image));
    assert_ne!(output.status, 0, "{output:#?}");
}
