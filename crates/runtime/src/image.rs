//! The two forms in which a read image is handed to wasmtime, as the core
//! module or the component its verified metadata says it is ([`CodeKind`]).
//!
//! * In memory (`Vec<u8>`): wasmtime copies the bytes into memory of its own
//!   (and copies data segments once more into a memory file of its own for
//!   copy-on-write initialisation), so a load holds the image about three
//!   times over at its peak.
//! * In a [`SealedImage`]: an anonymous memory file the image is written to
//!   as it is read and hashed, sealed against any change once complete.
//!   wasmtime maps it instead of copying, data segments included: a load
//!   holds the image once. This is how files are loaded.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread::JoinHandle;

use lucet_artifact::{ArtifactKind, ArtifactSource, ImageBuffer};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::Error;

/// An image read into an anonymous memory file (Linux `memfd`), sealed
/// against writing, resizing and further seals once complete, so that
/// wasmtime can map the bytes that were hashed and nobody can change them.
#[derive(Debug)]
pub struct SealedImage {
    memfd: memfd::Memfd,
    len: usize,
    chunk: Vec<u8>,
    mover: Mover,
}

/// Images at least this large are read ahead and written into their memory
/// file by a second thread, so that the hashing thread only hashes. Inline,
/// reading costs it a tenth of the hashing time and writing a quarter
/// (BENCHMARKS.md, P1); below this size that is less than starting a thread.
const BACKGROUND_MIN: usize = 8 << 20;

/// Chunk buffers shared by the hashing thread and the image thread.
const CHUNKS_IN_FLIGHT: usize = 3;

/// Who reads chunks and writes them into the memory file.
#[derive(Debug)]
enum Mover {
    /// The hashing thread itself (small images).
    Inline,
    /// The image thread, started at the first chunk, when the source is known.
    Background(Option<ImageThread>),
}

/// A chunk buffer on its way to the hashing thread.
enum Handed {
    /// Read ahead from the artifact file at `offset`.
    Read { offset: u64, bytes: Vec<u8> },
    /// Empty: the source is not a file, so the hashing thread reads into it.
    Empty(Vec<u8>),
}

/// The thread that reads chunks ahead from the artifact file (when the source
/// is one) and writes hashed chunks into the memory file, and the channels
/// that hand buffers to the hashing thread and back.
#[derive(Debug)]
struct ImageThread {
    ready: mpsc::Receiver<io::Result<Handed>>,
    hashed: mpsc::Sender<Vec<u8>>,
    thread: JoinHandle<io::Result<()>>,
}

/// What the image thread owns.
struct ImageWork {
    /// Its own handle to the open artifact file, and the image's length.
    source: Option<(File, u64)>,
    chunk_len: usize,
    memfd: File,
    ready: mpsc::SyncSender<io::Result<Handed>>,
    hashed: mpsc::Receiver<Vec<u8>>,
}

impl ImageThread {
    fn start(work_source: Option<(File, u64)>, chunk_len: usize, memfd: File) -> io::Result<Self> {
        // Never full: no more than CHUNKS_IN_FLIGHT buffers exist.
        let (ready_tx, ready) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
        let (hashed, hashed_rx) = mpsc::channel();
        let work = ImageWork {
            source: work_source,
            chunk_len,
            memfd,
            ready: ready_tx,
            hashed: hashed_rx,
        };
        let thread = std::thread::Builder::new()
            .name("lucet-image".into())
            .spawn(move || work.run())?;
        Ok(ImageThread {
            ready,
            hashed,
            thread,
        })
    }

    /// Waits for every hashed chunk to be written; the thread's error, if any.
    fn finish(self) -> io::Result<()> {
        drop(self.hashed);
        drop(self.ready);
        self.thread
            .join()
            .map_err(|_| io::Error::other("the image thread panicked"))?
    }
}

impl ImageWork {
    /// Hands out buffers (read ahead when the source is a file) while it has
    /// spare ones, and writes each hashed buffer it gets back, in order.
    fn run(mut self) -> io::Result<()> {
        let mut spare: Vec<Vec<u8>> = (0..CHUNKS_IN_FLIGHT).map(|_| Vec::new()).collect();
        let mut next_offset = 0;
        let mut handing_out = true;
        loop {
            if handing_out && let Some(buffer) = spare.pop() {
                let handed = match self.hand_out(buffer, &mut next_offset) {
                    Some(handed) => handed,
                    None => {
                        handing_out = false;
                        continue;
                    }
                };
                let failed = handed.is_err();
                // A send fails once the hashing thread has stopped taking chunks.
                handing_out = self.ready.send(handed).is_ok() && !failed;
                continue;
            }
            match self.hashed.recv() {
                Ok(chunk) => {
                    self.memfd.write_all(&chunk)?;
                    spare.push(chunk);
                }
                // The hashing thread is done: every chunk it hashed came
                // before the hang-up and has been written.
                Err(_) => return Ok(()),
            }
        }
    }

    /// The next buffer for the hashing thread: the next chunk of the file,
    /// read into `buffer`, or `buffer` empty when the source is not a file.
    /// None once the whole image has been read.
    fn hand_out(&self, mut buffer: Vec<u8>, next_offset: &mut u64) -> Option<io::Result<Handed>> {
        let Some((file, len)) = &self.source else {
            return Some(Ok(Handed::Empty(buffer)));
        };
        let offset = *next_offset;
        if offset >= *len {
            return None;
        }
        let want = (self.chunk_len as u64).min(len - offset) as usize;
        buffer.resize(want, 0);
        *next_offset += want as u64;
        let read = std::os::unix::fs::FileExt::read_exact_at(file, &mut buffer, offset);
        Some(read.map(|()| Handed::Read {
            offset,
            bytes: buffer,
        }))
    }
}

impl ImageBuffer for SealedImage {
    fn for_len(len: usize) -> io::Result<Self> {
        let memfd = memfd::MemfdOptions::default()
            .allow_sealing(true)
            .close_on_exec(true)
            .create("lucet-verified-image")
            .map_err(io::Error::other)?;
        let mover = if len >= BACKGROUND_MIN {
            Mover::Background(None)
        } else {
            Mover::Inline
        };
        Ok(SealedImage {
            memfd,
            len,
            chunk: Vec::new(),
            mover,
        })
    }

    fn read_chunk<S: ArtifactSource + ?Sized>(
        &mut self,
        source: &S,
        offset: u64,
        len: usize,
    ) -> io::Result<&[u8]> {
        if let Mover::Background(None) = self.mover {
            self.mover = Mover::Background(Some(self.start_thread(source, len)?));
        }
        let Mover::Background(Some(thread)) = &self.mover else {
            self.chunk.resize(len, 0);
            source.read_exact_at(&mut self.chunk, offset)?;
            return Ok(&self.chunk);
        };
        match thread.ready.recv() {
            Ok(Ok(Handed::Read { offset: at, bytes })) if at == offset && bytes.len() == len => {
                self.chunk = bytes;
            }
            Ok(Ok(Handed::Read { .. })) => {
                return Err(io::Error::other("the image thread read out of step"));
            }
            Ok(Ok(Handed::Empty(mut buffer))) => {
                buffer.resize(len, 0);
                source.read_exact_at(&mut buffer, offset)?;
                self.chunk = buffer;
            }
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(self.thread_failed()),
        }
        Ok(&self.chunk)
    }

    fn commit_chunk(&mut self) -> io::Result<()> {
        match &self.mover {
            // The chunk was hashed as it is: it is handed over, not changed.
            Mover::Background(Some(thread)) => {
                match thread.hashed.send(std::mem::take(&mut self.chunk)) {
                    Ok(()) => Ok(()),
                    Err(_) => Err(self.thread_failed()),
                }
            }
            _ => self.memfd.as_file().write_all(&self.chunk),
        }
    }
}

impl SealedImage {
    /// Starts the image thread, reading ahead from `source` if it is a file,
    /// in chunks of `chunk_len` bytes (the first chunk's length).
    fn start_thread<S: ArtifactSource + ?Sized>(
        &self,
        source: &S,
        chunk_len: usize,
    ) -> io::Result<ImageThread> {
        let file = match source.file() {
            // The same open file, not the path reopened.
            Some(file) => Some((file.try_clone()?, self.len as u64)),
            None => None,
        };
        ImageThread::start(file, chunk_len, self.memfd.as_file().try_clone()?)
    }

    /// The image thread stopped early: its error.
    fn thread_failed(&mut self) -> io::Error {
        let thread = match &mut self.mover {
            Mover::Background(thread) => thread.take(),
            Mover::Inline => None,
        };
        match thread.map(ImageThread::finish) {
            Some(Err(error)) => error,
            _ => io::Error::other("the image thread stopped"),
        }
    }

    fn seal(mut self) -> Result<File, Error> {
        use memfd::FileSeal::{SealGrow, SealSeal, SealShrink, SealWrite};
        if let Mover::Background(Some(thread)) = std::mem::replace(&mut self.mover, Mover::Inline) {
            thread
                .finish()
                .map_err(|e| Error::io("cannot write the image's memory file", e))?;
        }
        let written = self
            .memfd
            .as_file()
            .metadata()
            .map_err(|e| Error::io("cannot read the image's memory file", e))?
            .len();
        if written != self.len as u64 {
            return Err(Error::io(
                "the image's memory file is incomplete",
                io::Error::other(format!("{written} of {} bytes written", self.len)),
            ));
        }
        self.memfd
            .add_seals(&[SealWrite, SealShrink, SealGrow, SealSeal])
            .map_err(|e| Error::io("cannot seal the image's memory file", io::Error::other(e)))?;
        Ok(self.memfd.into_file())
    }
}

/// What an image is compiled code for: wasmtime loads each with a type of
/// its own, and refuses an image of the other kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[doc(hidden)]
pub enum CodeKind {
    /// A core module (`Engine::precompile_module`).
    Module,
    /// A component (`Engine::precompile_component`).
    Component,
}

impl CodeKind {
    /// The kind an artifact's metadata records, if this build loads it.
    pub(crate) fn of(kind: ArtifactKind) -> Result<CodeKind, Error> {
        match kind {
            ArtifactKind::Module => Ok(CodeKind::Module),
            ArtifactKind::Component => Ok(CodeKind::Component),
            // The metadata parser already refuses kinds it does not know.
            other => Err(Error::UnsupportedKind(other)),
        }
    }
}

/// An image loaded into wasmtime, as the kind its artifact records.
#[derive(Debug)]
pub enum LoadedCode {
    /// A core module (`kind=module`).
    Module(Module),
    /// A component (`kind=component`).
    Component(Component),
}

mod private {
    pub trait Sealed {}
    impl Sealed for Vec<u8> {}
    impl Sealed for super::SealedImage {}
}

/// An image form wasmtime can load: `Vec<u8>` or [`SealedImage`] (no
/// others: what reaches wasmtime must be exactly what was hashed).
pub trait EngineImage: private::Sealed {
    #[doc(hidden)]
    fn into_code(self, engine: &Engine, kind: CodeKind) -> Result<LoadedCode, Error>;
}

impl EngineImage for Vec<u8> {
    fn into_code(self, engine: &Engine, kind: CodeKind) -> Result<LoadedCode, Error> {
        // SAFETY: see `load`'s module documentation. `self` is the buffer
        // that was read (and, on the verified path, hashed and verified)
        // exactly once; it is not modified between verification and this
        // call, and wasmtime copies it into memory of its own. `kind` is the
        // one the (verified) metadata records; wasmtime refuses an image of
        // the other kind.
        #[allow(unsafe_code)]
        let code = unsafe {
            match kind {
                CodeKind::Module => Module::deserialize(engine, &self).map(LoadedCode::Module),
                CodeKind::Component => {
                    Component::deserialize(engine, &self).map(LoadedCode::Component)
                }
            }
        };
        code.map_err(Error::Load)
    }
}

impl EngineImage for SealedImage {
    fn into_code(self, engine: &Engine, kind: CodeKind) -> Result<LoadedCode, Error> {
        let file = self.seal()?;
        // wasmtime takes a component's image by path only: this process's
        // own descriptor of the sealed file, which resolves to that very
        // file (no name anyone else can change), held open until the call
        // returns.
        let own_descriptor = format!("/proc/self/fd/{}", file.as_raw_fd());
        // SAFETY: see `load`'s module documentation. The memory file holds
        // exactly the bytes that were hashed (and, on the verified path,
        // verified) as they were written to it, and is sealed against
        // writing, shrinking, growing and further seals before wasmtime
        // maps it: the mapped bytes are those bytes, and stay so. A module
        // is mapped from the descriptor itself; a component from the same
        // file reopened read-only through `own_descriptor` while `file`
        // keeps it open. `kind` is the one the (verified) metadata records;
        // wasmtime refuses an image of the other kind.
        #[allow(unsafe_code)]
        let code = unsafe {
            match kind {
                CodeKind::Module => {
                    Module::deserialize_open_file(engine, file).map(LoadedCode::Module)
                }
                CodeKind::Component => {
                    Component::deserialize_file(engine, &own_descriptor).map(LoadedCode::Component)
                }
            }
        };
        code.map_err(Error::Load)
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Seek};

    use super::*;

    const CHUNK: usize = 1 << 20;

    /// Bytes that differ from chunk to chunk, so that a chunk out of order
    /// or twice shows.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i / 4093 + i) as u8).collect()
    }

    /// Reads `len` bytes from `source` the way the artifact reader does
    /// (in order, in chunks of `CHUNK`), checking that each chunk handed out
    /// is the source's, and seals the result.
    fn read_sealed<S: ArtifactSource + ?Sized>(
        source: &S,
        len: usize,
        expected: &[u8],
    ) -> Result<File, Error> {
        let mut image = SealedImage::for_len(len).map_err(|e| Error::io("for_len", e))?;
        let mut offset = 0;
        while offset < len {
            let want = CHUNK.min(len - offset);
            let chunk = image
                .read_chunk(source, offset as u64, want)
                .map_err(|e| Error::io("read_chunk", e))?;
            assert_eq!(chunk, &expected[offset..offset + want], "chunk at {offset}");
            offset += want;
            image.commit_chunk().map_err(|e| Error::io("commit", e))?;
        }
        image.seal()
    }

    fn contents(mut file: File) -> Vec<u8> {
        let mut bytes = Vec::new();
        file.rewind().expect("rewind");
        file.read_to_end(&mut bytes).expect("read back");
        bytes
    }

    #[test]
    fn a_large_file_is_read_ahead_and_written_whole_in_order() {
        let bytes = pattern(BACKGROUND_MIN + 3 * CHUNK + 12345);
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(&bytes).expect("write the source");
        let sealed = read_sealed(&file, bytes.len(), &bytes).expect("read");
        assert!(contents(sealed) == bytes);
    }

    #[test]
    fn a_large_image_from_memory_is_written_whole_in_order() {
        let bytes = pattern(BACKGROUND_MIN + CHUNK / 2);
        let sealed = read_sealed(&bytes[..], bytes.len(), &bytes).expect("read");
        assert!(contents(sealed) == bytes);
    }

    #[test]
    fn a_small_image_is_copied_inline() {
        let bytes = pattern(CHUNK + 7);
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(&bytes).expect("write the source");
        let image = SealedImage::for_len(bytes.len()).expect("memory file");
        assert!(matches!(image.mover, Mover::Inline));
        let sealed = read_sealed(&file, bytes.len(), &bytes).expect("read");
        assert!(contents(sealed) == bytes);
    }

    #[test]
    fn a_file_shorter_than_its_image_fails_at_its_end_without_hanging() {
        let len = BACKGROUND_MIN + 2 * CHUNK;
        let bytes = pattern(len - CHUNK / 2);
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(&bytes).expect("write the source");
        let mut image = SealedImage::for_len(len).expect("memory file");
        let mut offset = 0;
        let error = loop {
            match image.read_chunk(&file, offset as u64, CHUNK) {
                Ok(_) => {
                    image.commit_chunk().expect("commit");
                    offset += CHUNK;
                }
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
        assert_eq!(offset, len - CHUNK, "the chunks before the end were read");
    }

    #[test]
    fn an_image_given_up_halfway_is_not_sealed_and_does_not_hang() {
        let len = BACKGROUND_MIN + CHUNK;
        let bytes = pattern(len);
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(&bytes).expect("write the source");
        let mut image = SealedImage::for_len(len).expect("memory file");
        for offset in [0, CHUNK] {
            image.read_chunk(&file, offset as u64, CHUNK).expect("read");
            image.commit_chunk().expect("commit");
        }
        let error = image.seal().expect_err("must fail").to_string();
        assert!(error.contains("incomplete"), "{error}");
    }

    #[test]
    fn a_chunk_asked_for_out_of_step_is_refused() {
        let len = BACKGROUND_MIN;
        let bytes = pattern(len);
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(&bytes).expect("write the source");
        let mut image = SealedImage::for_len(len).expect("memory file");
        image.read_chunk(&file, 0, CHUNK).expect("read");
        image.commit_chunk().expect("commit");
        let error = image
            .read_chunk(&file, 2 * CHUNK as u64, CHUNK)
            .expect_err("must fail");
        assert!(error.to_string().contains("out of step"), "{error}");
    }
}
