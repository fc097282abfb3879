//! The malformed-input catalogue: every kind of bad key, signature, artifact
//! and flag the tools can be handed, each with the one-line error it must
//! produce and its exit status. docs/SECURITY.md lists the same table; a test
//! keeps the two in step.

use std::path::{Path, PathBuf};

use lucet_signature::{KeyId, Prehash, SecretKey};

use crate::util::*;

/// Which tool a case runs.
#[derive(Clone, Copy)]
enum Tool {
    Lucetc,
    LucetWasi,
}

/// One catalogue entry.
struct Case {
    /// Short name, as in docs/SECURITY.md.
    name: &'static str,
    tool: Tool,
    args: Vec<String>,
    stdin: &'static [u8],
    status: i32,
    /// A part of the one-line error that names the problem.
    needle: &'static str,
}

/// Fixed keys, so messages (which name key ids) are stable.
fn fixed_key(byte: u8) -> SecretKey {
    SecretKey::from_seed(KeyId::from_bytes([byte; 8]), &[byte; 32])
}

struct World {
    scratch: Scratch,
    public: PathBuf,
    secret: PathBuf,
    artifact: PathBuf,
    source: PathBuf,
}

impl World {
    fn new() -> World {
        let scratch = Scratch::new();
        let key = fixed_key(7);
        let public = scratch.write("good.pub", key.public_key().to_box());
        let secret = scratch.write("good.key", key.to_unencrypted_box());
        let artifact = scratch.compile(&hello_wat(), "good", &sk(raw(&secret)));
        let source = scratch.write("src.wat", std::fs::read(hello_wat()).expect("read"));
        World {
            scratch,
            public,
            secret,
            artifact,
            source,
        }
    }

    fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        arg(&self.scratch.write(name, contents))
    }

    /// The good public key's text with `edit` applied to its base64 line.
    fn public_variant(&self, name: &str, edit: impl Fn(&str) -> String) -> String {
        let text = std::fs::read_to_string(&self.public).expect("read");
        let mut lines: Vec<String> = text.lines().map(String::from).collect();
        lines[1] = edit(&lines[1]);
        self.file(name, format!("{}\n", lines.join("\n")))
    }

    /// A source file `name` signed by the good key, with `edit` applied to
    /// the `.minisig` text; returns the source path.
    fn signed_source(&self, name: &str, edit: impl Fn(String) -> String) -> String {
        let source = self
            .scratch
            .write(name, std::fs::read(&self.source).expect("read"));
        let signature = fixed_key(7)
            .sign_prehashed(
                &Prehash::of(&std::fs::read(&source).expect("read")),
                "catalogue",
                "signature from a test key",
            )
            .expect("sign");
        std::fs::write(
            format!("{}.minisig", source.display()),
            edit(signature.to_text()),
        )
        .expect("write");
        arg(&source)
    }

    /// The good artifact with `edit` applied to its bytes.
    fn artifact_variant(&self, name: &str, edit: impl Fn(&mut Vec<u8>)) -> String {
        let mut bytes = std::fs::read(&self.artifact).expect("read");
        edit(&mut bytes);
        self.file(name, bytes)
    }

    fn run_artifact(&self, artifact: String) -> Vec<String> {
        vec!["--signature-pk".into(), arg(&self.public), artifact]
    }

    fn verify_source(&self, source: String) -> Vec<String> {
        vec![
            source,
            "--signature-pk".into(),
            arg(&self.public),
            "-o".into(),
            arg(&self.scratch.path("out.so")),
        ]
    }

    /// lucet-wasi's arguments to run the good artifact trusting `public`.
    fn run_trusting(&self, public: String) -> Vec<String> {
        vec!["--signature-pk".into(), public, arg(&self.artifact)]
    }

    fn sign_with(&self, secret: String) -> Vec<String> {
        vec![
            arg(&self.source),
            "--signature-sk".into(),
            secret,
            "-o".into(),
            arg(&self.scratch.path("out.so")),
        ]
    }
}

fn line(text: &str, index: usize, edit: impl Fn(&str) -> String) -> String {
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[index] = edit(&lines[index]);
    format!("{}\n", lines.join("\n"))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64")
}

/// Sets the unused low bits of the last base64 digit before `==`: the same
/// bytes, a different (non-canonical) text.
fn set_padding_bits(line: &str) -> String {
    const DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let data = line.trim_end_matches('=');
    let last = data.chars().last().expect("digit");
    let value = DIGITS.find(last).expect("base64 digit") | 0b1111;
    let digit = DIGITS.chars().nth(value).expect("digit");
    format!("{}{digit}{}", &data[..data.len() - 1], &line[data.len()..])
}

fn cases(w: &World) -> Vec<Case> {
    use Tool::*;
    let case = |name, tool, args: Vec<String>, status, needle| Case {
        name,
        tool,
        args,
        stdin: b"",
        status,
        needle,
    };
    let footer = |bytes: &Vec<u8>| bytes.len() - 16;
    let encrypted = fixed_key(9)
        .to_encrypted_box(b"right", lucet_signature::KdfCost::TESTING)
        .expect("encrypt");
    let unencrypted = fixed_key(9).to_unencrypted_box();
    let mut cases = vec![
        // Public keys.
        case(
            "public key: missing file",
            LucetWasi,
            w.run_trusting(arg(&w.scratch.path("absent.pub"))),
            1,
            "cannot open",
        ),
        case(
            "public key: empty file",
            LucetWasi,
            w.run_trusting(w.file("empty.pub", "")),
            1,
            "public key",
        ),
        case(
            "public key: truncated base64",
            LucetWasi,
            w.run_trusting(w.public_variant("trunc.pub", |l| l[..l.len() - 3].to_string())),
            1,
            "not valid base64",
        ),
        case(
            "public key: unknown algorithm",
            LucetWasi,
            w.run_trusting(w.public_variant("alg.pub", |l| {
                let mut b = unb64(l);
                b[1] = b'x';
                b64(&b)
            })),
            1,
            "unknown signature algorithm",
        ),
        case(
            "public key: wrong length",
            LucetWasi,
            w.run_trusting(w.public_variant("len.pub", |l| {
                let mut b = unb64(l);
                b.push(0);
                b64(&b)
            })),
            1,
            "decodes to 43 bytes, expected 42",
        ),
        case(
            "public key: trailing data",
            LucetWasi,
            w.run_trusting(w.file(
                "trail.pub",
                format!(
                    "{}extra line\n",
                    std::fs::read_to_string(&w.public).expect("read")
                ),
            )),
            1,
            "data after its last line",
        ),
        case(
            "public key: a secret key given instead",
            LucetWasi,
            w.run_trusting(arg(&w.secret)),
            1,
            "public key",
        ),
        case(
            "public key: oversized file",
            LucetWasi,
            w.run_trusting(w.file("huge.pub", vec![b'A'; 5000])),
            1,
            "more than the 4096 bytes",
        ),
        case(
            "public key: stray carriage return",
            LucetWasi,
            w.run_trusting(
                w.file(
                    "cr.pub",
                    std::fs::read_to_string(&w.public)
                        .expect("read")
                        .replacen(": ", ":\r ", 1),
                ),
            ),
            1,
            "carriage return",
        ),
        // Secret keys.
        case(
            "secret key: missing file",
            Lucetc,
            w.sign_with(arg(&w.scratch.path("absent.key"))),
            1,
            "cannot open",
        ),
        case(
            "secret key: truncated",
            Lucetc,
            w.sign_with(w.file("trunc.key", &unencrypted[..unencrypted.len() - 20])),
            1,
            "secret key",
        ),
        case(
            "secret key: bad checksum (unencrypted)",
            Lucetc,
            w.sign_with(w.file(
                "chk.key",
                line(&unencrypted, 1, |l| {
                    let mut b = unb64(l);
                    b[157] ^= 1;
                    b64(&b)
                }),
            )),
            1,
            "checksum does not match",
        ),
        case(
            "secret key: mismatched public half",
            Lucetc,
            w.sign_with(w.file(
                "half.key",
                // As minisign -W writes them: an all-zero checksum, so the
                // public half is what catches the corruption.
                line(&unencrypted, 1, |l| {
                    let mut b = unb64(l);
                    b[100] ^= 1;
                    b[126..].fill(0);
                    b64(&b)
                }),
            )),
            1,
            "does not match its seed",
        ),
        case(
            "secret key: excessive scrypt cost",
            Lucetc,
            w.sign_with(w.file(
                "cost.key",
                line(&encrypted, 1, |l| {
                    let mut b = unb64(l);
                    b[38..46].copy_from_slice(&(1u64 << 40).to_le_bytes());
                    b[46..54].copy_from_slice(&(1u64 << 40).to_le_bytes());
                    b64(&b)
                }),
            )),
            1,
            "scrypt parameters need",
        ),
        case(
            "secret key: unknown kdf",
            Lucetc,
            w.sign_with(w.file(
                "kdf.key",
                line(&encrypted, 1, |l| {
                    let mut b = unb64(l);
                    b[2] = b'X';
                    b64(&b)
                }),
            )),
            1,
            "unknown key derivation algorithm",
        ),
        case(
            "secret key: a public key given instead",
            Lucetc,
            w.sign_with(arg(&w.public)),
            1,
            "secret key",
        ),
        case(
            "secret key: encrypted behind raw:",
            Lucetc,
            w.sign_with(format!("raw:{}", w.file("enc-raw.key", &encrypted))),
            1,
            "password-protected, but `raw:` promises no prompt",
        ),
        case(
            "secret key: no password on a non-terminal",
            Lucetc,
            w.sign_with(w.file("enc-nopw.key", &encrypted)),
            1,
            "no password on standard input",
        ),
        case(
            "secret key: oversized file",
            Lucetc,
            w.sign_with(w.file("huge.key", vec![b'A'; 5000])),
            1,
            "more than the 4096 bytes",
        ),
        case(
            "secret key: neither minisign nor lucet raw",
            Lucetc,
            w.sign_with(w.file("junk.key", [0u8, 1, 2, 3])),
            1,
            "neither a minisign key",
        ),
        // Source signatures (.minisig).
        case(
            "minisig: missing",
            Lucetc,
            w.verify_source(w.file("unsigned.wat", b"(module)")),
            1,
            "unsigned.wat.minisig not found",
        ),
        case(
            "minisig: bad base64 on line 2",
            Lucetc,
            w.verify_source(w.signed_source("l2.wat", |t| line(&t, 1, |_| "not*base64".into()))),
            1,
            "line 2 is not valid base64",
        ),
        case(
            "minisig: missing line 4",
            Lucetc,
            w.verify_source(w.signed_source("l4.wat", |t| {
                t.lines().take(3).map(|l| format!("{l}\n")).collect()
            })),
            1,
            "ends before line 4",
        ),
        case(
            "minisig: truncated global signature",
            Lucetc,
            w.verify_source(w.signed_source("glob.wat", |t| line(&t, 3, |l| b64(&unb64(l)[..40])))),
            1,
            "line 4 decodes to 40 bytes, expected 64",
        ),
        case(
            "minisig: CR in trusted comment",
            Lucetc,
            w.verify_source(
                w.signed_source("cr.wat", |t| t.replacen("catalogue", "cata\rlogue", 1)),
            ),
            1,
            "carriage return",
        ),
        case(
            "minisig: escape character in trusted comment",
            Lucetc,
            w.verify_source(w.signed_source("esc.wat", |t| {
                t.replacen("catalogue", "cata\u{1b}[2Jlogue", 1)
            })),
            1,
            "control character 0x1b",
        ),
        case(
            "minisig: non-canonical base64 (padding bits set)",
            Lucetc,
            w.verify_source(w.signed_source("canon.wat", |t| line(&t, 3, set_padding_bits))),
            1,
            "line 4 is not valid base64",
        ),
        case(
            "minisig: legacy Ed signature",
            Lucetc,
            w.verify_source(w.signed_source("legacy.wat", |t| {
                line(&t, 1, |l| {
                    let mut b = unb64(l);
                    b[1] = b'd';
                    b64(&b)
                })
            })),
            1,
            "--allow-legacy-signatures",
        ),
        case(
            "minisig: unknown algorithm",
            Lucetc,
            w.verify_source(w.signed_source("alg.wat", |t| {
                line(&t, 1, |l| {
                    let mut b = unb64(l);
                    b[0] = b'Z';
                    b64(&b)
                })
            })),
            1,
            "unknown signature algorithm",
        ),
        case(
            "minisig: wrong key id",
            Lucetc,
            w.verify_source(w.signed_source("keyid.wat", |t| {
                line(&t, 1, |l| {
                    let mut b = unb64(l);
                    b[2] ^= 1;
                    b64(&b)
                })
            })),
            1,
            "which is not trusted",
        ),
        case(
            "minisig: huge trusted comment",
            Lucetc,
            w.verify_source(w.signed_source("huge.wat", |t| {
                t.replacen("catalogue", &"c".repeat(9000), 1)
            })),
            1,
            "more than the",
        ),
        case(
            "minisig: trailing garbage",
            Lucetc,
            w.verify_source(w.signed_source("trail.wat", |t| format!("{t}garbage\n"))),
            1,
            "data after its last line",
        ),
        case(
            "minisig: no untrusted comment prefix",
            Lucetc,
            w.verify_source(w.signed_source("prefix.wat", |t| {
                t.replacen("untrusted comment: ", "comment: ", 1)
            })),
            1,
            "does not start with",
        ),
        case(
            "minisig: modified trusted comment",
            Lucetc,
            w.verify_source(w.signed_source("tc.wat", |t| t.replacen("catalogue", "catalogUE", 1))),
            1,
            "trusted comment was modified",
        ),
        case(
            "minisig: made for another file",
            Lucetc,
            w.verify_source({
                let source = w
                    .scratch
                    .write("swapped.wat", std::fs::read(&w.source).expect("read"));
                let signature = fixed_key(7)
                    .sign_prehashed(
                        &Prehash::of(&std::fs::read(&source).expect("read")),
                        "timestamp:1\tfile:evil.wat",
                        "signature from a test key",
                    )
                    .expect("sign");
                w.file("swapped.wat.minisig", signature.to_text());
                arg(&source)
            }),
            1,
            "source signature was made for `evil.wat`, not `swapped.wat`",
        ),
        case(
            "minisig: signature of other data",
            Lucetc,
            // A whole, valid signature by the trusted key, made for other bytes.
            w.verify_source(w.signed_source("other.wat", |_| {
                fixed_key(7)
                    .sign_prehashed(
                        &Prehash::of(b"other"),
                        "catalogue",
                        "signature from a test key",
                    )
                    .expect("sign")
                    .to_text()
            })),
            1,
            "data was modified",
        ),
        case(
            "minisig: oversized file",
            Lucetc,
            w.verify_source(w.signed_source("big.wat", |t| format!("{t}{}", "x".repeat(20_000)))),
            1,
            "more than the",
        ),
        // Artifacts.
        case(
            "artifact: empty file",
            LucetWasi,
            w.run_artifact(w.file("empty.so", "")),
            1,
            "too short",
        ),
        case(
            "artifact: not a lucet artifact",
            LucetWasi,
            w.run_artifact(w.file("text.so", "#!/bin/sh\necho hi\n")),
            1,
            "no LUCETART footer",
        ),
        case(
            "artifact: footer magic",
            LucetWasi,
            w.run_artifact(w.artifact_variant("magic.so", |b| {
                let f = footer(b);
                b[f] = b'X';
            })),
            1,
            "no LUCETART footer",
        ),
        case(
            "artifact: footer version",
            LucetWasi,
            w.run_artifact(w.artifact_variant("version.so", |b| {
                let f = footer(b);
                b[f + 8] = 3;
            })),
            1,
            "format version 3 is newer than this build reads",
        ),
        case(
            "artifact: format version 1",
            LucetWasi,
            w.run_artifact(w.artifact_variant("v1.so", |b| {
                let f = footer(b);
                b[f + 8] = 1;
            })),
            1,
            "written by an earlier lucetc",
        ),
        case(
            "artifact: padded around a valid block",
            LucetWasi,
            w.run_artifact(w.artifact_variant("padded.so", |b| {
                let f = footer(b);
                let block_len = u32::from_le_bytes(b[f + 12..].try_into().expect("u32"));
                let tail = b.split_off(f - block_len as usize);
                b.resize(b.len() + 4096, 0);
                b.extend_from_slice(&tail);
            })),
            1,
            "its signed metadata says",
        ),
        case(
            "artifact: image over --max-artifact-size",
            LucetWasi,
            [
                vec!["--max-artifact-size".into(), "4K".into()],
                w.run_artifact(arg(&w.artifact)),
            ]
            .concat(),
            1,
            "more than the 4096-byte limit",
        ),
        case(
            "artifact: signed as another module",
            LucetWasi,
            [
                vec!["--expect-name".into(), "billing".into()],
                w.run_artifact(arg(&w.artifact)),
            ]
            .concat(),
            1,
            "signed as module `hello`",
        ),
        case(
            "artifact: footer kind",
            LucetWasi,
            w.run_artifact(w.artifact_variant("kind.so", |b| {
                let f = footer(b);
                b[f + 10] = 9;
            })),
            1,
            "unknown kind 9",
        ),
        case(
            "artifact: block length over the limit",
            LucetWasi,
            w.run_artifact(w.artifact_variant("blocklen.so", |b| {
                let f = footer(b);
                b[f + 12..].copy_from_slice(&100_000u32.to_le_bytes());
            })),
            1,
            "declares a 100000-byte block",
        ),
        case(
            "artifact: block length beyond the file",
            LucetWasi,
            w.run_artifact(w.file("short.so", {
                let mut b = b"tiny".to_vec();
                b.extend_from_slice(b"LUCETART\x02\0\x01\0\x00\x01\0\0");
                b
            })),
            1,
            "declares a 256-byte block",
        ),
        case(
            "artifact: unsigned, with a key",
            LucetWasi,
            w.run_artifact(arg(&w.scratch.compile(&hello_wat(), "unsigned", &[]))),
            1,
            "not signed",
        ),
        case(
            "artifact: signed by an untrusted key",
            LucetWasi,
            w.run_trusting(w.file("other.pub", fixed_key(8).public_key().to_box())),
            1,
            "which is not trusted",
        ),
        case(
            "artifact: image byte flipped",
            LucetWasi,
            w.run_artifact(w.artifact_variant("flip.so", |b| b[64] ^= 1)),
            1,
            "data was modified",
        ),
        case(
            "artifact: truncated",
            LucetWasi,
            w.run_artifact(w.artifact_variant("trunc.so", |b| b.truncate(b.len() - 3))),
            1,
            "no LUCETART footer",
        ),
        case(
            "artifact: wasm module instead",
            LucetWasi,
            w.run_artifact(w.file("mod.wasm", wat::parse_file(hello_wat()).expect("wat"))),
            1,
            "compile it first",
        ),
        // Flags.
        case(
            "flag: --signature-pk without a file",
            LucetWasi,
            vec![arg(&w.artifact), "--signature-pk".into()],
            2,
            "--signature-pk",
        ),
        case(
            "flag: --signature-verify without a key",
            LucetWasi,
            vec!["--signature-verify".into(), arg(&w.artifact)],
            1,
            "--signature-verify needs --signature-pk",
        ),
        case(
            "flag: --dir of a missing directory",
            LucetWasi,
            vec!["--dir".into(), "/no/such/dir".into(), arg(&w.artifact)],
            1,
            "is not a directory",
        ),
        case(
            "flag: malformed size",
            LucetWasi,
            vec!["--max-heap-size".into(), "12Q".into(), arg(&w.artifact)],
            2,
            "invalid size `12Q`",
        ),
        case(
            "flag: malformed duration",
            LucetWasi,
            vec!["--timeout".into(), "soon".into(), arg(&w.artifact)],
            2,
            "invalid duration `soon`",
        ),
        case(
            "flag: --signature-keygen without a public key path",
            Lucetc,
            vec![
                "--signature-keygen".into(),
                "--signature-sk".into(),
                arg(&w.scratch.path("new.key")),
            ],
            1,
            "exactly one --signature-pk",
        ),
        case(
            "flag: Lucet's --min-reserved-size",
            Lucetc,
            vec![arg(&w.source), "--min-reserved-size".into(), "1M".into()],
            1,
            "use --reserved-size",
        ),
    ];
    // A wrong password needs a line on stdin.
    cases.push(Case {
        name: "secret key: wrong password",
        tool: Lucetc,
        args: w.sign_with(w.file("enc.key", &encrypted)),
        stdin: b"wrong\n",
        status: 1,
        needle: "wrong password for that key",
    });
    cases
}

#[test]
fn every_malformed_input_is_a_one_line_error_with_a_defined_status() {
    let world = World::new();
    let cases = cases(&world);
    let mut failures = Vec::new();
    let scratch_dir = world.scratch.path("");
    for case in &cases {
        let mut command = match case.tool {
            Tool::Lucetc => lucetc(&case.args),
            Tool::LucetWasi => lucet_wasi(&case.args),
        };
        let output = run_with_stdin(&mut command, case.stdin);
        // Exactly one error line (status lines such as "Deriving a key..." may precede it).
        let prefix = match case.tool {
            Tool::Lucetc => "lucetc: ",
            Tool::LucetWasi => "lucet-wasi: ",
        };
        let errors: Vec<&str> = output
            .stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect();
        let one_line = errors.len() == 1 || case.status == 2;
        if output.status != case.status
            || !output.stderr.contains(case.needle)
            || !one_line
            || !output.stdout.is_empty()
        {
            failures.push(format!("{}: {output:#?}", case.name));
        }
        // The docs/SECURITY.md row, as produced here (paths shortened).
        let message = errors
            .first()
            .copied()
            .or_else(|| output.stderr.lines().next())
            .unwrap_or_default()
            .replace(&scratch_dir.display().to_string(), "")
            .replace('|', "\\|");
        println!("| {} | {message} | {} |", case.name, case.status);
    }
    println!("{} malformed-input cases checked", cases.len());
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
    let world = World::new();
    // Each case has a row naming it, with its exit status and (in the message
    // column) the part of the message that the test above checks.
    let missing: Vec<&str> = cases(&world)
        .iter()
        .filter(|case| {
            let start = format!("| {} | ", case.name);
            let end = format!(" | {} |", case.status);
            !doc.lines().any(|row| {
                row.starts_with(&start) && row.ends_with(&end) && row.contains(case.needle)
            })
        })
        .map(|case| case.name)
        .collect();
    assert!(
        missing.is_empty(),
        "docs/SECURITY.md lacks or misstates these catalogue rows (regenerate them with\n\
         `cargo test -p lucet-tests --test e2e catalogue::every -- --nocapture`):\n{}",
        missing.join("\n")
    );
}
