//! P8's servers: a process with a bounded lifetime, its address read from
//! its log, its memory read from `/proc`.

use std::ffi::OsStr;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};

/// How long a server may take to start listening: the wasmtime CLI
/// compiles the 13 MB component first (cached after its first run).
const STARTUP: Duration = Duration::from_secs(300);

/// A server process, killed when dropped. It runs under `timeout
/// --foreground --signal=KILL LIFETIME`, so that it ends even if this suite
/// dies without dropping it; `--foreground` keeps it in the suite's process
/// group, where a Ctrl-C reaches it too.
pub struct Server {
    bound: Child,
    /// The server itself, `timeout`'s child.
    pid: u32,
    /// `host:port`, as the server printed it.
    pub address: String,
    log: PathBuf,
}

impl Server {
    /// Starts `program args...`, its stderr in `log`, and waits until a line
    /// of the log starts with `ready`: the rest of that line, less a
    /// trailing `/`, is the address it listens on.
    pub fn start(
        program: &Path,
        args: &[&dyn AsRef<OsStr>],
        log: &Path,
        ready: &str,
        lifetime: Duration,
    ) -> Result<Server> {
        let stderr =
            fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let bound = Command::new("timeout")
            .args(["--foreground", "--signal=KILL"])
            .arg(format!("{}s", lifetime.as_secs().max(1)))
            .arg(program)
            .args(args.iter().map(AsRef::as_ref))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .with_context(|| format!("starting {} under timeout", program.display()))?;
        let mut server = Server {
            pid: bound.id(),
            bound,
            address: String::new(),
            log: log.to_owned(),
        };
        server.pid = server.child_pid()?;
        server.address = server.wait_for_line(ready)?;
        Ok(server)
    }

    /// `timeout`'s child, as soon as it has one.
    fn child_pid(&mut self) -> Result<u32> {
        let parent = self.bound.id();
        let children = format!("/proc/{parent}/task/{parent}/children");
        let started = Instant::now();
        loop {
            let text = fs::read_to_string(&children).unwrap_or_default();
            if let Some(pid) = text.split_whitespace().next() {
                return pid.parse().context("a child's process id");
            }
            if let Some(status) = self.bound.try_wait()? {
                bail!("timeout exited at once ({status}): {}", self.log_tail());
            }
            ensure!(
                started.elapsed() < STARTUP,
                "no server process under timeout"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn wait_for_line(&mut self, ready: &str) -> Result<String> {
        let started = Instant::now();
        loop {
            let log = fs::read_to_string(&self.log).unwrap_or_default();
            if let Some(rest) = log.lines().find_map(|line| line.strip_prefix(ready)) {
                return Ok(rest.trim().trim_end_matches('/').to_owned());
            }
            if let Some(status) = self.bound.try_wait()? {
                bail!("the server exited ({status}): {}", self.log_tail());
            }
            ensure!(
                started.elapsed() < STARTUP,
                "no {ready:?} line within {STARTUP:?}: {}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The log's last lines, for an error message.
    fn log_tail(&self) -> String {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Resets the peak resident set (`VmHWM`) to the current one; false
    /// where the kernel does not allow it.
    pub fn reset_peak(&self) -> bool {
        fs::write(format!("/proc/{}/clear_refs", self.pid), "5").is_ok()
    }

    /// A `kB` field of the server's `/proc/PID/status` (`VmRSS:`, `VmHWM:`),
    /// in bytes.
    pub fn status_bytes(&self, field: &str) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid)).ok()?;
        let line = status.lines().find(|l| l.starts_with(field))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    }

    /// One GET on a connection of its own: (status, body). The handler
    /// streams its body, so the response may come chunked.
    pub fn get(&self, path: &str) -> Result<(u16, String)> {
        let mut stream = TcpStream::connect(&self.address)
            .with_context(|| format!("connecting to {}", self.address))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.address
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let (head, body) = response
            .split_once("\r\n\r\n")
            .context("no response head")?;
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .context("no status code")?;
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        Ok((status, if chunked { dechunk(body)? } else { body.into() }))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The server, not `timeout`: killed, `timeout` would leave it running.
        let _ = Command::new("kill")
            .args(["-KILL", &self.pid.to_string()])
            .status();
        let _ = self.bound.wait();
    }
}

/// A chunked body's data.
fn dechunk(mut body: &str) -> Result<String> {
    let mut data = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).context("a chunk size")?;
        if size == 0 {
            break;
        }
        data.push_str(rest.get(..size).context("a short chunk")?);
        body = rest.get(size + 2..).unwrap_or_default();
    }
    Ok(data)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn dechunks() {
        assert_eq!(
            dechunk("4\r\nGET \r\n3\r\n/p8\r\n0\r\n\r\n").unwrap(),
            "GET /p8"
        );
        assert!(dechunk("9\r\nGET\r\n").is_err());
    }
}
