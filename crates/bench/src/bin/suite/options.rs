//! The command line of `suite`.

use std::path::PathBuf;

use clap::Parser;
use lucet_bench::args::{Common, Harness};

use crate::process::Clock;

/// The performance suite (rows P2–P11 of BENCHMARKS.md), each row measured
/// side by side with its peer in the same run.
#[derive(Parser, Debug)]
#[command(
    name = "suite",
    // As before clap: an option given twice takes its last value.
    args_override_self = true,
    mut_arg("smoke", |a| a.help("Tiny counts, our own rows only, no peers (CI)")),
    mut_arg("reps", |a| a.help("Repetitions of each subprocess measurement")),
)]
pub struct Cli {
    #[command(flatten)]
    common: Common,
    /// Rows to run, comma-separated (default: all)
    #[arg(long, value_name = "P2,P3,P4,P5,P6,P7,P8,P9,P10,P11")]
    rows: Option<String>,
    /// lucetc binary (default: next to this one)
    #[arg(long, value_name = "PATH")]
    lucetc: Option<PathBuf>,
    /// lucet-wasi binary, ideally the runtime-only build (default: next to this one)
    #[arg(long, value_name = "PATH")]
    lucet_wasi: Option<PathBuf>,
    /// lucet-serve binary (default: next to this one)
    #[arg(long, value_name = "PATH")]
    lucet_serve: Option<PathBuf>,
    /// lucet-oci binary (default: next to this one)
    #[arg(long, value_name = "PATH")]
    lucet_oci: Option<PathBuf>,
    /// containerd-shim-lucet-v1 for P10, ideally the runtime-only build
    /// (default: next to this one)
    #[arg(long, value_name = "PATH")]
    shim: Option<PathBuf>,
    /// P9's peer pull, skopeo (default: `skopeo` on PATH)
    #[arg(long, value_name = "PATH")]
    skopeo: Option<PathBuf>,
    /// wasmtime CLI (default: `wasmtime` on PATH)
    #[arg(long, value_name = "PATH")]
    wasmtime: Option<PathBuf>,
    /// node (default: `node` on PATH)
    #[arg(long, value_name = "PATH")]
    node: Option<PathBuf>,
    /// Sightglass corpus
    #[arg(
        long,
        value_name = "DIR",
        default_value = "../shared/corpus/sightglass"
    )]
    corpus: PathBuf,
    /// At most N sightglass programs (default: all; smoke: 1)
    #[arg(long, value_name = "N")]
    programs: Option<usize>,
    /// P8's wasi:http component (made by scripts/build-js-component.sh)
    #[arg(
        long,
        value_name = "WASM",
        default_value = "target/js-component/http.wasm"
    )]
    http_component: PathBuf,
    /// P8's load generator (default: `wrk` on PATH; used in smoke mode too)
    #[arg(long, value_name = "PATH")]
    wrk: Option<PathBuf>,
    /// What P5, P6 and P7 time: wall time, or the process's CPU time (user
    /// and system, all threads; leaves out a VM's steal time). P9 and P10
    /// time wall time: their work is done in servers.
    #[arg(long, value_enum, default_value_t = Clock::Wall)]
    clock: Clock,
    /// Seconds of each P8 load run (smoke: 1)
    #[arg(long, value_name = "S", default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=600))]
    load_seconds: u32,
}

/// The rows of the suite, all run by default.
const ROWS: [&str; 10] = ["P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11"];

#[derive(Debug)]
pub struct Options {
    /// `--smoke`, `--markdown`, `--reps`; with `--smoke`, one repetition.
    pub common: Common,
    pub rows: Vec<String>,
    pub lucetc: Option<PathBuf>,
    pub lucet_wasi: Option<PathBuf>,
    pub lucet_serve: Option<PathBuf>,
    pub lucet_oci: Option<PathBuf>,
    pub shim: Option<PathBuf>,
    pub skopeo: Option<PathBuf>,
    pub wasmtime: Option<PathBuf>,
    pub node: Option<PathBuf>,
    pub corpus: PathBuf,
    pub programs: Option<usize>,
    pub http_component: PathBuf,
    pub wrk: Option<PathBuf>,
    pub load_seconds: u32,
    pub clock: Clock,
}

impl Harness for Options {
    type Cli = Cli;

    /// The options of a parsed command line; an error is a usage error.
    /// `--reps 0` is one even with `--smoke`.
    fn from_cli(cli: Cli) -> Result<Options, String> {
        let mut common = cli.common;
        common.check_reps()?;
        let rows: Vec<String> = match &cli.rows {
            Some(list) => list.split(',').map(|r| r.trim().to_uppercase()).collect(),
            None => ROWS.map(String::from).to_vec(),
        };
        // A misspelt row would silently measure nothing.
        if let Some(row) = rows.iter().find(|r| !ROWS.contains(&r.as_str())) {
            return Err(format!(
                "--rows: unknown row `{row}` (rows are {})",
                ROWS.join(", ")
            ));
        }
        let mut programs = cli.programs;
        let mut load_seconds = cli.load_seconds;
        if common.smoke {
            common.reps = 1;
            programs = Some(programs.unwrap_or(1).min(1));
            load_seconds = 1;
        }
        Ok(Options {
            common,
            rows,
            lucetc: cli.lucetc,
            lucet_wasi: cli.lucet_wasi,
            lucet_serve: cli.lucet_serve,
            lucet_oci: cli.lucet_oci,
            shim: cli.shim,
            skopeo: cli.skopeo,
            wasmtime: cli.wasmtime,
            node: cli.node,
            corpus: cli.corpus,
            programs,
            http_component: cli.http_component,
            wrk: cli.wrk,
            load_seconds,
            clock: cli.clock,
        })
    }

    fn run(&self) -> anyhow::Result<()> {
        crate::run(self)
    }
}

impl Options {
    pub fn wants(&self, row: &str) -> bool {
        self.rows.iter().any(|r| r == row)
    }

    /// Iterations of an in-process measurement: `full`, or a few in smoke mode.
    pub fn iters(&self, full: usize) -> usize {
        if self.common.smoke {
            full.clamp(1, 5)
        } else {
            full
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use std::path::Path;

    use lucet_bench::args::parse;

    use super::*;

    const NO_ARGS: [&str; 0] = [];

    #[test]
    fn options() {
        let opts = parse::<Options>(NO_ARGS).unwrap();
        assert_eq!(opts.common.reps, 5);
        assert_eq!(
            opts.rows,
            ["P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9", "P10", "P11"]
        );
        assert_eq!(opts.corpus, Path::new("../shared/corpus/sightglass"));
        assert_eq!(opts.load_seconds, 10);
        assert_eq!(
            opts.http_component,
            Path::new("target/js-component/http.wasm")
        );
        let opts =
            parse::<Options>(["--rows", "p3, P6", "--reps", "3", "--programs", "4"]).unwrap();
        assert!(opts.wants("P3") && opts.wants("P6") && !opts.wants("P2"));
        assert_eq!((opts.common.reps, opts.programs), (3, Some(4)));
        let opts = parse::<Options>(["--rows", "p7"]).unwrap();
        assert!(opts.wants("P7") && !opts.wants("P4"));
        let opts = parse::<Options>(["--rows", "p8", "--load-seconds", "3"]).unwrap();
        assert!(opts.wants("P8") && !opts.wants("P7"));
        assert_eq!(opts.load_seconds, 3);
        assert!(parse::<Options>(["--rows", "P9"]).unwrap().wants("P9"));
        assert!(parse::<Options>(["--rows", "P10"]).unwrap().wants("P10"));
        assert!(parse::<Options>(["--rows", "p11"]).unwrap().wants("P11"));
        assert!(parse::<Options>(["--rows", "P12"]).is_err());
        assert!(parse::<Options>(["--load-seconds", "0"]).is_err());
        let opts = parse::<Options>(["--smoke", "--reps", "3", "--programs", "4"]).unwrap();
        assert_eq!((opts.common.reps, opts.programs), (1, Some(1)));
        assert_eq!(opts.load_seconds, 1);
        let opts = parse::<Options>(["--lucetc", "a", "--lucet-wasi", "b", "--markdown"]).unwrap();
        assert!(opts.common.markdown);
        assert_eq!(opts.lucetc.as_deref(), Some(Path::new("a")));
        assert_eq!(opts.lucet_wasi.as_deref(), Some(Path::new("b")));
        assert!(parse::<Options>(["--reps", "0"]).is_err());
        assert!(parse::<Options>(["--reps", "0", "--smoke"]).is_err());
        assert!(parse::<Options>(["--programs"]).is_err());
        assert!(parse::<Options>(["--bogus"]).is_err());
        assert_eq!(
            parse::<Options>(["--reps", "2", "--reps", "4"])
                .unwrap()
                .common
                .reps,
            4
        );
        let help = parse::<Options>(["--help"]).err().unwrap();
        assert_eq!(help.kind(), clap::error::ErrorKind::DisplayHelp);
    }

    #[test]
    fn the_clock_is_wall_time_unless_cpu_is_asked_for() {
        assert_eq!(parse::<Options>(NO_ARGS).unwrap().clock, Clock::Wall);
        let opts = parse::<Options>(["--clock", "cpu"]).unwrap();
        assert_eq!(opts.clock, Clock::Cpu);
        assert!(parse::<Options>(["--clock", "steal"]).is_err());
    }
}
