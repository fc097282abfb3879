//! Subprocesses: the programs the rows run, and how they are timed.

use std::env;
use std::ffi::{OsStr, OsString};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use lucet_bench::report::median_of;
use nix::sys::resource::{UsageWho, getrusage};
use nix::sys::time::TimeVal;

use crate::fixture::Fixture;
use crate::options::Options;

pub const NOT_INSTALLED: &str = "not measured: peer not installed";

/// A subprocess to time: program, arguments, working directory.
#[derive(Clone)]
pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    dir: Option<PathBuf>,
}

impl Cmd {
    pub fn new(program: &Path, args: &[&dyn AsRef<OsStr>]) -> Cmd {
        Cmd {
            program: program.to_owned(),
            args: args.iter().map(|a| a.as_ref().to_owned()).collect(),
            dir: None,
        }
    }

    pub fn in_dir(mut self, dir: &Path) -> Cmd {
        self.dir = Some(dir.to_owned());
        self
    }

    /// Runs once; the wall time and stdout. An error unless it exits 0.
    pub fn run(&self) -> Result<(Duration, Vec<u8>)> {
        self.run_on(Clock::Wall)
    }

    /// Runs once; the time on `clock` and stdout. An error unless it exits
    /// 0.
    pub fn run_on(&self, clock: Clock) -> Result<(Duration, Vec<u8>)> {
        let mut command = Command::new(&self.program);
        command.args(&self.args).stdin(Stdio::null());
        if let Some(dir) = &self.dir {
            command.current_dir(dir);
        }
        let cpu_before = children_cpu_time()?;
        let start = Instant::now();
        let output = command
            .output()
            .with_context(|| format!("running {}", self.program.display()))?;
        let elapsed = match clock {
            Clock::Wall => start.elapsed(),
            // The suite runs one child at a time, so what the reaped
            // children gained is this one's (threads included).
            Clock::Cpu => children_cpu_time()?.saturating_sub(cpu_before),
        };
        ensure!(
            output.status.success(),
            "{} {:?} failed ({}): {}",
            self.program.display(),
            self.args,
            output.status,
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
        Ok((elapsed, output.stdout))
    }
}

/// What a timed run's duration is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Clock {
    /// From spawning the process to reaping it.
    #[default]
    Wall,
    /// The process's user and system CPU time, all its threads. On a VM
    /// whose host takes the CPU away at times (steal time), wall times of
    /// the same run vary by a third; CPU time leaves out the waiting, though
    /// not the host's other tenants slowing the CPU (P6's control shows how
    /// far two medians of the same work still differ).
    Cpu,
}

impl Clock {
    /// What a median on this clock is of, for a report's line.
    pub fn what(self) -> &'static str {
        match self {
            Clock::Wall => "wall time",
            Clock::Cpu => "CPU time (user + system)",
        }
    }
}

/// The user and system CPU time of this process's reaped children.
fn children_cpu_time() -> Result<Duration> {
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let duration = |t: TimeVal| -> Result<Duration> {
        let secs = u64::try_from(t.tv_sec()).context("negative CPU time")?;
        let micros = u64::try_from(t.tv_usec()).context("negative CPU time")?;
        Ok(Duration::from_secs(secs) + Duration::from_micros(micros))
    };
    Ok(duration(usage.user_time())? + duration(usage.system_time())?)
}

/// One command's timed runs and its stdout of the last run.
#[derive(Default, Clone)]
struct Timed {
    times: Vec<Duration>,
    stdout: Vec<u8>,
}

/// Times each command `reps` times on `clock`, interleaved after one
/// untimed round; returns the medians and each command's stdout of the last
/// run.
pub fn time_interleaved(
    cmds: &[Cmd],
    reps: usize,
    clock: Clock,
) -> Result<Vec<(Duration, Vec<u8>)>> {
    let mut timed = vec![Timed::default(); cmds.len()];
    for round in 0..=reps {
        for (cmd, timed) in cmds.iter().zip(&mut timed) {
            let (elapsed, stdout) = cmd.run_on(clock)?;
            if round > 0 {
                timed.times.push(elapsed);
            }
            timed.stdout = stdout;
        }
    }
    timed
        .into_iter()
        .map(|t| Ok((median_of(&t.times)?, t.stdout)))
        .collect()
}

/// A program next to this executable (`target/release/lucetc` beside
/// `target/release/suite`), if it exists.
fn sibling(name: &str) -> Option<PathBuf> {
    let path = env::current_exe().ok()?.parent()?.join(name);
    path.is_file().then_some(path)
}

pub fn on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

pub struct Tools {
    /// What a peer's row says when the peer is absent.
    pub missing: &'static str,
    pub lucetc: Option<PathBuf>,
    pub lucet_wasi: Option<PathBuf>,
    pub lucet_serve: Option<PathBuf>,
    pub lucet_oci: Option<PathBuf>,
    /// P10's containerd shim.
    pub shim: Option<PathBuf>,
    pub wasmtime: Option<PathBuf>,
    pub node: Option<PathBuf>,
    /// P8's load generator: an instrument, not a peer, so found in smoke
    /// mode too.
    pub wrk: Option<PathBuf>,
    /// P9's peer pull.
    pub skopeo: Option<PathBuf>,
}

impl Tools {
    pub fn find(opts: &Options) -> Tools {
        let peer = |given: &Option<PathBuf>, name: &str| {
            if opts.common.smoke {
                None
            } else {
                given.clone().or_else(|| on_path(name))
            }
        };
        // Absolute paths: programs run in their own directories.
        let abs = |p: Option<PathBuf>| p.map(|p| fs::canonicalize(&p).unwrap_or(p));
        Tools {
            missing: if opts.common.smoke {
                "not run (--smoke: no peers)"
            } else {
                NOT_INSTALLED
            },
            lucetc: abs(opts.lucetc.clone().or_else(|| sibling("lucetc"))),
            lucet_wasi: abs(opts.lucet_wasi.clone().or_else(|| sibling("lucet-wasi"))),
            lucet_serve: abs(opts.lucet_serve.clone().or_else(|| sibling("lucet-serve"))),
            wasmtime: abs(peer(&opts.wasmtime, "wasmtime")),
            node: abs(peer(&opts.node, "node")),
            wrk: abs(opts.wrk.clone().or_else(|| on_path("wrk"))),
            lucet_oci: abs(opts.lucet_oci.clone().or_else(|| sibling("lucet-oci"))),
            skopeo: abs(peer(&opts.skopeo, "skopeo")),
            shim: abs(opts
                .shim
                .clone()
                .or_else(|| sibling("containerd-shim-lucet-v1"))),
        }
    }

    /// These tools with the programs whose start-up the goals time
    /// (lucetc, lucet-wasi and the wasmtime CLI) replaced by copies of them
    /// in the fixture directory. How a binary's file sits in the page cache
    /// changes its start-up by up to a third (on the VM of BENCHMARKS.md, a
    /// binary freshly written starts faster than the same bytes installed
    /// long before), so ours and the peer's start from the same state.
    pub fn with_fresh_copies(mut self, fx: &Fixture) -> Result<Tools> {
        for (tool, name) in [
            (&mut self.lucetc, "lucetc"),
            (&mut self.lucet_wasi, "lucet-wasi"),
            (&mut self.wasmtime, "wasmtime"),
        ] {
            if let Some(binary) = tool.take() {
                *tool = Some(fx.fresh_copy(&binary, name)?);
            }
        }
        Ok(self)
    }

    pub fn version(program: &Path) -> String {
        Command::new(program)
            .arg("--version")
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// A shell that counts for a while: work on the CPU, no waiting.
    fn busy() -> Cmd {
        let script = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo done";
        Cmd::new(Path::new("/bin/sh"), &[&"-c", &script])
    }

    #[test]
    fn cpu_time_counts_the_child_s_work_and_not_its_sleep() {
        let (cpu, out) = busy().run_on(Clock::Cpu).unwrap();
        assert_eq!(out, b"done\n");
        assert!(cpu >= Duration::from_millis(20), "{cpu:?}");
        let sleep = Cmd::new(Path::new("/bin/sleep"), &[&"0.3"]);
        let (wall, _) = sleep.run_on(Clock::Wall).unwrap();
        let (cpu, _) = sleep.run_on(Clock::Cpu).unwrap();
        assert!(wall >= Duration::from_millis(300), "{wall:?}");
        assert!(cpu < Duration::from_millis(100), "{cpu:?}");
    }
}
