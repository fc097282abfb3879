//! The artifact format end to end, without an engine: encode, read back, and
//! check that every single-byte change, truncation and extension of a signed
//! artifact is refused by the verified reader.

use lucet_artifact::{
    Error, Metadata, encode_signed, encode_unsigned, hex, read_unverified, read_verified,
};
use lucet_signature::{Prehash, PublicKeySet, SecretKey};

fn metadata_for(image: &[u8]) -> (Metadata, Prehash) {
    let prehash = Prehash::of(image);
    let metadata = Metadata {
        image_blake2b: hex(prehash.as_bytes()),
        source_blake2b: hex(Prehash::of(b"source").as_bytes()),
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

    let verified = read_verified(artifact.as_slice(), &keys).expect("verify");
    assert_eq!(verified.image, image);
    assert_eq!(verified.metadata, metadata);
    assert_eq!(verified.signer, key.key_id());

    let mut tried = 0;
    for offset in 0..artifact.len() {
        for bit in [0x01u8, 0x80] {
            let mut tampered = artifact.clone();
            tampered[offset] ^= bit;
            assert!(
                read_verified(tampered.as_slice(), &keys).is_err(),
                "flipping bit {bit:#x} at offset {offset} of {} went unnoticed",
                artifact.len()
            );
            tried += 1;
        }
    }
    for len in 0..artifact.len() {
        assert!(
            read_verified(&artifact[..len], &keys).is_err(),
            "truncated to {len}"
        );
        tried += 1;
    }
    let mut extended = artifact.clone();
    extended.push(0);
    assert!(read_verified(extended.as_slice(), &keys).is_err());
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
        read_verified(signed.as_slice(), &strangers),
        Err(Error::Verification(_))
    ));

    let unsigned = encode_unsigned(&image, &metadata, &prehash).expect("encode");
    let keys = PublicKeySet::new(vec![key.public_key()]).expect("keys");
    assert!(matches!(
        read_verified(unsigned.as_slice(), &keys),
        Err(Error::NotSigned)
    ));
    // Without keys both read, and only the signed one names a (claimed) signer.
    let plain = read_unverified(unsigned.as_slice()).expect("read");
    assert_eq!(plain.image, image);
    assert!(plain.signature.is_none());
    let claimed = read_unverified(signed.as_slice()).expect("read");
    assert_eq!(claimed.signature.map(|s| s.key_id()), Some(key.key_id()));
}

#[test]
fn an_unsigned_image_must_match_its_recorded_hash() {
    let image = image();
    let (metadata, prehash) = metadata_for(&image);
    let mut unsigned = encode_unsigned(&image, &metadata, &prehash).expect("encode");
    unsigned[10] ^= 1;
    assert!(matches!(
        read_unverified(unsigned.as_slice()),
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
    let verified = read_verified(&file, &keys).expect("verify");
    assert_eq!(verified.image, image);
}
