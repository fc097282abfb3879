//! The command-line surface of lucet-wasi: help text and usage errors.

use std::process::Command;

fn lucet_wasi(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lucet-wasi"))
        .args(args)
        .output()
        .expect("run lucet-wasi")
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = lucet_wasi(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "134",
        "124",
        "proc_exit",
        "--signature-pk",
        "--dir",
        "--timeout",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn usage_errors_exit_2() {
    for args in [&[][..], &["--no-such-flag", "x.so"], &["--timeout"]] {
        let out = lucet_wasi(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
    }
}

/// Only built into runners made with `--features require-signatures`
/// (scripts/test.sh runs this test that way).
#[cfg(feature = "require-signatures")]
#[test]
fn a_require_signatures_build_refuses_to_start_without_a_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_lucet-wasi"))
        .arg("anything.so")
        .env_remove("LUCET_SIGNATURE_PK")
        .output()
        .expect("run lucet-wasi");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only runs verified artifacts"), "{stderr}");
}
