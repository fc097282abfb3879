//! What every lucet-oci test uses: a registry of its own on a loopback
//! port (`lucet_test_support::Registry`), a signed hello artifact compiled
//! once by the real lucetc, and lucet-oci run with none of the developer's
//! credentials or keys.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub use lucet_test_support::Registry;
use lucet_test_support::{Output, Scratch, pk, raw, sk};

/// The hello example, its source verified against the publisher's key,
/// compiled and signed once for all tests with a fresh raw key.
pub struct Fixture {
    pub scratch: Scratch,
    pub artifact: PathBuf,
    pub public: PathBuf,
    pub secret: PathBuf,
    /// A key that signed nothing here.
    pub stranger: PathBuf,
}

pub fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/hello")
}

pub fn hello_wat() -> PathBuf {
    examples().join("hello.wat")
}

pub const HELLO: &str = "Hello, world!\n";

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let scratch = Scratch::new();
        let (secret, public) = scratch.raw_key_pair("release");
        let (_, stranger) = scratch.raw_key_pair("stranger");
        let args = [pk(&examples().join("publisher.pub")), sk(raw(&secret))].concat();
        let artifact = scratch.compile(&hello_wat(), "hello", &args);
        Fixture {
            scratch,
            artifact,
            public,
            secret,
            stranger,
        }
    })
}

/// `lucet-oci ARGS`, with a HOME of its own: no docker or podman
/// credentials, trusted keys or registry settings of the developer's.
pub fn oci<I, S>(home: &Path, args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_lucet-oci"));
    command
        .args(args)
        .env("HOME", home)
        .env_remove("LUCET_SIGNATURE_PK")
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR");
    command
}

/// `lucet-oci ARGS` run to completion (bounded: a hang fails the test).
pub fn run_oci<I, S>(home: &Path, args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    lucet_test_support::run_bounded(&mut oci(home, args), Duration::from_secs(60))
}

/// The value of `key` in `lucet-oci inspect` output (`annotation: key=value`).
pub fn annotation<'a>(inspect: &'a str, key: &str) -> Option<&'a str> {
    let prefix = format!("annotation: {key}=");
    inspect
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))
}

/// `lucet-oci push --signature-pk RELEASE EXTRA... ARTIFACT REFERENCE`.
pub fn push(home: &Path, extra: &[String], artifact: &Path, reference: &str) -> Output {
    push_with_key(home, &fixture().public, extra, artifact, reference)
}

/// [`push`], trusting `key` instead.
pub fn push_with_key(
    home: &Path,
    key: &Path,
    extra: &[String],
    artifact: &Path,
    reference: &str,
) -> Output {
    let mut args = vec!["push".to_string()];
    args.extend(pk(key));
    args.extend(extra.iter().cloned());
    args.extend([lucet_test_support::arg(artifact), reference.to_string()]);
    run_oci(home, args)
}

/// `lucet-oci pull --signature-pk KEY EXTRA... -o OUTPUT REFERENCE`.
pub fn pull(home: &Path, key: &Path, extra: &[&str], output: &Path, reference: &str) -> Output {
    let mut args = vec!["pull".to_string()];
    args.extend(pk(key));
    args.extend(extra.iter().map(|s| s.to_string()));
    args.extend([
        "-o".to_string(),
        lucet_test_support::arg(output),
        reference.to_string(),
    ]);
    run_oci(home, args)
}

/// A registry holding the hello artifact (and its source referrer) at
/// `apps/hello:1.0`, a home to run from, and that reference.
pub fn registry_with_hello() -> (Registry, Scratch, String) {
    let registry = Registry::start();
    let home = Scratch::new();
    let reference = registry.reference("apps/hello:1.0");
    let source = [
        "--source".to_string(),
        lucet_test_support::arg(&hello_wat()),
    ];
    push(home.dir(), &source, &fixture().artifact, &reference).ok();
    (registry, home, reference)
}

/// What follows `prefix` on the first line of `lucet-oci inspect REFERENCE`
/// that starts with it, up to the next space.
pub fn inspected(home: &Path, reference: &str, prefix: &str) -> String {
    let inspect = run_oci(home, ["inspect", reference]);
    let shown = inspect.ok();
    shown
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.split_whitespace().last())
        .unwrap_or_else(|| panic!("no {prefix:?} line: {shown}"))
        .to_string()
}
