//! Helpers shared by the test suites of this workspace (crates/tests e2e,
//! crates/dist, crates/embed, the tools' own command-line tests): locating
//! the built tools, running commands and collecting their output, scratch
//! directories, keys and flags, what help text must mention, WASI 0.2
//! components made from preview-1 modules, a real OCI registry and a real
//! containerd.
//!
//! Dev-only: never published, never a dependency of a shipped crate.

mod cli;
mod component;
mod containerd;
mod process;
mod registry;
mod scratch;
mod tools;

pub use cli::{assert_help_mentions, assert_usage_errors};
pub use component::componentize;
pub use containerd::{Containerd, LUCET_RUNTIME, processes_mentioning};
pub use process::{
    DrainedChild, Output, mkfifo, run, run_bounded, run_in_tty, run_ok, run_with_stdin,
};
pub use registry::Registry;
pub use scratch::Scratch;
pub use tools::{
    built, external, lucet_objdump, lucet_wasi, lucet_wasi_noticing, lucetc, on_path, target_dir,
    tool,
};

use std::path::Path;

/// Asserts that `text`, which `what` names in a failure, mentions every one
/// of `needles`.
#[track_caller]
pub fn assert_mentions(what: &str, text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{what} lacks {needle:?}");
    }
}

/// `raw:PATH` as one argument.
pub fn raw(path: &Path) -> String {
    format!("raw:{}", path.display())
}

/// A path as an owned string argument.
pub fn arg(path: &Path) -> String {
    path.display().to_string()
}

/// `--signature-pk PATH`: verify with the public key `path`.
pub fn pk(path: &Path) -> [String; 2] {
    ["--signature-pk".into(), arg(path)]
}

/// `--signature-sk SPELLING`: sign with the secret key `spelling`
/// (a path, or `raw:PATH`).
pub fn sk(spelling: impl Into<String>) -> [String; 2] {
    ["--signature-sk".into(), spelling.into()]
}

/// `--signature-sk=raw:PATH` as one argument: sign with a raw key.
pub fn sign_raw(secret: &Path) -> String {
    format!("--signature-sk={}", raw(secret))
}

/// lucetc's arguments that make a raw (password-less) key pair:
/// `--signature-keygen --signature-sk=raw:SECRET --signature-pk PUBLIC`.
pub fn raw_keygen_args(secret: &Path, public: &Path) -> [String; 4] {
    let [pk_flag, pk_path] = pk(public);
    [
        "--signature-keygen".into(),
        sign_raw(secret),
        pk_flag,
        pk_path,
    ]
}
