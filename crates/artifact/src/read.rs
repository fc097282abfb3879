//! Reading artifacts: the verified path and the separately named unverified one.

use std::io;

use lucet_signature::{KeyId, Legacy, Prehash, Prehasher, PublicKeySet, SignatureBox};

use crate::Error;
use crate::footer::{FOOTER_LEN, Footer, Kind};
use crate::metadata::{Metadata, hex};
use crate::write::SIGNATURE_UNTRUSTED_COMMENT;

/// Bytes are hashed in chunks of this size as they are read into the image buffer.
const READ_CHUNK: usize = 1 << 20;

/// Something an artifact can be read from by offset: an open file (read once,
/// through this handle, never re-opened by path) or bytes already in memory.
pub trait ArtifactSource {
    /// Total length in bytes.
    fn byte_len(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset`, failing if the source ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ArtifactSource for std::fs::File {
    fn byte_len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

impl ArtifactSource for [u8] {
    fn byte_len(&self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let part = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(part);
        Ok(())
    }
}

/// An artifact whose signature verified against a trusted key.
#[derive(Debug)]
pub struct VerifiedArtifact {
    /// The engine image: exactly the bytes the signature covers.
    pub image: Vec<u8>,
    /// The signed metadata.
    pub metadata: Metadata,
    /// The trusted key that signed it.
    pub signer: KeyId,
    /// The verified signature (its trusted comment is the metadata line).
    pub signature: SignatureBox,
}

/// An artifact read without verification. Nothing in it is authenticated.
#[derive(Debug)]
pub struct UnverifiedArtifact {
    /// The engine image.
    pub image: Vec<u8>,
    /// The metadata, unauthenticated.
    pub metadata: Metadata,
    /// The signature block, if the artifact has one: parsed, NOT verified.
    pub signature: Option<SignatureBox>,
}

/// Reads an artifact, verifies its signature against `keys`, and returns the
/// verified image and metadata.
///
/// Order matters and is the point of this function: footer, then signature
/// block, then key selection (an unknown key or a legacy signature is refused
/// before the image is read), then the image is hashed while it is copied
/// into the returned buffer, then the signature is checked, and only then is
/// the metadata parsed. The image is never parsed here at all.
pub fn read_verified<S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
) -> Result<VerifiedArtifact, Error> {
    let (footer, file_len) = read_footer(source)?;
    if footer.kind != Kind::Signed {
        return Err(Error::NotSigned);
    }
    let signature = read_signature_block(source, &footer, file_len)?;
    let key = keys
        .select(&signature, Legacy::Refuse)
        .map_err(Error::Verification)?;
    let (image, prehash) = read_image(source, footer.image_len(file_len))?;
    key.verify_prehashed(&signature, &prehash)
        .map_err(Error::Verification)?;
    let metadata = Metadata::parse(signature.trusted_comment())?;
    check_image_hash(&metadata, &prehash)?;
    Ok(VerifiedArtifact {
        image,
        metadata,
        signer: key.key_id(),
        signature,
    })
}

/// Reads an artifact without verifying anything. For use only when the
/// caller configured no trusted key; the name says what it does not do.
pub fn read_unverified<S: ArtifactSource + ?Sized>(
    source: &S,
) -> Result<UnverifiedArtifact, Error> {
    let (footer, file_len) = read_footer(source)?;
    let (metadata_line, signature) = match footer.kind {
        Kind::Signed => {
            let signature = read_signature_block(source, &footer, file_len)?;
            (signature.trusted_comment().to_string(), Some(signature))
        }
        Kind::Unsigned => {
            let block = read_block(source, &footer, file_len)?;
            let line = block
                .strip_suffix(b"\n")
                .and_then(|line| std::str::from_utf8(line).ok())
                .ok_or_else(|| {
                    Error::Metadata("block is not one UTF-8 line ending in LF".into())
                })?;
            (line.to_string(), None)
        }
    };
    let metadata = Metadata::parse(&metadata_line)?;
    let (image, prehash) = read_image(source, footer.image_len(file_len))?;
    check_image_hash(&metadata, &prehash)?;
    Ok(UnverifiedArtifact {
        image,
        metadata,
        signature,
    })
}

fn read_footer<S: ArtifactSource + ?Sized>(source: &S) -> Result<(Footer, u64), Error> {
    let file_len = source.byte_len()?;
    let min = FOOTER_LEN as u64;
    if file_len < min {
        return Err(Error::TooShort { len: file_len, min });
    }
    let mut bytes = [0u8; FOOTER_LEN];
    source.read_exact_at(&mut bytes, file_len - min)?;
    Ok((Footer::decode(&bytes, file_len)?, file_len))
}

fn read_block<S: ArtifactSource + ?Sized>(
    source: &S,
    footer: &Footer,
    file_len: u64,
) -> Result<Vec<u8>, Error> {
    // `Footer::decode` bounded block_len by MAX_BLOCK_LEN and by the file length.
    let mut block = vec![0u8; footer.block_len as usize];
    source.read_exact_at(&mut block, footer.image_len(file_len))?;
    Ok(block)
}

fn read_signature_block<S: ArtifactSource + ?Sized>(
    source: &S,
    footer: &Footer,
    file_len: u64,
) -> Result<SignatureBox, Error> {
    let block = read_block(source, footer, file_len)?;
    let signature = SignatureBox::parse(&block).map_err(Error::Signature)?;
    // Minisign tolerates variations (CRLF, other untrusted comments) that
    // would let bytes of the artifact change without the load failing.
    if signature.untrusted_comment() != SIGNATURE_UNTRUSTED_COMMENT {
        return Err(Error::NonCanonicalBlock("unexpected untrusted comment"));
    }
    if signature.to_text().as_bytes() != block.as_slice() {
        return Err(Error::NonCanonicalBlock("encoding differs from lucetc's"));
    }
    Ok(signature)
}

/// Reads the image into a buffer of its own, hashing each chunk as it lands:
/// the bytes hashed are the bytes returned, and the file is read once.
fn read_image<S: ArtifactSource + ?Sized>(
    source: &S,
    len: u64,
) -> Result<(Vec<u8>, Prehash), Error> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut image = vec![0u8; len];
    let mut hasher = Prehasher::new();
    for (index, chunk) in image.chunks_mut(READ_CHUNK).enumerate() {
        source.read_exact_at(chunk, (index * READ_CHUNK) as u64)?;
        hasher.update(chunk);
    }
    Ok((image, hasher.finalize()))
}

fn check_image_hash(metadata: &Metadata, prehash: &Prehash) -> Result<(), Error> {
    if metadata.image_blake2b != hex(prehash.as_bytes()) {
        return Err(Error::ImageHashMismatch);
    }
    Ok(())
}
