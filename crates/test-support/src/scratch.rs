//! Scratch directories.

use std::path::{Path, PathBuf};

use crate::{lucetc, raw_keygen_args, run};

/// A scratch directory that is removed when dropped.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Scratch {
    pub fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The directory itself.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes `contents` to `name` and returns its path.
    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write scratch file");
        path
    }

    /// A raw (password-less) key pair made by lucetc: (secret, public).
    pub fn raw_key_pair(&self, stem: &str) -> (PathBuf, PathBuf) {
        let secret = self.path(&format!("{stem}.key"));
        let public = self.path(&format!("{stem}.pub"));
        run(&mut lucetc(raw_keygen_args(&secret, &public))).ok();
        (secret, public)
    }

    /// Compiles `source` to `<stem>.so` with extra lucetc `args`; returns the artifact path.
    pub fn compile(&self, source: &Path, stem: &str, args: &[String]) -> PathBuf {
        let output = self.path(&format!("{stem}.so"));
        let mut command = lucetc([source.as_os_str(), "-o".as_ref(), output.as_os_str()]);
        command.args(args);
        run(&mut command).ok();
        output
    }
}
