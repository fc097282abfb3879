//! Command-line arguments the harnesses share, and how they report a bad
//! command line: one line on stderr and exit status 2.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{Args, Parser};

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

/// Parses `args` (without the program name) as `C`, then turns the result
/// into the harness's options with `finish`, whose error is a usage error
/// too.
pub fn parse<C: Parser, T>(
    args: impl IntoIterator<Item = OsString>,
    finish: impl FnOnce(C) -> Result<T, String>,
) -> Result<T, clap::Error> {
    let mut command = C::command();
    let name = OsString::from(command.get_name());
    let cli = C::try_parse_from(std::iter::once(name).chain(args))?;
    finish(cli).map_err(|message| command.error(ErrorKind::ValueValidation, message))
}

/// [`parse`] of this process's arguments. `Err` is the status to exit
/// with: 0 after `--help` (printed to stdout), 2 after a usage error
/// (printed to stderr as one line).
pub fn parse_or_exit<C: Parser, T>(
    finish: impl FnOnce(C) -> Result<T, String>,
) -> Result<T, ExitCode> {
    let bin = C::command().get_name().to_owned();
    match parse::<C, T>(std::env::args_os().skip(1), finish) {
        Ok(options) => Ok(options),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            let _ = e.print();
            Err(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{bin}: {} (see {bin} --help)", one_line(&e));
            Err(ExitCode::from(2))
        }
    }
}

/// The first line of clap's message, without its `error: ` prefix.
pub fn one_line(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_owned()
}
