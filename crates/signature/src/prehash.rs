//! The prehash signed by prehashed (`ED`) signatures: BLAKE2b-512 of the data.

use std::fmt;
use std::io;

use crate::constants::PREHASH_LEN;

/// BLAKE2b-512 digest of the signed data.
///
/// Prehashed signatures sign these 64 bytes instead of the data, so data of
/// any size is hashed in a stream with constant memory and verified later.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Prehash([u8; PREHASH_LEN]);

impl Prehash {
    /// The prehash of `data` held in memory.
    pub fn of(data: &[u8]) -> Prehash {
        let mut hasher = Prehasher::for_len(data.len() as u64);
        hasher.update(data);
        hasher.finalize()
    }

    /// The prehash with these bytes, e.g. computed elsewhere.
    pub const fn from_bytes(bytes: [u8; PREHASH_LEN]) -> Prehash {
        Prehash(bytes)
    }

    /// The 64 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; PREHASH_LEN] {
        &self.0
    }

    /// Parses exactly 128 lowercase hexadecimal digits, as `b2sum` and
    /// lucet's metadata write them: one spelling per hash, so lists of
    /// hashes compare as text too.
    pub fn from_lowercase_hex(text: &str) -> Option<Prehash> {
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        let text = text.as_bytes();
        let mut bytes = [0u8; PREHASH_LEN];
        if text.len() != 2 * PREHASH_LEN {
            return None;
        }
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            *byte = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Prehash(bytes))
    }
}

impl fmt::Debug for Prehash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prehash(")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

/// Streaming computation of a [`Prehash`].
///
/// Hashing is the bulk of the cost of verifying a large file, and which
/// BLAKE2b-512 implementation is fastest depends on the CPU: `blake2b_simd`
/// (vectorised, picked at run time) leads on some, RustCrypto's `blake2`
/// (portable) by up to 1.8× on others. Both compute the same function (the
/// interop tests against minisign and rsign2, and the tests below, check
/// it); [`Prehasher::for_len`] hashes a large input with whichever measured
/// faster on this CPU.
#[derive(Clone)]
pub struct Prehasher {
    state: State,
}

#[derive(Clone)]
enum State {
    Simd(blake2b_simd::State),
    Portable(blake2::Blake2b512),
}

/// A BLAKE2b-512 implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Blake2bImplementation {
    /// `blake2b_simd`: AVX2 or SSE4.1 where the CPU has them.
    Simd,
    /// RustCrypto's `blake2`: portable 64-bit code.
    Portable,
}

/// Inputs at least this large are hashed by the implementation measured
/// fastest: measuring costs about 0.3 ms once per process, under 0.5 % of
/// hashing this much.
pub const CHOOSE_IMPLEMENTATION_FROM: u64 = 64 << 20;

impl Blake2bImplementation {
    /// The faster implementation on this CPU, measured once per process on
    /// a few 64 KiB hashes each, interleaved (the best of each counts);
    /// `Portable` only if it is clearly (10 %) faster.
    pub fn fastest() -> Blake2bImplementation {
        static CHOICE: std::sync::OnceLock<Blake2bImplementation> = std::sync::OnceLock::new();
        *CHOICE.get_or_init(|| {
            let data = vec![0x5a_u8; 64 << 10];
            let mut best = [std::time::Duration::MAX; 2];
            for _ in 0..3 {
                for (at, implementation) in [Self::Simd, Self::Portable].into_iter().enumerate() {
                    let start = std::time::Instant::now();
                    let mut hasher = Prehasher::with(implementation);
                    hasher.update(std::hint::black_box(&data));
                    std::hint::black_box(hasher.finalize());
                    best[at] = best[at].min(start.elapsed());
                }
            }
            if best[1] * 10 < best[0] * 9 {
                Self::Portable
            } else {
                Self::Simd
            }
        })
    }
}

impl Prehasher {
    /// A hasher that has seen no data yet, for data of unknown or small
    /// size.
    pub fn new() -> Prehasher {
        Prehasher::with(Blake2bImplementation::Simd)
    }

    /// A hasher for `len` bytes: from [`CHOOSE_IMPLEMENTATION_FROM`] on,
    /// the implementation fastest on this CPU.
    pub fn for_len(len: u64) -> Prehasher {
        if len >= CHOOSE_IMPLEMENTATION_FROM {
            Prehasher::with(Blake2bImplementation::fastest())
        } else {
            Prehasher::new()
        }
    }

    /// A hasher using `implementation`.
    pub fn with(implementation: Blake2bImplementation) -> Prehasher {
        // Unkeyed BLAKE2b with a 64-byte output, which is what libsodium's
        // crypto_generichash_BYTES_MAX gives.
        let state = match implementation {
            Blake2bImplementation::Simd => State::Simd(
                blake2b_simd::Params::new()
                    .hash_length(PREHASH_LEN)
                    .to_state(),
            ),
            Blake2bImplementation::Portable => {
                State::Portable(<blake2::Blake2b512 as blake2::Digest>::new())
            }
        };
        Prehasher { state }
    }

    /// Feeds the next bytes of the data.
    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Simd(state) => {
                state.update(data);
            }
            State::Portable(state) => blake2::Digest::update(state, data),
        }
    }

    /// The prehash of all the data fed so far.
    pub fn finalize(&self) -> Prehash {
        let mut out = [0u8; PREHASH_LEN];
        match &self.state {
            State::Simd(state) => out.copy_from_slice(state.finalize().as_bytes()),
            State::Portable(state) => {
                out.copy_from_slice(&blake2::Digest::finalize(state.clone()));
            }
        }
        Prehash(out)
    }
}

/// Reads `reader` to the end into memory, hashing each chunk as it is
/// appended: the returned prehash is of exactly the returned bytes, which
/// were read once.
pub fn read_hashed(mut reader: impl std::io::Read) -> std::io::Result<(Vec<u8>, Prehash)> {
    let mut bytes = Vec::new();
    let mut hasher = Prehasher::new();
    let mut chunk = vec![0u8; 64 << 10];
    loop {
        let read = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let fresh = chunk.get(..read).unwrap_or_default();
        hasher.update(fresh);
        bytes.extend_from_slice(fresh);
    }
    Ok((bytes, hasher.finalize()))
}

/// A reader that feeds every byte it hands out to a [`Prehasher`], so that a
/// file is hashed as it is read into memory: the prehash is of exactly the
/// bytes read, read once.
pub(crate) struct HashingReader<'h, R> {
    inner: R,
    hasher: &'h mut Prehasher,
}

impl<'h, R: io::Read> HashingReader<'h, R> {
    /// Reads `inner`, hashing into `hasher`.
    pub(crate) fn new(inner: R, hasher: &'h mut Prehasher) -> Self {
        HashingReader { inner, hasher }
    }
}

impl<R: io::Read> io::Read for HashingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(buf.get(..read).unwrap_or_default());
        Ok(read)
    }
}

impl Default for Prehasher {
    fn default() -> Prehasher {
        Prehasher::new()
    }
}

impl fmt::Debug for Prehasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let implementation = match self.state {
            State::Simd(_) => Blake2bImplementation::Simd,
            State::Portable(_) => Blake2bImplementation::Portable,
        };
        f.debug_struct("Prehasher")
            .field("implementation", &implementation)
            .finish_non_exhaustive()
    }
}

/// Lets data be hashed with [`std::io::copy`].
impl io::Write for Prehasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn known_answers() {
        // BLAKE2b-512 test vectors (RFC 7693 appendix A for "abc").
        assert_eq!(
            hex(Prehash::of(b"abc").as_bytes()),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
        assert_eq!(
            hex(Prehash::of(b"").as_bytes()),
            "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419\
             d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce"
        );
    }

    #[test]
    fn lowercase_hex_is_the_one_spelling() {
        let abc = Prehash::of(b"abc");
        assert_eq!(Prehash::from_lowercase_hex(&hex(abc.as_bytes())), Some(abc));
        let upper = hex(abc.as_bytes()).to_uppercase();
        for bad in [
            &upper[..],
            &hex(abc.as_bytes())[1..],
            "",
            "zz",
            &"0".repeat(130),
        ] {
            assert_eq!(Prehash::from_lowercase_hex(bad), None, "{bad}");
        }
    }

    #[test]
    fn streaming_matches_one_shot() {
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut hasher = Prehasher::new();
        for chunk in data.chunks(7_777) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.finalize(), Prehash::of(&data));
        let mut hasher = Prehasher::default();
        std::io::copy(&mut &data[..], &mut hasher).unwrap();
        assert_eq!(hasher.finalize(), Prehash::of(&data));
    }

    #[test]
    fn both_implementations_compute_the_same_hash() {
        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 241) as u8).collect();
        for len in [0, 1, 127, 128, 129, 255, 256, 257, 65_536, 70_000] {
            for chunk in [1, 64, 128, 1000, 70_000] {
                let hash = |implementation| {
                    let mut hasher = Prehasher::with(implementation);
                    for piece in data[..len].chunks(chunk) {
                        hasher.update(piece);
                    }
                    hasher.finalize()
                };
                let simd = hash(Blake2bImplementation::Simd);
                assert_eq!(simd, hash(Blake2bImplementation::Portable), "{len}/{chunk}");
                assert_eq!(simd, Prehash::of(&data[..len]));
            }
        }
        let chosen = Blake2bImplementation::fastest();
        assert_eq!(chosen, Blake2bImplementation::fastest(), "chosen once");
    }

    #[test]
    fn a_hashing_reader_hashes_what_it_hands_out() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let mut hasher = Prehasher::new();
        let mut read = Vec::new();
        io::Read::read_to_end(&mut HashingReader::new(&data[..], &mut hasher), &mut read).unwrap();
        assert_eq!(read, data);
        assert_eq!(hasher.finalize(), Prehash::of(&data));
    }
}
