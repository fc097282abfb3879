//! P3 compile: `lucetc` (subprocess) against the bare in-process wasmtime
//! `precompile_module` with the same settings, and `wasmtime compile` (the
//! CLI, when installed), on the sightglass programs.

use std::env;
use std::fs::{self, File};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lucet_bench::median;
use lucet_bench::report::{Report, geo_mean, median_of, ms, ratio, yes_no};
use lucet_runtime::EngineSettings;
use lucet_signature::Prehash;

use crate::BARE_PROCESS;
use crate::corpus::Program;
use crate::fixture::{Fixture, bare_precompile};
use crate::process::{Cmd, Tools};

/// The four compiled forms of a program: P3 writes them, P6 runs them.
pub struct Compiled {
    /// lucetc's, with epoch interruption (our default).
    pub so: PathBuf,
    /// lucetc's, `--no-interruption`.
    pub so_plain: PathBuf,
    /// `wasmtime compile`'s, with epoch interruption.
    pub cwasm: PathBuf,
    /// `wasmtime compile`'s, without.
    pub cwasm_plain: PathBuf,
}

impl Compiled {
    pub fn paths(fx: &Fixture, name: &str) -> Compiled {
        Compiled {
            so: fx.path(&format!("{name}.so")),
            so_plain: fx.path(&format!("{name}.nointr.so")),
            cwasm: fx.path(&format!("{name}.epoch.cwasm")),
            cwasm_plain: fx.path(&format!("{name}.cwasm")),
        }
    }
}

/// The times of one timed round.
struct Round {
    lucetc: Duration,
    bare_process: Duration,
    cli: Option<Duration>,
    bare: Duration,
    hash: Duration,
    lib: Duration,
    write: Duration,
}

/// A row of P3's table: one program's medians.
pub struct P3Row {
    name: String,
    wasm_len: usize,
    lucetc: Duration,
    bare: Duration,
    hash: Duration,
    lib: Duration,
    write: Duration,
    bare_process: Duration,
    cli: Option<Duration>,
}

impl P3Row {
    /// lucetc / (bare + hash): the goal's ratio.
    fn ratio(&self) -> f64 {
        self.lucetc.as_secs_f64() / (self.bare + self.hash).as_secs_f64()
    }

    /// lucetc / (bare as a process + hash): the diagnostic ratio.
    fn process_ratio(&self) -> f64 {
        self.lucetc.as_secs_f64() / (self.bare_process + self.hash).as_secs_f64()
    }

    fn cli_ratio(&self) -> Option<f64> {
        self.cli
            .map(|c| self.lucetc.as_secs_f64() / c.as_secs_f64())
    }

    fn cells(&self, missing: &str) -> Vec<String> {
        let (l, b, h, bp) = (self.lucetc, self.bare, self.hash, self.bare_process);
        let goal = (b + h).mul_f64(BARE_GOAL);
        vec![
            format!("{} ({} KiB wasm)", self.name, self.wasm_len / 1024),
            ms(l),
            ms(b),
            ms(h),
            ms(self.lib),
            ms(self.write),
            ratio(l, b + h),
            yes_no(l <= goal).into(),
            ms(bp),
            ratio(l, bp + h),
            self.cli.map_or_else(|| missing.into(), ms),
            self.cli.map_or_else(String::new, |c| ratio(l, c)),
        ]
    }
}

/// Times lucetc (signing, as deployed), the bare precompile in process and
/// as a process, and wasmtime compile, interleaved, `reps` times after one
/// untimed round. Leaves lucetc's and wasmtime's outputs in `compiled`.
pub fn measure(
    program: &Program,
    compiled: &Compiled,
    lucetc: &Path,
    fx: &Fixture,
    tools: &Tools,
    reps: usize,
) -> Result<P3Row> {
    let wasm_bytes = fs::read(&program.wasm)?;
    let cmds = commands(program, compiled, lucetc, fx, tools)?;
    let mut rounds = Vec::with_capacity(reps);
    for round in 0..=reps {
        let times = time_round(&cmds, &wasm_bytes, fx)?;
        if round > 0 {
            rounds.push(times);
        }
    }
    let m = |f: fn(&Round) -> Duration| median_of(&rounds.iter().map(f).collect::<Vec<_>>());
    let cli: Vec<Duration> = rounds.iter().filter_map(|r| r.cli).collect();
    Ok(P3Row {
        name: program.name.clone(),
        wasm_len: wasm_bytes.len(),
        lucetc: m(|r| r.lucetc)?,
        bare: m(|r| r.bare)?,
        hash: m(|r| r.hash)?,
        lib: m(|r| r.lib)?,
        write: m(|r| r.write)?,
        bare_process: m(|r| r.bare_process)?,
        cli: median(&cli),
    })
}

/// The subprocesses P3 times: lucetc, the bare precompile as a process of
/// its own, and `wasmtime compile` when installed.
fn commands(
    program: &Program,
    compiled: &Compiled,
    lucetc: &Path,
    fx: &Fixture,
    tools: &Tools,
) -> Result<Vec<Cmd>> {
    let secret = fx.secret_arg();
    let lucetc_cmd = Cmd::new(
        lucetc,
        &[
            &program.wasm,
            &"--signature-sk",
            &secret,
            &"-o",
            &compiled.so,
        ],
    );
    let bare_image = fx.path(&format!("{}.bare.cwasm", program.name));
    let bare_process_cmd = Cmd::new(
        &env::current_exe().context("this executable's path")?,
        &[&BARE_PROCESS, &program.wasm, &bare_image],
    );
    let mut cmds = vec![lucetc_cmd, bare_process_cmd];
    if let Some(wasmtime) = &tools.wasmtime {
        cmds.push(Cmd::new(
            wasmtime,
            &[
                &"compile",
                &"-O",
                &"opt-level=s",
                &"-W",
                &"epoch-interruption=y",
                &program.wasm,
                &"-o",
                &compiled.cwasm,
            ],
        ));
    }
    Ok(cmds)
}

/// One round of P3: every subprocess, then the in-process measurements.
fn time_round(cmds: &[Cmd], wasm_bytes: &[u8], fx: &Fixture) -> Result<Round> {
    let (lucetc, _) = cmds.first().context("lucetc")?.run()?;
    let (bare_process, _) = cmds.get(1).context("bare process")?.run()?;
    let cli = cmds.get(2).map(Cmd::run).transpose()?;
    let start = Instant::now();
    let image = bare_precompile(wasm_bytes, true)?;
    let bare = start.elapsed();
    let start = Instant::now();
    black_box(Prehash::of(black_box(&image)));
    let hash = start.elapsed();
    // Diagnostics: the same work as lucetc through the library in
    // process, and writing the artifact (lucetc renames it into place
    // without syncing, as `wasmtime compile` writes its output).
    let start = Instant::now();
    let (artifact, _) = fx.artifact(wasm_bytes, EngineSettings::default(), true)?;
    let lib = start.elapsed();
    let start = Instant::now();
    let scratch = fx.path("write-test.so");
    let mut file = File::create(&scratch)?;
    std::io::Write::write_all(&mut file, &artifact)?;
    drop(file);
    let write = start.elapsed();
    Ok(Round {
        lucetc,
        bare_process,
        cli: cli.map(|(t, _)| t),
        bare,
        hash,
        lib,
        write,
    })
}

/// The other configuration, compiled once each (untimed): lucetc
/// `--no-interruption` and, when installed, wasmtime without epochs.
pub fn compile_plain(
    program: &Program,
    compiled: &Compiled,
    lucetc: &Path,
    fx: &Fixture,
    tools: &Tools,
) -> Result<()> {
    let secret = fx.secret_arg();
    Cmd::new(
        lucetc,
        &[
            &program.wasm,
            &"--no-interruption",
            &"--signature-sk",
            &secret,
            &"-o",
            &compiled.so_plain,
        ],
    )
    .run()?;
    if let Some(wasmtime) = &tools.wasmtime {
        Cmd::new(
            wasmtime,
            &[
                &"compile",
                &"-O",
                &"opt-level=s",
                &program.wasm,
                &"-o",
                &compiled.cwasm_plain,
            ],
        )
        .run()?;
    }
    Ok(())
}

pub fn report(rows: &[P3Row], reps: usize, tools: &Tools, report: &mut Report) {
    report.heading("P3 compile time (sightglass programs)");
    report.line(&format!(
        "{reps} timed runs each after one untimed, interleaved. lucetc signs its output (raw key); \
         bare = in-process `Engine::new` + `precompile_module` with lucet's engine settings; \
         goals (round 2): lucetc ≤ 1.1 × (bare + one BLAKE2b of the image), and ≤ 1.0 × \
         `wasmtime compile` on every program. Diagnostic: the same bare \
         calls as a process of their own (read the wasm, compile, write the image), like for like \
         with lucetc."
    ));
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(tools.missing)).collect();
    report.table(&P3_COLUMNS, &cells);
    let ratios: Vec<f64> = rows.iter().map(P3Row::ratio).collect();
    let process_ratios: Vec<f64> = rows.iter().map(P3Row::process_ratio).collect();
    let cli_ratios: Vec<f64> = rows.iter().filter_map(P3Row::cli_ratio).collect();
    if let Some(g) = geo_mean(&ratios) {
        report.line(&format!(
            "P3: geo-mean lucetc / (bare + hash) = {g:.3} over {} programs",
            ratios.len()
        ));
    }
    if let Some(g) = geo_mean(&process_ratios) {
        report.line(&format!(
            "P3 (diagnostic): geo-mean lucetc / (bare as a process + hash) = {g:.3}"
        ));
    }
    match geo_mean(&cli_ratios) {
        Some(g) => report.line(&format!("P3: geo-mean lucetc / wasmtime compile = {g:.3}")),
        None => report.line("P3 wasmtime compile: not measured: peer not installed"),
    }
    report.line(&verdict(rows));
}

/// Round 2's goals, program by program: how many programs meet each, and
/// the one furthest from it.
fn verdict(rows: &[P3Row]) -> String {
    let tally = |ratios: Vec<(f64, &str)>, goal: f64| {
        let met = ratios.iter().filter(|(r, _)| *r <= goal).count();
        let highest = ratios.iter().max_by(|a, b| a.0.total_cmp(&b.0));
        match highest {
            Some((r, name)) => format!("{met} of {} (highest {r:.2}×, {name})", ratios.len()),
            None => "not measured".into(),
        }
    };
    let bare = rows.iter().map(|r| (r.ratio(), r.name.as_str())).collect();
    let cli = rows
        .iter()
        .filter_map(|r| Some((r.cli_ratio()?, r.name.as_str())))
        .collect();
    format!(
        "P3 verdict: lucetc ≤ {BARE_GOAL} × (bare + hash) on {}; lucetc ≤ 1.0 × wasmtime compile on {}",
        tally(bare, BARE_GOAL),
        tally(cli, 1.0)
    )
}

/// Round 2's goal against the bare precompile in process plus one hash.
const BARE_GOAL: f64 = 1.1;

/// The columns of P3's table.
const P3_COLUMNS: [&str; 12] = [
    "program",
    "lucetc ms",
    "bare ms",
    "hash ms",
    "library in process ms",
    "write ms",
    "lucetc / (bare + hash)",
    "≤ 1.1 × (bare + hash)",
    "bare as a process ms",
    "lucetc / (bare process + hash)",
    "wasmtime compile ms",
    "lucetc / wasmtime compile",
];
