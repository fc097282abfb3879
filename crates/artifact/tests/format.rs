//! The artifact format end to end, without an engine: encode, read back, and
//! check that every single-byte change, truncation and extension of a signed
//! artifact is refused by the verified reader.

use lucet_artifact::{
    ArtifactSource, Countersignature, Error, FOOTER_LEN, Footer, Kind, Metadata, ReadLimits,
    SIGNATURE_UNTRUSTED_COMMENT, VerifiedArtifact, countersign, encode_signed, encode_unsigned,
    read_unverified, read_verified,
};
use lucet_signature::{PublicKeySet, SecretKey};

/// A fake engine image: 2000 bytes of every value.
fn image() -> Vec<u8> {
    (0..2000u32).map(|i| (i * 7 % 251) as u8).collect()
}

/// An artifact of [`image`] signed by a fresh key, and what the tests
/// compare it with.
struct Fixture {
    key: SecretKey,
    /// Trusts `key` alone.
    keys: PublicKeySet,
    image: Vec<u8>,
    metadata: Metadata,
    artifact: Vec<u8>,
}

impl Fixture {
    fn signed() -> Fixture {
        let key = SecretKey::generate().expect("key");
        let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
        let image = image();
        let metadata = Metadata::sample("app", &image, b"source");
        let artifact =
            encode_signed(&image, &metadata, &metadata.image_blake2b, &key).expect("encode");
        Fixture {
            key,
            keys,
            image,
            metadata,
            artifact,
        }
    }

    /// The same image and metadata in an unsigned artifact.
    fn unsigned(&self) -> Vec<u8> {
        encode_unsigned(&self.image, &self.metadata, &self.metadata.image_blake2b).expect("encode")
    }

    /// `read_verified` of `source`, trusting the fixture's key, with the
    /// default limits.
    fn verify<S: ArtifactSource + ?Sized>(&self, source: &S) -> Result<VerifiedArtifact, Error> {
        read_verified(source, &self.keys, ReadLimits::default())
    }

    /// The signature block and footer: what follows the image.
    fn tail(&self) -> &[u8] {
        &self.artifact[self.image.len()..]
    }

    /// The artifact with `extra` signature texts appended to its block.
    fn with_signatures(&self, extra: &[String]) -> Vec<u8> {
        let block_end = self.artifact.len() - FOOTER_LEN;
        let mut out = self.artifact[..block_end].to_vec();
        for text in extra {
            out.extend_from_slice(text.as_bytes());
        }
        let footer = Footer {
            kind: Kind::Signed,
            block_len: (out.len() - self.image.len()) as u32,
        };
        out.extend_from_slice(&footer.encode());
        out
    }
}

/// Every single-bit flip (of the lowest and highest bit of each byte),
/// truncation and one-byte extension of `artifact`, each with what was done.
fn tampered(artifact: &[u8]) -> impl Iterator<Item = (String, Vec<u8>)> + '_ {
    let len = artifact.len();
    let flips = (0..len).flat_map(move |offset| {
        [0x01u8, 0x80].map(|bit| {
            let mut bytes = artifact.to_vec();
            bytes[offset] ^= bit;
            let what = format!("flipping bit {bit:#x} at offset {offset} of {len}");
            (what, bytes)
        })
    });
    let truncations = (0..len).map(|to| (format!("truncated to {to}"), artifact[..to].to_vec()));
    let mut extended = artifact.to_vec();
    extended.push(0);
    let extension = std::iter::once(("extended by one byte".to_owned(), extended));
    flips.chain(truncations).chain(extension)
}

#[test]
fn signed_artifacts_round_trip_and_resist_every_byte_flip() {
    let fx = Fixture::signed();
    let verified = fx.verify(fx.artifact.as_slice()).expect("verify");
    assert_eq!(*verified.image(), fx.image);
    assert_eq!(*verified.metadata(), fx.metadata);
    assert_eq!(verified.signer(), fx.key.key_id());

    let mut refused = 0;
    for (what, bytes) in tampered(&fx.artifact) {
        assert!(
            fx.verify(bytes.as_slice()).is_err(),
            "{what} went unnoticed"
        );
        refused += 1;
    }
    println!("{refused} tampered variants refused");
}

#[test]
fn other_keys_and_unsigned_artifacts_are_refused() {
    let fx = Fixture::signed();
    let stranger = SecretKey::generate().expect("key");
    let strangers = PublicKeySet::new(vec![stranger.public_key()]).expect("keys");
    assert!(matches!(
        read_verified(fx.artifact.as_slice(), &strangers, ReadLimits::default()),
        Err(Error::Verification(_))
    ));

    let unsigned = fx.unsigned();
    assert!(matches!(
        fx.verify(unsigned.as_slice()),
        Err(Error::NotSigned)
    ));
    // Without keys both read, and only the signed one names a (claimed) signer.
    let plain = read_unverified(unsigned.as_slice(), ReadLimits::default()).expect("read");
    assert_eq!(plain.image, fx.image);
    assert!(plain.signature.is_none());
    let claimed = read_unverified(fx.artifact.as_slice(), ReadLimits::default()).expect("read");
    assert_eq!(claimed.signature.map(|s| s.key_id()), Some(fx.key.key_id()));
}

#[test]
fn an_unsigned_image_must_match_its_recorded_hash() {
    let mut unsigned = Fixture::signed().unsigned();
    unsigned[10] ^= 1;
    assert!(matches!(
        read_unverified(unsigned.as_slice(), ReadLimits::default()),
        Err(Error::ImageHashMismatch)
    ));
}

#[test]
fn files_are_read_through_one_handle() {
    let fx = Fixture::signed();
    let mut file = tempfile::tempfile().expect("temp file");
    std::io::Write::write_all(&mut file, &fx.artifact).expect("write");
    let verified = fx.verify(&file).expect("verify");
    assert_eq!(*verified.image(), fx.image);
}

/// An artifact source `len` bytes long whose last bytes are `tail` (a real
/// signature block and footer) and whose image region is never stored: it
/// records whether anything read it. A 64 GiB "file" costs nothing.
struct SparseFile {
    len: u64,
    tail: Vec<u8>,
    image_read: std::cell::Cell<bool>,
}

impl SparseFile {
    fn new(len: u64, tail: &[u8]) -> SparseFile {
        SparseFile {
            len,
            tail: tail.to_vec(),
            image_read: false.into(),
        }
    }
}

impl ArtifactSource for SparseFile {
    fn byte_len(&self) -> std::io::Result<u64> {
        Ok(self.len)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        let tail_start = self.len - self.tail.len() as u64;
        if offset < tail_start {
            self.image_read.set(true);
            buf.fill(0);
            return Ok(());
        }
        let start = (offset - tail_start) as usize;
        let part = self
            .tail
            .get(start..start + buf.len())
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(part);
        Ok(())
    }
}

/// Review finding: a huge or sparse file ending in a trusted artifact's
/// signature block was read whole into memory before it was refused.
#[test]
fn a_huge_file_around_a_valid_block_is_refused_before_its_image_is_read() {
    let fx = Fixture::signed();
    let signed_len = fx.image.len() as u64;
    for len in [64u64 << 30, 3 << 30, fx.artifact.len() as u64 + 1] {
        let sparse = SparseFile::new(len, fx.tail());
        let verified = fx.verify(&sparse);
        assert!(
            matches!(verified, Err(Error::ImageLengthMismatch { signed, .. }) if signed == signed_len),
            "{len}: {verified:?}"
        );
        let unverified = read_unverified(&sparse, ReadLimits::default());
        assert!(
            matches!(unverified, Err(Error::ImageLengthMismatch { .. })),
            "{len}: {unverified:?}"
        );
        assert!(!sparse.image_read.get(), "{len}: the image region was read");
    }
}

#[test]
fn the_size_cap_is_checked_before_the_image_is_read() {
    let fx = Fixture::signed();
    let sparse = SparseFile::new(fx.artifact.len() as u64, fx.tail());
    let tight = ReadLimits {
        max_image_len: fx.image.len() as u64 - 1,
    };
    assert!(matches!(
        read_verified(&sparse, &fx.keys, tight),
        Err(Error::ImageTooLarge { .. })
    ));
    assert!(matches!(
        read_unverified(&sparse, tight),
        Err(Error::ImageTooLarge { .. })
    ));
    assert!(!sparse.image_read.get());
    let exact = ReadLimits {
        max_image_len: fx.image.len() as u64,
    };
    assert!(read_verified(fx.artifact.as_slice(), &fx.keys, exact).is_ok());
}

/// The metadata (and so the length that bounds the read) is trusted only
/// once the global signature over it verified: a forged comment under a
/// real signature is refused without touching the image.
#[test]
fn the_global_signature_is_checked_before_the_image_is_read() {
    let fx = Fixture::signed();
    let text = std::str::from_utf8(fx.tail()).expect("text");
    let forged = text.replacen("name=app", "name=apq", 1);
    assert_ne!(forged, text);
    let sparse = SparseFile::new(fx.artifact.len() as u64, forged.as_bytes());
    assert!(matches!(fx.verify(&sparse), Err(Error::Verification(_))));
    assert!(!sparse.image_read.get());
}

#[test]
fn version_1_artifacts_are_refused_with_recompile() {
    let fx = Fixture::signed();
    let mut artifact = fx.artifact.clone();
    let version_at = artifact.len() - 8;
    artifact[version_at] = 1;
    let error = fx.verify(artifact.as_slice()).expect_err("v1 refused");
    assert!(matches!(error, Error::OlderVersion { found: 1, .. }));
    assert!(error.to_string().contains("recompile"), "{error}");
}

#[test]
fn counter_signatures_are_kept_canonical_and_bounded() {
    let fx = Fixture::signed();
    let other = SecretKey::generate().expect("key");
    let sign = |comment: &str| {
        other
            .sign_prehashed(
                &fx.metadata.image_blake2b,
                comment,
                SIGNATURE_UNTRUSTED_COMMENT,
            )
            .expect("sign")
            .to_text()
    };
    let counter = sign("lucet-countersignature=1 role=release");
    let one = fx.with_signatures(std::slice::from_ref(&counter));
    let verified = fx.verify(one.as_slice()).expect("verify");
    assert_eq!(*verified.image(), fx.image);

    for (what, extra) in [
        ("not a counter-signature", vec![sign("anything else")]),
        ("nine signatures", vec![counter.clone(); 8]),
        ("CRLF", vec![counter.replace('\n', "\r\n")]),
        ("torn", vec![counter[..counter.len() - 1].into()]),
    ] {
        let bytes = fx.with_signatures(&extra);
        assert!(fx.verify(bytes.as_slice()).is_err(), "{what} accepted");
    }
}

#[test]
fn counter_signatures_by_trusted_keys_are_verified_and_returned() {
    let fx = Fixture::signed();
    let release = SecretKey::generate().expect("key");
    let stranger = SecretKey::generate().expect("key");
    let line = |role: &str| Countersignature {
        role: role.into(),
        timestamp: 1767225600,
    };
    let signed = fx.verify(fx.artifact.as_slice()).expect("verify");
    let once = countersign(&fx.artifact, &signed, &release, &line("release")).expect("countersign");
    let once_read = fx.verify(once.as_slice()).expect("verify");
    let twice = countersign(&once, &once_read, &stranger, &line("security")).expect("countersign");
    // The image and the artifact signature are kept byte for byte.
    assert_eq!(
        twice[..fx.artifact.len() - FOOTER_LEN],
        fx.artifact[..fx.artifact.len() - FOOTER_LEN]
    );

    let trusting =
        PublicKeySet::new(vec![fx.key.public_key(), release.public_key()]).expect("keys");
    let verified =
        read_verified(twice.as_slice(), &trusting, ReadLimits::default()).expect("verify");
    let counted: Vec<_> = verified
        .countersignatures()
        .iter()
        .map(|c| (c.signer(), c.countersignature().role.as_str()))
        .collect();
    // The stranger's counter-signature is not trusted, so not returned.
    assert_eq!(counted, [(release.key_id(), "release")]);
    // A reader trusting only the artifact signer still loads it.
    assert!(
        fx.verify(twice.as_slice())
            .expect("verify")
            .countersignatures()
            .is_empty()
    );

    // The same key twice, or a counter-signature of an unsigned artifact: refused.
    assert!(countersign(&once, &once_read, &release, &line("release")).is_err());
    assert!(countersign(&once, &once_read, &fx.key, &line("release")).is_err());
    assert!(matches!(
        countersign(&fx.unsigned(), &signed, &release, &line("x")),
        Err(Error::NotSigned)
    ));

    // A counter-signature by a trusted key that does not verify refuses the
    // artifact: its role byte changed, so its global signature fails.
    let mut altered = once.clone();
    let at = find(&altered, b"role=release").expect("role") + 5;
    altered[at] = b'R';
    let error =
        read_verified(altered.as_slice(), &trusting, ReadLimits::default()).expect_err("altered");
    assert!(
        matches!(error, Error::CountersignatureRefused { .. }),
        "{error:?}"
    );
}

#[test]
fn a_newer_counter_signature_line_is_not_counted_but_loads() {
    let fx = Fixture::signed();
    let later = SecretKey::generate().expect("key");
    let text = later
        .sign_prehashed(
            &fx.metadata.image_blake2b,
            "lucet-countersignature=2 role=release quorum=3",
            SIGNATURE_UNTRUSTED_COMMENT,
        )
        .expect("sign")
        .to_text();
    let bytes = fx.with_signatures(&[text]);
    let trusting = PublicKeySet::new(vec![fx.key.public_key(), later.public_key()]).expect("keys");
    let verified =
        read_verified(bytes.as_slice(), &trusting, ReadLimits::default()).expect("verify");
    assert!(verified.countersignatures().is_empty());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}
