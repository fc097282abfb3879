//! `wasi-testsuite`: runs the WASI preview-1 conformance suite (WebAssembly/wasi-testsuite, prebuilt
//! in `../shared/corpus/wasi-testsuite`) through `lucetc` and `lucet-wasi`.
//!
//! ```text
//! wasi-testsuite --lucetc PATH --lucet-wasi PATH [--component] [--min-passed N] [--filter SUBSTR]
//!                SUITE_DIR...
//! ```
//!
//! Every `*.wasm` in a suite directory is a test; `<name>.json`, if present, is its spec in the
//! legacy format of the corpus's `specification.md`. Each suite is copied to a temporary directory
//! first, because the corpus is read-only and the file-system tests write. Output: one `PASS` or
//! `FAIL` (or, on the component path, `ADAPTER LIMIT`) line per test, then
//! `module path: N passed, N failed` as the last line.
//!
//! `--component` takes the WASI 0.2 path instead: each module is first wrapped into a `wasi:cli/run`
//! component with the official preview-1 command adapter, and that component is what `lucetc`
//! compiles and `lucet-wasi` runs. The spec (args, env, directories, expected status and output)
//! is the same, so both paths are held to one standard. The last line then starts `component path:`
//! and counts the tests that hit known limits of the adapter itself (`ADAPTER_LIMITS`) apart.
//!
//! Exit status: 0 if every test passed (or failed as a listed adapter limit) and at least `--min-passed` did, 1 otherwise, 2 if the runner
//! itself could not do its job (bad flags, missing suite, unreadable or invalid spec).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

const USAGE: &str = "usage: wasi-testsuite --lucetc PATH --lucet-wasi PATH [--component] \
                     [--min-passed N] [--filter SUBSTR] SUITE_DIR...";
/// Compiling is the slow step (and runs two at a time), so it gets more room than a run.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(300);
/// A hung guest must not stall CI; no test in the corpus needs more than a few seconds.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest piece of (escaped) output quoted in a FAIL line, so each report stays one short line.
const EXCERPT: usize = 160;

struct Options {
    lucetc: PathBuf,
    lucet_wasi: PathBuf,
    guest_path: GuestPath,
    min_passed: usize,
    filter: Option<String>,
    suites: Vec<PathBuf>,
}

/// What `lucetc` is given for each test: the suite's module as is, or that module wrapped into a
/// component.
#[derive(Clone, Copy)]
enum GuestPath {
    Module,
    Component,
}

impl GuestPath {
    /// Starts the summary line, so the logs of the two runs are told apart.
    fn name(self) -> &'static str {
        match self {
            GuestPath::Module => "module path",
            GuestPath::Component => "component path",
        }
    }
}

/// A test's legacy spec. Unknown keys are an error rather than ignored: a key this runner does not
/// understand (such as the operation-based `operations`) would otherwise make a test pass vacuously.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct Spec {
    args: Vec<String>,
    /// Kept in file order: the guest sees its environment in the order it is passed.
    #[serde(deserialize_with = "ordered_map")]
    env: Vec<(String, String)>,
    /// Directory relative to the test's directory, preopened as the guest's `/`.
    root: Option<String>,
    /// Older form: directories relative to the test's directory, each preopened under its own name.
    dirs: Vec<String>,
    exit_code: i64,
    /// Expected start of the stream; `None` (or `""`) checks nothing.
    stdout: Option<String>,
    stderr: Option<String>,
}

struct Test {
    label: String,
    /// The suite's temporary copy: the working directory of the run.
    dir: PathBuf,
    wasm: PathBuf,
    /// Where the component made from `wasm` is written, on the component path.
    component: PathBuf,
    so: PathBuf,
    spec: Spec,
    /// `HOST:GUEST` values for `--dir`.
    preopens: Vec<String>,
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wasi-testsuite: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<ExitCode, String> {
    let Some(opts) = parse_args()? else {
        println!("{USAGE}");
        return Ok(ExitCode::SUCCESS);
    };
    // Everything written (suite copies, artifacts) lives here and is removed when it drops.
    let scratch = tempfile::Builder::new()
        .prefix("wasi-testsuite-")
        .tempdir()
        .map_err(|e| format!("cannot create a temporary directory: {e}"))?;
    let mut tests = Vec::new();
    for (i, suite) in opts.suites.iter().enumerate() {
        let work = scratch.path().join(format!("suite-{i}"));
        tests.extend(load_suite(suite, &work, opts.filter.as_deref())?);
    }
    let Tally {
        passed,
        failed,
        adapter_limits,
    } = run_all(&opts, &tests);
    if passed < opts.min_passed {
        println!(
            "too few passes: {passed} passed, --min-passed requires {}",
            opts.min_passed
        );
    }
    let limits = match adapter_limits {
        0 => String::new(),
        n => format!(", {n} adapter limits"),
    };
    println!(
        "{}: {passed} passed, {failed} failed{limits}",
        opts.guest_path.name()
    );
    let ok = failed == 0 && passed >= opts.min_passed;
    Ok(ExitCode::from(u8::from(!ok)))
}

/// Returns `None` for `--help`.
fn parse_args() -> Result<Option<Options>, String> {
    let (mut lucetc, mut lucet_wasi, mut min_passed, mut filter) = (None, None, 0, None);
    let mut guest_path = GuestPath::Module;
    let mut suites = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let flag = arg.to_str().unwrap_or_default();
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value (see --help)"))
        };
        match flag {
            "-h" | "--help" => return Ok(None),
            "--lucetc" => lucetc = Some(tool(value()?, flag)?),
            "--lucet-wasi" => lucet_wasi = Some(tool(value()?, flag)?),
            "--component" => guest_path = GuestPath::Component,
            "--min-passed" => {
                let v = value()?;
                let n = v.to_str().and_then(|s| s.parse().ok());
                min_passed = n.ok_or_else(|| format!("--min-passed: not a count: {v:?}"))?;
            }
            "--filter" => {
                let v = value()?;
                filter = Some(
                    v.into_string()
                        .map_err(|v| format!("--filter: not UTF-8: {v:?}"))?,
                );
            }
            _ if flag.starts_with('-') => {
                return Err(format!("unknown option {flag} (see --help)"));
            }
            _ => suites.push(PathBuf::from(arg)),
        }
    }
    let missing = |what| format!("{what} is required (see --help)");
    let lucetc = lucetc.ok_or_else(|| missing("--lucetc"))?;
    let lucet_wasi = lucet_wasi.ok_or_else(|| missing("--lucet-wasi"))?;
    if suites.is_empty() {
        return Err(missing("at least one SUITE_DIR"));
    }
    Ok(Some(Options {
        lucetc,
        lucet_wasi,
        guest_path,
        min_passed,
        filter,
        suites,
    }))
}

/// Tool paths are made absolute because `lucet-wasi` runs with the test's directory as cwd.
fn tool(path: std::ffi::OsString, flag: &str) -> Result<PathBuf, String> {
    let abs = std::path::absolute(&path).map_err(|e| format!("{flag} {path:?}: {e}"))?;
    if !abs.is_file() {
        return Err(format!("{flag} {}: no such file", abs.display()));
    }
    Ok(abs)
}

/// Copies the suite to `work`, then lists its tests (sorted, filtered) with their parsed specs.
fn load_suite(dir: &Path, work: &Path, filter: Option<&str>) -> Result<Vec<Test>, String> {
    let at = |e: io::Error| format!("{}: {e}", dir.display());
    if !dir.is_dir() {
        return Err(format!("{}: not a directory", dir.display()));
    }
    let suite = suite_label(&fs::canonicalize(dir).map_err(at)?);
    copy_tree(dir, work).map_err(|e| format!("copying {}: {e}", dir.display()))?;
    let artifacts = work.with_extension("artifacts");
    fs::create_dir(&artifacts).map_err(|e| format!("{}: {e}", artifacts.display()))?;
    let mut names = Vec::new();
    for entry in fs::read_dir(work).map_err(at)? {
        let entry = entry.map_err(at)?;
        let path = entry.path();
        if path.extension() == Some(OsStr::new("wasm")) && entry.file_type().map_err(at)?.is_file()
        {
            let stem = path.file_stem().and_then(OsStr::to_str);
            names.push(
                stem.ok_or_else(|| format!("{}: name is not UTF-8", path.display()))?
                    .to_owned(),
            );
        }
    }
    if names.is_empty() {
        // Guards CI against a wrong path silently running zero tests.
        return Err(format!("{}: no *.wasm tests", dir.display()));
    }
    names.sort();
    let mut tests = Vec::new();
    for name in names {
        let label = format!("{suite}/{name}");
        if filter.is_some_and(|f| !label.contains(f)) {
            continue;
        }
        let shown = dir.join(format!("{name}.json"));
        let (spec, preopens) = load_spec(&work.join(format!("{name}.json")), work)
            .map_err(|e| format!("{}: {e}", shown.display()))?;
        tests.push(Test {
            label,
            dir: work.to_path_buf(),
            wasm: work.join(format!("{name}.wasm")),
            component: artifacts.join(format!("{name}.component.wasm")),
            so: artifacts.join(format!("{name}.so")),
            spec,
            preopens,
        });
    }
    Ok(tests)
}

/// `tests/c/testsuite/wasm32-wasip1` is labelled `c`: the generic path components are skipped.
fn suite_label(dir: &Path) -> String {
    let generic = |name: &str| name == "testsuite" || name.starts_with("wasm32-");
    let mut names = dir
        .components()
        .rev()
        .filter_map(|c| c.as_os_str().to_str());
    names
        .find(|name| !generic(name) && *name != "/")
        .unwrap_or("suite")
        .to_owned()
}

fn load_spec(json: &Path, dir: &Path) -> Result<(Spec, Vec<String>), String> {
    let spec: Spec = match fs::read_to_string(json) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| e.to_string())?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Spec::default(),
        Err(e) => return Err(e.to_string()),
    };
    let env_names_ok = spec
        .env
        .iter()
        .all(|(k, _)| !k.is_empty() && !k.contains('='));
    let pairs = spec.env.iter().flat_map(|(k, v)| [k, v]);
    if !env_names_ok || spec.args.iter().chain(pairs).any(|s| s.contains('\0')) {
        return Err("env names must be non-empty without `=`; no NUL in args or env".into());
    }
    let root = spec.root.iter().map(|r| (r, "/"));
    let dirs = spec.dirs.iter().map(|d| (d, d.as_str()));
    let preopens = root
        .chain(dirs)
        .map(|(rel, guest)| preopen(dir, rel, guest))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((spec, preopens))
}

/// Resolves a spec directory against the suite copy; it may not point outside it.
fn preopen(dir: &Path, rel: &str, guest: &str) -> Result<String, String> {
    let rel_path = Path::new(rel);
    if rel_path.is_absolute() || rel_path.components().any(|c| c == Component::ParentDir) {
        return Err(format!(
            "`{rel}` must be a path inside the test's directory"
        ));
    }
    let host = dir.join(rel_path);
    if !host.is_dir() {
        return Err(format!("`{rel}` is not a directory"));
    }
    // `--dir HOST:GUEST` cannot carry a host path holding `:` unambiguously.
    match host.to_str() {
        Some(h) if !h.contains(':') => Ok(format!("{h}:{guest}")),
        _ => Err(format!(
            "{} cannot be passed as --dir HOST:GUEST",
            host.display()
        )),
    }
}

/// Reads a JSON object of strings keeping its order (serde_json's map would sort it).
fn ordered_map<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    struct Entries;
    impl<'de> Visitor<'de> for Entries {
        type Value = Vec<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of strings")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some(entry) = map.next_entry()? {
                entries.push(entry);
            }
            Ok(entries)
        }
    }
    d.deserialize_map(Entries)
}

/// Copies a tree; files become owner-writable, as in a git checkout, since tests write to fixtures.
fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else {
            fs::copy(&src, &dst)?;
            let mode = fs::metadata(&dst)?.permissions().mode() | 0o200;
            fs::set_permissions(&dst, fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// Removes test by-products (`*.cleanup` files, links or trees) under `dir`. Entry types come from
/// `read_dir`, which does not follow symlinks, so a guest-made link cannot lead outside the copy.
fn clean(dir: &Path) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let (path, kind) = (entry.path(), entry.file_type()?);
        if path.extension() == Some(OsStr::new("cleanup")) {
            if kind.is_dir() {
                fs::remove_dir_all(&path)?
            } else {
                fs::remove_file(&path)?
            }
        } else if kind.is_dir() {
            clean(&path)?;
        }
    }
    Ok(())
}

/// Compiles on worker threads (one per core) while this thread runs the tests one at a time, in
/// order: runs share the suite copy's fixtures, so only compiling is safe to overlap.
/// Tests the official preview-1 command adapter (wasmtime 48.0.8) cannot
/// pass, whatever the host does: on the component path they must fail, are
/// counted apart, and one that starts passing fails the run so the entry
/// goes. Wasmtime's own test of this suite through the adapter skips the
/// AssemblyScript tests for the same reasons.
const ADAPTER_LIMITS: &[(&str, &str)] = &[
    (
        "assemblyscript/proc_exit-failure",
        "the adapter maps every non-zero proc_exit to wasi:cli/exit's error (exit 1), never exit-with-code",
    ),
    (
        "assemblyscript/fd_write-to-invalid-fd",
        "the adapter answers a zero-buffer fd_write with success before it checks the descriptor",
    ),
    (
        "assemblyscript/args_get-multiple-arguments",
        "AssemblyScript's allocator takes the page the adapter grew for its state and overwrites it",
    ),
    (
        "assemblyscript/environ_get-multiple-variables",
        "AssemblyScript's allocator takes the page the adapter grew for its state and overwrites it",
    ),
];

/// Why `test` cannot pass on this path, if it is a known adapter limit.
fn adapter_limit(opts: &Options, test: &Test) -> Option<&'static str> {
    if !matches!(opts.guest_path, GuestPath::Component) {
        return None;
    }
    ADAPTER_LIMITS
        .iter()
        .find(|(name, _)| test.label.ends_with(name))
        .map(|(_, reason)| *reason)
}

/// How many tests passed, failed, and failed as known adapter limits.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    adapter_limits: usize,
}

impl Tally {
    /// Counts and prints one test's result (`why` is empty when it passed).
    fn record(&mut self, test: &Test, why: &[String], limit: Option<&str>) {
        match (why.is_empty(), limit) {
            (true, None) => {
                self.passed += 1;
                println!("PASS {}", test.label);
            }
            (false, Some(reason)) => {
                self.adapter_limits += 1;
                println!("ADAPTER LIMIT {}: {reason}", test.label);
            }
            (true, Some(_)) => {
                self.failed += 1;
                println!(
                    "FAIL {}: passes now, but is listed as an adapter limit: drop it from ADAPTER_LIMITS",
                    test.label
                );
            }
            (false, None) => {
                self.failed += 1;
                println!("FAIL {}: {}", test.label, why.join("; "));
            }
        }
    }
}

fn run_all(opts: &Options, tests: &[Test]) -> Tally {
    let workers = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(tests.len());
    let next = &AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        for _ in 0..workers {
            let tx = tx.clone();
            s.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(test) = tests.get(i) else { break };
                    if tx.send((i, compile(opts, test))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut ready = BTreeMap::new();
        let mut tally = Tally::default();
        for (i, test) in tests.iter().enumerate() {
            // Results arrive in any order; wait for this test's, keeping the others.
            let compiled = loop {
                if let Some(c) = ready.remove(&i) {
                    break c;
                }
                match rx.recv() {
                    Ok((j, c)) => drop(ready.insert(j, c)),
                    Err(_) => break Err("no compile result (worker stopped)".to_owned()),
                }
            };
            let why = run_one(opts, test, compiled);
            tally.record(test, &why, adapter_limit(opts, test));
        }
        tally
    })
}

fn compile(opts: &Options, test: &Test) -> Result<(), String> {
    let input = match opts.guest_path {
        GuestPath::Module => &test.wasm,
        GuestPath::Component => {
            componentize(test)?;
            &test.component
        }
    };
    let mut cmd = Command::new(&opts.lucetc);
    cmd.arg(input).arg("-o").arg(&test.so);
    let out =
        run_with_timeout(cmd, COMPILE_TIMEOUT).map_err(|e| format!("cannot run lucetc: {e}"))?;
    if out.timed_out {
        return Err(format!(
            "lucetc timed out after {}s",
            COMPILE_TIMEOUT.as_secs()
        ));
    }
    if !out.status.success() {
        return Err(format!(
            "lucetc failed ({}): {}",
            out.status,
            quote(&out.stderr, true)
        ));
    }
    if !test.so.is_file() {
        return Err("lucetc exited 0 but wrote no artifact".to_owned());
    }
    Ok(())
}

/// Wraps the test's module into a component beside its artifact. A module the adapter cannot wrap
/// fails its test, as a module `lucetc` refuses would.
fn componentize(test: &Test) -> Result<(), String> {
    let module = fs::read(&test.wasm).map_err(|e| format!("{}: {e}", test.wasm.display()))?;
    // wit-component's reasons may span lines; a FAIL report is one line.
    let component = lucet_test_support::componentize(&module)
        .map_err(|e| e.split_whitespace().collect::<Vec<_>>().join(" "))?;
    fs::write(&test.component, component).map_err(|e| format!("{}: {e}", test.component.display()))
}

/// Cleans, runs and checks one test; returns why it failed (empty when it passed).
fn run_one(opts: &Options, test: &Test, compiled: Result<(), String>) -> Vec<String> {
    let mut why = match (clean(&test.dir), compiled) {
        (Err(e), _) => vec![format!("removing *.cleanup before the test: {e}")],
        (Ok(()), Err(e)) => vec![e],
        (Ok(()), Ok(())) => execute(opts, test),
    };
    if let Err(e) = clean(&test.dir) {
        why.push(format!("removing *.cleanup after the test: {e}"));
    }
    // Artifacts are only needed once; keep the disk small.
    let _ = fs::remove_file(&test.so);
    let _ = fs::remove_file(&test.component);
    why
}

fn execute(opts: &Options, test: &Test) -> Vec<String> {
    let spec = &test.spec;
    let mut cmd = Command::new(&opts.lucet_wasi);
    // The runner compiles the suite unsigned.
    cmd.arg("--allow-unverified");
    for dir in &test.preopens {
        cmd.arg("--dir").arg(dir);
    }
    // Exactly the spec's environment: lucet-wasi passes only `--env` values to the guest.
    for (name, value) in &spec.env {
        cmd.arg("--env").arg(format!("{name}={value}"));
    }
    cmd.arg(&test.so)
        .arg("--")
        .args(&spec.args)
        .current_dir(&test.dir);
    let out = match run_with_timeout(cmd, RUN_TIMEOUT) {
        Ok(out) => out,
        Err(e) => return vec![format!("cannot run lucet-wasi: {e}")],
    };
    let mut why = Vec::new();
    match out.status.code() {
        _ if out.timed_out => why.push(format!("killed after {}s", RUN_TIMEOUT.as_secs())),
        Some(code) if i64::from(code) == spec.exit_code => {}
        Some(code) => why.push(format!("exit code {code}, expected {}", spec.exit_code)),
        None => why.push(format!(
            "{}, expected exit code {}",
            out.status, spec.exit_code
        )),
    }
    let status_wrong = !why.is_empty();
    why.extend(check_stream("stdout", spec.stdout.as_deref(), &out.stdout));
    why.extend(check_stream("stderr", spec.stderr.as_deref(), &out.stderr));
    // A wrong status alone says little; the guest's or lucet-wasi's stderr usually says why.
    if status_wrong && spec.stderr.is_none() && !out.stderr.is_empty() {
        why.push(format!("stderr: {}", quote(&out.stderr, true)));
    }
    why
}

/// The reference runner's `read` check: the stream must begin with the expected text (it reads
/// exactly that many characters and compares), so output after it is not checked.
fn check_stream(name: &str, expected: Option<&str>, actual: &[u8]) -> Option<String> {
    let expected = expected?.as_bytes();
    if actual.starts_with(expected) {
        return None;
    }
    let at = expected
        .iter()
        .zip(actual)
        .take_while(|(e, a)| e == a)
        .count();
    let from = at.saturating_sub(20); // a little context before the first difference
    Some(format!(
        "{name} differs at byte {at}: expected {}, got {}",
        quote(&expected[from..], false),
        quote(&actual[from..], false)
    ))
}

/// Escapes output for a one-line report (guest output may hold control characters) and cuts it to
/// `EXCERPT` bytes, keeping the end when that is where the explanation usually is.
fn quote(bytes: &[u8], keep_end: bool) -> String {
    if bytes.len() <= EXCERPT {
        return format!("{:?}", String::from_utf8_lossy(bytes));
    }
    if keep_end {
        format!(
            "...{:?}",
            String::from_utf8_lossy(&bytes[bytes.len() - EXCERPT..])
        )
    } else {
        format!("{:?}...", String::from_utf8_lossy(&bytes[..EXCERPT]))
    }
}

struct Finished {
    status: ExitStatus,
    timed_out: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `cmd` with stdin empty and both outputs captured, killing it at `limit`.
fn run_with_timeout(mut cmd: Command, limit: Duration) -> io::Result<Finished> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Drain on threads so a child filling one pipe never blocks while we wait on it.
    let (stdout, stderr) = (drain(child.stdout.take()), drain(child.stderr.take()));
    let deadline = Instant::now() + limit;
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status, false),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                break (child.wait()?, true);
            }
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(e);
            }
        }
    };
    let (stdout, stderr) = (
        stdout.join().unwrap_or_default(),
        stderr.join().unwrap_or_default(),
    );
    Ok(Finished {
        status,
        timed_out,
        stdout,
        stderr,
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut buf);
        }
        buf
    })
}
