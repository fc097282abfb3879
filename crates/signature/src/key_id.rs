//! Key ids: eight random bytes naming a key pair.

use std::fmt;
use std::str::FromStr;

use crate::constants::KEY_ID_LEN;
use crate::error::Error;

/// The 8-byte id of a key pair, stored in public keys, secret keys and
/// signatures so that a verifier can pick the right key.
///
/// It is displayed the way minisign prints it: the bytes read as a
/// little-endian `u64`, in 16 uppercase hexadecimal digits
/// (`minisign public key B5EC656A06C6B557`). [`FromStr`] parses that form,
/// in either case.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; KEY_ID_LEN]);

impl KeyId {
    /// The key id with these bytes (as stored in the files).
    pub const fn from_bytes(bytes: [u8; KEY_ID_LEN]) -> KeyId {
        KeyId(bytes)
    }

    /// The bytes of the key id, as stored in the files.
    pub const fn as_bytes(&self) -> &[u8; KEY_ID_LEN] {
        &self.0
    }

    /// The key id as minisign's `u64` (little-endian reading of the bytes).
    pub const fn to_u64(&self) -> u64 {
        u64::from_le_bytes(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016X}", self.to_u64())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = Error;

    /// Parses exactly 16 hexadecimal digits (no sign, prefix or spaces,
    /// which `u64::from_str_radix` alone would partly allow).
    fn from_str(s: &str) -> Result<KeyId, Error> {
        if s.len() != 2 * KEY_ID_LEN || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::InvalidKeyId);
        }
        let value = u64::from_str_radix(s, 16).map_err(|_| Error::InvalidKeyId)?;
        Ok(KeyId(value.to_le_bytes()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn displays_like_minisign() {
        // From tests/data/minisign-unencrypted.{pub,key}: the box says
        // "minisign public key B5EC656A06C6B557" and the bytes are these.
        let id = KeyId::from_bytes([0x57, 0xb5, 0xc6, 0x06, 0x6a, 0x65, 0xec, 0xb5]);
        assert_eq!(id.to_string(), "B5EC656A06C6B557");
        assert_eq!(format!("{id:?}"), "KeyId(B5EC656A06C6B557)");
        assert_eq!("b5ec656a06c6b557".parse::<KeyId>().unwrap(), id);
        assert_eq!("B5EC656A06C6B557".parse::<KeyId>().unwrap(), id);
    }

    #[test]
    fn displays_leading_zeros() {
        let id = KeyId::from_bytes([1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(id.to_string(), "0000000000000001");
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "",
            "B5EC656A06C6B55",
            "B5EC656A06C6B5570",
            "+5EC656A06C6B557",
            "0xEC656A06C6B557",
            "B5EC656A06C6B55G",
        ] {
            assert!(
                matches!(bad.parse::<KeyId>(), Err(Error::InvalidKeyId)),
                "{bad}"
            );
        }
    }
}
