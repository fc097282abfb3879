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

/// Where an artifact's image is copied as it is read. The reader asks for
/// room for each chunk, reads the chunk into it, hashes it there and only
/// then commits it: the bytes kept are the bytes hashed.
pub trait ImageBuffer: Sized {
    /// An empty buffer for an image of `len` bytes.
    fn for_len(len: usize) -> io::Result<Self>;
    /// Room for the next `len` bytes of the image.
    fn next_chunk(&mut self, len: usize) -> io::Result<&mut [u8]>;
    /// The chunk last returned by [`next_chunk`](ImageBuffer::next_chunk)
    /// has been read and hashed.
    fn commit_chunk(&mut self) -> io::Result<()>;
}

/// The image in memory, read in place. Allocated zeroed whole at once (pages
/// the kernel zeroes lazily) rather than grown and zero-filled chunk by
/// chunk, which would write every byte twice.
struct InMemory {
    bytes: Vec<u8>,
    filled: usize,
    pending: usize,
}

impl ImageBuffer for InMemory {
    fn for_len(len: usize) -> io::Result<Self> {
        Ok(InMemory {
            bytes: vec![0; len],
            filled: 0,
            pending: 0,
        })
    }
    fn next_chunk(&mut self, len: usize) -> io::Result<&mut [u8]> {
        self.pending = len;
        let end = self.filled.saturating_add(len);
        self.bytes
            .get_mut(self.filled..end)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
    }
    fn commit_chunk(&mut self) -> io::Result<()> {
        self.filled += self.pending;
        self.pending = 0;
        Ok(())
    }
}

/// An artifact whose signature verified against a trusted key.
#[derive(Debug)]
pub struct VerifiedArtifact<I = Vec<u8>> {
    /// The engine image: exactly the bytes the signature covers.
    pub image: I,
    /// The signed metadata.
    pub metadata: Metadata,
    /// The trusted key that signed it.
    pub signer: KeyId,
    /// The verified signature (its trusted comment is the metadata line).
    pub signature: SignatureBox,
}

/// An artifact read without verification. Nothing in it is authenticated.
#[derive(Debug)]
pub struct UnverifiedArtifact<I = Vec<u8>> {
    /// The engine image.
    pub image: I,
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
    let artifact = read_verified_into::<InMemory, S>(source, keys)?;
    Ok(VerifiedArtifact {
        image: artifact.image.bytes,
        metadata: artifact.metadata,
        signer: artifact.signer,
        signature: artifact.signature,
    })
}

/// [`read_verified`], with the image copied into an [`ImageBuffer`] of the
/// caller's choice (a sealed memory file, for instance).
pub fn read_verified_into<I: ImageBuffer, S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
) -> Result<VerifiedArtifact<I>, Error> {
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
    let artifact = read_unverified_into::<InMemory, S>(source)?;
    Ok(UnverifiedArtifact {
        image: artifact.image.bytes,
        metadata: artifact.metadata,
        signature: artifact.signature,
    })
}

/// [`read_unverified`], with the image copied into an [`ImageBuffer`] of the
/// caller's choice.
pub fn read_unverified_into<I: ImageBuffer, S: ArtifactSource + ?Sized>(
    source: &S,
) -> Result<UnverifiedArtifact<I>, Error> {
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
fn read_image<I: ImageBuffer, S: ArtifactSource + ?Sized>(
    source: &S,
    len: u64,
) -> Result<(I, Prehash), Error> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut image = I::for_len(len)?;
    let mut hasher = Prehasher::new();
    let mut offset = 0;
    while offset < len {
        let want = READ_CHUNK.min(len - offset);
        let chunk = image.next_chunk(want)?;
        if chunk.len() != want {
            return Err(io::Error::other("image buffer gave a chunk of the wrong size").into());
        }
        source.read_exact_at(chunk, offset as u64)?;
        hasher.update(chunk);
        offset += chunk.len();
        image.commit_chunk()?;
    }
    Ok((image, hasher.finalize()))
}

fn check_image_hash(metadata: &Metadata, prehash: &Prehash) -> Result<(), Error> {
    if metadata.image_blake2b != hex(prehash.as_bytes()) {
        return Err(Error::ImageHashMismatch);
    }
    Ok(())
}
