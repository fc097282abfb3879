//! Sizes, magic bytes and limits of the Minisign formats.
//!
//! Every number here is part of the on-disk format shared with minisign (C)
//! and rsign2, or a limit chosen so that what we write stays readable by
//! them; the comments say which.

/// Signature algorithm of keys, and of legacy signatures over the data itself.
pub const SIG_ALG_ED25519: [u8; 2] = *b"Ed";
/// Signature algorithm of prehashed signatures (Ed25519 over BLAKE2b-512 of
/// the data). Minisign writes these by default.
pub const SIG_ALG_PREHASHED: [u8; 2] = *b"ED";
/// Key derivation algorithm of a password-protected secret key (scrypt).
pub const KDF_ALG_SCRYPT: [u8; 2] = *b"Sc";
/// Key derivation algorithm of an unencrypted secret key (`minisign -W`).
pub const KDF_ALG_NONE: [u8; 2] = [0, 0];
/// Checksum algorithm of secret keys (BLAKE2b-256).
pub const CHK_ALG_BLAKE2B: [u8; 2] = *b"B2";

/// Length of a key id.
pub const KEY_ID_LEN: usize = 8;
/// Length of an Ed25519 public key.
pub const ED25519_PUBLIC_KEY_LEN: usize = 32;
/// Length of an Ed25519 seed (the secret half of a key pair).
pub const ED25519_SEED_LEN: usize = 32;
/// Length of an Ed25519 secret key as libsodium stores it: seed ‖ public key.
pub const ED25519_SECRET_KEY_LEN: usize = ED25519_SEED_LEN + ED25519_PUBLIC_KEY_LEN;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;
/// Length of the secret key checksum (BLAKE2b with a 32-byte output).
pub const CHECKSUM_LEN: usize = 32;
/// Length of the scrypt salt of a secret key.
pub const KDF_SALT_LEN: usize = 32;
/// Length of the prehash (BLAKE2b-512) signed by prehashed signatures.
pub const PREHASH_LEN: usize = 64;

/// Decoded length of a public key: algorithm ‖ key id ‖ Ed25519 public key.
pub const PUBLIC_KEY_BYTES: usize = 2 + KEY_ID_LEN + ED25519_PUBLIC_KEY_LEN;
/// Length of the part of a secret key that the password encrypts:
/// key id ‖ Ed25519 secret key ‖ checksum.
pub const KEYNUM_SK_LEN: usize = KEY_ID_LEN + ED25519_SECRET_KEY_LEN + CHECKSUM_LEN;
/// Decoded length of a secret key: algorithms ‖ salt ‖ opslimit ‖ memlimit ‖
/// encrypted part. Also the exact size of a Lucet legacy raw key file.
pub const SECRET_KEY_BYTES: usize = 2 + 2 + 2 + KDF_SALT_LEN + 8 + 8 + KEYNUM_SK_LEN;
/// Decoded length of a signature line: algorithm ‖ key id ‖ signature.
pub const SIGNATURE_BYTES: usize = 2 + KEY_ID_LEN + ED25519_SIGNATURE_LEN;

/// Prefix of the first line of every Minisign text object.
pub const UNTRUSTED_COMMENT_PREFIX: &str = "untrusted comment: ";
/// Prefix of the third line of a signature.
pub const TRUSTED_COMMENT_PREFIX: &str = "trusted comment: ";

/// Longest untrusted comment line (prefix included, line terminator
/// excluded) that we accept when reading.
pub const MAX_UNTRUSTED_COMMENT_LINE_LEN: usize = 1024;
/// Longest untrusted comment text we accept when reading.
pub const MAX_UNTRUSTED_COMMENT_LEN: usize =
    MAX_UNTRUSTED_COMMENT_LINE_LEN - UNTRUSTED_COMMENT_PREFIX.len();
/// Longest untrusted comment text we write. minisign reads the line with
/// `fgets` into a 1024-byte buffer, so the line, its newline and the NUL
/// must fit: 1024 - 19 (prefix) - 2 = 1003.
pub const MAX_UNTRUSTED_COMMENT_WRITE_LEN: usize = 1024 - UNTRUSTED_COMMENT_PREFIX.len() - 2;
/// Longest trusted comment we accept when reading: minisign reads the line
/// into an 8192-byte buffer with `fgets`, leaving 8192 - 17 (prefix) - 2
/// (newline and NUL) = 8173 bytes of comment.
pub const MAX_TRUSTED_COMMENT_LEN: usize = 8192 - TRUSTED_COMMENT_PREFIX.len() - 2;
/// Longest trusted comment we sign. minisign (C, 0.11) formats the line
/// through a 4096-byte buffer and fails beyond 4096 - 17 (prefix) - 2
/// (newline and NUL) = 4077 bytes, so that is the most it ever writes; we
/// refuse to create signatures it could not have created.
pub const MAX_TRUSTED_COMMENT_WRITE_LEN: usize = 4096 - TRUSTED_COMMENT_PREFIX.len() - 2;

/// Length of the base64 encoding (with padding) of `n` bytes.
pub(crate) const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

/// Longest line terminator we accept (CRLF).
const EOL: usize = 2;

/// Largest text public key we read: a comment line and a base64 line.
pub const MAX_PUBLIC_KEY_TEXT_LEN: usize =
    MAX_UNTRUSTED_COMMENT_LINE_LEN + EOL + base64_len(PUBLIC_KEY_BYTES) + EOL;
/// Largest text secret key we read: a comment line and a base64 line.
pub const MAX_SECRET_KEY_TEXT_LEN: usize =
    MAX_UNTRUSTED_COMMENT_LINE_LEN + EOL + base64_len(SECRET_KEY_BYTES) + EOL;
/// Largest signature we read: the four longest lines we accept, each with
/// a CRLF terminator.
pub const MAX_SIGNATURE_TEXT_LEN: usize = MAX_UNTRUSTED_COMMENT_LINE_LEN
    + EOL
    + base64_len(SIGNATURE_BYTES)
    + EOL
    + TRUSTED_COMMENT_PREFIX.len()
    + MAX_TRUSTED_COMMENT_LEN
    + EOL
    + base64_len(ED25519_SIGNATURE_LEN)
    + EOL;

/// Size cap for reading key files (public or secret) from disk. Both kinds
/// are far smaller; the cap only stops a wrong path (a log, a device) from
/// being read whole.
pub const MAX_KEY_FILE_LEN: u64 = 4096;

/// Block size of the scrypt parameters Minisign uses (libsodium fixes r = 8).
pub(crate) const SCRYPT_R: u32 = 8;
