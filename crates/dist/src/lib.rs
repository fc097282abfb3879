//! The man pages and shell completions of `lucetc`, `lucet-wasi`,
//! `lucet-serve`, `lucet-objdump` and `lucet-oci`, generated from the clap
//! definitions the binaries parse with (`lucetc::cli`, `lucet_wasi::cli`,
//! `lucet_serve::cli`, `lucet_objdump::cli`, `lucet_oci::cli`): `--help`, the man page and the completions cannot
//! disagree, because there is one definition.
//!
//! [`generate`] writes a `share/`-style tree, so installing is copying it to
//! `/usr/local/share` (or any prefix's `share`):
//!
//! | file | what |
//! |---|---|
//! | `man/man1/TOOL.1` | man page: options from clap, then the tool's `SECTIONS` (exit status, examples, ...) |
//! | `bash-completion/completions/TOOL` | bash completion (bash-completion loads it on demand by name) |
//! | `zsh/site-functions/_TOOL` | zsh completion |
//! | `fish/vendor_completions.d/TOOL.fish` | fish completion |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::Man;
use clap_mangen::roff::{Roff, bold, roman};

/// One of the shipped command-line tools.
#[derive(Clone, Copy)]
pub struct Tool {
    /// The binary's name.
    pub name: &'static str,
    /// Its clap definition.
    pub command: fn() -> clap::Command,
    /// The `(heading, body)` sections its `--help` prints after the options.
    pub sections: &'static [(&'static str, &'static str)],
}

/// The tools whose man pages and completions are generated, in order.
pub const TOOLS: [Tool; 5] = [
    Tool {
        name: "lucetc",
        command: lucetc::cli::Args::command,
        sections: lucetc::cli::SECTIONS,
    },
    Tool {
        name: "lucet-wasi",
        command: lucet_wasi::cli::Args::command,
        sections: lucet_wasi::cli::SECTIONS,
    },
    Tool {
        name: "lucet-serve",
        command: lucet_serve::cli::Args::command,
        sections: lucet_serve::cli::SECTIONS,
    },
    Tool {
        name: "lucet-objdump",
        command: lucet_objdump::cli::Args::command,
        sections: lucet_objdump::cli::SECTIONS,
    },
    Tool {
        name: "lucet-oci",
        command: lucet_oci::cli::Args::command,
        sections: lucet_oci::cli::SECTIONS,
    },
];

/// The shells completions are generated for, each with where its standard
/// setup finds a tool's file (relative to the `share` directory): the path is
/// the prefix, the tool's name, then the suffix.
const SHELLS: [(Shell, &str, &str); 3] = [
    (Shell::Bash, "bash-completion/completions/", ""),
    (Shell::Zsh, "zsh/site-functions/_", ""),
    (Shell::Fish, "fish/vendor_completions.d/", ".fish"),
];

/// Writes every man page and completion file under `share` (created if
/// missing; existing files are replaced) and returns their paths relative to
/// `share`, in a fixed order.
///
/// # Errors
///
/// When a directory or file cannot be written.
pub fn generate(share: &Path) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for tool in TOOLS {
        let page = PathBuf::from(format!("man/man1/{}.1", tool.name));
        write(share, &page, &man_page(&tool)?)?;
        written.push(page);
        for (shell, prefix, suffix) in SHELLS {
            let path = PathBuf::from(format!("{prefix}{}{suffix}", tool.name));
            let mut command = completion_command(&tool);
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut command, tool.name, &mut script);
            if shell == Shell::Bash {
                script = fix_bash_subcommand_states(&script, tool.name);
            }
            write(share, &path, &script)?;
            written.push(path);
        }
    }
    Ok(written)
}

/// clap_complete 4.6 names a hyphenated tool's subcommand states two ways
/// in its bash script: `lucet__oci__subcmd__pull` where it reads the words,
/// `lucet__subcmd__oci__subcmd__pull` where it offers the options, so no
/// subcommand's options were ever offered. One spelling, the first, fixes it.
fn fix_bash_subcommand_states(script: &[u8], name: &str) -> Vec<u8> {
    let text = String::from_utf8_lossy(script);
    let wrong = format!("{}__subcmd__", name.replace('-', "__subcmd__"));
    let right = format!("{}__subcmd__", name.replace('-', "__"));
    text.replace(&wrong, &right).into_bytes()
}

/// `tool`'s command with only its visible arguments, subcommands
/// included: clap_complete also completes hidden flags (Lucet's refused
/// ones, test-only ones), which a user should never be offered.
fn completion_command(tool: &Tool) -> clap::Command {
    visible_only(&(tool.command)(), tool.name).version(env!("CARGO_PKG_VERSION"))
}

/// `full` rebuilt from its about text, visible arguments and subcommands.
fn visible_only(full: &clap::Command, name: &str) -> clap::Command {
    let mut command = clap::Command::new(name.to_string());
    if let Some(about) = full.get_about() {
        command = command.about(about.clone());
    }
    let command = full
        .get_arguments()
        .filter(|arg| !arg.is_hide_set())
        .fold(command, |command, arg| command.arg(arg.clone()));
    full.get_subcommands()
        .filter(|sub| !sub.is_hide_set())
        .fold(command, |command, sub| {
            command.subcommand(visible_only(sub, sub.get_name()))
        })
}

fn write(share: &Path, relative: &Path, contents: &[u8]) -> Result<()> {
    let path = share.join(relative);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))
}

/// The man page of `tool`: clap_mangen's title, name, synopsis, description
/// and options, then the tool's own sections, SEE ALSO and the version.
///
/// The version is the package version alone: the tool's `--version` also
/// says whether that build carries a compiler, which depends on how it was
/// built, not on its documentation.
pub fn man_page(tool: &Tool) -> Result<Vec<u8>> {
    let command = (tool.command)().version(env!("CARGO_PKG_VERSION"));
    let man = Man::new(command).manual("lucet");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;

    let mut roff = Roff::new();
    for (heading, body) in tool.sections {
        section(&mut roff, heading, body);
    }
    roff.control("SH", ["SEE ALSO"]);
    let others: Vec<_> = TOOLS
        .iter()
        .map(|other| other.name)
        .filter(|name| *name != tool.name)
        .chain(["minisign"])
        .collect();
    let mut inlines = Vec::new();
    for (index, name) in others.iter().enumerate() {
        if index > 0 {
            inlines.push(roman(", "));
        }
        inlines.push(bold(*name));
        inlines.push(roman("(1)"));
    }
    roff.text(inlines);
    roff.to_writer(&mut out)?;

    man.render_version_section(&mut out)?;
    Ok(out)
}

/// One help section as a man page section: paragraphs whose lines are all
/// indented are kept line by line (tables, examples); others are filled prose.
fn section(roff: &mut Roff, heading: &str, body: &str) {
    roff.control("SH", [heading.to_uppercase().as_str()]);
    for paragraph in body.split("\n\n") {
        roff.control("PP", []);
        let verbatim = paragraph
            .lines()
            .all(|line| line.starts_with(' ') || line.is_empty());
        if verbatim {
            roff.control("nf", []);
            for line in paragraph.lines() {
                roff.text([roman(line.strip_prefix("  ").unwrap_or(line))]);
            }
            roff.control("fi", []);
        } else {
            let prose: Vec<&str> = paragraph.lines().map(str::trim).collect();
            roff.text([roman(prose.join(" "))]);
        }
    }
}
