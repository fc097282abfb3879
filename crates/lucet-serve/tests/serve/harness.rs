//! What every lucet-serve test uses: the real server on a loopback port, a
//! plain HTTP/1.1 client over std's TcpStream, and the JavaScript wasi:http
//! handler (crates/tests/fixtures/js-http) made by
//! scripts/build-js-component.sh, compiled and signed with the real lucetc.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lucet_test_support::{Scratch, built, pk, raw, run, sk};

/// The handler compiled and signed once for all tests, in a scratch
/// directory the other artifacts share.
pub struct Fixture {
    pub scratch: Scratch,
    pub artifact: PathBuf,
    pub public: PathBuf,
    pub secret: PathBuf,
}

pub fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // About 13 MB: StarlingMonkey and handler.js.
        let source = built(
            "LUCET_HTTP_COMPONENT",
            "../js-component/http.wasm",
            "run scripts/build-js-component.sh",
        );
        let scratch = Scratch::new();
        let (secret, public) = scratch.raw_key_pair("release");
        let artifact = scratch.compile(&source, "http", &sk(raw(&secret)));
        Fixture {
            scratch,
            artifact,
            public,
            secret,
        }
    })
}

pub fn serve_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lucet-serve"));
    command
        .env_remove("LUCET_SIGNATURE_PK")
        .args(["--listen", "127.0.0.1:0"]);
    command
}

/// A running server; killed when dropped.
pub struct Server {
    pub child: Child,
    pub address: String,
    pub stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `command` and waits (at most 30 s) for its listening line.
    pub fn start(command: &mut Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start lucet-serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (found, address) = mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let log = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(at) = line.strip_prefix("lucet-serve: listening on http://") {
                    let _ = found.send(at.to_string());
                }
                let mut log = log.lock().expect("log");
                log.push_str(&line);
                log.push('\n');
            }
        });
        let address = address
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no listening line: {}", stderr.lock().expect("log")));
        Server {
            child,
            address,
            stderr,
        }
    }

    pub fn log(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }

    /// Waits (at most 30 s) for a line `line` on the server's stderr: a
    /// request is in flight once its guest said so, however slow the
    /// machine (a fixed sleep was not enough on a loaded one).
    pub fn wait_for_line(&self, line: &str) {
        let started = Instant::now();
        while !self.log().lines().any(|l| l == line) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {line:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits (at most 30 s) for a stderr line starting with `prefix`.
    pub fn wait_for_prefix(&self, prefix: &str) {
        self.wait_for_count(prefix, 1);
    }

    /// Waits (at most 30 s) for `count` stderr lines starting with `prefix`.
    pub fn wait_for_count(&self, prefix: &str, count: usize) {
        let started = Instant::now();
        while self.log().lines().filter(|l| l.starts_with(prefix)).count() < count {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no {count} {prefix:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        request(&self.address, "GET", path)
    }

    /// SIGTERM, then the exit status (at most `limit` later).
    pub fn terminate(mut self, limit: Duration) -> i32 {
        let pid = self.child.id().to_string();
        run(Command::new("kill").args(["-TERM", &pid])).ok();
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.code().unwrap_or(-1);
            }
            assert!(started.elapsed() < limit, "still running after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One HTTP/1.1 request on its own connection: (status, body).
pub fn request(address: &str, method: &str, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).expect("receive");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("a response head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked { dechunk(body) } else { body.into() };
    (status, body)
}

/// A chunked body's data.
pub fn dechunk(mut body: &str) -> String {
    let mut data = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        data.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
    data
}

pub fn signed_server(extra: &[&str]) -> Server {
    let fixture = fixture();
    let mut command = serve_command();
    command
        .args(pk(&fixture.public))
        .args(extra)
        .arg(&fixture.artifact);
    Server::start(&mut command)
}

/// A response as read off the wire.
pub struct Reply {
    pub status: u16,
    /// The head's header lines, lower-cased.
    pub headers: String,
    /// The body, de-chunked when chunked.
    pub body: Vec<u8>,
    /// Whether the body ended as its framing says (a cut response does not).
    pub complete: bool,
}

/// Sends `raw` (a whole request, Connection: close) on a new connection and
/// reads the reply to its end.
pub fn exchange(address: &str, raw: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    stream.write_all(raw).expect("send");
    let mut bytes = Vec::new();
    // A response cut by the server may end in a reset: keep what came.
    let _ = stream.read_to_end(&mut bytes);
    parse_reply(&bytes)
}

/// `method path` with `body` (Content-Length framing) and Connection: close.
pub fn with_body(address: &str, method: &str, path: &str, body: &[u8]) -> Reply {
    let mut raw = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    exchange(address, &raw)
}

fn parse_reply(bytes: &[u8]) -> Reply {
    let split = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head: {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..split]).to_ascii_lowercase();
    let rest = &bytes[split + 4..];
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("a status code");
    let (body, complete) = if head.contains("transfer-encoding: chunked") {
        dechunk_bytes(rest)
    } else {
        let declared = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length: "))
            .and_then(|len| len.trim().parse::<usize>().ok());
        (rest.to_vec(), declared.is_none_or(|len| len == rest.len()))
    };
    Reply {
        status,
        headers: head,
        body,
        complete,
    }
}

/// A chunked body's data, and whether its last chunk came.
fn dechunk_bytes(mut rest: &[u8]) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    loop {
        let Some(eol) = rest.windows(2).position(|window| window == b"\r\n") else {
            return (data, false);
        };
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|size| usize::from_str_radix(size.trim(), 16).ok());
        let Some(size) = size else {
            return (data, false);
        };
        if size == 0 {
            return (data, true);
        }
        let chunk = &rest[eol + 2..];
        if chunk.len() < size + 2 {
            data.extend_from_slice(&chunk[..chunk.len().min(size)]);
            return (data, false);
        }
        data.extend_from_slice(&chunk[..size]);
        rest = &chunk[size + 2..];
    }
}
