//! Real third-party programs from the sightglass suite, compiled and run
//! under upstream's convention: the benchmark's directory is the working
//! directory, preopened as `.`; stdout and stderr match the expected files.

use std::path::Path;

use crate::util::*;

/// (directory, module stem). Chosen to cover C kernels, crypto and compression.
const PROGRAMS: &[(&str, &str)] = &[
    ("shootout", "shootout-ackermann"),
    ("shootout", "shootout-fib2"),
    ("shootout", "shootout-sieve"),
    ("shootout", "shootout-heapsort"),
    ("shootout", "shootout-keccak"),
    ("shootout", "shootout-ed25519"),
    ("quicksort", "benchmark"),
    ("blake3-scalar", "benchmark"),
    ("libsodium", "libsodium-chacha20"),
];

fn expected(dir: &Path, stem: &str, stream: &str) -> String {
    let specific = dir.join(format!("{stem}.{stream}.expected"));
    let fallback = dir.join(format!("default.{stream}.expected"));
    std::fs::read_to_string(&specific)
        .or_else(|_| std::fs::read_to_string(&fallback))
        .unwrap_or_default()
}

/// Upstream compares line by line; trailing whitespace is not significant.
fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).collect()
}

#[test]
fn sightglass_programs_compile_and_run_with_expected_output() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("corpus");
    let mut failures = Vec::new();
    for (dir, stem) in PROGRAMS {
        let dir = corpus().join("sightglass").join(dir);
        let module = dir.join(format!("{stem}.plainwasi.wasm"));
        let artifact = scratch.compile(&module, stem, &sk(raw(&secret)));
        let mut command = lucet_wasi([
            "--signature-pk".into(),
            arg(&public),
            "--dir".into(),
            ".".into(),
            arg(&artifact),
        ]);
        command.current_dir(&dir);
        let output = run(&mut command);
        let (want_out, want_err) = (
            expected(&dir, stem, "stdout"),
            expected(&dir, stem, "stderr"),
        );
        if output.status != 0
            || lines(&output.stdout) != lines(&want_out)
            || lines(&output.stderr) != lines(&want_err)
        {
            failures.push(format!("{stem} in {}: {output:#?}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} programs failed:\n{}",
        failures.len(),
        PROGRAMS.len(),
        failures.join("\n")
    );
}
