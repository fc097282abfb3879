//! Deployment policy on verified metadata: which source signers may vouch
//! for an artifact, and how old it may be.
//!
//! A policy only means something for metadata whose signature verified: the
//! caller checks it after [`read_verified`](crate::read_verified), never on
//! the unverified path (a compiler key alone cannot vouch for a source it
//! never saw signed, so `source-key` is trusted only as far as the artifact
//! signer is).

use lucet_signature::KeyId;

use crate::{Error, Metadata};

/// Conditions a verified artifact's metadata must meet to be loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// If set, the artifact must have been signed as this module name.
    pub expected_name: Option<String>,
    /// If not empty, the source must have been verified against one of these keys.
    pub required_source_keys: Vec<KeyId>,
    /// If set, artifacts made earlier (by their recorded timestamp) are refused.
    pub min_timestamp: Option<u64>,
}

impl Policy {
    /// Whether the policy asks for anything at all.
    pub fn is_empty(&self) -> bool {
        self.expected_name.is_none()
            && self.required_source_keys.is_empty()
            && self.min_timestamp.is_none()
    }

    /// Checks `metadata` against the policy.
    pub fn check(&self, metadata: &Metadata) -> Result<(), Error> {
        if let Some(expected) = &self.expected_name
            && metadata.name != *expected
        {
            return Err(Error::NameMismatch {
                found: lucet_signature::escape_for_display(&metadata.name),
                expected: lucet_signature::escape_for_display(expected),
            });
        }
        if !self.required_source_keys.is_empty()
            && !metadata
                .source_key
                .is_some_and(|key| self.required_source_keys.contains(&key))
        {
            return Err(Error::SourceKeyNotAllowed {
                found: metadata.source_key,
                allowed: self.required_source_keys.clone(),
            });
        }
        if let Some(min) = self.min_timestamp
            && metadata.timestamp < min
        {
            return Err(Error::TooOld {
                timestamp: metadata.timestamp,
                min,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(source_key: Option<KeyId>, timestamp: u64) -> Metadata {
        Metadata {
            kind: crate::ArtifactKind::Module,
            name: "app".into(),
            image_len: 10,
            image_blake2b: lucet_signature::Prehash::from_bytes([0; 64]),
            source_blake2b: lucet_signature::Prehash::from_bytes([0x11; 64]),
            source_key,
            engine: "wasmtime-48.0.8".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            cpu: "baseline".into(),
            settings: "opt:none,epoch:1,reserve:0,guard:0".into(),
            timestamp,
            comment: None,
        }
    }

    #[test]
    fn empty_policy_accepts_everything() {
        assert!(Policy::default().is_empty());
        assert!(Policy::default().check(&metadata(None, 0)).is_ok());
    }

    #[test]
    fn source_keys_and_timestamps_are_enforced() {
        let publisher = KeyId::from_bytes([1; 8]);
        let policy = Policy {
            expected_name: None,
            required_source_keys: vec![publisher],
            min_timestamp: Some(100),
        };
        assert!(policy.check(&metadata(Some(publisher), 100)).is_ok());
        assert!(matches!(
            policy.check(&metadata(Some(KeyId::from_bytes([2; 8])), 100)),
            Err(Error::SourceKeyNotAllowed { .. })
        ));
        assert!(matches!(
            policy.check(&metadata(None, 100)),
            Err(Error::SourceKeyNotAllowed { found: None, .. })
        ));
        assert!(matches!(
            policy.check(&metadata(Some(publisher), 99)),
            Err(Error::TooOld {
                timestamp: 99,
                min: 100
            })
        ));
    }

    #[test]
    fn names_are_compared_exactly() {
        let policy = Policy {
            expected_name: Some("app".into()),
            ..Policy::default()
        };
        assert!(!policy.is_empty());
        assert!(policy.check(&metadata(None, 0)).is_ok());
        for other in ["App", "app ", "evil", "ap"] {
            let mut signed_as = metadata(None, 0);
            signed_as.name = other.into();
            assert!(
                matches!(policy.check(&signed_as), Err(Error::NameMismatch { .. })),
                "{other} accepted"
            );
        }
    }
}
