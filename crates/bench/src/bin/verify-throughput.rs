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
//!    * BLAKE2b-512 over the bytes already in memory with `blake2b_simd` and
//!      with RustCrypto's `blake2`, and `openssl dgst -blake2b512` of the
//!      file: the three implementations, the fastest of which is the limit,
//!    * `lucet_runtime::load_verified` of an artifact holding the data,
//!    * our `verify_reader` streaming from the file (constant memory),
//!    * `minisign -Vm FILE -x SIG -p PUB` and `rsign verify -p PUB -x SIG
//!      FILE` as subprocesses, when installed;
//! 3. prints median wall times, MiB/s and the ratio of each to BLAKE2b, the
//!    same ratio on CPU time (which background load hardly changes), how
//!    long the bench waited for a CPU (how disturbed the run was), and the
//!    verdict `ratio >= 0.9` of the fastest BLAKE2b-512 for our
//!    verifications, with the CPU they ran on.
//!
//! `--smoke` (8 MiB, 1 repetition) is for CI: it still verifies everything
//! and exits non-zero if any verification fails. `--explore` adds
//! diagnostic rows for profiling: other read sizes, reading into memory
//! (as lucetc reads a source), and RustCrypto's `blake2` as the prehash of
//! a verification from the file. The table's ratio column stays relative
//! to `blake2b_simd` in memory; the verdicts divide by the fastest.
//!
//! The verdict is printed, not enforced: a slow or busy machine is not a
//! failure; a verification that fails is.

#![forbid(unsafe_code)]

use clap::Parser;
use lucet_bench::args::{Common, Harness};
use lucet_bench::fixture::{BenchKey, compile_artifact, write_synced};
use lucet_bench::{
    MemoryUse, load_average, median, memory_use, pseudo_random_bytes, wasm_with_data,
};
use std::env;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs::{self, File};
use std::hint::black_box;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use blake2::{Blake2b512, Digest};
use lucet_runtime::{EngineSettings, LoadOptions};
use lucet_signature::{Legacy, Prehash, Prehasher, PublicKeySet, SecretKey, SignatureBox};

/// One MiB: sizes and speeds are in binary megabytes.
const MIB: u64 = 1 << 20;

/// The ratio to BLAKE2b our verification must reach.
const TARGET_RATIO: f64 = 0.9;

/// Read sizes tried by `--explore`, besides the 64 KiB of `verify_reader`.
const EXPLORE_CHUNKS: [usize; 4] = [16 << 10, 256 << 10, 1 << 20, 4 << 20];

/// Measures how fast a large signed file is verified, against the
/// in-process BLAKE2b-512 speed of the same machine in the same run (P1).
#[derive(Parser, Debug)]
#[command(
    name = "verify-throughput",
    // As before clap: an option given twice takes its last value.
    args_override_self = true,
    mut_arg("smoke", |a| {
        a.help("8 MiB, 1 repetition: checks that the bench still runs and verifies (CI)")
    }),
)]
struct Cli {
    /// Size of the signed file in MiB
    #[arg(long = "size-mb", value_name = "N", default_value_t = 256)]
    size_mib: u64,
    #[command(flatten)]
    common: Common,
    /// Add diagnostic rows: other read sizes, read into memory then verify,
    /// RustCrypto's BLAKE2b-512 (blake2 crate)
    #[arg(long)]
    explore: bool,
    /// Create the temporary directory in DIR (default: the system's)
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// minisign binary (default: `minisign` on PATH)
    #[arg(long, value_name = "PATH")]
    minisign: Option<PathBuf>,
    /// rsign binary (default: `rsign` on PATH, else ~/.cargo/bin/rsign)
    #[arg(long, value_name = "PATH")]
    rsign: Option<PathBuf>,
}

#[derive(Debug)]
struct Options {
    /// `--smoke`, `--markdown`, `--reps`; with `--smoke`, one repetition.
    common: Common,
    size_mib: u64,
    explore: bool,
    dir: Option<PathBuf>,
    minisign: Option<PathBuf>,
    rsign: Option<PathBuf>,
}

impl Harness for Options {
    type Cli = Cli;

    /// The options of a parsed command line; an error is a usage error.
    /// `--smoke` sets the size and repetitions before they are checked.
    fn from_cli(cli: Cli) -> Result<Options, String> {
        let mut common = cli.common;
        let mut size_mib = cli.size_mib;
        if common.smoke {
            size_mib = 8;
            common.reps = 1;
        }
        if size_mib < 1 {
            return Err("--size-mb must be at least 1".into());
        }
        common.check_reps()?;
        Ok(Options {
            common,
            size_mib,
            explore: cli.explore,
            dir: cli.dir,
            minisign: cli.minisign,
            rsign: cli.rsign,
        })
    }

    fn run(&self) -> Result<()> {
        run(self)
    }
}

/// The signed file and everything needed to verify it.
struct Fixture {
    _dir: tempfile::TempDir,
    data_path: PathBuf,
    sig_path: PathBuf,
    pub_path: PathBuf,
    keys: PublicKeySet,
    sig: SignatureBox,
    /// The signed prehash: BLAKE2b-512 of the data, by `Prehasher`.
    prehash: Prehash,
    /// A signed artifact whose image holds the data (a data segment), by
    /// the same key.
    artifact_path: PathBuf,
    /// Its image's length: what loading it hashes.
    image_len: u64,
}

/// Compiles a module initialising its memory with `data` and writes it as
/// an artifact signed by `key`, as lucetc would; returns the image length.
fn write_artifact(path: &Path, data: &[u8], key: &SecretKey) -> Result<u64> {
    let artifact = compile_artifact(&wasm_with_data(data), EngineSettings::default(), Some(key))?;
    write_synced(path, &artifact.bytes)?;
    Ok(artifact.image_len as u64)
}

/// Load options without the image cap: the harness loads images of up to
/// several GiB on purpose.
fn uncapped() -> LoadOptions {
    let mut options = LoadOptions::default();
    options.read_limits.max_image_len = u64::MAX;
    options
}

fn make_fixture(opts: &Options, data: &[u8]) -> Result<Fixture> {
    let dir = tempfile::Builder::new()
        .prefix("verify-throughput.")
        .tempdir_in(opts.dir.clone().unwrap_or_else(env::temp_dir))
        .context("cannot create the temporary directory")?;
    let data_path = dir.path().join("data.bin");
    let sig_path = dir.path().join("data.bin.minisig");
    let artifact_path = dir.path().join("data.so");

    write_synced(&data_path, data)?;

    let BenchKey {
        secret: key,
        keys,
        public_path: pub_path,
    } = BenchKey::generate(dir.path())?;
    let prehash = Prehash::of(data);
    let sig = key
        .sign_prehashed(
            &prehash,
            "file:data.bin\tverify-throughput benchmark",
            "signature from lucet-bench verify-throughput",
        )
        .context("cannot sign")?;
    fs::write(&sig_path, sig.to_text())
        .with_context(|| format!("cannot write {}", sig_path.display()))?;
    let image_len = write_artifact(&artifact_path, data, &key)?;
    // Verify what was written, as any reader of the files would.
    let sig = SignatureBox::parse(&fs::read(&sig_path)?).context("cannot parse our signature")?;
    Ok(Fixture {
        _dir: dir,
        data_path,
        sig_path,
        pub_path,
        keys,
        sig,
        prehash,
        artifact_path,
        image_len,
    })
}

/// Reads the file at `path` `chunk` bytes at a time, handing each read to
/// `f`; returns how many bytes were read.
fn read_chunks(path: &Path, chunk: usize, mut f: impl FnMut(&[u8])) -> Result<u64> {
    let mut file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut buf = vec![0u8; chunk];
    let mut total = 0;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                f(buf.get(..n).unwrap_or_default());
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }
}

/// A BLAKE2b-512 implementation the bench times.
#[derive(Debug, Clone, Copy)]
enum Blake2b {
    /// `blake2b_simd`, what `Prehasher` uses (through `Prehasher` when
    /// hashing a file): the reference.
    Simd,
    /// RustCrypto's `blake2` (`Blake2b512`), for `--explore`: tells whether
    /// `blake2b_simd` is the fastest BLAKE2b on this CPU.
    RustCrypto,
}

impl Blake2b {
    /// The BLAKE2b-512 of `data` in memory.
    fn hash(self, data: &[u8]) -> Result<Prehash> {
        match self {
            Blake2b::Simd => to_prehash(
                blake2b_simd::Params::new()
                    .hash_length(64)
                    .hash(data)
                    .as_bytes(),
            ),
            Blake2b::RustCrypto => to_prehash(&Blake2b512::digest(data)),
        }
    }

    /// The BLAKE2b-512 of the file at `path`, read `chunk` bytes at a time.
    fn hash_file(self, path: &Path, chunk: usize) -> Result<Prehash> {
        match self {
            Blake2b::Simd => {
                let mut hasher = Prehasher::new();
                read_chunks(path, chunk, |bytes| hasher.update(bytes))?;
                Ok(hasher.finalize())
            }
            Blake2b::RustCrypto => {
                let mut hasher = Blake2b512::new();
                read_chunks(path, chunk, |bytes| hasher.update(bytes))?;
                to_prehash(&hasher.finalize())
            }
        }
    }
}

fn to_prehash(digest: &[u8]) -> Result<Prehash> {
    Ok(Prehash::from_bytes(
        digest.try_into().context("not a 64-byte digest")?,
    ))
}

/// Checks RustCrypto's BLAKE2b-512 against `blake2b_simd` on every length up
/// to a few blocks, fed in odd pieces, and on all of `data` against its
/// signed prehash, before any of its timings is shown.
fn check_rustcrypto(data: &[u8], signed: Prehash) -> Result<()> {
    for input in (0..=600).filter_map(|len| data.get(..len)) {
        let mut hasher = Blake2b512::new();
        for piece in input.chunks(77) {
            hasher.update(piece);
        }
        ensure!(
            to_prehash(&hasher.finalize())? == Blake2b::Simd.hash(input)?,
            "RustCrypto's BLAKE2b-512 differs from blake2b_simd's on {} bytes",
            input.len()
        );
    }
    ensure!(
        Blake2b::RustCrypto.hash(data)? == signed,
        "RustCrypto's BLAKE2b-512 of the data differs from the signed prehash"
    );
    Ok(())
}

/// What one row of the table measures.
enum Subject<'a> {
    /// BLAKE2b-512 of the bytes in memory, checked against the signed
    /// prehash after each run; with `blake2b_simd`, the ceiling.
    InMemory {
        blake2b: Blake2b,
        data: &'a [u8],
        expected: Prehash,
    },
    /// `verify_reader` on the opened file, as shipped.
    VerifyReader,
    /// The file hashed in reads of this size, then `verify_prehashed`: with
    /// `Prehasher`, what `verify_reader` would do with another chunk size.
    Chunked(usize, Blake2b),
    /// `read_hashed` (into memory, as lucetc reads a source) then
    /// `verify_prehashed`.
    ReadHashed,
    /// What `read_hashed` could do instead: a `Vec` sized from the file's
    /// metadata, read into in place and hashed there (no chunk buffer, no
    /// reallocation), then `verify_prehashed`.
    ReadInPlace,
    /// `lucet_runtime::load_verified` of the signed artifact: read once into
    /// a sealed memory file while hashed, verified, mapped by wasmtime. The
    /// real load path, as `lucet-wasi --signature-pk` takes it.
    LoadArtifact,
    /// The same with the image read into memory (`read_verified`) and
    /// copied by wasmtime (`Module::deserialize`): the load path before
    /// sealed memory files.
    LoadArtifactInMemory,
    /// An external verifier or hasher: program and arguments, and for a
    /// hasher the lowercase hex digest its output must contain.
    External(PathBuf, Vec<OsString>, Option<String>),
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
    /// Bytes hashed per run, when not the data file's length.
    bytes: Option<u64>,
    /// The most memory a timed run used (rows that hold data in memory).
    memory: Option<MemoryUse>,
    /// A BLAKE2b-512 implementation, not a verification.
    hash_peer: bool,
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
            bytes: None,
            memory: None,
            hash_peer: false,
        }
    }

    /// The row is a BLAKE2b-512 implementation: the verdicts compare our
    /// verification with the fastest of these.
    fn hash_peer(mut self) -> Row<'a> {
        self.hash_peer = true;
        self
    }

    /// The row hashes `bytes` bytes per run instead of the data file.
    fn hashing(mut self, bytes: u64) -> Row<'a> {
        self.bytes = Some(bytes);
        self
    }

    /// Runs the row once and, if `timed`, records its wall clock, and its
    /// CPU and run-queue time from `/proc` (this thread's for in-process
    /// rows, reaped children's for external tools).
    fn run(&mut self, fx: &Fixture, timed: bool) -> Result<()> {
        let sched_before = thread_schedstat();
        let children_before = children_cpu();
        let Some(Measured { wall, memory, held }) = run_once(&self.subject, fx)? else {
            return Ok(()); // not installed
        };
        let sched_after = thread_schedstat();
        drop(held);
        if !timed {
            return Ok(());
        }
        self.times.push(wall);
        if let Some(memory) = memory {
            let most = self.memory.get_or_insert(memory);
            most.peak_rss_growth = most.peak_rss_growth.max(memory.peak_rss_growth);
            most.memory_files = most.memory_files.max(memory.memory_files);
        }
        if matches!(self.subject, Subject::External(..)) {
            let cpu = children_before.zip(children_cpu());
            self.cpu
                .extend(cpu.map(|(before, after)| after.saturating_sub(before)));
        } else if let (Some((run0, wait0)), Some((run1, wait1))) = (sched_before, sched_after) {
            self.cpu.push(run1.saturating_sub(run0));
            *self.waited.get_or_insert_default() += wait1.saturating_sub(wait0);
        }
        Ok(())
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
}

/// What one run of a row measured.
struct Measured {
    wall: Duration,
    /// For rows that hold data in memory: what they held at most.
    memory: Option<MemoryUse>,
    /// What the run produced, dropped only after its CPU time is taken:
    /// freeing hundreds of MiB is not part of verifying or loading.
    held: Option<Box<dyn std::any::Any>>,
}

impl Measured {
    fn wall(wall: Duration) -> Option<Measured> {
        Some(Measured {
            wall,
            memory: None,
            held: None,
        })
    }
}

/// Times `f` and measures its memory use, with what it returns still held.
fn timed_with_memory<T: 'static>(f: impl FnOnce() -> Result<T>) -> Result<Option<Measured>> {
    let ((value, wall), memory) = memory_use(|| {
        let start = Instant::now();
        let value = f()?;
        Ok((value, start.elapsed()))
    })?;
    Ok(Some(Measured {
        wall,
        memory,
        held: Some(Box::new(black_box(value))),
    }))
}

/// One run of `subject`; `None` for a tool that is not installed. An error
/// if the verification or the hash check fails.
fn run_once(subject: &Subject<'_>, fx: &Fixture) -> Result<Option<Measured>> {
    let start = Instant::now();
    match subject {
        Subject::InMemory {
            blake2b,
            data,
            expected,
        } => {
            let hash = black_box(blake2b.hash(data)?);
            let elapsed = start.elapsed();
            ensure!(
                hash == *expected,
                "{blake2b:?} BLAKE2b-512 of the data differs from the signed prehash"
            );
            return Ok(Measured::wall(elapsed));
        }
        Subject::VerifyReader => {
            return timed_with_memory(|| {
                let file = File::open(&fx.data_path)?;
                lucet_signature::verify_reader(&fx.keys, &fx.sig, Legacy::Refuse, file)
                    .map(|_signer| ())
                    .context("our verification failed")
            });
        }
        Subject::LoadArtifact => {
            return timed_with_memory(|| {
                let file = File::open(&fx.artifact_path)?;
                lucet_runtime::load_verified(&file, &fx.keys, uncapped())
                    .context("loading the signed artifact failed")
            });
        }
        Subject::LoadArtifactInMemory => {
            return timed_with_memory(|| {
                let file = File::open(&fx.artifact_path)?;
                let verified =
                    lucet_artifact::read_verified(&file, &fx.keys, uncapped().read_limits)
                        .context("reading the signed artifact failed")?;
                lucet_runtime::load_verified_artifact(verified, uncapped())
                    .context("loading the signed artifact failed")
            });
        }
        Subject::Chunked(chunk, blake2b) => {
            let key = fx.keys.select(&fx.sig, Legacy::Refuse)?;
            let prehash = blake2b.hash_file(&fx.data_path, *chunk)?;
            key.verify_prehashed(&fx.sig, &prehash)
                .with_context(|| format!("verification with {blake2b:?} BLAKE2b failed"))?;
        }
        Subject::ReadHashed => {
            return timed_with_memory(|| {
                let key = fx.keys.select(&fx.sig, Legacy::Refuse)?;
                let file = File::open(&fx.data_path)?;
                let (bytes, prehash) = lucet_signature::read_hashed(file)?;
                key.verify_prehashed(&fx.sig, &prehash)
                    .context("verification after read_hashed failed")?;
                Ok(bytes)
            });
        }
        Subject::ReadInPlace => return timed_with_memory(|| read_in_place(fx)),
        Subject::External(program, args, digest) => {
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
            if let Some(digest) = digest {
                ensure!(
                    String::from_utf8_lossy(&output.stdout).contains(digest.as_str()),
                    "{} printed another digest than the signed prehash",
                    program.display()
                );
            }
        }
        Subject::Missing => return Ok(None),
    }
    Ok(Measured::wall(start.elapsed()))
}

/// What `read_hashed` could do instead: a `Vec` sized from the file's
/// metadata, read into in place and hashed there, then verified.
fn read_in_place(fx: &Fixture) -> Result<Vec<u8>> {
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
    Ok(bytes)
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
    let cargo_home = env::var_os("CARGO_HOME").map(PathBuf::from);
    let home = env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo"));
    cargo_home
        .into_iter()
        .chain(home)
        .map(|dir| dir.join("bin"))
        .collect()
}

/// The rows of `minisign -V` and `rsign verify`, from the options or found
/// on PATH (rsign also in Cargo's bin directory).
fn tool_rows<'a>(opts: &Options, fx: &Fixture) -> [Row<'a>; 2] {
    let minisign = opts
        .minisign
        .clone()
        .or_else(|| find_program("minisign", &[]));
    let rsign = opts
        .rsign
        .clone()
        .or_else(|| find_program("rsign", &cargo_bin_dirs()));
    [
        external_row(
            fx,
            "minisign -V",
            minisign,
            &["-Vm", "FILE", "-x", "SIG", "-p", "PUB"],
        ),
        external_row(
            fx,
            "rsign verify",
            rsign,
            &["verify", "-p", "PUB", "-x", "SIG", "FILE"],
        ),
    ]
}

/// The row of an external verifier run as `program args`, where FILE, SIG
/// and PUB stand for the paths of the fixture's files.
fn external_row<'a>(fx: &Fixture, name: &str, program: Option<PathBuf>, args: &[&str]) -> Row<'a> {
    let Some(program) = program else {
        return Row::new(name, "not installed", Subject::Missing);
    };
    let command = format!("{} {}", program.display(), args.join(" "));
    let args = args.iter().map(|&arg| match arg {
        "FILE" => fx.data_path.clone().into(),
        "SIG" => fx.sig_path.clone().into(),
        "PUB" => fx.pub_path.clone().into(),
        other => other.into(),
    });
    Row::new(
        name,
        command,
        Subject::External(program, args.collect(), None),
    )
}

/// The row of `openssl dgst -blake2b512` of the data file, a process like
/// the verifiers (start-up included): another BLAKE2b-512 implementation
/// to measure ours against, its digest checked.
fn openssl_row<'a>(fx: &Fixture) -> Row<'a> {
    let name = "BLAKE2b-512 of the file (openssl dgst -blake2b512)";
    let mut row = external_row(
        fx,
        name,
        find_program("openssl", &[]),
        &["dgst", "-blake2b512", "FILE"],
    );
    if let Subject::External(_, _, digest) = &mut row.subject {
        *digest = Some(lucet_artifact::hex(fx.prehash.as_bytes()));
    }
    row.hash_peer()
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

struct Results<'a> {
    rows: Vec<Row<'a>>,
    bytes: u64,
}

impl Results<'_> {
    fn reference(&self) -> Option<Duration> {
        self.rows.first().and_then(Row::median)
    }

    /// Bytes `row` hashes per run.
    fn bytes_of(&self, row: &Row<'_>) -> f64 {
        row.bytes.unwrap_or(self.bytes) as f64
    }

    fn mib_per_s(&self, row: &Row<'_>, d: Duration) -> f64 {
        self.bytes_of(row) / MIB as f64 / secs(d)
    }

    /// Throughput relative to BLAKE2b's (the first row's), in bytes per
    /// second: rows may hash a little more than the data file (an image).
    fn ratio(&self, row: &Row<'_>) -> Option<f64> {
        let reference = self.rows.first()?;
        Some(
            (self.bytes_of(row) / secs(row.median()?))
                / (self.bytes_of(reference) / secs(self.reference()?)),
        )
    }

    /// The same on CPU time, which load on the machine hardly changes.
    fn cpu_ratio(&self, row: &Row<'_>) -> Option<f64> {
        let reference = self.rows.first()?;
        Some(
            (self.bytes_of(row) / secs(row.cpu_median()?))
                / (self.bytes_of(reference) / secs(reference.cpu_median()?)),
        )
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
            "peak RSS growth MiB",
            "memory files MiB",
        ];
        let or_na = |value: Option<String>| value.unwrap_or_else(|| "n/a".to_owned());
        let mib = |bytes: u64| format!("{:.1}", bytes as f64 / MIB as f64);
        let mut lines: Vec<[String; 9]> = Vec::new();
        for row in rows {
            match (row.median(), self.ratio(row)) {
                (Some(median), Some(ratio)) => lines.push([
                    row.name.clone(),
                    format!("{:.3}", secs(median)),
                    format!("{:.0}", self.mib_per_s(row, median)),
                    format!("{ratio:.2}"),
                    or_na(row.cpu_median().map(|cpu| format!("{:.3}", secs(cpu)))),
                    or_na(self.cpu_ratio(row).map(|ratio| format!("{ratio:.2}"))),
                    or_na(row.wait_fraction().map(|f| format!("{:.1}%", f * 100.0))),
                    or_na(row.memory.map(|m| mib(m.peak_rss_growth))),
                    or_na(row.memory.map(|m| mib(m.memory_files))),
                ]),
                _ => lines.push([
                    row.name.clone(),
                    "not installed".to_owned(),
                    "-".to_owned(),
                    "-".to_owned(),
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
            let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
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
    let warmed = read_chunks(&fx.data_path, 1 << 20, |_| {})?; // warms the page cache
    ensure!(
        warmed == bytes,
        "read {warmed} bytes back, wrote {bytes}: is the file being modified?"
    );

    let mut rows = main_rows(opts, &fx, &data);
    let main_rows = rows.len();
    if opts.explore {
        check_rustcrypto(&data, fx.prehash)?;
        rows.extend(explore_rows(&fx));
    }

    let load_before = load_average();
    // One untimed round first (warms code, allocator, binaries), then the
    // timed rounds, each row once per round so load drift hits all rows.
    for round in 0..=opts.common.reps {
        for row in &mut rows {
            row.run(&fx, round > 0)
                .with_context(|| format!("{} ({})", row.name, row.command))?;
        }
    }
    let load_after = load_average();

    let results = Results { rows, bytes };
    println!(
        "verify-throughput: {} MiB file ({} bytes), {} repetition(s), page cache warm",
        opts.size_mib, bytes, opts.common.reps
    );
    println!("load average before: {load_before}, after: {load_after}");
    println!("CPU: {}", lucet_bench::cpu_description());
    println!();
    print_tables(opts, &fx, &results, main_rows);
    print_verdicts(&fx, &results)
}

/// The rows of the table: the reference, our verifications, the tools.
fn main_rows<'a>(opts: &Options, fx: &Fixture, data: &'a [u8]) -> Vec<Row<'a>> {
    let mut rows = vec![
        Row::new(
            "BLAKE2b-512 in memory (blake2b_simd)",
            "blake2b_simd (as Prehasher) over the bytes already in memory: the reference",
            Subject::InMemory {
                blake2b: Blake2b::Simd,
                data,
                expected: fx.prehash,
            },
        )
        .hash_peer(),
        Row::new(
            "BLAKE2b-512 in memory (RustCrypto blake2)",
            "blake2::Blake2b512 over the bytes in memory",
            Subject::InMemory {
                blake2b: Blake2b::RustCrypto,
                data,
                expected: fx.prehash,
            },
        )
        .hash_peer(),
        openssl_row(fx),
        Row::new(
            "lucet-runtime load_verified (artifact)",
            "File::open + load_verified of a signed artifact whose image holds the data: read once into a \
             sealed memory file while hashed, verified, mapped by wasmtime (the load path of lucet-wasi)",
            Subject::LoadArtifact,
        )
        .hashing(fx.image_len),
        Row::new(
            "lucet-signature verify_reader",
            "File::open + verify_reader of the data file and its .minisig (64 KiB reads, constant memory)",
            Subject::VerifyReader,
        ),
    ];
    rows.extend(tool_rows(opts, fx));
    rows
}

/// The diagnostic rows of `--explore`.
fn explore_rows<'a>(fx: &Fixture) -> Vec<Row<'a>> {
    let mut rows = Vec::new();
    rows.push(
            Row::new(
                "explore: artifact read into memory, copied by wasmtime",
                "File::open + read_verified (image in a Vec) + load_verified_artifact (Module::deserialize copies)",
                Subject::LoadArtifactInMemory,
            )
            .hashing(fx.image_len),
        );
    for chunk in EXPLORE_CHUNKS {
        rows.push(Row::new(
            format!("explore: Prehasher, {} KiB reads", chunk >> 10),
            "File::read chunks + Prehasher + verify_prehashed",
            Subject::Chunked(chunk, Blake2b::Simd),
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
    rows.push(Row::new(
        "explore: verify from file with RustCrypto blake2 prehash",
        "File::read 64 KiB chunks + blake2::Blake2b512 + verify_prehashed",
        Subject::Chunked(64 << 10, Blake2b::RustCrypto),
    ));
    rows
}

/// The tables, each row's command, and what the columns mean.
fn print_tables(opts: &Options, fx: &Fixture, results: &Results<'_>, main_rows: usize) {
    let (main_rows, explore_rows) = results.rows.split_at(main_rows.min(results.rows.len()));
    print!("{}", results.table(opts.common.markdown, main_rows));
    println!();
    if !explore_rows.is_empty() {
        println!("Diagnostics (--explore):");
        println!();
        print!("{}", results.table(opts.common.markdown, explore_rows));
        println!();
    }
    for row in &results.rows {
        println!("{}: {}", row.name, row.command);
    }
    println!(
        "MiB/s = MiB hashed ({} MiB; the artifact rows: its {} byte image) / median wall seconds; \
         ratio to BLAKE2b = the row's MiB/s / the reference's (blake2b_simd in memory, first row).",
        opts.size_mib, fx.image_len
    );
    println!(
        "CPU = user + system time (this thread's from /proc/thread-self/schedstat; minisign's and rsign's \
         from /proc/self/stat cutime + cstime, in 10 ms ticks); CPU ratio = the same ratio on CPU time. \
         In-process rows count the bench thread only (not the artifact rows' image thread)."
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
}

/// Our verifications, whose ratios to the fastest BLAKE2b-512 are the verdicts.
const VERDICT_ROWS: [&str; 2] = [
    "lucet-runtime load_verified (artifact)",
    "lucet-signature verify_reader",
];

/// The verdicts (each of our verifications against the fastest BLAKE2b-512
/// implementation of the run), and warnings about a busy machine.
fn print_verdicts(fx: &Fixture, results: &Results<'_>) -> Result<()> {
    println!();
    let (fastest, fastest_ratio) = results
        .rows
        .iter()
        .filter(|row| row.hash_peer)
        .filter_map(|row| Some((row, results.ratio(row)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .context("no BLAKE2b-512 implementation was timed")?;
    println!(
        "fastest BLAKE2b-512 here: {} ({:.2}x blake2b_simd in memory); lucet-signature hashes inputs of {} MiB or more with {:?}",
        fastest.name,
        fastest_ratio,
        lucet_signature::CHOOSE_IMPLEMENTATION_FROM / MIB,
        lucet_signature::Blake2bImplementation::fastest()
    );
    for name in VERDICT_ROWS {
        let row = results.rows.iter().find(|row| row.name == name);
        let ratio = row
            .and_then(|row| results.ratio(row))
            .with_context(|| format!("{name} was not timed"))?
            / fastest_ratio;
        println!(
            "{name}: {ratio:.2}x the fastest BLAKE2b-512; ratio >= {TARGET_RATIO}: {}",
            if ratio >= TARGET_RATIO { "yes" } else { "no" }
        );
    }
    if let Some(memory) = results
        .rows
        .iter()
        .find(|row| row.name == VERDICT_ROWS[0])
        .and_then(|row| row.memory)
    {
        println!(
            "lucet-runtime load_verified (artifact): memory beyond the {} byte image in its sealed memory file: \
             {:.1} MiB peak RSS growth",
            fx.image_len,
            memory.peak_rss_growth as f64 / MIB as f64
        );
    }
    if let Some(reference) = results.rows.first()
        && let (Some(min), Some(max)) = (reference.times.iter().min(), reference.times.iter().max())
        && secs(*max) > 1.10 * secs(*min)
    {
        println!(
            "warning: BLAKE2b times vary by {:.0}% across repetitions: the machine was busy, re-run",
            (secs(*max) / secs(*min) - 1.0) * 100.0
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

/// The verdict is reported, not enforced: a slow or busy machine is not a
/// failure, a failed verification is.
fn main() -> ExitCode {
    lucet_bench::args::main::<Options>()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, clap::Error> {
        lucet_bench::args::parse(args)
    }

    fn fixture(data: &[u8]) -> Fixture {
        let opts = parse(&[]).unwrap();
        make_fixture(&opts, data).unwrap()
    }

    #[test]
    fn options() {
        let opts = parse(&[]).unwrap();
        assert_eq!((opts.size_mib, opts.common.reps), (256, 5));
        let opts = parse(&["--size-mb", "100", "--reps", "3", "--markdown"]).unwrap();
        assert_eq!(
            (opts.size_mib, opts.common.reps, opts.common.markdown),
            (100, 3, true)
        );
        let opts = parse(&["--size-mb", "100", "--smoke"]).unwrap();
        assert_eq!((opts.size_mib, opts.common.reps), (8, 1));
        // --smoke sets the repetitions before they are checked.
        assert_eq!(parse(&["--reps", "0", "--smoke"]).unwrap().common.reps, 1);
        let help = parse(&["--help"]).err().unwrap();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
        assert!(parse(&["--reps", "0"]).is_err());
        assert!(parse(&["--size-mb", "0"]).is_err());
        assert!(parse(&["--size-mb"]).is_err());
        assert!(parse(&["--size-mb", "-1"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
    }

    #[test]
    fn rustcrypto_blake2b_is_blake2b_simd() {
        let data = pseudo_random_bytes(100_003);
        check_rustcrypto(&data, Prehash::of(&data)).unwrap();
        assert!(check_rustcrypto(&data, Prehash::of(b"other data")).is_err());
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
            Subject::Chunked(4096, Blake2b::Simd),
            Subject::Chunked(4096, Blake2b::RustCrypto),
            Subject::ReadHashed,
            Subject::ReadInPlace,
        ];
        let opts = parse(&[]).unwrap();
        let tools = tool_rows(&opts, &fx).map(|row| row.subject);
        subjects.extend(tools.into_iter().filter(|s| !matches!(s, Subject::Missing)));
        for subject in &subjects {
            assert!(run_once(subject, &fx).unwrap().is_some());
        }

        let mut altered = data.clone();
        altered[150_000] ^= 1;
        fs::write(&fx.data_path, &altered).unwrap();
        for subject in &subjects {
            assert!(run_once(subject, &fx).is_err());
        }
        // The artifact rows load the data as an image: one byte of it
        // altered in the artifact must stop both.
        for subject in [Subject::LoadArtifact, Subject::LoadArtifactInMemory] {
            assert!(run_once(&subject, &fx).unwrap().is_some());
        }
        let mut artifact = fs::read(&fx.artifact_path).unwrap();
        let at = artifact
            .windows(64)
            .position(|w| w == &data[150_000..150_064])
            .expect("the data is in the image");
        artifact[at] ^= 1;
        fs::write(&fx.artifact_path, &artifact).unwrap();
        for subject in [Subject::LoadArtifact, Subject::LoadArtifactInMemory] {
            assert!(run_once(&subject, &fx).is_err());
        }
        for blake2b in [Blake2b::Simd, Blake2b::RustCrypto] {
            for (data, accepted) in [(&data, true), (&altered, false)] {
                let subject = Subject::InMemory {
                    blake2b,
                    data,
                    expected: fx.prehash,
                };
                assert_eq!(run_once(&subject, &fx).is_ok(), accepted);
            }
        }
    }

    #[test]
    fn missing_tool_is_a_row_not_an_error() {
        let fx = fixture(b"x");
        let row = external_row(&fx, "nothing", None, &[]);
        assert!(run_once(&row.subject, &fx).unwrap().is_none());
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
