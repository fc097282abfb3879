//! Hostile clients against the real server: malformed and oversized
//! requests, stalled and idle connections, clients that go away, pipelining.
//! Whatever they do, a healthy request is answered before, during and after,
//! and the server neither exits nor panics. Loops are bounded: a few hundred
//! connections at most, each test well under a minute.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::harness::{Server, request, signed_server};

/// How long a client waits for the server before the test gives up.
const PATIENCE: Duration = Duration::from_secs(30);

/// The server is still running, has not panicked, and answers a healthy
/// request at once.
#[track_caller]
fn serving(server: &mut Server) {
    let exited = server.child.try_wait().expect("wait");
    assert!(exited.is_none(), "exited ({exited:?}): {}", server.log());
    assert!(!server.log().contains("panicked"), "{}", server.log());
    assert_eq!(
        server.get("/healthy"),
        (200, "GET /healthy\n".into()),
        "{}",
        server.log()
    );
}

/// What the server sent on one connection, and whether it closed it (a
/// reset counts: it may have cost the end of the reply).
struct Raw {
    bytes: Vec<u8>,
    closed: bool,
}

impl Raw {
    fn status(&self) -> Option<u16> {
        status_of(&self.bytes)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

/// The status of the reply `bytes` start with.
fn status_of(bytes: &[u8]) -> Option<u16> {
    let line = bytes.split(|&byte| byte == b'\r').next()?;
    let line = std::str::from_utf8(line).ok()?;
    line.strip_prefix("HTTP/1.")?.get(2..5)?.parse().ok()
}

/// Reads until the server closes the connection or `limit` passes without
/// a byte.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Raw {
    stream.set_read_timeout(Some(limit)).expect("timeout");
    let mut bytes = Vec::new();
    let mut buffer = [0; 64 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => {
                return Raw {
                    bytes,
                    closed: true,
                };
            }
            Ok(read) => bytes.extend_from_slice(&buffer[..read]),
            Err(error) if error.kind() == ErrorKind::Interrupted => {}
            Err(error) if error.kind() == ErrorKind::ConnectionReset => {
                return Raw {
                    bytes,
                    closed: true,
                };
            }
            Err(_) => {
                return Raw {
                    bytes,
                    closed: false,
                };
            }
        }
    }
}

/// Sends `raw` on a new connection and reads until the server closes it.
/// The bytes are written from another thread, so that a server answering
/// (and closing) before the end is heard; the failed rest of the write is
/// expected then.
fn send_raw(address: &str, raw: &[u8]) -> Raw {
    let mut stream = TcpStream::connect(address).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    writer.set_write_timeout(Some(PATIENCE)).expect("timeout");
    let raw = raw.to_vec();
    let sending = std::thread::spawn(move || {
        let _ = writer.write_all(&raw);
    });
    let received = read_until_closed(&mut stream, PATIENCE);
    sending.join().expect("sender");
    received
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The test's end: `bytes` are not the replies they should be.
fn cut(bytes: &[u8]) -> ! {
    panic!("a cut reply: {:?}", String::from_utf8_lossy(bytes))
}

/// The replies one connection carried, in order, as (status, body).
fn replies(mut bytes: &[u8]) -> Vec<(u16, String)> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let end = find(bytes, b"\r\n\r\n").unwrap_or_else(|| cut(bytes));
        let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
        let status = status_of(bytes).unwrap_or_else(|| cut(bytes));
        let mut rest = &bytes[end + 4..];
        let mut body = Vec::new();
        if head.contains("transfer-encoding: chunked") {
            loop {
                let eol = find(rest, b"\r\n").unwrap_or_else(|| cut(bytes));
                let size = std::str::from_utf8(&rest[..eol])
                    .ok()
                    .and_then(|size| usize::from_str_radix(size.trim(), 16).ok())
                    .unwrap_or_else(|| cut(bytes));
                // The last chunk is `0\r\n\r\n` (no trailers).
                let chunk = rest
                    .get(eol + 2..eol + 2 + size + 2)
                    .unwrap_or_else(|| cut(bytes));
                rest = &rest[eol + 2 + size + 2..];
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            let length = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length: "))
                .map_or(0, |length| {
                    length.trim().parse().unwrap_or_else(|_| cut(bytes))
                });
            body.extend_from_slice(rest.get(..length).unwrap_or_else(|| cut(bytes)));
            rest = &rest[length..];
        }
        all.push((status, String::from_utf8_lossy(&body).into_owned()));
        bytes = rest;
    }
    all
}

/// A GET of `path` with `headers` (each ending in \r\n), Connection: close.
fn get_with(path: &str, headers: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: test\r\n{headers}Connection: close\r\n\r\n").into_bytes()
}

/// A hostile request: what it is, its bytes, and the answers it may get
/// (None: a close without one).
type Case = (&'static str, Vec<u8>, &'static [Option<u16>]);

#[test]
fn malformed_requests_are_refused_and_the_server_stays_up() {
    let mut server = signed_server(&[]);
    serving(&mut server);
    let many_headers: String = (0..200).map(|i| format!("X-{i}: v\r\n")).collect();
    let long_uri = format!("/malformed/{}", "a".repeat(70_000));
    // Each refused with 400 by hyper, before any app.
    let bad_request = [
        ("garbage", b"\x00\x01\x02garbage\xff\xfe\r\n\r\n".to_vec()),
        (
            "bad method",
            b"G@T /malformed HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(),
        ),
        (
            "tab for space",
            b"GET\t/malformed HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(),
        ),
        (
            "unknown version",
            b"GET /malformed HTTP/9.9\r\nHost: test\r\n\r\n".to_vec(),
        ),
        (
            "lower-case version",
            b"GET /malformed http/1.1\r\nHost: test\r\n\r\n".to_vec(),
        ),
        (
            "bare CRs",
            b"GET /malformed HTTP/1.1\rHost: test\r\r".to_vec(),
        ),
        (
            "non-UTF-8 path",
            b"GET /malformed\xff HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(),
        ),
        (
            "NUL in path",
            b"GET /malformed\x00 HTTP/1.1\r\nHost: test\r\n\r\n".to_vec(),
        ),
        (
            "control byte in a name",
            get_with("/malformed", "X-Bad\x01: v\r\n"),
        ),
        (
            "space before colon",
            get_with("/malformed", "X-Bad : v\r\n"),
        ),
        (
            "NUL in a value",
            get_with("/malformed", "X-Bad: a\x00b\r\n"),
        ),
        ("no colon", get_with("/malformed", "no-colon\r\n")),
        (
            "obsolete line folding",
            get_with("/malformed", "X-A: a\r\n b\r\n"),
        ),
        (
            "Content-Length abc",
            get_with("/malformed", "Content-Length: abc\r\n"),
        ),
        (
            "Content-Length -1",
            get_with("/malformed", "Content-Length: -1\r\n"),
        ),
        (
            "Content-Length past u64",
            get_with("/malformed", &format!("Content-Length: 9{}\r\n", u64::MAX)),
        ),
        (
            "two Content-Lengths",
            get_with("/malformed", "Content-Length: 1\r\nContent-Length: 2\r\n"),
        ),
        (
            "unknown transfer coding",
            get_with("/malformed", "Transfer-Encoding: gzip\r\n"),
        ),
    ];
    let mut cases: Vec<Case> = bad_request
        .into_iter()
        .map(|(what, raw)| (what, raw, &[Some(400)][..]))
        .collect();
    cases.extend([
        // HTTP/1 only: closed without an answer.
        (
            "HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            &[None][..],
        ),
        (
            "200 headers",
            get_with("/malformed", &many_headers),
            &[Some(431)],
        ),
        // Past hyper's URI limit, and its head past the buffer: which one
        // it notices first depends on how the bytes arrive.
        (
            "a 70 KB URI",
            get_with(&long_uri, ""),
            &[Some(414), Some(431)],
        ),
        // Parsed, but without the authority wasi:http needs: the server's
        // own 400, logged.
        (
            "HTTP/1.1 without Host",
            b"GET /nohost HTTP/1.1\r\nConnection: close\r\n\r\n".to_vec(),
            &[Some(400)],
        ),
    ]);
    for (what, raw, answers) in cases {
        let reply = send_raw(&server.address, &raw);
        assert!(
            answers.contains(&reply.status()),
            "{what}: {:?}; log: {}",
            reply.text(),
            server.log()
        );
        assert!(reply.closed, "{what}: the connection was left open");
        serving(&mut server);
    }
    // None reached the app.
    let log = server.log();
    assert!(!log.contains("/malformed"), "{log}");
    assert_eq!(
        log.matches("lucet-serve: GET /nohost 400 ").count(),
        1,
        "{log}"
    );
}

#[test]
fn a_request_head_far_over_64_kib_gets_431_or_a_close() {
    let mut server = signed_server(&[]);
    serving(&mut server);
    let huge = format!("X-Huge: {}\r\n", "a".repeat(1 << 20));
    for _ in 0..3 {
        let reply = send_raw(&server.address, &get_with("/huge", &huge));
        // The 431 may be lost to a reset, as the server closes with the rest
        // of the head unread.
        assert!(
            matches!(reply.status(), None | Some(431)),
            "{:?}",
            reply.text()
        );
        assert!(reply.closed);
        serving(&mut server);
    }
    assert!(!server.log().contains("/huge"), "{}", server.log());
}

/// A head of 100 000 bytes that arrives in one read is served (200): hyper's
/// `max_buf_size` is only checked between reads that did not complete the
/// head, and one read may fill the buffer past it (up to about 128 KiB).
/// The same head arriving in pieces gets 431. `max_header_size` (next to
/// `max_buf_size` in serve.rs) would make the limit exact.
#[test]
fn a_request_head_just_over_64_kib_gets_431() {
    let mut server = signed_server(&[]);
    let big = format!("X-Big: {}\r\n", "a".repeat(100_000));
    let raw = get_with("/just-over", &big);
    let reply = send_raw(&server.address, &raw);
    assert!(
        matches!(reply.status(), None | Some(431)),
        "in one write: {:?}",
        String::from_utf8_lossy(&reply.bytes[..reply.bytes.len().min(200)])
    );
    serving(&mut server);
}

#[test]
fn an_oversized_content_length_is_answered_413_without_reading_the_body() {
    let mut server = signed_server(&["--max-request-body", "1K"]);
    serving(&mut server);
    let heads = [
        // Declared, never sent: waiting for the body would hang here.
        "Content-Length: 10737418240\r\n",
        "Content-Length: 1099511627776\r\n",
        // The client asks first: no 100 Continue, the refusal at once.
        "Content-Length: 10737418240\r\nExpect: 100-continue\r\n",
    ];
    for head in heads {
        let raw = format!("POST /echo HTTP/1.1\r\nHost: test\r\n{head}\r\n");
        let started = Instant::now();
        let reply = send_raw(&server.address, raw.as_bytes());
        assert_eq!(reply.status(), Some(413), "{head}: {:?}", reply.text());
        assert!(
            reply.text().contains("--max-request-body"),
            "{}",
            reply.text()
        );
        // Closed rather than kept to read gigabytes of body.
        assert!(reply.closed, "{head}: left open");
        assert!(started.elapsed() < Duration::from_secs(10), "{head}");
        serving(&mut server);
    }
    // Past hyper's own limit (u64::MAX - 2; the values above are its
    // markers for chunked and close-delimited bodies) it refuses the head.
    let raw = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 18446744073709551615\r\n\r\n";
    let reply = send_raw(&server.address, raw);
    assert!(
        matches!(reply.status(), Some(413 | 431)),
        "{}",
        reply.text()
    );
    assert!(reply.closed);
    serving(&mut server);
    // The body arriving after all is not read either.
    let mut raw = b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 4000000\r\n\r\n".to_vec();
    raw.resize(raw.len() + 4_000_000, b'x');
    let reply = send_raw(&server.address, &raw);
    assert!(
        matches!(reply.status(), None | Some(413)),
        "{}",
        reply.text()
    );
    serving(&mut server);
    let log = server.log();
    assert!(
        log.matches("lucet-serve: POST /echo 413 ").count() >= 3,
        "{log}"
    );
    // The app never ran.
    assert!(!log.contains("the app failed"), "{log}");
}

/// How a stalling client behaves.
#[derive(Clone, Copy, Debug)]
enum Stall {
    /// Connects and sends nothing.
    Silent,
    /// Sends half a request head, then nothing.
    HalfHead,
    /// Sends half a head, then a byte every 100 ms (each read well inside
    /// any per-read timeout).
    Trickle,
    /// Makes one request on a keep-alive connection, then sends nothing.
    KeptAlive,
}

/// Runs a stalling client of `kind` against the server: how long after it
/// began the server closed the connection, and what it sent then.
fn stall(address: &str, kind: Stall) -> (Duration, Raw) {
    // Before the connection exists, so that the server's timer cannot have
    // started earlier: the time measured is at least the timeout.
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let half = b"GET /stalled HTTP/1.1\r\nHost: te";
    match kind {
        Stall::Silent => {}
        Stall::HalfHead | Stall::Trickle => stream.write_all(half).expect("send"),
        Stall::KeptAlive => {
            stream
                .write_all(b"GET /kept-alive HTTP/1.1\r\nHost: test\r\n\r\n")
                .expect("send");
            let mut reply = Vec::new();
            let mut buffer = [0; 4096];
            while !reply.ends_with(b"0\r\n\r\n") {
                let read = stream.read(&mut buffer).expect("the first reply");
                assert!(read > 0, "closed before the first reply");
                reply.extend_from_slice(&buffer[..read]);
            }
            assert_eq!(replies(&reply), [(200, "GET /kept-alive\n".into())]);
        }
    }
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        if let Stall::Trickle = kind {
            let mut writer = stream.try_clone().expect("clone");
            let stop = &stop;
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) && started.elapsed() < PATIENCE {
                    if writer.write_all(b"x").is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let raw = read_until_closed(&mut stream, PATIENCE);
        stop.store(true, Ordering::Relaxed);
        (started.elapsed(), raw)
    })
}

#[test]
fn stalled_clients_are_closed_at_the_header_read_timeout() {
    let mut server = signed_server(&["--header-read-timeout", "1s"]);
    serving(&mut server);
    let address = server.address.clone();
    let stalls = [
        Stall::Silent,
        Stall::HalfHead,
        Stall::Trickle,
        Stall::KeptAlive,
    ];
    let outcomes = std::thread::scope(|scope| {
        let clients: Vec<_> = stalls
            .iter()
            .map(|&kind| {
                let address = &address;
                scope.spawn(move || stall(address, kind))
            })
            .collect();
        // Served while they stall.
        std::thread::sleep(Duration::from_millis(300));
        serving(&mut server);
        clients
            .into_iter()
            .map(|client| client.join().expect("stalling client"))
            .collect::<Vec<_>>()
    });
    for (kind, (elapsed, raw)) in stalls.iter().zip(outcomes) {
        assert!(raw.closed, "{kind:?}: still open after {PATIENCE:?}");
        // Closed without an answer (or, at most, a 408).
        assert!(
            matches!(raw.status(), None | Some(408)),
            "{kind:?}: {:?}",
            raw.text()
        );
        // The whole timeout, not less; and not much more, however slowly
        // the bytes trickle in.
        assert!(
            elapsed >= Duration::from_millis(900),
            "{kind:?}: {elapsed:?}"
        );
        assert!(elapsed < Duration::from_secs(6), "{kind:?}: {elapsed:?}");
    }
    serving(&mut server);
    assert!(!server.log().contains("/stalled"), "{}", server.log());
}

/// A body trickled a byte at a time, each well inside any per-read
/// timeout, to an app that reads it: the app's deadline ends it (504), so
/// the client holds its slot no longer than --timeout.
#[test]
fn a_trickled_body_is_cut_at_the_deadline() {
    let mut server = signed_server(&["--timeout", "1s"]);
    serving(&mut server);
    let started = Instant::now();
    let mut stream = TcpStream::connect(&server.address).expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n")
        .expect("send");
    let mut writer = stream.try_clone().expect("clone");
    let stop = AtomicBool::new(false);
    let raw = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) && started.elapsed() < PATIENCE {
                if writer.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        // Served meanwhile.
        serving(&mut server);
        let raw = read_until_closed(&mut stream, PATIENCE);
        stop.store(true, Ordering::Relaxed);
        raw
    });
    let took = started.elapsed();
    assert!(raw.closed, "{}", raw.text());
    // The 504 may be lost to a reset if a byte crossed the close.
    assert!(matches!(raw.status(), None | Some(504)), "{}", raw.text());
    assert!(took < Duration::from_secs(8), "held for {took:?}");
    server.wait_for_prefix("lucet-serve: POST /echo 504 ");
    serving(&mut server);
}

/// Over --max-connections, a connection waits in the listen backlog; idle
/// ones are closed by the header read timeout, 50 at a time here, so a
/// healthy request behind 200 idle ones is served after four timeouts, not
/// at once and not never.
#[test]
fn idle_connections_past_max_connections_wait_for_slots_that_the_timeout_frees() {
    let mut server = signed_server(&["--max-connections", "50", "--header-read-timeout", "1s"]);
    serving(&mut server);
    let started = Instant::now();
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(&server.address).expect("connect an idle client"))
        .collect();
    // Behind them: accepted only once 151 of them are gone, each after a
    // full timeout from its own accept, 50 at a time.
    let (status, body) = request(&server.address, "GET", "/healthy");
    let waited = started.elapsed();
    assert_eq!((status, body.as_str()), (200, "GET /healthy\n"));
    assert!(
        waited >= Duration::from_secs(3),
        "not held back: {waited:?}"
    );
    assert!(waited < Duration::from_secs(25), "{waited:?}");
    // Every idle one was closed, without an answer.
    for stream in &mut idle {
        let raw = read_until_closed(stream, PATIENCE);
        assert!(raw.closed && raw.bytes.is_empty(), "{:?}", raw.text());
    }
    let all_closed = started.elapsed();
    assert!(all_closed < Duration::from_secs(30), "{all_closed:?}");
    // With the slots free again, at once.
    let again = Instant::now();
    serving(&mut server);
    assert!(
        again.elapsed() < Duration::from_secs(5),
        "{:?}",
        again.elapsed()
    );
}

#[test]
fn clients_that_go_away_mid_request_leave_the_server_serving() {
    let mut server = signed_server(&["--timeout", "2s"]);
    serving(&mut server);
    let address = server.address.clone();
    // Half a body, then gone.
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 1000\r\n\r\n0123456789")
        .expect("send");
    std::thread::sleep(Duration::from_millis(200));
    drop(stream);
    server.wait_for_prefix("lucet-serve: POST /echo ");
    serving(&mut server);
    // A large response, the client gone after its first bytes (with the
    // rest unread, its close is a reset).
    let mut stream = TcpStream::connect(&address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
        .write_all(b"GET /big?bytes=50000000 HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    let mut first = [0; 1024];
    let read = stream.read(&mut first).expect("the reply begins");
    assert_eq!(status_of(&first[..read]), Some(200));
    drop(stream);
    server.wait_for_prefix("lucet-serve: GET /big ");
    serving(&mut server);
    // Gone before the head was complete, or before sending anything.
    for raw in [&b"GET /gone HTTP/1.1\r\nHo"[..], b""] {
        let mut stream = TcpStream::connect(&address).expect("connect");
        stream.write_all(raw).expect("send");
        drop(stream);
        serving(&mut server);
    }
    // Each request the server took is in the log once; no line for what
    // was never a request.
    let log = server.log();
    assert_eq!(log.matches("lucet-serve: POST /echo ").count(), 1, "{log}");
    assert_eq!(log.matches("lucet-serve: GET /big ").count(), 1, "{log}");
    assert!(!log.contains("/gone"), "{log}");
}

/// The guest of a request whose client went away runs on, holding its
/// slot, until its deadline: never longer.
#[test]
fn an_abandoned_request_frees_its_slot_by_its_deadline() {
    let mut server = signed_server(&["--timeout", "2s", "--max-concurrency", "1"]);
    serving(&mut server);
    let mut stream = TcpStream::connect(&server.address).expect("connect");
    stream
        .write_all(b"GET /loop HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    server.wait_for_line("looping");
    drop(stream);
    let started = Instant::now();
    loop {
        let (status, _) = server.get("/healthy");
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{}", server.log());
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    serving(&mut server);
}

/// The request above never gets its access-log line (nor its metrics):
/// when the client goes away, hyper drops the request's future before
/// `Server::handle` logs, though the guest runs on to its deadline, holding
/// a slot. An operator sees 503s with nothing in the log that explains
/// them.
#[test]
fn a_request_whose_client_went_away_is_still_logged() {
    let mut server = signed_server(&["--timeout", "1s"]);
    let mut stream = TcpStream::connect(&server.address).expect("connect");
    stream
        .write_all(b"GET /loop HTTP/1.1\r\nHost: test\r\n\r\n")
        .expect("send");
    server.wait_for_line("looping");
    drop(stream);
    server.wait_for_prefix("lucet-serve: GET /loop ");
    serving(&mut server);
}

/// A chunked body with a malformed chunk size is the client's error, as a
/// malformed head is (400); the server answers 500 "the app failed" and
/// counts a trap, because the app's read of the body fails and the app
/// traps.
#[test]
fn a_malformed_chunked_body_is_answered_400() {
    let mut server = signed_server(&[]);
    let raw = b"POST /echo HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\
        Connection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n";
    let reply = send_raw(&server.address, raw);
    assert_eq!(reply.status(), Some(400), "{:?}", reply.text());
    serving(&mut server);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut server = signed_server(&[]);
    serving(&mut server);
    // Forty requests in one write, a body among them, the last one closing.
    let mut raw = Vec::new();
    let mut expected = Vec::new();
    for i in 0..40 {
        if i == 20 {
            raw.extend_from_slice(
                b"POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello",
            );
            expected.push((200, "hello".to_string()));
        }
        let close = if i == 39 { "Connection: close\r\n" } else { "" };
        raw.extend_from_slice(
            format!("GET /p/{i} HTTP/1.1\r\nHost: test\r\n{close}\r\n").as_bytes(),
        );
        expected.push((200, format!("GET /p/{i}\n")));
    }
    let reply = send_raw(&server.address, &raw);
    assert!(reply.closed);
    assert_eq!(replies(&reply.bytes), expected);
    serving(&mut server);

    // A malformed request in the pipeline: what came before is answered,
    // then 400 and the close; what came after is never read.
    let raw = b"GET /first HTTP/1.1\r\nHost: test\r\n\r\n\
        G\x01T / HTTP/1.1\r\n\r\n\
        GET /never HTTP/1.1\r\nHost: test\r\n\r\n";
    let reply = send_raw(&server.address, raw);
    assert!(reply.closed);
    assert_eq!(
        replies(&reply.bytes),
        [(200, "GET /first\n".into()), (400, String::new())]
    );
    serving(&mut server);

    // Content-Length and Transfer-Encoding both: the body is chunked (and
    // empty), the connection closed after it, so the request hidden in
    // what Content-Length would have counted is never served.
    let smuggled = b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: test\r\n\r\n";
    let mut raw = format!(
        "POST /echo HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        smuggled.len()
    )
    .into_bytes();
    raw.extend_from_slice(smuggled);
    let reply = send_raw(&server.address, &raw);
    assert!(reply.closed);
    assert_eq!(replies(&reply.bytes), [(200, String::new())]);
    serving(&mut server);
    let log = server.log();
    assert!(!log.contains("/never"), "{log}");
    assert!(!log.contains("/smuggled"), "{log}");
}

/// On SIGTERM, idle connections close at once; a client stalled in the
/// middle of its head holds the drain until the header read timeout at
/// most, not until --shutdown-timeout.
#[test]
fn stalled_clients_hold_shutdown_no_longer_than_the_header_read_timeout() {
    let mut server = signed_server(&["--header-read-timeout", "2s", "--shutdown-timeout", "60s"]);
    serving(&mut server);
    let mut clients = Vec::new();
    for _ in 0..3 {
        clients.push(TcpStream::connect(&server.address).expect("connect"));
        let mut half = TcpStream::connect(&server.address).expect("connect");
        half.write_all(b"GET /stalled HTTP/1.1\r\nHo")
            .expect("send");
        clients.push(half);
    }
    // Accepted (and the half heads read) before the signal.
    std::thread::sleep(Duration::from_millis(300));
    serving(&mut server);
    let stderr = std::sync::Arc::clone(&server.stderr);
    let started = Instant::now();
    // The timeout from each stalled client's accept, plus a margin for a
    // loaded machine: far below --shutdown-timeout.
    assert_eq!(server.terminate(Duration::from_secs(8)), 0);
    let log = stderr.lock().expect("log").clone();
    assert!(started.elapsed() < Duration::from_secs(8), "{log}");
    assert!(!log.contains("--shutdown-timeout reached"), "{log}");
    assert!(!log.contains("panicked"), "{log}");
    for mut client in clients {
        assert!(read_until_closed(&mut client, PATIENCE).closed);
    }
}
