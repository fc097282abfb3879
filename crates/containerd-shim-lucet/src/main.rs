//! `containerd-shim-lucet-v1`: the containerd runtime `io.containerd.lucet.v1`.
//! It runs an image's lucet artifact (module or component) under WASI, only
//! after its signature verifies against keys configured on the node and its
//! metadata satisfies the node's policy. An image that does not verify does
//! not start: its container exits 1 with the reason on its stderr.
//!
//! Built on runwasi's `containerd-shim-wasm` (the containerd protocol,
//! containers made with youki's libcontainer), patched so that it never
//! runs a native entry point either.
#![forbid(unsafe_code)]

mod config;
mod mounts;
mod sandbox;

use std::sync::OnceLock;

use containerd_shim_wasm::shim::{Cli, Config, Shim, Version};

/// The node's configuration, read once before the shim forks anything: a
/// container's init process, where the guest runs, no longer sees the
/// node's files. An unreadable configuration is kept as its error so that
/// `start`, `delete` and `-v` still work and every guest is refused with it.
static NODE_CONFIG: OnceLock<Result<config::NodeConfig, String>> = OnceLock::new();

/// The shim as runwasi's crate sees it.
struct LucetShim;

impl Shim for LucetShim {
    fn name() -> &'static str {
        "lucet"
    }

    /// `-v`: the package version with the engine, format and compiler
    /// (`compiler: none` for a node's build), and the source revision.
    fn version() -> Version {
        static DETAILS: OnceLock<String> = OnceLock::new();
        Version {
            version: DETAILS.get_or_init(lucet_runtime::version_details),
            ..containerd_shim_wasm::shim::version!()
        }
    }

    type Sandbox = sandbox::LucetSandbox;

    /// No layer is read by the shim daemon: the crate would read it whole
    /// into the daemon's memory, uncapped, before anything is checked. The
    /// artifact is a file in the image (see docs/fleet.md), opened and
    /// verified inside the container with the node's caps.
    fn supported_layers_types() -> &'static [&'static str] {
        &[]
    }
}

fn main() {
    check_arguments();
    let path = config::config_path();
    let loaded = config::read(&path).map_err(|error| format!("{error:#}"));
    let _ = NODE_CONFIG.set(loaded);
    LucetShim::run(Config {
        no_setup_logger: false,
        default_log_level: "info".into(),
    });
}

/// containerd starts the shim with Go-style flags and an action. The shim
/// kit unwraps its own parse of them, so a mistyped flag, or `--help`, would
/// panic there: they are checked here first.
fn check_arguments() {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let asks_help = args
        .iter()
        .any(|arg| ["-h", "-help", "--help"].iter().any(|help| arg == help));
    let about = "containerd starts this program for the runtime io.containerd.lucet.v1 (see docs/fleet.md); `-v` prints its version";
    if asks_help {
        print_and_exit(&format!(
            "containerd-shim-lucet-v1: runs only verified lucet artifacts in containers.\n{about}.\n"
        ));
    }
    match containerd_shim::parse(&args) {
        Ok(flags) if flags.version => print_and_exit(&version_text()),
        Ok(_) => {}
        Err(error) => {
            eprintln!("containerd-shim-lucet-v1: {error}: {about}");
            std::process::exit(2);
        }
    }
}

/// `-v` in the shim kit's layout, printed here because the kit's `println!`
/// panics when a reader such as `grep -q` closes the pipe early.
fn version_text() -> String {
    let version = LucetShim::version();
    format!(
        "containerd-shim-lucet-v1:\n  Runtime: {}\n  Version: {}\n  Revision: {}\n\n",
        LucetShim::name(),
        version.version,
        version.revision
    )
}

/// Writes `text` to stdout and exits 0. A reader that has gone away is not
/// this program's failure: what it wanted was asked for and produced.
fn print_and_exit(text: &str) -> ! {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
    std::process::exit(0)
}
