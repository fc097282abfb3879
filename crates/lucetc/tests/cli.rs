//! The command-line surface of lucetc: help text and usage errors.

use std::process::Command;

fn lucetc(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lucetc"))
        .args(args)
        .output()
        .expect("run lucetc")
}

#[test]
fn help_documents_the_output_and_the_signing_flags() {
    let out = lucetc(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "NOT a shared library",
        "--signature-pk",
        "--signature-sk",
        "--signature-keygen",
        "--target-cpu",
        "--no-interruption",
        "Exit status",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &[][..],
        &["--no-such-flag", "x.wasm"],
        &["x.wasm", "--opt-level"],
    ] {
        let out = lucetc(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}
