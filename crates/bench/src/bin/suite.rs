//! `suite`: the performance suite (rows P2–P6 of BENCHMARKS.md), each row
//! measured side by side with its peer in the same run.
//!
//! * **P2 load**: `lucet_runtime::load_verified` of a signed artifact
//!   against `load_unverified` of the same image unsigned, from a file in the
//!   page cache, for a small (hello world) and a large (≥ 5 MiB image)
//!   artifact; the BLAKE2b-512 time of the image is the allowance.
//! * **P3 compile**: `lucetc` (subprocess) against the bare in-process
//!   wasmtime `precompile_module` with the same settings, and `wasmtime
//!   compile` (the CLI, when installed), on the sightglass programs.
//! * **P4 full cycle**: `lucet_embed::ModuleHandle::run` (WASI context,
//!   pooled instance, `_start`, drop) of a trivial module and a hello world,
//!   against bare wasmtime with the same pooling allocator.
//! * **P5 process**: `lucet-wasi --signature-pk` of hello world as a whole
//!   process, against `wasmtime run --allow-precompiled` and node's WASI.
//! * **P6 execution**: the sightglass programs under `lucet-wasi`, with
//!   upstream's inputs and, for the four whose inputs scale their work,
//!   larger ones (`LARGER_INPUTS`) in a scratch directory, against `wasmtime
//!   run --allow-precompiled` at the same opt level, with epoch interruption
//!   (our default) and without (`lucetc --no-interruption`).
//!
//! Measurements are interleaved round by round so background load falls on
//! every row alike; medians are reported. Verdicts are printed, never
//! enforced: only a failure of something run (a load, a guest's exit
//! status) makes the suite fail. `--smoke` runs our own rows with tiny
//! counts and no peers, for CI.

#![forbid(unsafe_code)]

use lucet_bench::{
    MemoryUse, load_average, median, memory_use, parse_number, pseudo_random_bytes, wasm_with_data,
};
use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use lucet_embed::{Host, HostConfig, InstanceConfig, ModuleHandle};
use lucet_runtime::compile::{CompileOptions, SourceProvenance};
use lucet_runtime::{EngineSettings, LoadOptions};
use lucet_signature::{Prehash, PublicKeySet, SecretKey};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module,
    PoolingAllocationConfig, Store, StoreLimits, StoreLimitsBuilder,
};
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::p1::WasiP1Ctx;
use wasmtime_wasi::p2::pipe::{MemoryInputPipe, MemoryOutputPipe};

const USAGE: &str = "\
usage: suite [--smoke] [--markdown] [--rows P2,P3,P4,P5,P6] [--reps R]
             [--lucetc PATH] [--lucet-wasi PATH] [--wasmtime PATH] [--node PATH]
             [--corpus DIR] [--programs N]

  --smoke            tiny counts, our own rows only, no peers (CI)
  --markdown         print the tables as markdown
  --rows LIST        rows to run (default: all)
  --reps R           repetitions of each subprocess measurement (default 5)
  --lucetc PATH      lucetc binary (default: next to this one)
  --lucet-wasi PATH  lucet-wasi binary, ideally the runtime-only build (default: next to this one)
  --wasmtime PATH    wasmtime CLI (default: `wasmtime` on PATH)
  --node PATH        node (default: `node` on PATH)
  --corpus DIR       sightglass corpus (default ../shared/corpus/sightglass)
  --programs N       at most N sightglass programs (default: all; smoke: 1)";

/// Workloads shorter than this are reported but left out of P6's geo-mean.
const MIN_WORKLOAD: Duration = Duration::from_millis(300);

/// Epoch deadline that is never reached.
const NO_DEADLINE: u64 = 1 << 62;

/// The large P2 artifact's data segment: its image is larger than this.
const LARGE_DATA: usize = 6 << 20;

/// A trivial command: `_start` returns at once.
const TRIVIAL_WAT: &str = r#"(module (memory (export "memory") 1) (func (export "_start")))"#;

/// The project's hello world (one `fd_write`).
const HELLO_WAT: &str = include_str!("../../../../examples/hello/hello.wat");
const HELLO_OUT: &[u8] = b"Hello, world!\n";

/// Node's WASI preview 1 runner for P5.
const NODE_RUNNER: &str = r#"import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';
const wasi = new WASI({ version: 'preview1', args: ['hello'], env: {} });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
"#;

#[derive(Debug)]
struct Options {
    smoke: bool,
    markdown: bool,
    rows: Vec<String>,
    reps: usize,
    lucetc: Option<PathBuf>,
    lucet_wasi: Option<PathBuf>,
    wasmtime: Option<PathBuf>,
    node: Option<PathBuf>,
    corpus: PathBuf,
    programs: Option<usize>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Options>> {
        let mut opts = Options {
            smoke: false,
            markdown: false,
            rows: ["P2", "P3", "P4", "P5", "P6"].map(String::from).to_vec(),
            reps: 5,
            lucetc: None,
            lucet_wasi: None,
            wasmtime: None,
            node: None,
            corpus: PathBuf::from("../shared/corpus/sightglass"),
            programs: None,
        };
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let arg = arg
                .into_string()
                .map_err(|a| anyhow::anyhow!("argument {a:?} is not UTF-8"))?;
            let mut value = |name: &str| {
                args.next()
                    .with_context(|| format!("{name} needs a value\n\n{USAGE}"))
            };
            match arg.as_str() {
                "--smoke" => opts.smoke = true,
                "--markdown" => opts.markdown = true,
                "--rows" => {
                    let list = value(&arg)?;
                    let list = list.to_str().context("--rows is not UTF-8")?;
                    opts.rows = list.split(',').map(|r| r.trim().to_uppercase()).collect();
                }
                "--reps" => opts.reps = parse_number(&value(&arg)?, &arg)?,
                "--lucetc" => opts.lucetc = Some(value(&arg)?.into()),
                "--lucet-wasi" => opts.lucet_wasi = Some(value(&arg)?.into()),
                "--wasmtime" => opts.wasmtime = Some(value(&arg)?.into()),
                "--node" => opts.node = Some(value(&arg)?.into()),
                "--corpus" => opts.corpus = value(&arg)?.into(),
                "--programs" => opts.programs = Some(parse_number(&value(&arg)?, &arg)?),
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument {other:?}\n\n{USAGE}"),
            }
        }
        ensure!(opts.reps > 0, "--reps must be at least 1");
        if opts.smoke {
            opts.reps = 1;
            opts.programs = Some(opts.programs.unwrap_or(1).min(1));
        }
        Ok(Some(opts))
    }

    fn wants(&self, row: &str) -> bool {
        self.rows.iter().any(|r| r == row)
    }

    /// Iterations of an in-process measurement: `full`, or a few in smoke mode.
    fn iters(&self, full: usize) -> usize {
        if self.smoke { full.clamp(1, 5) } else { full }
    }
}

/// wasmtime 48 has its own error type: turn it into anyhow's, with context.
trait WasmtimeContext<T> {
    fn wt(self, what: &str) -> Result<T>;
}

impl<T> WasmtimeContext<T> for wasmtime::Result<T> {
    fn wt(self, what: &str) -> Result<T> {
        self.map_err(|e| anyhow::anyhow!("{what}: {e:?}"))
    }
}

/// A program next to this executable (`target/release/lucetc` beside
/// `target/release/suite`), if it exists.
fn sibling(name: &str) -> Option<PathBuf> {
    let path = env::current_exe().ok()?.parent()?.join(name);
    path.is_file().then_some(path)
}

fn on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

fn percentile(times: &[Duration], p: f64) -> Option<Duration> {
    let mut times = times.to_vec();
    times.sort();
    let last = times.len().checked_sub(1)?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let index = ((last as f64) * p).round() as usize;
    times.get(index.min(last)).copied()
}

/// Output: plain text or markdown tables, collected then printed.
struct Report {
    markdown: bool,
    text: String,
}

impl Report {
    fn heading(&mut self, title: &str) {
        if self.markdown {
            let _ = write!(self.text, "\n#### {title}\n\n");
        } else {
            let _ = write!(self.text, "\n== {title}\n");
        }
    }

    fn table(&mut self, header: &[&str], rows: &[Vec<String>]) {
        if self.markdown {
            let _ = writeln!(self.text, "| {} |", header.join(" | "));
            let align: Vec<&str> = header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---" } else { "--:" })
                .collect();
            let _ = writeln!(self.text, "|{}|", align.join("|"));
            for row in rows {
                let _ = writeln!(self.text, "| {} |", row.join(" | "));
            }
        } else {
            let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
            for row in rows {
                for (w, cell) in widths.iter_mut().zip(row) {
                    *w = (*w).max(cell.chars().count());
                }
            }
            let line = |cells: Vec<&str>| {
                cells
                    .iter()
                    .zip(&widths)
                    .map(|(c, w)| format!("{c:<w$}"))
                    .collect::<Vec<_>>()
                    .join("  ")
            };
            let _ = writeln!(self.text, "{}", line(header.to_vec()));
            for row in rows {
                let _ = writeln!(
                    self.text,
                    "{}",
                    line(row.iter().map(String::as_str).collect())
                );
            }
        }
    }

    fn line(&mut self, text: &str) {
        let _ = writeln!(self.text, "{}{text}", if self.markdown { "\n" } else { "" });
    }

    fn flush(&mut self) {
        print!("{}", self.text);
        self.text.clear();
    }
}

fn us(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1e6)
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e3)
}

fn ratio(a: Duration, b: Duration) -> String {
    if b.is_zero() {
        "n/a".into()
    } else {
        format!("{:.2}", a.as_secs_f64() / b.as_secs_f64())
    }
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "yes" } else { "no" }
}

/// Keys, and the fixtures' files, in a temporary directory.
struct Fixture {
    dir: tempfile::TempDir,
    secret: SecretKey,
    keys: PublicKeySet,
    public_path: PathBuf,
    secret_path: PathBuf,
}

impl Fixture {
    fn new() -> Result<Fixture> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let secret = SecretKey::generate()?;
        let public = secret.public_key();
        let public_path = dir.path().join("bench.pub");
        let secret_path = dir.path().join("bench.key");
        fs::write(&public_path, public.to_box())?;
        fs::write(&secret_path, secret.to_unencrypted_box())?;
        let keys = PublicKeySet::new(vec![public])?;
        Ok(Fixture {
            dir,
            secret,
            keys,
            public_path,
            secret_path,
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Compiles `wasm` in process as lucetc does; returns the artifact and
    /// the engine image's length.
    fn artifact(
        &self,
        wasm: &[u8],
        settings: EngineSettings,
        signed: bool,
    ) -> Result<(Vec<u8>, usize)> {
        let options = CompileOptions {
            settings,
            ..CompileOptions::default()
        };
        let compiled = lucet_runtime::compile::compile(wasm, &options)?;
        let source = SourceProvenance {
            prehash: Prehash::of(wasm),
            signer: None,
        };
        let bytes = lucet_runtime::compile::encode_artifact(
            &compiled,
            &settings,
            &source,
            lucet_runtime::compile::ArtifactLabel {
                name: "bench".into(),
                timestamp: 0,
                comment: None,
            },
            signed.then_some(&self.secret),
        )?;
        Ok((bytes, compiled.image.len()))
    }
}

fn wat(text: &str) -> Result<Vec<u8>> {
    Ok(lucet_runtime::compile::wasm_binary(text.as_bytes(), true)?.into_owned())
}

// ---------------------------------------------------------------- P2

fn p2(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    report.heading("P2 load: read + verify + deserialize, signed vs unsigned");
    let settings = EngineSettings::default();
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for (name, wasm, iters) in [
        ("hello", wat(HELLO_WAT)?, opts.iters(300)),
        // Smoke mode keeps artifacts small: 256 KiB of data.
        (
            "large",
            wasm_with_data(&pseudo_random_bytes(if opts.smoke {
                256 << 10
            } else {
                LARGE_DATA
            })),
            opts.iters(40),
        ),
    ] {
        let (signed, image_len) = fx.artifact(&wasm, settings, true)?;
        let (unsigned, _) = fx.artifact(&wasm, settings, false)?;
        let signed_path = fx.path(&format!("{name}.signed.so"));
        let unsigned_path = fx.path(&format!("{name}.unsigned.so"));
        fs::write(&signed_path, &signed)?;
        fs::write(&unsigned_path, &unsigned)?;
        let image = &signed[..image_len];
        let (mut t_signed, mut t_unsigned, mut t_hash) = (Vec::new(), Vec::new(), Vec::new());
        let (mut m_signed, mut m_unsigned) = (None, None);
        // One untimed round, then interleaved timed rounds.
        for i in 0..=iters {
            let (elapsed, memory) = timed_load(|| {
                lucet_runtime::load_verified(
                    &File::open(&signed_path)?,
                    &fx.keys,
                    LoadOptions::default(),
                )
                .with_context(|| format!("load_verified {name}"))
            })?;
            if i > 0 {
                t_signed.push(elapsed);
                m_signed = most(m_signed, memory);
            }
            let (elapsed, memory) = timed_load(|| {
                lucet_runtime::load_unverified(&File::open(&unsigned_path)?, LoadOptions::default())
                    .with_context(|| format!("load_unverified {name}"))
            })?;
            if i > 0 {
                t_unsigned.push(elapsed);
                m_unsigned = most(m_unsigned, memory);
            }
            let start = Instant::now();
            black_box(Prehash::of(black_box(image)));
            if i > 0 {
                t_hash.push(start.elapsed());
            }
        }
        let (s, u, h) = (
            median(&t_signed).context("no samples")?,
            median(&t_unsigned).context("no samples")?,
            median(&t_hash).context("no samples")?,
        );
        let overhead = s.saturating_sub(u);
        let allowed = h + u / 20;
        rows.push(vec![
            format!(
                "{name} ({} bytes image, {} bytes signed)",
                image_len,
                signed.len()
            ),
            ms(u),
            ms(s),
            ms(overhead),
            ms(h),
            ms(allowed),
            ratio(s, u),
            yes_no(overhead <= allowed).into(),
            format!("{} / {}", peak_mib(m_unsigned), peak_mib(m_signed)),
            files_mib(m_signed),
        ]);
        verdicts.push(format!(
            "P2 {name}: signed load overhead {} ms vs allowance (hash + 5 %) {} ms: {}",
            ms(overhead),
            ms(allowed),
            if overhead <= allowed { "met" } else { "MISSED" }
        ));
        if !opts.smoke {
            // Where unsigned load time goes: the engine, then deserialize.
            let t_engine = time_n(iters.min(50), || {
                let e = Engine::new(&Config::new()).wt("engine")?;
                drop(black_box(e));
                Ok(())
            })?;
            // Reading alone, from memory: both paths hash the image (the
            // unverified one checks the metadata's image_blake2b); the
            // signed one adds the signature checks.
            let t_read_unverified = time_n(iters, || {
                black_box(lucet_artifact::read_unverified(
                    &unsigned[..],
                    Default::default(),
                )?);
                Ok(())
            })?;
            let t_read_verified = time_n(iters, || {
                black_box(lucet_artifact::read_verified(
                    &signed[..],
                    &fx.keys,
                    Default::default(),
                )?);
                Ok(())
            })?;
            rows.push(diagnostic_row(
                format!(
                    "{name}: of which `read_unverified` / `read_verified` from memory (diagnostic)"
                ),
                &[
                    (1, ms(t_read_unverified)),
                    (2, ms(t_read_verified)),
                    (3, ms(t_read_verified.saturating_sub(t_read_unverified))),
                    (6, ratio(t_read_verified, t_read_unverified)),
                ],
            ));
            // The signed path's only extra work, alone: the two strict
            // Ed25519 verifications (data signature, global signature) of a
            // prehashed signature with a comment as long as the artifact's.
            let prehash = Prehash::of(image);
            let comment = "x".repeat(signed.len() - unsigned.len());
            let sig = fx.secret.sign_prehashed(&prehash, &comment, "bench")?;
            let key = fx.keys.iter().next().context("the bench key")?;
            let t_ed25519 = time_n(iters, || {
                key.verify_prehashed(black_box(&sig), black_box(&prehash))?;
                Ok(())
            })?;
            rows.push(diagnostic_row(
                format!("{name}: of which two Ed25519 verifications (diagnostic)"),
                &[(3, ms(t_ed25519))],
            ));
            rows.push(diagnostic_row(
                format!("{name}: of which a bare `Engine::new` (diagnostic)"),
                &[(1, ms(t_engine))],
            ));
        }
    }
    report.table(&P2_COLUMNS, &rows);
    for v in verdicts {
        report.line(&v);
    }
    Ok(())
}

/// The columns of P2's table.
const P2_COLUMNS: [&str; 10] = [
    "artifact",
    "unsigned ms",
    "signed ms",
    "overhead ms",
    "BLAKE2b of image ms",
    "allowed ms",
    "signed/unsigned",
    "overhead ≤ allowed",
    "peak RSS growth MiB (unsigned / signed)",
    "memory files MiB",
];

/// A diagnostic row of P2's table: its label, and only the cells given (by
/// column index) filled.
fn diagnostic_row(label: String, cells: &[(usize, String)]) -> Vec<String> {
    let mut row = vec![String::new(); P2_COLUMNS.len()];
    for (column, value) in [(0, label)].into_iter().chain(cells.iter().cloned()) {
        if let Some(cell) = row.get_mut(column) {
            *cell = value;
        }
    }
    row
}

/// Times one load and measures its memory with the module still loaded.
fn timed_load(
    load: impl FnOnce() -> Result<lucet_runtime::LoadedModule>,
) -> Result<(Duration, Option<MemoryUse>)> {
    let ((loaded, elapsed), memory) = memory_use(|| {
        let start = Instant::now();
        let loaded = load()?;
        Ok((loaded, start.elapsed()))
    })?;
    drop(black_box(loaded));
    Ok((elapsed, memory))
}

/// The larger of two memory uses, field by field.
fn most(a: Option<MemoryUse>, b: Option<MemoryUse>) -> Option<MemoryUse> {
    match (a, b) {
        (Some(a), Some(b)) => Some(MemoryUse {
            peak_rss_growth: a.peak_rss_growth.max(b.peak_rss_growth),
            memory_files: a.memory_files.max(b.memory_files),
        }),
        (a, b) => a.or(b),
    }
}

fn peak_mib(memory: Option<MemoryUse>) -> String {
    memory.map_or_else(
        || "n/a".into(),
        |m| format!("{:.1}", m.peak_rss_growth as f64 / 1048576.0),
    )
}

fn files_mib(memory: Option<MemoryUse>) -> String {
    memory.map_or_else(
        || "n/a".into(),
        |m| format!("{:.1}", m.memory_files as f64 / 1048576.0),
    )
}

fn time_n(n: usize, mut f: impl FnMut() -> Result<()>) -> Result<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    median(&times).context("no samples")
}

// ---------------------------------------------------------------- P4

struct BareState {
    wasi: WasiP1Ctx,
    limits: StoreLimits,
}

/// Bare wasmtime with the pool `lucet_embed::PoolingLimits::default()`
/// describes and lucetc's default engine settings.
struct Bare {
    engine: Engine,
    linker: Linker<BareState>,
}

impl Bare {
    fn new() -> Result<Bare> {
        let settings = EngineSettings::default();
        let limits = lucet_embed::PoolingLimits::default();
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(limits.max_instances)
            .total_memories(limits.max_instances * limits.max_memories_per_module)
            .total_tables(limits.max_instances * limits.max_tables_per_module)
            .total_stacks(0)
            .total_component_instances(0)
            .max_memories_per_module(limits.max_memories_per_module)
            .max_memory_size(usize::try_from(limits.max_memory_size)?)
            .max_tables_per_module(limits.max_tables_per_module)
            .table_elements(limits.max_table_elements)
            .max_core_instance_size(limits.max_instance_size);
        let mut config = lucet_like_config(settings.interruptible)?;
        config
            .cranelift_opt_level(wasmtime::OptLevel::SpeedAndSize)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config).wt("bare engine")?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p1::add_to_linker_sync(&mut linker, |s: &mut BareState| &mut s.wasi)
            .wt("bare linker")?;
        Ok(Bare { engine, linker })
    }

    fn pre(&self, wasm: &[u8]) -> Result<InstancePre<BareState>> {
        let module = Module::new(&self.engine, wasm).wt("bare compile")?;
        self.linker
            .instantiate_pre(&module)
            .wt("bare instantiate_pre")
    }
}

/// One bare cycle: WASI context with captured output, store, instance,
/// `_start`, drop. Returns stdout.
fn bare_cycle(pre: &InstancePre<BareState>, name: &str) -> Result<Vec<u8>> {
    let stdout = MemoryOutputPipe::new(1 << 20);
    let stderr = MemoryOutputPipe::new(1 << 20);
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdin(MemoryInputPipe::new(Vec::new()))
        .stdout(stdout.clone())
        .stderr(stderr)
        .arg(name);
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
    instance
        .get_typed_func::<(), ()>(&mut store, "_start")
        .wt("bare _start")?
        .call(&mut store, ())
        .wt("bare run")?;
    drop(store);
    Ok(stdout.contents().to_vec())
}

fn embed_cycle(handle: &ModuleHandle) -> Result<(Vec<u8>, Duration)> {
    let output = handle
        .run(InstanceConfig::default())
        .map_err(|e| anyhow::anyhow!("{}", e.report()))?;
    ensure!(output.success(), "guest failed: {:?}", output.outcome);
    Ok((output.stdout, output.elapsed))
}

fn p4(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    report.heading("P4 full cycle: WASI context + instantiate + _start + drop (pooling, CoW)");
    let host = Host::new(HostConfig::new(fx.keys.clone())).map_err(|e| anyhow::anyhow!("{e}"))?;
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
        let (mut t_embed, mut t_inner, mut t_bare) = (Vec::new(), Vec::new(), Vec::new());
        // Untimed warm-up of every path, then interleaved iterations, each
        // path going first every other time (the second runs with the
        // caches the first warmed).
        for i in 0..=iters {
            let embed = || -> Result<(Duration, Duration)> {
                let start = Instant::now();
                let (out, inner) = embed_cycle(&handle)?;
                let elapsed = start.elapsed();
                ensure!(out == expected, "{name}: lucet-embed output {out:?}");
                Ok((elapsed, inner))
            };
            let bare = || -> Result<Duration> {
                let start = Instant::now();
                let out = bare_cycle(&pre, name)?;
                let elapsed = start.elapsed();
                ensure!(out == expected, "{name}: bare output {out:?}");
                Ok(elapsed)
            };
            let ((elapsed, inner), elapsed_bare) = if i % 2 == 0 {
                (embed()?, bare()?)
            } else {
                let elapsed_bare = bare()?;
                (embed()?, elapsed_bare)
            };
            if i > 0 {
                t_embed.push(elapsed);
                t_inner.push(inner);
                t_bare.push(elapsed_bare);
            }
        }
        let m = |t: &[Duration]| median(t).context("no samples");
        let p = |t: &[Duration]| percentile(t, 0.99).context("no samples");
        let (e, inn, b) = (m(&t_embed)?, m(&t_inner)?, m(&t_bare)?);
        for (row, t, med) in [
            ("lucet-embed `ModuleHandle::run`", &t_embed, e),
            (
                "lucet-embed, instantiation to end of run (`RunOutput::elapsed`)",
                &t_inner,
                inn,
            ),
            ("bare wasmtime 48 pooling", &t_bare, b),
        ] {
            rows.push(vec![
                format!("{name}: {row}"),
                us(med),
                us(p(t)?),
                ratio(med, b),
            ]);
        }
        verdicts.push(format!(
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
        ));
    }
    report.line(&format!("{iters} iterations per row, interleaved."));
    report.table(&["path", "median µs", "p99 µs", "ratio to bare"], &rows);
    for v in verdicts {
        report.line(&v);
    }
    Ok(())
}

// ---------------------------------------------------------------- subprocesses

/// A subprocess to time: program, arguments, working directory.
#[derive(Clone)]
struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
}

impl Cmd {
    fn new(program: &Path, args: &[&dyn AsRef<std::ffi::OsStr>]) -> Cmd {
        Cmd {
            program: program.to_owned(),
            args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
            dir: None,
        }
    }

    fn in_dir(mut self, dir: &Path) -> Cmd {
        self.dir = Some(dir.to_owned());
        self
    }

    /// Runs once; the wall time and stdout. An error unless it exits 0.
    fn run(&self) -> Result<(Duration, Vec<u8>)> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let start = Instant::now();
        let output = command
            .output()
            .with_context(|| format!("running {}", self.program.display()))?;
        let elapsed = start.elapsed();
        ensure!(
            output.status.success(),
            "{} {:?} failed ({}): {}",
            self.program.display(),
            self.args,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
        Ok((elapsed, output.stdout))
    }
}

/// Times each command `reps` times, interleaved after one untimed round;
/// returns the medians and each command's stdout of the last run.
fn time_interleaved(cmds: &[Cmd], reps: usize) -> Result<Vec<(Duration, Vec<u8>)>> {
    let mut times = vec![Vec::with_capacity(reps); cmds.len()];
    let mut outs = vec![Vec::new(); cmds.len()];
    for round in 0..=reps {
        for ((cmd, t), out) in cmds.iter().zip(&mut times).zip(&mut outs) {
            let (elapsed, stdout) = cmd.run()?;
            if round > 0 {
                t.push(elapsed);
            }
            *out = stdout;
        }
    }
    times
        .iter()
        .zip(outs)
        .map(|(t, o)| Ok((median(t).context("no samples")?, o)))
        .collect()
}

struct Tools {
    /// What a peer's row says when the peer is absent.
    missing: &'static str,
    lucetc: Option<PathBuf>,
    lucet_wasi: Option<PathBuf>,
    wasmtime: Option<PathBuf>,
    node: Option<PathBuf>,
}

impl Tools {
    fn find(opts: &Options) -> Tools {
        let peer = |given: &Option<PathBuf>, name: &str| {
            if opts.smoke {
                None
            } else {
                given.clone().or_else(|| on_path(name))
            }
        };
        // Absolute paths: programs run in their own directories.
        let abs = |p: Option<PathBuf>| p.map(|p| fs::canonicalize(&p).unwrap_or(p));
        Tools {
            missing: if opts.smoke {
                "not run (--smoke: no peers)"
            } else {
                NOT_INSTALLED
            },
            lucetc: abs(opts.lucetc.clone().or_else(|| sibling("lucetc"))),
            lucet_wasi: abs(opts.lucet_wasi.clone().or_else(|| sibling("lucet-wasi"))),
            wasmtime: abs(peer(&opts.wasmtime, "wasmtime")),
            node: abs(peer(&opts.node, "node")),
        }
    }

    fn version(program: &Path) -> String {
        Command::new(program)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}

const NOT_INSTALLED: &str = "not measured: peer not installed";

// ---------------------------------------------------------------- P5

fn p5(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    report.heading("P5 whole process: hello world");
    let Some(lucet_wasi) = &tools.lucet_wasi else {
        report.line("P5 not measured: no lucet-wasi binary (--lucet-wasi)");
        return Ok(());
    };
    let wasm = wat(HELLO_WAT)?;
    let wasm_path = fx.path("hello.wasm");
    fs::write(&wasm_path, &wasm)?;
    let (artifact, _) = fx.artifact(&wasm, EngineSettings::default(), true)?;
    let so = fx.path("hello.so");
    fs::write(&so, artifact)?;
    let reps = if opts.smoke { 2 } else { 20 * opts.reps };
    let mut names = vec![format!(
        "lucet-wasi --signature-pk ({})",
        Tools::version(lucet_wasi)
    )];
    let mut cmds = vec![Cmd::new(
        lucet_wasi,
        &[&"--signature-pk", &fx.public_path, &so],
    )];
    let mut missing = Vec::new();
    match &tools.wasmtime {
        Some(wasmtime) => {
            let cwasm = fx.path("hello.cwasm");
            Cmd::new(wasmtime, &[&"compile", &wasm_path, &"-o", &cwasm]).run()?;
            names.push(format!(
                "wasmtime run --allow-precompiled ({})",
                Tools::version(wasmtime)
            ));
            cmds.push(Cmd::new(
                wasmtime,
                &[&"run", &"--allow-precompiled", &cwasm],
            ));
        }
        None => missing.push("wasmtime run --allow-precompiled"),
    }
    match &tools.node {
        Some(node) => {
            let runner = fx.path("wasi-run.mjs");
            fs::write(&runner, NODE_RUNNER)?;
            names.push(format!("node WASI ({})", Tools::version(node)));
            cmds.push(Cmd::new(node, &[&"--no-warnings", &runner, &wasm_path]));
        }
        None => missing.push("node WASI"),
    }
    let results = time_interleaved(&cmds, reps)?;
    let ours = results.first().map(|r| r.0).context("no result")?;
    let mut rows = Vec::new();
    for (name, (t, out)) in names.iter().zip(&results) {
        ensure!(out == HELLO_OUT, "P5 {name}: output {out:?}");
        rows.push(vec![name.clone(), ms(*t), ratio(ours, *t)]);
    }
    for name in missing {
        let why = if opts.smoke {
            "not run (--smoke: no peers)"
        } else {
            NOT_INSTALLED
        };
        rows.push(vec![name.into(), why.into(), String::new()]);
    }
    report.line(&format!("{reps} runs each, interleaved; output checked."));
    report.table(&["process", "median ms", "lucet-wasi / this"], &rows);
    if let Some((t, _)) = results.get(1).filter(|_| tools.wasmtime.is_some()) {
        report.line(&format!(
            "P5: lucet-wasi {} ms vs wasmtime {} ms = {}× (goal ≤ 0.5×: {})",
            ms(ours),
            ms(*t),
            ratio(ours, *t),
            yes_no(ours.as_secs_f64() <= 0.5 * t.as_secs_f64())
        ));
    } else {
        report.line(&format!("P5 verdict: wasmtime run {}", tools.missing));
    }
    Ok(())
}

// ---------------------------------------------------------------- P3, P6

struct Program {
    name: String,
    dir: PathBuf,
    wasm: PathBuf,
    expected: Option<Vec<u8>>,
}

/// A file of a larger input, written into a scratch copy of a program's
/// directory.
enum InputFile {
    /// This text.
    Text(&'static str),
    /// The program's own file of that name, this many times over.
    Repeated(usize),
}

/// Inputs under which a program runs long enough (about 0.5 s or more) for
/// start-up not to count. Upstream's default inputs finish within
/// milliseconds; only these programs read inputs that scale their work (the
/// others have their iteration counts compiled in, and blake3-scalar fails
/// on inputs large enough).
struct LargerInput {
    program: &'static str,
    /// What changed, for the row's name.
    label: &'static str,
    files: &'static [(&'static str, InputFile)],
    /// A wasm stack for deep recursion, in bytes, given to both runtimes.
    max_wasm_stack: Option<usize>,
}

const LARGER_INPUTS: &[LargerInput] = &[
    LargerInput {
        program: "bz2",
        label: "default.input ×40",
        files: &[("default.input", InputFile::Repeated(40))],
        max_wasm_stack: None,
    },
    LargerInput {
        program: "meshoptimizer",
        label: "input 800 instead of 70",
        files: &[("default.input", InputFile::Text("800\n"))],
        max_wasm_stack: None,
    },
    LargerInput {
        program: "quicksort",
        label: "input 2500 instead of 47",
        files: &[("default.input", InputFile::Text("2500\n"))],
        max_wasm_stack: None,
    },
    LargerInput {
        program: "shootout-ackermann",
        label: "N = 12 instead of 7, 16 MiB wasm stack",
        files: &[("shootout-ackermann.n.input", InputFile::Text("12\n"))],
        max_wasm_stack: Some(16 << 20),
    },
];

fn larger_input(program: &Program) -> Option<&'static LargerInput> {
    LARGER_INPUTS.iter().find(|l| l.program == program.name)
}

/// One P6 measurement: a program, the directory it runs in and what it
/// must print.
struct Workload {
    name: String,
    dir: PathBuf,
    /// Upstream's expected stdout (default inputs only); every run is also
    /// compared with the first.
    expected: Option<Vec<u8>>,
    max_wasm_stack: Option<usize>,
}

impl Workload {
    /// The program with upstream's inputs, in its own directory.
    fn default_inputs(program: &Program) -> Workload {
        Workload {
            name: program.name.clone(),
            dir: program.dir.clone(),
            expected: program.expected.clone(),
            max_wasm_stack: None,
        }
    }

    /// The program with `larger`'s inputs, in a scratch copy of its
    /// directory's inputs (the corpus is read-only).
    fn larger(program: &Program, larger: &LargerInput, fx: &Fixture) -> Result<Workload> {
        let dir = fx.path(&format!("{}-larger", program.name));
        fs::create_dir_all(&dir)?;
        for entry in fs::read_dir(&program.dir)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "input") {
                let name = path.file_name().context("input file name")?;
                fs::copy(&path, dir.join(name))?;
            }
        }
        for (file, input) in larger.files {
            let bytes = match input {
                InputFile::Text(text) => text.as_bytes().to_vec(),
                InputFile::Repeated(times) => fs::read(program.dir.join(file))
                    .with_context(|| format!("{}: {file}", program.name))?
                    .repeat(*times),
            };
            fs::write(dir.join(file), bytes)?;
        }
        Ok(Workload {
            name: format!("{} ({})", program.name, larger.label),
            dir,
            expected: None,
            max_wasm_stack: larger.max_wasm_stack,
        })
    }
}

fn programs(opts: &Options) -> Result<Vec<Program>> {
    let mut found = Vec::new();
    let corpus = fs::canonicalize(&opts.corpus)
        .with_context(|| format!("the corpus {}", opts.corpus.display()))?;
    let mut dirs: Vec<PathBuf> = fs::read_dir(&corpus)
        .with_context(|| format!("reading the corpus {}", opts.corpus.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let mut files: Vec<PathBuf> = fs::read_dir(&dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for wasm in files {
            let Some(file) = wasm.file_name().and_then(|f| f.to_str()) else {
                continue;
            };
            let Some(stem) = file.strip_suffix(".plainwasi.wasm") else {
                continue;
            };
            let expected = [
                format!("{stem}.stdout.expected"),
                "default.stdout.expected".into(),
            ]
            .iter()
            .find_map(|f| fs::read(dir.join(f)).ok());
            // Single-program directories name theirs `benchmark`.
            let name = match dir.file_name().and_then(|d| d.to_str()) {
                Some(d) if stem == "benchmark" => d.to_owned(),
                _ => stem.to_owned(),
            };
            found.push(Program {
                name,
                dir: dir.clone(),
                wasm: wasm.clone(),
                expected,
            });
        }
    }
    // Smoke mode takes the smallest program with a larger input, so that
    // both of its workloads keep running.
    if opts.smoke {
        found.sort_by_key(|p| {
            (
                larger_input(p).is_none(),
                fs::metadata(&p.wasm).map(|m| m.len()).unwrap_or(u64::MAX),
            )
        });
    }
    if let Some(n) = opts.programs {
        found.truncate(n);
    }
    ensure!(
        !found.is_empty(),
        "no *.plainwasi.wasm in {}",
        opts.corpus.display()
    );
    Ok(found)
}

/// Upstream compares line by line: compare lines without trailing blanks.
fn same_output(actual: &[u8], expected: &[u8]) -> bool {
    let lines = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(|l| l.trim_end().to_owned())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    };
    lines(actual) == lines(expected)
}

fn geo_mean(ratios: &[f64]) -> Option<f64> {
    if ratios.is_empty() {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let n = ratios.len() as f64;
    Some((ratios.iter().map(|r| r.ln()).sum::<f64>() / n).exp())
}

/// lucet's engine configuration (`lucet_runtime::engine_config`, the one
/// place both lucetc and lucet-wasi build it) for the bare wasmtime peers.
fn lucet_like_config(interruptible: bool) -> Result<Config> {
    let settings = EngineSettings {
        interruptible,
        ..EngineSettings::default()
    };
    lucet_runtime::engine_config(&settings).context("lucet engine configuration")
}

/// The bare in-process precompile with lucetc's default settings:
/// `Engine::new` and `precompile_module` with [`lucet_like_config`] at
/// lucetc's default opt level, for this host's CPU.
fn bare_precompile(wasm: &[u8], interruptible: bool) -> Result<Vec<u8>> {
    let mut config = lucet_like_config(interruptible)?;
    config
        .cranelift_opt_level(wasmtime::OptLevel::SpeedAndSize)
        .parallel_compilation(true);
    let engine = Engine::new(&config).wt("bare engine")?;
    engine.precompile_module(wasm).wt("bare precompile")
}

/// P3 and P6 share the compiled artifacts: P3 times the compilations,
/// P6 runs their outputs.
fn p3_p6(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    let Some(lucetc) = &tools.lucetc else {
        report.line("P3 and P6 not measured: no lucetc binary (--lucetc)");
        return Ok(());
    };
    let programs = programs(opts)?;
    let reps = opts.reps;
    let mut p3_rows = Vec::new();
    let mut p3_ratios = Vec::new();
    let mut p3_process_ratios = Vec::new();
    let mut p3_cli_ratios = Vec::new();
    let mut p6_rows = Vec::new();
    let (mut r_epoch, mut r_plain) = (Vec::new(), Vec::new());
    for program in &programs {
        let name = &program.name;
        let so = fx.path(&format!("{name}.so"));
        let so_plain = fx.path(&format!("{name}.nointr.so"));
        let cwasm = fx.path(&format!("{name}.epoch.cwasm"));
        let cwasm_plain = fx.path(&format!("{name}.cwasm"));
        let wasm_bytes = fs::read(&program.wasm)?;
        let secret = format!("raw:{}", fx.secret_path.display());

        // P3: lucetc (signing, as deployed), bare precompile, wasmtime compile.
        let lucetc_cmd = Cmd::new(
            lucetc,
            &[&program.wasm, &"--signature-sk", &secret, &"-o", &so],
        );
        let bare_image = fx.path(&format!("{name}.bare.cwasm"));
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
                    &cwasm,
                ],
            ));
        }
        let mut t_lucetc = Vec::new();
        let mut t_bare_process = Vec::new();
        let mut t_cli = Vec::new();
        let mut t_bare = Vec::new();
        let mut t_hash = Vec::new();
        let mut t_lib = Vec::new();
        let mut t_sync = Vec::new();
        let mut image_len = 0;
        for round in 0..=reps {
            let (t, _) = cmds.first().context("lucetc")?.run()?;
            let (t_process, _) = cmds.get(1).context("bare process")?.run()?;
            let cli = cmds.get(2).map(Cmd::run).transpose()?;
            let start = Instant::now();
            let image = bare_precompile(&wasm_bytes, true)?;
            let bare = start.elapsed();
            image_len = image.len();
            let start = Instant::now();
            black_box(Prehash::of(black_box(&image)));
            let hash = start.elapsed();
            // Diagnostics: the same work as lucetc through the library in
            // process, and writing + fsync of the artifact (lucetc's
            // `write_atomically` syncs before renaming).
            let start = Instant::now();
            let (artifact, _) = fx.artifact(&wasm_bytes, EngineSettings::default(), true)?;
            let lib = start.elapsed();
            let start = Instant::now();
            let scratch = fx.path("sync-test.so");
            let mut file = File::create(&scratch)?;
            std::io::Write::write_all(&mut file, &artifact)?;
            file.sync_all()?;
            drop(file);
            let sync = start.elapsed();
            if round > 0 {
                t_lucetc.push(t);
                t_bare_process.push(t_process);
                t_bare.push(bare);
                t_hash.push(hash);
                t_lib.push(lib);
                t_sync.push(sync);
                if let Some((t, _)) = cli {
                    t_cli.push(t);
                }
            }
        }
        let m = |t: &[Duration]| median(t).context("no samples");
        let (l, b, h) = (m(&t_lucetc)?, m(&t_bare)?, m(&t_hash)?);
        let goal = b.mul_f64(1.05) + h;
        p3_ratios.push(l.as_secs_f64() / (b + h).as_secs_f64());
        let bp = m(&t_bare_process)?;
        p3_process_ratios.push(l.as_secs_f64() / (bp + h).as_secs_f64());
        let cli = median(&t_cli);
        if let Some(c) = cli {
            p3_cli_ratios.push(l.as_secs_f64() / c.as_secs_f64());
        }
        p3_rows.push(vec![
            format!("{name} ({} KiB wasm)", wasm_bytes.len() / 1024),
            ms(l),
            ms(b),
            ms(h),
            ms(m(&t_lib)?),
            ms(m(&t_sync)?),
            ratio(l, b + h),
            yes_no(l <= goal).into(),
            ms(bp),
            ratio(l, bp + h),
            cli.map_or_else(|| tools.missing.into(), ms),
            cli.map_or_else(String::new, |c| ratio(l, c)),
        ]);
        let _ = image_len;

        // The other configuration, compiled once each (untimed).
        Cmd::new(
            lucetc,
            &[
                &program.wasm,
                &"--no-interruption",
                &"--signature-sk",
                &secret,
                &"-o",
                &so_plain,
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
                    &cwasm_plain,
                ],
            )
            .run()?;
        }

        // P6: run them in the workload's directory, preopened as `.`.
        if !opts.wants("P6") {
            continue;
        }
        let Some(lucet_wasi) = &tools.lucet_wasi else {
            continue;
        };
        let mut workloads = vec![Workload::default_inputs(program)];
        if let Some(larger) = larger_input(program) {
            workloads.push(Workload::larger(program, larger, fx)?);
        }
        for workload in &workloads {
            let artifacts = P6Artifacts {
                so: &so,
                so_plain: &so_plain,
                cwasm: &cwasm,
                cwasm_plain: &cwasm_plain,
            };
            let (row, ratios) = p6_workload(workload, &artifacts, lucet_wasi, fx, tools, reps)?;
            p6_rows.push(row);
            if let Some(ratios) = ratios {
                r_epoch.push(ratios.epoch);
                r_plain.push(ratios.plain);
            }
        }
    }

    if opts.wants("P3") {
        report.heading("P3 compile time (sightglass programs)");
        report.line(&format!(
            "{reps} timed runs each after one untimed, interleaved. lucetc signs its output (raw key); \
             bare = in-process `Engine::new` + `precompile_module` with lucet's engine settings; \
             goal: lucetc ≤ 1.05 × bare + one BLAKE2b of the image. Diagnostic: the same bare \
             calls as a process of their own (read the wasm, compile, write the image), like for like \
             with lucetc."
        ));
        report.table(
            &[
                "program",
                "lucetc ms",
                "bare ms",
                "hash ms",
                "library in process ms",
                "write + fsync ms",
                "lucetc / (bare + hash)",
                "≤ 1.05 × bare + hash",
                "bare as a process ms",
                "lucetc / (bare process + hash)",
                "wasmtime compile ms",
                "lucetc / wasmtime compile",
            ],
            &p3_rows,
        );
        if let Some(g) = geo_mean(&p3_ratios) {
            report.line(&format!(
                "P3: geo-mean lucetc / (bare + hash) = {g:.3} over {} programs",
                p3_ratios.len()
            ));
        }
        if let Some(g) = geo_mean(&p3_process_ratios) {
            report.line(&format!(
                "P3 (diagnostic): geo-mean lucetc / (bare as a process + hash) = {g:.3}"
            ));
        }
        match geo_mean(&p3_cli_ratios) {
            Some(g) => report.line(&format!("P3: geo-mean lucetc / wasmtime compile = {g:.3}")),
            None => report.line("P3 wasmtime compile: not measured: peer not installed"),
        }
    }
    if opts.wants("P6") {
        report.heading("P6 execution (sightglass programs, whole process)");
        if tools.lucet_wasi.is_none() {
            report.line("P6 not measured: no lucet-wasi binary (--lucet-wasi)");
            return Ok(());
        }
        report.line(&format!(
            "{reps} timed runs each after one untimed, interleaved; medians. Ratios: lucet / wasmtime."
        ));
        report.table(
            &[
                "program",
                "lucet ms",
                "wasmtime -W epoch-interruption=y,timeout=3600s ms",
                "ratio",
                "lucet --no-interruption ms",
                "wasmtime ms",
                "ratio",
                "notes",
            ],
            &p6_rows,
        );
        match (geo_mean(&r_epoch), geo_mean(&r_plain)) {
            (Some(e), Some(p)) => report.line(&format!(
                "P6: geo-mean over {} workloads ≥ 0.3 s: with interruption {e:.3} (≤ 1.05: {}), \
                 without {p:.3} (≤ 1.05: {})",
                r_epoch.len(),
                yes_no(e <= 1.05),
                yes_no(p <= 1.05)
            )),
            _ => report.line(
                "P6 geo-mean not measured: wasmtime CLI not installed or no workload ≥ 0.3 s",
            ),
        }
    }
    Ok(())
}

/// A workload's time under lucet / under wasmtime: with epoch interruption,
/// and without.
struct P6Ratios {
    epoch: f64,
    plain: f64,
}

/// The four compiled forms of a program that P6 runs.
struct P6Artifacts<'a> {
    so: &'a Path,
    so_plain: &'a Path,
    cwasm: &'a Path,
    cwasm_plain: &'a Path,
}

/// Runs one workload under lucet-wasi (with and without interruption) and,
/// when installed, the wasmtime CLI; returns its table row and, for a
/// workload of at least `MIN_WORKLOAD` with the peer measured, its two
/// ratios to wasmtime.
fn p6_workload(
    workload: &Workload,
    artifacts: &P6Artifacts,
    lucet_wasi: &Path,
    fx: &Fixture,
    tools: &Tools,
    reps: usize,
) -> Result<(Vec<String>, Option<P6Ratios>)> {
    let pk = &fx.public_path;
    let stack = workload.max_wasm_stack.map(|s| s.to_string());
    let lucet = |so: &Path| {
        let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
            vec![&"--signature-pk", pk, &"--dir", &"."];
        if let Some(stack) = &stack {
            args.extend([&"--stack-size" as &dyn AsRef<std::ffi::OsStr>, stack]);
        }
        args.push(&so);
        Cmd::new(lucet_wasi, &args).in_dir(&workload.dir)
    };
    let mut runs = vec![lucet(artifacts.so), lucet(artifacts.so_plain)];
    if let Some(wasmtime) = &tools.wasmtime {
        // Without a timeout the CLI's epoch deadline is reached at once;
        // lucet-wasi sets an unreachable one. The CLI runs guests on a fiber
        // whose stack must hold the wasm stack.
        let stack_flags = workload.max_wasm_stack.map_or_else(String::new, |s| {
            format!(
                ",max-wasm-stack={s},async-stack-size={}",
                s + lucet_runtime::HOST_STACK_MARGIN
            )
        });
        let epoch = format!("epoch-interruption=y,timeout=3600s{stack_flags}");
        let plain = format!("epoch-interruption=n{stack_flags}");
        for (flags, cwasm) in [(epoch, artifacts.cwasm), (plain, artifacts.cwasm_plain)] {
            runs.push(
                Cmd::new(
                    wasmtime,
                    &[
                        &"run",
                        &"--allow-precompiled",
                        &"-W",
                        &flags,
                        &"--dir",
                        &".",
                        &cwasm,
                    ],
                )
                .in_dir(&workload.dir),
            );
        }
    }
    let results = time_interleaved(&runs, reps)?;
    let mut flags = Vec::new();
    let who = [
        "lucet",
        "lucet --no-interruption",
        "wasmtime -W epoch",
        "wasmtime",
    ];
    let first = results
        .first()
        .map(|(_, out)| out.as_slice())
        .unwrap_or_default();
    for ((_, out), who) in results.iter().zip(who) {
        if let Some(expected) = &workload.expected
            && !same_output(out, expected)
        {
            flags.push(format!("{who}: stdout differs from expected"));
        }
        if !same_output(out, first) {
            flags.push(format!("{who}: stdout differs from lucet's"));
        }
    }
    let t = |i: usize| results.get(i).map(|r| r.0);
    let (Some(ours), Some(ours_plain)) = (t(0), t(1)) else {
        bail!("P6 {}: missing results", workload.name);
    };
    let long = ours >= MIN_WORKLOAD;
    if !long {
        flags.push("< 0.3 s: not in geo-mean".into());
    }
    let (we, wp) = (t(2), t(3));
    let ratios = match (we, wp) {
        (Some(we), Some(wp)) if long => Some(P6Ratios {
            epoch: ours.as_secs_f64() / we.as_secs_f64(),
            plain: ours_plain.as_secs_f64() / wp.as_secs_f64(),
        }),
        _ => None,
    };
    let na = || tools.missing.to_string();
    let row = vec![
        workload.name.clone(),
        ms(ours),
        we.map_or_else(na, ms),
        we.map_or_else(String::new, |w| ratio(ours, w)),
        ms(ours_plain),
        wp.map_or_else(na, ms),
        wp.map_or_else(String::new, |w| ratio(ours_plain, w)),
        flags.join("; "),
    ];
    Ok((row, ratios))
}

fn run(opts: &Options) -> Result<()> {
    let fx = Fixture::new()?;
    let tools = Tools::find(opts);
    let mut report = Report {
        markdown: opts.markdown,
        text: String::new(),
    };
    report.line(&format!(
        "suite{}: load average {} before",
        if opts.smoke { " --smoke" } else { "" },
        load_average()
    ));
    report.flush();
    if opts.wants("P2") {
        p2(opts, &fx, &mut report)?;
        report.flush();
    }
    if opts.wants("P4") {
        p4(opts, &fx, &mut report)?;
        report.flush();
    }
    if opts.wants("P5") {
        p5(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P3") || opts.wants("P6") {
        p3_p6(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    report.line(&format!("load average {} after", load_average()));
    report.flush();
    Ok(())
}

/// Hidden mode for P3's process-to-process comparison: `suite
/// --bare-precompile-process IN OUT` reads IN, runs [`bare_precompile`] and
/// writes OUT, as a process of its own (this binary, about as large as
/// lucetc).
const BARE_PROCESS: &str = "--bare-precompile-process";

fn bare_precompile_process(input: &Path, output: &Path) -> Result<()> {
    let wasm = fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let image = bare_precompile(&wasm, true)?;
    fs::write(output, image).with_context(|| format!("writing {}", output.display()))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    if let [mode, input, output] = args.as_slice()
        && mode == BARE_PROCESS
    {
        return match bare_precompile_process(input.as_ref(), output.as_ref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("suite {BARE_PROCESS}: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let opts = match Options::parse(args) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("suite: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("suite: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
