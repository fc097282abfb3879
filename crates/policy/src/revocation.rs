//! Revocation lists (docs/policy.md, "Revocation"): a TOML file signed
//! with stock Minisign by a key with the `revocation` role, naming revoked
//! key ids, image hashes and source hashes, with a serial number and an
//! expiry; and the state file that remembers the highest serial seen, so
//! an older list (a rollback) is refused.

use std::convert::Infallible;
use std::path::Path;

use lucet_artifact::{Freshness, Revocations};
use lucet_signature::{KeyId, Legacy, Prehash, PublicKeySet};
use serde::Deserialize;

/// The revocation list version this release reads. A newer one is refused.
pub const LIST_VERSION: u32 = 1;

/// The version of the state file this release writes and reads.
const STATE_VERSION: u32 = 1;

/// Largest list read: 16 MiB is some 100,000 hashes.
const MAX_LIST_LEN: u64 = 16 << 20;

/// Largest state file read.
const MAX_STATE_LEN: u64 = 4096;

/// The `[revocation]` section of a policy file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Section {
    /// The list, relative to the policy file; its signature is `LIST.minisig`.
    list: String,
    /// Where the highest serial seen is kept, relative to the policy file.
    state: String,
    /// Seconds after the list's expiry during which it is still used, with a warning.
    #[serde(default)]
    grace: u64,
}

/// A revocation list as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListFile {
    version: u32,
    serial: u64,
    expires: u64,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    images: Vec<String>,
    #[serde(default)]
    sources: Vec<String>,
}

/// The state file as written by [`record_serial`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    version: u32,
    serial: u64,
    list_blake2b: String,
}

/// Parses a revocation list's text (already verified, or for fuzzing);
/// its grace period is 0. The error is one line.
pub fn parse_list(text: &str) -> Result<Revocations, String> {
    let file: ListFile = toml::from_str(text).map_err(|e| crate::file::one_line(&e.to_string()))?;
    if file.version != LIST_VERSION {
        return Err(format!(
            "version {} is not one this release reads ({LIST_VERSION}){}",
            file.version,
            if file.version > LIST_VERSION {
                ": upgrade"
            } else {
                ""
            }
        ));
    }
    let hash = |field: &str, (at, text): (usize, &String)| {
        Prehash::from_lowercase_hex(text)
            .ok_or_else(|| format!("{field}[{at}] is not 128 lowercase hex digits (b2sum's form)"))
    };
    Ok(Revocations {
        serial: file.serial,
        expires: file.expires,
        grace: 0,
        keys: file
            .keys
            .iter()
            .enumerate()
            .map(|(at, id)| {
                id.parse::<KeyId>().map_err(|_| {
                    format!("keys[{at}] is not a key id (16 hex digits, as minisign prints it)")
                })
            })
            .collect::<Result<_, _>>()?,
        images: file
            .images
            .iter()
            .enumerate()
            .map(|e| hash("images", e))
            .collect::<Result<_, _>>()?,
        sources: file
            .sources
            .iter()
            .enumerate()
            .map(|e| hash("sources", e))
            .collect::<Result<_, _>>()?,
    })
}

/// Reads the list `section` names (paths relative to `base`), verifies it
/// against `keys` (the `revocation` keys), refuses it if out of date at
/// `now` beyond its grace or older than one already seen, and records its
/// serial. Returns it and a warning when it is used within its grace.
pub(crate) fn read(
    section: &Section,
    keys: &PublicKeySet,
    base: &Path,
    now: u64,
) -> Result<(Revocations, Option<String>), String> {
    let list = base.join(&section.list);
    let in_list = |reason: String| format!("revocation list {}: {reason}", list.display());
    let mut signature_path = list.clone().into_os_string();
    signature_path.push(".minisig");
    let signature = lucet_signature::read_signature(Path::new(&signature_path)).map_err(|e| {
        in_list(format!(
            "{e}: sign it with `minisign -S -m LIST` by a `revocation` key"
        ))
    })?;
    let verified = lucet_signature::verify_file(
        keys,
        &signature,
        Legacy::Refuse,
        &list,
        MAX_LIST_LEN,
        |_| Ok::<(), Infallible>(()),
    )
    .map_err(|e| {
        in_list(format!(
            "{e} (it must verify against a key with the `revocation` role)"
        ))
    })?;
    let text =
        std::str::from_utf8(verified.bytes()).map_err(|_| in_list("not UTF-8 text".into()))?;
    let mut revocations = parse_list(text).map_err(in_list)?;
    if revocations.revokes_key(verified.signer()) {
        return Err(in_list(format!(
            "it revokes {}, the key that signed it: a revoked key's lists are not trusted; sign it with another `revocation` key",
            verified.signer()
        )));
    }
    revocations.grace = section.grace;
    let warning = match revocations.freshness(now) {
        Freshness::Current => None,
        Freshness::InGrace => Some(in_list(format!(
            "serial {} expired at {} and is used only for its grace of {} s: publish a newer list",
            revocations.serial, revocations.expires, revocations.grace
        ))),
        Freshness::Expired => {
            return Err(in_list(format!(
                "serial {} expired at {} (grace {} s) and it is now {now}: publish a newer list; without a current one nothing runs",
                revocations.serial, revocations.expires, revocations.grace
            )));
        }
    };
    record_serial(
        &base.join(&section.state),
        revocations.serial,
        verified.prehash(),
    )?;
    Ok((revocations, warning))
}

/// Refuses a list older than the one the state file at `path` records, or
/// another list with the same serial; records a newer one, atomically.
/// The read, the comparison and the write hold an exclusive lock on
/// `PATH.lock`, so that of two runners starting at once with lists 6 and 7,
/// the one with 6 cannot write its serial over 7's.
fn record_serial(path: &Path, serial: u64, list: Prehash) -> Result<(), String> {
    let in_state = |reason: String| format!("revocation state {}: {reason}", path.display());
    let _lock = lock_state(path).map_err(in_state)?;
    let list_hash = lucet_artifact::hex(list.as_bytes());
    if let Some(seen) = read_state(path).map_err(in_state)? {
        if serial < seen.serial {
            return Err(in_state(format!(
                "the list has serial {serial}, lower than serial {} already seen: an older list (a rollback), refused",
                seen.serial
            )));
        }
        if serial == seen.serial {
            return match seen.list_blake2b == list_hash {
                true => Ok(()),
                false => Err(in_state(format!(
                    "the list differs from the serial {serial} list already seen: a new list needs a higher serial"
                ))),
            };
        }
    }
    let text = format!(
        "# The newest revocation list seen (docs/policy.md): a list with a\n\
         # lower serial is refused. Written atomically; do not edit.\n\
         version = {STATE_VERSION}\nserial = {serial}\nlist_blake2b = \"{list_hash}\"\n"
    );
    lucet_signature::file::write_atomically(
        path,
        text.as_bytes(),
        0o644,
        lucet_signature::file::Existing::Replace,
        lucet_signature::file::Durability::Synced,
    )
    .map_err(|e| {
        in_state(format!(
            "{e}: the serial must be recorded to refuse rollbacks; make it writable"
        ))
    })
}

/// An exclusive lock on `PATH.lock` (made if missing), held until dropped.
/// Made with `create_new` (no symlink followed) and opened as a regular
/// file without blocking: a FIFO or device put in its place is refused,
/// never waited on.
fn lock_state(path: &Path) -> Result<std::fs::File, String> {
    let mut lock_path = path.as_os_str().to_owned();
    lock_path.push(".lock");
    let lock_path = Path::new(&lock_path);
    let cannot = |e: std::io::Error| {
        format!(
            "cannot open its lock file {}: {e}: the serial must be recorded to refuse rollbacks; make the directory writable",
            lock_path.display()
        )
    };
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(lock_path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(cannot(e)),
    }
    let file = lucet_signature::file::open_regular_file(lock_path).map_err(cannot)?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", lock_path.display()))?;
    Ok(file)
}

/// The state at `path`; `None` if there is no file yet.
fn read_state(path: &Path) -> Result<Option<StateFile>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(_) => {}
    }
    let bytes = lucet_signature::read_capped(path, MAX_STATE_LEN).map_err(|e| e.to_string())?;
    let text = String::from_utf8(bytes).map_err(|_| "not UTF-8 text".to_string())?;
    let state: StateFile = toml::from_str(&text).map_err(|e| {
        format!(
            "{}: restore it, or remove it to trust the next list seen",
            crate::file::one_line(&e.to_string())
        )
    })?;
    if state.version != STATE_VERSION {
        return Err(format!(
            "version {} is not one this release reads ({STATE_VERSION})",
            state.version
        ));
    }
    Ok(Some(state))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use lucet_signature::SecretKey;

    use super::*;

    const NOW: u64 = 1_800_000_000;

    /// A directory with a policy whose `revoker` key signs lists, and the key.
    struct Setup {
        dir: tempfile::TempDir,
        revoker: SecretKey,
        ci: SecretKey,
    }

    fn setup() -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let revoker = SecretKey::generate().unwrap();
        let ci = SecretKey::generate().unwrap();
        std::fs::write(
            dir.path().join("revoker.pub"),
            revoker.public_key().to_box(),
        )
        .unwrap();
        std::fs::write(dir.path().join("ci.pub"), ci.public_key().to_box()).unwrap();
        Setup { dir, revoker, ci }
    }

    impl Setup {
        fn policy(&self, grace: u64) -> String {
            format!(
                "version = 1\n\
                 [keys.ci]\nfile = \"ci.pub\"\nroles = [\"compiler\"]\n\
                 [keys.revoker]\nfile = \"revoker.pub\"\nroles = [\"revocation\"]\n\
                 [revocation]\nlist = \"revoked.toml\"\nstate = \"revocation.state\"\ngrace = {grace}\n"
            )
        }

        /// Writes the list and its signature by `signer`.
        fn publish(&self, text: &str, signer: &SecretKey) {
            let path = self.dir.path().join("revoked.toml");
            std::fs::write(&path, text).unwrap();
            let signature = signer
                .sign_prehashed(&Prehash::of(text.as_bytes()), "list", "revocation list")
                .unwrap();
            std::fs::write(
                self.dir.path().join("revoked.toml.minisig"),
                signature.to_text(),
            )
            .unwrap();
        }

        fn read(&self, grace: u64, now: u64) -> Result<crate::TrustPolicy, String> {
            crate::file::parse(&self.policy(grace), self.dir.path(), now)
        }
    }

    fn list(serial: u64, expires: u64, keys: &[KeyId]) -> String {
        let keys: Vec<String> = keys.iter().map(|k| format!("\"{k}\"")).collect();
        format!(
            "version = 1\nserial = {serial}\nexpires = {expires}\nkeys = [{}]\nimages = [\"{}\"]\n",
            keys.join(", "),
            "ab".repeat(64)
        )
    }

    #[test]
    fn a_signed_list_is_read_recorded_and_its_key_signs_nothing_else() {
        let setup = setup();
        let compromised = setup.ci.key_id();
        setup.publish(&list(3, NOW + 10, &[compromised]), &setup.revoker);
        let trust = setup.read(0, NOW).unwrap();
        let revocations = trust.policy.revocations.unwrap();
        assert!(revocations.revokes_key(compromised));
        assert_eq!(revocations.images.len(), 1);
        assert!(trust.warnings.is_empty());
        // The revocation key may not sign artifacts.
        assert_eq!(trust.artifact_keys.len(), 1);
        let state = std::fs::read_to_string(setup.dir.path().join("revocation.state")).unwrap();
        assert!(state.contains("serial = 3\n"), "{state}");
    }

    #[test]
    fn an_older_list_or_another_list_with_the_same_serial_is_refused() {
        let setup = setup();
        setup.publish(&list(5, NOW + 10, &[]), &setup.revoker);
        setup.read(0, NOW).unwrap();
        setup.read(0, NOW).unwrap(); // the same list again
        setup.publish(&list(4, NOW + 10, &[]), &setup.revoker);
        let error = setup.read(0, NOW).unwrap_err();
        assert!(
            error.contains("serial 4, lower than serial 5 already seen"),
            "{error}"
        );
        setup.publish(&list(5, NOW + 20, &[]), &setup.revoker);
        let error = setup.read(0, NOW).unwrap_err();
        assert!(
            error.contains("a new list needs a higher serial"),
            "{error}"
        );
        setup.publish(&list(6, NOW + 20, &[]), &setup.revoker);
        setup.read(0, NOW).unwrap();
        std::fs::write(setup.dir.path().join("revocation.state"), "serial = ").unwrap();
        let error = setup.read(0, NOW).unwrap_err();
        assert!(
            error.contains("revocation.state") && error.contains("restore it"),
            "{error}"
        );
    }

    #[test]
    fn a_fifo_as_the_lock_file_is_refused_not_waited_on() {
        let setup = setup();
        setup.publish(&list(1, NOW + 10, &[]), &setup.revoker);
        let lock = setup.dir.path().join("revocation.state.lock");
        let made = std::process::Command::new("mkfifo").arg(&lock).status();
        assert!(made.unwrap().success());
        let error = setup.read(0, NOW).unwrap_err();
        assert!(error.contains("lock file"), "{error}");
    }

    #[test]
    fn an_expired_list_fails_closed_after_its_grace() {
        let setup = setup();
        setup.publish(&list(1, NOW, &[]), &setup.revoker);
        assert!(setup.read(0, NOW).unwrap().warnings.is_empty());
        let error = setup.read(0, NOW + 1).unwrap_err();
        assert!(
            error.contains("expired at 1800000000 (grace 0 s)"),
            "{error}"
        );
        let warned = setup.read(60, NOW + 60).unwrap();
        assert_eq!(warned.warnings.len(), 1);
        assert!(
            warned.warnings[0].contains("grace of 60 s"),
            "{:?}",
            warned.warnings
        );
        assert!(setup.read(60, NOW + 61).is_err());
    }

    #[test]
    fn a_list_not_signed_by_a_revocation_key_is_refused() {
        let setup = setup();
        setup.publish(&list(1, NOW + 10, &[]), &setup.ci);
        let error = setup.read(0, NOW).unwrap_err();
        assert!(error.contains("`revocation` role"), "{error}");
        setup.publish(&list(1, NOW + 10, &[]), &setup.revoker);
        std::fs::write(
            setup.dir.path().join("revoked.toml"),
            list(1, NOW + 99, &[]),
        )
        .unwrap();
        assert!(setup.read(0, NOW).is_err(), "an altered list was read");
        std::fs::remove_file(setup.dir.path().join("revoked.toml.minisig")).unwrap();
        let error = setup.read(0, NOW).unwrap_err();
        assert!(error.contains("minisign -S"), "{error}");
        let no_revoker = setup
            .policy(0)
            .replace("roles = [\"revocation\"]", "roles = [\"release\"]");
        let error = crate::file::parse(&no_revoker, setup.dir.path(), NOW).unwrap_err();
        assert!(
            error.contains("no key with the `revocation` role is valid now"),
            "{error}"
        );
    }

    #[test]
    fn a_retired_or_self_revoked_or_dual_role_revocation_key_is_refused() {
        let setup = setup();
        setup.publish(&list(1, NOW + 10, &[]), &setup.revoker);
        // Retired: outside its window, its lists do not count.
        let retired = setup.policy(0).replace(
            "roles = [\"revocation\"]\n",
            &format!("roles = [\"revocation\"]\nnot_after = {}\n", NOW - 1),
        );
        let error = crate::file::parse(&retired, setup.dir.path(), NOW).unwrap_err();
        assert!(error.contains("is valid now"), "{error}");
        // A list naming its own signer.
        setup.publish(
            &list(2, NOW + 10, &[setup.revoker.key_id()]),
            &setup.revoker,
        );
        let error = setup.read(0, NOW).unwrap_err();
        assert!(error.contains("the key that signed it"), "{error}");
        // The role is a key's only one.
        let dual = setup.policy(0).replace(
            "roles = [\"revocation\"]",
            "roles = [\"revocation\", \"release\"]",
        );
        let error = crate::file::parse(&dual, setup.dir.path(), NOW).unwrap_err();
        assert!(
            error.contains("signs revocation lists and nothing else"),
            "{error}"
        );
    }

    #[test]
    fn malformed_lists_are_errors_naming_the_field() {
        let hash = "ab".repeat(64);
        for (text, needle) in [
            (
                "serial = 1\nexpires = 2\n".to_string(),
                "missing field `version`",
            ),
            ("version = 2\nserial = 1\nexpires = 2\n".into(), "upgrade"),
            (
                "version = 1\nexpires = 2\n".into(),
                "missing field `serial`",
            ),
            (
                "version = 1\nserial = 1\n".into(),
                "missing field `expires`",
            ),
            (
                "version = 1\nserial = -1\nexpires = 2\n".into(),
                "line 2, column 10 (`serial = -1`): invalid value: integer `-1`",
            ),
            (
                "version = 1\nserial = 1\nexpires = 2\nkeys = [\"B5EC\"]\n".into(),
                "keys[0] is not a key id",
            ),
            (
                format!(
                    "version = 1\nserial = 1\nexpires = 2\nimages = [\"{}\"]\n",
                    hash.to_uppercase()
                ),
                "images[0]",
            ),
            (
                "version = 1\nserial = 1\nexpires = 2\nsources = [\"ab\"]\n".into(),
                "sources[0]",
            ),
            (
                "version = 1\nserial = 1\nexpires = 2\nrevoked = []\n".into(),
                "unknown field `revoked`",
            ),
        ] {
            let error = parse_list(&text).expect_err(needle);
            assert!(error.contains(needle), "{needle:?} not in {error:?}");
            assert!(!error.contains('\n'), "{error:?}");
        }
    }
}
