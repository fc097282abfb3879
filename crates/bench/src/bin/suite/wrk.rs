//! P8's load generator: `wrk`, closed loop (each connection sends its next
//! request when the last response has arrived), and what its report says.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, ensure};

/// One `wrk` run's results.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Load {
    pub requests_per_second: f64,
    pub mean: Duration,
    pub p50: Duration,
    pub p99: Duration,
    /// Responses other than 2xx or 3xx, plus socket errors (connect,
    /// read, write, timeout).
    pub errors: u64,
}

/// `wrk` with `connections` connections for `seconds` against `url`; as
/// many threads as cores, at most one per connection. A request still
/// unanswered after 10 s counts as a timeout error.
pub fn run(wrk: &Path, url: &str, connections: u32, seconds: u32) -> Result<Load> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = u32::try_from(cores).unwrap_or(1).min(connections).max(1);
    let output = Command::new(wrk)
        .args(["--latency", "--timeout", "10s"])
        .arg(format!("-t{threads}"))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{seconds}s"))
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", wrk.display()))?;
    let text = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk {url} failed ({}): {}{}",
        output.status,
        text.trim_end(),
        String::from_utf8_lossy(&output.stderr).trim_end()
    );
    parse(&text).with_context(|| format!("reading wrk's report: {text}"))
}

/// Reads wrk's `--latency` report.
pub fn parse(text: &str) -> Result<Load> {
    let mut mean = None;
    let mut p50 = None;
    let mut p99 = None;
    let mut requests_per_second = None;
    let mut errors = 0;
    for line in text.lines().map(str::trim) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        match fields.as_slice() {
            // Thread Stats: Avg, Stdev, Max, +/- Stdev.
            ["Latency", avg, _, _, _] => mean = duration(avg),
            ["50%", value] => p50 = duration(value),
            ["99%", value] => p99 = duration(value),
            ["Requests/sec:", value] => requests_per_second = value.parse().ok(),
            ["Non-2xx", "or", "3xx", "responses:", n] => errors += n.parse::<u64>()?,
            ["Socket", "errors:", counts @ ..] => {
                // connect N, read N, write N, timeout N
                for count in counts.iter().skip(1).step_by(2) {
                    errors += count.trim_end_matches(',').parse::<u64>()?;
                }
            }
            _ => {}
        }
    }
    Ok(Load {
        requests_per_second: requests_per_second.context("no Requests/sec")?,
        mean: mean.context("no mean latency")?,
        p50: p50.context("no 50% latency")?,
        p99: p99.context("no 99% latency")?,
        errors,
    })
}

/// A wrk time: a number and one of its units (`us`, `ms`, `s`, `m`, `h`).
fn duration(text: &str) -> Option<Duration> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit {
        "us" => value / 1e6,
        "ms" => value / 1e3,
        "s" => value,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    const REPORT: &str = "Running 3s test @ http://127.0.0.1:39623/p8/hello
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.61ms   13.51ms  1.07s    75.17%
    Req/Sec   385.95    162.64   690.00     55.00%
  Latency Distribution
     50%  812.00us
     75%   29.05ms
     90%   40.74ms
     99%    1.20s
  2307 requests in 3.01s, 295.13KB read
  Non-2xx or 3xx responses: 5
  Socket errors: connect 0, read 2, write 1, timeout 3
Requests/sec:    767.61
Transfer/sec:     98.20KB
";

    #[test]
    fn reads_a_report() {
        let load = parse(REPORT).unwrap();
        assert_eq!(load.requests_per_second, 767.61);
        assert_eq!(load.mean, Duration::from_micros(21_610));
        assert_eq!(load.p50, Duration::from_micros(812));
        assert_eq!(load.p99, Duration::from_millis(1200));
        assert_eq!(load.errors, 11);
    }

    #[test]
    fn a_report_without_errors_or_latencies() {
        let clean: String = REPORT
            .lines()
            .filter(|l| !l.contains("errors") && !l.contains("Non-2xx"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_eq!(parse(&clean).unwrap().errors, 0);
        assert!(parse(&clean.replace("99%", "98%")).is_err());
        assert_eq!(duration("2.5m"), Some(Duration::from_secs(150)));
        assert_eq!(duration("3.0x"), None);
    }
}
