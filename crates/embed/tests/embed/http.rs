//! The example HTTP host, run as a process on 127.0.0.1 and talked to over
//! TCP.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::util::{Build, Fixtures, http_host};

/// How long anything may take before the test gives up.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running http_host, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let mut child = Command::new(http_host())
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--dir")
            .arg(dir)
            .arg("--signature-pk")
            .arg(Fixtures::get().public_key())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start http_host");
        let stdout = child.stdout.take().expect("stdout pipe");
        let stderr_pipe = child.stderr.take().expect("stderr pipe");
        let stderr = Arc::new(Mutex::new(String::new()));
        let collected = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr_pipe).lines() {
                let Ok(line) = line else { break };
                let mut all = collected.lock().expect("stderr lock");
                all.push_str(&line);
                all.push('\n');
            }
        });
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
        };
        let line = received.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "http_host printed no address; stderr:\n{}",
                server.stderr_text()
            )
        });
        server.addr = line
            .strip_prefix("listening on ")
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
        assert!(server.addr.ip().is_loopback(), "{}", server.addr);
        server
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().expect("stderr lock").clone()
    }

    /// Waits until stderr contains `needle` (the log is read concurrently).
    #[track_caller]
    fn wait_for_log(&self, needle: &str) {
        let started = Instant::now();
        while !self.stderr_text().contains(needle) {
            assert!(
                started.elapsed() < PATIENCE,
                "stderr lacks {needle:?}:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `request` as is; returns the status and the body.
    fn send(&self, request: &[u8]) -> (u16, Vec<u8>) {
        let mut stream = TcpStream::connect_timeout(&self.addr, PATIENCE).expect("connect");
        stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
        stream.set_write_timeout(Some(PATIENCE)).expect("timeout");
        stream.write_all(request).expect("send request");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).expect("read response");
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no head in {:?}", String::from_utf8_lossy(&response)));
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.1 ")
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("bad status line in {head:?}"));
        let body = response[split + 4..].to_vec();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
        assert_eq!(body.len(), length, "{head}");
        (status, body)
    }

    fn post(&self, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.send(&request)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(body: &[u8]) -> String {
    String::from_utf8_lossy(body).into_owned()
}

#[test]
fn serves_verified_modules_and_refuses_the_rest() {
    let fixtures = Fixtures::get();
    let dir = tempfile::tempdir().expect("artifact directory");
    let copy = |name: &str, build: Build, as_name: &str| {
        std::fs::copy(fixtures.artifact(name, build), dir.path().join(as_name))
            .expect("copy artifact");
    };
    copy("upper", Build::Signed, "upper.so");
    copy("fail", Build::Signed, "fail.so");
    copy("spin", Build::Signed, "spin.so");
    copy("upper", Build::Unsigned, "unsigned.so");
    copy("upper", Build::OtherKey, "stranger.so");
    copy("upper", Build::Signed, "tampered.so");
    let tampered = dir.path().join("tampered.so");
    let mut bytes = std::fs::read(&tampered).expect("read");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x40;
    std::fs::write(&tampered, bytes).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not an artifact").expect("write");

    let server = Server::start(dir.path(), &["--deadline", "500ms", "--max-body", "1K"]);
    server.wait_for_log("refused unsigned.so: artifact is not signed");
    server
        .wait_for_log("refused stranger.so: artifact signature refused: signature was made by key");
    server.wait_for_log("refused tampered.so: artifact signature refused");
    for name in ["fail", "spin", "upper"] {
        server.wait_for_log(&format!("loaded {name}\n"));
    }
    let log = server.stderr_text();
    for name in ["unsigned", "stranger", "tampered", "notes"] {
        assert!(!log.contains(&format!("loaded {name}")), "{log}");
    }

    // Concurrent requests, each in a fresh instance.
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8)
            .map(|i| {
                let server = &server;
                scope.spawn(move || {
                    let body = format!("request {i}: hello, module");
                    let (status, response) = server.post("/upper", body.as_bytes());
                    assert_eq!(status, 200, "{}", text(&response));
                    assert_eq!(text(&response), body.to_uppercase());
                })
            })
            .collect();
        for client in clients {
            client.join().expect("client");
        }
    });

    // Refused and unknown modules are not served.
    for path in [
        "/unsigned",
        "/stranger",
        "/tampered",
        "/nope",
        "/",
        "/upper.so",
    ] {
        let (status, body) = server.post(path, b"x");
        assert_eq!(status, 404, "{path}: {}", text(&body));
    }
    let (status, _) = server.send(b"GET /upper HTTP/1.1\r\nHost: test\r\n\r\n");
    assert_eq!(status, 405);

    // Guest failures are 500 with one line saying why.
    let (status, body) = server.post("/fail", b"");
    assert_eq!(status, 500);
    assert!(text(&body).starts_with("guest trapped:"), "{}", text(&body));
    assert_eq!(text(&body).lines().count(), 1, "{}", text(&body));
    let started = Instant::now();
    let (status, body) = server.post("/spin", b"");
    assert_eq!(status, 500);
    assert!(text(&body).contains("deadline of 500ms"), "{}", text(&body));
    assert!(started.elapsed() < Duration::from_secs(20));

    // A body over --max-body is refused before it is read.
    let (status, body) =
        server.send(b"POST /upper HTTP/1.1\r\nHost: test\r\nContent-Length: 2048\r\n\r\n");
    assert_eq!(status, 413, "{}", text(&body));
    let (status, body) = server.post("/upper", &[b'a'; 1024]);
    assert_eq!((status, body), (200, vec![b'A'; 1024]));

    // Still serving after all that, from the same slots.
    for _ in 0..20 {
        let (status, body) = server.post("/upper", b"again");
        assert_eq!((status, text(&body).as_str()), (200, "AGAIN"));
    }
    let log = server.stderr_text();
    assert!(!log.contains("panicked"), "{log}");
}

#[test]
fn refuses_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().expect("artifact directory");
    let output = Command::new(http_host())
        .arg("--listen")
        .arg("0.0.0.0:0")
        .arg("--dir")
        .arg(dir.path())
        .arg("--signature-pk")
        .arg(Fixtures::get().public_key())
        .output()
        .expect("run http_host");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("loopback addresses only"), "{stderr}");
    assert!(output.stdout.is_empty());
}

/// A client trickling its request a byte at a time, each byte well inside
/// any per-read timeout, is cut off once the whole request's time is up:
/// it cannot hold a connection slot for longer than `--request-timeout`.
#[test]
fn slow_clients_are_cut_off_at_the_request_timeout() {
    let fixtures = Fixtures::get();
    let dir = tempfile::tempdir().expect("artifact directory");
    std::fs::copy(
        fixtures.artifact("upper", Build::Signed),
        dir.path().join("upper.so"),
    )
    .expect("copy artifact");
    let server = Server::start(dir.path(), &["--request-timeout", "1s"]);
    server.wait_for_log("loaded upper\n");
    // Trickling the head, then trickling the body after a complete head.
    let heads: [&[u8]; 2] = [
        b"POST /upper HTTP/1.1\r\nX-Slow: ",
        b"POST /upper HTTP/1.1\r\nContent-Length: 1000\r\n\r\n",
    ];
    for head in heads {
        let started = Instant::now();
        let (answer, served_meanwhile) = std::thread::scope(|scope| {
            let slow = scope.spawn(|| trickle(server.addr, head));
            // Others are served while the slow client trickles.
            let (status, body) = server.post("/upper", b"meanwhile");
            (slow.join().expect("slow client"), (status, text(&body)))
        });
        assert_eq!(served_meanwhile, (200, "MEANWHILE".to_string()));
        // Generous for a loaded machine; without the request timeout the
        // client would be held until PATIENCE ran out.
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(10), "held for {elapsed:?}");
        // The answer may be lost to a reset if a byte crossed the close.
        assert!(
            answer.is_empty() || answer.starts_with(b"HTTP/1.1 408 "),
            "{}",
            text(&answer)
        );
    }
    // The log is read concurrently: wait for both lines.
    let waiting = Instant::now();
    while server.stderr_text().matches("- 408 ").count() < 2 {
        assert!(waiting.elapsed() < PATIENCE, "{}", server.stderr_text());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `head`, then one more byte every 300 ms until the server answers or
/// closes; returns what it answered. Gives up after PATIENCE.
fn trickle(addr: SocketAddr, head: &[u8]) -> Vec<u8> {
    let mut stream = TcpStream::connect_timeout(&addr, PATIENCE).expect("connect");
    stream.write_all(head).expect("send head");
    let mut reader = stream.try_clone().expect("clone stream");
    reader.set_read_timeout(Some(PATIENCE)).expect("timeout");
    // Read concurrently, so the answer is taken as soon as it arrives.
    let received = std::thread::spawn(move || {
        let mut answer = Vec::new();
        let _ = reader.read_to_end(&mut answer);
        answer
    });
    let started = Instant::now();
    while !received.is_finished() && started.elapsed() < PATIENCE {
        if stream.write_all(b"a").is_err() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    received.join().expect("reader")
}
