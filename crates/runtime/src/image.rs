//! The two forms in which a read image is handed to wasmtime.
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

use lucet_artifact::ImageBuffer;
use wasmtime::{Engine, Module};

use crate::Error;
use crate::error::one_line;

/// An image read into an anonymous memory file (Linux `memfd`), sealed
/// against writing, resizing and further seals once complete, so that
/// wasmtime can map the bytes that were hashed and nobody can change them.
#[derive(Debug)]
pub struct SealedImage {
    memfd: memfd::Memfd,
    chunk: Vec<u8>,
}

impl ImageBuffer for SealedImage {
    fn for_len(_len: usize) -> io::Result<Self> {
        let memfd = memfd::MemfdOptions::default()
            .allow_sealing(true)
            .close_on_exec(true)
            .create("lucet-verified-image")
            .map_err(io::Error::other)?;
        Ok(SealedImage {
            memfd,
            chunk: Vec::new(),
        })
    }

    fn next_chunk(&mut self, len: usize) -> io::Result<&mut [u8]> {
        self.chunk.resize(len, 0);
        Ok(&mut self.chunk)
    }

    fn commit_chunk(&mut self) -> io::Result<()> {
        self.memfd.as_file().write_all(&self.chunk)
    }
}

impl SealedImage {
    fn seal(self) -> Result<File, Error> {
        use memfd::FileSeal::{SealGrow, SealSeal, SealShrink, SealWrite};
        self.memfd
            .add_seals(&[SealWrite, SealShrink, SealGrow, SealSeal])
            .map_err(|e| Error::io("cannot seal the image's memory file", io::Error::other(e)))?;
        Ok(self.memfd.into_file())
    }
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
    fn into_module(self, engine: &Engine) -> Result<Module, Error>;
}

impl EngineImage for Vec<u8> {
    fn into_module(self, engine: &Engine) -> Result<Module, Error> {
        // SAFETY: see `load`'s module documentation. `self` is the buffer
        // that was read (and, on the verified path, hashed and verified)
        // exactly once; it is not modified between verification and this
        // call, and wasmtime copies it into memory of its own.
        #[allow(unsafe_code)]
        unsafe { Module::deserialize(engine, &self) }.map_err(|e| Error::Load(one_line(&e)))
    }
}

impl EngineImage for SealedImage {
    fn into_module(self, engine: &Engine) -> Result<Module, Error> {
        let file = self.seal()?;
        // SAFETY: see `load`'s module documentation. The memory file holds
        // exactly the bytes that were hashed (and, on the verified path,
        // verified) as they were written to it, and is sealed against
        // writing, shrinking, growing and further seals before wasmtime
        // maps it: the mapped bytes are those bytes, and stay so.
        #[allow(unsafe_code)]
        unsafe { Module::deserialize_open_file(engine, file) }
            .map_err(|e| Error::Load(one_line(&e)))
    }
}
