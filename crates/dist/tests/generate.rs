//! `lucet-dist --out DIR`, run as the binary: every man page and completion
//! is written where the install manifest says, and says what the tools do.

use std::path::{Path, PathBuf};
use std::process::Command;

use lucet_test_support::assert_mentions;

const TOOLS: [&str; 5] = [
    "lucetc",
    "lucet-wasi",
    "lucet-serve",
    "lucet-objdump",
    "lucet-oci",
];

/// Runs lucet-dist into a fresh directory; returns it with the printed paths.
fn generate() -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_lucet-dist"))
        .arg("--out")
        .arg(dir.path().join("share"))
        .output()
        .expect("run lucet-dist");
    assert!(out.status.success(), "lucet-dist failed: {out:?}");
    assert!(out.stderr.is_empty(), "lucet-dist wrote to stderr: {out:?}");
    let listed = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    (dir, listed)
}

fn read(dir: &Path, relative: &str) -> String {
    std::fs::read_to_string(dir.join("share").join(relative))
        .unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// A man page with roff's escaped hyphens turned back into plain ones.
fn man_text(dir: &Path, tool: &str) -> String {
    read(dir, &format!("man/man1/{tool}.1")).replace("\\-", "-")
}

fn files_under(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let relative = path.strip_prefix(root).expect("under root");
                found.push(relative.display().to_string());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn writes_a_man_page_and_three_completions_per_tool() {
    let (dir, listed) = generate();
    let mut expected: Vec<String> = TOOLS
        .iter()
        .flat_map(|tool| {
            [
                format!("man/man1/{tool}.1"),
                format!("bash-completion/completions/{tool}"),
                format!("zsh/site-functions/_{tool}"),
                format!("fish/vendor_completions.d/{tool}.fish"),
            ]
        })
        .collect();
    assert_eq!(listed, expected, "printed paths");
    expected.sort();
    assert_eq!(
        files_under(&dir.path().join("share")),
        expected,
        "files written"
    );
}

#[test]
fn man_pages_document_the_signing_flags_and_exit_statuses() {
    let (dir, _) = generate();
    for tool in TOOLS {
        let page = man_text(dir.path(), tool);
        assert!(page.starts_with(".ie"), "{tool}: not roff");
        assert!(page.contains(&format!(".TH {tool} 1 ")), "{tool}: title");
        assert_mentions(
            &format!("{tool}.1"),
            &page,
            &[
                "--signature-pk",
                ".SH \"EXIT STATUS\"",
                ".SH EXAMPLES",
                "minisign",
            ],
        );
        // Hidden flags (Lucet's refused ones, test-only ones) stay hidden.
        for hidden in ["--insecure-cheap-kdf", "--min-reserved-size"] {
            assert!(!page.contains(hidden), "{tool}.1 shows {hidden}");
        }
    }
    assert_mentions(
        "lucetc.1",
        &man_text(dir.path(), "lucetc"),
        &[
            "--signature-sk",
            "--signature-keygen",
            "--resign",
            "--verify-rebuild",
            "NOT a shared library",
            "SOURCE_DATE_EPOCH",
        ],
    );
    assert_mentions(
        "lucet-objdump.1",
        &man_text(dir.path(), "lucet-objdump"),
        &["--json", "--extract-signature", "LUCET_SIGNATURE_PK"],
    );

    // lucet-wasi's exit status table, row by row, kept as a table (no fill).
    let wasi = man_text(dir.path(), "lucet-wasi");
    assert_mentions(
        "lucet-wasi.1",
        &wasi,
        &[
            "--require-source-key",
            "--min-timestamp",
            "--timeout",
            "LUCET_SIGNATURE_PK",
        ],
    );
    let table = exit_status_section(&wasi);
    let rows: Vec<&str> = table.lines().collect();
    assert!(
        rows.contains(&".nf"),
        "exit statuses are not kept as a table:\n{table}"
    );
    for (status, meaning) in [
        ("0", "the entry point returned"),
        ("N", "the guest called proc_exit(N)"),
        ("134", "the guest trapped"),
        ("124", "--timeout was reached"),
        ("2", "usage error"),
        ("1", "any host-side refusal or failure"),
    ] {
        assert!(
            rows.iter()
                .any(|row| row.starts_with(status) && row.contains(meaning)),
            "lucet-wasi.1's exit status table lacks row {status} {meaning:?}:\n{table}"
        );
    }
}

#[test]
fn lucet_serve_man_page_documents_the_server() {
    let (dir, _) = generate();
    let serve = man_text(dir.path(), "lucet-serve");
    assert_mentions(
        "lucet-serve.1",
        &serve,
        &[
            "wasi:http",
            "--listen",
            "--timeout",
            "--max-concurrency",
            "--allow-unverified",
            "--require-source-key",
            "LUCET_SIGNATURE_PK",
        ],
    );
    let table = exit_status_section(&serve);
    assert!(
        table.lines().any(|row| row == ".nf"),
        "lucet-serve.1's exit statuses are not kept as a table:\n{table}"
    );
    assert!(table.contains("SIGTERM"), "lucet-serve.1: exit status 0");
}

/// The body of a man page's EXIT STATUS section, up to the next section.
fn exit_status_section(page: &str) -> &str {
    page.split(".SH \"EXIT STATUS\"\n")
        .nth(1)
        .and_then(|rest| rest.split(".SH ").next())
        .expect("EXIT STATUS section")
}

#[test]
fn man_pages_render_without_warnings() {
    let (dir, _) = generate();
    for tool in TOOLS {
        let page = dir.path().join(format!("share/man/man1/{tool}.1"));
        // groff is the man page formatter on any system with man pages.
        let out = Command::new("groff")
            .args(["-man", "-ww", "-Tutf8"])
            .arg(&page)
            .output()
            .expect("run groff (Debian: groff-base)");
        assert!(out.status.success(), "{tool}.1: {out:?}");
        assert!(
            out.stderr.is_empty(),
            "{tool}.1: groff warns: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Asks the generated bash completion what it offers after `words`.
fn bash_complete(dir: &Path, tool: &str, words: &[&str]) -> Vec<String> {
    let script = dir.join(format!("share/bash-completion/completions/{tool}"));
    let function = format!("_{}", tool.replace('-', "__"));
    let cword = words.len() - 1;
    let current = words[cword];
    let previous = if cword > 0 { words[cword - 1] } else { tool };
    let program = format!(
        "source \"$1\"; COMP_WORDS=({}); COMP_CWORD={cword}; {function} {tool} \"{current}\" \"{previous}\"; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words.join(" ")
    );
    let out = Command::new("bash")
        .args(["-c", &program, "complete"])
        .arg(&script)
        .output()
        .expect("run bash");
    assert!(out.status.success(), "{tool} completion: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn bash_completions_offer_the_visible_flags() {
    let (dir, _) = generate();
    let offered = bash_complete(dir.path(), "lucetc", &["lucetc", "--signature-"]);
    for flag in [
        "--signature-pk",
        "--signature-sk",
        "--signature-keygen",
        "--signature-comment",
    ] {
        assert!(
            offered.iter().any(|o| o == flag),
            "{flag} not offered: {offered:?}"
        );
    }
    let offered = bash_complete(dir.path(), "lucetc", &["lucetc", "--"]);
    for hidden in [
        "--insecure-cheap-kdf",
        "--min-reserved-size",
        "--max-reserved-size",
    ] {
        assert!(!offered.iter().any(|o| o == hidden), "{hidden} offered");
    }
    let offered = bash_complete(dir.path(), "lucet-wasi", &["lucet-wasi", "--min-"]);
    assert_eq!(offered, ["--min-timestamp"]);
    let offered = bash_complete(dir.path(), "lucet-objdump", &["lucet-objdump", "--ext"]);
    assert_eq!(offered, ["--extract-signature"]);
    let offered = bash_complete(dir.path(), "lucet-serve", &["lucet-serve", "--max-conc"]);
    assert_eq!(offered, ["--max-concurrency"]);
    let offered = bash_complete(
        dir.path(),
        "lucet-oci",
        &["lucet-oci", "pull", "--signature-"],
    );
    assert_eq!(offered, ["--signature-pk"]);

    for tool in TOOLS {
        for relative in [
            format!("zsh/site-functions/_{tool}"),
            format!("fish/vendor_completions.d/{tool}.fish"),
        ] {
            let script = read(dir.path(), &relative);
            assert!(script.contains("signature-pk"), "{relative}");
            assert!(!script.contains("insecure-cheap-kdf"), "{relative}");
        }
    }
}

/// The container image installs what crates/dist/install-manifest lists; it
/// must list every file lucet-dist writes, or a new one would be dropped.
#[test]
fn install_manifest_lists_every_generated_file() {
    let manifest =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("install-manifest"))
            .expect("crates/dist/install-manifest");
    let entries: Vec<(String, String)> = manifest
        .lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| {
            let mut fields = line.split_whitespace();
            let mode = fields.next().unwrap_or_default().to_string();
            let path = fields.next().unwrap_or_default().to_string();
            assert!(
                fields.next().is_none(),
                "manifest line has extra fields: {line}"
            );
            (mode, path)
        })
        .collect();
    let (_, listed) = generate();
    let files = listed.iter().map(|file| ("644", format!("share/{file}")));
    let binaries = TOOLS.iter().chain(&["rsign"]);
    let expected: Vec<(&str, String)> = files
        .chain(binaries.map(|tool| ("755", format!("bin/{tool}"))))
        .collect();
    for (mode, entry) in &expected {
        assert!(
            entries.iter().any(|(m, path)| path == entry && m == mode),
            "install-manifest lacks `{mode} {entry}`"
        );
    }
    assert_eq!(
        entries.len(),
        expected.len(),
        "install-manifest lists files lucet-dist does not write: {entries:?}"
    );
}
