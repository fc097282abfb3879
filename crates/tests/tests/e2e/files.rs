//! The files the tools read and write: only regular files are read (a FIFO
//! or a device is refused at once, never waited on or read forever), and
//! nothing the user still needs is overwritten by a slip of the command line.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::util::*;

/// How long a refusal may take: it should be immediate, but a loaded
/// machine is slow. A tool that blocks on a FIFO never finishes.
const REFUSAL: Duration = Duration::from_secs(20);

const FIFO: &str = "it is a named pipe (FIFO), not a regular file";

/// The bundled example's publisher key (it verifies hello.wat.minisig).
fn publisher_pub() -> PathBuf {
    examples().join("hello/publisher.pub")
}

/// A FIFO named `name` in `scratch`, that nothing will ever write to.
fn fifo(scratch: &Scratch, name: &str) -> PathBuf {
    let path = scratch.path(name);
    mkfifo(&path);
    path
}

/// Names left in `dir` by an interrupted write (`.NAME.tmp-...`).
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("read scratch directory")
        .map(|entry| {
            entry
                .expect("entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .filter(|name| name.contains(".tmp-"))
        .collect()
}

#[test]
fn the_runner_refuses_fifos_at_once() {
    let scratch = Scratch::new();
    let pipe = fifo(&scratch, "app.so");
    run_bounded(&mut lucet_wasi([&pipe]), REFUSAL).refused(1, FIFO);
    run_bounded(&mut lucet_objdump([&pipe]), REFUSAL).refused(1, FIFO);
    // A FIFO as the key, beside a genuine artifact.
    let artifact = scratch.compile(&hello_wat(), "hello", &[]);
    let key = fifo(&scratch, "lucet.pub");
    for mut command in [
        lucet_wasi(["--signature-pk".into(), arg(&key), arg(&artifact)]),
        lucet_objdump(["--signature-pk".into(), arg(&key), arg(&artifact)]),
    ] {
        let output = run_bounded(&mut command, REFUSAL);
        output.refused(1, FIFO);
        assert!(output.stderr.contains("lucet.pub"), "{output:#?}");
    }
}

#[test]
fn the_compiler_refuses_fifos_at_once() {
    let scratch = Scratch::new();
    let out = scratch.path("out.so");
    let compile = |args: Vec<String>| {
        let mut command = lucetc(args);
        command.args(["-o".as_ref(), out.as_os_str()]);
        let output = run_bounded(&mut command, REFUSAL);
        output.refused(1, FIFO);
        assert!(!out.exists(), "a refused compile wrote {}", out.display());
        output
    };
    // The source.
    let source = fifo(&scratch, "app.wat");
    compile(vec![arg(&source)]);
    // The source's signature, beside a regular source.
    let signed = scratch.write("hello.wat", std::fs::read(hello_wat()).expect("read"));
    fifo(&scratch, "hello.wat.minisig");
    let output = compile(vec![
        arg(&signed),
        "--signature-pk".into(),
        arg(&publisher_pub()),
    ]);
    assert!(output.stderr.contains("hello.wat.minisig"), "{output:#?}");
    // A public key.
    let public = fifo(&scratch, "lucet.pub");
    compile(vec![
        arg(&hello_wat()),
        "--signature-pk".into(),
        arg(&public),
    ]);
    // The secret key, with and without a password.
    let secret = fifo(&scratch, "lucet.key");
    compile(vec![
        arg(&hello_wat()),
        "--signature-sk".into(),
        raw(&secret),
    ]);
    compile(vec![
        arg(&hello_wat()),
        "--signature-sk".into(),
        arg(&secret),
    ]);
    // An artifact to re-sign.
    let artifact = fifo(&scratch, "old.so");
    let (key, _) = scratch.raw_key_pair("signer");
    compile(vec![
        "--resign".into(),
        arg(&artifact),
        "--allow-unverified".into(),
        "--signature-sk".into(),
        raw(&key),
    ]);
}

/// The original report: a source that is a link to /dev/zero, with a
/// genuine signature beside it, ended in an allocation abort (SIGABRT)
/// instead of an error.
#[test]
fn devices_as_the_source_are_refused_in_one_line() {
    let scratch = Scratch::new();
    let out = scratch.path("out.so");
    let device = "it is a character device, not a regular file";
    run_bounded(
        &mut lucetc(["/dev/zero".as_ref(), "-o".as_ref(), out.as_os_str()]),
        REFUSAL,
    )
    .refused(1, device);
    // Named as the signed file, so that any check of the signature's file
    // name passes and the source itself is what is refused.
    let zero = scratch.path("hello.wat");
    std::os::unix::fs::symlink("/dev/zero", &zero).expect("symlink");
    std::fs::copy(
        examples().join("hello/hello.wat.minisig"),
        scratch.path("hello.wat.minisig"),
    )
    .expect("copy signature");
    let output = run_bounded(&mut lucetc_verified(&zero, &publisher_pub(), &out), REFUSAL);
    output.refused(1, &format!("cannot open {}: {device}", zero.display()));
    assert!(!out.exists());
}

#[test]
fn oversized_sources_are_refused_naming_the_flag() {
    let scratch = Scratch::new();
    let mut text = b"(module)\n".to_vec();
    text.resize(2048, b' ');
    let source = scratch.write("big.wat", text);
    let out = scratch.path("big.so");
    run(&mut lucetc([
        arg(&source),
        "--max-input-size".into(),
        "1K".into(),
        "-o".into(),
        arg(&out),
    ]))
    .refused(1, "more than --max-input-size (1024 bytes)");
    assert!(!out.exists());
    // The same source under a larger limit compiles.
    scratch.compile(&source, "big", &["--max-input-size".into(), "2K".into()]);
}

#[test]
fn keygen_leaves_nothing_behind_when_a_key_cannot_be_written() {
    let scratch = Scratch::new();
    let secret = scratch.path("lucet.key");
    let public = scratch.path("missing").join("lucet.pub");
    let output = run(&mut lucetc([
        "--signature-keygen".into(),
        sign_raw(&secret),
        "--signature-pk".into(),
        arg(&public),
    ]));
    output.refused(1, "missing");
    assert!(!secret.exists(), "a secret key without its public key");
    assert!(leftovers(&scratch.path("")).is_empty());
}

#[test]
fn keygen_refuses_one_path_for_both_keys_even_with_force() {
    let scratch = Scratch::new();
    let key = scratch.write("lucet.key", "the old key\n");
    std::fs::create_dir(scratch.path("sub")).expect("mkdir");
    // The same file, spelt differently.
    let other_spelling = scratch.path("sub").join("..").join("lucet.key");
    for public in [&key, &other_spelling] {
        run(&mut lucetc([
            "--signature-keygen".into(),
            "--force".into(),
            sign_raw(&key),
            "--signature-pk".into(),
            arg(public),
        ]))
        .refused(1, "name the same file");
        assert_eq!(
            std::fs::read_to_string(&key).expect("read"),
            "the old key\n"
        );
    }
}

#[test]
fn the_artifact_is_never_written_over_an_input() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("lucet");
    let secret_text = std::fs::read(&secret).expect("read key");
    run(&mut lucetc_signed(&hello_wat(), raw(&secret), &secret))
        .refused(1, "it is the secret key (--signature-sk)");
    assert_eq!(std::fs::read(&secret).expect("read key"), secret_text);
    let public_text = std::fs::read(&public).expect("read key");
    run(&mut lucetc_verified(&hello_wat(), &public, &public))
        .refused(1, "it is a public key (--signature-pk)");
    assert_eq!(std::fs::read(&public).expect("read key"), public_text);

    // A source named x.so would be its own default output.
    let wat = std::fs::read(hello_wat()).expect("read");
    let source = scratch.write("x.so", &wat);
    run(&mut lucetc([&source])).refused(
        1,
        "(the default output, INPUT's stem + .so): it is the source",
    );
    assert_eq!(std::fs::read(&source).expect("read source"), wat);
}

#[test]
fn readable_unencrypted_secret_keys_are_warned_about_and_still_sign() {
    use std::os::unix::fs::PermissionsExt as _;
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("lucet");
    let sign = |mode: u32, stem: &str| {
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let out = scratch.path(&format!("{stem}.so"));
        let output = run(&mut lucetc_signed(&hello_wat(), raw(&secret), &out));
        output.ok();
        let verified = run(lucet_wasi(pk(&public)).arg(&out));
        assert_eq!(verified.ok(), HELLO);
        output.stderr
    };
    let stderr = sign(0o644, "open");
    let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
    assert_eq!(warnings.len(), 1, "{stderr}");
    assert!(
        warnings[0].contains("other users can access it (mode 644)")
            && warnings[0].ends_with(&format!("run `chmod 600 {}`", secret.display())),
        "{stderr}"
    );
    let stderr = sign(0o600, "private");
    assert!(!stderr.contains("warning"), "{stderr}");
}

#[test]
fn extracting_a_signature_never_writes_through_a_link() {
    let scratch = Scratch::new();
    let (secret, _) = scratch.raw_key_pair("lucet");
    let artifact = scratch.compile(&hello_wat(), "hello", &sk(raw(&secret)));
    let dir = scratch.path("extracted");
    std::fs::create_dir(&dir).expect("mkdir");
    let extract = || {
        run(&mut lucet_objdump([
            "--extract-signature".into(),
            arg(&dir),
            arg(&artifact),
        ]))
    };
    // A link planted at the image's name, to an existing or a new file.
    let victim = scratch.write("victim", "precious");
    let image = dir.join("image.bin");
    std::os::unix::fs::symlink(&victim, &image).expect("symlink");
    extract().refused(1, "image.bin already exists; remove it");
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    std::fs::remove_file(&image).expect("rm");
    let planted = scratch.path("planted");
    std::os::unix::fs::symlink(&planted, &image).expect("symlink");
    extract().refused(1, "image.bin already exists");
    assert!(!planted.exists(), "written through a dangling link");
    std::fs::remove_file(&image).expect("rm");
    // At the signature's name: the image is not left without it.
    let signature = dir.join("image.bin.minisig");
    std::os::unix::fs::symlink(&victim, &signature).expect("symlink");
    extract().refused(1, "image.bin.minisig already exists");
    assert_eq!(std::fs::read_to_string(&victim).expect("read"), "precious");
    assert!(image.symlink_metadata().is_err(), "image left behind");
    std::fs::remove_file(&signature).expect("rm");
    assert!(leftovers(&dir).is_empty());
    // An empty directory is written; a second extraction into it is refused.
    extract().ok();
    assert!(image.is_file() && signature.is_file());
    extract().refused(1, "image.bin already exists");
}
