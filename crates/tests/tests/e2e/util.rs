//! Shared helpers: the shared corpus, fixtures and examples of this suite;
//! locating the built tools, running commands, scratch directories and key
//! flags come from lucet-test-support.

use std::path::{Path, PathBuf};
use std::process::Command;

pub use lucet_test_support::*;

/// `../shared/corpus` relative to the repository root.
pub fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus")
}

/// A `.wat` fixture of this test suite.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// `examples/` of the repository.
pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The bundled hello-world module.
pub fn hello_wat() -> PathBuf {
    examples().join("hello/hello.wat")
}

pub const HELLO: &str = "Hello, world!\n";

/// `lucetc SOURCE --signature-pk PUBLIC -o OUT`: compiles a source verified
/// against `public`.
pub fn lucetc_verified(source: &Path, public: &Path, out: &Path) -> Command {
    let [pk_flag, pk_path] = pk(public);
    lucetc([arg(source), pk_flag, pk_path, "-o".into(), arg(out)])
}

/// `lucetc --signature-keygen --insecure-cheap-kdf --signature-sk SECRET
/// --signature-pk PUBLIC`: a password-protected key pair, the password read
/// from stdin.
pub fn password_keygen(secret: &Path, public: &Path) -> Command {
    let mut command = lucetc(["--signature-keygen", "--insecure-cheap-kdf"]);
    command.args(sk(arg(secret))).args(pk(public));
    command
}

/// `lucetc --resign ARTIFACT --signature-pk PUBLIC --signature-sk raw:SECRET`
pub fn lucetc_resign(artifact: &Path, public: &Path, secret: &Path) -> Command {
    let mut command = lucetc(["--resign".into(), arg(artifact)]);
    command.args(pk(public)).args(sk(raw(secret)));
    command
}

/// `lucetc SOURCE --signature-sk SECRET -o OUT`: compiles and signs with the
/// secret key spelled `secret` (a path, or `raw:PATH`).
pub fn lucetc_signed(source: &Path, secret: impl Into<String>, out: &Path) -> Command {
    let [sk_flag, sk_spelling] = sk(secret);
    lucetc([arg(source), sk_flag, sk_spelling, "-o".into(), arg(out)])
}

/// `command` as a shell command line for `run_in_tty`: its program and
/// arguments, each single-quoted (its environment changes are not kept).
pub fn shell_line(command: &Command) -> String {
    let words = std::iter::once(command.get_program()).chain(command.get_args());
    let quoted: Vec<String> = words
        .map(|word| format!("'{}'", word.to_string_lossy().replace('\'', r"'\''")))
        .collect();
    quoted.join(" ")
}
