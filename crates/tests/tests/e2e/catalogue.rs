//! The malformed-input catalogue: every kind of bad key, signature,
//! artifact, WebAssembly module, component and flag the tools can be handed,
//! each with the one-line error it must produce and its exit status, and
//! beside them the tools' successful runs with what they must print. The
//! cases are data, in `catalogue/*.toml`
//! (catalogue/README.md says how to read and add one); this file sets up
//! the files they share and runs them. docs/SECURITY.md lists the same
//! table; a test keeps the two in step.

mod recipes;

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use lucet_signature::{KdfCost, KeyId, SecretKey};
use serde::Deserialize;

use crate::util::*;
use recipes::FileRecipe;

/// The catalogue files, in the order their cases run and their rows print.
/// The password prompt cases come after the other refusals, where
/// docs/SECURITY.md lists them; `lucetc` holds the runs that succeed, which
/// have no row there.
const GROUPS: [&str; 10] = [
    "public-keys",
    "secret-keys",
    "minisig",
    "artifacts",
    "wasm3",
    "components",
    "flags",
    "policy-files",
    "password-prompts",
    "lucetc",
];

/// One catalogue file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Group {
    case: Vec<Case>,
}

/// One catalogue entry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// Short name, as in docs/SECURITY.md.
    name: String,
    /// The tool and its arguments, split at spaces; `{NAME}` stands for the
    /// path of NAME in the scratch directory.
    command: String,
    /// The files this case makes in the scratch directory.
    #[serde(default)]
    files: BTreeMap<String, FileRecipe>,
    /// What the tool reads on standard input.
    #[serde(default)]
    stdin: String,
    /// The exit status.
    status: i32,
    /// A refusal (status other than 0): a part of the one-line error that
    /// names the problem.
    #[serde(default)]
    error_contains: Option<String>,
    /// Parts of what the tool prints on standard output, each found as is.
    #[serde(default)]
    stdout_contains: Vec<String>,
    /// Parts of what the tool prints on standard error, each found as is.
    #[serde(default)]
    stderr_contains: Vec<String>,
}

fn catalogue_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/catalogue")
}

/// Every case, in the order of `GROUPS`.
fn catalogue() -> Result<Vec<Case>, String> {
    let dir = catalogue_dir();
    let listing = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for entry in listing {
        let path = entry.map_err(|e| e.to_string())?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if path.extension().is_some_and(|e| e == "toml") && !GROUPS.contains(&stem) {
            return Err(format!("{} is not in GROUPS", path.display()));
        }
    }
    let mut cases = Vec::new();
    for group in GROUPS {
        let path = dir.join(format!("{group}.toml"));
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{group}.toml: {e}"))?;
        let parsed: Group = toml::from_str(&text).map_err(|e| {
            format!("{group}.toml: {e}\n(catalogue/README.md lists the words a case may use)")
        })?;
        cases.extend(parsed.case);
    }
    let mut names = HashSet::new();
    if let Some(twice) = cases.iter().find(|case| !names.insert(&case.name)) {
        return Err(format!("two cases are named {:?}", twice.name));
    }
    if let Some(unclear) = cases.iter().find(|case| !case.expects_something()) {
        return Err(format!(
            "{:?}: a refusal needs error_contains, a success (status 0) stdout_contains or stderr_contains and no error_contains",
            unclear.name
        ));
    }
    Ok(cases)
}

/// Fixed keys, so messages (which name key ids) are stable.
fn fixed_key(byte: u8) -> SecretKey {
    SecretKey::from_seed(KeyId::from_bytes([byte; 8]), &[byte; 32])
}

/// The key the tools are told to trust.
fn good_key() -> SecretKey {
    fixed_key(7)
}

/// A third key: `spare.key`, `spare.pub`.
fn spare_key() -> SecretKey {
    fixed_key(9)
}

/// A WASI 0.2 command component whose `wasi:cli/run` returns success at
/// once: the smallest component lucet-wasi runs.
const COMMAND_COMPONENT: &str = include_str!("../../fixtures/command.wat");

/// The files every case may use, in one scratch directory:
/// - `good.pub`, `good.key`: the trusted key pair, unencrypted;
/// - `src.wat`: the hello-world source; `hello.wasm`: it, assembled;
/// - `good.so`: it, compiled and signed by `good.key`; `unsigned.so`: unsigned;
/// - `cmd.wat`: [`COMMAND_COMPONENT`]; `cmd.wasm`: it, assembled; `cmd.so`:
///   it, compiled and signed by `good.key`;
/// - `untrusted.pub`: another key's public half;
/// - `spare.key`, `spare-protected.key`: a third key, unencrypted and
///   protected by the password `right`; `spare.pub`: its public half.
fn world() -> Scratch {
    let scratch = Scratch::new();
    let good = good_key();
    scratch.write("good.pub", good.public_key().to_box());
    let secret = scratch.write("good.key", good.to_unencrypted_box());
    let source = std::fs::read(hello_wat()).expect("read hello.wat");
    scratch.write("src.wat", &source);
    scratch.write("hello.wasm", wat::parse_bytes(&source).expect("wat"));
    scratch.compile(&hello_wat(), "good", &sk(raw(&secret)));
    scratch.compile(&hello_wat(), "unsigned", &[]);
    let command = scratch.write("cmd.wat", COMMAND_COMPONENT);
    scratch.write("cmd.wasm", wat::parse_str(COMMAND_COMPONENT).expect("wat"));
    scratch.compile(&command, "cmd", &sk(raw(&secret)));
    scratch.write("untrusted.pub", fixed_key(8).public_key().to_box());
    let spare = spare_key();
    scratch.write("spare.key", spare.to_unencrypted_box());
    scratch.write("spare.pub", spare.public_key().to_box());
    let protected = spare
        .to_encrypted_box(b"right", KdfCost::TESTING)
        .expect("encrypt");
    scratch.write("spare-protected.key", protected);
    scratch
}

impl Case {
    /// Makes the case's files (artifacts and signatures last: they read
    /// what they compile or sign) and returns its command.
    fn prepare(&self, scratch: &Scratch) -> Result<Command, String> {
        let mut files: Vec<_> = self.files.iter().collect();
        files.sort_by_key(|(_, recipe)| recipe.stage());
        for (name, recipe) in files {
            let path = scratch.path(name);
            if path.exists() {
                return Err(format!(
                    "{name} exists already: name this case's files afresh"
                ));
            }
            let bytes = recipe.make(scratch).map_err(|e| format!("{name}: {e}"))?;
            std::fs::write(&path, bytes).map_err(|e| format!("{name}: {e}"))?;
        }
        let mut words = self.command.split_whitespace();
        let args = words
            .clone()
            .skip(1)
            .map(|word| expand(word, scratch))
            .collect::<Result<Vec<_>, _>>()?;
        match words.next() {
            Some("lucetc") => Ok(lucetc(args)),
            Some("lucet-wasi") => Ok(lucet_wasi(args)),
            other => Err(format!("unknown tool {other:?}: lucetc or lucet-wasi")),
        }
    }

    /// The tool's name, which starts its error line.
    fn tool(&self) -> &str {
        self.command.split_whitespace().next().unwrap_or_default()
    }

    /// Whether the tool must refuse (any status but 0): such a case has a
    /// row in docs/SECURITY.md.
    fn is_refusal(&self) -> bool {
        self.status != 0
    }

    /// Whether the case says what to check: the error of a refusal, or some
    /// output of a success.
    fn expects_something(&self) -> bool {
        if self.is_refusal() {
            self.error_contains.is_some()
        } else {
            self.error_contains.is_none()
                && !(self.stdout_contains.is_empty() && self.stderr_contains.is_empty())
        }
    }

    /// The part of the error line a refusal must print.
    fn error_needle(&self) -> &str {
        self.error_contains.as_deref().unwrap_or_default()
    }
}

/// `word` with each `{NAME}` replaced by the path of NAME in `scratch`.
fn expand(word: &str, scratch: &Scratch) -> Result<String, String> {
    let mut expanded = String::new();
    let mut rest = word;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|close| open + close)
            .ok_or_else(|| format!("unclosed `{{` in {word:?}"))?;
        expanded.push_str(&rest[..open]);
        expanded.push_str(&arg(&scratch.path(&rest[open + 1..close])));
        rest = &rest[close + 1..];
    }
    expanded.push_str(rest);
    Ok(expanded)
}

/// The tool's error lines: status lines such as "Deriving a key..." may
/// precede the one error, and so may a notice (`lucet-wasi: notice: running
/// ... unverified`), which says how the tool runs, not what is wrong.
fn error_lines<'a>(case: &Case, output: &'a Output) -> Vec<&'a str> {
    let prefix = format!("{}: ", case.tool());
    let notice = format!("{prefix}notice: ");
    output
        .stderr
        .lines()
        .filter(|line| line.starts_with(&prefix) && !line.starts_with(&notice))
        .collect()
}

/// Whether `output` is what `case` expects: its status and the expected
/// parts of stdout and stderr, and then for a refusal exactly one error line
/// (clap's usage errors, status 2, add a usage note) with the expected
/// words and nothing on stdout, for a success no error line at all.
fn ran_as_expected(case: &Case, output: &Output) -> bool {
    let printed = case.status == output.status
        && case
            .stdout_contains
            .iter()
            .all(|part| output.stdout.contains(part))
        && case
            .stderr_contains
            .iter()
            .all(|part| output.stderr.contains(part));
    let errors = error_lines(case, output).len();
    if case.is_refusal() {
        let one_line = errors == 1 || case.status == 2;
        printed
            && output.stderr.contains(case.error_needle())
            && one_line
            && output.stdout.is_empty()
    } else {
        printed && errors == 0
    }
}

/// The case's docs/SECURITY.md row, as produced here (paths shortened).
fn security_md_row(case: &Case, output: &Output, scratch: &Scratch) -> String {
    let message = error_lines(case, output)
        .first()
        .copied()
        .or_else(|| output.stderr.lines().next())
        .unwrap_or_default()
        .replace(&scratch.path("").display().to_string(), "")
        .replace('|', "\\|");
    format!("| {} | {message} | {} |", case.name, case.status)
}

#[test]
fn every_malformed_input_is_a_one_line_error_with_a_defined_status() {
    let cases = catalogue().unwrap_or_else(|problem| panic!("catalogue: {problem}"));
    let world = world();
    let mut failures = Vec::new();
    for case in &cases {
        let mut command = match case.prepare(&world) {
            Ok(command) => command,
            Err(problem) => {
                failures.push(format!("{}: {problem}", case.name));
                continue;
            }
        };
        let output = run_with_stdin(&mut command, case.stdin.as_bytes());
        if !ran_as_expected(case, &output) {
            failures.push(format!("{}: {output:#?}", case.name));
        }
        if case.is_refusal() {
            println!("{}", security_md_row(case, &output, &world));
        }
    }
    let refusals = cases.iter().filter(|case| case.is_refusal()).count();
    println!(
        "{refusals} malformed-input cases and {} successful runs checked",
        cases.len() - refusals
    );
    assert!(cases.len() >= 40, "the catalogue shrank to {}", cases.len());
    assert!(
        failures.is_empty(),
        "{} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn security_md_lists_every_case() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/SECURITY.md"),
    )
    .expect("docs/SECURITY.md");
    let cases = catalogue().unwrap_or_else(|problem| panic!("catalogue: {problem}"));
    // Each case has a row naming it, with its exit status and (in the message
    // column) the part of the message that the test above checks.
    let missing: Vec<&str> = cases
        .iter()
        .filter(|case| case.is_refusal())
        .filter(|case| {
            let start = format!("| {} | ", case.name);
            let end = format!(" | {} |", case.status);
            !doc.lines().any(|row| {
                row.starts_with(&start) && row.ends_with(&end) && row.contains(case.error_needle())
            })
        })
        .map(|case| case.name.as_str())
        .collect();
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md lacks or misstates these catalogue rows (regenerate them with\n\
         `cargo test -p lucet-tests --test e2e catalogue::every -- --nocapture`):\n{}",
        missing.join("\n")
    );
}
