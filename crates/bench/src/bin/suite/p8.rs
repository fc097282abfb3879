//! P8 wasi:http server: `lucet-serve` (the JavaScript handler compiled and
//! signed by `lucetc`, verified at start) against `wasmtime serve` (CLI 49,
//! the same `.wasm` at its defaults), both on loopback under the same
//! closed-loop load (`wrk`) at 1, 16 and 64 connections, interleaved.
//! Also: each server's peak resident set under that load, and the
//! per-request instantiate cost, in process with lucet-serve's engine and
//! pool and over HTTP at one connection.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use lucet_bench::report::{Report, median_of, ms, percentile, ratio, us, yes_no};

use crate::fixture::Fixture;
use crate::instantiate;
use crate::options::Options;
use crate::process::{Cmd, Tools};
use crate::servers::Server;
use crate::wrk::{self, Load};

/// Connections of the load levels.
const LEVELS: [u32; 3] = [1, 16, 64];

/// lucet-serve's `--max-concurrency`: above the highest level, so that a
/// request arriving while the previous one's instance is still being
/// dropped is not refused (503).
const MAX_CONCURRENCY: u32 = 128;

/// lucet-serve's `--max-heap-size` default, for the in-process pool.
const MAX_HEAP: usize = 256 << 20;

/// lucet-serve serves the app under this prefix, so that another path gets
/// the server's own 404, the baseline without any instance.
const PREFIX: &str = "/p8";
/// What the load requests: the handler answers 200 `GET /p8/hello`.
const LOAD_PATH: &str = "/p8/hello";
const NO_APP_PATH: &str = "/no-app";

/// Which side of the comparison a server is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Ours,
    Peer,
    /// Shown, not compared.
    Diagnostic,
}

struct Contender {
    label: String,
    role: Role,
    server: Server,
}

/// What P8 runs, once everything it needs is there.
struct Setup<'a> {
    opts: &'a Options,
    fx: &'a Fixture,
    wrk: &'a Path,
    wasmtime: Option<&'a Path>,
    component: PathBuf,
}

pub fn p8(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    report
        .heading("P8 wasi:http server: lucet-serve against wasmtime serve, loopback, closed loop");
    let (lucetc, lucet_serve, wrk) = match (&tools.lucetc, &tools.lucet_serve, &tools.wrk) {
        (Some(lucetc), Some(serve), Some(wrk)) => (lucetc, serve, wrk),
        _ => {
            report.line(
                "P8 not measured: no lucetc, lucet-serve or wrk binary (--lucetc, \
                 --lucet-serve, --wrk; scripts/install-test-deps.sh installs wrk)",
            );
            return Ok(());
        }
    };
    if !opts.http_component.is_file() {
        report.line(&format!(
            "P8 not measured: no {} (scripts/build-js-component.sh makes it)",
            opts.http_component.display()
        ));
        return Ok(());
    }
    let setup = Setup {
        opts,
        fx,
        wrk,
        wasmtime: tools.wasmtime.as_deref(),
        component: std::fs::canonicalize(&opts.http_component)?,
    };
    let artifact = fx.path("http.so");
    let secret = fx.secret_arg();
    Cmd::new(
        lucetc,
        &[
            &setup.component,
            &"--signature-sk",
            &secret,
            &"-o",
            &artifact,
        ],
    )
    .run()?;
    let contenders = setup.start(lucet_serve, &artifact)?;
    let run = setup.measure(&contenders)?;
    drop(contenders);
    let iters = opts.iters(2000);
    let pre = instantiate::serve_like_pre(&artifact, &fx.key.keys, MAX_CONCURRENCY, MAX_HEAP)?;
    let cycles = instantiate::measure(&pre, MAX_HEAP, iters)?;
    setup.report(&run, &cycles, tools, report)
}

/// What the load runs measured.
struct Run {
    /// Per contender, in the order started: per level, the runs' loads.
    loads: Vec<(String, Role, Vec<Vec<Load>>)>,
    /// Per contender: resident set after the warm-up, peak under load
    /// (`None` where `/proc` does not tell).
    memory: Vec<(String, Option<u64>, Option<u64>)>,
    /// Whether the peaks count the load only (the peak was reset after the
    /// warm-up).
    peaks_reset: bool,
    /// lucet-serve at one connection on a path no app takes (its own 404).
    no_app: Load,
}

impl Setup<'_> {
    /// How long a server may live: start-up, warm-up, every run, margin.
    fn lifetime(&self, servers: u32) -> Duration {
        let runs = LEVELS.len() as u64 * self.opts.common.reps as u64 * u64::from(servers);
        let per_run = u64::from(self.opts.load_seconds) + 10;
        Duration::from_secs(600 + runs * per_run)
    }

    /// lucet-serve, then (unless in smoke mode) `wasmtime serve` at its
    /// defaults and, as a diagnostic, with a request deadline like
    /// lucet-serve's; each checked to answer the load's path.
    fn start(&self, lucet_serve: &Path, artifact: &Path) -> Result<Vec<Contender>> {
        let servers = if self.wasmtime.is_some() { 3 } else { 1 };
        let lifetime = self.lifetime(servers);
        let route = format!("{PREFIX}={}", artifact.display());
        let max = MAX_CONCURRENCY.to_string();
        let public = &self.fx.key.public_path;
        let ours = Server::start(
            lucet_serve,
            &[
                &"--listen",
                &"127.0.0.1:0",
                &"--max-concurrency",
                &max,
                &"--signature-pk",
                public,
                &"--route",
                &route,
            ],
            &self.fx.path("lucet-serve.log"),
            "lucet-serve: listening on http://",
            lifetime,
        )?;
        let (status, _) = ours.get(NO_APP_PATH)?;
        ensure!(
            status == 404,
            "P8 lucet-serve: {NO_APP_PATH} answered {status}, not 404"
        );
        let mut contenders = vec![Contender {
            label: format!(
                "lucet-serve --signature-pk ({})",
                Tools::version(lucet_serve)
            ),
            role: Role::Ours,
            server: ours,
        }];
        if let Some(wasmtime) = self.wasmtime {
            for (role, extra, label) in [
                (Role::Peer, None, "wasmtime serve -Scli"),
                (
                    Role::Diagnostic,
                    Some("timeout=10s"),
                    "wasmtime serve -Scli -W timeout=10s (diagnostic)",
                ),
            ] {
                let server = self.start_wasmtime(wasmtime, extra, lifetime)?;
                contenders.push(Contender {
                    label: label.into(),
                    role,
                    server,
                });
            }
        }
        for contender in &contenders {
            let answer = contender.server.get(LOAD_PATH)?;
            let expected = (200, format!("GET {LOAD_PATH}\n"));
            ensure!(answer == expected, "P8 {}: {answer:?}", contender.label);
        }
        Ok(contenders)
    }

    /// `wasmtime serve -Scli [-W EXTRA] --addr 127.0.0.1:0 COMPONENT`:
    /// `-Scli` links the wasi:cli interfaces the component imports beyond
    /// the proxy world's.
    fn start_wasmtime(
        &self,
        wasmtime: &Path,
        extra: Option<&str>,
        lifetime: Duration,
    ) -> Result<Server> {
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"serve", &"-Scli"];
        if let Some(flags) = &extra {
            args.extend([&"-W" as &dyn AsRef<OsStr>, flags]);
        }
        args.extend([
            &"--addr" as &dyn AsRef<OsStr>,
            &"127.0.0.1:0",
            &self.component,
        ]);
        let log = if extra.is_some() {
            "wasmtime-serve-timeout.log"
        } else {
            "wasmtime-serve.log"
        };
        Server::start(
            wasmtime,
            &args,
            &self.fx.path(log),
            "Serving HTTP on http://",
            lifetime,
        )
    }

    /// Warm-up, then `reps` rounds of every level on every server (the
    /// servers' order rotating), then lucet-serve's own 404 at one
    /// connection.
    fn measure(&self, contenders: &[Contender]) -> Result<Run> {
        let seconds = self.opts.load_seconds;
        let warm_up = seconds.min(3);
        for contender in contenders {
            wrk::run(self.wrk, &contender.server.url(LOAD_PATH), 16, warm_up)?;
        }
        let rest: Vec<Option<u64>> = contenders
            .iter()
            .map(|c| c.server.status_bytes("VmRSS:"))
            .collect();
        let peaks_reset = contenders.iter().all(|c| c.server.reset_peak());
        let mut loads = vec![vec![Vec::new(); LEVELS.len()]; contenders.len()];
        for round in 0..self.opts.common.reps {
            for (level, &connections) in LEVELS.iter().enumerate() {
                for i in 0..contenders.len() {
                    let at = (i + round + level) % contenders.len();
                    let url = contenders[at].server.url(LOAD_PATH);
                    let load = wrk::run(self.wrk, &url, connections, seconds)?;
                    loads[at][level].push(load);
                }
            }
        }
        let memory = contenders
            .iter()
            .zip(rest)
            .map(|(c, rest)| (c.label.clone(), rest, c.server.status_bytes("VmHWM:")))
            .collect();
        let ours = &contenders.first().context("no lucet-serve")?.server;
        let no_app = wrk::run(self.wrk, &ours.url(NO_APP_PATH), 1, seconds)?;
        Ok(Run {
            loads: contenders
                .iter()
                .zip(loads)
                .map(|(c, levels)| (c.label.clone(), c.role, levels))
                .collect(),
            memory,
            peaks_reset,
            no_app,
        })
    }

    fn report(
        &self,
        run: &Run,
        cycles: &[Duration],
        tools: &Tools,
        report: &mut Report,
    ) -> Result<()> {
        let peer = self
            .wasmtime
            .map_or_else(|| tools.missing.to_owned(), Tools::version);
        let size_mib = std::fs::metadata(&self.component)?.len() as f64 / f64::from(1 << 20);
        report.line(&format!(
            "wrk, closed loop, as many threads as cores (at most one per connection); {reps} \
             run(s) of {s} s per server and level, servers and levels interleaved, after a \
             warm-up at 16 connections; medians of the runs. Each serves `GET {LOAD_PATH}` from \
             the same ComponentizeJS handler ({size_mib:.1} MiB of wasm): lucet-serve the lucetc \
             artifact, signed and verified at start, app under `--route {PREFIX}=`, \
             `--max-concurrency {MAX_CONCURRENCY}`, its log on a file; wasmtime serve the .wasm at \
             its defaults (pooling allocator, no request deadline). Peer: {peer}.",
            reps = self.opts.common.reps,
            s = self.opts.load_seconds,
        ));
        let (rows, verdicts) = load_rows(&run.loads)?;
        report.table(
            &[
                "server",
                "connections",
                "requests/s",
                "p50 ms",
                "p99 ms",
                "mean ms",
                "errors",
                "req/s vs wasmtime",
                "p99 vs wasmtime",
            ],
            &rows,
        );
        report_memory(run, report);
        report_costs(run, cycles, report)?;
        report.line(&verdict_line(&verdicts, tools.missing));
        Ok(())
    }
}

/// One level's comparison: throughput and p99 ratios, errors on our side.
struct LevelVerdict {
    connections: u32,
    throughput: f64,
    p99: f64,
    errors: u64,
}

/// The medians of a contender's runs at one level.
fn medians(loads: &[Load]) -> Result<Load> {
    let pick = |f: fn(&Load) -> Duration| median_of(&loads.iter().map(f).collect::<Vec<_>>());
    let mut rates: Vec<f64> = loads.iter().map(|l| l.requests_per_second).collect();
    rates.sort_by(f64::total_cmp);
    let n = rates.len();
    ensure!(n > 0, "no runs");
    let requests_per_second = if n % 2 == 1 {
        rates[n / 2]
    } else {
        f64::midpoint(rates[n / 2 - 1], rates[n / 2])
    };
    Ok(Load {
        requests_per_second,
        mean: pick(|l| l.mean)?,
        p50: pick(|l| l.p50)?,
        p99: pick(|l| l.p99)?,
        errors: loads.iter().map(|l| l.errors).sum(),
    })
}

/// The table's rows, level by level, and the verdict of each level where
/// the peer ran.
fn load_rows(
    loads: &[(String, Role, Vec<Vec<Load>>)],
) -> Result<(Vec<Vec<String>>, Vec<LevelVerdict>)> {
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for (level, &connections) in LEVELS.iter().enumerate() {
        let at_level: Vec<(&str, Role, Load)> = loads
            .iter()
            .map(|(label, role, levels)| Ok((label.as_str(), *role, medians(&levels[level])?)))
            .collect::<Result<_>>()?;
        let peer = at_level.iter().find(|(_, role, _)| *role == Role::Peer);
        for (label, role, load) in &at_level {
            let (rate_cell, p99_cell) = match (role, peer) {
                (Role::Ours, Some((_, _, peer))) => {
                    let throughput = load.requests_per_second / peer.requests_per_second;
                    verdicts.push(LevelVerdict {
                        connections,
                        throughput,
                        p99: load.p99.as_secs_f64() / peer.p99.as_secs_f64(),
                        errors: load.errors,
                    });
                    (format!("{throughput:.2}"), ratio(load.p99, peer.p99))
                }
                _ => (String::new(), String::new()),
            };
            rows.push(vec![
                (*label).to_owned(),
                connections.to_string(),
                format!("{:.0}", load.requests_per_second),
                ms(load.p50),
                ms(load.p99),
                ms(load.mean),
                load.errors.to_string(),
                rate_cell,
                p99_cell,
            ]);
        }
    }
    Ok((rows, verdicts))
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "n/a".into(),
        |b| format!("{:.1}", b as f64 / f64::from(1 << 20)),
    )
}

fn report_memory(run: &Run, report: &mut Report) {
    report.line(if run.peaks_reset {
        "Memory: `VmRSS` after the warm-up, and `VmHWM` after every level's runs, the peak \
         having been reset after the warm-up (`/proc/PID/clear_refs`): the peak under load."
    } else {
        "Memory: `VmRSS` after the warm-up, and `VmHWM` after every level's runs; the kernel \
         refused to reset the peak, so it counts start-up too."
    });
    let rows: Vec<Vec<String>> = run
        .memory
        .iter()
        .map(|(label, rest, peak)| vec![label.clone(), mib(*rest), mib(*peak)])
        .collect();
    report.table(
        &["server", "RSS after warm-up MiB", "peak RSS under load MiB"],
        &rows,
    );
}

/// The per-request instantiate cost, two ways.
fn report_costs(run: &Run, cycles: &[Duration], report: &mut Report) -> Result<()> {
    let median = median_of(cycles)?;
    let p99 = percentile(cycles, 0.99).context("no cycles")?;
    let app_c1 = run
        .loads
        .iter()
        .map(|(label, role, levels)| Ok((label, *role, medians(&levels[0])?.mean)))
        .collect::<Result<Vec<_>>>()?;
    let ours = app_c1
        .iter()
        .find(|(_, role, _)| *role == Role::Ours)
        .map(|(_, _, mean)| *mean)
        .context("no lucet-serve run")?;
    let mut rows = vec![
        vec![
            format!(
                "in process, lucet-serve's engine and pool: store + WASI context + instantiate + drop, median of {}",
                cycles.len()
            ),
            us(median),
        ],
        vec!["the same, p99".into(), us(p99)],
        vec![
            format!("lucet-serve over HTTP, 1 connection, mean: `GET {LOAD_PATH}` (app)"),
            us(ours),
        ],
        vec![
            format!(
                "lucet-serve over HTTP, 1 connection, mean: `GET {NO_APP_PATH}` (its own 404, no instance)"
            ),
            us(run.no_app.mean),
        ],
        vec![
            "difference: what the app adds to a request (instantiate, handler, body, drop)".into(),
            us(ours.saturating_sub(run.no_app.mean)),
        ],
    ];
    for (label, role, mean) in &app_c1 {
        if *role != Role::Ours {
            rows.push(vec![
                format!("{label} over HTTP, 1 connection, mean: `GET {LOAD_PATH}`"),
                us(*mean),
            ]);
        }
    }
    report.line(
        "Per-request instantiate cost. In process: the lucetc artifact verified and loaded as \
         lucet-serve loads it, into an engine with its pool (mirrored in the suite), linked to \
         WASI 0.2 with the wasi:http imports stubbed; each cycle is what lucet-serve does per \
         request before and after the guest runs, instantiating synchronously (lucet-serve \
         instantiates on a fiber). Over HTTP: wrk's mean latency at one connection, where the \
         app's path less the server's own 404 is the app's whole per-request cost.",
    );
    report.table(&["measure", "µs"], &rows);
    Ok(())
}

fn verdict_line(verdicts: &[LevelVerdict], missing: &str) -> String {
    if verdicts.is_empty() {
        return format!("P8 verdict: wasmtime serve {missing}");
    }
    let list =
        |f: fn(&LevelVerdict) -> String| verdicts.iter().map(f).collect::<Vec<_>>().join(", ");
    let met = verdicts
        .iter()
        .all(|v| v.throughput >= 1.0 && v.p99 <= 1.0 && v.errors == 0);
    format!(
        "P8: lucet-serve / wasmtime serve at {} connections: throughput {}; p99 latency {}; \
         errors {} (goal: throughput ≥ 1.0× and p99 ≤ 1.0× at every level, no errors: {})",
        list(|v| v.connections.to_string()),
        list(|v| format!("{:.2}×", v.throughput)),
        list(|v| format!("{:.2}×", v.p99)),
        list(|v| v.errors.to_string()),
        yes_no(met)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(rate: f64, p99_ms: u64) -> Load {
        Load {
            requests_per_second: rate,
            mean: Duration::from_millis(1),
            p50: Duration::from_millis(1),
            p99: Duration::from_millis(p99_ms),
            errors: 0,
        }
    }

    #[test]
    fn medians_and_verdicts() -> Result<()> {
        let m = medians(&[load(3.0, 9), load(1.0, 1), load(2.0, 4), load(4.0, 2)])?;
        assert_eq!(
            (m.requests_per_second, m.p99),
            (2.5, Duration::from_millis(3))
        );
        let levels = |rate, p99| LEVELS.iter().map(|_| vec![load(rate, p99)]).collect();
        let loads = vec![
            ("ours".to_owned(), Role::Ours, levels(110.0, 5)),
            ("peer".to_owned(), Role::Peer, levels(100.0, 10)),
        ];
        let (rows, verdicts) = load_rows(&loads)?;
        assert_eq!(rows.len(), 2 * LEVELS.len());
        assert_eq!(rows[0][7], "1.10");
        assert_eq!(rows[0][8], "0.50");
        assert!(verdict_line(&verdicts, "").ends_with("no errors: yes)"));
        assert!(verdict_line(&[], "absent").contains("absent"));
        Ok(())
    }
}
