//! How deep a corpus reaches: for each input of the given directories, the
//! outcome of the check's main calls (`Ok` or the error variant), counted.
//! Shows, e.g., how many artifact inputs got as far as signature
//! verification or the image hash.
//!
//! From `fuzz/`: `cargo run --example corpus_depth -- <target> <dir>...`

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::{env, fs};

use lucet_artifact::{ArtifactKind, Metadata, read_unverified, read_verified};
use lucet_fuzz::{artifact_keys, fixtures, signature_keys, validated_kind, wasm_of_source};
use lucet_signature::{Algorithm, Legacy, Prehash, PublicKey, SecretKeyFile, SignatureBox};

/// `Ok`, or the name of the error variant.
fn outcome<T, E: Debug>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "Ok".to_string(),
        Err(e) => {
            let text = format!("{e:?}");
            let end = text.find([' ', '(', '{']).unwrap_or(text.len());
            text[..end].to_string()
        }
    }
}

fn outcomes(target: &str, data: &[u8]) -> Vec<String> {
    match target {
        "signature" => {
            let sig = SignatureBox::parse(data);
            let mut out = vec![format!("parse {}", outcome(&sig))];
            if let Ok(sig) = sig {
                let key = signature_keys().select(&sig, Legacy::Allow);
                out.push(format!("select {}", outcome(&key)));
                if let Ok(key) = key {
                    let verified = match sig.algorithm() {
                        Algorithm::Prehashed => {
                            key.verify_prehashed(&sig, &Prehash::of(fixtures::DATA))
                        }
                        Algorithm::Legacy => key.verify_legacy(&sig, fixtures::DATA),
                    };
                    out.push(format!("verify {}", outcome(&verified)));
                }
            }
            out
        }
        "public_key" => vec![format!("parse {}", outcome(&PublicKey::from_text(data)))],
        "secret_key" => vec![match SecretKeyFile::parse(data) {
            Ok(SecretKeyFile::Encrypted(_)) => "parse Ok encrypted".to_string(),
            Ok(SecretKeyFile::Unencrypted(_)) => "parse Ok unencrypted".to_string(),
            Err(e) => format!("parse {}", outcome::<(), _>(&Err(e))),
        }],
        "artifact" => vec![
            format!(
                "read_verified {}",
                outcome(&read_verified(data, artifact_keys(), Default::default()))
            ),
            format!(
                "read_unverified {}",
                outcome(&read_unverified(data, Default::default()))
            ),
        ],
        "metadata" => match std::str::from_utf8(data) {
            Ok(line) => vec![format!("parse {}", outcome(&Metadata::parse(line)))],
            Err(_) => vec!["not UTF-8".to_string()],
        },
        "component" => component_outcomes(data),
        other => panic!("unknown target {other}"),
    }
}

/// Binary or text (and whether `wat` took it), what the header says, and
/// what the validator made of it.
fn component_outcomes(data: &[u8]) -> Vec<String> {
    let form = if data.starts_with(b"\0asm") {
        "binary"
    } else {
        "text"
    };
    let Some(wasm) = wasm_of_source(data) else {
        return vec![format!("{form}: wat refuses it")];
    };
    let header = match ArtifactKind::of_wasm(&wasm) {
        ArtifactKind::Component => "component",
        _ => "module",
    };
    let validated = match validated_kind(&wasm) {
        Some(kind) => format!("valid {kind}"),
        None => "invalid".to_string(),
    };
    vec![format!("{form}, header says {header}: {validated}")]
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = env::args().skip(1).collect();
    let Some((target, dirs)) = args.split_first() else {
        eprintln!("usage: corpus_depth <target> <dir>...");
        std::process::exit(2);
    };
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut inputs = 0;
    for dir in dirs {
        for entry in fs::read_dir(dir)? {
            let data = fs::read(entry?.path())?;
            inputs += 1;
            for step in outcomes(target, &data) {
                *counts.entry(step).or_default() += 1;
            }
        }
    }
    println!("{target}: {inputs} inputs");
    for (step, count) in counts {
        println!("{count:>8}  {step}");
    }
    Ok(())
}
