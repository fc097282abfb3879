//! What every lucet-oci test uses: a registry of its own on a loopback
//! port, a signed hello artifact compiled once by the real lucetc, and
//! lucet-oci run with none of the developer's credentials or keys.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use lucet_test_support::{Output, Scratch, external, pk, raw, run, sk};

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

/// A CNCF distribution registry on a loopback port, storing into a
/// scratch directory; stopped when dropped.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`, as references name it.
    pub host: String,
    pub dir: Scratch,
}

impl Registry {
    /// A registry that lets anyone push and pull.
    pub fn start() -> Registry {
        Registry::start_with(None)
    }

    /// A registry that requires HTTP basic auth as `user`:`password`
    /// (an htpasswd file made by Apache's htpasswd, bcrypt).
    pub fn with_password(user: &str, password: &str) -> Registry {
        Registry::start_with(Some((user, password)))
    }

    fn start_with(credentials: Option<(&str, &str)>) -> Registry {
        let mut dir = Scratch::new();
        let auth = match credentials {
            Some((user, password)) => {
                let out = run(Command::new(external("htpasswd")).args(["-Bbn", user, password]));
                let htpasswd = dir.write("htpasswd", out.ok());
                format!(
                    "auth:\n  htpasswd:\n    realm: lucet-test\n    path: {}\n",
                    htpasswd.display()
                )
            }
            None => String::new(),
        };
        // The port is found free, then handed over: another process may
        // take it in between, so a registry that does not come up is
        // started again on another.
        for _ in 0..5 {
            let port = free_port();
            let config = dir.write(
                "config.yml",
                format!(
                    "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                    dir.path("data").display()
                ),
            );
            let child = Command::new(external("docker-registry"))
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start docker-registry");
            let mut registry = Registry {
                child,
                host: format!("127.0.0.1:{port}"),
                dir,
            };
            if registry.wait_until_up() {
                return registry;
            }
            let _ = registry.child.kill();
            let _ = registry.child.wait();
            dir = std::mem::take(&mut registry.dir);
        }
        panic!("docker-registry did not start");
    }

    /// Polls `GET /v2/` until the registry answers (200, or 401 with auth).
    fn wait_until_up(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Some(status) = http_status(&self.host, "/v2/") {
                return status == 200 || status == 401;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `HOST/REPOSITORY:TAG` on this registry.
    pub fn reference(&self, name: &str) -> String {
        format!("{}/{name}", self.host)
    }

    /// The stored blob with `digest` (`sha256:HEX`), in distribution's
    /// filesystem layout.
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir.path(&format!(
            "data/docker/registry/v2/blobs/sha256/{}/{hex}/data",
            &hex[..2]
        ))
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// The status of `GET path` on `host`, if it answers at all.
fn http_status(host: &str, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect(host).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
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
