//! Revocations a policy carries: keys, images and sources that are refused
//! whatever else holds, from a signed revocation list (read and verified by
//! `lucet-policy`; docs/policy.md), with the list's expiry.
//!
//! Revocation is a kill switch, so [`Policy::check`](crate::Policy::check)
//! enforces it in audit mode too: audit mode is for rolling out rules, not
//! for running code someone has revoked.

use std::collections::HashSet;

use lucet_signature::{KeyId, Prehash};

use crate::{Error, VerifiedArtifact};

/// What a verified revocation list revokes, and until when it may be used.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Revocations {
    /// The list's serial number (for messages).
    pub serial: u64,
    /// Unix seconds after which the list is out of date.
    pub expires: u64,
    /// Seconds after `expires` during which the list is still used (the
    /// reader warns); after that every load is refused.
    pub grace: u64,
    /// Keys whose signatures never count: an artifact signed by one, or
    /// compiled from a source one signed, is refused; a counter-signature
    /// by one is ignored.
    pub keys: HashSet<KeyId>,
    /// Engine images (the metadata's `image-blake2b`) refused.
    pub images: HashSet<Prehash>,
    /// Sources (the metadata's `source-blake2b`: `b2sum` of the `.wasm`) refused.
    pub sources: HashSet<Prehash>,
}

/// What of an artifact a revocation list names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The key of its own signature.
    SigningKey,
    /// The key that signed its source (the metadata's `source-key`).
    SourceKey,
    /// Its engine image.
    Image,
    /// The source it was compiled from.
    Source,
}

impl Revoked {
    /// The list's field, as policy refusals name rules.
    pub fn rule(self) -> &'static str {
        match self {
            Revoked::SigningKey | Revoked::SourceKey => "revocation.keys",
            Revoked::Image => "revocation.images",
            Revoked::Source => "revocation.sources",
        }
    }
}

impl std::fmt::Display for Revoked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Revoked::SigningKey => "signing key",
            Revoked::SourceKey => "source's signing key",
            Revoked::Image => "image",
            Revoked::Source => "source",
        })
    }
}

/// When a list may be used at time `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Before its expiry.
    Current,
    /// Expired, within the grace period: used, with a warning.
    InGrace,
    /// Expired beyond the grace period: refused.
    Expired,
}

impl Revocations {
    /// Whether the list may be used at `now`.
    pub fn freshness(&self, now: u64) -> Freshness {
        if now <= self.expires {
            Freshness::Current
        } else if now <= self.expires.saturating_add(self.grace) {
            Freshness::InGrace
        } else {
            Freshness::Expired
        }
    }

    /// Whether `key` is revoked.
    pub fn revokes_key(&self, key: KeyId) -> bool {
        self.keys.contains(&key)
    }

    /// The first reason `verified` is refused at `now`: the list is out of
    /// date, or it names the artifact's signer, its source's signer, its
    /// image or its source.
    pub(crate) fn check<I>(&self, verified: &VerifiedArtifact<I>, now: u64) -> Option<Error> {
        if self.freshness(now) == Freshness::Expired {
            return Some(Error::RevocationListExpired {
                serial: self.serial,
                expires: self.expires,
                grace: self.grace,
                now,
            });
        }
        let metadata = verified.metadata();
        let revoked = |what, value: String| {
            Some(Error::Revoked {
                what,
                value,
                serial: self.serial,
            })
        };
        if self.revokes_key(verified.signer()) {
            return revoked(Revoked::SigningKey, verified.signer().to_string());
        }
        if let Some(source_key) = metadata.source_key.filter(|key| self.revokes_key(*key)) {
            return revoked(Revoked::SourceKey, source_key.to_string());
        }
        if self.images.contains(&metadata.image_blake2b) {
            return revoked(
                Revoked::Image,
                crate::hex(metadata.image_blake2b.as_bytes()),
            );
        }
        if self.sources.contains(&metadata.source_blake2b) {
            return revoked(
                Revoked::Source,
                crate::hex(metadata.source_blake2b.as_bytes()),
            );
        }
        None
    }
}
