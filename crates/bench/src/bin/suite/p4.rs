//! P4 full cycle: `lucet_embed::ModuleHandle::run` (WASI context, pooled
//! instance, `_start`, drop) of a trivial module and a hello world, against
//! bare wasmtime with the same pooling allocator.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use lucet_bench::report::{Report, median_of, percentile, ratio, us, yes_no};
use lucet_embed::{Host, HostConfig, InstanceConfig, ModuleHandle, PoolingLimits};
use lucet_runtime::EngineSettings;
use wasmtime::{
    Engine, Instance, InstancePre, Linker, Module, Store, StoreLimits, StoreLimitsBuilder,
};
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use crate::fixture::{
    Fixture, HELLO_OUT, HELLO_WAT, NO_DEADLINE, TRIVIAL_WAT, WasmtimeContext, embed_like_engine,
    wat,
};
use crate::options::Options;

pub struct BareState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// Bare wasmtime with the pool a `lucet_embed::Host` reserves and lucetc's
/// default engine settings.
pub struct Bare {
    engine: Engine,
    linker: Linker<BareState>,
}

impl Bare {
    /// With the pool of a default `Host`.
    fn new() -> Result<Bare> {
        Bare::with_pool(&PoolingLimits::default())
    }

    /// With the pool of a `Host` of these `limits`.
    pub fn with_pool(limits: &PoolingLimits) -> Result<Bare> {
        let engine = embed_like_engine(limits)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut BareState| &mut s.wasi)
            .wt("bare linker")?;
        Ok(Bare { engine, linker })
    }

    pub fn pre(&self, wasm: &[u8]) -> Result<InstancePre<BareState>> {
        let module = Module::new(&self.engine, wasm).wt("bare compile")?;
        self.linker
            .instantiate_pre(&module)
            .wt("bare instantiate_pre")
    }
}

/// A bare instance, not yet run, as `ModuleHandle::instantiate` makes one:
/// WASI context with captured output, store, instance. Returns them and
/// the stdout pipe.
pub fn bare_instance(
    pre: &InstancePre<BareState>,
    name: &str,
) -> Result<(Store<BareState>, Instance, MemoryOutputPipe)> {
    let (mut wasi, stdout) = crate::fixture::bare_wasi(name);
    let limits = StoreLimitsBuilder::new().memory_size(128 << 20).build();
    let mut store = Store::new(
        pre.module().engine(),
        BareState {
            wasi: wasi.build_p1(),
            limits,
        },
    );
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(NO_DEADLINE);
    let instance = pre.instantiate(&mut store).wt("bare instantiate")?;
    Ok((store, instance, stdout))
}

/// Runs a bare instance's `_start`, then drops it. Returns stdout.
pub fn bare_run(
    (mut store, instance, stdout): (Store<BareState>, Instance, MemoryOutputPipe),
) -> Result<Vec<u8>> {
    instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .wt("bare _start")?
        .call(&mut store, ())
        .wt("bare run")?;
    drop(store);
    Ok(stdout.contents().to_vec())
}

/// One bare cycle: WASI context with captured output, store, instance,
/// `_start`, drop. Returns stdout.
fn bare_cycle(pre: &InstancePre<BareState>, name: &str) -> Result<Vec<u8>> {
    bare_run(bare_instance(pre, name)?)
}

/// One `ModuleHandle::run` with a default `InstanceConfig`: stdout and
/// `RunOutput::elapsed`.
pub fn embed_cycle(handle: &ModuleHandle) -> Result<(Vec<u8>, Duration)> {
    let output = handle
        .run(InstanceConfig::default())
        .map_err(|e| anyhow::anyhow!("{}", e.report()))?;
    ensure!(output.success(), "guest failed: {:?}", output.outcome);
    Ok((output.stdout, output.elapsed))
}

/// The times of one timed iteration.
pub struct Cycle {
    /// `ModuleHandle::run`, as the caller sees it.
    embed: Duration,
    /// `RunOutput::elapsed`: instantiation to the end of the run.
    inner: Duration,
    bare: Duration,
}

/// The medians of a row's cycles.
pub struct CycleMedians {
    pub embed: Duration,
    pub bare: Duration,
}

pub fn p4(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    report.heading("P4 full cycle: WASI context + instantiate + _start + drop (pooling, CoW)");
    let host =
        Host::new(HostConfig::new(fx.key.keys.clone())).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bare = Bare::new()?;
    let iters = opts.iters(5000);
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for (name, text, expected) in [
        ("trivial", TRIVIAL_WAT, &b""[..]),
        ("hello", HELLO_WAT, HELLO_OUT),
    ] {
        let wasm = wat(text)?;
        let (artifact, _) = fx.artifact(&wasm, EngineSettings::default(), true)?;
        let handle = host
            .load_verified_bytes(name, &artifact)
            .map_err(|e| anyhow::anyhow!("{}", e.report()))?;
        let pre = bare.pre(&wasm)?;
        let cycles = measure(
            name,
            expected,
            iters,
            || embed_cycle(&handle),
            || bare_cycle(&pre, name),
        )?;
        let (table, m) = summarize(name, &cycles, "bare wasmtime 48 pooling")?;
        rows.extend(table);
        verdicts.push(verdict(name, &m));
    }
    report.line(&format!("{iters} iterations per row, interleaved."));
    report.table(&["path", "median µs", "p99 µs", "ratio to bare"], &rows);
    for v in verdicts {
        report.line(&v);
    }
    Ok(())
}

/// Times `embed` and `bare` (each returning the guest's stdout, `embed`
/// also `RunOutput::elapsed`), `iters` times; every output must be
/// `expected`.
pub fn measure(
    name: &str,
    expected: &[u8],
    iters: usize,
    mut embed: impl FnMut() -> Result<(Vec<u8>, Duration)>,
    mut bare: impl FnMut() -> Result<Vec<u8>>,
) -> Result<Vec<Cycle>> {
    let mut cycles = Vec::with_capacity(iters);
    let mut timed_embed = || -> Result<(Duration, Duration)> {
        let start = Instant::now();
        let (out, inner) = embed()?;
        let elapsed = start.elapsed();
        ensure!(out == expected, "{name}: lucet-embed output {out:?}");
        Ok((elapsed, inner))
    };
    let mut timed_bare = || -> Result<Duration> {
        let start = Instant::now();
        let out = bare()?;
        let elapsed = start.elapsed();
        ensure!(out == expected, "{name}: bare output {out:?}");
        Ok(elapsed)
    };
    // Untimed warm-up of every path, then interleaved iterations, each
    // path going first every other time (the second runs with the
    // caches the first warmed).
    for i in 0..=iters {
        let ((embed, inner), bare) = if i % 2 == 0 {
            (timed_embed()?, timed_bare()?)
        } else {
            let elapsed_bare = timed_bare()?;
            (timed_embed()?, elapsed_bare)
        };
        if i > 0 {
            cycles.push(Cycle { embed, inner, bare });
        }
    }
    Ok(cycles)
}

/// The three table rows of one module's `cycles` (the bare one named
/// `bare_label`), and their medians.
pub fn summarize(
    name: &str,
    cycles: &[Cycle],
    bare_label: &str,
) -> Result<(Vec<Vec<String>>, CycleMedians)> {
    let column = |f: fn(&Cycle) -> Duration| cycles.iter().map(f).collect::<Vec<_>>();
    let (t_embed, t_inner, t_bare) = (column(|c| c.embed), column(|c| c.inner), column(|c| c.bare));
    let p = |t: &[Duration]| percentile(t, 0.99).context("no samples");
    let (e, inn, b) = (
        median_of(&t_embed)?,
        median_of(&t_inner)?,
        median_of(&t_bare)?,
    );
    let mut rows = Vec::new();
    for (row, t, med) in [
        ("lucet-embed `ModuleHandle::run`", &t_embed, e),
        (
            "lucet-embed, instantiation to end of run (`RunOutput::elapsed`)",
            &t_inner,
            inn,
        ),
        (bare_label, &t_bare, b),
    ] {
        rows.push(vec![
            format!("{name}: {row}"),
            us(med),
            us(p(t)?),
            ratio(med, b),
        ]);
    }
    Ok((rows, CycleMedians { embed: e, bare: b }))
}

/// P4's verdict on one module.
fn verdict(name: &str, m: &CycleMedians) -> String {
    let (e, b) = (m.embed, m.bare);
    format!(
        "P4 {name}: lucet-embed {} µs median vs bare {} µs = {}× (goal ≤ 1.05×: {}){}",
        us(e),
        us(b),
        ratio(e, b),
        yes_no(e.as_secs_f64() <= 1.05 * b.as_secs_f64()),
        if name == "hello" {
            format!(
                "; hello ≤ 25 µs median: {}",
                yes_no(e <= Duration::from_micros(25))
            )
        } else {
            String::new()
        }
    )
}
