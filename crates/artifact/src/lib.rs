//! The lucet artifact format, version 3 (docs/artifact-format.md).
//!
//! ```text
//! artifact = engine_image ‖ block ‖ footer
//! footer   = "LUCETART" ‖ version: u16 LE ‖ kind: u16 LE ‖ block_len: u32 LE   (16 bytes)
//! block    = kind 0: one metadata line, LF-terminated (unauthenticated)
//!            kind 1: a 4-line minisign signature over engine_image whose trusted
//!                    comment is the metadata line, then 0..7 counter-signatures
//! ```
//!
//! This crate knows nothing of WebAssembly or of any command line: the engine
//! image is an opaque byte string that it hands back, untouched, only once the
//! caller's policy has been satisfied. Its reading functions embody the trust
//! rule of the whole toolchain: when keys are configured, the footer and the
//! signature block (found through the footer alone) are parsed first; the
//! metadata is parsed only once the global signature over it verified, and
//! its signed image length is checked against the file and a cap before a
//! byte of the image is read. The image is then hashed *while* it is read
//! into the very buffer that will be loaded, and its signature checked.
//!
//! Every byte of a signed artifact is pinned: the footer is checked field by
//! field, the block must be the canonical encoding of the signatures it
//! holds (fixed untrusted comment, canonical base64, LF line ends), the image
//! is covered by the signature and the metadata by the global signature.
//! Counter-signatures are signatures too: no byte in them is free either.
//! The verified readers verify those made by trusted keys and return them
//! for the caller's policy to count.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod countersign;
mod error;
mod footer;
mod metadata;
mod policy;
mod read;
mod revocation;
mod write;

pub use countersign::{
    COUNTERSIGNATURE_VERSION, Countersignature, MAX_ROLE_LEN, VerifiedCountersignature, check_role,
    countersign,
};
pub use error::Error;
pub use footer::{FOOTER_LEN, FORMAT_VERSION, Footer, Kind, MAGIC, MAX_BLOCK_LEN, MAX_SIGNATURES};
pub use metadata::{ArtifactKind, MAX_NAME_LEN, METADATA_VERSION, Metadata, check_name, hex};
pub use policy::{KeyWindow, Policy, PolicyMode, SignerRule, unix_now};
pub use read::{
    ArtifactSource, COUNTERSIGNATURE_PREFIX, DEFAULT_MAX_IMAGE_LEN, ImageBuffer, ReadLimits,
    UnverifiedArtifact, VerifiedArtifact, read_unverified, read_unverified_into, read_verified,
    read_verified_into,
};
pub use revocation::{Freshness, Revocations, Revoked};
pub use write::{SIGNATURE_UNTRUSTED_COMMENT, encode_signed, encode_unsigned};
