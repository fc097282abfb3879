//! Locating the built tools and the external ones.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>` of the running test executable
/// (`target/<profile>/deps/<test>-<hash>`).
pub fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    exe.parent()
        .and_then(Path::parent)
        .expect("target directory")
        .to_path_buf()
}

/// A binary: `$VAR` when set, else `target/<profile>/<relative>`, which must
/// exist (`how` says how to build it).
pub fn built(var: &str, relative: &str, how: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        return PathBuf::from(path);
    }
    let path = target_dir().join(relative);
    assert!(path.exists(), "{} not built: {how}", path.display());
    path
}

/// A tool of this workspace: `$LUCETC`/`$LUCET_WASI`/`$LUCET_OBJDUMP` when
/// set (CI points `LUCET_WASI` at the runtime-only build), else the binary
/// beside the running test.
pub fn tool(name: &str) -> PathBuf {
    let var = name.to_ascii_uppercase().replace('-', "_");
    built(
        &var,
        name,
        "run `cargo build --workspace --bins` first (scripts/test.sh does)",
    )
}

/// Whether `name` is a file in one of the directories of the `PATH`-style list `path`.
pub fn on_path(name: &str, path: &OsStr) -> bool {
    std::env::split_paths(path).any(|dir| dir.join(name).is_file())
}

/// An external tool (minisign, rsign, script) that the test script installs.
pub fn external(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{name} is not installed: run scripts/install-test-deps.sh (the test script does)")
    })
}

/// `lucetc ARGS...`, without the developer's `SOURCE_DATE_EPOCH` or keys.
pub fn lucetc<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    command("lucetc", args, &["SOURCE_DATE_EPOCH", "LUCET_SIGNATURE_PK"])
}

/// `lucet-objdump ARGS...`; keys come from each test's flags, never from
/// the developer's environment.
pub fn lucet_objdump<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    command("lucet-objdump", args, &["LUCET_SIGNATURE_PK"])
}

/// `lucet-wasi --allow-unverified ARGS...`; keys come from each test's
/// flags, never from the developer's environment. The flag only silences
/// the notice on stderr when a test runs an artifact without a key (most
/// tests check that stderr holds exactly one error line);
/// [`lucet_wasi_noticing`] leaves it out.
pub fn lucet_wasi<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = command(
        "lucet-wasi",
        ["--allow-unverified"],
        &["LUCET_SIGNATURE_PK"],
    );
    command.args(args);
    command
}

/// `lucet-wasi ARGS...` as a user types it: unverified runs print their
/// notice.
pub fn lucet_wasi_noticing<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    command("lucet-wasi", args, &["LUCET_SIGNATURE_PK"])
}

/// The tool `name` with `args`, and `unset` removed from its environment.
fn command<I, S>(name: &str, args: I, unset: &[&str]) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(tool(name));
    command.args(args);
    for variable in unset {
        command.env_remove(variable);
    }
    command
}
