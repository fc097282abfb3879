//! Opening files to read and writing files atomically, for every tool of the
//! toolchain.
//!
//! Keys, signatures, sources and artifacts are read only from regular files:
//! a FIFO would block the open until some writer appears, and a device may
//! never end. Files are written under a temporary name in their directory and
//! moved into place, so a reader sees the old file or the complete new one.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Opens `path` for reading, refusing anything but a regular file (after
/// following symbolic links).
///
/// The file is opened non-blocking, so that a FIFO without a writer opens at
/// once instead of hanging; its type is checked on the open handle (`fstat`,
/// so a rename in between cannot swap it); only then is it made blocking
/// again. `O_NOCTTY` keeps a terminal named by mistake from becoming the
/// process's controlling terminal.
///
/// Errors do not repeat the path: callers name it, as for any open error
/// (`cannot open PATH: it is a named pipe (FIFO), not a regular file; ...`).
pub fn open_regular_file(path: &Path) -> io::Result<File> {
    let file = open_without_blocking(path)?;
    let file_type = file.metadata()?.file_type();
    if !file_type.is_file() {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            format!(
                "it is {}, not a regular file; give the path of a regular file",
                describe(&file_type)
            ),
        ));
    }
    make_blocking(&file)?;
    Ok(file)
}

#[cfg(unix)]
fn open_without_blocking(path: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    Ok(File::from(rustix::fs::open(path, flags, Mode::empty())?))
}

#[cfg(not(unix))]
fn open_without_blocking(path: &Path) -> io::Result<File> {
    File::open(path)
}

/// Clears `O_NONBLOCK`: reads of a regular file never see `EAGAIN` on Linux,
/// but callers get the plain blocking file they would get from `File::open`.
#[cfg(unix)]
fn make_blocking(file: &File) -> io::Result<()> {
    use rustix::fs::OFlags;
    let flags = rustix::fs::fcntl_getfl(file)?;
    rustix::fs::fcntl_setfl(file, flags.difference(OFlags::NONBLOCK))?;
    Ok(())
}

#[cfg(not(unix))]
fn make_blocking(_file: &File) -> io::Result<()> {
    Ok(())
}

/// "a directory", "a named pipe (FIFO)"...: what a non-regular file is.
fn describe(file_type: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt as _;
        if file_type.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() {
        "a directory"
    } else {
        "a special file"
    }
}

/// Whether an atomic write also waits for the disk.
///
/// Either way a reader sees the old file or the complete new one while the
/// system runs; the difference is what a power loss leaves behind before the
/// kernel writes the data back (seconds, up to about half a minute).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Durability {
    /// `fsync` the file before the rename and its directory after: once the
    /// write returns, the new file survives a crash, and a write error that
    /// shows only at write-back (a full disk, EIO) fails the write. For
    /// anything not remade by running the same command on the same input:
    /// keys, the revocation serial, a countersignature, what was downloaded.
    Synced,
    /// No `fsync`, as compilers do not sync their outputs (`cc`, `wasmtime
    /// compile`): after a power loss the file may be the old one, missing,
    /// empty or torn, and a write error at write-back goes unreported. For
    /// outputs remade by running the command again that fail their own
    /// checks when empty or torn (a compiled artifact's footer, image hash
    /// and signature); the two syncs cost 1–2 ms a file.
    Unsynced,
}

/// What moving a file into place does with whatever is already at its
/// path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    /// Replaces it (`rename(2)`: a symbolic link there is replaced itself,
    /// never followed).
    Replace,
    /// Leaves it, and the move fails with an [`Error::Io`] of kind
    /// `AlreadyExists`, even for a dangling link.
    Keep,
}

impl Existing {
    /// [`Replace`](Existing::Replace) when the user asked for it (`--force`),
    /// else [`Keep`](Existing::Keep).
    pub fn replaced_if(forced: bool) -> Existing {
        if forced {
            Existing::Replace
        } else {
            Existing::Keep
        }
    }
}

/// A file written under a temporary name in its destination's directory
/// (and synced, as its [`Durability`] says); [`commit`](StagedFile::commit)
/// moves it into place. Dropped uncommitted, it is removed.
///
/// Staging several files before committing any lets a caller fail before
/// anything is visible (a missing directory, a full disk; for an
/// [`Unsynced`](Durability::Unsynced) file, only what the write itself
/// reports).
pub struct StagedFile {
    temp: tempfile::NamedTempFile,
    path: PathBuf,
    durability: Durability,
}

impl StagedFile {
    /// Writes `contents` to a new temporary file next to `path`, created with
    /// the Unix permissions `mode` (less the umask) from the start, so that a
    /// secret is never readable by others, even briefly.
    pub fn new(
        path: &Path,
        contents: &[u8],
        mode: u32,
        durability: Durability,
    ) -> Result<StagedFile> {
        let Some(name) = path.file_name() else {
            return Err(Error::Io {
                action: "cannot write",
                path: path.to_owned(),
                source: io::Error::new(ErrorKind::InvalidInput, "the path has no file name"),
            });
        };
        let dir = parent_dir(path);
        let mut prefix = OsString::from(".");
        prefix.push(name);
        prefix.push(".tmp-");
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            builder.permissions(std::fs::Permissions::from_mode(mode));
        }
        #[cfg(not(unix))]
        let _ = mode;
        let mut temp = builder.tempfile_in(dir).map_err(|source| Error::Io {
            action: "cannot create a temporary file in",
            path: dir.to_owned(),
            source,
        })?;
        let written = temp.write_all(contents).and_then(|()| match durability {
            Durability::Synced => temp.as_file().sync_all(),
            Durability::Unsynced => Ok(()),
        });
        written.map_err(|source| Error::Io {
            action: "cannot write",
            path: temp.path().to_owned(),
            source,
        })?;
        Ok(StagedFile {
            temp,
            path: path.to_owned(),
            durability,
        })
    }

    /// Moves the file into place, doing with whatever is already at the
    /// path what `existing` says.
    pub fn commit(self, existing: Existing) -> Result<()> {
        let StagedFile {
            temp,
            path,
            durability,
        } = self;
        let persisted = match existing {
            Existing::Replace => temp.persist(&path),
            Existing::Keep => temp.persist_noclobber(&path),
        };
        // The temporary file is removed when the error is dropped.
        persisted.map_err(|error| Error::Io {
            action: match existing {
                Existing::Replace => "cannot replace",
                Existing::Keep => "cannot create",
            },
            path: path.clone(),
            source: error.error,
        })?;
        if durability == Durability::Synced {
            sync_dir(parent_dir(&path));
        }
        Ok(())
    }
}

/// Writes `path` atomically with permissions `mode`; see [`StagedFile`].
pub fn write_atomically(
    path: &Path,
    contents: &[u8],
    mode: u32,
    existing: Existing,
    durability: Durability,
) -> Result<()> {
    StagedFile::new(path, contents, mode, durability)?.commit(existing)
}

/// The directory `path` is (or would be) in: `.` for a bare file name.
pub fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

/// Makes a new directory entry durable. Best effort: not every platform or
/// file system can sync a directory, and the file itself was synced.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn regular_files_open_and_read_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        std::fs::write(&path, b"data").unwrap();
        let file = open_regular_file(&path).unwrap();
        #[cfg(unix)]
        assert!(
            !rustix::fs::fcntl_getfl(&file)
                .unwrap()
                .contains(rustix::fs::OFlags::NONBLOCK)
        );
        assert_eq!(std::io::read_to_string(file).unwrap(), "data");
        let missing = open_regular_file(&dir.path().join("absent")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn directories_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let error = open_regular_file(dir.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "it is a directory, not a regular file; give the path of a regular file"
        );
    }

    #[cfg(unix)]
    #[test]
    fn fifos_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        crate::fixtures::make_fifo(&fifo);
        // Before the fix this open blocked forever: no writer ever comes.
        let error = open_regular_file(&fifo).unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("it is a named pipe (FIFO), not a regular file")
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn devices_are_refused() {
        let error = open_regular_file(Path::new("/dev/zero")).unwrap_err();
        assert!(error.to_string().starts_with("it is a character device"));
    }

    #[test]
    fn staged_files_appear_only_when_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out");
        let staged = StagedFile::new(&path, b"new", 0o600, Durability::Synced).unwrap();
        assert!(!path.exists());
        drop(staged);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        write_atomically(&path, b"one", 0o644, Existing::Keep, Durability::Synced).unwrap();
        let error =
            write_atomically(&path, b"two", 0o644, Existing::Keep, Durability::Synced).unwrap_err();
        assert!(
            matches!(&error, Error::Io { source, .. } if source.kind() == ErrorKind::AlreadyExists)
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        write_atomically(&path, b"two", 0o644, Existing::Replace, Durability::Synced).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        // Without the syncs, the move into place is the same.
        write_atomically(
            &path,
            b"three",
            0o644,
            Existing::Replace,
            Durability::Unsynced,
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn replacing_a_symlink_never_writes_through_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(
            write_atomically(&link, b"new", 0o644, Existing::Keep, Durability::Synced).is_err()
        );
        write_atomically(&link, b"new", 0o644, Existing::Replace, Durability::Synced).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert!(!std::fs::symlink_metadata(&link).unwrap().is_symlink());
    }
}
