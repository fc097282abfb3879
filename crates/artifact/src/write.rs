//! Writing artifacts. The engine image is copied in unmodified.

use lucet_signature::{Prehash, SecretKey};

use crate::Error;
use crate::footer::{Footer, Kind};
use crate::metadata::Metadata;

/// The untrusted comment of every artifact signature; any other is refused on load.
pub const SIGNATURE_UNTRUSTED_COMMENT: &str = "signature from lucetc secret key";

/// Encodes an unsigned artifact. `prehash` is BLAKE2b-512 of `image`, as
/// recorded in `metadata`.
pub fn encode_unsigned(
    image: &[u8],
    metadata: &Metadata,
    prehash: &Prehash,
) -> Result<Vec<u8>, Error> {
    check_image(image, metadata, prehash)?;
    let mut block = metadata.to_line()?;
    block.push('\n');
    Ok(assemble(image, Kind::Unsigned, block.as_bytes()))
}

/// Encodes an artifact signed with `key`: the signature covers `image`
/// (prehashed), and its trusted comment is the metadata line.
pub fn encode_signed(
    image: &[u8],
    metadata: &Metadata,
    prehash: &Prehash,
    key: &SecretKey,
) -> Result<Vec<u8>, Error> {
    check_image(image, metadata, prehash)?;
    let signature = key
        .sign_prehashed(prehash, &metadata.to_line()?, SIGNATURE_UNTRUSTED_COMMENT)
        .map_err(Error::Signing)?;
    Ok(assemble(
        image,
        Kind::Signed,
        signature.to_text().as_bytes(),
    ))
}

fn check_image(image: &[u8], metadata: &Metadata, prehash: &Prehash) -> Result<(), Error> {
    if metadata.image_len != image.len() as u64 {
        return Err(Error::ImageLengthMismatch {
            signed: metadata.image_len,
            found: image.len() as u64,
        });
    }
    if metadata.image_blake2b != *prehash {
        return Err(Error::ImageHashMismatch);
    }
    Ok(())
}

pub(crate) fn assemble(image: &[u8], kind: Kind, block: &[u8]) -> Vec<u8> {
    // Blocks are bounded by the metadata and signature limits, far below MAX_BLOCK_LEN.
    let footer = Footer {
        kind,
        block_len: block.len() as u32,
    };
    let mut out = Vec::with_capacity(image.len() + block.len() + crate::FOOTER_LEN);
    out.extend_from_slice(image);
    out.extend_from_slice(block);
    out.extend_from_slice(&footer.encode());
    out
}
