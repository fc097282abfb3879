//! Reading and writing key files safely.
//!
//! Writing is atomic (a reader sees the old file or the complete new one,
//! never a partial key) and never replaces an existing key unless asked:
//! losing a secret key is not recoverable. Reading is capped, so a wrong
//! path (a log file) is refused instead of read whole, and only regular
//! files are read (a FIFO or a device is refused before it can block).

use std::io::{ErrorKind, Read};
use std::path::{Path, PathBuf};

use crate::constants::MAX_KEY_FILE_LEN;
use crate::error::{Error, ObjectKind, Result};
use crate::file::{Durability, Existing, StagedFile, open_regular_file};
use crate::identify::misidentified;
use crate::prehash::{HashingReader, Prehash, Prehasher};
use crate::public_key::PublicKey;
use crate::verify::PublicKeySet;
use zeroize::Zeroizing;

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

/// A key file written and synced under a temporary name beside its path,
/// not yet in place; dropped uncommitted, it is removed. Staging both files
/// of a key pair before committing either lets key generation fail before
/// anything is visible.
pub struct StagedKeyFile {
    staged: StagedFile,
    path: PathBuf,
}

/// Writes `contents` to a temporary file beside `path`, created with `mode`
/// (0600 or 0644, less the umask) from the start, so a secret is never
/// briefly readable by others.
pub fn stage_key_file(path: &Path, contents: &[u8], mode: KeyFileMode) -> Result<StagedKeyFile> {
    Ok(StagedKeyFile {
        staged: StagedFile::new(path, contents, mode.unix_mode(), Durability::Synced)?,
        path: path.to_owned(),
    })
}

impl StagedKeyFile {
    /// Moves the key into place: to [`Keep`](Existing::Keep) an existing
    /// one, by a link that fails if the path exists, so it is never
    /// replaced, even by a concurrent writer ([`Error::KeyFileExists`]); to
    /// [`Replace`](Existing::Replace) it, by a rename over it.
    pub fn commit(self, existing: Existing) -> Result<()> {
        let StagedKeyFile { staged, path } = self;
        staged.commit(existing).map_err(|error| match error {
            Error::Io { source, .. } if source.kind() == ErrorKind::AlreadyExists => {
                Error::KeyFileExists { path }
            }
            other => other,
        })
    }
}

/// Writes a key file atomically: [`stage_key_file`], then
/// [`StagedKeyFile::commit`]. The temporary file is removed on every path,
/// success or failure.
pub fn write_key_file(
    path: &Path,
    contents: &[u8],
    mode: KeyFileMode,
    existing: Existing,
) -> Result<()> {
    stage_key_file(path, contents, mode)?.commit(existing)
}

/// Reads a whole file of at most `max_len` bytes, refusing larger ones
/// ([`Error::FileTooLarge`]) from their metadata before reading, and again
/// while reading in case the file grew. Only regular files are read
/// ([`open_regular_file`]).
pub fn read_capped(path: &Path, max_len: u64) -> Result<Vec<u8>> {
    let mut contents = Vec::new();
    read_capped_into(path, max_len, &mut contents, None)?;
    Ok(contents)
}

/// [`read_capped`], hashing the bytes as they are read: the prehash is of
/// exactly the returned bytes, and the file is read once.
pub fn read_capped_hashed(path: &Path, max_len: u64) -> Result<(Vec<u8>, Prehash)> {
    let mut contents = Vec::new();
    let mut hasher = Prehasher::new();
    read_capped_into(path, max_len, &mut contents, Some(&mut hasher))?;
    Ok((contents, hasher.finalize()))
}

/// Reads a secret key file (at most [`MAX_KEY_FILE_LEN`] bytes, as
/// [`read_capped`]) into a buffer that is wiped when dropped, for
/// [`SecretKeyFile::parse`](crate::SecretKeyFile::parse).
pub fn read_secret_key_file(path: &Path) -> Result<Zeroizing<Vec<u8>>> {
    let mut contents = Zeroizing::new(Vec::new());
    // Never hashed: a hash state derived from a secret would outlive the wiped buffer.
    read_capped_into(path, MAX_KEY_FILE_LEN, &mut contents, None)?;
    Ok(contents)
}

fn read_capped_into(
    path: &Path,
    max_len: u64,
    contents: &mut Vec<u8>,
    hasher: Option<&mut Prehasher>,
) -> Result<()> {
    let file = open_regular_file(path).map_err(io_error("cannot open", path))?;
    let metadata = file.metadata().map_err(io_error("cannot read", path))?;
    if metadata.len() > max_len {
        return Err(Error::FileTooLarge {
            path: path.to_owned(),
            len: metadata.len(),
            max: max_len,
        });
    }
    // Sized from the metadata (capped) so that the buffer holding a secret
    // key is not reallocated, which would leave copies behind. Reserved
    // fallibly, as `read_to_end` grows it: a large cap (a source of
    // `--max-input-size`) must end in an error, never an abort.
    let capacity = usize::try_from(metadata.len().min(max_len))
        .unwrap_or(usize::MAX)
        .saturating_add(1);
    contents
        .try_reserve_exact(capacity)
        .map_err(|_| Error::Io {
            action: "cannot allocate memory to read",
            path: path.to_owned(),
            source: std::io::ErrorKind::OutOfMemory.into(),
        })?;
    let mut capped = file.take(max_len.saturating_add(1));
    match hasher {
        Some(hasher) => HashingReader::new(capped, hasher).read_to_end(contents),
        None => capped.read_to_end(contents),
    }
    .map_err(io_error("cannot read", path))?;
    let len = u64::try_from(contents.len()).unwrap_or(u64::MAX);
    if len > max_len {
        return Err(Error::FileTooLarge {
            path: path.to_owned(),
            len,
            max: max_len,
        });
    }
    Ok(())
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
            PublicKey::from_text(&text)
                .map_err(|error| misidentified(&text, ObjectKind::PublicKey).unwrap_or(error))
                .map_err(in_file)
        })
        .collect::<Result<Vec<_>>>()?;
    PublicKeySet::new(keys)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::fs;

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
        write_key_file(&path, b"secret", KeyFileMode::Secret, Existing::Keep).unwrap();
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
        write_key_file(&path, b"public", KeyFileMode::Public, Existing::Keep).unwrap();
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
        let err = write_key_file(&path, b"new", KeyFileMode::Secret, Existing::Keep).unwrap_err();
        assert!(matches!(&err, Error::KeyFileExists { path: p } if *p == path));
        assert!(err.to_string().ends_with("already exists"));
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(leftovers(dir.path()).is_empty());

        write_key_file(&path, b"new", KeyFileMode::Secret, Existing::Replace).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn missing_directory_is_an_io_error_with_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing").join("key");
        let err = write_key_file(&path, b"x", KeyFileMode::Secret, Existing::Keep).unwrap_err();
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
        assert!(matches!(
            read_capped_hashed(&path, 4096),
            Err(Error::FileTooLarge { len: 5000, .. })
        ));
        let (bytes, prehash) = read_capped_hashed(&path, 5000).unwrap();
        assert_eq!((bytes.len(), prehash), (5000, Prehash::of(&[b'x'; 5000])));
        let err = read_capped(&dir.path().join("absent"), 10).unwrap_err();
        assert!(matches!(&err, Error::Io { path: p, .. } if p.ends_with("absent")));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn read_capped_refuses_devices_before_reading() {
        // /dev/zero reports a size of 0 and never ends.
        let err = read_capped(Path::new("/dev/zero"), 100).unwrap_err();
        assert_eq!(
            format!("{err}: {}", std::error::Error::source(&err).unwrap()),
            "cannot open /dev/zero: it is a character device, not a regular file; give the path of a regular file"
        );
    }

    #[test]
    fn read_capped_never_aborts_on_a_huge_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small");
        fs::write(&path, b"abc").unwrap();
        assert_eq!(read_capped(&path, u64::MAX).unwrap(), b"abc");
    }

    #[cfg(unix)]
    #[test]
    fn key_files_are_never_written_through_a_symlink() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let link = dir.path().join("key");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let err =
            write_key_file(&link, b"secret", KeyFileMode::Secret, Existing::Keep).unwrap_err();
        assert!(matches!(err, Error::KeyFileExists { .. }));
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(leftovers(dir.path()).is_empty());
    }

    #[test]
    fn staged_key_files_are_invisible_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        let staged = stage_key_file(&path, b"secret", KeyFileMode::Secret).unwrap();
        assert!(!path.exists());
        drop(staged);
        assert!(!path.exists() && leftovers(dir.path()).is_empty());
        let staged = stage_key_file(&path, b"secret", KeyFileMode::Secret).unwrap();
        staged.commit(Existing::Keep).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"secret");
    }
}
