//! The policy file as written (TOML), and its translation into keys and a
//! [`Policy`]. Errors are one line each, naming the field.

use std::collections::BTreeMap;
use std::path::Path;

use lucet_artifact::{KeyWindow, Policy, PolicyMode, SignerRule};
use lucet_signature::{KeyId, PublicKey, PublicKeySet};
use serde::Deserialize;

use crate::{TrustPolicy, revocation};

/// The policy file version this release reads. A newer one is refused.
pub const FORMAT_VERSION: u32 = 1;

/// The role of keys that vouch for sources only, never for artifacts.
const SOURCE_ROLE: &str = "source";

/// The role of keys that sign revocation lists only, never artifacts.
const REVOCATION_ROLE: &str = "revocation";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    keys: BTreeMap<String, KeyEntry>,
    #[serde(default)]
    artifact: ArtifactRules,
    #[serde(default)]
    source: SourceRules,
    revocation: Option<revocation::Section>,
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum Mode {
    #[default]
    Enforce,
    Audit,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyEntry {
    /// A Minisign public key file, relative to the policy file.
    file: Option<String>,
    /// An inline public key, as `minisign -P` takes it.
    key: Option<String>,
    roles: Vec<String>,
    not_before: Option<u64>,
    not_after: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ArtifactRules {
    #[serde(default)]
    signed_by: Vec<Quorum>,
    min_timestamp: Option<u64>,
    name: Option<String>,
    #[serde(default)]
    engines: Vec<String>,
    #[serde(default)]
    targets: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Quorum {
    at_least: usize,
    of: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SourceRules {
    #[serde(default)]
    signed_by: Vec<String>,
}

/// A named key, read.
struct Named {
    name: String,
    key: PublicKey,
    roles: Vec<String>,
    /// Its window (unbounded when the file gives none).
    window: KeyWindow,
}

impl Named {
    fn has_role(&self, wanted: impl Fn(&str) -> bool) -> bool {
        self.roles.iter().any(|role| wanted(role))
    }
}

/// Parses a policy file's `text`; key and list files are relative to
/// `base`; a revocation list is checked against the time `now`.
pub(crate) fn parse(text: &str, base: &Path, now: u64) -> Result<TrustPolicy, String> {
    let file: PolicyFile = toml::from_str(text).map_err(|error| one_line(&error.to_string()))?;
    if file.version != FORMAT_VERSION {
        return Err(if file.version > FORMAT_VERSION {
            format!(
                "version {} is newer than this release reads ({FORMAT_VERSION}): upgrade",
                file.version
            )
        } else {
            format!(
                "version {} is not a policy version (this release reads {FORMAT_VERSION})",
                file.version
            )
        });
    }
    let keys = file
        .keys
        .iter()
        .map(|(name, entry)| read_key(name, entry, base))
        .collect::<Result<Vec<_>, _>>()?;
    let artifact_keys = keys_where(
        &keys,
        |named| named.has_role(|role| role != SOURCE_ROLE && role != REVOCATION_ROLE),
        "no key may sign artifacts: give one a role other than `source` and `revocation`",
    )?;
    let (revocations, warnings) = match &file.revocation {
        Some(section) => {
            // A retired revocation key must not be able to publish a list
            // that undoes revocations: its window counts here too.
            let revokers = keys_where(
                &keys,
                |named| {
                    named.has_role(|role| role == REVOCATION_ROLE) && named.window.contains(now)
                },
                "revocation: no key with the `revocation` role is valid now to verify the list",
            )?;
            let (list, warning) = revocation::read(section, &revokers, base, now)?;
            (Some(list), warning.into_iter().collect())
        }
        None => (None, Vec::new()),
    };
    let policy = Policy {
        expected_name: file.artifact.name.clone(),
        required_source_keys: resolve_all(&file.source.signed_by, &keys, "source.signed_by")?,
        min_timestamp: file.artifact.min_timestamp,
        signer_rules: signer_rules(&file.artifact.signed_by, &keys)?,
        key_windows: windows(&keys),
        allowed_engines: file.artifact.engines.clone(),
        allowed_targets: file.artifact.targets.clone(),
        revocations,
        mode: match file.mode {
            Mode::Enforce => PolicyMode::Enforce,
            Mode::Audit => PolicyMode::Audit,
        },
    };
    Ok(TrustPolicy {
        artifact_keys,
        policy,
        key_names: keys
            .iter()
            .map(|named| (named.key.key_id(), named.name.clone()))
            .collect(),
        warnings,
    })
}

/// The keys `wanted` accepts; `none` is the error if there is none.
fn keys_where(
    keys: &[Named],
    wanted: impl Fn(&Named) -> bool,
    none: &str,
) -> Result<PublicKeySet, String> {
    let chosen: Vec<PublicKey> = keys
        .iter()
        .filter(|named| wanted(named))
        .map(|named| named.key.clone())
        .collect();
    if chosen.is_empty() {
        return Err(none.into());
    }
    PublicKeySet::new(chosen).map_err(|error| error.to_string())
}

/// toml's messages span lines (they quote the file): the first says what.
/// The quoted line (`19 | min_timestamp = "x"`) names the field when the
/// last line ("invalid type: ...") does not, so it is kept, shortened.
pub(crate) fn one_line(message: &str) -> String {
    let mut lines = message.lines().filter(|line| !line.trim().is_empty());
    let first = lines.next().unwrap_or("does not parse").trim().to_string();
    let quoted = message.lines().find_map(|line| {
        let (number, text) = line.split_once(" | ")?;
        let text = text.trim();
        (number.trim().parse::<u32>().is_ok() && !text.is_empty())
            .then(|| text.chars().take(60).collect::<String>())
    });
    let first = match quoted {
        Some(text) => format!("{first} (`{text}`)"),
        None => first,
    };
    match lines.next_back() {
        Some(last) if !first.starts_with(last.trim()) => format!("{first}: {}", last.trim()),
        _ => first,
    }
}

fn read_key(name: &str, entry: &KeyEntry, base: &Path) -> Result<Named, String> {
    let key = match (&entry.file, &entry.key) {
        (Some(file), None) => {
            let path = base.join(file);
            let keys = lucet_signature::read_public_keys(&[path])
                .map_err(|e| format!("keys.{name}: {e}"))?;
            keys.iter()
                .next()
                .cloned()
                .ok_or_else(|| format!("keys.{name}: no key in {file}"))?
        }
        (None, Some(inline)) => {
            PublicKey::from_base64(inline).map_err(|e| format!("keys.{name}.key: {e}"))?
        }
        _ => return Err(format!("keys.{name}: give exactly one of `file` and `key`")),
    };
    if entry.roles.is_empty() {
        return Err(format!(
            "keys.{name}: no roles: say what the key is trusted for"
        ));
    }
    for role in &entry.roles {
        lucet_artifact::check_role(role).map_err(|e| format!("keys.{name}.roles: {e}"))?;
    }
    // A key that can un-revoke must not also be one that revocation is
    // for: a stolen artifact key that signs lists would lift its own entry.
    if entry.roles.len() > 1 && entry.roles.iter().any(|role| role == REVOCATION_ROLE) {
        return Err(format!(
            "keys.{name}: the `revocation` role is for a key of its own, which signs revocation lists and nothing else"
        ));
    }
    if let (Some(start), Some(end)) = (entry.not_before, entry.not_after)
        && start > end
    {
        return Err(format!("keys.{name}: not_before is after not_after"));
    }
    Ok(Named {
        name: name.to_string(),
        window: KeyWindow {
            key: key.key_id(),
            not_before: entry.not_before,
            not_after: entry.not_after,
        },
        key,
        roles: entry.roles.clone(),
    })
}

/// The keys `reference` names: a key's name, or `role:ROLE` for every key
/// with that role. Naming nothing is an error (a typo would make a rule
/// that nothing can meet, or that means something else).
fn resolve(reference: &str, keys: &[Named], field: &str) -> Result<Vec<KeyId>, String> {
    let found: Vec<KeyId> = match reference.strip_prefix("role:") {
        Some(role) => keys
            .iter()
            .filter(|named| named.roles.iter().any(|r| r == role))
            .map(|named| named.key.key_id())
            .collect(),
        None => keys
            .iter()
            .filter(|named| named.name == reference)
            .map(|named| named.key.key_id())
            .collect(),
    };
    if found.is_empty() {
        return Err(format!("{field}: {reference:?} names no key of this file"));
    }
    Ok(found)
}

fn resolve_all(references: &[String], keys: &[Named], field: &str) -> Result<Vec<KeyId>, String> {
    let mut all = Vec::new();
    for reference in references {
        for key in resolve(reference, keys, field)? {
            if !all.contains(&key) {
                all.push(key);
            }
        }
    }
    Ok(all)
}

fn signer_rules(quorums: &[Quorum], keys: &[Named]) -> Result<Vec<SignerRule>, String> {
    quorums
        .iter()
        .enumerate()
        .map(|(at, quorum)| {
            let name = format!("artifact.signed_by[{at}]");
            let of = resolve_all(&quorum.of, keys, &name)?;
            if quorum.at_least == 0 || quorum.at_least > of.len() {
                return Err(format!(
                    "{name}: at_least = {} but it names {} key{}: no artifact could meet it, or any would",
                    quorum.at_least,
                    of.len(),
                    if of.len() == 1 { "" } else { "s" }
                ));
            }
            Ok(SignerRule {
                name,
                at_least: quorum.at_least,
                of,
            })
        })
        .collect()
}

fn windows(keys: &[Named]) -> Vec<KeyWindow> {
    keys.iter()
        .map(|named| named.window)
        .filter(|window| window.not_before.is_some() || window.not_after.is_some())
        .collect()
}
