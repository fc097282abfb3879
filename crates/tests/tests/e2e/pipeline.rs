//! The signed pipeline end to end: verified sources, signed artifacts, and a
//! runner that refuses anything else.

use std::path::{Path, PathBuf};

use crate::util::*;

/// The bundled example: hello.wat, its publisher's signature and public key.
fn publisher_pub() -> PathBuf {
    examples().join("hello/publisher.pub")
}

/// A signed hello artifact and the public key that verifies it.
fn signed_hello(scratch: &Scratch) -> (PathBuf, PathBuf) {
    let (secret, public) = scratch.raw_key_pair("lucet");
    let artifact = scratch.compile(
        &hello_wat(),
        "hello",
        &[pk(&publisher_pub()), sk(raw(&secret))].concat(),
    );
    (artifact, public)
}

#[test]
fn bundled_example_compiles_verified_signed_and_runs_verified() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("lucet");
    let artifact = scratch.path("hello.so");
    let output = run(&mut lucetc([
        arg(&hello_wat()),
        "--signature-pk".into(),
        arg(&publisher_pub()),
        sign_raw(&secret),
        "-o".into(),
        arg(&artifact),
    ]));
    output.ok();
    assert!(
        output
            .stderr
            .contains("source trusted comment: hello.wat, the lucet demo module, as published"),
        "{output:#?}"
    );
    let output = run(lucet_wasi(pk(&public)).arg(&artifact));
    assert_eq!(output.ok(), HELLO);
    // Lucet's explicit flags are accepted alongside their keys.
    let output = run(lucet_wasi(["--signature-verify"])
        .args(pk(&public))
        .arg(&artifact));
    assert_eq!(output.ok(), HELLO);
}

#[test]
fn unsigned_and_signed_artifacts_both_run_without_a_key() {
    let scratch = Scratch::new();
    let (signed, _) = signed_hello(&scratch);
    let unsigned = scratch.compile(&hello_wat(), "unsigned", &[]);
    assert_eq!(run(&mut lucet_wasi([&signed])).ok(), HELLO);
    assert_eq!(run(&mut lucet_wasi([&unsigned])).ok(), HELLO);
}

#[test]
fn the_same_key_can_sign_sources_and_artifacts() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("one");
    let source = scratch.write("prog.wat", std::fs::read(hello_wat()).expect("read"));
    // Sign the source with the real minisign, using our raw: key.
    let output = run(std::process::Command::new(external("minisign")).args([
        "-S".as_ref(),
        "-s".as_ref(),
        secret.as_os_str(),
        "-m".as_ref(),
        source.as_os_str(),
    ]));
    output.ok();
    let artifact = scratch.compile(&source, "prog", &[pk(&public), sk(raw(&secret))].concat());
    let output = run(lucet_wasi(pk(&public)).arg(&artifact));
    assert_eq!(output.ok(), HELLO);
}

#[test]
fn password_protected_keys_work_through_a_pipe() {
    let scratch = Scratch::new();
    let secret = scratch.path("pw.key");
    let public = scratch.path("pw.pub");
    let keygen = |input: &[u8]| run_with_stdin(&mut password_keygen(&secret, &public), input);
    // A mismatch leaves no files behind.
    keygen(b"correct horse\nbattery staple\n").refused(1, "passwords don't match");
    assert!(!secret.exists() && !public.exists());
    let output = keygen(b"correct horse\ncorrect horse\n");
    output.ok();
    assert!(
        output
            .stderr
            .contains("Deriving a key from the password..."),
        "{output:#?}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&secret)
        .expect("stat")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "secret key mode");
    // Existing keys are never overwritten without --force.
    keygen(b"x\nx\n").refused(1, "--force");

    let compile = |input: &[u8]| {
        run_with_stdin(
            &mut lucetc_signed(&hello_wat(), arg(&secret), &scratch.path("pw.so")),
            input,
        )
    };
    let wrong = compile(b"tr0ub4dor\n");
    assert_eq!(wrong.status, 1, "{wrong:#?}");
    // Neither passwords nor key material ever reach an output or a message.
    let secret_line = std::fs::read_to_string(&secret)
        .expect("read key")
        .lines()
        .nth(1)
        .expect("key line")
        .to_string();
    for text in [&output.stdout, &output.stderr, &wrong.stdout, &wrong.stderr] {
        for secret in ["correct horse", "tr0ub4dor", &secret_line] {
            assert!(!text.contains(secret), "{secret:?} leaked into {text:?}");
        }
    }
    assert!(
        wrong.stderr.contains("wrong password for that key"),
        "{wrong:#?}"
    );
    assert!(!scratch.path("pw.so").exists());
    compile(b"")
        .status
        .eq(&1)
        .then_some(())
        .expect("no password on stdin must fail");
    compile(b"correct horse\n").ok();
    let output = run(lucet_wasi(pk(&public)).arg(scratch.path("pw.so")));
    assert_eq!(output.ok(), HELLO);
    // `raw:` promises no prompt: an encrypted key behind it is an error.
    run(&mut lucetc_signed(
        &hello_wat(),
        raw(&secret),
        &scratch.path("r.so"),
    ))
    .refused(1, "password-protected");
}

#[test]
fn lucetc_refuses_sources_that_do_not_verify_and_writes_nothing() {
    let scratch = Scratch::new();
    let (_, other_public) = scratch.raw_key_pair("other");
    let out = scratch.path("refused.so");
    let compile = |source: &Path, key: &Path| run(&mut lucetc_verified(source, key, &out));
    // No signature at all: the error names the expected path.
    let lonely = scratch.write("lonely.wat", b"(module)");
    compile(&lonely, &publisher_pub()).refused(1, "lonely.wat.minisig not found");
    // The right signature, an untrusted key.
    compile(&hello_wat(), &other_public).refused(1, "40FCCEDA8519379D");
    // A modified source under the genuine signature.
    let mut bytes = std::fs::read(hello_wat()).expect("read");
    bytes.extend_from_slice(b";; appended\n");
    let modified = scratch.write("hello.wat", bytes);
    std::fs::copy(
        examples().join("hello/hello.wat.minisig"),
        scratch.path("hello.wat.minisig"),
    )
    .expect("copy signature");
    compile(&modified, &publisher_pub()).refused(1, "does not verify");
    // A malformed signature file.
    std::fs::write(
        scratch.path("hello.wat.minisig"),
        "untrusted comment: x\nnot base64!\n",
    )
    .expect("write");
    compile(&modified, &publisher_pub()).refused(1, "hello.wat.minisig");
    assert!(!out.exists(), "a refused source produced an artifact");
}

#[test]
fn legacy_source_signatures_need_an_explicit_opt_in() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("legacy");
    let source = scratch.write("old.wat", std::fs::read(hello_wat()).expect("read"));
    run(std::process::Command::new(external("minisign")).args([
        "-S".as_ref(),
        "-l".as_ref(),
        "-s".as_ref(),
        secret.as_os_str(),
        "-m".as_ref(),
        source.as_os_str(),
    ]))
    .ok();
    let compile = |extra: &[&str]| {
        let mut command = lucetc_verified(&source, &public, &scratch.path("old.so"));
        command.args(extra);
        run(&mut command)
    };
    compile(&[]).refused(1, "--allow-legacy-signatures");
    compile(&["--allow-legacy-signatures"]).ok();
}

/// Every way an artifact can fail verification: exit 1, a reason, and the guest never starts.
#[test]
fn lucet_wasi_refuses_every_unverifiable_artifact() {
    let scratch = Scratch::new();
    let (artifact, public) = signed_hello(&scratch);
    let (_, other_public) = scratch.raw_key_pair("other");
    let good = std::fs::read(&artifact).expect("read");
    let verify = |path: &Path, key: &Path| run(lucet_wasi(pk(key)).arg(path));
    assert_eq!(verify(&artifact, &public).ok(), HELLO);

    let unsigned = scratch.compile(&hello_wat(), "unsigned", &[]);
    verify(&unsigned, &public).refused(1, "not signed");
    verify(&artifact, &other_public).refused(1, "key");

    let variant = |name: &str, bytes: Vec<u8>| scratch.write(name, bytes);
    let footer = good.len() - 16;
    let block_len = u32::from_le_bytes(good[footer + 12..].try_into().expect("4 bytes")) as usize;
    let block = footer - block_len;
    let mut flipped_image = good.clone();
    flipped_image[block / 2] ^= 0x01;
    verify(&variant("image.so", flipped_image), &public).refused(1, "signature");
    let mut flipped_elf = good.clone();
    flipped_elf[1] ^= 0x20;
    verify(&variant("elf.so", flipped_elf), &public).refused(1, "signature");
    let mut flipped_comment = good.clone();
    let trusted = block
        + find(&good[block..], b"trusted comment: lucet-artifact").expect("trusted comment")
        + 20;
    flipped_comment[trusted] ^= 0x01;
    verify(&variant("comment.so", flipped_comment), &public).refused(1, "signature");
    let mut untrusted = good.clone();
    untrusted[block + 20] ^= 0x01;
    verify(&variant("untrusted.so", untrusted), &public).refused(1, "canonical");
    let mut magic = good.clone();
    magic[footer] ^= 0x01;
    verify(&variant("magic.so", magic), &public).refused(1, "LUCETART");
    verify(
        &variant("truncated.so", good[..good.len() - 1].to_vec()),
        &public,
    )
    .refused(1, "artifact");
    verify(
        &variant("half.so", good[..good.len() / 2].to_vec()),
        &public,
    )
    .refused(1, "artifact");
    verify(&variant("empty.so", Vec::new()), &public).refused(1, "too short");
    let mut extended = good.clone();
    extended.extend_from_slice(b"\n");
    verify(&variant("extended.so", extended), &public).refused(1, "LUCETART");

    // A legacy (non-prehashed) signature block is refused even if it verifies.
    let legacy_block = String::from_utf8(good[block..footer].to_vec()).expect("utf8 block");
    let mut lines: Vec<&str> = legacy_block.lines().collect();
    let relabelled = relabel_legacy(lines[1]);
    lines[1] = &relabelled;
    let mut legacy = good[..block].to_vec();
    let new_block = format!("{}\n", lines.join("\n"));
    legacy.extend_from_slice(new_block.as_bytes());
    legacy.extend_from_slice(&good[footer..]);
    verify(&variant("legacy.so", legacy), &public).refused(1, "legacy");

    // Lucet's flag without a key is an error, never a silent no-op.
    run(&mut lucet_wasi([
        "--signature-verify".into(),
        arg(&artifact),
    ]))
    .usage_error("--signature-pk");
    // A malformed key is refused before anything runs.
    let bad_key = scratch.write("bad.pub", "untrusted comment: x\nRWQ=\n");
    verify(&artifact, &bad_key).refused(1, "bad.pub");
    verify(&artifact, &scratch.path("absent.pub")).refused(1, "absent.pub");
}

/// Changes the algorithm of a signature line from prehashed `ED` to legacy `Ed`.
fn relabel_legacy(line: &str) -> String {
    use base64::Engine;
    let engine = base64::engine::general_purpose::STANDARD;
    let mut bytes = engine.decode(line).expect("base64");
    bytes[1] = b'd';
    engine.encode(bytes)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn verification_accepts_any_of_several_keys() {
    let scratch = Scratch::new();
    let (artifact, public) = signed_hello(&scratch);
    let (_, other) = scratch.raw_key_pair("other");
    let output = run(lucet_wasi([pk(&other), pk(&public)].concat()).arg(&artifact));
    assert_eq!(output.ok(), HELLO);
}

#[test]
fn a_terminal_is_asked_for_passwords_without_echo() {
    let scratch = Scratch::new();
    let (secret, public) = (scratch.path("tty.key"), scratch.path("tty.pub"));
    let command = shell_line(&password_keygen(&secret, &public));
    let output = run_in_tty(&command, b"typed-secret\ntyped-secret\n");
    assert_eq!(output.status, 0, "{output:#?}");
    // `script` shows everything the terminal displayed: both prompts, the
    // first naming the new key's id and file, never the password.
    assert!(
        output.stdout.contains("Password for new key "),
        "{output:#?}"
    );
    assert!(output.stdout.contains("tty.key): "), "{output:#?}");
    assert!(
        output.stdout.contains("Password (one more time):"),
        "{output:#?}"
    );
    assert!(
        !output.stdout.contains("typed-secret"),
        "the password was echoed: {output:#?}"
    );
    let artifact = scratch.path("tty.so");
    run_with_stdin(
        &mut lucetc_signed(&hello_wat(), arg(&secret), &artifact),
        b"typed-secret\n",
    )
    .ok();
    let output = run(lucet_wasi(pk(&public)).arg(&artifact));
    assert_eq!(output.ok(), HELLO);
}

/// Lucet's old `raw:` secret keys: a 158-byte binary file (not a text box),
/// `EdScB2` ‖ salt ‖ opslimit ‖ memlimit ‖ key id ‖ seed ‖ public key ‖ zero
/// checksum, cleartext despite its `Sc` tag. Old deployments keep signing.
#[test]
fn lucet_era_binary_raw_keys_still_sign() {
    use lucet_signature::{KeyId, SecretKey};
    let scratch = Scratch::new();
    let key_id = [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
    let seed = [0x42u8; 32];
    let key = SecretKey::from_seed(KeyId::from_bytes(key_id), &seed);
    let mut bytes = b"EdScB2".to_vec();
    bytes.extend_from_slice(&[0u8; 32]); // salt
    bytes.extend_from_slice(&[0u8; 16]); // opslimit, memlimit
    bytes.extend_from_slice(&key_id);
    bytes.extend_from_slice(&seed);
    bytes.extend_from_slice(key.public_key().ed25519_bytes());
    bytes.extend_from_slice(&[0u8; 32]); // checksum
    assert_eq!(bytes.len(), 158);
    let secret = scratch.write("lucet-old.key", &bytes);
    let public = scratch.write("lucet-old.pub", key.public_key().to_box());
    let artifact = scratch.compile(&hello_wat(), "old", &[sign_raw(&secret)]);
    let output = run(lucet_wasi(pk(&public)).arg(&artifact));
    assert_eq!(output.ok(), HELLO);
    // A corrupted public half is caught by re-deriving it from the seed.
    let mut corrupt = bytes.clone();
    corrupt[120] ^= 1;
    let corrupt = scratch.write("corrupt.key", corrupt);
    run(&mut lucetc([
        arg(&hello_wat()),
        sign_raw(&corrupt),
        "-o".into(),
        arg(&scratch.path("x.so")),
    ]))
    .refused(1, "does not match its seed");
}

#[test]
fn lucetc_trusts_lucet_signature_pk_like_the_runner_but_never_writes_to_it() {
    let scratch = Scratch::new();
    let (_, other_public) = scratch.raw_key_pair("other");
    let out = scratch.path("env.so");
    let with_env = |mut command: std::process::Command, keys: &Path| {
        command.env("LUCET_SIGNATURE_PK", keys);
        command
    };
    // Compiling: the variable's keys verify the source, as --signature-pk would.
    let compile =
        |source: &Path, keys: &Path| with_env(lucetc([arg(source), "-o".into(), arg(&out)]), keys);
    run(&mut compile(&hello_wat(), &publisher_pub())).ok();
    run(&mut compile(&hello_wat(), &other_public)).refused(1, "40FCCEDA8519379D");
    let lonely = scratch.write("lonely.wat", b"(module)");
    run(&mut compile(&lonely, &publisher_pub())).refused(1, "lonely.wat.minisig not found");

    // Keygen writes the flag's path only: the variable names keys to trust,
    // never a file to create.
    let target = scratch.path("from-env.pub");
    let (secret, public) = (scratch.path("new.key"), scratch.path("new.pub"));
    let mut keygen = with_env(lucetc(raw_keygen_args(&secret, &public)), &target);
    run(&mut keygen).ok();
    assert!(public.is_file() && !target.exists());
}
