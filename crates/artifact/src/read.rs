//! Reading artifacts: the verified path and the separately named unverified one.

use std::io;

use lucet_signature::{KeyId, Legacy, Prehash, Prehasher, PublicKeySet, SignatureBox};

use crate::Error;
use crate::countersign::{VerifiedCountersignature, verify_countersignatures};
use crate::footer::{FOOTER_LEN, Footer, Kind, MAX_SIGNATURES};
use crate::metadata::Metadata;
use crate::write::SIGNATURE_UNTRUSTED_COMMENT;

/// Bytes are hashed in chunks of this size as they are read into the image buffer.
const READ_CHUNK: usize = 1 << 20;

/// Something an artifact can be read from by offset: an open file (read once,
/// through this handle or a duplicate of it, never re-opened by path) or
/// bytes already in memory.
pub trait ArtifactSource {
    /// Total length in bytes.
    fn byte_len(&self) -> io::Result<u64>;
    /// Fills `buf` from `offset`, failing if the source ends first.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// The open file this source is, if it is one: an [`ImageBuffer`] may
    /// read the image ahead through its own handle to the same open file.
    /// It must hold the bytes `read_exact_at` reads, at the same offsets
    /// (whatever it holds is hashed and checked all the same).
    fn file(&self) -> Option<&std::fs::File> {
        None
    }
}

impl ArtifactSource for std::fs::File {
    fn byte_len(&self) -> io::Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
    fn file(&self) -> Option<&std::fs::File> {
        Some(self)
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
/// each chunk in turn, hashes the bytes it is given and only then commits
/// them: the bytes kept are the bytes hashed, so a buffer must keep exactly
/// the bytes it handed out, unchanged.
pub trait ImageBuffer: Sized {
    /// An empty buffer for an image of `len` bytes.
    fn for_len(len: usize) -> io::Result<Self>;
    /// The `len` bytes of the image at `offset` of `source`, read into room
    /// of the buffer's own: by this call, or ahead of it through
    /// [`ArtifactSource::file`]. Chunks are asked for in order, from offset 0,
    /// each as long as the first but the last, which may be shorter.
    fn read_chunk<S: ArtifactSource + ?Sized>(
        &mut self,
        source: &S,
        offset: u64,
        len: usize,
    ) -> io::Result<&[u8]>;
    /// The chunk last returned by [`read_chunk`](ImageBuffer::read_chunk)
    /// has been hashed.
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
    fn read_chunk<S: ArtifactSource + ?Sized>(
        &mut self,
        source: &S,
        offset: u64,
        len: usize,
    ) -> io::Result<&[u8]> {
        self.pending = len;
        let end = self.filled.saturating_add(len);
        let room = self
            .bytes
            .get_mut(self.filled..end)
            .ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))?;
        source.read_exact_at(room, offset)?;
        Ok(room)
    }
    fn commit_chunk(&mut self) -> io::Result<()> {
        self.filled += self.pending;
        self.pending = 0;
        Ok(())
    }
}

/// Caps a reader checks before it reads or allocates anything for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimits {
    /// Largest engine image accepted, in bytes.
    pub max_image_len: u64,
}

/// The default image cap: far above any program's code, far below what
/// would exhaust a host.
pub const DEFAULT_MAX_IMAGE_LEN: u64 = 1 << 30;

impl Default for ReadLimits {
    fn default() -> Self {
        ReadLimits {
            max_image_len: DEFAULT_MAX_IMAGE_LEN,
        }
    }
}

/// Trusted comments of counter-signatures start with this (see
/// [`crate::Countersignature`] for the line).
pub const COUNTERSIGNATURE_PREFIX: &str = "lucet-countersignature=";

/// An artifact whose signature verified against a trusted key. Only the
/// verified readers make one: its fields are reachable through accessors.
#[derive(Debug)]
pub struct VerifiedArtifact<I = Vec<u8>> {
    image: I,
    metadata: Metadata,
    signer: KeyId,
    signature: SignatureBox,
    countersignatures: Vec<VerifiedCountersignature>,
    block_countersignatures: Vec<SignatureBox>,
}

impl<I> VerifiedArtifact<I> {
    /// The engine image: exactly the bytes the signature covers.
    pub fn image(&self) -> &I {
        &self.image
    }
    /// The signed metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }
    /// The trusted key that signed it.
    pub fn signer(&self) -> KeyId {
        self.signer
    }
    /// The verified signature (its trusted comment is the metadata line).
    pub fn signature(&self) -> &SignatureBox {
        &self.signature
    }
    /// The counter-signatures made by trusted keys, each verified over the
    /// same image; those by other keys are not here.
    pub fn countersignatures(&self) -> &[VerifiedCountersignature] {
        &self.countersignatures
    }
    /// Every counter-signature in the block, in order, as parsed: those
    /// [`countersignatures`](VerifiedArtifact::countersignatures) returns
    /// and those by keys not trusted (never verified).
    pub fn countersignatures_in_block(&self) -> &[SignatureBox] {
        &self.block_countersignatures
    }
    /// The image and the signed metadata, for loading.
    pub fn into_image(self) -> (I, Metadata) {
        (self.image, self.metadata)
    }
}

#[cfg(test)]
impl VerifiedArtifact<()> {
    /// A "verified" artifact for the policy's unit tests, which cannot sign.
    pub(crate) fn for_test(
        metadata: Metadata,
        signer: KeyId,
        countersignatures: Vec<VerifiedCountersignature>,
        signature: SignatureBox,
    ) -> Self {
        VerifiedArtifact {
            image: (),
            metadata,
            signer,
            signature,
            countersignatures,
            block_countersignatures: Vec::new(),
        }
    }
}

/// An artifact read without verification. Nothing in it is authenticated.
#[derive(Debug)]
pub struct UnverifiedArtifact<I = Vec<u8>> {
    /// The engine image.
    pub image: I,
    /// The metadata, unauthenticated.
    pub metadata: Metadata,
    /// The signature block's artifact signature, if it has one: parsed, NOT verified.
    pub signature: Option<SignatureBox>,
    /// The counter-signatures after it: parsed, NOT verified.
    pub countersignatures: Vec<SignatureBox>,
}

/// Reads an artifact, verifies its signature against `keys`, and returns the
/// verified image and metadata.
///
/// Order matters and is the point of this function: footer, then signature
/// block, then key selection (an unknown key or a legacy signature is
/// refused), then the global signature (which authenticates the metadata),
/// then the signed image length against the file and `limits` — all before
/// a byte of the image is read or allocated for. Then the image is hashed
/// while it is copied into the returned buffer and the signature over it is
/// checked. The image is never parsed here at all.
pub fn read_verified<S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
    limits: ReadLimits,
) -> Result<VerifiedArtifact, Error> {
    let artifact = read_verified_into::<InMemory, S>(source, keys, limits)?;
    Ok(VerifiedArtifact {
        image: artifact.image.bytes,
        metadata: artifact.metadata,
        signer: artifact.signer,
        signature: artifact.signature,
        countersignatures: artifact.countersignatures,
        block_countersignatures: artifact.block_countersignatures,
    })
}

/// [`read_verified`], with the image copied into an [`ImageBuffer`] of the
/// caller's choice (a sealed memory file, for instance).
pub fn read_verified_into<I: ImageBuffer, S: ArtifactSource + ?Sized>(
    source: &S,
    keys: &PublicKeySet,
    limits: ReadLimits,
) -> Result<VerifiedArtifact<I>, Error> {
    let (footer, file_len) = read_footer(source)?;
    if footer.kind != Kind::Signed {
        return Err(Error::NotSigned);
    }
    let (signature, countersignatures) = read_signature_block(source, &footer, file_len)?;
    let key = keys
        .select(&signature, Legacy::Refuse)
        .map_err(Error::Verification)?;
    let comment = key
        .verify_comment(&signature)
        .map_err(Error::Verification)?;
    let metadata = Metadata::parse(comment.trusted_comment())?;
    let image_len = check_image_len(&metadata, footer.image_len(file_len), limits)?;
    let (image, prehash) = read_image(source, image_len)?;
    comment
        .verify_prehashed(&prehash)
        .map_err(Error::Verification)?;
    check_image_hash(&metadata, &prehash)?;
    let verified = verify_countersignatures(&countersignatures, keys, &prehash)?;
    Ok(VerifiedArtifact {
        image,
        metadata,
        signer: key.key_id(),
        signature,
        countersignatures: verified,
        block_countersignatures: countersignatures,
    })
}

/// Reads an artifact without verifying anything. For use only when the
/// caller configured no trusted key; the name says what it does not do.
/// The (unauthenticated) image length and `limits` still bound what is read.
pub fn read_unverified<S: ArtifactSource + ?Sized>(
    source: &S,
    limits: ReadLimits,
) -> Result<UnverifiedArtifact, Error> {
    let artifact = read_unverified_into::<InMemory, S>(source, limits)?;
    Ok(UnverifiedArtifact {
        image: artifact.image.bytes,
        metadata: artifact.metadata,
        signature: artifact.signature,
        countersignatures: artifact.countersignatures,
    })
}

/// [`read_unverified`], with the image copied into an [`ImageBuffer`] of the
/// caller's choice.
pub fn read_unverified_into<I: ImageBuffer, S: ArtifactSource + ?Sized>(
    source: &S,
    limits: ReadLimits,
) -> Result<UnverifiedArtifact<I>, Error> {
    let (footer, file_len) = read_footer(source)?;
    let (metadata_line, signature, countersignatures) = match footer.kind {
        Kind::Signed => {
            let (signature, countersignatures) = read_signature_block(source, &footer, file_len)?;
            (
                signature.trusted_comment().to_string(),
                Some(signature),
                countersignatures,
            )
        }
        Kind::Unsigned => {
            let block = read_block(source, &footer, file_len)?;
            let line = block
                .strip_suffix(b"\n")
                .and_then(|line| std::str::from_utf8(line).ok())
                .ok_or_else(|| {
                    Error::Metadata("block is not one UTF-8 line ending in LF".into())
                })?;
            (line.to_string(), None, Vec::new())
        }
    };
    let metadata = Metadata::parse(&metadata_line)?;
    let image_len = check_image_len(&metadata, footer.image_len(file_len), limits)?;
    let (image, prehash) = read_image(source, image_len)?;
    check_image_hash(&metadata, &prehash)?;
    Ok(UnverifiedArtifact {
        image,
        metadata,
        signature,
        countersignatures,
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

/// Reads a signed block and returns its artifact signature and its
/// counter-signatures, having checked that every one is in canonical form.
fn read_signature_block<S: ArtifactSource + ?Sized>(
    source: &S,
    footer: &Footer,
    file_len: u64,
) -> Result<(SignatureBox, Vec<SignatureBox>), Error> {
    let block = read_block(source, footer, file_len)?;
    let mut signatures = split_signatures(&block)?.into_iter();
    let primary = signatures
        .next()
        .ok_or_else(|| Error::BadSignatureBlock("it holds no signature".into()))?;
    if primary
        .trusted_comment()
        .starts_with(COUNTERSIGNATURE_PREFIX)
    {
        return Err(Error::BadSignatureBlock(
            "its first signature is a counter-signature".into(),
        ));
    }
    let countersignatures: Vec<SignatureBox> = signatures.collect();
    if countersignatures.iter().any(|countersignature| {
        !countersignature
            .trusted_comment()
            .starts_with(COUNTERSIGNATURE_PREFIX)
    }) {
        return Err(Error::BadSignatureBlock(
            "a signature after the first is not a counter-signature".into(),
        ));
    }
    Ok((primary, countersignatures))
}

/// Splits a block into its 4-line signatures, each parsed and checked for
/// the one encoding lucetc writes.
pub(crate) fn split_signatures(block: &[u8]) -> Result<Vec<SignatureBox>, Error> {
    let mut signatures = Vec::new();
    let mut rest = block;
    while !rest.is_empty() {
        if signatures.len() == MAX_SIGNATURES {
            return Err(Error::BadSignatureBlock(format!(
                "it holds more than {MAX_SIGNATURES} signatures"
            )));
        }
        // A signature is four LF-terminated lines; a shorter rest is handed
        // to the parser whole, which names what is missing.
        let len = rest
            .iter()
            .enumerate()
            .filter(|(_, byte)| **byte == b'\n')
            .nth(3)
            .map_or(rest.len(), |(at, _)| at + 1);
        let (text, tail) = rest.split_at(len);
        signatures.push(parse_canonical_signature(text)?);
        rest = tail;
    }
    Ok(signatures)
}

fn parse_canonical_signature(text: &[u8]) -> Result<SignatureBox, Error> {
    let signature = SignatureBox::parse(text).map_err(Error::Signature)?;
    // Minisign tolerates variations (CRLF, other untrusted comments) that
    // would let bytes of the artifact change without the load failing.
    if signature.untrusted_comment() != SIGNATURE_UNTRUSTED_COMMENT {
        return Err(Error::NonCanonicalBlock("unexpected untrusted comment"));
    }
    if signature.to_text().as_bytes() != text {
        return Err(Error::NonCanonicalBlock("encoding differs from lucetc's"));
    }
    Ok(signature)
}

/// The image length the metadata records, once it matches the file and the
/// cap: checked before anything is read or allocated for the image.
fn check_image_len(metadata: &Metadata, found: u64, limits: ReadLimits) -> Result<u64, Error> {
    if metadata.image_len != found {
        return Err(Error::ImageLengthMismatch {
            signed: metadata.image_len,
            found,
        });
    }
    if found > limits.max_image_len {
        return Err(Error::ImageTooLarge {
            len: found,
            max: limits.max_image_len,
        });
    }
    Ok(found)
}

/// Reads the image into a buffer of its own, hashing each chunk as it lands:
/// the bytes hashed are the bytes returned, and the file is read once.
fn read_image<I: ImageBuffer, S: ArtifactSource + ?Sized>(
    source: &S,
    len: u64,
) -> Result<(I, Prehash), Error> {
    let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::OutOfMemory))?;
    let mut image = I::for_len(len)?;
    // A large image is hashed by the BLAKE2b-512 implementation fastest on this CPU.
    let mut hasher = Prehasher::for_len(len as u64);
    let mut offset = 0;
    while offset < len {
        let want = READ_CHUNK.min(len - offset);
        let chunk = image.read_chunk(source, offset as u64, want)?;
        if chunk.len() != want {
            return Err(io::Error::other("image buffer gave a chunk of the wrong size").into());
        }
        hasher.update(chunk);
        offset += chunk.len();
        image.commit_chunk()?;
    }
    Ok((image, hasher.finalize()))
}

fn check_image_hash(metadata: &Metadata, prehash: &Prehash) -> Result<(), Error> {
    if metadata.image_blake2b != *prehash {
        return Err(Error::ImageHashMismatch);
    }
    Ok(())
}
