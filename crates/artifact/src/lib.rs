//! The lucet artifact format, version 1.
//!
//! ```text
//! artifact = engine_image ‖ block ‖ footer
//! footer   = "LUCETART" ‖ version: u16 LE ‖ kind: u16 LE ‖ block_len: u32 LE   (16 bytes)
//! block    = kind 0: one metadata line, LF-terminated (unauthenticated)
//!            kind 1: a 4-line minisign signature over engine_image; its trusted
//!                    comment is the metadata line
//! ```
//!
//! This crate knows nothing of WebAssembly or of any command line: the engine
//! image is an opaque byte string that it hands back, untouched, only once the
//! caller's policy has been satisfied. Its reading functions embody the trust
//! rule of the whole toolchain: when keys are configured, the footer and the
//! signature block (found through the footer alone) are the only parts parsed
//! before the image is hashed — *while* it is read into the very buffer that
//! will be loaded — and verified. The metadata is parsed only after that.
//!
//! Every byte of a signed artifact is pinned: the footer is checked field by
//! field, the block must be the canonical encoding of the signature it holds
//! (fixed untrusted comment, canonical base64, LF line ends), the image is
//! covered by the signature and the metadata by the global signature.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod footer;
mod metadata;
mod policy;
mod read;
mod write;

pub use error::Error;
pub use footer::{FOOTER_LEN, FORMAT_VERSION, Footer, Kind, MAGIC, MAX_BLOCK_LEN};
pub use metadata::{Metadata, hex};
pub use policy::Policy;
pub use read::{
    ArtifactSource, ImageBuffer, UnverifiedArtifact, VerifiedArtifact, read_unverified,
    read_unverified_into, read_verified, read_verified_into,
};
pub use write::{SIGNATURE_UNTRUSTED_COMMENT, encode_signed, encode_unsigned};
