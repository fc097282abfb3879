//! Runs docs/guide.md: every ```sh block, in order, in one `bash -euo pipefail`
//! session in a scratch directory, with the built tools first on PATH. The
//! guide cannot go stale without this test failing, and a failure names the
//! block, its line in the guide, and what it printed.
//!
//! The guide's conventions (its introduction states them for readers):
//! - ```sh runs; ```sh no-run is shown but not run (the text says why, and
//!   such blocks are kept rare); only `sh`, `sh no-run`, `text`,
//!   `text output` and `json` blocks are allowed, so a shell block cannot
//!   escape the test by being labelled `bash` or `console`.
//! - A line `! COMMAND ARGS...` must be refused: COMMAND must exit with
//!   status 1, the tools' status for a refusal. Bash's own `!` would never
//!   stop `set -e`, so the test rewrites the line into a check.
//! - A ```text output block right after a ```sh block lists lines that the
//!   block's output (stdout and stderr) must contain, in order: each must
//!   be found within one output line, `…` standing for any text.
//!
//! Tools: `$LUCETC`, `$LUCET_WASI`, `$LUCET_SERVE`, `$LUCET_OBJDUMP` when
//! set (CI points `LUCET_WASI` at the runner built without a compiler), else
//! the binaries beside this test; rsign and minisign from PATH or
//! `~/.cargo/bin` (scripts/install-test-deps.sh installs them), curl from
//! PATH. `$EXAMPLES` is the repository's examples directory;
//! `$HTTP_COMPONENT` a wasi:http/proxy component, the one
//! scripts/build-js-component.sh makes (`$LUCET_HTTP_COMPONENT` when set, as
//! for lucet-serve's own tests).
//!
//! bash runs in a process group of its own, killed when the guide ends, so a
//! server a block starts in the background cannot outlive the test, even
//! when the block fails before stopping it.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lucet_test_support::{built, on_path, tool};

/// At most this many blocks may be shown without being run.
const MAX_NO_RUN: usize = 4;

/// The whole guide must finish within this (about 3 password-protected key
/// operations at minisign's scrypt cost, a few dozen tool runs, and one
/// compile of a 13 MB JavaScript component).
const TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Debug)]
struct Block {
    /// 1-based line of the opening fence in the guide.
    line: usize,
    info: String,
    body: String,
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn parse(guide: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (index, line) in guide.lines().enumerate() {
        match open.as_mut() {
            None => {
                if let Some(info) = line.strip_prefix("```") {
                    open = Some(Block {
                        line: index + 1,
                        info: info.trim().to_string(),
                        body: String::new(),
                    });
                }
            }
            Some(block) => {
                if line.trim_end() == "```" {
                    blocks.extend(open.take());
                } else {
                    block.body.push_str(line);
                    block.body.push('\n');
                }
            }
        }
    }
    if let Some(block) = open {
        panic!(
            "docs/guide.md: the block at line {} is never closed",
            block.line
        );
    }
    blocks
}

/// Rewrites `! COMMAND ...` lines into `__expect_refusal COMMAND ...`.
fn rewrite(block: &Block) -> String {
    let mut out = String::new();
    let mut continued = false;
    for line in block.body.lines() {
        let logical_start = !continued;
        continued = line.ends_with('\\');
        if let Some(command) = line.strip_prefix("! ").filter(|_| logical_start) {
            let first = command.split_whitespace().next().unwrap_or_default();
            assert!(
                !first.contains('=') && !command.contains(['|', '&', ';']),
                "docs/guide.md line {}: an expected refusal must be one plain command \
                 (no assignment prefix, pipe or list): {line}",
                block.line
            );
            out.push_str("__expect_refusal ");
            out.push_str(command);
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

const PRELUDE: &str = r#"__expect_refusal() {
    local status=0
    "$@" || status=$?
    if [ "$status" -ne 1 ]; then
        printf 'guide: `%s` should have been refused (exit status 1) but exited with %s\n' "$*" "$status" >&2
        return 1
    fi
}
"#;

#[test]
fn guide_blocks_run() {
    let guide_path = repo().join("docs/guide.md");
    let guide = std::fs::read_to_string(&guide_path).expect("docs/guide.md");
    let blocks = parse(&guide);

    for (index, block) in blocks.iter().enumerate() {
        let allowed = ["sh", "sh no-run", "text", "text output", "json", ""];
        assert!(
            allowed.contains(&block.info.as_str()),
            "docs/guide.md line {}: block kind {:?} is not one of {allowed:?}",
            block.line,
            block.info
        );
        if block.info == "text output" {
            let previous = index.checked_sub(1).and_then(|i| blocks.get(i));
            assert!(
                previous.is_some_and(|p| p.info == "sh"),
                "docs/guide.md line {}: a text output block must follow a sh block",
                block.line
            );
        }
    }
    let runnable: Vec<(usize, &Block)> = blocks
        .iter()
        .enumerate()
        .filter(|(_, block)| block.info == "sh")
        .collect();
    let no_run = blocks.iter().filter(|b| b.info == "sh no-run").count();
    assert!(
        no_run <= MAX_NO_RUN,
        "{no_run} blocks are not run; keep it at most {MAX_NO_RUN}"
    );
    assert!(
        runnable.len() >= 20,
        "only {} blocks to run",
        runnable.len()
    );

    // Every workflow the guide promises is exercised by a block that runs.
    let commands: String = runnable.iter().map(|(_, b)| b.body.as_str()).collect();
    for needle in [
        "rsign generate",
        "rsign sign",
        "minisign -G",
        "minisign -S",
        "--signature-keygen --signature-sk lucet.key",
        "--signature-sk=raw:",
        "\n! lucetc",
        "\n! lucet-wasi",
        "--resign",
        "--verify-rebuild",
        "lucet-objdump --signature-pk",
        "--extract-signature",
        "minisign -Vm",
        "--require-source-key",
        "--min-timestamp",
        "LUCET_SIGNATURE_PK",
        "SOURCE_DATE_EPOCH",
        "lucet-dist --out",
        "lucet-serve --signature-pk",
        "curl ",
    ] {
        assert!(
            commands.contains(needle),
            "no block of docs/guide.md that runs contains {needle:?}"
        );
    }

    let scratch = tempfile::tempdir().expect("scratch directory");
    let work = scratch.path().join("work");
    let home = scratch.path().join("home");
    let bin = scratch.path().join("bin");
    let state = scratch.path().join("state");
    for dir in [&work, &home, &bin, &state] {
        std::fs::create_dir(dir).expect("scratch subdirectory");
    }
    for name in ["lucetc", "lucet-wasi", "lucet-serve", "lucet-objdump"] {
        std::os::unix::fs::symlink(tool(name), bin.join(name)).expect("symlink tool");
    }
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_lucet-dist"), bin.join("lucet-dist"))
        .expect("symlink lucet-dist");

    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|dir| dir.join("bin"));
    let mut path_dirs = vec![bin.clone()];
    path_dirs.extend(cargo_bin);
    path_dirs.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    let path = std::env::join_paths(path_dirs).expect("PATH");
    for external in ["rsign", "minisign"] {
        assert!(
            on_path(external, &path),
            "{external} is not installed: run scripts/install-test-deps.sh (the test script does)"
        );
    }
    assert!(
        on_path("curl", &path),
        "curl is not installed (Debian: apt-get install curl)"
    );
    let http_component = built(
        "LUCET_HTTP_COMPONENT",
        "../js-component/http.wasm",
        "run scripts/build-js-component.sh (the test script does)",
    );

    let mut script = String::from(PRELUDE);
    for (number, (_, block)) in runnable.iter().enumerate() {
        script.push_str(&format!(
            "printf '%s\\n' {number} > \"$GUIDE_STATE/current\"\n{{\n{}}} > \"$GUIDE_STATE/{number}.out\" 2>&1\n",
            rewrite(block)
        ));
    }
    script.push_str("printf 'done\\n' > \"$GUIDE_STATE/current\"\n");
    let script_path = state.join("guide.sh");
    std::fs::write(&script_path, &script).expect("write guide script");

    let log = |name: &str| std::fs::File::create(state.join(name)).expect("log file");
    let mut child = Command::new("bash")
        .args(["-euo", "pipefail"])
        .arg(&script_path)
        .current_dir(&work)
        .env("PATH", &path)
        .env("HOME", &home)
        .env("EXAMPLES", repo().join("examples"))
        .env("HTTP_COMPONENT", &http_component)
        .env("GUIDE_STATE", &state)
        .env_remove("LUCET_SIGNATURE_PK")
        .env_remove("SOURCE_DATE_EPOCH")
        .stdin(Stdio::null())
        .stdout(log("bash.stdout"))
        .stderr(log("bash.stderr"))
        .process_group(0)
        .spawn()
        .expect("start bash");
    let status = wait_then_kill_group(&mut child);

    let read = |name: &str| std::fs::read_to_string(state.join(name)).unwrap_or_default();
    let current = read("current");
    let current = current.trim();
    let report = |number: usize, why: &str| -> String {
        let (_, block) = runnable[number];
        format!(
            "docs/guide.md block {} of {} (line {}) {why}\n--- block ---\n{}--- its output ---\n{}--- shell ---\n{}{}",
            number + 1,
            runnable.len(),
            block.line,
            block.body,
            read(&format!("{number}.out")),
            read("bash.stdout"),
            read("bash.stderr"),
        )
    };
    let succeeded = status.is_some_and(|s| s.success());
    if !succeeded || current != "done" {
        let why = match status {
            None => format!("did not finish within {TIMEOUT:?}"),
            Some(status) => format!("failed ({status})"),
        };
        match current.parse::<usize>() {
            Ok(number) if number < runnable.len() => panic!("{}", report(number, &why)),
            _ => panic!(
                "the guide's script {why} outside any block:\n{}{}",
                read("bash.stdout"),
                read("bash.stderr")
            ),
        }
    }

    // Expected output shown in the guide.
    for (number, (index, _)) in runnable.iter().enumerate() {
        let Some(expected) = blocks.get(index + 1).filter(|b| b.info == "text output") else {
            continue;
        };
        let output = read(&format!("{number}.out"));
        let mut lines = output.lines();
        for expected_line in expected.body.lines().filter(|l| !l.trim().is_empty()) {
            if !lines.any(|line| matches(line, expected_line)) {
                panic!(
                    "{}",
                    report(
                        number,
                        &format!(
                            "did not print a line matching {expected_line:?} \
                             (in the order shown at line {})",
                            expected.line
                        )
                    )
                );
            }
        }
    }
}

/// Waits for bash (at most [`TIMEOUT`]; `None` past it), then kills its
/// process group: whatever a block left running in the background.
fn wait_then_kill_group(child: &mut Child) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for bash") {
            break Some(status);
        }
        if started.elapsed() > TIMEOUT {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The group is usually empty by now: kill then reports no such process.
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .stderr(Stdio::null())
        .status();
    if status.is_none() {
        let _ = child.wait();
    }
    status
}

/// Whether `line` contains the pieces of `pattern` between its `…`s, in order.
fn matches(line: &str, pattern: &str) -> bool {
    let mut rest = line;
    for piece in pattern.split('…') {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    true
}

#[test]
fn output_patterns_match_within_one_line() {
    assert!(matches("Key pair 0123 written: x", "Key pair … written: x"));
    assert!(matches("lucetc: refused: why", "refused"));
    assert!(!matches("written: x Key pair", "Key pair … written"));
    assert!(!matches("Key pair", "Key pair … written"));
}

#[test]
fn refusal_lines_are_rewritten_and_others_kept() {
    let block = Block {
        line: 1,
        info: "sh".into(),
        body: "! lucet-wasi --signature-pk a.pub \\\n    b.so\necho ! not this\n".into(),
    };
    assert_eq!(
        rewrite(&block),
        "__expect_refusal lucet-wasi --signature-pk a.pub \\\n    b.so\necho ! not this\n"
    );
}

#[test]
#[should_panic(expected = "one plain command")]
fn refusal_with_a_pipe_is_rejected() {
    let block = Block {
        line: 1,
        info: "sh".into(),
        body: "! lucet-wasi x.so | head\n".into(),
    };
    rewrite(&block);
}
