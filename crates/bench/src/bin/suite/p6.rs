//! P6 execution: the sightglass programs under `lucet-wasi`, with
//! upstream's inputs and, for the four whose inputs scale their work,
//! larger ones (`LARGER_INPUTS`) in a scratch directory, against `wasmtime
//! run --allow-precompiled` at the same opt level, with epoch interruption
//! (our default) and without (`lucetc --no-interruption`).

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use lucet_bench::report::{Report, geo_mean, ms, ratio, yes_no};

use crate::corpus::{Program, same_output};
use crate::fixture::Fixture;
use crate::p3::Compiled;
use crate::process::{Clock, Cmd, Tools, time_interleaved};

/// Workloads shorter than this are reported but left out of P6's geo-mean.
const MIN_WORKLOAD: Duration = Duration::from_millis(300);

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
pub struct LargerInput {
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

pub fn larger_input(program: &Program) -> Option<&'static LargerInput> {
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

/// A row of P6's table: one workload's medians under each runtime.
pub struct P6Row {
    name: String,
    ours: Duration,
    ours_plain: Duration,
    /// wasmtime with epoch interruption, when installed.
    wasmtime: Option<Duration>,
    /// wasmtime without, when installed.
    wasmtime_plain: Option<Duration>,
    /// `ours` again: the same command timed as a separate one, a control
    /// for how far two medians of the same work differ on this machine.
    ours_again: Duration,
    /// Output mismatches, and whether the workload was too short.
    notes: Vec<String>,
}

impl P6Row {
    /// The workload's time under lucet / under wasmtime, with epoch
    /// interruption and without: for a workload of at least
    /// `MIN_WORKLOAD` with the peer measured.
    fn ratios(&self) -> Option<(f64, f64)> {
        match (self.wasmtime, self.wasmtime_plain) {
            (Some(we), Some(wp)) if self.long() => Some((
                self.ours.as_secs_f64() / we.as_secs_f64(),
                self.ours_plain.as_secs_f64() / wp.as_secs_f64(),
            )),
            _ => None,
        }
    }

    fn long(&self) -> bool {
        self.ours >= MIN_WORKLOAD
    }

    /// The control's ratio, `ours` / `ours_again`.
    fn same_work_ratio(&self) -> f64 {
        self.ours.as_secs_f64() / self.ours_again.as_secs_f64()
    }

    fn cells(&self, missing: &str) -> Vec<String> {
        let na = || missing.to_string();
        let (ours, ours_plain) = (self.ours, self.ours_plain);
        vec![
            self.name.clone(),
            ms(ours),
            self.wasmtime.map_or_else(na, ms),
            self.wasmtime.map_or_else(String::new, |w| ratio(ours, w)),
            ms(ours_plain),
            self.wasmtime_plain.map_or_else(na, ms),
            self.wasmtime_plain
                .map_or_else(String::new, |w| ratio(ours_plain, w)),
            ratio(ours, self.ours_again),
            self.notes.join("; "),
        ]
    }
}

/// Runs `program`'s workloads (upstream's inputs, and the larger ones if
/// any) in the workload's directory, preopened as `.`.
pub fn measure(
    program: &Program,
    compiled: &Compiled,
    lucet_wasi: &Path,
    fx: &Fixture,
    tools: &Tools,
    reps: usize,
    clock: Clock,
) -> Result<Vec<P6Row>> {
    let mut workloads = vec![Workload::default_inputs(program)];
    if let Some(larger) = larger_input(program) {
        workloads.push(Workload::larger(program, larger, fx)?);
    }
    workloads
        .iter()
        .map(|workload| p6_workload(workload, compiled, lucet_wasi, fx, tools, reps, clock))
        .collect()
}

/// Runs one workload under lucet-wasi (with and without interruption) and,
/// when installed, the wasmtime CLI.
fn p6_workload(
    workload: &Workload,
    compiled: &Compiled,
    lucet_wasi: &Path,
    fx: &Fixture,
    tools: &Tools,
    reps: usize,
    clock: Clock,
) -> Result<P6Row> {
    let runs = commands(workload, compiled, lucet_wasi, fx, tools);
    let results = time_interleaved(&runs, reps, clock)?;
    let mut notes = output_notes(workload, &results);
    let t = |i: usize| results.get(i).map(|r| r.0);
    let (Some(ours), Some(ours_plain), Some(ours_again)) = (t(0), t(1), t(2)) else {
        bail!("P6 {}: missing results", workload.name);
    };
    let row = P6Row {
        name: workload.name.clone(),
        ours,
        ours_plain,
        wasmtime: t(3),
        wasmtime_plain: t(4),
        ours_again,
        notes: Vec::new(),
    };
    if !row.long() {
        notes.push("< 0.3 s: not in geo-mean".into());
    }
    Ok(P6Row { notes, ..row })
}

/// The runs of one workload: lucet-wasi with and without interruption and
/// the first again (the control), then the wasmtime CLI likewise when
/// installed.
fn commands(
    workload: &Workload,
    compiled: &Compiled,
    lucet_wasi: &Path,
    fx: &Fixture,
    tools: &Tools,
) -> Vec<Cmd> {
    let pk = &fx.key.public_path;
    let stack = workload.max_wasm_stack.map(|s| s.to_string());
    let lucet = |so: &Path| {
        let mut args: Vec<&dyn AsRef<OsStr>> = vec![&"--signature-pk", pk, &"--dir", &"."];
        if let Some(stack) = &stack {
            args.extend([&"--stack-size" as &dyn AsRef<OsStr>, stack]);
        }
        args.push(&so);
        Cmd::new(lucet_wasi, &args).in_dir(&workload.dir)
    };
    let mut runs = vec![
        lucet(&compiled.so),
        lucet(&compiled.so_plain),
        lucet(&compiled.so),
    ];
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
        for (flags, cwasm) in [(epoch, &compiled.cwasm), (plain, &compiled.cwasm_plain)] {
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
    runs
}

/// Notes on outputs that differ from upstream's expected one or from
/// lucet's.
fn output_notes(workload: &Workload, results: &[(Duration, Vec<u8>)]) -> Vec<String> {
    let mut notes = Vec::new();
    let who = [
        "lucet",
        "lucet --no-interruption",
        "lucet again",
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
            notes.push(format!("{who}: stdout differs from expected"));
        }
        if !same_output(out, first) {
            notes.push(format!("{who}: stdout differs from lucet's"));
        }
    }
    notes
}

pub fn report(rows: &[P6Row], reps: usize, clock: Clock, tools: &Tools, report: &mut Report) {
    report.heading("P6 execution (sightglass programs, whole process)");
    if tools.lucet_wasi.is_none() {
        report.line("P6 not measured: no lucet-wasi binary (--lucet-wasi)");
        return;
    }
    report.line(&format!(
        "{reps} timed runs each after one untimed, interleaved; medians of {}. Ratios: lucet / wasmtime.",
        clock.what()
    ));
    let cells: Vec<Vec<String>> = rows.iter().map(|r| r.cells(tools.missing)).collect();
    report.table(
        &[
            "program",
            "lucet ms",
            "wasmtime -W epoch-interruption=y,timeout=3600s ms",
            "ratio",
            "lucet --no-interruption ms",
            "wasmtime ms",
            "ratio",
            "control: lucet / lucet again",
            "notes",
        ],
        &cells,
    );
    report.line(&verdict(rows));
}

/// Round 2's goals over the workloads of at least `MIN_WORKLOAD`, in both
/// pairings: the geo-mean at most `GEO_MEAN_GOAL`, and no single workload
/// above `WORKLOAD_GOAL`.
fn verdict(rows: &[P6Row]) -> String {
    let long: Vec<(&str, (f64, f64))> = rows
        .iter()
        .filter_map(|row| Some((row.name.as_str(), row.ratios()?)))
        .collect();
    let pairing = |label: &str, pick: fn((f64, f64)) -> f64| {
        let ratios: Vec<f64> = long.iter().map(|(_, r)| pick(*r)).collect();
        let highest = long
            .iter()
            .map(|(name, r)| (pick(*r), *name))
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match (geo_mean(&ratios), highest) {
            (Some(geo), Some((high, name))) => format!(
                "{label} geo-mean {geo:.3} (≤ {GEO_MEAN_GOAL}: {}), highest {high:.2}× \
                 ({name}; ≤ {WORKLOAD_GOAL} each: {})",
                yes_no(geo <= GEO_MEAN_GOAL),
                yes_no(high <= WORKLOAD_GOAL)
            ),
            _ => format!("{label} not measured"),
        }
    };
    if long.is_empty() {
        return "P6 verdict: not measured: wasmtime CLI not installed or no workload ≥ 0.3 s"
            .into();
    }
    format!(
        "P6 verdict over {} workloads ≥ 0.3 s: {}; {}. {}",
        long.len(),
        pairing("with interruption", |(epoch, _)| epoch),
        pairing("without", |(_, plain)| plain),
        control(rows)
    )
}

/// What the control says of this run's resolution: the spread of the
/// ratios between two medians of the same command. A bound on single
/// workloads tighter than that spread is noise, whichever way it falls.
fn control(rows: &[P6Row]) -> String {
    let ratios: Vec<f64> = rows
        .iter()
        .filter(|row| row.long())
        .map(P6Row::same_work_ratio)
        .collect();
    let lowest = ratios.iter().copied().min_by(f64::total_cmp);
    let highest = ratios.iter().copied().max_by(f64::total_cmp);
    match (lowest, highest) {
        (Some(low), Some(high)) => format!(
            "Control, the same lucet command timed twice: {low:.2}–{high:.2}× \
             (within {WORKLOAD_GOAL}× either way, so this run can judge a single workload \
             against {WORKLOAD_GOAL}×: {})",
            yes_no(low >= 1.0 / WORKLOAD_GOAL && high <= WORKLOAD_GOAL)
        ),
        _ => "Control: no workload ≥ 0.3 s".into(),
    }
}

/// Round 2's goal for the geo-mean of a pairing.
const GEO_MEAN_GOAL: f64 = 1.0;
/// Round 2's goal for every single workload.
const WORKLOAD_GOAL: f64 = 1.05;

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ours_ms: u64, again_ms: u64) -> P6Row {
        let ms = Duration::from_millis;
        P6Row {
            name: format!("w{ours_ms}"),
            ours: ms(ours_ms),
            ours_plain: ms(ours_ms),
            wasmtime: Some(ms(ours_ms)),
            wasmtime_plain: Some(ms(ours_ms)),
            ours_again: ms(again_ms),
            notes: Vec::new(),
        }
    }

    #[test]
    fn the_control_says_whether_the_run_can_judge_a_single_workload() {
        let steady = control(&[row(1000, 990), row(500, 510)]);
        assert!(steady.ends_with("1.05×: yes)"), "{steady}");
        assert!(steady.contains("0.98–1.01×"), "{steady}");
        let noisy = control(&[row(1000, 800), row(500, 510)]);
        assert!(noisy.ends_with("1.05×: no)"), "{noisy}");
        // Short workloads are left out, as from the geo-means.
        let short_only = control(&[row(100, 50)]);
        assert_eq!(short_only, "Control: no workload ≥ 0.3 s");
    }
}
