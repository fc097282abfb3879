//! `verify-throughput`: how fast a large signed file is verified, against
//! the in-process BLAKE2b-512 speed of the same machine in the same run.
//!
//! Prehashed (`ED`) verification is one BLAKE2b-512 pass over the data plus
//! two Ed25519 verifications, so BLAKE2b is the ceiling. The bench:
//!
//! 1. writes `--size-mb` MiB of pseudo-random bytes to a temporary
//!    directory, signs them (prehashed) with a freshly generated key and
//!    writes the `.minisig` and the public key next to them;
//! 2. warms the page cache, then times, `--reps` times each and interleaved
//!    (so background load hits every row alike):
//!    * BLAKE2b-512 (`blake2b_simd`) over the bytes already in memory,
//!    * our `verify_reader` streaming from the file (constant memory),
//!    * `minisign -Vm FILE -x SIG -p PUB` and `rsign verify -p PUB -x SIG
//!      FILE` as subprocesses, when installed;
//! 3. prints median wall times, MiB/s and the ratio of each to BLAKE2b, the
//!    same ratio on CPU time (which background load hardly changes), how
//!    long the bench waited for a CPU (how disturbed the run was), and the
//!    verdict `ratio >= 0.9` for our verification.
//!
//! `--smoke` (8 MiB, 1 repetition) is for CI: it still verifies everything
//! and exits non-zero if any verification fails. `--explore` adds
//! diagnostic rows for profiling: other read sizes, reading into memory
//! (as lucetc reads a source), and a plain scalar BLAKE2b-512.
//!
//! The verdict is printed, not enforced: a slow or busy machine is not a
//! failure; a verification that fails is.

#![forbid(unsafe_code)]

use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use lucet_signature::{Legacy, Prehash, Prehasher, PublicKeySet, SecretKey, SignatureBox};

/// One MiB: sizes and speeds are in binary megabytes.
const MIB: u64 = 1 << 20;

/// The ratio to BLAKE2b our verification must reach.
const TARGET_RATIO: f64 = 0.9;

/// Read sizes tried by `--explore`, besides the 64 KiB of `verify_reader`.
const EXPLORE_CHUNKS: [usize; 4] = [16 << 10, 256 << 10, 1 << 20, 4 << 20];

const USAGE: &str = "\
usage: verify-throughput [--size-mb N] [--reps R] [--smoke] [--markdown]
                         [--explore] [--dir DIR] [--minisign PATH] [--rsign PATH]

  --size-mb N      size of the signed file in MiB (default 256)
  --reps R         repetitions of each measurement; medians are reported (default 5)
  --smoke          8 MiB, 1 repetition: checks that the bench still runs and verifies (CI)
  --markdown       print the results table as markdown
  --explore        add diagnostic rows: other read sizes, read into memory then
                   verify, a plain scalar BLAKE2b-512
  --dir DIR        create the temporary directory in DIR (default: the system's)
  --minisign PATH  minisign binary (default: `minisign` on PATH)
  --rsign PATH     rsign binary (default: `rsign` on PATH, else ~/.cargo/bin/rsign)";

#[derive(Debug)]
struct Options {
    size_mib: u64,
    reps: usize,
    smoke: bool,
    markdown: bool,
    explore: bool,
    dir: Option<PathBuf>,
    minisign: Option<PathBuf>,
    rsign: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Option<Options>> {
        let mut opts = Options {
            size_mib: 256,
            reps: 5,
            smoke: false,
            markdown: false,
            explore: false,
            dir: None,
            minisign: None,
            rsign: None,
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
                "--size-mb" => opts.size_mib = parse_number(&value(&arg)?, &arg)?,
                "--reps" => opts.reps = parse_number(&value(&arg)?, &arg)?,
                "--smoke" => opts.smoke = true,
                "--markdown" => opts.markdown = true,
                "--explore" => opts.explore = true,
                "--dir" => opts.dir = Some(value(&arg)?.into()),
                "--minisign" => opts.minisign = Some(value(&arg)?.into()),
                "--rsign" => opts.rsign = Some(value(&arg)?.into()),
                "-h" | "--help" => return Ok(None),
                other => bail!("unknown argument {other:?}\n\n{USAGE}"),
            }
        }
        if opts.smoke {
            opts.size_mib = 8;
            opts.reps = 1;
        }
        ensure!(opts.size_mib >= 1, "--size-mb must be at least 1");
        ensure!(opts.reps >= 1, "--reps must be at least 1");
        Ok(Some(opts))
    }
}

fn parse_number<T: std::str::FromStr>(value: &OsString, name: &str) -> Result<T> {
    value
        .to_str()
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("{name} needs a non-negative integer, not {value:?}"))
}

/// SplitMix64: cheap, deterministic, and incompressible enough that nothing
/// on the way (page cache, filesystem) can shortcut the data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn pseudo_random_bytes(len: usize) -> Vec<u8> {
    let mut rng = SplitMix64(0x6C75_6365_742D_6265); // "lucet-be"
    let mut data = vec![0u8; len];
    let mut words = data.chunks_exact_mut(8);
    for word in &mut words {
        word.copy_from_slice(&rng.next().to_le_bytes());
    }
    let tail = words.into_remainder();
    let last = rng.next().to_le_bytes();
    tail.copy_from_slice(last.get(..tail.len()).unwrap_or_default());
    data
}

/// The signed file and everything needed to verify it.
struct Fixture {
    _dir: tempfile::TempDir,
    data_path: PathBuf,
    sig_path: PathBuf,
    pub_path: PathBuf,
    keys: PublicKeySet,
    sig: SignatureBox,
}

fn make_fixture(opts: &Options, data: &[u8]) -> Result<Fixture> {
    let dir = match &opts.dir {
        Some(parent) => tempfile::Builder::new()
            .prefix("verify-throughput.")
            .tempdir_in(parent),
        None => tempfile::Builder::new()
            .prefix("verify-throughput.")
            .tempdir(),
    }
    .context("cannot create the temporary directory")?;
    let data_path = dir.path().join("data.bin");
    let sig_path = dir.path().join("data.bin.minisig");
    let pub_path = dir.path().join("bench.pub");

    let mut file = File::create(&data_path)
        .with_context(|| format!("cannot create {}", data_path.display()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all()) // no writeback during the timings
        .with_context(|| format!("cannot write {}", data_path.display()))?;
    drop(file);

    let key = SecretKey::generate().context("cannot generate a key")?;
    let mut hasher = Prehasher::new();
    hasher.update(data);
    let sig = key
        .sign_prehashed(
            &hasher.finalize(),
            "file:data.bin\tverify-throughput benchmark",
            "signature from lucet-bench verify-throughput",
        )
        .context("cannot sign")?;
    fs::write(&sig_path, sig.to_text())
        .with_context(|| format!("cannot write {}", sig_path.display()))?;
    fs::write(&pub_path, key.public_key().to_box())
        .with_context(|| format!("cannot write {}", pub_path.display()))?;
    // Verify what was written, as any reader of the files would.
    let sig = SignatureBox::parse(&fs::read(&sig_path)?).context("cannot parse our signature")?;
    let keys = PublicKeySet::new(vec![key.public_key()])?;
    Ok(Fixture {
        _dir: dir,
        data_path,
        sig_path,
        pub_path,
        keys,
        sig,
    })
}

/// Reads the file once so that every measurement reads from the page cache.
fn warm_page_cache(path: &Path) -> Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// Checks the scalar BLAKE2b against `blake2b_simd` on every length up to
/// a few blocks, fed in odd pieces, before any of its timings is shown.
fn check_scalar_blake2b(data: &[u8]) -> Result<()> {
    for len in (0..=600).chain([data.len()]) {
        let input = data.get(..len).context("data shorter than 600 bytes")?;
        let mut state = scalar_blake2b::State::new();
        for piece in input.chunks(77) {
            state.update(piece);
        }
        ensure!(
            state.finalize() == *Prehash::of(input).as_bytes(),
            "the scalar BLAKE2b-512 is wrong on {len} bytes"
        );
    }
    Ok(())
}

/// What one row of the table measures.
enum Subject<'a> {
    /// BLAKE2b-512 of the bytes in memory: the ceiling.
    Blake2b { data: &'a [u8], expected: Prehash },
    /// `verify_reader` on the opened file, as shipped.
    VerifyReader,
    /// `Prehasher` fed with reads of this size, then `verify_prehashed`:
    /// what `verify_reader` would do with another chunk size.
    Chunked(usize),
    /// `read_hashed` (into memory, as lucetc reads a source) then
    /// `verify_prehashed`.
    ReadHashed,
    /// What `read_hashed` could do instead: a `Vec` sized from the file's
    /// metadata, read into in place and hashed there (no chunk buffer, no
    /// reallocation), then `verify_prehashed`.
    ReadInPlace,
    /// The scalar BLAKE2b-512 below over the bytes in memory.
    ScalarBlake2b { data: &'a [u8], expected: Prehash },
    /// The scalar BLAKE2b-512 fed with 64 KiB reads, then `verify_prehashed`.
    ScalarChunked,
    /// An external verifier: program and arguments.
    External(PathBuf, Vec<OsString>),
    /// An external verifier that is not installed.
    Missing,
}

struct Row<'a> {
    name: String,
    command: String,
    subject: Subject<'a>,
    /// Wall-clock time of each timed run.
    times: Vec<Duration>,
    /// CPU time (user and system) of each timed run, when Linux tells.
    cpu: Vec<Duration>,
    /// Time this thread spent runnable but waiting for a CPU during the
    /// timed runs (in-process rows only, where Linux reports it).
    waited: Option<Duration>,
}

impl<'a> Row<'a> {
    fn new(name: impl Into<String>, command: impl Into<String>, subject: Subject<'a>) -> Row<'a> {
        Row {
            name: name.into(),
            command: command.into(),
            subject,
            times: Vec::new(),
            cpu: Vec::new(),
            waited: None,
        }
    }

    fn median(&self) -> Option<Duration> {
        median(&self.times)
    }

    /// Median CPU time, if every run's was known.
    fn cpu_median(&self) -> Option<Duration> {
        (self.cpu.len() == self.times.len())
            .then(|| median(&self.cpu))
            .flatten()
    }

    /// Share of the timed wall time spent waiting for a CPU: above a few
    /// percent, the machine was busy and the row is disturbed.
    fn wait_fraction(&self) -> Option<f64> {
        let total: Duration = self.times.iter().sum();
        Some(secs(self.waited?) / secs(total))
    }

    fn min(&self) -> Option<Duration> {
        self.times.iter().min().copied()
    }

    fn max(&self) -> Option<Duration> {
        self.times.iter().max().copied()
    }
}

fn median(times: &[Duration]) -> Option<Duration> {
    let mut times = times.to_vec();
    times.sort();
    let n = times.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => times.get(n / 2).copied(),
        _ => Some((*times.get(n / 2 - 1)? + *times.get(n / 2)?) / 2),
    }
}

/// One timed run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    wall: Duration,
    /// CPU time (user and system) of the run, when Linux tells.
    cpu: Option<Duration>,
    /// Time spent waiting for a CPU (in-process runs only).
    waited: Option<Duration>,
}

/// Times one run of `subject`: wall clock, and CPU and run-queue time from
/// `/proc` (this thread's for in-process rows, reaped children's for
/// external tools). `None` for a tool that is not installed.
fn measure(subject: &Subject<'_>, fx: &Fixture) -> Result<Option<Sample>> {
    let external = matches!(subject, Subject::External(..));
    let sched_before = thread_schedstat();
    let children_before = children_cpu();
    let Some(wall) = run_once(subject, fx)? else {
        return Ok(None);
    };
    let (cpu, waited) = if external {
        let cpu = children_before
            .zip(children_cpu())
            .map(|(before, after)| after.saturating_sub(before));
        (cpu, None)
    } else {
        match (sched_before, thread_schedstat()) {
            (Some((run0, wait0)), Some((run1, wait1))) => (
                Some(run1.saturating_sub(run0)),
                Some(wait1.saturating_sub(wait0)),
            ),
            _ => (None, None),
        }
    };
    Ok(Some(Sample { wall, cpu, waited }))
}

fn run_once(subject: &Subject<'_>, fx: &Fixture) -> Result<Option<Duration>> {
    let start = Instant::now();
    match subject {
        Subject::Blake2b { data, expected } => {
            let hash = black_box(blake2b_simd::Params::new().hash_length(64).hash(data));
            let elapsed = start.elapsed();
            ensure!(
                hash.as_bytes() == expected.as_bytes(),
                "BLAKE2b-512 of the data differs from the signed prehash"
            );
            return Ok(Some(elapsed));
        }
        Subject::VerifyReader => {
            let file = File::open(&fx.data_path)?;
            lucet_signature::verify_reader(&fx.keys, &fx.sig, Legacy::Refuse, file)
                .context("our verification failed")?;
        }
        Subject::Chunked(chunk) => {
            let key = fx.keys.select(&fx.sig, Legacy::Refuse)?;
            let mut file = File::open(&fx.data_path)?;
            let mut hasher = Prehasher::new();
            let mut buf = vec![0u8; *chunk];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => hasher.update(buf.get(..n).unwrap_or(&buf)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            key.verify_prehashed(&fx.sig, &hasher.finalize())
                .context("verification with another chunk size failed")?;
        }
        Subject::ReadHashed => {
            let key = fx.keys.select(&fx.sig, Legacy::Refuse)?;
            let file = File::open(&fx.data_path)?;
            let (bytes, prehash) = lucet_signature::read_hashed(file)?;
            key.verify_prehashed(&fx.sig, &prehash)
                .context("verification after read_hashed failed")?;
            drop(black_box(bytes));
        }
        Subject::ReadInPlace => {
            let key = fx.keys.select(&fx.sig, Legacy::Refuse)?;
            let mut file = File::open(&fx.data_path)?;
            let hint = usize::try_from(file.metadata()?.len()).unwrap_or(0);
            let chunk = 64 << 10;
            let mut bytes = Vec::with_capacity(hint.saturating_add(chunk));
            let mut hasher = Prehasher::new();
            let mut filled = 0;
            loop {
                bytes.resize(filled + chunk, 0);
                let fresh = bytes.get_mut(filled..).unwrap_or_default();
                match file.read(fresh) {
                    Ok(0) => break,
                    Ok(n) => {
                        hasher.update(fresh.get(..n).unwrap_or_default());
                        filled += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            bytes.truncate(filled);
            key.verify_prehashed(&fx.sig, &hasher.finalize())
                .context("verification after reading in place failed")?;
            drop(black_box(bytes));
        }
        Subject::ScalarBlake2b { data, expected } => {
            let hash = black_box(scalar_blake2b::hash(data));
            let elapsed = start.elapsed();
            ensure!(
                &hash == expected.as_bytes(),
                "scalar BLAKE2b-512 of the data differs from the signed prehash"
            );
            return Ok(Some(elapsed));
        }
        Subject::ScalarChunked => {
            let key = fx.keys.select(&fx.sig, Legacy::Refuse)?;
            let mut file = File::open(&fx.data_path)?;
            let mut hasher = scalar_blake2b::State::new();
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => hasher.update(buf.get(..n).unwrap_or(&buf)),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            key.verify_prehashed(&fx.sig, &Prehash::from_bytes(hasher.finalize()))
                .context("verification with the scalar BLAKE2b failed")?;
        }
        Subject::External(program, args) => {
            let output = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .output()
                .with_context(|| format!("cannot run {}", program.display()))?;
            if !output.status.success() {
                bail!(
                    "{} failed to verify ({}): {}{}",
                    program.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        Subject::Missing => return Ok(None),
    }
    Ok(Some(start.elapsed()))
}

/// `name` on PATH, else in `extra` directories.
fn find_program(name: &str, extra: &[PathBuf]) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(extra.iter().cloned())
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

fn cargo_bin_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(cargo_home) = env::var_os("CARGO_HOME") {
        dirs.push(PathBuf::from(cargo_home).join("bin"));
    }
    if let Some(home) = env::var_os("HOME") {
        dirs.push(PathBuf::from(home).join(".cargo").join("bin"));
    }
    dirs
}

/// `minisign -Vm FILE -x SIG -p PUB`
fn minisign_args(fx: &Fixture) -> Vec<OsString> {
    vec![
        "-Vm".into(),
        fx.data_path.clone().into(),
        "-x".into(),
        fx.sig_path.clone().into(),
        "-p".into(),
        fx.pub_path.clone().into(),
    ]
}

/// `rsign verify -p PUB -x SIG FILE`
fn rsign_args(fx: &Fixture) -> Vec<OsString> {
    vec![
        "verify".into(),
        "-p".into(),
        fx.pub_path.clone().into(),
        "-x".into(),
        fx.sig_path.clone().into(),
        fx.data_path.clone().into(),
    ]
}

fn external_row<'a>(
    name: &str,
    program: Option<PathBuf>,
    args: Vec<OsString>,
    shown_args: &str,
) -> Row<'a> {
    match program {
        Some(program) => Row::new(
            name.to_owned(),
            format!("{} {shown_args}", program.display()),
            Subject::External(program, args),
        ),
        None => Row::new(name.to_owned(), "not installed", Subject::Missing),
    }
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// This thread's time on a CPU and time waiting on a run queue for one so
/// far: the first two fields of `/proc/thread-self/schedstat`, in ns.
fn thread_schedstat() -> Option<(Duration, Duration)> {
    let stat = fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = stat.split_whitespace().map(str::parse::<u64>);
    let run = fields.next()?.ok()?;
    let wait = fields.next()?.ok()?;
    Some((Duration::from_nanos(run), Duration::from_nanos(wait)))
}

/// User and system time of this process's reaped children (`cutime` and
/// `cstime` of `/proc/self/stat`), in clock ticks of 10 ms: Linux's
/// USER_HZ is 100 on every architecture we run on.
fn children_cpu() -> Option<Duration> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold
    // spaces: state is field 3, cutime 16 and cstime 17.
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(13);
    let cutime: u64 = fields.next()?.parse().ok()?;
    let cstime: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((cutime + cstime) * 10))
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| {
            let fields: Vec<&str> = s.split_whitespace().take(3).collect();
            (fields.len() == 3).then(|| fields.join(" "))
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

struct Results<'a> {
    rows: Vec<Row<'a>>,
    bytes: u64,
}

impl Results<'_> {
    fn reference(&self) -> Option<Duration> {
        self.rows.first().and_then(Row::median)
    }

    fn mib_per_s(&self, d: Duration) -> f64 {
        self.bytes as f64 / MIB as f64 / secs(d)
    }

    /// Throughput relative to BLAKE2b: its median time over this median.
    fn ratio(&self, row: &Row<'_>) -> Option<f64> {
        Some(secs(self.reference()?) / secs(row.median()?))
    }

    /// The same on CPU time, which load on the machine hardly changes.
    fn cpu_ratio(&self, row: &Row<'_>) -> Option<f64> {
        let reference = self.rows.first()?.cpu_median()?;
        Some(secs(reference) / secs(row.cpu_median()?))
    }

    /// The table of `rows` (some of `self.rows`).
    fn table(&self, markdown: bool, rows: &[Row<'_>]) -> String {
        let header = [
            "tool",
            "median s",
            "MiB/s",
            "ratio to BLAKE2b",
            "median CPU s",
            "CPU ratio",
            "waited for CPU",
        ];
        let or_na = |value: Option<String>| value.unwrap_or_else(|| "n/a".to_owned());
        let mut lines: Vec<[String; 7]> = Vec::new();
        for row in rows {
            match (row.median(), self.ratio(row)) {
                (Some(median), Some(ratio)) => lines.push([
                    row.name.clone(),
                    format!("{:.3}", secs(median)),
                    format!("{:.0}", self.mib_per_s(median)),
                    format!("{ratio:.2}"),
                    or_na(row.cpu_median().map(|cpu| format!("{:.3}", secs(cpu)))),
                    or_na(self.cpu_ratio(row).map(|ratio| format!("{ratio:.2}"))),
                    or_na(row.wait_fraction().map(|f| format!("{:.1}%", f * 100.0))),
                ]),
                _ => lines.push([
                    row.name.clone(),
                    "not installed".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
                ]),
            }
        }
        let mut out = String::new();
        if markdown {
            let _ = writeln!(out, "| {} |", header.join(" | "));
            let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|");
            for line in &lines {
                let _ = writeln!(out, "| {} |", line.join(" | "));
            }
        } else {
            let mut widths = header.map(str::len);
            for line in &lines {
                for (width, cell) in widths.iter_mut().zip(line) {
                    *width = (*width).max(cell.len());
                }
            }
            let mut push = |cells: &[&str]| {
                for (i, (cell, width)) in cells.iter().zip(widths).enumerate() {
                    let _ = if i == 0 {
                        write!(out, "{cell:<width$}")
                    } else {
                        write!(out, "  {cell:>width$}")
                    };
                }
                out.push('\n');
            };
            push(&header);
            for line in &lines {
                push(&line.each_ref().map(String::as_str));
            }
        }
        out
    }
}

fn run(opts: &Options) -> Result<()> {
    let bytes = opts
        .size_mib
        .checked_mul(MIB)
        .context("--size-mb is too large")?;
    let len = usize::try_from(bytes).context("--size-mb is too large")?;

    eprintln!("generating {} MiB of pseudo-random data...", opts.size_mib);
    let data = pseudo_random_bytes(len);
    let fx = make_fixture(opts, &data)?;
    let expected = Prehash::of(&data);
    let warmed = warm_page_cache(&fx.data_path)?;
    ensure!(
        warmed == bytes,
        "read {warmed} bytes back, wrote {bytes}: is the file being modified?"
    );

    let minisign = opts
        .minisign
        .clone()
        .or_else(|| find_program("minisign", &[]));
    let rsign = opts
        .rsign
        .clone()
        .or_else(|| find_program("rsign", &cargo_bin_dirs()));

    let mut rows = vec![
        Row::new(
            "BLAKE2b-512 in memory (blake2b_simd)",
            "blake2b_simd over the bytes already in memory",
            Subject::Blake2b {
                data: &data,
                expected,
            },
        ),
        Row::new(
            "lucet-signature verify_reader",
            "File::open + verify_reader (64 KiB reads, constant memory)",
            Subject::VerifyReader,
        ),
        external_row(
            "minisign -V",
            minisign,
            minisign_args(&fx),
            "-Vm FILE -x SIG -p PUB",
        ),
        external_row(
            "rsign verify",
            rsign,
            rsign_args(&fx),
            "verify -p PUB -x SIG FILE",
        ),
    ];
    let main_rows = rows.len();
    if opts.explore {
        for chunk in EXPLORE_CHUNKS {
            rows.push(Row::new(
                format!("explore: Prehasher, {} KiB reads", chunk >> 10),
                "File::read chunks + Prehasher + verify_prehashed",
                Subject::Chunked(chunk),
            ));
        }
        rows.push(Row::new(
            "explore: read_hashed into memory",
            "read_hashed (64 KiB reads, Vec grows) + verify_prehashed",
            Subject::ReadHashed,
        ));
        rows.push(Row::new(
            "explore: pre-sized Vec, hashed in place",
            "Vec::with_capacity(file size), 64 KiB reads into it, hashed there + verify_prehashed",
            Subject::ReadInPlace,
        ));
        check_scalar_blake2b(&data)?;
        rows.push(Row::new(
            "explore: scalar BLAKE2b-512 in memory",
            "a plain scalar BLAKE2b-512 (as in rsign) over the bytes in memory",
            Subject::ScalarBlake2b {
                data: &data,
                expected,
            },
        ));
        rows.push(Row::new(
            "explore: scalar BLAKE2b, 64 KiB reads",
            "File::read chunks + scalar BLAKE2b-512 + verify_prehashed",
            Subject::ScalarChunked,
        ));
    }

    let load_before = load_average();
    // One untimed round first (warms code, allocator, binaries), then the
    // timed rounds, each row once per round so load drift hits all rows.
    for round in 0..=opts.reps {
        for row in &mut rows {
            let sample = measure(&row.subject, &fx)
                .with_context(|| format!("{} ({})", row.name, row.command))?;
            if round > 0
                && let Some(sample) = sample
            {
                row.times.push(sample.wall);
                row.cpu.extend(sample.cpu);
                if let Some(waited) = sample.waited {
                    row.waited = Some(row.waited.unwrap_or_default() + waited);
                }
            }
        }
    }
    let load_after = load_average();

    let results = Results { rows, bytes };
    println!(
        "verify-throughput: {} MiB file ({} bytes), {} repetition(s), page cache warm",
        opts.size_mib, bytes, opts.reps
    );
    println!("load average before: {load_before}, after: {load_after}");
    println!();
    let (main_rows, explore_rows) = results.rows.split_at(main_rows.min(results.rows.len()));
    print!("{}", results.table(opts.markdown, main_rows));
    println!();
    if !explore_rows.is_empty() {
        println!("Diagnostics (--explore):");
        println!();
        print!("{}", results.table(opts.markdown, explore_rows));
        println!();
    }
    for row in &results.rows {
        println!("{}: {}", row.name, row.command);
    }
    println!(
        "MiB/s = {} MiB / median wall seconds; ratio to BLAKE2b = BLAKE2b's median wall time / the row's.",
        opts.size_mib
    );
    println!(
        "CPU = user + system time (this thread's from /proc/thread-self/schedstat; minisign's and rsign's \
         from /proc/self/stat cutime + cstime, in 10 ms ticks); CPU ratio = BLAKE2b's median CPU time / the row's."
    );
    println!(
        "waited for CPU = share of the wall time the bench was runnable but had no CPU: \
         above a few percent the machine was busy, and wall times are inflated."
    );
    println!(
        "minisign and rsign times include process start-up (about a millisecond: negligible at 256 MiB, not at --smoke's 8 MiB)."
    );

    if cfg!(debug_assertions) {
        println!("debug build: these numbers say nothing; measure with --release.");
    }

    let ours = results.rows.get(1).context("no row for our verification")?;
    let ratio = results
        .ratio(ours)
        .context("our verification was not timed")?;
    println!();
    println!(
        "lucet-signature verify_reader: {ratio:.2}x BLAKE2b; ratio >= {TARGET_RATIO}: {}",
        if ratio >= TARGET_RATIO { "yes" } else { "no" }
    );
    if let Some(reference) = results.rows.first()
        && let (Some(min), Some(max)) = (reference.min(), reference.max())
        && secs(max) > 1.10 * secs(min)
    {
        println!(
            "warning: BLAKE2b times vary by {:.0}% across repetitions: the machine was busy, re-run",
            (secs(max) / secs(min) - 1.0) * 100.0
        );
    }
    if let Some(worst) = results
        .rows
        .iter()
        .filter_map(Row::wait_fraction)
        .max_by(f64::total_cmp)
        && worst > 0.05
    {
        println!(
            "warning: the bench waited up to {:.0}% of a row's time for a CPU: the machine was busy, re-run",
            worst * 100.0
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let opts = match Options::parse(env::args_os().skip(1)) {
        Ok(Some(opts)) => opts,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("verify-throughput: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(&opts) {
        // The verdict is reported, not enforced: a slow or busy machine is
        // not a failure, a failed verification is.
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("verify-throughput: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn fixture(data: &[u8]) -> Fixture {
        let opts = Options::parse(Vec::<OsString>::new()).unwrap().unwrap();
        make_fixture(&opts, data).unwrap()
    }

    #[test]
    fn options() {
        let parse = |args: &[&str]| Options::parse(args.iter().map(OsString::from));
        let opts = parse(&[]).unwrap().unwrap();
        assert_eq!((opts.size_mib, opts.reps), (256, 5));
        let opts = parse(&["--size-mb", "100", "--reps", "3", "--markdown"])
            .unwrap()
            .unwrap();
        assert_eq!((opts.size_mib, opts.reps, opts.markdown), (100, 3, true));
        let opts = parse(&["--size-mb", "100", "--smoke"]).unwrap().unwrap();
        assert_eq!((opts.size_mib, opts.reps), (8, 1));
        assert!(parse(&["--help"]).unwrap().is_none());
        assert!(parse(&["--reps", "0"]).is_err());
        assert!(parse(&["--size-mb"]).is_err());
        assert!(parse(&["--size-mb", "-1"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn scalar_blake2b_is_blake2b() {
        check_scalar_blake2b(&pseudo_random_bytes(100_003)).unwrap();
    }

    #[test]
    fn median() {
        let mut row = Row::new("r", "c", Subject::Missing);
        assert_eq!(row.median(), None);
        row.times = [3, 1, 2].map(Duration::from_secs).to_vec();
        assert_eq!(row.median(), Some(Duration::from_secs(2)));
        row.times.push(Duration::from_secs(10));
        assert_eq!(row.median(), Some(Duration::from_millis(2500)));
    }

    #[test]
    fn every_verifier_accepts_the_file_then_refuses_it_altered() {
        let data = pseudo_random_bytes(300_001);
        let fx = fixture(&data);
        let mut subjects = vec![
            Subject::VerifyReader,
            Subject::Chunked(4096),
            Subject::ReadHashed,
            Subject::ReadInPlace,
            Subject::ScalarChunked,
        ];
        if let Some(minisign) = find_program("minisign", &[]) {
            subjects.push(Subject::External(minisign, minisign_args(&fx)));
        }
        if let Some(rsign) = find_program("rsign", &cargo_bin_dirs()) {
            subjects.push(Subject::External(rsign, rsign_args(&fx)));
        }
        for subject in &subjects {
            assert!(run_once(subject, &fx).unwrap().is_some());
        }

        let mut altered = data.clone();
        altered[150_000] ^= 1;
        fs::write(&fx.data_path, &altered).unwrap();
        for subject in &subjects {
            assert!(run_once(subject, &fx).is_err());
        }
        let expected = Prehash::of(&data);
        for subject in [
            Subject::Blake2b {
                data: &altered,
                expected,
            },
            Subject::ScalarBlake2b {
                data: &altered,
                expected,
            },
        ] {
            assert!(run_once(&subject, &fx).is_err());
        }
    }

    #[test]
    fn missing_tool_is_a_row_not_an_error() {
        let fx = fixture(b"x");
        let row = external_row("nothing", None, Vec::new(), "");
        assert_eq!(run_once(&row.subject, &fx).unwrap(), None);
        let results = Results {
            rows: vec![row],
            bytes: 1,
        };
        assert!(
            results
                .table(false, &results.rows)
                .contains("not installed")
        );
        assert!(
            results
                .table(true, &results.rows)
                .contains("| nothing | not installed |")
        );
    }
}

/// A plain scalar BLAKE2b-512 (RFC 7693), the kind minisign's Rust crate
/// (hence rsign) uses, for `--explore`: it tells whether `blake2b_simd`'s
/// vectorised single-message path is really the fastest BLAKE2b on this CPU.
/// Checked against `blake2b_simd` before it is timed.
mod scalar_blake2b {
    const IV: [u64; 8] = [
        0x6A09_E667_F3BC_C908,
        0xBB67_AE85_84CA_A73B,
        0x3C6E_F372_FE94_F82B,
        0xA54F_F53A_5F1D_36F1,
        0x510E_527F_ADE6_82D1,
        0x9B05_688C_2B3E_6C1F,
        0x1F83_D9AB_FB41_BD6B,
        0x5BE0_CD19_137E_2179,
    ];

    const SIGMA: [[usize; 16]; 12] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    ];

    const BLOCK: usize = 128;

    /// Streaming BLAKE2b with a 64-byte digest, unkeyed.
    pub struct State {
        h: [u64; 8],
        buf: [u8; BLOCK],
        buf_len: usize,
        count: u128,
    }

    #[inline(always)]
    #[allow(clippy::many_single_char_names)] // the RFC's names
    fn g(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64) {
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
        v[d] = (v[d] ^ v[a]).rotate_right(32);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(24);
        v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
        v[d] = (v[d] ^ v[a]).rotate_right(16);
        v[c] = v[c].wrapping_add(v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(63);
    }

    #[inline(always)]
    fn round(v: &mut [u64; 16], m: &[u64; 16], s: &[usize; 16]) {
        g(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
        g(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
        g(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
        g(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
        g(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
        g(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
        g(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
        g(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
    }

    fn compress(h: &mut [u64; 8], block: &[u8; BLOCK], count: u128, last: bool) {
        let mut m = [0u64; 16];
        let (words, _) = block.as_chunks::<8>();
        for (m, word) in m.iter_mut().zip(words) {
            *m = u64::from_le_bytes(*word);
        }
        let mut v = [0u64; 16];
        v[..8].copy_from_slice(h);
        v[8..].copy_from_slice(&IV);
        v[12] ^= count as u64;
        v[13] ^= (count >> 64) as u64;
        if last {
            v[14] = !v[14];
        }
        // Unrolled so that every message index is a constant.
        round(&mut v, &m, &SIGMA[0]);
        round(&mut v, &m, &SIGMA[1]);
        round(&mut v, &m, &SIGMA[2]);
        round(&mut v, &m, &SIGMA[3]);
        round(&mut v, &m, &SIGMA[4]);
        round(&mut v, &m, &SIGMA[5]);
        round(&mut v, &m, &SIGMA[6]);
        round(&mut v, &m, &SIGMA[7]);
        round(&mut v, &m, &SIGMA[8]);
        round(&mut v, &m, &SIGMA[9]);
        round(&mut v, &m, &SIGMA[10]);
        round(&mut v, &m, &SIGMA[11]);
        for (i, h) in h.iter_mut().enumerate() {
            *h ^= v[i] ^ v[i + 8];
        }
    }

    impl State {
        pub fn new() -> State {
            let mut h = IV;
            h[0] ^= 0x0101_0000 ^ 64; // fanout 1, depth 1, no key, 64-byte digest
            State {
                h,
                buf: [0; BLOCK],
                buf_len: 0,
                count: 0,
            }
        }

        pub fn update(&mut self, mut data: &[u8]) {
            // The last block is compressed by `finalize` with the final
            // flag, so a full block is only compressed once more data follows.
            if self.buf_len > 0 {
                let take = (BLOCK - self.buf_len).min(data.len());
                let (head, rest) = data.split_at(take);
                self.buf[self.buf_len..self.buf_len + take].copy_from_slice(head);
                self.buf_len += take;
                data = rest;
                if data.is_empty() {
                    return;
                }
                self.count += BLOCK as u128;
                compress(&mut self.h, &self.buf, self.count, false);
                self.buf_len = 0;
            }
            while data.len() > BLOCK {
                let Some((block, rest)) = data.split_first_chunk::<BLOCK>() else {
                    break;
                };
                self.count += BLOCK as u128;
                compress(&mut self.h, block, self.count, false);
                data = rest;
            }
            self.buf[..data.len()].copy_from_slice(data);
            self.buf_len = data.len();
        }

        pub fn finalize(mut self) -> [u8; 64] {
            self.count += self.buf_len as u128;
            self.buf[self.buf_len..].fill(0);
            compress(&mut self.h, &self.buf, self.count, true);
            let mut out = [0u8; 64];
            for (bytes, word) in out.chunks_exact_mut(8).zip(self.h) {
                bytes.copy_from_slice(&word.to_le_bytes());
            }
            out
        }
    }

    pub fn hash(data: &[u8]) -> [u8; 64] {
        let mut state = State::new();
        state.update(data);
        state.finalize()
    }
}
