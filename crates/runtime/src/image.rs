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
    /// The image thread stopped early: nothing more is read, written or sealed.
    Failed,
}

/// A chunk buffer on its way to the hashing thread.
enum Handed {
    /// Read ahead from the artifact file at `offset`.
    Read { offset: u64, bytes: Vec<u8> },
    /// A spare buffer (its bytes are stale): the source is not a file, so
    /// the hashing thread reads the chunk into it.
    Spare(Vec<u8>),
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
    /// Dropped once nothing more will be handed out, so that a hashing
    /// thread asking for more learns it at once instead of waiting forever.
    ready: Option<mpsc::SyncSender<io::Result<Handed>>>,
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
            ready: Some(ready_tx),
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
        loop {
            if let Some(ready) = &self.ready
                && let Some(buffer) = spare.pop()
            {
                let handed = self.hand_out(buffer, &mut next_offset);
                let more = matches!(handed, Some(Ok(_)));
                // A send fails once the hashing thread has stopped taking chunks.
                let sent = handed.is_some_and(|handed| ready.send(handed).is_ok());
                if !(more && sent) {
                    self.ready = None;
                }
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
    /// read into `buffer`, or `buffer` as a spare when the source is not a
    /// file. None once the whole image has been read.
    fn hand_out(&self, mut buffer: Vec<u8>, next_offset: &mut u64) -> Option<io::Result<Handed>> {
        let Some((file, len)) = &self.source else {
            return Some(Ok(Handed::Spare(buffer)));
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
        let thread = match &self.mover {
            Mover::Background(Some(thread)) => thread,
            Mover::Failed => return Err(stopped()),
            _ => {
                self.chunk.resize(len, 0);
                source.read_exact_at(&mut self.chunk, offset)?;
                return Ok(&self.chunk);
            }
        };
        let chunk = match thread.ready.recv() {
            Ok(Ok(Handed::Read { offset: at, bytes })) if at == offset && bytes.len() == len => {
                Ok(bytes)
            }
            Ok(Ok(Handed::Read { .. })) => {
                Err(io::Error::other("the image thread read out of step"))
            }
            Ok(Ok(Handed::Spare(mut buffer))) => {
                buffer.resize(len, 0);
                source.read_exact_at(&mut buffer, offset).map(|()| buffer)
            }
            Ok(Err(error)) => Err(error),
            Err(_) => return Err(self.thread_failed()),
        };
        match chunk {
            Ok(bytes) => {
                self.chunk = bytes;
                Ok(&self.chunk)
            }
            Err(error) => {
                // A chunk is missing: nothing after it may be written.
                self.mover = Mover::Failed;
                Err(error)
            }
        }
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
            Mover::Inline => {
                self.memfd.as_file().write_all(&self.chunk)?;
                // Kept for the next chunk, but never written twice.
                self.chunk.clear();
                Ok(())
            }
            Mover::Background(None) | Mover::Failed => Err(stopped()),
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

    /// The image thread stopped early: its error. Nothing more is read.
    fn thread_failed(&mut self) -> io::Error {
        match std::mem::replace(&mut self.mover, Mover::Failed) {
            Mover::Background(Some(thread)) => match thread.finish() {
                Err(error) => error,
                Ok(()) => stopped(),
            },
            _ => stopped(),
        }
    }

    fn seal(mut self) -> Result<File, Error> {
        use memfd::FileSeal::{SealGrow, SealSeal, SealShrink, SealWrite};
        match std::mem::replace(&mut self.mover, Mover::Failed) {
            Mover::Background(Some(thread)) => thread
                .finish()
                .map_err(|e| Error::io("cannot write the image's memory file", e))?,
            Mover::Failed => {
                return Err(Error::io("cannot write the image's memory file", stopped()));
            }
            Mover::Inline | Mover::Background(None) => {}
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

/// The error of a [`SealedImage`] used after its image thread stopped.
fn stopped() -> io::Error {
    io::Error::other("the image thread stopped")
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
///
/// Other crates can name it as a bound but never hand an image to wasmtime
/// through it: `into_code` takes a `CodeKind`, which they can neither name
/// nor construct (it is not exported, and nothing public returns one). So a
/// `Vec<u8>` or a [`SealedImage`] filled with bytes nobody verified reaches
/// wasmtime only through this crate's load functions, whose names say
/// whether they verify.
///
/// ```compile_fail,E0432
/// use lucet_runtime::CodeKind;
/// ```
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
        // verified): each chunk buffer was written to it after it was
        // hashed, unchanged and in order (by the image thread for a large
        // image), and `seal` checked that it holds the whole image. It is
        // sealed against writing, shrinking, growing and further seals
        // before wasmtime maps it: the mapped bytes are those bytes, and
        // stay so. A module is mapped from the descriptor itself; a
        // component from the same file reopened read-only through
        // `own_descriptor` while `file` keeps it open. `kind` is the one the (verified) metadata records;
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

    /// An artifact file holding `bytes`.
    fn source_file(bytes: &[u8]) -> File {
        let mut file = tempfile::tempfile().expect("temporary file");
        file.write_all(bytes).expect("write the source");
        file
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
        let file = source_file(&bytes);
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
        let file = source_file(&bytes);
        let image = SealedImage::for_len(bytes.len()).expect("memory file");
        assert!(matches!(image.mover, Mover::Inline));
        let sealed = read_sealed(&file, bytes.len(), &bytes).expect("read");
        assert!(contents(sealed) == bytes);
    }

    #[test]
    fn a_file_shorter_than_its_image_fails_at_its_end_without_hanging() {
        let len = BACKGROUND_MIN + 2 * CHUNK;
        let bytes = pattern(len - CHUNK / 2);
        let file = source_file(&bytes);
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
        let file = source_file(&bytes);
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
        let file = source_file(&bytes);
        let mut image = SealedImage::for_len(len).expect("memory file");
        image.read_chunk(&file, 0, CHUNK).expect("read");
        image.commit_chunk().expect("commit");
        let error = image
            .read_chunk(&file, 2 * CHUNK as u64, CHUNK)
            .expect_err("must fail");
        assert!(error.to_string().contains("out of step"), "{error}");
    }

    #[test]
    fn a_write_that_fails_on_the_image_thread_fails_the_load() {
        let len = BACKGROUND_MIN + 2 * CHUNK;
        let bytes = pattern(len);
        let file = source_file(&bytes);
        let mut image = SealedImage::for_len(len).expect("memory file");
        // The memory file can no longer grow: every write into it fails.
        image
            .memfd
            .add_seals(&[memfd::FileSeal::SealGrow])
            .expect("seal");
        let mut failure = None;
        for offset in (0..len).step_by(CHUNK) {
            let step = match image.read_chunk(&file, offset as u64, CHUNK) {
                Ok(_) => image.commit_chunk(),
                Err(error) => Err(error),
            };
            if let Err(error) = step {
                failure = Some(error);
                break;
            }
        }
        let failure = failure.map(|e| e.to_string());
        let sealed = image.seal().map(|_| ()).map_err(|e| e.to_string());
        assert!(
            failure.is_some() || sealed.is_err(),
            "a load whose writes failed went through"
        );
    }

    #[test]
    fn a_short_source_in_memory_fails_and_nothing_more_is_read() {
        let len = BACKGROUND_MIN + CHUNK;
        let bytes = pattern(len - CHUNK / 2);
        let mut image = SealedImage::for_len(len).expect("memory file");
        let mut offset = 0;
        let error = loop {
            match image.read_chunk(&bytes[..], offset as u64, CHUNK) {
                Ok(_) => {
                    image.commit_chunk().expect("commit");
                    offset += CHUNK;
                }
                Err(error) => break error,
            }
        };
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error}");
        let again = image
            .read_chunk(&bytes[..], 0, CHUNK)
            .expect_err("must fail");
        assert!(again.to_string().contains("stopped"), "{again}");
        assert!(image.seal().is_err(), "a failed image was sealed");
    }

    #[test]
    fn a_chunk_asked_for_past_the_end_fails_without_hanging() {
        let len = BACKGROUND_MIN;
        let bytes = pattern(len);
        let file = source_file(&bytes);
        let mut image = SealedImage::for_len(len).expect("memory file");
        for offset in (0..len).step_by(CHUNK) {
            image.read_chunk(&file, offset as u64, CHUNK).expect("read");
            image.commit_chunk().expect("commit");
        }
        let error = image
            .read_chunk(&file, len as u64, CHUNK)
            .expect_err("must fail");
        assert!(error.to_string().contains("stopped"), "{error}");
    }
}
