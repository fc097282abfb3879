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
