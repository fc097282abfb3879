//! The tamper and truncation sweep: a signed artifact of a real program,
//! changed one byte at a time across every region (ELF header, section
//! headers, code and data sections, each line of the signature block, the
//! footer), truncated at every length class and extended. Every variant must
//! be refused by `lucet-wasi --signature-pk` with exit 1, before the guest
//! runs.

use std::path::PathBuf;

use crate::util::*;

/// Little-endian integer of `N` bytes at `offset`.
fn le(bytes: &[u8], offset: usize, width: usize) -> usize {
    bytes[offset..offset + width]
        .iter()
        .rev()
        .fold(0, |acc, b| (acc << 8) | usize::from(*b))
}

/// `count` offsets spread evenly over `start..end` (both ends included).
fn spread(start: usize, end: usize, count: usize) -> Vec<usize> {
    if end <= start {
        return Vec::new();
    }
    let span = end - start;
    (0..count.min(span))
        .map(|i| start + i * span / count.min(span))
        .collect()
}

/// Offsets to flip, by region, in an artifact whose ELF image ends at `image_len`.
fn regions(artifact: &[u8], image_len: usize) -> Vec<(String, Vec<usize>)> {
    let mut regions = vec![("ELF header".to_string(), (0..64).collect::<Vec<_>>())];
    // ELF64: e_shoff at 0x28, e_shentsize at 0x3a, e_shnum at 0x3c, e_shstrndx at 0x3e.
    let (shoff, shentsize, shnum, shstrndx) = (
        le(artifact, 0x28, 8),
        le(artifact, 0x3a, 2),
        le(artifact, 0x3c, 2),
        le(artifact, 0x3e, 2),
    );
    regions.push((
        "section headers".into(),
        spread(shoff, shoff + shentsize * shnum, 96),
    ));
    let header = |index: usize| shoff + index * shentsize;
    let strtab = le(artifact, header(shstrndx) + 0x18, 8);
    for index in 1..shnum {
        let name_offset = strtab + le(artifact, header(index), 4);
        let name: String = artifact[name_offset..]
            .iter()
            .take_while(|b| **b != 0)
            .map(|b| char::from(*b))
            .collect();
        let (offset, size) = (
            le(artifact, header(index) + 0x18, 8),
            le(artifact, header(index) + 0x20, 8),
        );
        let kind = le(artifact, header(index) + 4, 4);
        // SHT_NOBITS (8) occupies no bytes of the file.
        if kind != 8 && size > 0 && offset + size <= image_len {
            regions.push((format!("section {name}"), spread(offset, offset + size, 12)));
        }
    }
    regions.push(("whole image".into(), spread(64, image_len, 200)));
    let footer = artifact.len() - 16;
    let mut line_start = image_len;
    for (number, line) in artifact[image_len..footer]
        .split_inclusive(|b| *b == b'\n')
        .enumerate()
    {
        regions.push((
            format!("signature line {}", number + 1),
            spread(line_start, line_start + line.len(), 16),
        ));
        line_start += line.len();
    }
    regions.push(("footer".into(), (footer..artifact.len()).collect()));
    regions
}

#[test]
fn every_tampered_truncated_or_extended_artifact_is_refused() {
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("sweep");
    let module = corpus().join("sightglass/shootout/shootout-fib2.plainwasi.wasm");
    let artifact_path = scratch.compile(&module, "fib2", &sk(raw(&secret)));
    let artifact = std::fs::read(&artifact_path).expect("read artifact");
    let footer = artifact.len() - 16;
    let image_len = footer - le(&artifact, footer + 12, 4);
    assert_eq!(&artifact[..4], b"\x7fELF");

    let mut variants: Vec<(String, Vec<u8>)> = Vec::new();
    for (region, offsets) in regions(&artifact, image_len) {
        for offset in offsets {
            let mut bytes = artifact.clone();
            bytes[offset] ^= 0x5a;
            variants.push((format!("{region}: byte {offset} changed"), bytes));
        }
    }
    let mut lengths = vec![
        0,
        1,
        4,
        64,
        image_len / 2,
        image_len - 1,
        image_len,
        image_len + 1,
    ];
    lengths.extend(spread(image_len, footer, 8));
    lengths.extend(footer..artifact.len());
    for len in lengths {
        variants.push((
            format!("truncated to {len} bytes"),
            artifact[..len].to_vec(),
        ));
    }
    for extra in [&b"\0"[..], b"\n", &artifact[footer..], &[0u8; 4096]] {
        let mut bytes = artifact.clone();
        bytes.extend_from_slice(extra);
        variants.push((format!("{} bytes appended", extra.len()), bytes));
    }

    let paths: Vec<(String, PathBuf)> = variants
        .iter()
        .enumerate()
        .map(|(i, (name, bytes))| (name.clone(), scratch.write(&format!("v{i}.so"), bytes)))
        .collect();
    // Two workers: this machine has two cores.
    let accepted: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = paths
            .chunks(paths.len().div_ceil(2))
            .map(|chunk| {
                let public = &public;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .filter_map(|(name, path)| {
                            let output = run(lucet_wasi(pk(public)).arg(path));
                            let refused = output.status == 1
                                && output.stdout.is_empty()
                                && output.stderr.starts_with("lucet-wasi: ")
                                && output.stderr.lines().count() == 1;
                            (!refused).then(|| format!("{name}: {output:?}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker"))
            .collect()
    });
    println!(
        "{} tampered variants tried, {} accepted",
        variants.len(),
        accepted.len()
    );
    assert!(variants.len() >= 500, "only {} variants", variants.len());
    assert!(
        accepted.is_empty(),
        "variants not refused:\n{}",
        accepted.join("\n")
    );
    // The untouched artifact runs, so the refusals above are the tampering's doing.
    let output = run(lucet_wasi(pk(&public)).arg(&artifact_path));
    assert_eq!(output.status, 0, "{output:#?}");
}
