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
