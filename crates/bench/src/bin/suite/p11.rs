//! P11 density: idle instances of hello world held by lucet-embed
//! (`ModuleHandle::instantiate`: pool slot, memory, WASI context, store),
//! against bare wasmtime holding instances with the same engine, pool and
//! store contents; then instantiate + drop from 2 threads at once.
//!
//! The resident set is measured in a fresh process of this binary per
//! measurement (`--density-process`), so that neither side finds the
//! other's freed heap to reuse; sides alternate which goes first.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use lucet_bench::memory_use;
use lucet_bench::report::{Report, median_of, ratio, us, yes_no};
use lucet_embed::{Host, HostConfig, InstanceConfig, ModuleHandle, PoolingLimits};
use lucet_runtime::EngineSettings;
use wasmtime::InstancePre;

use crate::fixture::{Fixture, HELLO_OUT, HELLO_WAT, wat};
use crate::options::Options;
use crate::p4::{Bare, BareState, bare_instance, bare_run};

/// Hidden mode: `suite --density-process ours|bare N` holds N idle
/// instances and prints how many bytes the resident set grew by.
pub const DENSITY_PROCESS: &str = "--density-process";

/// Which side a density process measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// `lucet_embed::ModuleHandle::instantiate`.
    Ours,
    /// Bare wasmtime: store, WASI context, `InstancePre::instantiate`.
    Bare,
}

impl Side {
    fn arg(self) -> &'static str {
        match self {
            Side::Ours => "ours",
            Side::Bare => "bare",
        }
    }

    pub fn from_arg(arg: &str) -> Result<Side> {
        match arg {
            "ours" => Ok(Side::Ours),
            "bare" => Ok(Side::Bare),
            other => Err(anyhow!("{DENSITY_PROCESS}: unknown side `{other}`")),
        }
    }
}

/// The pool of a host that holds `instances` at once, otherwise a default
/// `Host`'s.
fn pool_of(instances: u32) -> PoolingLimits {
    PoolingLimits {
        max_instances: instances,
        ..PoolingLimits::default()
    }
}

/// hello world loaded, signed, by a host with the pool of `instances`.
fn embed_hello(fx: &Fixture, instances: u32) -> Result<ModuleHandle> {
    let (artifact, _) = fx.artifact(&wat(HELLO_WAT)?, EngineSettings::default(), true)?;
    let mut config = HostConfig::new(fx.key.keys.clone());
    config.pooling = pool_of(instances);
    let host = Host::new(config).map_err(|e| anyhow!("{}", e.report()))?;
    host.load_verified_bytes("hello", &artifact)
        .map_err(|e| anyhow!("{}", e.report()))
}

fn bare_hello(instances: u32) -> Result<InstancePre<BareState>> {
    Bare::with_pool(&pool_of(instances))?.pre(&wat(HELLO_WAT)?)
}

fn ready(handle: &ModuleHandle) -> Result<lucet_embed::ReadyInstance> {
    handle
        .instantiate(InstanceConfig::default())
        .map_err(|e| anyhow!("{}", e.report()))
}

/// The density process: builds `side`'s host, runs hello a few times (so
/// that what happens once per process is done), then holds `instances`
/// idle instances and returns the resident set's growth meanwhile; runs
/// one of them, whose output must be hello's.
pub fn density_process(side: Side, instances: u32) -> Result<u64> {
    const WARM_UP: usize = 3;
    let fx = Fixture::new()?;
    let count = instances as usize;
    let usage = match side {
        Side::Ours => {
            let handle = embed_hello(&fx, instances)?;
            for _ in 0..WARM_UP {
                ready(&handle)?.run().map_err(|e| anyhow!("{e}"))?;
            }
            let (mut held, usage) = memory_use(|| {
                (0..count)
                    .map(|_| ready(&handle))
                    .collect::<Result<Vec<_>>>()
            })?;
            let output = held.pop().context("no instance")?.run()?;
            ensure!(output.stdout == HELLO_OUT, "ours: {:?}", output.stdout);
            usage
        }
        Side::Bare => {
            let pre = bare_hello(instances)?;
            for _ in 0..WARM_UP {
                bare_run(bare_instance(&pre, "hello")?)?;
            }
            let (mut held, usage) = memory_use(|| {
                (0..count)
                    .map(|_| bare_instance(&pre, "hello"))
                    .collect::<Result<Vec<_>>>()
            })?;
            let output = bare_run(held.pop().context("no instance")?)?;
            ensure!(output == HELLO_OUT, "bare: {output:?}");
            usage
        }
    };
    Ok(usage
        .context("this system does not report the resident set")?
        .peak_rss_growth)
}

/// One density process of this binary: its resident set growth.
fn measure_in_process(side: Side, instances: u32) -> Result<u64> {
    let exe = std::env::current_exe().context("this binary's path")?;
    let args: [OsString; 3] = [
        DENSITY_PROCESS.into(),
        side.arg().into(),
        instances.to_string().into(),
    ];
    let output = std::process::Command::new(exe)
        .args(args)
        .output()
        .context("starting a density process")?;
    ensure!(
        output.status.success(),
        "density process ({}): {}",
        side.arg(),
        String::from_utf8_lossy(&output.stderr).trim()
    );
    let text = String::from_utf8_lossy(&output.stdout);
    text.trim()
        .parse()
        .with_context(|| format!("density process printed {text:?}"))
}

pub fn p11(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    report.heading("P11 density: idle hello-world instances held (pooling, CoW)");
    let instances: u32 = if opts.common.smoke { 50 } else { 1000 };
    let reps = opts.common.reps;
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for rep in 0..reps {
        let order = if rep % 2 == 0 {
            [Side::Ours, Side::Bare]
        } else {
            [Side::Bare, Side::Ours]
        };
        for side in order {
            let growth = measure_in_process(side, instances)?;
            match side {
                Side::Ours => ours.push(growth),
                Side::Bare => bare.push(growth),
            }
        }
    }
    let (o, b) = (median_u64(&mut ours)?, median_u64(&mut bare)?);
    let per_thousand = |bytes: u64| bytes as f64 * 1000.0 / f64::from(instances) / (1 << 20) as f64;
    let rows = vec![
        vec![
            "lucet-embed `ModuleHandle::instantiate`, held".to_owned(),
            format!("{:.1}", per_thousand(o)),
            format!("{:.2}", o as f64 / b as f64),
        ],
        vec![
            "bare wasmtime 48 (store, WASI context, instance), held".to_owned(),
            format!("{:.1}", per_thousand(b)),
            "1.00".to_owned(),
        ],
    ];
    report.line(&format!(
        "{instances} instances held per process, {reps} process(es) per side, alternating; \
         resident set growth while they are made, median."
    ));
    report.table(
        &["holder", "MiB per 1,000 instances", "ratio to bare"],
        &rows,
    );
    report.line(&format!(
        "P11 density: lucet-embed {:.1} MiB vs bare {:.1} MiB per 1,000 idle instances = {:.2}× (goal ≤ 1.05×: {})",
        per_thousand(o),
        per_thousand(b),
        o as f64 / b as f64,
        yes_no(o as f64 <= 1.05 * b as f64)
    ));
    contention(opts, fx, report)
}

fn median_u64(values: &mut [u64]) -> Result<u64> {
    values.sort_unstable();
    values.get(values.len() / 2).copied().context("no samples")
}

/// Instantiate + drop (no run) from 2 threads at once, each side in turn.
fn contention(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    const THREADS: usize = 2;
    let per_thread = opts.iters(20_000);
    let handle = embed_hello(fx, PoolingLimits::default().max_instances)?;
    let pre = bare_hello(PoolingLimits::default().max_instances)?;
    let ours_once = || ready(&handle).map(drop);
    let bare_once = || bare_instance(&pre, "hello").map(drop);
    // Rounds are short (a quarter second), and the pool's page decommits
    // (TLB shootdowns to the other core) make them noisy: many rounds,
    // each side first every other round.
    let rounds = if opts.common.smoke { 1 } else { 21 };
    let (mut ours, mut bare) = (Vec::new(), Vec::new());
    for round in 0..=rounds {
        let (o, b) = if round % 2 == 0 {
            let o = on_threads(THREADS, per_thread, &ours_once)?;
            (o, on_threads(THREADS, per_thread, &bare_once)?)
        } else {
            let b = on_threads(THREADS, per_thread, &bare_once)?;
            (on_threads(THREADS, per_thread, &ours_once)?, b)
        };
        // The first round warms both up.
        if round > 0 {
            ours.push(o);
            bare.push(b);
        }
    }
    let (o, b) = (median_of(&ours)?, median_of(&bare)?);
    report.line(&format!(
        "P11 contention: instantiate + drop from {THREADS} threads, {per_thread} each, \
         median of {rounds} rounds, per operation: lucet-embed {} µs vs bare {} µs = {}× (goal ≤ 1.05×: {})",
        us(o),
        us(b),
        ratio(o, b),
        yes_no(o.as_secs_f64() <= 1.05 * b.as_secs_f64())
    ));
    Ok(())
}

/// `threads` threads each calling `once` `per_thread` times: the wall time
/// per call.
fn on_threads(
    threads: usize,
    per_thread: usize,
    once: &(impl Fn() -> Result<()> + Sync),
) -> Result<Duration> {
    let started = Instant::now();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| (0..per_thread).try_for_each(|_| once())))
            .collect();
        workers
            .into_iter()
            .try_for_each(|w| w.join().map_err(|_| anyhow!("a thread panicked"))?)
    })?;
    let calls = u32::try_from(threads * per_thread).context("too many calls")?;
    Ok(started.elapsed() / calls)
}
