//! The node's configuration: which keys it trusts, what its policy asks
//! and the limits of every guest. It is the operator's file on the node,
//! read once by the shim before any container exists; nothing in an image,
//! its annotations or a pod spec can change it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lucet_artifact::Policy;
use lucet_runtime::LoadOptions;
use lucet_signature::{KeyId, PublicKeySet};
use serde::Deserialize;

/// Where the node's configuration lives unless `LUCET_SHIM_CONFIG` (in the
/// shim's own environment, i.e. containerd's) names another file.
pub const DEFAULT_CONFIG_PATH: &str = "/etc/lucet/containerd-shim.toml";

/// The largest configuration file read: it is a few lines.
const MAX_CONFIG_LEN: u64 = 64 << 10;

/// The file as written. Unknown keys are refused: an older shim given a
/// newer file must not run guests under a policy it only partly read.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    #[serde(default)]
    signature_pk: Vec<PathBuf>,
    /// A trust policy file (docs/policy.md) instead of `signature_pk` and
    /// the policy keys.
    policy: Option<PathBuf>,
    #[serde(default)]
    require_source_key: Vec<String>,
    min_timestamp: Option<u64>,
    max_artifact_size: Option<String>,
    max_heap_size: Option<String>,
    max_wasm_stack: Option<String>,
    timeout: Option<String>,
}

/// The configuration, checked: keys read, sizes and durations parsed.
pub struct NodeConfig {
    /// The keys an artifact's signature must verify against.
    pub keys: PublicKeySet,
    /// What the verified metadata must also satisfy.
    pub policy: Policy,
    /// Engine limits and the cap on an artifact's image.
    pub load: LoadOptions,
    /// Linear memory a guest may have, all its memories together.
    pub max_heap_size: Option<u64>,
    /// Wall-clock limit of a guest.
    pub timeout: Option<Duration>,
}

/// The path of the node's configuration file.
pub fn config_path() -> PathBuf {
    std::env::var_os("LUCET_SHIM_CONFIG")
        .filter(|path| !path.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH))
}

/// Reads and checks the configuration at `path`.
pub fn read(path: &Path) -> Result<NodeConfig> {
    let text = read_capped(path)?;
    let file: ConfigFile = toml::from_str(&text)
        .with_context(|| format!("{}: not a valid configuration", path.display()))?;
    check(file).with_context(|| path.display().to_string())
}

fn read_capped(path: &Path) -> Result<String> {
    let bytes = lucet_signature::read_capped(path, MAX_CONFIG_LEN)
        .with_context(|| format!("cannot read the node configuration {}", path.display()))?;
    String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8 text", path.display()))
}

fn check(file: ConfigFile) -> Result<NodeConfig> {
    let (keys, policy) = trust(&file)?;
    let size = |name: &str, value: &Option<String>| -> Result<Option<u64>> {
        value
            .as_deref()
            .map(|text| lucet_runtime::parse_size(text).with_context(|| format!("{name} {text:?}")))
            .transpose()
    };
    let mut load = LoadOptions::default();
    if let Some(max) = size("max_artifact_size", &file.max_artifact_size)? {
        load.read_limits.max_image_len = max;
    }
    if let Some(stack) = size("max_wasm_stack", &file.max_wasm_stack)? {
        load.max_wasm_stack = usize::try_from(stack).context("max_wasm_stack is too large")?;
    }
    let timeout = file
        .timeout
        .as_deref()
        .map(|text| {
            lucet_runtime::parse_duration(text).with_context(|| format!("timeout {text:?}"))
        })
        .transpose()?;
    Ok(NodeConfig {
        keys,
        policy,
        load,
        max_heap_size: size("max_heap_size", &file.max_heap_size)?,
        timeout,
    })
}

/// The keys and policy: from a policy file, or from `signature_pk` and
/// the policy keys; never both, and never none.
fn trust(file: &ConfigFile) -> Result<(PublicKeySet, Policy)> {
    if let Some(path) = &file.policy {
        if !file.signature_pk.is_empty()
            || !file.require_source_key.is_empty()
            || file.min_timestamp.is_some()
        {
            bail!(
                "policy names the keys and rules: leave out signature_pk, require_source_key and min_timestamp, or put them in {}",
                path.display()
            );
        }
        let trust = lucet_policy::read(path)?;
        for warning in &trust.warnings {
            // containerd logs the shim's stderr.
            eprintln!("warning: {warning}");
        }
        return Ok((trust.artifact_keys, trust.policy));
    }
    if file.signature_pk.is_empty() {
        // There is no unverified mode: a node without keys runs nothing.
        bail!(
            "signature_pk names no key: list the public keys this node trusts (or give a policy file)"
        );
    }
    let keys = lucet_signature::read_public_keys(&file.signature_pk)?;
    let required_source_keys = file
        .require_source_key
        .iter()
        .map(|id| {
            id.parse::<KeyId>()
                .with_context(|| format!("require_source_key {id:?}: not a key id (16 hex digits)"))
        })
        .collect::<Result<Vec<_>>>()?;
    let policy = Policy {
        required_source_keys,
        min_timestamp: file.min_timestamp,
        ..Policy::default()
    };
    Ok((keys, policy))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// docs/fleet.md's example configuration, its key files made real.
    fn documented_example(dir: &Path) -> String {
        let doc = include_str!("../../../docs/fleet.md");
        let start = doc.find("```toml\n# The Minisign public keys").unwrap() + "```toml\n".len();
        let end = start + doc[start..].find("```").unwrap();
        let mut example = doc[start..end].to_string();
        for name in ["ci.pub", "ci-next.pub"] {
            let key = lucet_signature::SecretKey::generate().unwrap().public_key();
            let path = dir.join(name);
            std::fs::write(&path, key.to_box()).unwrap();
            example = example.replace(&format!("/etc/lucet/keys/{name}"), path.to_str().unwrap());
        }
        example
    }

    #[test]
    fn the_documented_example_is_a_valid_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containerd-shim.toml");
        std::fs::write(&path, documented_example(dir.path())).unwrap();
        let config = read(&path).unwrap();
        assert_eq!(config.keys.len(), 2);
        assert_eq!(config.policy.required_source_keys.len(), 1);
        assert_eq!(config.policy.min_timestamp, Some(1767225600));
        assert_eq!(config.load.read_limits.max_image_len, 256 << 20);
        assert_eq!(config.load.max_wasm_stack, 1 << 20);
        assert_eq!(config.max_heap_size, Some(512 << 20));
        assert_eq!(config.timeout, Some(Duration::from_secs(600)));
    }

    #[test]
    fn a_key_this_shim_does_not_know_is_refused_not_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containerd-shim.toml");
        let newer = format!(
            "{}\nrevocation_list = \"/etc/lucet/revoked\"\n",
            documented_example(dir.path())
        );
        std::fs::write(&path, newer).unwrap();
        let error = format!("{:#}", read(&path).err().unwrap());
        assert!(error.contains("unknown field `revocation_list`"), "{error}");
    }

    #[test]
    fn a_node_without_keys_or_with_bad_values_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("containerd-shim.toml");
        for (text, reason) in [
            ("signature_pk = []", "names no key"),
            ("", "names no key"),
            (
                "policy = \"/etc/lucet/policy.toml\"\nsignature_pk = [\"/k.pub\"]",
                "leave out signature_pk",
            ),
            (
                "policy = \"/nonexistent/policy.toml\"",
                "/nonexistent/policy.toml",
            ),
            (
                "signature_pk = [\"/nonexistent/k.pub\"]",
                "/nonexistent/k.pub",
            ),
        ] {
            std::fs::write(&path, text).unwrap();
            let error = format!("{:#}", read(&path).err().unwrap());
            assert!(error.contains(reason), "{text:?}: {error}");
        }
        let example = documented_example(dir.path());
        for (from, to, reason) in [
            ("\"256M\"", "\"lots\"", "max_artifact_size \"lots\""),
            ("\"10m\"", "\"10\"", "timeout \"10\""),
            ("\"2D8F294631D91FCB\"", "\"2D8F\"", "not a key id"),
        ] {
            std::fs::write(&path, example.replace(from, to)).unwrap();
            let error = format!("{:#}", read(&path).err().unwrap());
            assert!(error.contains(reason), "{to}: {error}");
        }
    }
}
