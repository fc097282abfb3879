//! The fixed 16-byte footer: the only part of an artifact read before its
//! signature block, so it is parsed field by field with every bound checked
//! before anything is allocated.

use crate::Error;

/// Magic bytes that open the footer.
pub const MAGIC: &[u8; 8] = b"LUCETART";
/// The artifact format version this build writes and reads.
pub const FORMAT_VERSION: u16 = 3;
/// Length of the footer in bytes.
pub const FOOTER_LEN: usize = 16;
/// Largest block a footer may declare: room for [`MAX_SIGNATURES`] minisign
/// signatures with the longest trusted comments minisign writes.
pub const MAX_BLOCK_LEN: u32 = 64 * 1024;
/// Most signatures one signed block may hold: the artifact signature and up
/// to seven counter-signatures.
pub const MAX_SIGNATURES: usize = 8;

/// Whether the block is plain metadata or a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// The block is the metadata line, unauthenticated.
    Unsigned,
    /// The block is a minisign signature whose trusted comment is the metadata.
    Signed,
}

impl Kind {
    fn code(self) -> u16 {
        match self {
            Kind::Unsigned => 0,
            Kind::Signed => 1,
        }
    }
}

/// A decoded footer, with the layout of the artifact it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Footer {
    /// Kind of block.
    pub kind: Kind,
    /// Length of the block in bytes.
    pub block_len: u32,
}

impl Footer {
    /// Decodes the last [`FOOTER_LEN`] bytes of a `file_len`-byte artifact.
    pub fn decode(bytes: &[u8; FOOTER_LEN], file_len: u64) -> Result<Footer, Error> {
        let (magic, rest) = bytes.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(Error::BadMagic);
        }
        let version = u16::from_le_bytes([rest[0], rest[1]]);
        if version < FORMAT_VERSION {
            return Err(Error::OlderVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        if version > FORMAT_VERSION {
            return Err(Error::UnsupportedVersion {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let kind = match u16::from_le_bytes([rest[2], rest[3]]) {
            0 => Kind::Unsigned,
            1 => Kind::Signed,
            other => return Err(Error::UnknownKind(other)),
        };
        let block_len = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let footer = Footer { kind, block_len };
        if block_len == 0
            || block_len > MAX_BLOCK_LEN
            || u64::from(block_len) + FOOTER_LEN as u64 > file_len
        {
            return Err(Error::BadBlockLength {
                len: block_len,
                max: MAX_BLOCK_LEN,
                file_len,
            });
        }
        Ok(footer)
    }

    /// Encodes the footer.
    pub fn encode(&self) -> [u8; FOOTER_LEN] {
        let mut out = [0u8; FOOTER_LEN];
        out[..8].copy_from_slice(MAGIC);
        out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
        out[10..12].copy_from_slice(&self.kind.code().to_le_bytes());
        out[12..].copy_from_slice(&self.block_len.to_le_bytes());
        out
    }

    /// Length of the engine image in a `file_len`-byte artifact ending in this footer.
    /// [`Footer::decode`] checked that this cannot underflow.
    pub fn image_len(&self, file_len: u64) -> u64 {
        file_len - FOOTER_LEN as u64 - u64::from(self.block_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let footer = Footer {
            kind: Kind::Signed,
            block_len: 300,
        };
        let bytes = footer.encode();
        assert_eq!(Footer::decode(&bytes, 1000).ok(), Some(footer));
        assert_eq!(footer.image_len(1000), 1000 - 16 - 300);
    }

    #[test]
    fn every_field_is_checked() {
        let good = Footer {
            kind: Kind::Unsigned,
            block_len: 10,
        }
        .encode();
        let mut bad_magic = good;
        bad_magic[0] ^= 1;
        assert!(matches!(
            Footer::decode(&bad_magic, 100),
            Err(Error::BadMagic)
        ));
        let with_version = |version: u16| {
            let mut footer = good;
            footer[8..10].copy_from_slice(&version.to_le_bytes());
            Footer::decode(&footer, 100)
        };
        let newer = FORMAT_VERSION + 1;
        assert!(matches!(
            with_version(newer),
            Err(Error::UnsupportedVersion { found, .. }) if found == newer
        ));
        for older in 1..FORMAT_VERSION {
            assert!(matches!(
                with_version(older),
                Err(Error::OlderVersion { found, .. }) if found == older
            ));
        }
        let mut bad_kind = good;
        bad_kind[10] = 7;
        assert!(matches!(
            Footer::decode(&bad_kind, 100),
            Err(Error::UnknownKind(7))
        ));
        // Declared block longer than the file, zero, or over the limit.
        assert!(matches!(
            Footer::decode(&good, 25),
            Err(Error::BadBlockLength { .. })
        ));
        let mut zero = good;
        zero[12..].copy_from_slice(&0u32.to_le_bytes());
        assert!(Footer::decode(&zero, 100).is_err());
        let mut huge = good;
        huge[12..].copy_from_slice(&(MAX_BLOCK_LEN + 1).to_le_bytes());
        assert!(Footer::decode(&huge, u64::MAX).is_err());
    }
}
