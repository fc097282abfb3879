//! P7 WebAssembly 3.0 and components, each part against its peer in the
//! same run:
//!
//! * **gc**: the end-to-end tests' wasm-GC program (`gc.wat`, which
//!   allocates far beyond its heap) as a whole process, `lucetc` +
//!   `lucet-wasi --signature-pk` against `wasmtime compile` + `wasmtime run
//!   --allow-precompiled`, both with the copying collector, with epoch
//!   interruption and without.
//! * **component hello**: hello world made a WASI 0.2 component with the
//!   official preview-1 adapter, as a whole process, the same two ways; the
//!   core module alongside as a diagnostic.
//! * **component full cycle**: `lucet_embed::ModuleHandle::run` of that
//!   component (instantiate from the pool, `wasi:cli/run`, drop) against
//!   bare wasmtime 48 with the same engine, pool and a WASI 0.2 context.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, ensure};
use lucet_bench::report::{Report, ms, ratio, us, yes_no};
use lucet_embed::{Host, HostConfig};
use lucet_runtime::EngineSettings;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Store, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::bindings::sync::CommandPre;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::fixture::{
    Fixture, GC_OUT, GC_WAT, HELLO_OUT, HELLO_WAT, NO_DEADLINE, WasmtimeContext, embed_like_engine,
    wat,
};
use crate::options::Options;
use crate::p4;
use crate::process::{Cmd, Tools, time_interleaved};

/// The collector lucet's engine uses (`engine.rs`), named for the CLI too:
/// it is CLI 49's default, but a default may change under the bench.
const COLLECTOR: &str = "collector=copying";

/// The CLI's run flags for epoch-interruptible code: without a timeout its
/// deadline is reached at once (lucet-wasi sets an unreachable one).
const EPOCH_RUN: &str = "epoch-interruption=y,timeout=3600s";

pub fn p7(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    let component =
        lucet_test_support::componentize(HELLO_WAT.as_bytes()).map_err(|e| anyhow!(e))?;
    match (&tools.lucetc, &tools.lucet_wasi) {
        (Some(lucetc), Some(lucet_wasi)) => {
            let run = Processes {
                opts,
                fx,
                tools,
                lucetc,
                lucet_wasi,
            };
            gc(&run, report)?;
            report.flush();
            component_hello(&run, &component, report)?;
            report.flush();
        }
        _ => {
            report.heading("P7 gc and component hello, whole process");
            report.line(
                "P7 gc and component hello not measured: no lucetc or lucet-wasi binary \
                 (--lucetc, --lucet-wasi)",
            );
        }
    }
    component_cycle(opts, fx, &component, report)
}

/// What the whole-process parts of P7 run with.
struct Processes<'a> {
    opts: &'a Options,
    fx: &'a Fixture,
    tools: &'a Tools,
    lucetc: &'a Path,
    lucet_wasi: &'a Path,
}

impl Processes<'_> {
    /// Writes `wasm` as `<stem>.wasm`; returns its path.
    fn source(&self, stem: &str, wasm: &[u8]) -> Result<PathBuf> {
        let path = self.fx.path(&format!("{stem}.wasm"));
        fs::write(&path, wasm).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }

    /// `lucetc SOURCE EXTRA... --signature-sk KEY -o <out>`: signed, as
    /// deployed.
    fn lucetc(&self, source: &Path, out: &str, extra: &[&str]) -> Result<PathBuf> {
        let artifact = self.fx.path(out);
        let secret = self.fx.secret_arg();
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![&source];
        args.extend(extra.iter().map(|a| a as &dyn AsRef<OsStr>));
        args.extend([
            &"--signature-sk" as &dyn AsRef<OsStr>,
            &secret,
            &"-o",
            &artifact,
        ]);
        Cmd::new(self.lucetc, &args).run()?;
        Ok(artifact)
    }

    /// `lucet-wasi --signature-pk KEY ARTIFACT`.
    fn lucet_wasi(&self, artifact: &Path) -> Cmd {
        Cmd::new(
            self.lucet_wasi,
            &[&"--signature-pk", &self.fx.key.public_path, &artifact],
        )
    }

    /// `wasmtime compile FLAGS... SOURCE -o <out>`, when the CLI is there.
    fn cli_compile(&self, source: &Path, out: &str, flags: &[&str]) -> Result<Option<PathBuf>> {
        let Some(wasmtime) = &self.tools.wasmtime else {
            return Ok(None);
        };
        let cwasm = self.fx.path(out);
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"compile"];
        args.extend(flags.iter().map(|a| a as &dyn AsRef<OsStr>));
        args.extend([&source as &dyn AsRef<OsStr>, &"-o", &cwasm]);
        Cmd::new(wasmtime, &args).run()?;
        Ok(Some(cwasm))
    }

    /// The peer's version, for the report.
    fn peer(&self) -> String {
        self.tools
            .wasmtime
            .as_deref()
            .map_or_else(|| self.tools.missing.into(), Tools::version)
    }

    /// `wasmtime run --allow-precompiled FLAGS... CWASM`, named by its flags.
    fn cli_run(&self, cwasm: Option<PathBuf>, flags: &[&str]) -> Option<(String, Cmd)> {
        let (wasmtime, cwasm) = (self.tools.wasmtime.as_ref()?, cwasm?);
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"run", &"--allow-precompiled"];
        args.extend(flags.iter().map(|a| a as &dyn AsRef<OsStr>));
        args.push(&cwasm);
        let name = ["wasmtime run --allow-precompiled"]
            .iter()
            .chain(flags)
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        Some((name, Cmd::new(wasmtime, &args)))
    }
}

/// A process of ours and the peer's run of the same program, timed side by
/// side.
struct Pair {
    ours: (String, Cmd),
    /// `None` when the peer is not installed (or in smoke mode).
    peer: Option<(String, Cmd)>,
    /// The peer's row name when it is absent.
    peer_label: String,
}

/// A [`Pair`]'s medians.
struct PairTimes {
    ours: Duration,
    peer: Option<Duration>,
}

/// Times every process of `pairs`, interleaved, `reps` times after one
/// untimed round; every output must be `expected`.
fn time_pairs(
    run: &Processes,
    pairs: &[Pair],
    reps: usize,
    expected: &[u8],
) -> Result<Vec<PairTimes>> {
    let runs: Vec<&(String, Cmd)> = pairs
        .iter()
        .flat_map(|p| std::iter::once(&p.ours).chain(&p.peer))
        .collect();
    let cmds: Vec<Cmd> = runs.iter().map(|(_, cmd)| cmd.clone()).collect();
    let results = time_interleaved(&cmds, reps, run.opts.clock)?;
    for ((name, _), (_, out)) in runs.iter().zip(&results) {
        ensure!(out == expected, "P7 {name}: output {out:?}");
    }
    let mut medians = results.iter().map(|(t, _)| *t);
    let mut next = || medians.next().context("missing result");
    pairs
        .iter()
        .map(|pair| {
            let ours = next()?;
            let peer = pair.peer.as_ref().map(|_| next()).transpose()?;
            Ok(PairTimes { ours, peer })
        })
        .collect()
}

/// Two table rows per pair: ours with its ratio to the peer, then the peer.
fn pair_rows(pairs: &[Pair], times: &[PairTimes], missing: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for (pair, t) in pairs.iter().zip(times) {
        let ratio_cell = t.peer.map_or_else(String::new, |p| ratio(t.ours, p));
        rows.push(vec![pair.ours.0.clone(), ms(t.ours), ratio_cell]);
        rows.push(match (&pair.peer, t.peer) {
            (Some((name, _)), Some(p)) => vec![name.clone(), ms(p), String::new()],
            _ => vec![pair.peer_label.clone(), missing.into(), String::new()],
        });
    }
    rows
}

/// `ours / peer ≤ goal`, as a verdict clause.
fn meets(t: &PairTimes, goal: f64) -> Option<String> {
    let peer = t.peer?;
    Some(format!(
        "{} ms vs {} ms = {}× (goal ≤ {goal}×: {})",
        ms(t.ours),
        ms(peer),
        ratio(t.ours, peer),
        yes_no(t.ours.as_secs_f64() <= goal * peer.as_secs_f64())
    ))
}

/// P7 gc: the GC program with lucetc's default (epoch interruption) and
/// `--no-interruption`, each against the CLI compiled and run alike.
fn gc(run: &Processes, report: &mut Report) -> Result<()> {
    report.heading("P7 gc: wasm-GC program allocating far beyond its heap, whole process");
    let source = run.source("gc", &wat(GC_WAT)?)?;
    let so = run.lucetc(&source, "gc.so", &[])?;
    let so_plain = run.lucetc(&source, "gc.nointr.so", &["--no-interruption"])?;
    let epoch_cwasm = run.cli_compile(
        &source,
        "gc.epoch.cwasm",
        &[
            "-O",
            "opt-level=s",
            "-W",
            "epoch-interruption=y",
            "-C",
            COLLECTOR,
        ],
    )?;
    let plain_cwasm =
        run.cli_compile(&source, "gc.cwasm", &["-O", "opt-level=s", "-C", COLLECTOR])?;
    let version = Tools::version(run.lucet_wasi);
    let pairs = [
        Pair {
            ours: (
                format!("lucet-wasi --signature-pk, epoch interruption ({version})"),
                run.lucet_wasi(&so),
            ),
            peer: run.cli_run(epoch_cwasm, &["-W", EPOCH_RUN, "-C", COLLECTOR]),
            peer_label: "wasmtime run, epoch interruption".into(),
        },
        Pair {
            ours: (
                "lucet-wasi --signature-pk, `lucetc --no-interruption`".into(),
                run.lucet_wasi(&so_plain),
            ),
            peer: run.cli_run(plain_cwasm, &["-C", COLLECTOR]),
            peer_label: "wasmtime run".into(),
        },
    ];
    let reps = if run.opts.common.smoke {
        1
    } else {
        10 * run.opts.common.reps
    };
    let times = time_pairs(run, &pairs, reps, GC_OUT)?;
    report.line(&format!(
        "{reps} timed runs each after one untimed, interleaved; medians of {}; output checked. \
         Both compiled at opt level s, with the copying collector. Peer: {}.",
        run.opts.clock.what(),
        run.peer()
    ));
    report.table(
        &["process", "median ms", "lucet / wasmtime"],
        &pair_rows(&pairs, &times, run.tools.missing),
    );
    match (
        times.first().and_then(|t| meets(t, 1.05)),
        times.get(1).and_then(|t| meets(t, 1.05)),
    ) {
        (Some(epoch), Some(plain)) => report.line(&format!(
            "P7 gc: with epoch interruption lucet-wasi {epoch}; without {plain}"
        )),
        _ => report.line(&format!(
            "P7 gc verdict: wasmtime run {}",
            run.tools.missing
        )),
    }
    Ok(())
}

/// P7 component hello: the component under lucet-wasi and the CLI, and
/// the core module both ways as a diagnostic.
fn component_hello(run: &Processes, component: &[u8], report: &mut Report) -> Result<()> {
    report.heading("P7 component hello: WASI 0.2 component (preview-1 adapter), whole process");
    let component_source = run.source("hello-component", component)?;
    let module_source = run.source("hello", &wat(HELLO_WAT)?)?;
    let version = Tools::version(run.lucet_wasi);
    let mut pairs = Vec::new();
    for (what, source, stem) in [
        ("component", &component_source, "hello-component"),
        ("core module (diagnostic)", &module_source, "hello"),
    ] {
        let so = run.lucetc(source, &format!("{stem}.so"), &[])?;
        let cwasm = run.cli_compile(source, &format!("{stem}.cwasm"), &[])?;
        let peer = run
            .cli_run(cwasm, &[])
            .map(|(name, cmd)| (format!("{what}: {name}"), cmd));
        pairs.push(Pair {
            ours: (
                format!("{what}: lucet-wasi --signature-pk ({version})"),
                run.lucet_wasi(&so),
            ),
            peer,
            peer_label: format!("{what}: wasmtime run --allow-precompiled"),
        });
    }
    let reps = if run.opts.common.smoke {
        2
    } else {
        20 * run.opts.common.reps
    };
    let times = time_pairs(run, &pairs, reps, HELLO_OUT)?;
    let component_kib = component.len() / 1024;
    report.line(&format!(
        "{reps} runs each, interleaved; medians of {}; output checked. The component \
         ({component_kib} KiB of wasm with the adapter) is compiled by lucetc and by `wasmtime \
         compile`, each with its defaults, as in P5. Peer: {}.",
        run.opts.clock.what(),
        run.peer()
    ));
    report.table(
        &["process", "median ms", "lucet-wasi / wasmtime"],
        &pair_rows(&pairs, &times, run.tools.missing),
    );
    match times.first().and_then(|t| meets(t, 0.5)) {
        Some(verdict) => report.line(&format!("P7 component hello: lucet-wasi {verdict}")),
        None => report.line(&format!(
            "P7 component hello verdict: wasmtime run {}",
            run.tools.missing
        )),
    }
    Ok(())
}

/// The store of the bare component peer: a WASI 0.2 context, its resource
/// table and the same memory limit as lucet-embed's.
struct BareState {
    ctx: WasiCtx,
    table: ResourceTable,
    limits: StoreLimits,
}

impl WasiView for BareState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// Bare wasmtime 48 with a default `lucet_embed::Host`'s engine and pool:
/// the component compiled in process, linked to WASI 0.2.
fn bare_pre(component: &[u8]) -> Result<CommandPre<BareState>> {
    let engine = embed_like_engine(&lucet_embed::PoolingLimits::default())?;
    let component = Component::new(&engine, component).wt("bare compile")?;
    let mut linker = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).wt("bare linker")?;
    let pre = linker
        .instantiate_pre(&component)
        .wt("bare instantiate_pre")?;
    CommandPre::new(pre).wt("bare wasi:cli/run")
}

/// One bare cycle: WASI 0.2 context with captured output, store, instance,
/// `wasi:cli/run`, drop. Returns stdout.
fn bare_cycle(pre: &CommandPre<BareState>, name: &str) -> Result<Vec<u8>> {
    let (mut wasi, stdout) = crate::fixture::bare_wasi(name);
    let state = BareState {
        ctx: wasi.build(),
        table: ResourceTable::new(),
        limits: StoreLimitsBuilder::new().memory_size(128 << 20).build(),
    };
    let mut store = Store::new(pre.engine(), state);
    store.limiter(|s| &mut s.limits);
    store.set_epoch_deadline(NO_DEADLINE);
    let command = pre.instantiate(&mut store).wt("bare instantiate")?;
    command
        .wasi_cli_run()
        .call_run(&mut store)
        .wt("bare run")?
        .map_err(|()| anyhow!("bare run: wasi:cli/run returned an error"))?;
    drop(store);
    Ok(stdout.contents().to_vec())
}

/// P7 component full cycle: as P4, for the hello component.
fn component_cycle(
    opts: &Options,
    fx: &Fixture,
    component: &[u8],
    report: &mut Report,
) -> Result<()> {
    report.heading(
        "P7 component full cycle: WASI 0.2 context + instantiate + wasi:cli/run + drop (pooling, CoW)",
    );
    let name = "hello";
    let host = Host::new(HostConfig::new(fx.key.keys.clone())).map_err(|e| anyhow!("{e}"))?;
    let (artifact, _) = fx.artifact(component, EngineSettings::default(), true)?;
    // A directory of its own: the file's stem is the guest's name.
    let dir = fx.path("embed");
    fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{name}.so"));
    fs::write(&path, artifact)?;
    let handle = host
        .load_verified(&path)
        .map_err(|e| anyhow!("{}", e.report()))?;
    let pre = bare_pre(component)?;
    let iters = opts.iters(5000);
    let cycles = p4::measure(
        "P7 hello component",
        HELLO_OUT,
        iters,
        || p4::embed_cycle(&handle),
        || bare_cycle(&pre, name),
    )?;
    let (rows, m) = p4::summarize(
        "hello component",
        &cycles,
        "bare wasmtime 48 pooling, WASI 0.2 `CommandPre`",
    )?;
    report.line(&format!("{iters} iterations per row, interleaved."));
    report.table(&["path", "median µs", "p99 µs", "ratio to bare"], &rows);
    report.line(&format!(
        "P7 component full cycle: lucet-embed {} µs median vs bare {} µs = {}× (goal ≤ 1.05×: {})",
        us(m.embed),
        us(m.bare),
        ratio(m.embed, m.bare),
        yes_no(m.embed.as_secs_f64() <= 1.05 * m.bare.as_secs_f64())
    ));
    Ok(())
}
