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

use lucet_artifact::{ArtifactKind, ImageBuffer};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

use crate::Error;

/// An image read into an anonymous memory file (Linux `memfd`), sealed
/// against writing, resizing and further seals once complete, so that
/// wasmtime can map the bytes that were hashed and nobody can change them.
#[derive(Debug)]
pub struct SealedImage {
    memfd: memfd::Memfd,
    chunk: Vec<u8>,
    writer: Option<Writer>,
}

/// Images at least this large are copied into their memory file by a
/// second thread while the next chunk is read and hashed. Inline, the copy
/// costs a quarter of the hashing time on top of it (BENCHMARKS.md, P1);
/// below this size it is less than starting the thread.
const BACKGROUND_WRITE_MIN: usize = 8 << 20;

/// Chunks in flight between the hashing thread and the writer.
const CHUNKS_IN_FLIGHT: usize = 3;

/// The thread that writes hashed chunks into the memory file, and the
/// channels that hand chunks over and back for reuse.
#[derive(Debug)]
struct Writer {
    full: mpsc::SyncSender<Vec<u8>>,
    empty: mpsc::Receiver<Vec<u8>>,
    allocated: usize,
    thread: JoinHandle<io::Result<()>>,
}

impl Writer {
    fn start(mut file: File) -> io::Result<Writer> {
        let (full, full_chunks) = mpsc::sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let (empty_chunks, empty) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("lucet-image-writer".into())
            .spawn(move || {
                for chunk in full_chunks {
                    file.write_all(&chunk)?;
                    // The hashing side may have stopped taking chunks back.
                    let _ = empty_chunks.send(chunk);
                }
                Ok(())
            })?;
        Ok(Writer {
            full,
            empty,
            allocated: 0,
            thread,
        })
    }

    /// A chunk buffer to fill: a returned one, or a new one while fewer
    /// than `CHUNKS_IN_FLIGHT + 1` exist.
    fn buffer(&mut self) -> Option<Vec<u8>> {
        if let Ok(chunk) = self.empty.try_recv() {
            return Some(chunk);
        }
        if self.allocated <= CHUNKS_IN_FLIGHT {
            self.allocated += 1;
            return Some(Vec::new());
        }
        self.empty.recv().ok()
    }

    /// Waits for every chunk to be written; the writer's error, if any.
    fn finish(self) -> io::Result<()> {
        drop(self.full);
        self.thread
            .join()
            .map_err(|_| io::Error::other("the image writer thread panicked"))?
    }
}

impl ImageBuffer for SealedImage {
    fn for_len(len: usize) -> io::Result<Self> {
        let memfd = memfd::MemfdOptions::default()
            .allow_sealing(true)
            .close_on_exec(true)
            .create("lucet-verified-image")
            .map_err(io::Error::other)?;
        let writer = if len >= BACKGROUND_WRITE_MIN {
            Some(Writer::start(memfd.as_file().try_clone()?)?)
        } else {
            None
        };
        Ok(SealedImage {
            memfd,
            chunk: Vec::new(),
            writer,
        })
    }

    fn next_chunk(&mut self, len: usize) -> io::Result<&mut [u8]> {
        if let Some(writer) = &mut self.writer {
            match writer.buffer() {
                Some(buffer) => self.chunk = buffer,
                None => return Err(self.writer_failed()),
            }
        }
        self.chunk.resize(len, 0);
        Ok(&mut self.chunk)
    }

    fn commit_chunk(&mut self) -> io::Result<()> {
        match &self.writer {
            // The chunk was hashed as it is: it is handed over, not changed.
            Some(writer) => match writer.full.send(std::mem::take(&mut self.chunk)) {
                Ok(()) => Ok(()),
                Err(_) => Err(self.writer_failed()),
            },
            None => self.memfd.as_file().write_all(&self.chunk),
        }
    }
}

impl SealedImage {
    /// The writer thread stopped early: its error.
    fn writer_failed(&mut self) -> io::Error {
        match self.writer.take().map(Writer::finish) {
            Some(Err(error)) => error,
            _ => io::Error::other("the image writer thread stopped"),
        }
    }

    fn seal(mut self) -> Result<File, Error> {
        use memfd::FileSeal::{SealGrow, SealSeal, SealShrink, SealWrite};
        if let Some(writer) = self.writer.take() {
            writer
                .finish()
                .map_err(|e| Error::io("cannot write the image's memory file", e))?;
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
