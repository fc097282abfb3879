//! The command line of `suite`.

use std::path::PathBuf;

use clap::Parser;
use lucet_bench::args::Common;

/// The performance suite (rows P2–P6 of BENCHMARKS.md), each row measured
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
    #[arg(long, value_name = "P2,P3,P4,P5,P6")]
    rows: Option<String>,
    /// lucetc binary (default: next to this one)
    #[arg(long, value_name = "PATH")]
    lucetc: Option<PathBuf>,
    /// lucet-wasi binary, ideally the runtime-only build (default: next to this one)
    #[arg(long, value_name = "PATH")]
    lucet_wasi: Option<PathBuf>,
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
}

#[derive(Debug)]
pub struct Options {
    pub smoke: bool,
    pub markdown: bool,
    pub rows: Vec<String>,
    pub reps: usize,
    pub lucetc: Option<PathBuf>,
    pub lucet_wasi: Option<PathBuf>,
    pub wasmtime: Option<PathBuf>,
    pub node: Option<PathBuf>,
    pub corpus: PathBuf,
    pub programs: Option<usize>,
}

impl Options {
    /// The options of a parsed command line; an error is a usage error.
    pub fn from_cli(cli: Cli) -> Result<Options, String> {
        let Common {
            smoke,
            markdown,
            reps,
        } = cli.common;
        if reps == 0 {
            return Err("--reps must be at least 1".into());
        }
        let rows = match &cli.rows {
            Some(list) => list.split(',').map(|r| r.trim().to_uppercase()).collect(),
            None => ["P2", "P3", "P4", "P5", "P6"].map(String::from).to_vec(),
        };
        let mut opts = Options {
            smoke,
            markdown,
            rows,
            reps,
            lucetc: cli.lucetc,
            lucet_wasi: cli.lucet_wasi,
            wasmtime: cli.wasmtime,
            node: cli.node,
            corpus: cli.corpus,
            programs: cli.programs,
        };
        if opts.smoke {
            opts.reps = 1;
            opts.programs = Some(opts.programs.unwrap_or(1).min(1));
        }
        Ok(opts)
    }

    pub fn wants(&self, row: &str) -> bool {
        self.rows.iter().any(|r| r == row)
    }

    /// Iterations of an in-process measurement: `full`, or a few in smoke mode.
    pub fn iters(&self, full: usize) -> usize {
        if self.smoke { full.clamp(1, 5) } else { full }
    }
}
