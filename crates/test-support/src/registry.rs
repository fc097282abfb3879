//! A real OCI registry for tests and benchmarks: CNCF distribution
//! (`docker-registry`, which scripts/install-test-deps.sh installs) on a
//! loopback port, storing into a scratch directory.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Scratch, external, run};

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
