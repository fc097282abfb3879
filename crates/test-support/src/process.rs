//! Running commands and collecting what they print.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::external;

/// The result of a finished command.
#[derive(Debug)]
pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    /// A finished process's status (-1 when killed by a signal) and output.
    fn of(status: std::process::ExitStatus, stdout: &[u8], stderr: &[u8]) -> Output {
        Output {
            status: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(stdout).into_owned(),
            stderr: String::from_utf8_lossy(stderr).into_owned(),
        }
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(self.status, 0, "command failed: {self:#?}");
        &self.stdout
    }

    /// Asserts a refusal: `status`, `needle` in stderr, and no guest output.
    #[track_caller]
    pub fn refused(&self, status: i32, needle: &str) {
        assert_eq!(self.status, status, "unexpected status: {self:#?}");
        self.says(needle);
        assert!(
            self.stdout.is_empty(),
            "the guest printed something: {self:#?}"
        );
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "error is not one line: {self:#?}"
        );
    }

    /// Asserts a usage error: status 2, `needle` in clap's `error:` line
    /// (the first), and no output.
    #[track_caller]
    pub fn usage_error(&self, needle: &str) {
        assert_eq!(self.status, 2, "unexpected status: {self:#?}");
        let first = self.stderr.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("error: ") && first.contains(needle),
            "the usage error lacks {needle:?}: {self:#?}"
        );
        assert!(self.stdout.is_empty(), "stdout is not empty: {self:#?}");
    }

    /// A trap: status 134, `needle` in the trap's line or its wasm
    /// backtrace (several lines), and nothing on stdout.
    #[track_caller]
    pub fn trapped(&self, needle: &str) {
        assert_eq!(self.status, 134, "not a trap: {self:#?}");
        self.says(needle);
        assert!(
            self.stdout.is_empty(),
            "the guest printed something: {self:#?}"
        );
    }

    /// `needle` is somewhere on stderr.
    #[track_caller]
    pub fn says(&self, needle: &str) {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
    }
}

/// Runs `command` with `stdin` fed in (or closed). Every run asserts the
/// process did not panic: a panic is a bug on any input.
pub fn run_with_stdin(command: &mut Command, stdin: &[u8]) -> Output {
    let output = collect(command, stdin);
    assert!(
        !output.stderr.contains("panicked") && output.status != 101,
        "{command:?} panicked: {output:#?}"
    );
    output
}

/// Runs the shell command line `command` under a pseudo-terminal (util-linux
/// `script`), typing `input` once the program had a second to start, so it
/// reads the keystrokes the way it reads a person's (rsign2 reads passwords
/// only from /dev/tty; lucetc turns echo off on a terminal).
pub fn run_in_tty(command: &str, input: &[u8]) -> Output {
    let mut script = Command::new(external("script"));
    script.args(["-qec", command, "/dev/null"]);
    let output = answer_prompts(&mut script, input);
    // The terminal merges the program's stderr into script's stdout.
    assert!(
        !output.stdout.contains("panicked"),
        "{command} panicked: {output:#?}"
    );
    output
}

/// Spawns `command` and types each line of `input` only once a new password
/// prompt has appeared on its output: typed earlier, a line could reach the
/// terminal before the program turns echo off, however slow the machine.
/// Stdin stays open until the program's output ends.
fn answer_prompts(command: &mut Command, input: &[u8]) -> Output {
    use std::io::Read as _;
    use std::sync::mpsc;
    let mut child = spawn_piped(command);
    let mut stdin = child.stdin.take().expect("stdin pipe");
    let mut stdout = child.stdout.take().expect("stdout pipe");
    let (prompted, prompts) = mpsc::channel::<()>();
    let reader = std::thread::spawn(move || {
        let (mut seen, mut all, mut buf) = (0, Vec::new(), [0u8; 4096]);
        while let Ok(len @ 1..) = stdout.read(&mut buf) {
            all.extend_from_slice(&buf[..len]);
            let count = all.windows(7).filter(|w| w == b"assword").count();
            for _ in seen..count {
                let _ = prompted.send(());
            }
            seen = count;
        }
        all
    });
    let lines: Vec<Vec<u8>> = input
        .split_inclusive(|&b| b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    let writer = std::thread::spawn(move || {
        for line in lines {
            // A bound on a hang only: the program fails the test if it never asks.
            if prompts
                .recv_timeout(std::time::Duration::from_secs(60))
                .is_err()
            {
                return;
            }
            // The prompt is written just before echo is turned off.
            std::thread::sleep(std::time::Duration::from_millis(100));
            let _ = stdin.write_all(&line);
        }
        // Hold stdin open until the output ends (the sender is dropped).
        while prompts.recv().is_ok() {}
    });
    let stdout = reader.join().expect("stdout reader");
    let _ = writer.join();
    let out = child.wait_with_output().expect("wait for child");
    Output::of(out.status, &stdout, &out.stderr)
}

/// Spawns `command` with all three standard streams piped.
fn spawn_piped(command: &mut Command) -> std::process::Child {
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"))
}

/// Spawns `command`, writes `input` to its stdin and collects its output.
fn collect(command: &mut Command, input: &[u8]) -> Output {
    let mut child = spawn_piped(command);
    let mut pipe = child.stdin.take().expect("stdin pipe");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let out = child.wait_with_output().expect("wait for child");
    let _ = writer.join();
    Output::of(out.status, &out.stdout, &out.stderr)
}

/// Runs `command` with stdin closed.
pub fn run(command: &mut Command) -> Output {
    run_with_stdin(command, b"")
}

/// A child started with stdin closed whose stdout and stderr are drained on
/// threads, so that a chatty child cannot block on a full pipe.
pub struct DrainedChild {
    pub child: std::process::Child,
    stdout: std::thread::JoinHandle<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl DrainedChild {
    pub fn spawn(command: &mut Command) -> DrainedChild {
        use std::io::Read as _;
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
        let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
            std::thread::spawn(move || {
                let mut text = Vec::new();
                if let Some(mut pipe) = pipe {
                    let _ = pipe.read_to_end(&mut text);
                }
                String::from_utf8_lossy(&text).into_owned()
            })
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        DrainedChild {
            child,
            stdout,
            stderr,
        }
    }

    /// The output, once the child was reaped with `status`; fails the test
    /// if the child panicked.
    #[track_caller]
    pub fn output(self, status: i32) -> Output {
        let output = Output {
            status,
            stdout: self.stdout.join().expect("stdout reader"),
            stderr: self.stderr.join().expect("stderr reader"),
        };
        assert!(
            !output.stderr.contains("panicked") && output.status != 101,
            "panicked: {output:#?}"
        );
        output
    }
}

/// Runs `command` with stdin closed, failing the test if it has not exited
/// after `limit`: for inputs that used to block forever (a FIFO with no
/// writer), a hang must fail the test, not stall the suite. The process is
/// killed first.
#[track_caller]
pub fn run_bounded(command: &mut Command, limit: std::time::Duration) -> Output {
    let mut running = DrainedChild::spawn(command);
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = running.child.try_wait().expect("wait for child") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = running.child.kill();
            let _ = running.child.wait();
            panic!("{command:?} still running after {limit:?}: it blocked instead of refusing");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    running.output(status.code().unwrap_or(-1))
}

/// Makes a named pipe (FIFO) at `path`, with the system's `mkfifo`.
pub fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run mkfifo: {e}"));
    assert!(status.success(), "mkfifo {} failed", path.display());
}

/// Runs a command, asserting success; returns stderr.
#[track_caller]
pub fn run_ok(command: &mut Command) -> String {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot start {command:?}: {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "{command:?} failed ({}): {stderr}",
        output.status
    );
    stderr
}
