//! The command-line surface of lucet-wasi: help text and usage errors.

use lucet_test_support::{assert_help_mentions, assert_usage_errors};

const LUCET_WASI: &str = env!("CARGO_BIN_EXE_lucet-wasi");

#[test]
fn help_documents_the_exit_statuses() {
    assert_help_mentions(
        LUCET_WASI,
        &[
            "134",
            "124",
            "proc_exit",
            "--signature-pk",
            "--dir",
            "--timeout",
        ],
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_usage_errors(
        LUCET_WASI,
        &[&[], &["--no-such-flag", "x.so"], &["--timeout"]],
    );
}

/// Only built into runners made with `--features require-signatures`
/// (scripts/test.sh runs this test that way).
#[cfg(feature = "require-signatures")]
#[test]
fn a_require_signatures_build_refuses_to_start_without_a_key() {
    let out = std::process::Command::new(LUCET_WASI)
        .arg("anything.so")
        .env_remove("LUCET_SIGNATURE_PK")
        .output()
        .expect("run lucet-wasi");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("only runs verified artifacts"), "{stderr}");
}
