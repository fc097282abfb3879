//! Minisign keys and signatures, done strictly.
//!
//! This crate reads and writes the formats of [minisign] (C) and rsign2 —
//! public keys, secret keys (password-protected or not) and `.minisig`
//! signatures — byte-exactly, and interoperates with both tools in either
//! direction. It knows nothing of WebAssembly: callers decide what is
//! signed and what the trusted comment says.
//!
//! # Why not the `minisign` crate
//!
//! It is built directly on the primitives (`ed25519-dalek`, `blake2b_simd`,
//! `scrypt`) on purpose. The `minisign` crate panics on a truncated global
//! signature, trims trusted comments (which are signed verbatim, so trimming
//! changes what is verified), and cannot open keys made with
//! `minisign -G -W`. Here every malformed input is a typed [`Error`], never
//! a panic, and a file has exactly one meaning:
//!
//! * lines end in LF or CRLF, a stray CR or trailing data is an error;
//! * base64 is the standard alphabet, padded and canonical;
//! * comments are UTF-8 without control characters other than TAB, within
//!   the sizes minisign reads, and kept byte for byte;
//! * inputs are size-capped before anything is allocated for them;
//! * scrypt parameters read from a key file are capped before scrypt runs.
//!
//! # Signing and verifying
//!
//! [`verify_reader`] streams data of any size through a signature check;
//! [`verify_file`] reads a file into memory for a caller that uses its bytes,
//! checking as much as it can (the signer, the trusted comment) before
//! opening it.
//!
//! ```
//! use lucet_signature::{Legacy, Prehasher, PublicKeySet, SecretKey, SignatureBox};
//!
//! # fn main() -> Result<(), lucet_signature::Error> {
//! let key = SecretKey::generate()?;
//! let mut hasher = Prehasher::new();
//! hasher.update(b"some data");
//! let sig = key.sign_prehashed(&hasher.finalize(), "file:data.bin", "signed by us")?;
//! let text = sig.to_text(); // the .minisig file
//!
//! let trusted = PublicKeySet::new(vec![key.public_key()])?;
//! let sig = SignatureBox::parse(text.as_bytes())?;
//! let signer = lucet_signature::verify_reader(&trusted, &sig, Legacy::Refuse, &b"some data"[..])?;
//! assert_eq!(signer.key_id(), key.key_id());
//! # Ok(())
//! # }
//! ```
//!
//! [minisign]: https://jedisct1.github.io/minisign/

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod base64;
pub mod constants;
mod error;
pub mod file;
#[cfg(test)]
mod fixtures;
mod identify;
mod key_id;
mod keyfile;
mod prehash;
mod public_key;
mod secret_key;
mod signature;
mod signed_file;
mod text;
mod verify;

pub use crate::constants::MAX_KEY_FILE_LEN;
pub use crate::error::{Base64Problem, CommentKind, Error, KdfResource, ObjectKind, Result};
pub use crate::identify::{identify, misidentified};
pub use crate::key_id::KeyId;
pub use crate::keyfile::{
    KeyFileMode, StagedKeyFile, read_capped, read_capped_hashed, read_public_keys,
    read_secret_key_file, stage_key_file, write_key_file,
};
pub use crate::prehash::{
    Blake2bImplementation, CHOOSE_IMPLEMENTATION_FROM, Prehash, Prehasher, read_hashed,
};
pub use crate::public_key::PublicKey;
pub use crate::secret_key::{EncryptedSecretKey, KdfCost, KdfParams, SecretKey, SecretKeyFile};
pub use crate::signature::{Algorithm, SignatureBox};
pub use crate::signed_file::{VerifiedFile, VerifyFileError, read_signature, verify_file};
pub use crate::text::escape_for_display;
pub use crate::verify::{CommentVerified, Legacy, PublicKeySet, verify_reader};
