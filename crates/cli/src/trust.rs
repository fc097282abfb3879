//! `--policy FILE` and `--log-format`, which the verifying runners share,
//! and the one way they turn their trust options into keys and a policy.

use std::path::{Path, PathBuf};

use lucet_artifact::{Policy, PolicyMode};
use lucet_signature::PublicKeySet;

use crate::{PolicyFlags, TrustedKeys};

/// A trust policy file instead of `--signature-pk` and the policy flags.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct PolicyFileFlags {
    /// Take the trusted keys and every rule from a trust policy file
    /// (docs/policy.md): named keys with roles and validity windows, k-of-n
    /// signers (counter-signatures count), source signers, engines, targets,
    /// a signed revocation list, and enforce or audit mode. Not with
    /// --signature-pk or the policy flags.
    #[arg(long = "policy", value_name = "FILE")]
    pub policy_file: Option<PathBuf>,

    /// How a policy in audit mode reports what it lets through on stderr:
    /// one line per failed rule, as text or as JSON.
    #[arg(long, value_enum, value_name = "FORMAT", default_value = "text")]
    pub log_format: LogFormat,
}

/// How audit findings are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `TOOL: audit: ...`, one line each.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl PolicyFileFlags {
    /// With `--policy`, the flag among `keys` and `flags` that conflicts
    /// with it, for a usage error: the file is the one source of truth.
    pub fn conflict(&self, keys: &TrustedKeys, flags: &PolicyFlags) -> Option<&'static str> {
        self.policy_file.as_ref()?;
        if keys.signature_pk.is_empty() {
            flags.first_given()
        } else {
            Some("--signature-pk (or LUCET_SIGNATURE_PK)")
        }
    }

    /// The usage error for [`conflict`](PolicyFileFlags::conflict)'s flag.
    pub fn conflict_message(flag: &str) -> String {
        format!("--policy FILE holds the keys and rules: leave out {flag}, or put it in the file")
    }
}

/// The keys and policy a runner verifies with: from `--policy FILE`, else
/// `--signature-pk` and the policy flags; `None` when neither names a key
/// (the runner then decides whether it may run unverified).
/// `refuse_audit`: a build that must never run what its policy refuses.
/// A policy file's warnings (a revocation list in its grace period) are
/// printed on stderr.
pub fn trust(
    keys: &TrustedKeys,
    flags: &PolicyFlags,
    file: &PolicyFileFlags,
    refuse_audit: bool,
) -> anyhow::Result<Option<(PublicKeySet, Policy)>> {
    if let Some(path) = &file.policy_file {
        let trust = lucet_policy::read(path)?;
        for warning in &trust.warnings {
            eprintln!("warning: {warning}");
        }
        if refuse_audit && trust.policy.mode == PolicyMode::Audit {
            anyhow::bail!(
                "{}: this build only runs verified, policy-conforming artifacts, and audit mode would run refused ones: use mode = \"enforce\"",
                path.display()
            );
        }
        return Ok(Some((trust.artifact_keys, trust.policy)));
    }
    if keys.signature_pk.is_empty() {
        return Ok(None);
    }
    let public_keys = lucet_signature::read_public_keys(&keys.signature_pk)?;
    Ok(Some((public_keys, flags.policy())))
}

/// Writes each refusal an audit-mode policy let through for `artifact`,
/// one line on stderr, as `format` says.
pub fn report_audit(
    tool: &str,
    artifact: &Path,
    findings: &[lucet_artifact::Error],
    format: LogFormat,
) {
    for finding in findings {
        let rule = finding.policy_rule().unwrap_or_default();
        match format {
            LogFormat::Text => eprintln!(
                "{tool}: audit: {}: rule {rule} would refuse it: {finding}; running anyway",
                artifact.display()
            ),
            LogFormat::Json => eprintln!(
                "{}",
                serde_json::json!({
                    "level": "audit",
                    "tool": tool,
                    "artifact": artifact.display().to_string(),
                    "rule": rule,
                    "refusal": finding.to_string(),
                    "action": "ran",
                })
            ),
        }
    }
}
