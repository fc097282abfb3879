//! What every harness's `main` does, written once: the arguments they share
//! (`--smoke`, `--markdown`, `--reps`), parsing (a bad command line is one
//! line on stderr and exit status 2), and running (a failure is one line and
//! exit status 1).

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, CommandFactory, Parser};

/// `--smoke`, `--markdown` and `--reps`, as every harness takes them. A
/// harness words `--smoke`'s help for what it does there (`mut_arg`).
#[derive(Args, Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// Tiny counts: checks that the bench still runs (CI)
    #[arg(long)]
    pub smoke: bool,
    /// Print the tables as markdown
    #[arg(long)]
    pub markdown: bool,
    /// Repetitions of each measurement; medians are reported
    #[arg(long, value_name = "R", default_value_t = 5)]
    pub reps: usize,
}

impl Common {
    /// Refuses `--reps 0`: there would be no time to take the median of.
    pub fn check_reps(&self) -> Result<(), String> {
        if self.reps == 0 {
            return Err("--reps must be at least 1".into());
        }
        Ok(())
    }
}

/// A harness: its options, made from its command line, and its run.
pub trait Harness: Sized {
    /// The command line, with [`Common`] flattened into it. Its name is the
    /// harness's, in messages.
    type Cli: Parser;

    /// The options of a parsed command line; an error is a usage error.
    fn from_cli(cli: Self::Cli) -> Result<Self, String>;

    /// Measures and prints. An error is a failure of something run (a
    /// verification, a load, a guest), never a slow result.
    fn run(&self) -> anyhow::Result<()>;
}

/// The `main` of harness `H`: parses this process's arguments, then runs.
/// Exits with 0 after `--help` or a run, 2 after a usage error and 1 after
/// a failed run, each error printed as one line on stderr.
pub fn main<H: Harness>() -> ExitCode {
    let options = match parse_or_exit::<H>() {
        Ok(options) => options,
        Err(code) => return code,
    };
    match options.run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: error: {e:#}", name::<H>());
            ExitCode::FAILURE
        }
    }
}

/// Parses `args` (without the program name) as `H`'s command line, then
/// turns it into its options, whose error is a usage error too.
pub fn parse<H: Harness>(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<H, clap::Error> {
    let mut command = H::Cli::command();
    let name = OsString::from(command.get_name());
    let cli =
        H::Cli::try_parse_from(std::iter::once(name).chain(args.into_iter().map(Into::into)))?;
    H::from_cli(cli).map_err(|message| command.error(ErrorKind::ValueValidation, message))
}

/// [`parse`] of this process's arguments. `Err` is the status to exit
/// with: 0 after `--help` (printed to stdout), 2 after a usage error
/// (printed to stderr as one line).
fn parse_or_exit<H: Harness>() -> Result<H, ExitCode> {
    match parse::<H>(std::env::args_os().skip(1)) {
        Ok(options) => Ok(options),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            let bin = name::<H>();
            eprintln!("{bin}: {} (see {bin} --help)", one_line(&e));
            Err(ExitCode::from(2))
        }
    }
}

/// The harness's name, from its command line.
fn name<H: Harness>() -> String {
    H::Cli::command().get_name().to_owned()
}

/// The first line of clap's message, without its `error: ` prefix.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}
