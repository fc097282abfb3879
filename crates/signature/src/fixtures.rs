//! The known-answer files of `tests/data` (its README says how minisign made
//! each), and the helpers every module's tests open them with.

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use crate::public_key::PublicKey;
use crate::secret_key::{EncryptedSecretKey, SecretKey, SecretKeyFile};
use crate::signature::SignatureBox;
use crate::verify::PublicKeySet;

/// `data.txt`, the signed data.
pub(crate) const DATA: &[u8] = include_bytes!("../tests/data/data.txt");
/// minisign's prehashed signature of `data.txt`.
pub(crate) const SIG: &[u8] = include_bytes!("../tests/data/data.txt.minisig");
/// minisign's legacy signature of `data.txt`.
pub(crate) const LEGACY_SIG: &[u8] = include_bytes!("../tests/data/data.txt.legacy.minisig");
/// minisign's signature of an empty file.
pub(crate) const EMPTY_SIG: &[u8] = include_bytes!("../tests/data/empty.txt.minisig");
/// `data.txt` signed with the password-protected key.
pub(crate) const ENCRYPTED_KEY_SIG: &[u8] =
    include_bytes!("../tests/data/data.txt.encrypted-key.minisig");
/// A key pair minisign made: the secret key file and its public key.
pub(crate) struct KeyPair {
    pub(crate) secret: &'static [u8],
    pub(crate) public: &'static [u8],
}

/// Made with `minisign -G -W` (key id `B5EC656A06C6B557`); it made [`SIG`],
/// [`LEGACY_SIG`] and [`EMPTY_SIG`].
pub(crate) const UNENCRYPTED: KeyPair = KeyPair {
    secret: include_bytes!("../tests/data/minisign-unencrypted.key"),
    public: include_bytes!("../tests/data/minisign-unencrypted.pub"),
};
/// Password-protected (key id `312BA79C416C8E26`); it made
/// [`ENCRYPTED_KEY_SIG`].
pub(crate) const ENCRYPTED: KeyPair = KeyPair {
    secret: include_bytes!("../tests/data/minisign-encrypted.key"),
    public: include_bytes!("../tests/data/minisign-encrypted.pub"),
};
/// [`ENCRYPTED`]'s secret key after `minisign -C -W` removed its password.
pub(crate) const PASSWORD_REMOVED_KEY: &[u8] =
    include_bytes!("../tests/data/minisign-password-removed.key");

/// Creates a named pipe at `path`: a file whose open would block, were it
/// not opened non-blocking, until a writer came.
#[cfg(unix)]
pub(crate) fn make_fifo(path: &std::path::Path) {
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::RUSR | rustix::fs::Mode::WUSR,
        0,
    )
    .unwrap();
}

/// The public key in `text`.
pub(crate) fn public(text: &[u8]) -> PublicKey {
    PublicKey::from_text(text).unwrap()
}

/// The trusted set of the public keys in `texts`.
pub(crate) fn key_set(texts: &[&[u8]]) -> PublicKeySet {
    PublicKeySet::new(texts.iter().map(|text| public(text)).collect()).unwrap()
}

/// The signature in `text`.
pub(crate) fn signature(text: &[u8]) -> SignatureBox {
    SignatureBox::parse(text).unwrap()
}

/// The secret key file `text`, which must not be password-protected.
pub(crate) fn unencrypted(text: &[u8]) -> SecretKey {
    match SecretKeyFile::parse(text).unwrap() {
        SecretKeyFile::Unencrypted(key) => key,
        SecretKeyFile::Encrypted(_) => panic!("expected an unencrypted key"),
    }
}

/// The secret key file `text`, which must be password-protected.
pub(crate) fn encrypted(text: &[u8]) -> EncryptedSecretKey {
    match SecretKeyFile::parse(text).unwrap() {
        SecretKeyFile::Encrypted(key) => key,
        SecretKeyFile::Unencrypted(_) => panic!("expected an encrypted key"),
    }
}
