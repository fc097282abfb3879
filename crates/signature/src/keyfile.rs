//! Reading and writing key files safely.
//!
//! Writing is atomic (a reader sees the old file or the complete new one,
//! never a partial key) and never replaces an existing key unless asked:
//! losing a secret key is not recoverable. Reading is capped, so a wrong
//! path (a log file, a device) is refused instead of read whole.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use crate::constants::MAX_KEY_FILE_LEN;
use crate::error::{Error, ObjectKind, Result};
use crate::public_key::PublicKey;
use crate::secret_key::fill_random;
use crate::verify::PublicKeySet;

/// Permissions of a key file being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyFileMode {
    /// A secret key: readable and writable by its owner only (0600).
    Secret,
    /// A public key: readable by everyone (0644).
    Public,
}

impl KeyFileMode {
    /// The Unix permission bits.
    pub const fn unix_mode(self) -> u32 {
        match self {
            KeyFileMode::Secret => 0o600,
            KeyFileMode::Public => 0o644,
        }
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io {
        action,
        path: path.to_owned(),
        source,
    }
}

/// A temporary file that is removed when dropped unless it was renamed.
struct TempFile {
    path: PathBuf,
    armed: bool,
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.armed {
            // Best effort: the error that got us here matters more.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Creates a new, uniquely named temporary file next to `path` with `mode`
/// from the start, so a secret is never briefly world-readable.
fn create_temp(path: &Path, mode: KeyFileMode) -> Result<(File, TempFile)> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| Error::Io {
        action: "cannot write a key file to",
        path: path.to_owned(),
        source: std::io::Error::new(ErrorKind::InvalidInput, "the path has no file name"),
    })?;
    let mut attempts = 0;
    loop {
        let mut random = [0u8; 8];
        fill_random(&mut random)?;
        let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".tmp-{suffix}"));
        let temp_path = dir.join(temp_name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(mode.unix_mode());
        }
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&temp_path) {
            Ok(file) => {
                return Ok((
                    file,
                    TempFile {
                        path: temp_path,
                        armed: true,
                    },
                ));
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists && attempts < 8 => attempts += 1,
            Err(source) => {
                return Err(Error::Io {
                    action: "cannot create a temporary file in",
                    path: dir.to_owned(),
                    source,
                });
            }
        }
    }
}

/// Writes a key file atomically.
///
/// The contents go to a temporary file in the same directory, created with
/// `mode` (0600 or 0644, less the umask), written and synced. Then:
///
/// * without `overwrite`, the temporary file is hard-linked to `path`,
///   which fails if `path` exists, so an existing key is never replaced,
///   even by a concurrent writer ([`Error::KeyFileExists`]);
/// * with `overwrite`, it is renamed over `path`.
///
/// The temporary file is removed on every path, success or failure.
pub fn write_key_file(
    path: &Path,
    contents: &[u8],
    mode: KeyFileMode,
    overwrite: bool,
) -> Result<()> {
    let (file, mut temp) = create_temp(path, mode)?;
    // Consumes the file, so it is closed before `temp` removes it on error
    // (some platforms cannot remove an open file).
    write_and_sync(file, contents).map_err(io_error("cannot write", &temp.path))?;
    if overwrite {
        fs::rename(&temp.path, path).map_err(io_error("cannot replace", path))?;
        temp.armed = false;
    } else {
        match fs::hard_link(&temp.path, path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {
                return Err(Error::KeyFileExists {
                    path: path.to_owned(),
                });
            }
            Err(source) => {
                return Err(Error::Io {
                    action: "cannot create",
                    path: path.to_owned(),
                    source,
                });
            }
        }
        // `temp` is dropped below, removing the temporary name.
    }
    sync_parent(path);
    Ok(())
}

fn write_and_sync(mut file: File, contents: &[u8]) -> std::io::Result<()> {
    file.write_all(contents)?;
    file.sync_all()
}

/// Makes the new directory entry durable. Best effort: not every platform
/// or file system can sync a directory, and the file itself is synced.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(dir) = File::open(dir) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// Reads a whole file of at most `max_len` bytes, refusing larger ones
/// ([`Error::FileTooLarge`]) from their metadata before reading, and again
/// while reading in case the size was unknown (pipes, special files) or the
/// file grew.
pub fn read_capped(path: &Path, max_len: u64) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(io_error("cannot open", path))?;
    let metadata = file.metadata().map_err(io_error("cannot read", path))?;
    if metadata.len() > max_len {
        return Err(Error::FileTooLarge {
            path: path.to_owned(),
            len: metadata.len(),
            max: max_len,
        });
    }
    // Sized from the metadata (capped) so that the buffer holding a secret
    // key is not reallocated, which would leave copies behind.
    let capacity = usize::try_from(metadata.len().min(max_len))
        .unwrap_or(0)
        .saturating_add(1);
    let mut contents = Vec::with_capacity(capacity);
    file.take(max_len.saturating_add(1))
        .read_to_end(&mut contents)
        .map_err(io_error("cannot read", path))?;
    let len = u64::try_from(contents.len()).unwrap_or(u64::MAX);
    if len > max_len {
        return Err(Error::FileTooLarge {
            path: path.to_owned(),
            len,
            max: max_len,
        });
    }
    Ok(contents)
}

/// Reads the public key files at `paths` (each a minisign box or a bare
/// base64 line) into a set of trusted keys. Errors name the file.
pub fn read_public_keys(paths: &[PathBuf]) -> Result<PublicKeySet> {
    let keys = paths
        .iter()
        .map(|path| {
            let in_file = |source: Error| Error::InFile {
                kind: ObjectKind::PublicKey,
                path: path.clone(),
                source: Box::new(source),
            };
            // Read errors already name the file.
            let text = read_capped(path, MAX_KEY_FILE_LEN)?;
            PublicKey::from_text(&text).map_err(in_file)
        })
        .collect::<Result<Vec<_>>>()?;
    PublicKeySet::new(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.contains(".tmp-"))
            .collect()
    }

    #[test]
    fn writes_new_file_with_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        write_key_file(&path, b"secret", KeyFileMode::Secret, false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn public_mode_is_readable_by_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.pub");
        write_key_file(&path, b"public", KeyFileMode::Public, false).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(&path).unwrap().permissions().mode();
            // The umask may remove group/other write, never add anything.
            assert_eq!(mode & 0o700, 0o600);
            assert_eq!(mode & 0o133, 0);
        }
    }

    #[test]
    fn refuses_to_overwrite_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        fs::write(&path, b"old").unwrap();
        let err = write_key_file(&path, b"new", KeyFileMode::Secret, false).unwrap_err();
        assert!(matches!(&err, Error::KeyFileExists { path: p } if *p == path));
        assert!(
            err.to_string()
                .ends_with("already exists; pass --force to overwrite it")
        );
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());

        write_key_file(&path, b"new", KeyFileMode::Secret, true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn missing_directory_is_an_io_error_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("key");
        let err = write_key_file(&path, b"x", KeyFileMode::Secret, false).unwrap_err();
        assert!(matches!(&err, Error::Io { path: p, .. } if p.ends_with("missing")));
    }

    #[test]
    fn read_capped_refuses_large_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        fs::write(&path, vec![b'x'; 5000]).unwrap();
        assert!(matches!(
            read_capped(&path, 4096),
            Err(Error::FileTooLarge {
                len: 5000,
                max: 4096,
                ..
            })
        ));
        assert_eq!(read_capped(&path, 5000).unwrap().len(), 5000);
        let err = read_capped(&dir.path().join("absent"), 10).unwrap_err();
        assert!(matches!(&err, Error::Io { path: p, .. } if p.ends_with("absent")));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn read_capped_refuses_endless_files_while_reading() {
        // /dev/zero reports a size of 0 and never ends.
        assert!(matches!(
            read_capped(Path::new("/dev/zero"), 100),
            Err(Error::FileTooLarge {
                len: 101,
                max: 100,
                ..
            })
        ));
    }
}
