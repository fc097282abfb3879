//! Where lucetc may write: never over one of the files it reads.
//!
//! An artifact written over the secret key, a public key, the source or its
//! signature destroys something that may not be recoverable, so the output
//! path is compared with each input before anything is compiled or signed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use lucet_signature::file::{Durability, Existing, parent_dir};
use lucetc::cli::Args;

use crate::keys::SecretKeyPath;

/// What a path names, to tell whether two paths are one file.
#[derive(Debug, PartialEq, Eq)]
enum FileIdentity {
    /// An existing file, after symbolic links: a link or a hard link to a
    /// file has that file's identity.
    Existing { device: u64, inode: u64 },
    /// A file yet to be created: the directory it would be created in, and
    /// its name there (so `k`, `./k` and `d/../k` are one file).
    New {
        dir_device: u64,
        dir_inode: u64,
        name: OsString,
    },
}

fn identity(path: &Path) -> Option<FileIdentity> {
    use std::os::unix::fs::MetadataExt as _;
    if let Ok(metadata) = std::fs::metadata(path) {
        return Some(FileIdentity::Existing {
            device: metadata.dev(),
            inode: metadata.ino(),
        });
    }
    let dir = std::fs::metadata(parent_dir(path)).ok()?;
    Some(FileIdentity::New {
        dir_device: dir.dev(),
        dir_inode: dir.ino(),
        name: path.file_name()?.to_owned(),
    })
}

/// Whether `a` and `b` name the same file (see [`FileIdentity`]).
pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (identity(a), identity(b)),
            (Some(a), Some(b)) if a == b
        )
}

/// The files lucetc reads with `args`, and what each is.
fn inputs(args: &Args) -> Vec<(PathBuf, &'static str)> {
    let mut inputs = Vec::new();
    if let Some(input) = &args.input {
        inputs.push((input.clone(), "the source (INPUT)"));
        let signature = crate::source::SignatureAt(args.source_signature.as_deref());
        inputs.push((
            signature.of(input),
            "the source's signature (INPUT.minisig, or -x)",
        ));
    }
    if let Some(secret) = &args.signature_sk {
        inputs.push((
            SecretKeyPath::parse(secret).path,
            "the secret key (--signature-sk)",
        ));
    }
    for public in &args.signature_pk {
        inputs.push((public.clone(), "a public key (--signature-pk)"));
    }
    inputs
}

/// Refuses to write the artifact to `output` if it is one of the files that
/// `args` names as inputs, including the source itself when the default
/// output (INPUT's stem + `.so`) is INPUT (a source named `x.so`).
pub(crate) fn refuse_overwriting_inputs(output: &Path, args: &Args) -> Result<()> {
    for (input, what) in inputs(args) {
        if same_file(output, &input) {
            let default =
                if args.output.is_none() && args.resign.is_none() && args.countersign.is_none() {
                    " (the default output, INPUT's stem + .so)"
                } else {
                    ""
                };
            bail!(
                "refusing to write the artifact to {}{default}: it is {what}; name another output with -o",
                output.display()
            );
        }
    }
    Ok(())
}

/// Refuses to replace a signed artifact at `output` with an unsigned one
/// unless `force`d: a signed artifact replaced silently would make runners
/// that verify refuse the new one, or, worse, a runner without keys run a
/// build nobody signed where a signed one was.
pub(crate) fn refuse_unsigning(output: &Path, signing: bool, force: bool) -> Result<()> {
    if signing || force || !is_signed_artifact(output) {
        return Ok(());
    }
    bail!(
        "refusing to replace {}, a signed artifact, with an unsigned one; sign it with -s/--signature-sk KEY, or pass --force",
        output.display()
    )
}

/// Whether `path` is a lucet artifact whose footer says it is signed. Only
/// the footer is read: what matters is what the file claims to be, and
/// anything unreadable or of another kind is not a signed artifact.
fn is_signed_artifact(path: &Path) -> bool {
    use std::os::unix::fs::FileExt as _;
    let Ok(file) = lucet_signature::file::open_regular_file(path) else {
        return false;
    };
    let Ok(len) = file.metadata().map(|metadata| metadata.len()) else {
        return false;
    };
    let mut footer = [0u8; lucet_artifact::FOOTER_LEN];
    let Some(at) = len.checked_sub(footer.len() as u64) else {
        return false;
    };
    file.read_exact_at(&mut footer, at).is_ok()
        && lucet_artifact::Footer::decode(&footer, len)
            .is_ok_and(|footer| footer.kind == lucet_artifact::Kind::Signed)
}

/// Writes through a temporary file in the same directory and renames it into
/// place, so a failed or killed lucetc never leaves a partial artifact.
///
/// A compile's output is not synced to disk, as `cc` and `wasmtime compile`
/// do not sync theirs: it is remade by compiling again, and one left empty or
/// torn by a power loss fails its footer, image-hash or signature check when
/// loaded, so the two syncs (1–2 ms, a tenth of a small module's compile)
/// would buy durability, not trust. `--resign` and `--countersign` replace
/// their input by default, and a countersignature cannot be remade by its
/// signer's peers: their outputs are synced.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], durability: Durability) -> Result<()> {
    let dir = parent_dir(path);
    if !dir.is_dir() {
        bail!("output directory {} does not exist", dir.display());
    }
    // Replaces the path itself: a symbolic link there is never followed.
    lucet_signature::file::write_atomically(path, bytes, 0o644, Existing::Replace, durability)?;
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use clap::Parser as _;

    use super::*;

    /// A temporary directory holding a small file for each of `names`.
    fn dir_with(names: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        dir
    }

    #[test]
    fn links_and_spellings_of_one_file_are_the_same_file() {
        let dir = dir_with(&["lucet.key"]);
        let key = dir.path().join("lucet.key");
        let symlink = dir.path().join("link.key");
        std::os::unix::fs::symlink(&key, &symlink).unwrap();
        let hard_link = dir.path().join("hard.key");
        std::fs::hard_link(&key, &hard_link).unwrap();
        assert!(same_file(&key, &symlink));
        assert!(same_file(&key, &hard_link));
        assert!(same_file(&key, &dir.path().join(".").join("lucet.key")));
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        // Files yet to be written: compared by directory and name.
        assert!(same_file(
            &dir.path().join("new.pub"),
            &sub.join("..").join("new.pub")
        ));
        assert!(!same_file(&key, &dir.path().join("new.pub")));
        assert!(!same_file(&dir.path().join("a"), &dir.path().join("b")));
    }

    #[test]
    fn only_a_signed_artifact_is_kept_from_an_unsigned_compile() {
        use lucet_signature::{KeyId, SecretKey};
        let dir = dir_with(&["plain.txt"]);
        let image = b"an engine image".to_vec();
        let metadata = lucet_artifact::Metadata::sample("app", &image, b"source");
        let key = SecretKey::from_seed(KeyId::from_bytes([5; 8]), &[6; 32]);
        let prehash = lucet_signature::Prehash::of(&image);
        let signed = lucet_artifact::encode_signed(&image, &metadata, &prehash, &key).unwrap();
        let unsigned = lucet_artifact::encode_unsigned(&image, &metadata, &prehash).unwrap();
        std::fs::write(dir.path().join("signed.so"), signed).unwrap();
        std::fs::write(dir.path().join("unsigned.so"), unsigned).unwrap();
        let at = |name: &str| dir.path().join(name);
        let error = refuse_unsigning(&at("signed.so"), false, false).unwrap_err();
        assert!(error.to_string().contains("a signed artifact"), "{error}");
        refuse_unsigning(&at("signed.so"), true, false).unwrap();
        refuse_unsigning(&at("signed.so"), false, true).unwrap();
        for other in ["unsigned.so", "plain.txt", "absent.so"] {
            refuse_unsigning(&at(other), false, false).unwrap();
        }
    }

    #[test]
    fn outputs_over_inputs_are_refused() {
        let dir = dir_with(&["app.wat", "app.wat.minisig", "lucet.key", "lucet.pub"]);
        let path = |name: &str| dir.path().join(name).display().to_string();
        let args = |output: Option<&str>| {
            let mut argv = vec![
                "lucetc".to_string(),
                path("app.wat"),
                "--signature-sk".into(),
                format!("raw:{}", path("lucet.key")),
                "--signature-pk".into(),
                path("lucet.pub"),
            ];
            if let Some(output) = output {
                argv.extend(["-o".to_string(), output.to_string()]);
            }
            Args::try_parse_from(argv).unwrap()
        };
        for (name, what) in [
            ("lucet.key", "the secret key"),
            ("lucet.pub", "a public key"),
            ("app.wat", "the source (INPUT)"),
            ("app.wat.minisig", "the source's signature"),
        ] {
            let output = dir.path().join(name);
            let error = refuse_overwriting_inputs(&output, &args(Some(&path(name)))).unwrap_err();
            assert!(error.to_string().contains(what), "{error}");
        }
        let fine = dir.path().join("app.so");
        refuse_overwriting_inputs(&fine, &args(Some(&path("app.so")))).unwrap();
        let error =
            refuse_overwriting_inputs(&dir.path().join("app.wat"), &args(None)).unwrap_err();
        assert!(error.to_string().contains("the default output"), "{error}");
    }
}
