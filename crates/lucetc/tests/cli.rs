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

#[test]
fn dash_h_is_short_and_grouped_and_lucet_flags_stay_hidden() {
    use std::process::Command;
    let run = |flag: &str| {
        let output = Command::new(LUCETC).arg(flag).output().expect("run lucetc");
        assert!(output.status.success(), "{flag}: {output:?}");
        String::from_utf8(output.stdout).expect("utf-8 help")
    };
    let (short, long) = (run("-h"), run("--help"));
    for heading in ["Input and output:", "Code generation:", "Trust:", "Limits:"] {
        assert!(short.contains(heading), "-h lacks {heading}:\n{short}");
    }
    assert!(short.len() < long.len(), "-h is not shorter than --help");
    assert!(
        !short.contains("NOT a shared library"),
        "-h prints the sections"
    );
    assert!(
        short.contains("lucetc --help"),
        "-h does not point to --help"
    );
    for hidden in [
        "--signature-verify",
        "--signature-create",
        "--min-reserved-size",
        "--insecure-cheap-kdf",
    ] {
        assert!(!long.contains(hidden), "--help shows {hidden}");
    }
    for short_flag in [
        "-p, --signature-pk",
        "-s, --signature-sk",
        "-x, --source-signature",
        "-P, --signature-pk-base64",
    ] {
        assert!(short.contains(short_flag), "-h lacks {short_flag}");
    }
}
