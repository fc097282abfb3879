//! Deployment policy on a verified artifact: which keys must have signed
//! it (k of n, counter-signatures counted) and when those keys are valid,
//! which source signers may vouch for it, how old it may be, which engine
//! and target it must be made for, and what a revocation list revokes.
//! One evaluator, [`Policy::evaluate`], for every runner and for every way
//! of writing a policy (flags, a policy file, a host's configuration).
//!
//! A policy only means something for an artifact whose signature verified:
//! the caller checks it after [`read_verified`](crate::read_verified), never
//! on the unverified path (a compiler key alone cannot vouch for a source it
//! never saw signed, so `source-key` is trusted only as far as the artifact
//! signer is).

use lucet_signature::KeyId;

use crate::{Error, Metadata, Revocations, VerifiedArtifact};

/// Seconds since the epoch, the time policies check key windows at (0 for
/// a clock before the epoch: every window with a start then refuses).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// What a policy's refusals do.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyMode {
    /// A refusal stops the load.
    #[default]
    Enforce,
    /// Every rule is evaluated and what enforce would refuse is reported;
    /// the load goes on. For rolling a policy out.
    Audit,
}

/// "Signed by at least `at_least` distinct keys of `of`": the artifact
/// signature and the verified counter-signatures count, each key once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerRule {
    /// How the rule is named in refusals (e.g. `artifact.signed_by[0]`).
    pub name: String,
    /// How many distinct keys of `of` must have signed.
    pub at_least: usize,
    /// The keys that count.
    pub of: Vec<KeyId>,
}

/// When a key may be used: outside its window its signatures do not count,
/// and an artifact signed by it is refused. Unix seconds, both inclusive,
/// compared with the time of the load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyWindow {
    /// The key.
    pub key: KeyId,
    /// Not valid before this time.
    pub not_before: Option<u64>,
    /// Not valid after this time.
    pub not_after: Option<u64>,
}

impl KeyWindow {
    /// Whether `now` is within the window, both ends included.
    pub fn contains(&self, now: u64) -> bool {
        self.not_before.is_none_or(|start| now >= start)
            && self.not_after.is_none_or(|end| now <= end)
    }
}

/// Conditions a verified artifact must meet to be loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// If set, the artifact must have been signed as this module name.
    pub expected_name: Option<String>,
    /// If not empty, the source must have been verified against one of these keys.
    pub required_source_keys: Vec<KeyId>,
    /// If set, artifacts made earlier (by their recorded timestamp) are refused.
    pub min_timestamp: Option<u64>,
    /// Each must be met by the artifact's signers.
    pub signer_rules: Vec<SignerRule>,
    /// Validity windows of keys; a key without one is always valid.
    pub key_windows: Vec<KeyWindow>,
    /// If not empty, the artifact's `engine` must be one of these.
    pub allowed_engines: Vec<String>,
    /// If not empty, the artifact's `target` must be one of these.
    pub allowed_targets: Vec<String>,
    /// A verified revocation list's keys, images and sources, refused in
    /// either mode.
    pub revocations: Option<Revocations>,
    /// Whether refusals stop the load (revocations stop it in either mode).
    pub mode: PolicyMode,
}

impl Policy {
    /// Whether the policy asks for anything at all.
    pub fn is_empty(&self) -> bool {
        self.expected_name.is_none()
            && self.required_source_keys.is_empty()
            && self.min_timestamp.is_none()
            && self.signer_rules.is_empty()
            && self.key_windows.is_empty()
            && self.allowed_engines.is_empty()
            && self.allowed_targets.is_empty()
            && self.revocations.is_none()
    }

    /// Checks `verified` against the policy at time `now` (Unix seconds):
    /// in enforce mode the first refusal is the error; in audit mode every
    /// refusal is returned for the caller to report, and the load goes on,
    /// unless a revocation refused it (a kill switch is never audited).
    pub fn check<I>(&self, verified: &VerifiedArtifact<I>, now: u64) -> Result<Vec<Error>, Error> {
        let mut refusals = self.evaluate(verified, now);
        match self.mode {
            PolicyMode::Audit => match refusals.iter().position(Error::is_revocation) {
                Some(at) => Err(refusals.swap_remove(at)),
                None => Ok(refusals),
            },
            PolicyMode::Enforce if refusals.is_empty() => Ok(refusals),
            PolicyMode::Enforce => Err(refusals.swap_remove(0)),
        }
    }

    /// [`check`](Policy::check) in enforce mode whatever the policy's own
    /// mode: for callers that have no way to report what audit mode would
    /// let through, which must then not let it through.
    pub fn check_enforced<I>(&self, verified: &VerifiedArtifact<I>, now: u64) -> Result<(), Error> {
        match self.evaluate(verified, now).into_iter().next() {
            Some(refusal) => Err(refusal),
            None => Ok(()),
        }
    }

    /// Every rule `verified` fails at time `now`, in the order the rules
    /// are listed here (a revocation first), each as the refusal that names it.
    pub fn evaluate<I>(&self, verified: &VerifiedArtifact<I>, now: u64) -> Vec<Error> {
        let metadata = verified.metadata();
        let mut refusals: Vec<Error> = [
            self.revocations
                .as_ref()
                .and_then(|revocations| revocations.check(verified, now)),
            self.check_name(metadata),
            self.check_source_key(metadata),
            self.check_timestamp(metadata),
            check_listed("engine", &metadata.engine, &self.allowed_engines),
            check_listed("target", &metadata.target, &self.allowed_targets),
            self.check_window(verified.signer(), now),
        ]
        .into_iter()
        .flatten()
        .collect();
        let signers = self.valid_signers(verified, now);
        refusals.extend(
            self.signer_rules
                .iter()
                .filter_map(|rule| check_signers(rule, &signers)),
        );
        refusals
    }

    fn check_name(&self, metadata: &Metadata) -> Option<Error> {
        let expected = self.expected_name.as_ref()?;
        (metadata.name != *expected).then(|| Error::NameMismatch {
            found: lucet_signature::escape_for_display(&metadata.name),
            expected: lucet_signature::escape_for_display(expected),
        })
    }

    fn check_source_key(&self, metadata: &Metadata) -> Option<Error> {
        let allowed = !self.required_source_keys.is_empty()
            && !metadata
                .source_key
                .is_some_and(|key| self.required_source_keys.contains(&key));
        allowed.then(|| Error::SourceKeyNotAllowed {
            found: metadata.source_key,
            allowed: self.required_source_keys.clone(),
        })
    }

    fn check_timestamp(&self, metadata: &Metadata) -> Option<Error> {
        let min = self.min_timestamp?;
        (metadata.timestamp < min).then_some(Error::TooOld {
            timestamp: metadata.timestamp,
            min,
        })
    }

    fn window(&self, key: KeyId) -> Option<&KeyWindow> {
        self.key_windows.iter().find(|window| window.key == key)
    }

    /// The artifact's signer must be valid now.
    fn check_window(&self, signer: KeyId, now: u64) -> Option<Error> {
        let window = self.window(signer)?;
        (!window.contains(now)).then_some(Error::KeyNotValid {
            key: signer,
            not_before: window.not_before,
            not_after: window.not_after,
            now,
        })
    }

    /// The distinct keys that signed `verified`, are valid now and are not revoked.
    fn valid_signers<I>(&self, verified: &VerifiedArtifact<I>, now: u64) -> Vec<KeyId> {
        let revoked = |key: KeyId| {
            self.revocations
                .as_ref()
                .is_some_and(|revocations| revocations.revokes_key(key))
        };
        let mut signers: Vec<KeyId> = std::iter::once(verified.signer())
            .chain(verified.countersignatures().iter().map(|c| c.signer()))
            .filter(|key| self.window(*key).is_none_or(|window| window.contains(now)))
            .filter(|key| !revoked(*key))
            .collect();
        signers.sort_by_key(|key| key.to_string());
        signers.dedup();
        signers
    }
}

fn check_listed(field: &'static str, value: &str, allowed: &[String]) -> Option<Error> {
    (!allowed.is_empty() && !allowed.iter().any(|a| a == value)).then(|| Error::NotAllowed {
        field,
        found: lucet_signature::escape_for_display(value),
        allowed: allowed.join(", "),
    })
}

fn check_signers(rule: &SignerRule, signers: &[KeyId]) -> Option<Error> {
    let counted: Vec<KeyId> = signers
        .iter()
        .copied()
        .filter(|key| rule.of.contains(key))
        .collect();
    (counted.len() < rule.at_least).then(|| Error::TooFewSigners {
        rule: rule.name.clone(),
        needed: rule.at_least,
        counted,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use lucet_signature::{SecretKey, SignatureBox};

    use super::*;
    use crate::VerifiedCountersignature;

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

    fn key(n: u8) -> KeyId {
        KeyId::from_bytes([n; 8])
    }

    /// Any signature box: the evaluator never looks at it.
    fn signature_box() -> SignatureBox {
        SecretKey::generate()
            .unwrap()
            .sign_prehashed(&lucet_signature::Prehash::from_bytes([0; 64]), "x", "y")
            .unwrap()
    }

    /// An artifact with `metadata`, signed by `signer` and counter-signed by `counter`.
    fn verified(metadata: Metadata, signer: KeyId, counter: &[KeyId]) -> VerifiedArtifact<()> {
        let counter = counter
            .iter()
            .enumerate()
            .map(|(at, key)| VerifiedCountersignature::for_test(*key, "release", at))
            .collect();
        VerifiedArtifact::for_test(metadata, signer, counter, signature_box())
    }

    fn plain(source_key: Option<KeyId>, timestamp: u64) -> VerifiedArtifact<()> {
        verified(metadata(source_key, timestamp), key(9), &[])
    }

    #[test]
    fn empty_policy_accepts_everything() {
        assert!(Policy::default().is_empty());
        assert!(
            Policy::default()
                .check(&plain(None, 0), 0)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn source_keys_and_timestamps_are_enforced() {
        let publisher = key(1);
        let policy = Policy {
            required_source_keys: vec![publisher],
            min_timestamp: Some(100),
            ..Policy::default()
        };
        assert!(policy.check(&plain(Some(publisher), 100), 0).is_ok());
        assert!(matches!(
            policy.check(&plain(Some(key(2)), 100), 0),
            Err(Error::SourceKeyNotAllowed { .. })
        ));
        assert!(matches!(
            policy.check(&plain(None, 100), 0),
            Err(Error::SourceKeyNotAllowed { found: None, .. })
        ));
        assert!(matches!(
            policy.check(&plain(Some(publisher), 99), 0),
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
        assert!(policy.check(&plain(None, 0), 0).is_ok());
        for other in ["App", "app ", "evil", "ap"] {
            let mut signed_as = metadata(None, 0);
            signed_as.name = other.into();
            assert!(
                matches!(
                    policy.check(&verified(signed_as, key(9), &[]), 0),
                    Err(Error::NameMismatch { .. })
                ),
                "{other} accepted"
            );
        }
    }

    fn two_of(of: &[KeyId]) -> Policy {
        Policy {
            signer_rules: vec![SignerRule {
                name: "artifact.signed_by[0]".into(),
                at_least: 2,
                of: of.to_vec(),
            }],
            ..Policy::default()
        }
    }

    #[test]
    fn k_of_n_counts_distinct_keys_of_the_rule() {
        let policy = two_of(&[key(1), key(2), key(3)]);
        let ok = |signer, counter: &[KeyId]| {
            policy.check(&verified(metadata(None, 0), signer, counter), 0)
        };
        assert!(ok(key(1), &[key(2)]).is_ok());
        assert!(ok(key(9), &[key(2), key(3)]).is_ok());
        // One key twice is one signer; keys outside the rule do not count.
        for (signer, counter) in [
            (key(1), vec![key(1)]),
            (key(1), vec![key(9), key(8)]),
            (key(9), vec![key(2)]),
        ] {
            let error = ok(signer, &counter).unwrap_err();
            assert!(
                matches!(&error, Error::TooFewSigners { needed: 2, counted, .. } if counted.len() == 1),
                "{error}"
            );
            assert!(
                error
                    .to_string()
                    .contains("rule artifact.signed_by[0] needs 2"),
                "{error}"
            );
        }
    }

    #[test]
    fn key_windows_are_inclusive_and_checked_at_the_time_of_the_load() {
        let mut policy = two_of(&[key(1), key(2)]);
        policy.key_windows = vec![KeyWindow {
            key: key(2),
            not_before: Some(100),
            not_after: Some(200),
        }];
        let artifact = verified(metadata(None, 0), key(1), &[key(2)]);
        for (now, accepted) in [(99, false), (100, true), (200, true), (201, false)] {
            assert_eq!(policy.check(&artifact, now).is_ok(), accepted, "at {now}");
        }
        // The artifact's own signer outside its window is refused by name.
        let by_expired = verified(metadata(None, 0), key(2), &[key(1)]);
        let error = policy.check(&by_expired, 300).unwrap_err();
        assert!(
            matches!(error, Error::KeyNotValid { now: 300, .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("valid from 100 to 200"),
            "{error}"
        );
    }

    #[test]
    fn engines_and_targets_are_allowlists() {
        let policy = Policy {
            allowed_engines: vec!["wasmtime-48.0.8".into()],
            allowed_targets: vec!["aarch64-unknown-linux-gnu".into()],
            ..Policy::default()
        };
        let error = policy.check(&plain(None, 0), 0).unwrap_err();
        assert!(
            matches!(
                error,
                Error::NotAllowed {
                    field: "target",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn audit_mode_reports_every_refusal_and_lets_the_load_go_on() {
        let mut policy = two_of(&[key(1), key(2)]);
        policy.min_timestamp = Some(100);
        policy.mode = PolicyMode::Audit;
        let refusals = policy.check(&plain(None, 0), 0).unwrap();
        assert_eq!(refusals.len(), 2, "{refusals:?}");
        assert!(matches!(refusals[0], Error::TooOld { .. }));
        assert!(matches!(refusals[1], Error::TooFewSigners { .. }));
        policy.mode = PolicyMode::Enforce;
        assert!(matches!(
            policy.check(&plain(None, 0), 0),
            Err(Error::TooOld { .. })
        ));
    }

    fn revoking(keys: &[KeyId], image: bool, source: bool) -> Revocations {
        let artifact = metadata(None, 0);
        Revocations {
            serial: 7,
            expires: 1000,
            grace: 50,
            keys: keys.iter().copied().collect(),
            images: image
                .then_some(artifact.image_blake2b)
                .into_iter()
                .collect(),
            sources: source
                .then_some(artifact.source_blake2b)
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn revocations_refuse_in_either_mode_by_key_image_and_source() {
        for mode in [PolicyMode::Enforce, PolicyMode::Audit] {
            for (revocations, rule) in [
                (revoking(&[key(9)], false, false), "revocation.keys"),
                (revoking(&[], true, false), "revocation.images"),
                (revoking(&[], false, true), "revocation.sources"),
            ] {
                let policy = Policy {
                    revocations: Some(revocations),
                    mode,
                    ..Policy::default()
                };
                let error = policy.check(&plain(None, 0), 500).unwrap_err();
                assert_eq!(error.policy_rule().as_deref(), Some(rule), "{error}");
                assert!(
                    error.to_string().contains("revocation list serial 7"),
                    "{error}"
                );
            }
            let unrelated = Policy {
                revocations: Some(revoking(&[key(8)], false, false)),
                mode,
                ..Policy::default()
            };
            assert!(unrelated.check(&plain(None, 0), 500).unwrap().is_empty());
            // A revoked publisher: the source it signed is refused too.
            let publisher = Policy {
                revocations: Some(revoking(&[key(5)], false, false)),
                mode,
                ..Policy::default()
            };
            let error = publisher.check(&plain(Some(key(5)), 0), 500).unwrap_err();
            assert_eq!(error.policy_rule().as_deref(), Some("revocation.keys"));
            assert!(
                error
                    .to_string()
                    .contains("source's signing key 0505050505050505"),
                "{error}"
            );
        }
    }

    #[test]
    fn a_revoked_counter_signer_does_not_count() {
        let mut policy = two_of(&[key(1), key(2)]);
        let artifact = verified(metadata(None, 0), key(1), &[key(2)]);
        assert!(policy.check(&artifact, 0).is_ok());
        policy.revocations = Some(revoking(&[key(2)], false, false));
        let error = policy.check(&artifact, 0).unwrap_err();
        assert!(matches!(error, Error::TooFewSigners { .. }), "{error}");
    }

    #[test]
    fn an_expired_list_refuses_every_load_after_its_grace() {
        for mode in [PolicyMode::Enforce, PolicyMode::Audit] {
            let policy = Policy {
                revocations: Some(revoking(&[], false, false)),
                mode,
                ..Policy::default()
            };
            for (now, accepted) in [(1000, true), (1050, true), (1051, false)] {
                assert_eq!(
                    policy.check(&plain(None, 0), now).is_ok(),
                    accepted,
                    "at {now}"
                );
            }
            let error = policy.check(&plain(None, 0), 1051).unwrap_err();
            assert_eq!(error.policy_rule().as_deref(), Some("revocation.expires"));
        }
        let list = revoking(&[], false, false);
        assert_eq!(list.freshness(1000), crate::Freshness::Current);
        assert_eq!(list.freshness(1001), crate::Freshness::InGrace);
        assert_eq!(list.freshness(u64::MAX), crate::Freshness::Expired);
    }
}
