//! Trust policy files (docs/policy.md): named Minisign keys with roles and
//! validity windows, rules on who must have signed an artifact (k of n,
//! counter-signatures counted) and its source, minimum timestamp, allowed
//! engines and targets, and the mode (`enforce` or `audit`).
//!
//! A file is read into the keys an artifact may verify against and a
//! [`lucet_artifact::Policy`], the one policy every runner evaluates: flags
//! and files end in the same evaluator. Nothing here is lenient: a file
//! that does not parse, names an unknown key or role, or has a field this
//! release does not know is an error, never "allow all".
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod file;
mod revocation;

use std::path::{Path, PathBuf};

pub use file::FORMAT_VERSION;
pub use revocation::{LIST_VERSION, parse_list as parse_revocation_list};

/// What a policy file says, ready to use.
#[derive(Debug)]
pub struct TrustPolicy {
    /// The keys an artifact's signature may verify against: every key with
    /// a role other than `source` and `revocation`.
    pub artifact_keys: lucet_signature::PublicKeySet,
    /// The rules, for the evaluator.
    pub policy: lucet_artifact::Policy,
    /// Each key's name in the file, for messages.
    pub key_names: Vec<(lucet_signature::KeyId, String)>,
    /// What the caller should print as a warning: a revocation list used
    /// within its grace period.
    pub warnings: Vec<String>,
}

/// Why a policy file cannot be used. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read: not a regular file, too large, unreadable
    /// (the message names the file).
    #[error(transparent)]
    Read(lucet_signature::Error),
    /// The file is not a policy this release reads.
    #[error("policy file {path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, and where.
        reason: String,
    },
}

/// Largest policy file read.
const MAX_POLICY_LEN: u64 = 1 << 20;

/// Reads the policy file at `path`; key files it names are relative to
/// its directory.
pub fn read(path: &Path) -> Result<TrustPolicy, Error> {
    let bytes = lucet_signature::read_capped(path, MAX_POLICY_LEN).map_err(Error::Read)?;
    let text = String::from_utf8(bytes).map_err(|_| invalid(path, "not UTF-8 text".into()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    file::parse(&text, base, lucet_artifact::unix_now()).map_err(|reason| invalid(path, reason))
}

/// Parses policy file `text` whose key files are relative to `base`, as
/// [`read`] does after reading the file; the error is the reason alone,
/// one line, without the file's name. For fuzzing and tests.
pub fn parse_text(text: &str, base: &Path) -> Result<TrustPolicy, String> {
    file::parse(text, base, lucet_artifact::unix_now())
}

fn invalid(path: &Path, reason: String) -> Error {
    Error::Invalid {
        path: path.to_path_buf(),
        reason,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use lucet_artifact::PolicyMode;
    use lucet_signature::SecretKey;

    use super::*;

    /// A directory with keys/ci.pub, keys/security.pub, keys/publisher.pub.
    fn keys_dir() -> (tempfile::TempDir, Vec<(String, SecretKey)>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("keys")).unwrap();
        let keys = ["ci", "security", "publisher"]
            .into_iter()
            .map(|name| {
                let secret = SecretKey::generate().unwrap();
                let path = dir.path().join(format!("keys/{name}.pub"));
                std::fs::write(path, secret.public_key().to_box()).unwrap();
                (name.to_string(), secret)
            })
            .collect();
        (dir, keys)
    }

    fn documented_example() -> String {
        let doc = include_str!("../../../docs/policy.md");
        let start = doc.find("```toml\n").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        doc[start..end].to_string()
    }

    fn read_text(dir: &Path, text: &str) -> Result<TrustPolicy, Error> {
        let path = dir.join("policy.toml");
        std::fs::write(&path, text).unwrap();
        read(&path)
    }

    #[test]
    fn the_documented_example_reads_as_documented() {
        let (dir, keys) = keys_dir();
        let trust = read_text(dir.path(), &documented_example()).unwrap();
        let id = |name: &str| keys.iter().find(|(n, _)| n == name).unwrap().1.key_id();
        // The publisher's key vouches for sources only.
        assert_eq!(trust.artifact_keys.len(), 2);
        let policy = &trust.policy;
        assert_eq!(policy.mode, PolicyMode::Enforce);
        assert_eq!(policy.signer_rules.len(), 1);
        assert_eq!(policy.signer_rules[0].at_least, 2);
        assert_eq!(policy.signer_rules[0].of, [id("ci"), id("security")]);
        assert_eq!(policy.required_source_keys, [id("publisher")]);
        assert_eq!(policy.key_windows.len(), 1);
        assert_eq!(policy.key_windows[0].not_after, Some(1830297600));
        assert_eq!(policy.expected_name.as_deref(), Some("app"));
        assert_eq!(policy.allowed_targets.len(), 2);
    }

    #[test]
    fn every_malformed_file_is_an_error_naming_what_is_wrong() {
        let (dir, _) = keys_dir();
        let example = documented_example();
        let cases: Vec<(String, &str)> = vec![
            ("".into(), "missing field `version`"),
            ("version = 2\n".into(), "newer than this release reads (1): upgrade"),
            ("version = 0\n".into(), "not a policy version"),
            ("version = 1\n[keys.ci]\nfile = \"keys/ci.pub\"\nroles = [\"compiler\"]\nrevoked = true\n".into(), "unknown field `revoked`"),
            (example.replace("mode = \"enforce\"", "mode = \"permissive\""), "permissive"),
            (example.replace("\"role:security\"", "\"role:securty\""), "names no key of this file"),
            (example.replace("at_least = 2", "at_least = 3"), "at_least = 3 but it names 2 keys"),
            (example.replace("at_least = 2", "at_least = 0"), "at_least = 0"),
            (example.replace("roles = [\"compiler\"]", "roles = []"), "keys.ci: no roles"),
            (example.replace("roles = [\"compiler\"]", "roles = [\"Compiler\"]"), "keys.ci.roles"),
            (example.replace("not_before = 1767225600", "not_before = 1930297600"), "not_before is after not_after"),
            (example.replace("file = \"keys/ci.pub\"", "file = \"keys/missing.pub\""), "missing.pub"),
            (example.replace("file = \"keys/ci.pub\"", "key = \"RWQ-not-base64\""), "keys.ci.key"),
            (example.replace("roles = [\"security\", \"release\"]", "roles = [\"source\"]").replace("roles = [\"compiler\"]", "roles = [\"source\"]"), "no key may sign artifacts"),
            ("version = 1\nmode = \n".into(), "policy file"),
        ];
        for (text, needle) in cases {
            let error = read_text(dir.path(), &text).expect_err(needle).to_string();
            assert!(error.contains(needle), "{needle:?} not in {error:?}");
            assert!(error.contains("policy.toml"), "{error}");
            assert!(!error.contains('\n'), "not one line: {error:?}");
        }
    }

    #[test]
    fn the_documented_revocation_list_reads_as_documented() {
        let doc = include_str!("../../../docs/policy.md");
        let list = doc.split("```toml\n").nth(2).unwrap();
        let list = &list[..list.find("```").unwrap()];
        let revocations = parse_revocation_list(list).unwrap();
        assert_eq!(revocations.serial, 7);
        assert_eq!(revocations.expires, 1830297600);
        assert!(revocations.revokes_key("B5EC7E8F95D4E4C1".parse().unwrap()));
        // The documented source hash is `b2sum` of an empty file.
        assert!(
            revocations
                .sources
                .contains(&lucet_signature::Prehash::of(b""))
        );
    }

    #[test]
    fn audit_mode_reads() {
        let (dir, _) = keys_dir();
        let audit = documented_example().replace("mode = \"enforce\"", "mode = \"audit\"");
        let trust = read_text(dir.path(), &audit).unwrap();
        assert_eq!(trust.policy.mode, PolicyMode::Audit);
    }
}
