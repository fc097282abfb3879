//! The command-line surface of lucetc: help text and usage errors.

use lucet_test_support::{assert_help_mentions, assert_usage_errors};

const LUCETC: &str = env!("CARGO_BIN_EXE_lucetc");

#[test]
fn help_documents_the_output_and_the_signing_flags() {
    assert_help_mentions(
        LUCETC,
        &[
            "NOT a shared library",
            "--signature-pk",
            "--signature-sk",
            "--signature-keygen",
            "--target-cpu",
            "--no-interruption",
            "Exit status",
        ],
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_usage_errors(
        LUCETC,
        &[
            &[],
            &["--no-such-flag", "x.wasm"],
            &["x.wasm", "--opt-level"],
        ],
    );
}
