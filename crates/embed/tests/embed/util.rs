//! Shared helpers: the built tools, a key pair, and fixtures compiled by the
//! real lucetc, once per test process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use lucet_embed::{Host, HostConfig, ModuleHandle, PublicKeySet};
use lucet_test_support::{built, raw_keygen_args, run_ok, sign_raw};

/// The lucetc binary (`$LUCETC` overrides).
pub fn lucetc() -> PathBuf {
    built(
        "LUCETC",
        "lucetc",
        "run `cargo build -p lucetc` (the workspace test run builds it)",
    )
}

/// A `.wat` fixture.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.wat"))
}

/// How a fixture is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Build {
    /// lucetc's defaults, signed with the trusted key.
    Signed,
    /// lucetc's defaults, not signed.
    Unsigned,
    /// Signed by a key the hosts do not trust.
    OtherKey,
    /// Signed, compiled with `--no-interruption`.
    NoInterruption,
    /// Signed, compiled with `--reserved-size 64MiB`.
    SmallReservation,
}

impl Build {
    fn flags(self) -> &'static [&'static str] {
        match self {
            Build::Signed | Build::Unsigned | Build::OtherKey => &[],
            Build::NoInterruption => &["--no-interruption"],
            Build::SmallReservation => &["--reserved-size", "64MiB"],
        }
    }
}

/// Keys and compiled artifacts in a scratch directory, shared by the tests
/// of this process.
pub struct Fixtures {
    dir: tempfile::TempDir,
    cache: Mutex<HashMap<(String, Build), PathBuf>>,
}

impl Fixtures {
    /// The fixtures of this process; the key pairs are made on first use.
    pub fn get() -> &'static Fixtures {
        static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
        FIXTURES.get_or_init(|| {
            let dir = tempfile::tempdir().expect("scratch directory");
            for name in ["trusted", "other"] {
                let secret = dir.path().join(format!("{name}.key"));
                let public = dir.path().join(format!("{name}.pub"));
                run_ok(Command::new(lucetc()).args(raw_keygen_args(&secret, &public)));
            }
            Fixtures {
                dir,
                cache: Mutex::new(HashMap::new()),
            }
        })
    }

    /// The trusted public key file.
    pub fn public_key(&self) -> PathBuf {
        self.dir.path().join("trusted.pub")
    }

    /// The trusted keys, as a host takes them.
    pub fn keys(&self) -> PublicKeySet {
        lucet_signature::read_public_keys(&[self.public_key()]).expect("trusted key")
    }

    /// `tests/fixtures/<name>.wat` compiled by lucetc as `build` says.
    pub fn artifact(&self, name: &str, build: Build) -> PathBuf {
        self.compiled(name, &fixture(name), build)
    }

    /// The WebAssembly text `wat`, written for one test, compiled and signed
    /// by the trusted key as `<name>.so` (names must differ between sources).
    pub fn artifact_from_text(&self, name: &str, wat: &str) -> PathBuf {
        let source = self.dir.path().join(format!("{name}.wat"));
        std::fs::write(&source, wat).expect("write the source");
        self.compiled(name, &source, Build::Signed)
    }

    /// `tests/fixtures/<name>.wat`, a preview-1 command, made into a WASI
    /// 0.2 component with the official adapter, compiled and signed by the
    /// trusted key as `<name>-component.so`.
    pub fn component(&self, name: &str) -> PathBuf {
        let wat = std::fs::read_to_string(fixture(name)).expect("read the fixture");
        self.component_from_text(name, &wat)
    }

    /// `wat`, a preview-1 command module written for one test, made into a
    /// component and compiled as [`component`](Fixtures::component) does.
    pub fn component_from_text(&self, name: &str, wat: &str) -> PathBuf {
        let component = lucet_test_support::componentize(wat.as_bytes()).expect("componentize");
        let stem = format!("{name}-component");
        let source = self.dir.path().join(format!("{stem}.wasm"));
        std::fs::write(&source, component).expect("write the component");
        self.compiled(&stem, &source, Build::Signed)
    }

    fn compiled(&self, name: &str, source: &Path, build: Build) -> PathBuf {
        let mut cache = self.cache.lock().expect("fixture cache");
        if let Some(path) = cache.get(&(name.to_string(), build)) {
            return path.clone();
        }
        let out_dir = self.dir.path().join(format!("{build:?}"));
        std::fs::create_dir_all(&out_dir).expect("fixture directory");
        let output = out_dir.join(format!("{name}.so"));
        let mut command = Command::new(lucetc());
        command
            .arg(source)
            .arg("-o")
            .arg(&output)
            .args(build.flags());
        let key = match build {
            Build::Unsigned => None,
            Build::OtherKey => Some("other.key"),
            _ => Some("trusted.key"),
        };
        if let Some(key) = key {
            command.arg(sign_raw(&self.dir.path().join(key)));
        }
        run_ok(&mut command);
        cache.insert((name.to_string(), build), output.clone());
        output
    }
}

/// A host trusting the fixtures' key, with a pool of `max_instances`.
pub fn host(max_instances: u32) -> Host {
    let mut config = HostConfig::new(Fixtures::get().keys());
    config.pooling.max_instances = max_instances;
    Host::new(config).expect("host")
}

/// The fixture `name`, compiled and signed, loaded into `host`.
pub fn load(host: &Host, name: &str) -> ModuleHandle {
    host.load_verified(&Fixtures::get().artifact(name, Build::Signed))
        .unwrap_or_else(|e| panic!("loading {name}: {}", e.report()))
}

/// The fixture `name` made a component, compiled and signed, loaded into
/// `host`.
pub fn load_component(host: &Host, name: &str) -> ModuleHandle {
    host.load_verified(&Fixtures::get().component(name))
        .unwrap_or_else(|e| panic!("loading the {name} component: {}", e.report()))
}
