//! Secret keys: the 158-byte structure minisign stores base64-encoded under
//! an untrusted comment, optionally encrypted with a scrypt-derived stream.
//!
//! ```text
//! sig_alg "Ed" | kdf_alg "Sc" or \0\0 | chk_alg "B2" | kdf_salt[32]
//! | opslimit u64 LE | memlimit u64 LE
//! | keynum_sk = key_id[8] | seed[32] | public key[32] | checksum[32]
//! ```
//!
//! With `Sc`, `keynum_sk` is XORed with scrypt(password, salt) of the same
//! length, and the checksum (BLAKE2b-256 of sig_alg ‖ key_id ‖ seed ‖
//! public key) is how a wrong password is detected.

use std::fmt;
use std::io;

use ed25519_dalek::SigningKey;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::base64;
use crate::constants::{
    CHECKSUM_LEN, CHK_ALG_BLAKE2B, ED25519_PUBLIC_KEY_LEN, ED25519_SEED_LEN, KDF_ALG_NONE,
    KDF_ALG_SCRYPT, KDF_SALT_LEN, KEY_ID_LEN, KEYNUM_SK_LEN, MAX_SECRET_KEY_TEXT_LEN, SCRYPT_R,
    SECRET_KEY_BYTES, SIG_ALG_ED25519, UNTRUSTED_COMMENT_PREFIX,
};
use crate::error::{Error, KdfResource, ObjectKind, Result};
use crate::key_id::KeyId;
use crate::public_key::PublicKey;
use crate::text::{refuse_oversized, split_key_box};

const KIND: ObjectKind = ObjectKind::SecretKey;

/// The magic of a Lucet legacy raw key: the first three algorithm fields of
/// a password-protected minisign key, although its contents are cleartext.
const LUCET_RAW_MAGIC: &[u8; 6] = b"EdScB2";

/// Fills `buf` from the operating system's random number generator.
pub(crate) fn fill_random(buf: &mut [u8]) -> Result<()> {
    getrandom::fill(buf).map_err(|e| Error::Random {
        // getrandom's error type only implements std::error::Error with its
        // "std" feature; an io::Error carries the same information.
        source: match e.raw_os_error() {
            Some(code) => io::Error::from_raw_os_error(code),
            None => io::Error::other(e.to_string()),
        },
    })
}

/// The scrypt limits stored in a secret key, in libsodium's
/// `crypto_pwhash_scryptsalsa208sha256` terms. The actual scrypt parameters
/// are derived from them by [`KdfParams::from_cost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KdfCost {
    /// Bound on the amount of computation.
    pub opslimit: u64,
    /// Bound on the memory used, in bytes.
    pub memlimit: u64,
}

impl KdfCost {
    /// What minisign (C) uses for new keys, and our default:
    /// libsodium's "sensitive" limits, giving N = 2^20, r = 8, p = 1 (1 GiB,
    /// a few seconds). The same protection as the reference tool is the
    /// point: a stolen key file is as hard to brute-force as one minisign
    /// made. The cost is paid once per signing run, not per file, and
    /// automation that cannot type a password uses unencrypted keys anyway.
    pub const MINISIGN: KdfCost = KdfCost {
        opslimit: 1 << 25,
        memlimit: 1 << 30,
    };

    /// For tests only: N = 2^6, r = 8, p = 16, 64 KiB and well under a
    /// millisecond. It protects nothing; never use it for a real key.
    pub const TESTING: KdfCost = KdfCost {
        opslimit: 1 << 15,
        memlimit: 1 << 16,
    };

    /// The scrypt parameters these limits give; see [`KdfParams::from_cost`].
    pub fn params(&self) -> Result<KdfParams> {
        KdfParams::from_cost(*self)
    }
}

/// scrypt parameters (N = 2^log_n, r, p) derived from a [`KdfCost`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KdfParams {
    log_n: u8,
    r: u32,
    p: u32,
}

impl KdfParams {
    /// Largest log2(N) we run: 2^20 · 128 · 8 bytes = 1 GiB, what minisign
    /// itself uses. Anything larger in a key file is refused before scrypt
    /// runs, so a crafted key cannot make us allocate without bound.
    pub const MAX_LOG_N: u8 = 20;
    /// Largest memory (128 · r · N bytes) we let scrypt use.
    pub const MAX_MEMORY: u64 = 128 * SCRYPT_R as u64 * (1 << Self::MAX_LOG_N);
    /// Largest work (p · N) we run: twice minisign's default, so a crafted
    /// key cannot make us compute for minutes either.
    pub const MAX_WORK: u64 = 1 << 21;

    /// Derives scrypt parameters from libsodium limits exactly as libsodium's
    /// `pickparams` does (so keys interoperate), then applies our caps.
    ///
    /// Errors: [`Error::ExcessiveKdfCost`] if memory or work exceeds
    /// [`MAX_MEMORY`](Self::MAX_MEMORY) or [`MAX_WORK`](Self::MAX_WORK);
    /// [`Error::UnusableKdfParams`] if they give p = 0, which is not scrypt.
    pub fn from_cost(cost: KdfCost) -> Result<KdfParams> {
        let (log_n, p) = pick_params(cost.opslimit, cost.memlimit);
        let n = 1u64 << log_n;
        if log_n > Self::MAX_LOG_N {
            return Err(Error::ExcessiveKdfCost {
                resource: KdfResource::Memory,
                required: n.saturating_mul(128 * u64::from(SCRYPT_R)),
                limit: Self::MAX_MEMORY,
            });
        }
        // libsodium's choice of p never seems to reach 0 (a sweep of limits
        // found none), but libsodium would not refuse it and p = 0 is no
        // scrypt at all: check rather than rely on it.
        if p == 0 {
            return Err(Error::UnusableKdfParams {
                log_n,
                r: SCRYPT_R,
                p,
            });
        }
        let work = n.saturating_mul(u64::from(p));
        if work > Self::MAX_WORK {
            return Err(Error::ExcessiveKdfCost {
                resource: KdfResource::Work,
                required: work,
                limit: Self::MAX_WORK,
            });
        }
        Ok(KdfParams {
            log_n,
            r: SCRYPT_R,
            p,
        })
    }

    /// log2 of the scrypt parameter N.
    pub fn log_n(&self) -> u8 {
        self.log_n
    }

    /// The scrypt parameter r (always 8 with libsodium's limits).
    pub fn r(&self) -> u32 {
        self.r
    }

    /// The scrypt parameter p.
    pub fn p(&self) -> u32 {
        self.p
    }

    /// Memory scrypt needs with these parameters, in bytes (128 · r · N).
    pub fn memory_bytes(&self) -> u64 {
        128 * u64::from(self.r) * (1u64 << self.log_n)
    }

    /// Work scrypt does with these parameters, in iterations (p · N).
    pub fn work(&self) -> u64 {
        u64::from(self.p) * (1u64 << self.log_n)
    }

    /// The key stream that encrypts `keynum_sk`.
    fn key_stream(
        &self,
        password: &[u8],
        salt: &[u8; KDF_SALT_LEN],
    ) -> Result<Zeroizing<[u8; KEYNUM_SK_LEN]>> {
        // Cannot fail within our caps; mapped rather than unwrapped anyway.
        let unusable = || Error::UnusableKdfParams {
            log_n: self.log_n,
            r: self.r,
            p: self.p,
        };
        // The length given to Params only matters to the PHC-string API; the
        // output length is that of the buffer.
        let params = scrypt::Params::new(self.log_n, self.r, self.p, 64).map_err(|_| unusable())?;
        let mut stream = Zeroizing::new([0u8; KEYNUM_SK_LEN]);
        scrypt::scrypt(password, salt, &params, &mut stream[..]).map_err(|_| unusable())?;
        Ok(stream)
    }
}

/// libsodium's `pickparams` (crypto_pwhash/scryptsalsa208sha256/pwhash_scryptsalsa208sha256.c):
/// returns (log2 N, p); r is always 8.
fn pick_params(opslimit: u64, memlimit: u64) -> (u8, u32) {
    let opslimit = opslimit.max(32768);
    let r = u64::from(SCRYPT_R);
    if opslimit < memlimit / 32 {
        let max_n = opslimit / (r * 4);
        (smallest_log_n(max_n), 1)
    } else {
        let max_n = memlimit / (r * 128);
        let log_n = smallest_log_n(max_n);
        let max_rp = ((opslimit / 4) >> log_n).min(0x3fff_ffff);
        // max_rp <= 0x3fffffff, so the quotient fits in u32.
        let p = u32::try_from(max_rp / r).unwrap_or(u32::MAX);
        (log_n, p)
    }
}

/// The smallest n in 1..63 with 2^n > max_n / 2, or 63.
fn smallest_log_n(max_n: u64) -> u8 {
    let mut log_n = 1u8;
    while log_n < 63 {
        if (1u64 << log_n) > max_n / 2 {
            break;
        }
        log_n += 1;
    }
    log_n
}

/// BLAKE2b-256 of sig_alg ‖ key id ‖ seed ‖ public key, as minisign
/// computes it.
fn checksum(
    key_id: &[u8; KEY_ID_LEN],
    seed: &[u8; ED25519_SEED_LEN],
    public: &[u8; ED25519_PUBLIC_KEY_LEN],
) -> [u8; CHECKSUM_LEN] {
    let hash = blake2b_simd::Params::new()
        .hash_length(CHECKSUM_LEN)
        .to_state()
        .update(&SIG_ALG_ED25519)
        .update(key_id)
        .update(seed)
        .update(public)
        .finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(hash.as_bytes());
    out
}

/// Comparison whose time does not depend on where the inputs differ.
fn constant_time_eq(a: &[u8; CHECKSUM_LEN], b: &[u8; CHECKSUM_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What a checksum of all zeros means when opening a `keynum_sk`.
#[derive(Clone, Copy)]
enum ChecksumRule {
    /// Decrypted with a password: the checksum must match, and a mismatch
    /// means the password was wrong.
    MustMatch,
    /// Stored in cleartext: minisign (`-G -W`) and Lucet's raw keys write
    /// all zeros there; any other value must match.
    ZeroOrMatch,
}

/// Cursor over a fixed-size byte array, handing out fixed-size pieces
/// without panicking indexing.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self) -> Result<&'a [u8; N]> {
        let (field, rest) = self.0.split_first_chunk::<N>().ok_or(Error::WrongLength {
            kind: KIND,
            line: 2,
            expected: SECRET_KEY_BYTES,
            actual: 0,
        })?;
        self.0 = rest;
        Ok(field)
    }
}

/// An Ed25519 signing key with its Minisign key id.
///
/// The seed is zeroized when the value is dropped. `Debug` shows the key
/// id and public key only.
pub struct SecretKey {
    key_id: KeyId,
    signing: SigningKey,
}

// The only secret field, `signing`, zeroizes itself on drop
// (ed25519-dalek's `zeroize` feature); the key id is public.
impl ZeroizeOnDrop for SecretKey {}

impl SecretKey {
    /// A new key pair: a random seed and a random key id, like `minisign -G`.
    pub fn generate() -> Result<SecretKey> {
        let mut seed = Zeroizing::new([0u8; ED25519_SEED_LEN]);
        fill_random(&mut seed[..])?;
        let mut key_id = [0u8; KEY_ID_LEN];
        fill_random(&mut key_id)?;
        Ok(SecretKey::from_seed(KeyId::from_bytes(key_id), &seed))
    }

    /// The key pair with this id and Ed25519 seed.
    pub fn from_seed(key_id: KeyId, seed: &[u8; ED25519_SEED_LEN]) -> SecretKey {
        SecretKey {
            key_id,
            signing: SigningKey::from_bytes(seed),
        }
    }

    /// The key id.
    pub fn key_id(&self) -> KeyId {
        self.key_id
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey::from_signing_key(self.key_id, &self.signing)
    }

    pub(crate) fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// `keynum_sk` in cleartext with its real checksum.
    fn keynum_sk(&self) -> Zeroizing<[u8; KEYNUM_SK_LEN]> {
        let mut out = Zeroizing::new([0u8; KEYNUM_SK_LEN]);
        let seed = Zeroizing::new(self.signing.to_bytes());
        let public = self.signing.verifying_key().to_bytes();
        let mut chk = checksum(self.key_id.as_bytes(), &seed, &public);
        let pieces: [&[u8]; 4] = [self.key_id.as_bytes(), &seed[..], &public, &chk];
        let mut offset = 0;
        for piece in pieces {
            if let Some(dest) = out.get_mut(offset..offset + piece.len()) {
                dest.copy_from_slice(piece);
            }
            offset += piece.len();
        }
        chk.zeroize();
        out
    }

    /// This key in minisign's password-protected format, base64 under the
    /// untrusted comment `minisign encrypted secret key`, with a fresh
    /// random salt and the scrypt limits `cost` (normally
    /// [`KdfCost::MINISIGN`]). Refuses a cost this crate would refuse to
    /// open.
    pub fn to_encrypted_box(&self, password: &[u8], cost: KdfCost) -> Result<String> {
        let params = KdfParams::from_cost(cost)?;
        let mut salt = [0u8; KDF_SALT_LEN];
        fill_random(&mut salt)?;
        let mut keynum = self.keynum_sk();
        let stream = params.key_stream(password, &salt)?;
        for (byte, key) in keynum.iter_mut().zip(stream.iter()) {
            *byte ^= key;
        }
        Ok(boxed(
            "minisign encrypted secret key",
            &assemble(KDF_ALG_SCRYPT, &salt, cost, &keynum),
        ))
    }

    /// This key in minisign's unencrypted format (what `minisign -G -W`
    /// writes): kdf algorithm `\0\0`, zero salt and limits, under the
    /// untrusted comment `minisign unencrypted secret key`. Unlike
    /// minisign, we store the real checksum, so corruption is detected;
    /// minisign ignores the checksum of unencrypted keys and signs with
    /// this file without asking for a password.
    ///
    /// The returned text is the secret key: write it with
    /// [`write_key_file`](crate::write_key_file) and
    /// [`KeyFileMode::Secret`](crate::KeyFileMode::Secret).
    pub fn to_unencrypted_box(&self) -> Zeroizing<String> {
        let keynum = self.keynum_sk();
        Zeroizing::new(boxed(
            "minisign unencrypted secret key",
            &assemble(
                KDF_ALG_NONE,
                &[0u8; KDF_SALT_LEN],
                KdfCost {
                    opslimit: 0,
                    memlimit: 0,
                },
                &keynum,
            ),
        ))
    }

    /// Opens a cleartext `keynum_sk`: checks the checksum by `rule`, and
    /// that the stored public key is the one the seed gives (a checksum of
    /// zeros proves nothing, and a mismatched public half would make
    /// minisign write signatures that do not verify).
    fn open(keynum: &[u8; KEYNUM_SK_LEN], rule: ChecksumRule) -> Result<SecretKey> {
        let mut fields = Fields(keynum);
        let key_id = fields.take::<KEY_ID_LEN>()?;
        let seed = fields.take::<ED25519_SEED_LEN>()?;
        let public = fields.take::<ED25519_PUBLIC_KEY_LEN>()?;
        let stored = fields.take::<CHECKSUM_LEN>()?;
        let mut computed = checksum(key_id, seed, public);
        let matches = constant_time_eq(&computed, stored);
        computed.zeroize();
        match rule {
            ChecksumRule::MustMatch if !matches => return Err(Error::WrongPassword),
            ChecksumRule::ZeroOrMatch if !matches && *stored != [0u8; CHECKSUM_LEN] => {
                return Err(Error::BadChecksum);
            }
            _ => {}
        }
        let key = SecretKey::from_seed(KeyId::from_bytes(*key_id), seed);
        if key.signing.verifying_key().as_bytes() != public {
            return Err(Error::PublicKeyMismatch);
        }
        Ok(key)
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretKey")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key().to_base64())
            .field("seed", &"<redacted>")
            .finish()
    }
}

/// The 158-byte structure (zeroized on drop: it may hold a cleartext key).
fn assemble(
    kdf_alg: [u8; 2],
    salt: &[u8; KDF_SALT_LEN],
    cost: KdfCost,
    keynum: &[u8; KEYNUM_SK_LEN],
) -> Zeroizing<[u8; SECRET_KEY_BYTES]> {
    let mut out = Zeroizing::new([0u8; SECRET_KEY_BYTES]);
    let pieces: [&[u8]; 7] = [
        &SIG_ALG_ED25519,
        &kdf_alg,
        &CHK_ALG_BLAKE2B,
        salt,
        &cost.opslimit.to_le_bytes(),
        &cost.memlimit.to_le_bytes(),
        keynum,
    ];
    let mut offset = 0;
    for piece in pieces {
        if let Some(dest) = out.get_mut(offset..offset + piece.len()) {
            dest.copy_from_slice(piece);
        }
        offset += piece.len();
    }
    out
}

/// `untrusted comment: <comment>\n<base64>\n`.
fn boxed(comment: &str, bytes: &[u8; SECRET_KEY_BYTES]) -> String {
    let encoded = Zeroizing::new(base64::encode(bytes));
    let mut out =
        String::with_capacity(UNTRUSTED_COMMENT_PREFIX.len() + comment.len() + encoded.len() + 2);
    out.push_str(UNTRUSTED_COMMENT_PREFIX);
    out.push_str(comment);
    out.push('\n');
    out.push_str(&encoded);
    out.push('\n');
    out
}

/// A password-protected secret key, not yet decrypted.
pub struct EncryptedSecretKey {
    salt: [u8; KDF_SALT_LEN],
    cost: KdfCost,
    params: KdfParams,
    keynum: Zeroizing<[u8; KEYNUM_SK_LEN]>,
}

impl EncryptedSecretKey {
    /// Decrypts the key with `password` (the bytes typed, without a line
    /// terminator, as minisign uses them).
    ///
    /// Runs scrypt with the key's parameters, which parsing has already
    /// capped. A checksum mismatch is [`Error::WrongPassword`].
    pub fn decrypt(&self, password: &[u8]) -> Result<SecretKey> {
        let stream = self.params.key_stream(password, &self.salt)?;
        let mut keynum = self.keynum.clone();
        for (byte, key) in keynum.iter_mut().zip(stream.iter()) {
            *byte ^= key;
        }
        SecretKey::open(&keynum, ChecksumRule::MustMatch)
    }

    /// The scrypt parameters decryption will use, e.g. to warn that it
    /// takes a while or to refuse it before asking for a password.
    pub fn kdf_params(&self) -> KdfParams {
        self.params
    }

    /// The scrypt limits as stored in the file.
    pub fn kdf_cost(&self) -> KdfCost {
        self.cost
    }
}

impl fmt::Debug for EncryptedSecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedSecretKey")
            .field("cost", &self.cost)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

/// The contents of a secret key file, as found on disk.
#[derive(Debug)]
pub enum SecretKeyFile {
    /// Password-protected (minisign's default): call
    /// [`EncryptedSecretKey::decrypt`].
    Encrypted(EncryptedSecretKey),
    /// Usable as is: `minisign -G -W` keys, keys whose password was removed
    /// with `minisign -C -W`, and Lucet legacy raw keys.
    Unencrypted(SecretKey),
}

impl SecretKeyFile {
    /// Largest input [`SecretKeyFile::parse`] reads.
    pub const MAX_ENCODED_LEN: usize = MAX_SECRET_KEY_TEXT_LEN;

    /// Parses a secret key file, telling the kind from the content:
    ///
    /// * text starting with `untrusted comment: `: minisign's two-line box
    ///   (LF or CRLF, optional final terminator, nothing after), whose kdf
    ///   algorithm says whether it is encrypted (`Sc`) or not (`\0\0`);
    /// * exactly 158 binary bytes starting with `EdScB2`: a Lucet legacy
    ///   raw key, the same structure unencoded, whose contents are
    ///   cleartext despite the `Sc`.
    ///
    /// Unencrypted keys are checked here (checksum if not zero, public half
    /// against the seed). For encrypted keys the scrypt parameters are
    /// derived and capped here, so an expensive or crafted key is refused
    /// before any password is asked for.
    pub fn parse(input: &[u8]) -> Result<SecretKeyFile> {
        if input.starts_with(UNTRUSTED_COMMENT_PREFIX.as_bytes()) {
            refuse_oversized(input, KIND, Self::MAX_ENCODED_LEN)?;
            let key = split_key_box(input, KIND)?;
            let bytes = base64::decode_exact::<SECRET_KEY_BYTES>(key, KIND, 2)?;
            Self::from_bytes(&bytes, false)
        } else if let Ok(raw) = <&[u8; SECRET_KEY_BYTES]>::try_from(input)
            && raw.starts_with(LUCET_RAW_MAGIC)
        {
            Self::from_bytes(raw, true)
        } else {
            Err(Error::UnrecognizedSecretKey)
        }
    }

    fn from_bytes(bytes: &[u8; SECRET_KEY_BYTES], lucet_raw: bool) -> Result<SecretKeyFile> {
        let mut fields = Fields(bytes);
        let sig_alg = *fields.take::<2>()?;
        let kdf_alg = *fields.take::<2>()?;
        let chk_alg = *fields.take::<2>()?;
        let salt = *fields.take::<KDF_SALT_LEN>()?;
        let opslimit = u64::from_le_bytes(*fields.take::<8>()?);
        let memlimit = u64::from_le_bytes(*fields.take::<8>()?);
        let keynum = fields.take::<KEYNUM_SK_LEN>()?;
        if sig_alg != SIG_ALG_ED25519 {
            return Err(Error::UnknownAlgorithm {
                kind: KIND,
                found: sig_alg,
            });
        }
        if chk_alg != CHK_ALG_BLAKE2B {
            return Err(Error::UnknownChecksumAlgorithm { found: chk_alg });
        }
        if lucet_raw {
            // Lucet wrote the cleartext structure under the `Sc` tag.
            return SecretKey::open(keynum, ChecksumRule::ZeroOrMatch)
                .map(SecretKeyFile::Unencrypted);
        }
        match kdf_alg {
            KDF_ALG_SCRYPT => {
                let cost = KdfCost { opslimit, memlimit };
                Ok(SecretKeyFile::Encrypted(EncryptedSecretKey {
                    salt,
                    cost,
                    params: KdfParams::from_cost(cost)?,
                    keynum: Zeroizing::new(*keynum),
                }))
            }
            // Salt and limits are ignored: `minisign -C -W` leaves those of
            // the former encryption in place.
            KDF_ALG_NONE => {
                SecretKey::open(keynum, ChecksumRule::ZeroOrMatch).map(SecretKeyFile::Unencrypted)
            }
            found => Err(Error::UnknownKdfAlgorithm { found }),
        }
    }

    /// Whether a password is needed.
    pub fn is_encrypted(&self) -> bool {
        matches!(self, SecretKeyFile::Encrypted(_))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;
    use crate::fixtures::{ENCRYPTED, PASSWORD_REMOVED_KEY, UNENCRYPTED, encrypted, unencrypted};

    fn decoded(input: &[u8]) -> [u8; SECRET_KEY_BYTES] {
        let line = split_key_box(input, KIND).unwrap();
        *base64::decode_exact::<SECRET_KEY_BYTES>(line, KIND, 2).unwrap()
    }

    /// The error the key file `text` gives once `change` has altered its
    /// decoded bytes.
    fn refused_after(text: &[u8], change: impl FnOnce(&mut [u8; SECRET_KEY_BYTES])) -> Error {
        let mut bytes = decoded(text);
        change(&mut bytes);
        let changed = format!("untrusted comment: test\n{}\n", base64::encode(&bytes));
        SecretKeyFile::parse(changed.as_bytes()).unwrap_err()
    }

    /// Sets both scrypt limits (opslimit and memlimit) of a key to `limit`.
    fn kdf_limits(limit: u64) -> impl FnOnce(&mut [u8; SECRET_KEY_BYTES]) {
        move |bytes| {
            bytes[38..46].copy_from_slice(&limit.to_le_bytes());
            bytes[46..54].copy_from_slice(&limit.to_le_bytes());
        }
    }

    #[test]
    fn pick_params_matches_libsodium() {
        // minisign's default: N = 2^20, r = 8, p = 1.
        let p = KdfCost::MINISIGN.params().unwrap();
        assert_eq!((p.log_n(), p.r(), p.p()), (20, 8, 1));
        assert_eq!(p.memory_bytes(), 1 << 30);
        // rsign2's default: N = 2^15, p = 1.
        let p = KdfParams::from_cost(KdfCost {
            opslimit: 1 << 20,
            memlimit: 1 << 25,
        })
        .unwrap();
        assert_eq!((p.log_n(), p.r(), p.p()), (15, 8, 1));
        let p = KdfCost::TESTING.params().unwrap();
        assert_eq!((p.log_n(), p.r(), p.p()), (6, 8, 16));
        // opslimit < memlimit / 32: N from opslimit, p = 1. libsodium's
        // "interactive" limits (2^19, 2^24) give N = 2^14.
        assert_eq!(pick_params(1 << 19, 1 << 24), (14, 1));
        assert_eq!(pick_params(0, 0), (1, 512));
    }

    #[test]
    fn excessive_kdf_cost_is_refused_before_scrypt() {
        let started = std::time::Instant::now();
        // opslimit = memlimit = 2^40: N = 2^30 (1 TiB).
        let err = refused_after(ENCRYPTED.secret, kdf_limits(1 << 40));
        assert!(
            matches!(
                err,
                Error::ExcessiveKdfCost {
                    resource: KdfResource::Memory,
                    required: 1_099_511_627_776,
                    limit: 1_073_741_824,
                }
            ),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(
            err.to_string(),
            "scrypt parameters need 1099511627776 bytes of memory, more than the limit of 1073741824"
        );
        // The largest limits: N = 2^53, 2^63 bytes, still refused.
        assert!(matches!(
            refused_after(ENCRYPTED.secret, kdf_limits(u64::MAX)),
            Error::ExcessiveKdfCost {
                resource: KdfResource::Memory,
                required: 0x8000_0000_0000_0000,
                ..
            }
        ));
        // Within memory but too much work: N = 2^20, p = 32.
        assert!(matches!(
            KdfParams::from_cost(KdfCost {
                opslimit: 1 << 30,
                memlimit: 1 << 30,
            }),
            Err(Error::ExcessiveKdfCost {
                resource: KdfResource::Work,
                required: 33_554_432,
                limit: 2_097_152,
            })
        ));
    }

    #[test]
    fn minisign_unencrypted_key_with_zero_checksum() {
        let key = unencrypted(UNENCRYPTED.secret);
        let public = PublicKey::from_text(UNENCRYPTED.public).unwrap();
        assert_eq!(key.public_key(), public);
        assert_eq!(key.key_id().to_string(), "B5EC656A06C6B557");
    }

    #[test]
    fn minisign_password_removed_key_keeps_salt_limits_and_checksum() {
        // `minisign -C -W` on minisign-encrypted.key: kdf \0\0, but the salt,
        // limits and (real) checksum of the encrypted key are left in place.
        let bytes = decoded(PASSWORD_REMOVED_KEY);
        assert_eq!(&bytes[2..4], &[0, 0]);
        assert_ne!(&bytes[6..38], &[0u8; 32]);
        let key = unencrypted(PASSWORD_REMOVED_KEY);
        assert_eq!(
            key.public_key(),
            PublicKey::from_text(ENCRYPTED.public).unwrap()
        );
    }

    #[test]
    fn minisign_encrypted_key_parses_with_minisign_cost() {
        let key = encrypted(ENCRYPTED.secret);
        assert_eq!(key.kdf_cost(), KdfCost::MINISIGN);
        assert_eq!(key.kdf_params(), KdfCost::MINISIGN.params().unwrap());
        assert!(!format!("{key:?}").contains("keynum"));
    }

    /// Runs scrypt with N = 2^20 (1 GiB, seconds): `cargo test -- --ignored`.
    #[test]
    #[ignore = "needs 1 GiB of memory"]
    fn minisign_encrypted_key_decrypts() {
        let key = encrypted(ENCRYPTED.secret)
            .decrypt(b"correct horse")
            .unwrap();
        assert_eq!(
            key.public_key(),
            PublicKey::from_text(ENCRYPTED.public).unwrap()
        );
        assert!(matches!(
            encrypted(ENCRYPTED.secret).decrypt(b"correct horse\n"),
            Err(Error::WrongPassword)
        ));
    }

    #[test]
    fn encrypted_round_trip_and_wrong_password() {
        let key = SecretKey::generate().unwrap();
        let text = key.to_encrypted_box(b"hunter2", KdfCost::TESTING).unwrap();
        assert!(text.starts_with("untrusted comment: minisign encrypted secret key\n"));
        let file = encrypted(text.as_bytes());
        assert_eq!(file.kdf_cost(), KdfCost::TESTING);
        let opened = file.decrypt(b"hunter2").unwrap();
        assert_eq!(opened.key_id(), key.key_id());
        assert_eq!(opened.public_key(), key.public_key());
        assert!(matches!(
            file.decrypt(b"hunter3"),
            Err(Error::WrongPassword)
        ));
        assert!(matches!(file.decrypt(b""), Err(Error::WrongPassword)));
        // Fresh salt each time.
        let again = key.to_encrypted_box(b"hunter2", KdfCost::TESTING).unwrap();
        assert_ne!(text, again);
    }

    #[test]
    fn refuses_to_write_keys_it_would_not_open() {
        let key = SecretKey::generate().unwrap();
        assert!(matches!(
            key.to_encrypted_box(
                b"x",
                KdfCost {
                    opslimit: 1 << 40,
                    memlimit: 1 << 40
                }
            ),
            Err(Error::ExcessiveKdfCost { .. })
        ));
    }

    #[test]
    fn unencrypted_round_trip_has_real_checksum() {
        let key = SecretKey::generate().unwrap();
        let text = key.to_unencrypted_box();
        assert!(text.starts_with("untrusted comment: minisign unencrypted secret key\n"));
        let bytes = decoded(text.as_bytes());
        assert_eq!(&bytes[..6], b"Ed\0\0B2");
        assert_eq!(&bytes[6..54], &[0u8; 48]);
        assert_ne!(&bytes[126..], &[0u8; 32]);
        let opened = unencrypted(text.as_bytes());
        assert_eq!(opened.public_key(), key.public_key());
        // CRLF is accepted too.
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(unencrypted(crlf.as_bytes()).key_id(), key.key_id());
    }

    #[test]
    fn bad_checksum_on_unencrypted_key() {
        let key = SecretKey::generate().unwrap();
        let text = key.to_unencrypted_box();
        let err = refused_after(text.as_bytes(), |bytes| bytes[157] ^= 1);
        assert!(matches!(err, Error::BadChecksum));
    }

    #[test]
    fn mismatched_public_half_is_refused() {
        // Zero checksum (as minisign writes) but a flipped public key byte.
        let err = refused_after(UNENCRYPTED.secret, |bytes| bytes[100] ^= 1);
        assert!(matches!(err, Error::PublicKeyMismatch));
    }

    #[test]
    fn unknown_algorithms_are_refused() {
        assert!(matches!(
            refused_after(UNENCRYPTED.secret, |bytes| bytes[1] = b'D'),
            Error::UnknownAlgorithm {
                kind: ObjectKind::SecretKey,
                found: [b'E', b'D']
            }
        ));
        let err = refused_after(UNENCRYPTED.secret, |bytes| {
            bytes[2..4].copy_from_slice(b"Ar")
        });
        assert!(matches!(
            err,
            Error::UnknownKdfAlgorithm {
                found: [b'A', b'r']
            }
        ));
        let err = refused_after(UNENCRYPTED.secret, |bytes| {
            bytes[4..6].copy_from_slice(b"B3")
        });
        assert_eq!(
            err.to_string(),
            "secret key uses unknown checksum algorithm \"B3\""
        );
    }

    /// A Lucet legacy raw key, laid out byte by byte.
    fn lucet_raw_key(seed: &[u8; 32], key_id: &[u8; 8]) -> Vec<u8> {
        let public = SigningKey::from_bytes(seed).verifying_key().to_bytes();
        let mut raw = Vec::new();
        raw.extend_from_slice(b"Ed"); // signature algorithm
        raw.extend_from_slice(b"Sc"); // "scrypt", although nothing is encrypted
        raw.extend_from_slice(b"B2"); // checksum algorithm
        raw.extend_from_slice(&[0u8; 32]); // salt
        raw.extend_from_slice(&0u64.to_le_bytes()); // opslimit
        raw.extend_from_slice(&0u64.to_le_bytes()); // memlimit
        raw.extend_from_slice(key_id);
        raw.extend_from_slice(seed);
        raw.extend_from_slice(&public);
        raw.extend_from_slice(&[0u8; 32]); // checksum: all zeros
        assert_eq!(raw.len(), 158);
        raw
    }

    #[test]
    fn lucet_raw_key_is_read_as_unencrypted() {
        let seed = [7u8; 32];
        let key_id = [1, 2, 3, 4, 5, 6, 7, 8];
        let raw = lucet_raw_key(&seed, &key_id);
        let key = unencrypted(&raw);
        assert_eq!(key.key_id(), KeyId::from_bytes(key_id));
        assert_eq!(
            key.public_key(),
            SecretKey::from_seed(KeyId::from_bytes(key_id), &seed).public_key()
        );
    }

    #[test]
    fn lucet_raw_key_is_checked() {
        let mut raw = lucet_raw_key(&[7u8; 32], &[1; 8]);
        raw[100] ^= 1; // public half
        assert!(matches!(
            SecretKeyFile::parse(&raw),
            Err(Error::PublicKeyMismatch)
        ));
        let raw = lucet_raw_key(&[7u8; 32], &[1; 8]);
        assert!(matches!(
            SecretKeyFile::parse(&raw[..157]),
            Err(Error::UnrecognizedSecretKey)
        ));
        let mut longer = raw.clone();
        longer.push(b'\n');
        assert!(matches!(
            SecretKeyFile::parse(&longer),
            Err(Error::UnrecognizedSecretKey)
        ));
    }

    #[test]
    fn malformed_boxes_are_refused() {
        let text = String::from_utf8(UNENCRYPTED.secret.to_vec()).unwrap();
        assert!(matches!(
            SecretKeyFile::parse(format!("{text}\n").as_bytes()),
            Err(Error::TrailingData { .. })
        ));
        assert!(matches!(
            SecretKeyFile::parse(b"untrusted comment: x\n"),
            Err(Error::MissingLine { line: 2, .. })
        ));
        assert!(matches!(
            SecretKeyFile::parse(b"RWQAAEIy"),
            Err(Error::UnrecognizedSecretKey)
        ));
        let truncated = &text[..text.len() - 10];
        assert!(matches!(
            SecretKeyFile::parse(truncated.as_bytes()),
            Err(Error::InvalidBase64 { line: 2, .. } | Error::WrongLength { line: 2, .. })
        ));
        let big = format!("untrusted comment: {}\n", "x".repeat(2000));
        assert!(matches!(
            SecretKeyFile::parse(big.as_bytes()),
            Err(Error::InputTooLarge { .. } | Error::CommentTooLong { .. })
        ));
    }

    #[test]
    fn debug_redacts() {
        let key = SecretKey::from_seed(KeyId::from_bytes([0; 8]), &[0x42; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains("<redacted>"));
        assert!(!shown.contains("42, 42") && !shown.contains("4242"));
    }
}
