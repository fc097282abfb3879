//! lucet-serve end to end: the real server on a loopback port, a plain
//! HTTP/1.1 client over std's TcpStream, and the JavaScript wasi:http
//! handler (crates/tests/fixtures/js-http) made by
//! scripts/build-js-component.sh, compiled and signed with the real lucetc.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use lucet_test_support::{Scratch, built, pk, raw, run, sk};

/// The handler compiled and signed once for all tests, in a scratch
/// directory the other artifacts share.
struct Fixture {
    scratch: Scratch,
    artifact: PathBuf,
    public: PathBuf,
    secret: PathBuf,
}

fn fixture() -> &'static Fixture {
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

fn serve_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_lucet-serve"));
    command
        .env_remove("LUCET_SIGNATURE_PK")
        .args(["--listen", "127.0.0.1:0"]);
    command
}

/// A running server; killed when dropped.
struct Server {
    child: Child,
    address: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `command` and waits (at most 30 s) for its listening line.
    fn start(command: &mut Command) -> Server {
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

    fn log(&self) -> String {
        self.stderr.lock().expect("log").clone()
    }

    /// Waits (at most 30 s) for a line `line` on the server's stderr: a
    /// request is in flight once its guest said so, however slow the
    /// machine (a fixed sleep was not enough on a loaded one).
    fn wait_for_line(&self, line: &str) {
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

    fn get(&self, path: &str) -> (u16, String) {
        request(&self.address, "GET", path)
    }

    /// SIGTERM, then the exit status (at most `limit` later).
    fn terminate(mut self, limit: Duration) -> i32 {
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
fn request(address: &str, method: &str, path: &str) -> (u16, String) {
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
fn dechunk(mut body: &str) -> String {
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

fn signed_server(extra: &[&str]) -> Server {
    let fixture = fixture();
    let mut command = serve_command();
    command
        .args(pk(&fixture.public))
        .args(extra)
        .arg(&fixture.artifact);
    Server::start(&mut command)
}

#[test]
fn a_signed_component_answers_each_request_in_a_fresh_instance() {
    let server = signed_server(&["--timeout", "2s", "--max-heap-size", "64M"]);
    assert_eq!(
        server.get("/hello/world"),
        (200, "GET /hello/world\n".into())
    );
    assert_eq!(
        request(&server.address, "POST", "/form"),
        (200, "POST /form\n".into())
    );
    // A guest that loops forever is stopped at its deadline; another
    // request meanwhile is served.
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");
    assert_eq!(server.get("/meanwhile").0, 200);
    let (status, _) = looping.join().expect("loop request");
    assert_eq!(status, 504);
    // Past --max-heap-size the JS engine aborts: a trap, answered 500.
    assert_eq!(server.get("/grow").0, 500);
    assert_eq!(server.get("/after").0, 200);
    let log = server.log();
    assert!(log.contains("lucet-serve: GET /hello/world 200 "), "{log}");
    assert!(log.contains("lucet-serve: GET /loop 504 "), "{log}");
    assert!(log.contains("lucet-serve: GET /grow 500 "), "{log}");
    assert_eq!(server.terminate(Duration::from_secs(15)), 0);
}

#[test]
fn a_request_past_max_concurrency_is_answered_503_at_once() {
    let server = signed_server(&["--timeout", "2s", "--max-concurrency", "1"]);
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");
    assert_eq!(server.get("/busy").0, 503);
    // At once: answered while the only slot is still taken, not after.
    assert!(!looping.is_finished(), "503 only after the slot was free");
    assert_eq!(looping.join().expect("loop request").0, 504);
    assert_eq!(server.get("/free").0, 200);
}

#[test]
fn sigterm_drains_the_request_in_flight_then_exits_0() {
    let server = signed_server(&["--timeout", "1s"]);
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");
    let status = server.terminate(Duration::from_secs(15));
    // The request in flight got its answer rather than a cut connection.
    assert_eq!(looping.join().expect("loop request").0, 504);
    assert_eq!(status, 0);
}

/// `lucet-serve ARGS... ARTIFACT` must refuse to start: exit 1, one line
/// on stderr containing `needle`.
#[track_caller]
fn refused(args: &[String], artifact: &Path, needle: &str) {
    let mut command = serve_command();
    command.args(args).arg(artifact);
    let output = lucet_test_support::run_bounded(&mut command, Duration::from_secs(60));
    assert_eq!(output.status, 1, "{output:?}");
    assert_eq!(output.stderr.lines().count(), 1, "{output:?}");
    assert!(output.stderr.contains(needle), "{output:?}");
}

#[test]
fn unverifiable_artifacts_and_modules_are_refused_at_start() {
    let fixture = fixture();
    let scratch = &fixture.scratch;
    let key = pk(&fixture.public);
    refused(&[], &fixture.artifact, "without a trusted key");

    let source = built("LUCET_HTTP_COMPONENT", "../js-component/http.wasm", "");
    let unsigned = scratch.compile(&source, "unsigned", &[]);
    refused(&key, &unsigned, "not signed");

    let mut bytes = std::fs::read(&fixture.artifact).expect("read");
    bytes[4000] ^= 1;
    let tampered = scratch.write("tampered.so", bytes);
    refused(&key, &tampered, "signature");

    let module = scratch.write("module.wat", "(module)");
    let module = scratch.compile(&module, "module", &sk(raw(&fixture.secret)));
    refused(&key, &module, "not a component");

    // A component, but a command rather than a wasi:http/proxy.
    let command = built("LUCET_JS_COMPONENT", "../js-component/app.wasm", "");
    let command = scratch.compile(&command, "command", &sk(raw(&fixture.secret)));
    refused(&key, &command, "not a wasi:http/proxy");

    let policy = [
        key.to_vec(),
        vec!["--min-timestamp".into(), "99999999999".into()],
    ]
    .concat();
    refused(&policy, &fixture.artifact, "timestamp");

    // For local development, an explicit flag serves it, and says so.
    let mut command = serve_command();
    command.arg("--allow-unverified").arg(&unsigned);
    let server = Server::start(&mut command);
    assert_eq!(server.get("/dev"), (200, "GET /dev\n".into()));
    assert!(server.log().contains("UNVERIFIED"), "{}", server.log());
}
