//! `lucet-dist`: writes the man pages and shell completions of the lucet tools.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

const AFTER_HELP: &str = "\
DIR is laid out like a share directory, so it can be copied to /usr/local/share:
  man/man1/TOOL.1                      man page
  bash-completion/completions/TOOL     bash completion
  zsh/site-functions/_TOOL             zsh completion
  fish/vendor_completions.d/TOOL.fish  fish completion
for TOOL in lucetc, lucet-wasi, lucet-serve, lucet-objdump and lucet-oci. The paths written
are printed, one a line, relative to DIR.

Exit status: 0 written, 1 a file could not be written, 2 usage error.";

/// Generate the man pages and shell completions of lucetc, lucet-wasi,
/// lucet-serve, lucet-objdump and lucet-oci from their command-line definitions.
#[derive(Parser, Debug)]
#[command(name = "lucet-dist", version, after_help = AFTER_HELP)]
struct Args {
    /// Directory to write into (created if missing; files in it are replaced).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match lucet_dist::generate(&args.out) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("lucet-dist: {error:#}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }
}
