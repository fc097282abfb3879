//! What every tool's command line promises: `--help` that documents it, and
//! usage errors that exit with status 2.

use std::process::Command;

use crate::{assert_mentions, run};

/// Asserts that `program --help` succeeds and mentions every one of `needles`.
#[track_caller]
pub fn assert_help_mentions(program: &str, needles: &[&str]) {
    let help = run(Command::new(program).arg("--help"));
    assert_mentions(&format!("{program} --help"), help.ok(), needles);
}

/// Asserts that `program` refuses each of `command_lines` as a usage error:
/// exit status 2, without a panic.
#[track_caller]
pub fn assert_usage_errors(program: &str, command_lines: &[&[&str]]) {
    for args in command_lines {
        let out = run(Command::new(program).args(*args));
        assert_eq!(out.status, 2, "{program} {args:?}: {out:#?}");
    }
}
