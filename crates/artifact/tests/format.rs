//! The artifact format end to end, without an engine: encode, read back, and
//! check that every single-byte change, truncation and extension of a signed
//! artifact is refused by the verified reader.

use lucet_artifact::{
    ArtifactKind, Error, Metadata, ReadLimits, encode_signed, encode_unsigned, read_unverified,
    read_verified,
};
use lucet_signature::{Prehash, PublicKeySet, SecretKey};

fn metadata_for(image: &[u8]) -> (Metadata, Prehash) {
    let prehash = Prehash::of(image);
    let metadata = Metadata {
        kind: ArtifactKind::Module,
        name: "app".into(),
        image_len: image.len() as u64,
        image_blake2b: prehash,
        source_blake2b: Prehash::of(b"source"),
        source_key: None,
        engine: "wasmtime-48.0.8".into(),
        target: "x86_64-unknown-linux-gnu".into(),
        cpu: "baseline".into(),
        settings: "opt:speed_and_size,epoch:1,reserve:4294967296,guard:33554432".into(),
        timestamp: 1_700_000_000,
        comment: None,
    };
    (metadata, prehash)
}

fn image() -> Vec<u8> {
    (0..2000u32).map(|i| (i * 7 % 251) as u8).collect()
}

#[test]
fn signed_artifacts_round_trip_and_resist_every_byte_flip() {
    let key = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");

    let verified =
        read_verified(artifact.as_slice(), &keys, ReadLimits::default()).expect("verify");
    assert_eq!(*verified.image(), image);
    assert_eq!(*verified.metadata(), metadata);
    assert_eq!(verified.signer(), key.key_id());

    let mut tried = 0;
    for offset in 0..artifact.len() {
        for bit in [0x01u8, 0x80] {
            let mut tampered = artifact.clone();
            tampered[offset] ^= bit;
            assert!(
                read_verified(tampered.as_slice(), &keys, ReadLimits::default()).is_err(),
                "flipping bit {bit:#x} at offset {offset} of {} went unnoticed",
                artifact.len()
            );
            tried += 1;
        }
    }
    for len in 0..artifact.len() {
        assert!(
            read_verified(&artifact[..len], &keys, ReadLimits::default()).is_err(),
            "truncated to {len}"
        );
        tried += 1;
    }
    let mut extended = artifact.clone();
    extended.push(0);
    assert!(read_verified(extended.as_slice(), &keys, ReadLimits::default()).is_err());
    println!("{} tampered variants refused", tried + 1);
}

#[test]
fn other_keys_and_unsigned_artifacts_are_refused() {
    let key = SecretKey::generate().expect("key");
    let stranger = SecretKey::generate().expect("key");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let signed = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let strangers = PublicKeySet::new(vec![stranger.public_key()]).expect("keys");
    assert!(matches!(
        read_verified(signed.as_slice(), &strangers, ReadLimits::default()),
        Err(Error::Verification(_))
    ));

    let unsigned = encode_unsigned(&image, &metadata, &prehash).expect("encode");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    assert!(matches!(
        read_verified(unsigned.as_slice(), &keys, ReadLimits::default()),
        Err(Error::NotSigned)
    ));
    // Without keys both read, and only the signed one names a (claimed) signer.
    let plain = read_unverified(unsigned.as_slice(), ReadLimits::default()).expect("read");
    assert_eq!(plain.image, image);
    assert!(plain.signature.is_none());
    let claimed = read_unverified(signed.as_slice(), ReadLimits::default()).expect("read");
    assert_eq!(claimed.signature.map(|s| s.key_id()), Some(key.key_id()));
}

#[test]
fn an_unsigned_image_must_match_its_recorded_hash() {
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let mut unsigned = encode_unsigned(&image, &metadata, &prehash).expect("encode");
    unsigned[10] ^= 1;
    assert!(matches!(
        read_unverified(unsigned.as_slice(), ReadLimits::default()),
        Err(Error::ImageHashMismatch)
    ));
}

#[test]
fn files_are_read_through_one_handle() {
    let key = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let mut file = tempfile::tempfile().expect("temp file");
    std::io::Write::write_all(&mut file, &artifact).expect("write");
    let verified = read_verified(&file, &keys, ReadLimits::default()).expect("verify");
    assert_eq!(*verified.image(), image);
}

/// An artifact source `len` bytes long whose last bytes are `tail` (a real
/// signature block and footer) and whose image region is never stored: it
/// records whether anything read it. A 64 GiB "file" costs nothing.
struct SparseFile {
    len: u64,
    tail: Vec<u8>,
    image_read: std::cell::Cell<bool>,
}

impl lucet_artifact::ArtifactSource for SparseFile {
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

/// The block and footer of `artifact`, whose image is `image_len` bytes.
fn tail_of(artifact: &[u8], image_len: usize) -> Vec<u8> {
    artifact[image_len..].to_vec()
}

/// Review finding: a huge or sparse file ending in a trusted artifact's
/// signature block was read whole into memory before it was refused.
#[test]
fn a_huge_file_around_a_valid_block_is_refused_before_its_image_is_read() {
    let key = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let tail = tail_of(&artifact, image.len());
    for len in [64u64 << 30, 3 << 30, artifact.len() as u64 + 1] {
        let sparse = SparseFile {
            len,
            tail: tail.clone(),
            image_read: false.into(),
        };
        let verified = read_verified(&sparse, &keys, ReadLimits::default());
        assert!(
            matches!(verified, Err(Error::ImageLengthMismatch { signed, .. }) if signed == image.len() as u64),
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
    let key = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let sparse = SparseFile {
        len: artifact.len() as u64,
        tail: tail_of(&artifact, image.len()),
        image_read: false.into(),
    };
    let tight = ReadLimits {
        max_image_len: image.len() as u64 - 1,
    };
    assert!(matches!(
        read_verified(&sparse, &keys, tight),
        Err(Error::ImageTooLarge { .. })
    ));
    assert!(matches!(
        read_unverified(&sparse, tight),
        Err(Error::ImageTooLarge { .. })
    ));
    assert!(!sparse.image_read.get());
    let exact = ReadLimits {
        max_image_len: image.len() as u64,
    };
    assert!(read_verified(artifact.as_slice(), &keys, exact).is_ok());
}

/// The metadata (and so the length that bounds the read) is trusted only
/// once the global signature over it verified: a forged comment under a
/// real signature is refused without touching the image.
#[test]
fn the_global_signature_is_checked_before_the_image_is_read() {
    let key = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let text = String::from_utf8(tail_of(&artifact, image.len())).expect("text");
    let forged = text.replacen("name=app", "name=apq", 1);
    assert_ne!(forged, text);
    let sparse = SparseFile {
        len: artifact.len() as u64,
        tail: forged.into_bytes(),
        image_read: false.into(),
    };
    assert!(matches!(
        read_verified(&sparse, &keys, ReadLimits::default()),
        Err(Error::Verification(_))
    ));
    assert!(!sparse.image_read.get());
}

#[test]
fn version_1_artifacts_are_refused_with_recompile() {
    let key = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let mut artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let version_at = artifact.len() - 8;
    artifact[version_at] = 1;
    let error =
        read_verified(artifact.as_slice(), &keys, ReadLimits::default()).expect_err("v1 refused");
    assert!(matches!(error, Error::OlderVersion { found: 1, .. }));
    assert!(error.to_string().contains("recompile"), "{error}");
}

/// `artifact` with `extra` signature texts appended to its block.
fn with_signatures(artifact: &[u8], image_len: usize, extra: &[String]) -> Vec<u8> {
    let block_end = artifact.len() - lucet_artifact::FOOTER_LEN;
    let mut out = artifact[..block_end].to_vec();
    for text in extra {
        out.extend_from_slice(text.as_bytes());
    }
    let footer = lucet_artifact::Footer {
        kind: lucet_artifact::Kind::Signed,
        block_len: (out.len() - image_len) as u32,
    };
    out.extend_from_slice(&footer.encode());
    out
}

#[test]
fn counter_signatures_are_kept_canonical_and_bounded() {
    let key = SecretKey::generate().expect("key");
    let other = SecretKey::generate().expect("key");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let artifact = encode_signed(&image, &metadata, &prehash, &key).expect("encode");
    let sign = |comment: &str| {
        other
            .sign_prehashed(
                &prehash,
                comment,
                lucet_artifact::SIGNATURE_UNTRUSTED_COMMENT,
            )
            .expect("sign")
            .to_text()
    };
    let counter = sign("lucet-countersignature=1 role=release");
    let one = with_signatures(&artifact, image.len(), std::slice::from_ref(&counter));
    let verified = read_verified(one.as_slice(), &keys, ReadLimits::default()).expect("verify");
    assert_eq!(*verified.image(), image);

    let not_counter = with_signatures(&artifact, image.len(), &[sign("anything else")]);
    let too_many = with_signatures(&artifact, image.len(), &vec![counter.clone(); 8]);
    let crlf = with_signatures(&artifact, image.len(), &[counter.replace('\n', "\r\n")]);
    let torn = with_signatures(
        &artifact,
        image.len(),
        &[counter[..counter.len() - 1].into()],
    );
    for (what, bytes) in [
        ("not a counter-signature", not_counter),
        ("nine signatures", too_many),
        ("CRLF", crlf),
        ("torn", torn),
    ] {
        assert!(
            read_verified(bytes.as_slice(), &keys, ReadLimits::default()).is_err(),
            "{what} accepted"
        );
    }
}
