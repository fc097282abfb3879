//! Key files and passwords: the only terminal I/O around secrets.

use std::io::{BufRead, IsTerminal};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use lucet_signature::file::Existing;
use lucet_signature::{
    KdfCost, KeyFileMode, ObjectKind, PublicKeySet, SecretKey, SecretKeyFile, StagedKeyFile,
    misidentified,
};
use lucetc::cli::Args;
use zeroize::Zeroizing;

/// A `--signature-sk` value: a path, optionally prefixed `raw:` for keys
/// without a password (Lucet's spelling; it also promises never to prompt).
#[derive(Debug, Clone)]
pub struct SecretKeyPath {
    pub path: PathBuf,
    pub raw: bool,
}

impl SecretKeyPath {
    pub fn parse(text: &str) -> SecretKeyPath {
        match text.strip_prefix("raw:") {
            Some(path) => SecretKeyPath {
                path: PathBuf::from(path),
                raw: true,
            },
            None => SecretKeyPath {
                path: PathBuf::from(text),
                raw: false,
            },
        }
    }
}

/// Reads one password. Like minisign: a terminal gets `prompt` without echo;
/// otherwise one line is read from standard input, so scripts can pipe it.
fn read_password(prompt: &str) -> Result<Zeroizing<String>> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        let password = rpassword::prompt_password(prompt).context("cannot read the password")?;
        return Ok(Zeroizing::new(password));
    }
    let mut line = Zeroizing::new(String::new());
    let read = stdin
        .lock()
        .read_line(&mut line)
        .context("cannot read the password from standard input")?;
    if read == 0 {
        bail!(
            "no password on standard input: this key is password-protected (pipe one line per prompt, or use a raw: key for automation)"
        );
    }
    let end = line.trim_end_matches(['\n', '\r']).len();
    line.truncate(end);
    Ok(line)
}

/// How an empty password reached lucetc, to name it: an empty line piped by
/// a script is a different mistake from Enter pressed at a prompt.
fn empty_password() -> &'static str {
    if std::io::stdin().is_terminal() {
        "empty password entered"
    } else {
        "empty password read from standard input"
    }
}

/// Keeps secrets out of core dumps (and out of reach of same-user ptrace)
/// for the rest of the process: called before any secret key or password is
/// read or made.
fn protect_secrets_in_memory() -> Result<()> {
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .context("cannot disable core dumps before handling a secret key")
}

/// Opens a secret key file, asking for its password if it has one.
pub fn open_secret_key(key: &SecretKeyPath) -> Result<SecretKey> {
    protect_secrets_in_memory()?;
    let path = &key.path;
    let bytes = lucet_signature::read_secret_key_file(path)?;
    let parsed = SecretKeyFile::parse(&bytes)
        .map_err(|error| misidentified(&bytes, ObjectKind::SecretKey).unwrap_or(error))
        .with_context(|| format!("secret key {}", path.display()))?;
    match parsed {
        SecretKeyFile::Unencrypted(secret) => {
            warn_if_others_can_access(path);
            Ok(secret)
        }
        SecretKeyFile::Encrypted(encrypted) => {
            if key.raw {
                // rsign2's "passwordless" keys (`rsign generate -W`) are
                // encrypted with the empty password: open those without asking.
                let secret = encrypted.decrypt(b"").map_err(|_| {
                    anyhow::anyhow!(
                        "secret key {} is password-protected, but `raw:` promises no prompt; drop the raw: prefix to be asked for its password",
                        path.display()
                    )
                })?;
                warn_if_others_can_access(path);
                return Ok(secret);
            }
            let password = read_password(&format!("Password for secret key {}: ", path.display()))?;
            eprintln!("Deriving a key from the password...");
            encrypted
                .decrypt(password.as_bytes())
                .map_err(|error| wrong_password(path, &password, error))
        }
    }
}

/// `error` from opening `path` with `password`; an empty password that does
/// not open the key is named as such, since "wrong password" would send the
/// user looking for a typo in a password never given (a script's empty line).
fn wrong_password(path: &Path, password: &str, error: lucet_signature::Error) -> anyhow::Error {
    match error {
        lucet_signature::Error::WrongPassword if password.is_empty() => anyhow!(
            "secret key {}: {}, and the key is password-protected (give its password, or use a raw: key for automation)",
            path.display(),
            empty_password()
        ),
        other => anyhow::Error::new(other).context(format!("secret key {}", path.display())),
    }
}

/// Warns, on one line, when a secret key that opens without a password can
/// be read (or replaced) by other users, as ssh and gpg do.
///
/// A warning rather than ssh's refusal: automation keys are often mounted by
/// a secret store with modes the build's user cannot change (Kubernetes
/// secrets default to 0644), and by the time lucetc reads the key it is
/// already exposed; refusing would break those builds without protecting the
/// key. The warning names the fix. Password-protected keys are not warned
/// about: their file alone does not give the key away.
fn warn_if_others_can_access(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        eprintln!(
            "warning: secret key {} has no password and other users can access it (mode {mode:03o}); run `chmod 600 {}`",
            path.display(),
            path.display()
        );
    }
}

/// `--signature-keygen`: writes a new key pair. Nothing is written unless
/// both files can be, and no file is left behind on a password mismatch.
pub fn generate_key_pair(
    secret: &SecretKeyPath,
    public: &Path,
    force: bool,
    cost: KdfCost,
) -> Result<()> {
    if crate::output::same_file(&secret.path, public) {
        bail!(
            "--signature-sk and --signature-pk name the same file ({}); give the secret and the public key different paths",
            public.display()
        );
    }
    if !force {
        for path in [&secret.path, &public.to_path_buf()] {
            // Also a dangling symbolic link: a new key is never created through one.
            if path.symlink_metadata().is_ok() {
                bail!(
                    "{} already exists; pass --force to overwrite it",
                    path.display()
                );
            }
        }
    }
    protect_secrets_in_memory()?;
    let key = SecretKey::generate()?;
    let secret_text = if secret.raw {
        key.to_unencrypted_box()
    } else {
        let password = read_password(&format!(
            "Password for new key {} ({}): ",
            key.key_id(),
            secret.path.display()
        ))?;
        let again = read_password("Password (one more time): ")?;
        if password != again {
            bail!("passwords don't match; no key was written");
        }
        if password.is_empty() {
            bail!(
                "{}; for a key without a password, prefix its path with raw: (e.g. --signature-sk=raw:lucet.key)",
                empty_password()
            );
        }
        eprintln!("Deriving a key from the password...");
        Zeroizing::new(key.to_encrypted_box(password.as_bytes(), cost)?)
    };
    // Both files are written and synced under temporary names first: a
    // missing directory or a full disk fails here, before either is visible.
    let staged_secret =
        lucet_signature::stage_key_file(&secret.path, secret_text.as_bytes(), KeyFileMode::Secret)?;
    let staged_public = lucet_signature::stage_key_file(
        public,
        key.public_key().to_box().as_bytes(),
        KeyFileMode::Public,
    )?;
    commit_key_pair(staged_secret, staged_public, public, force)?;
    eprintln!(
        "Key pair {} written: secret key {}{}, public key {}",
        key.key_id(),
        secret.path.display(),
        if secret.raw { " (no password)" } else { "" },
        public.display()
    );
    print_public_key(&key, public);
    Ok(())
}

/// Prints the new public key and how to verify with it, as `minisign -G`
/// does: on standard output, so it can be copied or piped on.
fn print_public_key(key: &SecretKey, path: &Path) {
    let public = key.public_key();
    let base64 = public.to_base64();
    println!(
        "{}\n\
         Artifacts signed with this key run verified with:\n\
         \x20 lucet-wasi --signature-pk {} ARTIFACT\n\
         Files signed with it (minisign -S) verify with:\n\
         \x20 minisign -Vm <file> -P {base64}",
        public.to_box(),
        path.display()
    );
}

/// The trusted public keys: the files of -p (or `LUCET_SIGNATURE_PK`) and the
/// inline keys of -P, or `None` when none is given.
pub fn trusted_keys(args: &Args) -> Result<Option<PublicKeySet>> {
    if !args.has_public_keys() {
        return Ok(None);
    }
    // `Args::check` refused -P values that are not public keys.
    let mut keys = args
        .inline_public_keys()
        .map_err(|message| anyhow!(message))?;
    if !args.signature_pk.is_empty() {
        keys.extend(
            lucet_signature::read_public_keys(&args.signature_pk)?
                .iter()
                .cloned(),
        );
    }
    Ok(Some(PublicKeySet::new(keys)?))
}

/// Moves a staged key pair into place, the public key first: if the secret
/// key's move then fails, a new public key is removed again (it was created
/// by a link that fails if the path exists, so it is ours), and with
/// `--force` the old secret key is still there, unreplaced: a replaced
/// public key can be recreated from it (`minisign -R`), a replaced secret
/// key cannot be recovered.
fn commit_key_pair(
    secret: StagedKeyFile,
    public: StagedKeyFile,
    public_path: &Path,
    force: bool,
) -> Result<()> {
    let existing = Existing::replaced_if(force);
    public.commit(existing)?;
    if let Err(error) = secret.commit(existing) {
        if force {
            return Err(anyhow::Error::new(error).context(format!(
                "the public key {} was replaced but the secret key was not",
                public_path.display()
            )));
        }
        let _ = std::fs::remove_file(public_path);
        return Err(error.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_make_the_process_undumpable() {
        protect_secrets_in_memory().expect("prctl");
        assert_eq!(
            rustix::process::dumpable_behavior().expect("prctl"),
            rustix::process::DumpableBehavior::NotDumpable
        );
    }

    #[test]
    fn raw_prefix_is_recognised() {
        let raw = SecretKeyPath::parse("raw:/etc/lucet.key");
        assert!(raw.raw);
        assert_eq!(raw.path, PathBuf::from("/etc/lucet.key"));
        let plain = SecretKeyPath::parse("lucet.key");
        assert!(!plain.raw);
    }
}
