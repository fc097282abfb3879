//! A loopback HTTP host for signed modules, built on `lucet-embed`.
//!
//! ```text
//! http_host --listen 127.0.0.1:8080 --dir ARTIFACTS --signature-pk lucet.pub
//! curl --data-binary 'hello' http://127.0.0.1:8080/upper     # runs ARTIFACTS/upper.so
//! ```
//!
//! At start-up every `*.so` in `--dir` is read once and verified: each is
//! logged on stderr as `loaded NAME` or `refused FILE: REASON`, and only the
//! loaded ones are served. Then `listening on ADDR` is printed on stdout.
//!
//! `POST /NAME` runs NAME in a fresh instance with the request body as its
//! stdin and answers 200 with its stdout; 500 with one line if it trapped,
//! exited non-zero or ran past `--deadline`. Other answers: 404 for an
//! unknown name, 405 for another method, 408 when the whole request (head
//! and body) has not arrived within `--request-timeout` of connecting, 413
//! for a body over `--max-body`, 503 when `--max-connections` requests are
//! already in flight.
//!
//! Deliberately small: std-only HTTP/1.1, one request per connection, a
//! thread per connection, loopback addresses only.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::error::Error;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use lucet_embed::{Host, HostConfig, InstanceConfig, ModuleHandle, Outcome};
use lucet_runtime::{parse_duration, parse_size};
use lucet_signature::escape_for_display;

/// Longest request line plus headers.
const MAX_HEAD: usize = 8 << 10;
/// How long one write of the answer may block on a client that does not read.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serve signed lucet modules over HTTP on a loopback address.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Address to listen on; loopback only (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Directory of artifacts: NAME.so is served at POST /NAME.
    #[arg(long)]
    dir: PathBuf,
    /// Trusted public key (repeatable: any of them).
    #[arg(long = "signature-pk", value_name = "PATH", required = true)]
    signature_pk: Vec<PathBuf>,
    /// Wall-clock limit of each run.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    deadline: Duration,
    /// Largest request body.
    #[arg(long, default_value = "64K", value_parser = parse_size)]
    max_body: u64,
    /// Time a client has, from connecting, to send its whole request (head
    /// and body); later, it gets 408 and its slot is freed.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// Largest linear memory of a guest.
    #[arg(long, default_value = "16M", value_parser = parse_size)]
    max_memory: u64,
    /// Requests handled at once (and instance slots reserved).
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    max_connections: u32,
}

fn main() -> ExitCode {
    match serve(Args::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_host: {}", report(error.as_ref()));
            ExitCode::FAILURE
        }
    }
}

fn serve(args: Args) -> Result<(), Box<dyn Error>> {
    if !args.listen.ip().is_loopback() {
        return Err(format!(
            "--listen {}: this example serves loopback addresses only (127.0.0.1, ::1)",
            args.listen
        )
        .into());
    }
    let keys = lucet_signature::read_public_keys(&args.signature_pk)?;
    let mut config = HostConfig::new(keys);
    config.pooling.max_instances = args.max_connections;
    config.pooling.max_memory_size = args.max_memory;
    let host = Host::new(config)?;
    let modules = Arc::new(load_dir(&host, &args.dir)?);

    let listener = TcpListener::bind(args.listen)?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;

    let limits = Arc::new(Limits {
        deadline: args.deadline,
        max_body: args.max_body,
        request_timeout: args.request_timeout,
    });
    let in_flight = Arc::new(AtomicUsize::new(0));
    let max_in_flight = usize::try_from(args.max_connections)?;
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let accepted = Instant::now();
        let slot = Slot::take(&in_flight, max_in_flight);
        let Some(slot) = slot else {
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = Response::text(503, "busy: too many requests in flight\n").send(&mut stream);
            continue;
        };
        let (modules, limits) = (Arc::clone(&modules), Arc::clone(&limits));
        let spawned = std::thread::Builder::new()
            .name("http_host-conn".into())
            .spawn(move || {
                let _slot = slot;
                handle(stream, accepted, &modules, &limits);
            });
        if let Err(error) = spawned {
            eprintln!("http_host: cannot start a connection thread: {error}");
        }
    }
    Ok(())
}

/// An error and its causes on one line.
fn report(error: &dyn Error) -> String {
    let mut report = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        report.push_str(": ");
        report.push_str(&error.to_string());
        cause = error.source();
    }
    report
}

/// Loads every `*.so` of `dir`, in name order, logging each verdict.
fn load_dir(host: &Host, dir: &Path) -> Result<HashMap<String, ModuleHandle>, Box<dyn Error>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("--dir {}: {e}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "so"))
        .collect();
    paths.sort();
    let mut modules = HashMap::new();
    for path in paths {
        let file = escape_for_display(
            &path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let name = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .filter(|stem| {
                !stem.is_empty()
                    && stem
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            });
        let Some(name) = name else {
            eprintln!("refused {file}: a module name may hold only ASCII letters, digits, - _ .");
            continue;
        };
        match host.load_verified(&path) {
            Ok(module) => {
                eprintln!("loaded {name}");
                modules.insert(name.to_string(), module);
            }
            Err(error) => eprintln!("refused {file}: {}", error.report()),
        }
    }
    Ok(modules)
}

/// One request in flight, counted until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(in_flight: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        if in_flight.fetch_add(1, Ordering::AcqRel) >= max {
            in_flight.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        Some(Slot(Arc::clone(in_flight)))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

struct Limits {
    deadline: Duration,
    max_body: u64,
    request_timeout: Duration,
}

/// Reads a request against one deadline for all of it: a per-read timeout
/// alone lets a client trickling a byte just inside it hold a connection
/// slot for hours, so each read may block only for the time that is left.
struct RequestReader<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
}

impl Read for RequestReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        // A zero timeout means "none" to the socket: time is up instead.
        if left.is_zero() {
            return Err(std::io::ErrorKind::TimedOut.into());
        }
        self.stream.set_read_timeout(Some(left))?;
        self.stream.read(buf)
    }
}

/// Whether a read failed because the request's time ran out (a socket
/// timeout is `WouldBlock` on Unix).
fn timed_out(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
    )
}

fn too_slow() -> Response {
    Response::text(408, "request not received in time\n")
}

struct Response {
    status: u16,
    body: Vec<u8>,
    content_type: &'static str,
    allow: bool,
}

impl Response {
    fn text(status: u16, body: impl Into<String>) -> Response {
        Response {
            status,
            body: body.into().into_bytes(),
            content_type: "text/plain; charset=utf-8",
            allow: false,
        }
    }

    fn send(&self, stream: &mut TcpStream) -> std::io::Result<()> {
        let reason = match self.status {
            200 => "OK",
            400 => "Bad Request",
            404 => "Not Found",
            405 => "Method Not Allowed",
            408 => "Request Timeout",
            413 => "Content Too Large",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            _ => "",
        };
        let mut head = format!(
            "HTTP/1.1 {} {reason}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.content_type,
            self.body.len()
        );
        if self.allow {
            head.push_str("Allow: POST\r\n");
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(&self.body)?;
        stream.flush()
    }
}

fn handle(
    mut stream: TcpStream,
    accepted: Instant,
    modules: &HashMap<String, ModuleHandle>,
    limits: &Limits,
) {
    let _ = stream.set_write_timeout(Some(WRITE_TIMEOUT));
    let mut reader = RequestReader {
        stream: &mut stream,
        deadline: accepted + limits.request_timeout,
    };
    let (line, response) = match respond(&mut reader, modules, limits) {
        Ok((line, response)) => (line, response),
        Err(response) => ("-".to_string(), response),
    };
    eprintln!(
        "{line} {} ({} bytes, {:?})",
        response.status,
        response.body.len(),
        accepted.elapsed()
    );
    let _ = response.send(&mut stream);
}

/// Reads one request and answers it. `Ok` carries the request line for
/// the log; `Err` an answer to a request that could not be read.
fn respond(
    stream: &mut RequestReader<'_>,
    modules: &HashMap<String, ModuleHandle>,
    limits: &Limits,
) -> Result<(String, Response), Response> {
    let (request, mut body) = read_head(stream)?;
    let line = escape_for_display(&format!("{} {}", request.method, request.target));
    let module = request
        .target
        .strip_prefix('/')
        .and_then(|name| modules.get(name));
    let Some(module) = module else {
        return Ok((line, Response::text(404, "no such module\n")));
    };
    if request.method != "POST" {
        let mut response = Response::text(405, "use POST\n");
        response.allow = true;
        return Ok((line, response));
    }
    if request.chunked {
        return Ok((
            line,
            Response::text(
                501,
                "chunked bodies are not supported: send Content-Length\n",
            ),
        ));
    }
    if request.content_length > limits.max_body {
        return Ok((
            line,
            Response::text(
                413,
                format!("body over the limit of {} bytes\n", limits.max_body),
            ),
        ));
    }
    // Bounded by max_body just above.
    let length = usize::try_from(request.content_length).map_err(|_| Response::text(413, ""))?;
    body.truncate(length);
    let start = body.len();
    body.resize(length, 0);
    if let Some(rest) = body.get_mut(start..) {
        stream.read_exact(rest).map_err(|error| {
            if timed_out(&error) {
                too_slow()
            } else {
                Response::text(400, "body shorter than Content-Length\n")
            }
        })?;
    }
    Ok((line, run(module, body, limits)))
}

fn run(module: &ModuleHandle, body: Vec<u8>, limits: &Limits) -> Response {
    let config = InstanceConfig {
        stdin: body,
        deadline: Some(limits.deadline),
        ..InstanceConfig::default()
    };
    match module.run(config) {
        Ok(output) => match output.outcome {
            Outcome::Exited(0) => Response {
                status: 200,
                body: output.stdout,
                content_type: "application/octet-stream",
                allow: false,
            },
            Outcome::Exited(status) => {
                Response::text(500, format!("guest exited with status {status}\n"))
            }
            Outcome::Trapped(trap) => {
                Response::text(500, format!("guest trapped: {}\n", trap.message))
            }
            Outcome::TimedOut(deadline) => Response::text(
                500,
                format!("guest stopped at its deadline of {deadline:?}\n"),
            ),
        },
        Err(lucet_embed::Error::PoolExhausted(full)) => {
            Response::text(503, format!("busy: {full}\n"))
        }
        Err(error) => Response::text(500, format!("error: {}\n", error.report())),
    }
}

struct RequestHead {
    method: String,
    target: String,
    content_length: u64,
    chunked: bool,
}

/// Reads up to the end of the headers; returns them and the bytes read past.
fn read_head(stream: &mut RequestReader<'_>) -> Result<(RequestHead, Vec<u8>), Response> {
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    let end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        if buffer.len() > MAX_HEAD {
            return Err(Response::text(431, "request head too large\n"));
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err(Response::text(400, "connection closed mid-request\n")),
            Ok(n) => buffer.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(error) if timed_out(&error) => return Err(too_slow()),
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Err(Response::text(400, "connection failed mid-request\n")),
        }
    };
    let rest = buffer.split_off(end + 4);
    let head = std::str::from_utf8(buffer.get(..end).unwrap_or_default())
        .map_err(|_| Response::text(400, "request head is not UTF-8\n"))?;
    let mut lines = head.split("\r\n");
    let bad = |why: &str| Response::text(400, format!("bad request: {why}\n"));
    let mut parts = lines.next().unwrap_or_default().split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad("malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(bad("not HTTP/1.x"));
    }
    let mut request = RequestHead {
        method: method.to_string(),
        target: target.to_string(),
        content_length: 0,
        chunked: false,
    };
    let mut seen_length = None;
    for header in lines {
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| bad("malformed header"))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let length: u64 = value.parse().map_err(|_| bad("invalid Content-Length"))?;
            if seen_length.is_some_and(|seen| seen != length) {
                return Err(bad("conflicting Content-Length headers"));
            }
            seen_length = Some(length);
            request.content_length = length;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            request.chunked = true;
        }
    }
    Ok((request, rest))
}
