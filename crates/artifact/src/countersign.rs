//! Counter-signatures: further Minisign signatures over an artifact's image,
//! after the artifact signature in its block, each with a trusted comment of
//! its own that says in which role and when its key signed. Adding one never
//! changes the image or the artifact signature, so every earlier signature
//! stays valid and stock `minisign -V` checks each one.
//!
//! A counter-signature's trusted comment is one line:
//!
//! ```text
//! lucet-countersignature=1 role=<role> timestamp=<unix seconds>
//! ```
//!
//! Readers verify the counter-signatures whose keys they trust and hand them
//! to the caller's policy (k of n signers, roles); they never decide alone.

use lucet_signature::{KeyId, Prehash, PublicKeySet, SecretKey, SignatureBox};

use crate::Error;
use crate::footer::{FOOTER_LEN, Footer, Kind, MAX_SIGNATURES};
use crate::read::COUNTERSIGNATURE_PREFIX;
use crate::write::SIGNATURE_UNTRUSTED_COMMENT;

/// The version of the counter-signature line this release writes and reads.
pub const COUNTERSIGNATURE_VERSION: u32 = 1;

/// Longest role name.
pub const MAX_ROLE_LEN: usize = 32;

/// What a counter-signature's trusted comment says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Countersignature {
    /// The role the signer signed in (`release`, `security`, ...).
    pub role: String,
    /// When it signed, in Unix seconds (as the signer's clock said).
    pub timestamp: u64,
}

/// Checks a role name: 1 to [`MAX_ROLE_LEN`] of `a-z`, `0-9` and `-`,
/// starting with a letter.
pub fn check_role(role: &str) -> Result<(), Error> {
    let valid = !role.is_empty()
        && role.len() <= MAX_ROLE_LEN
        && role.starts_with(|c: char| c.is_ascii_lowercase())
        && role
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::BadCountersignature(format!(
            "role {:?} is not 1 to {MAX_ROLE_LEN} of a-z, 0-9 and -, starting with a letter",
            lucet_signature::escape_for_display(role)
        )))
    }
}

impl Countersignature {
    /// The trusted comment line.
    pub fn to_line(&self) -> Result<String, Error> {
        check_role(&self.role)?;
        Ok(format!(
            "{COUNTERSIGNATURE_PREFIX}{COUNTERSIGNATURE_VERSION} role={} timestamp={}",
            self.role, self.timestamp
        ))
    }

    /// Parses a trusted comment line; only the spelling [`to_line`]
    /// writes is accepted. `Ok(None)` for a newer version's line, which
    /// this release cannot read (and so does not count).
    ///
    /// [`to_line`]: Countersignature::to_line
    pub fn parse(line: &str) -> Result<Option<Countersignature>, Error> {
        let bad = || Error::BadCountersignature("its trusted comment is malformed".into());
        let rest = line.strip_prefix(COUNTERSIGNATURE_PREFIX).ok_or_else(bad)?;
        let (version, fields) = rest.split_once(' ').unwrap_or((rest, ""));
        let version: u32 = canonical_number(version).ok_or_else(bad)?;
        if version > COUNTERSIGNATURE_VERSION {
            return Ok(None);
        }
        if version != COUNTERSIGNATURE_VERSION {
            return Err(bad());
        }
        let mut parts = fields.split(' ');
        let role = parts
            .next()
            .and_then(|p| p.strip_prefix("role="))
            .ok_or_else(bad)?;
        let timestamp = parts
            .next()
            .and_then(|p| p.strip_prefix("timestamp="))
            .and_then(canonical_number)
            .ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        check_role(role)?;
        Ok(Some(Countersignature {
            role: role.to_string(),
            timestamp,
        }))
    }
}

/// A decimal number without sign or leading zeros.
fn canonical_number<T: std::str::FromStr + ToString>(text: &str) -> Option<T> {
    let value: T = text.parse().ok()?;
    (value.to_string() == text).then_some(value)
}

/// A counter-signature that verified against a trusted key. Only the
/// verified readers make one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCountersignature {
    signer: KeyId,
    line: Countersignature,
    position: usize,
}

impl VerifiedCountersignature {
    /// The trusted key that made it.
    pub fn signer(&self) -> KeyId {
        self.signer
    }
    /// Its role and timestamp, authenticated.
    pub fn countersignature(&self) -> &Countersignature {
        &self.line
    }
    /// Which counter-signature of the block it is, from 0.
    pub fn position(&self) -> usize {
        self.position
    }
}

#[cfg(test)]
impl VerifiedCountersignature {
    /// A "verified" counter-signature for the policy's unit tests.
    pub(crate) fn for_test(signer: KeyId, role: &str, position: usize) -> Self {
        VerifiedCountersignature {
            signer,
            line: Countersignature {
                role: role.into(),
                timestamp: 0,
            },
            position,
        }
    }
}

/// Verifies each of `signatures` made by a key in `keys` over the image
/// whose prehash is `prehash` (already checked against the artifact
/// signature). A counter-signature by a key not in `keys` is skipped: it
/// is not trusted, and never counted. One by a trusted key that does not
/// verify is refused: the block was altered. One of a newer line version
/// is skipped too (this release cannot tell what it says).
pub(crate) fn verify_countersignatures(
    signatures: &[SignatureBox],
    keys: &PublicKeySet,
    prehash: &Prehash,
) -> Result<Vec<VerifiedCountersignature>, Error> {
    let mut verified = Vec::new();
    for (position, signature) in signatures.iter().enumerate() {
        let Some(key) = keys.iter().find(|key| key.key_id() == signature.key_id()) else {
            continue;
        };
        let refused = |source| Error::CountersignatureRefused {
            signer: signature.key_id(),
            source,
        };
        let comment = key.verify_comment(signature).map_err(refused)?;
        comment.verify_prehashed(prehash).map_err(refused)?;
        if let Some(line) = Countersignature::parse(signature.trusted_comment())? {
            verified.push(VerifiedCountersignature {
                signer: key.key_id(),
                line,
                position,
            });
        }
    }
    Ok(verified)
}

/// `artifact` (a signed artifact, whole, whose reading as `verified` the
/// caller has just made from these very bytes) with one more
/// counter-signature by `key`, over the image hash the verification
/// checked (the image is not hashed again). The image and every signature
/// already there are kept byte for byte. Refused when `key` already signed
/// it or the block is full.
pub fn countersign<I>(
    artifact: &[u8],
    verified: &crate::VerifiedArtifact<I>,
    key: &SecretKey,
    line: &Countersignature,
) -> Result<Vec<u8>, Error> {
    let file_len = artifact.len() as u64;
    let footer_at = artifact
        .len()
        .checked_sub(FOOTER_LEN)
        .ok_or(Error::TooShort {
            len: file_len,
            min: FOOTER_LEN as u64,
        })?;
    let footer_bytes: &[u8; FOOTER_LEN] = artifact[footer_at..]
        .try_into()
        .map_err(|_| Error::BadMagic)?;
    let footer = Footer::decode(footer_bytes, file_len)?;
    if footer.kind != Kind::Signed {
        return Err(Error::NotSigned);
    }
    let image_len = footer.image_len(file_len);
    if image_len != verified.metadata().image_len {
        return Err(Error::ImageLengthMismatch {
            signed: verified.metadata().image_len,
            found: image_len,
        });
    }
    let image_len = image_len as usize;
    let (image, rest) = artifact.split_at(image_len);
    let block = &rest[..footer.block_len as usize];
    let signatures = crate::read::split_signatures(block)?;
    if signatures.len() >= MAX_SIGNATURES {
        return Err(Error::CannotCountersign(format!(
            "the artifact already holds {MAX_SIGNATURES} signatures, the most a block can"
        )));
    }
    if signatures.iter().any(|s| s.key_id() == key.key_id()) {
        return Err(Error::CannotCountersign(format!(
            "key {} has already signed this artifact",
            key.key_id()
        )));
    }
    let prehash = &verified.metadata().image_blake2b;
    let signature = key
        .sign_prehashed(prehash, &line.to_line()?, SIGNATURE_UNTRUSTED_COMMENT)
        .map_err(Error::Signing)?;
    let mut new_block = block.to_vec();
    new_block.extend_from_slice(signature.to_text().as_bytes());
    Ok(crate::write::assemble(image, Kind::Signed, &new_block))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_only_the_canonical_spelling_parses() {
        let line = Countersignature {
            role: "release".into(),
            timestamp: 1767225600,
        };
        let text = line.to_line().unwrap();
        assert_eq!(
            text,
            "lucet-countersignature=1 role=release timestamp=1767225600"
        );
        assert_eq!(Countersignature::parse(&text).unwrap(), Some(line));
        for bad in [
            "lucet-countersignature=1 role=release",
            "lucet-countersignature=1 role=release timestamp=01",
            "lucet-countersignature=1 role=Release timestamp=1",
            "lucet-countersignature=1 role=release timestamp=1 extra=2",
            "lucet-countersignature=1  role=release timestamp=1",
            "lucet-countersignature=01 role=release timestamp=1",
            "lucet-countersignature=0 role=release timestamp=1",
            "lucet-countersignature=1 timestamp=1 role=release",
        ] {
            assert!(Countersignature::parse(bad).is_err(), "{bad}");
        }
        // A newer line is not an error: it is not counted.
        let newer = "lucet-countersignature=2 anything at all";
        assert_eq!(Countersignature::parse(newer).unwrap(), None);
    }

    #[test]
    fn roles_are_short_lowercase_names() {
        for good in ["release", "ci", "security-2"] {
            check_role(good).unwrap();
        }
        for bad in ["", "Release", "2fa", "a b", "a=b", &"x".repeat(33)] {
            assert!(check_role(bad).is_err(), "{bad:?}");
        }
    }
}
