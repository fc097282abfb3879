//! A real containerd for tests and benchmarks: Debian's `containerd` (which
//! scripts/install-test-deps.sh installs) with its own root, state and
//! socket in a scratch directory, CRI off, and `containerd-shim-lucet-v1`
//! found on its `PATH`. Everything it started is stopped when dropped.
//!
//! containerd needs root. Without it, [`Containerd::start`] returns `None`
//! and says why on stderr; callers skip.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Output, external, run};

/// The runtime name containerd maps to `containerd-shim-lucet-v1`.
pub const LUCET_RUNTIME: &str = "io.containerd.lucet.v1";

static INSTANCES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A containerd of the test's own; stopped, with its tasks, shims and
/// containers, when dropped.
pub struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
    /// The namespace every `ctr` call of this instance uses.
    pub namespace: String,
}

impl Containerd {
    /// Starts containerd with `shim_dir` first on its `PATH` and
    /// `LUCET_SHIM_CONFIG=shim_config` in its environment (the shim
    /// inherits both). `None` when not root.
    pub fn start(shim_dir: &Path, shim_config: &Path) -> Option<Containerd> {
        let uid = run(Command::new("id").arg("-u"));
        if uid.ok().trim() != "0" {
            eprintln!("skipped: containerd needs root");
            return None;
        }
        // Socket paths are limited to 108 bytes: a short directory name.
        let dir = tempfile::Builder::new()
            .prefix("lcd")
            .tempdir()
            .expect("scratch directory for containerd");
        let config = dir.path().join("config.toml");
        std::fs::write(&config, config_toml(dir.path())).expect("write containerd's config");
        let path = std::env::join_paths(std::iter::once(shim_dir.to_path_buf()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .expect("PATH");
        let log = std::fs::File::create(dir.path().join("containerd.log")).expect("log file");
        let child = Command::new(external("containerd"))
            .arg("--config")
            .arg(&config)
            .env("PATH", path)
            .env("LUCET_SHIM_CONFIG", shim_config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("start containerd");
        let containerd = Containerd {
            child,
            dir,
            // Unique per instance: libcontainer keeps state per namespace
            // and container outside containerd's root.
            namespace: format!(
                "lucet-test-{}-{}",
                std::process::id(),
                INSTANCES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
        };
        containerd.wait_until_up();
        Some(containerd)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("c.sock")
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let up = Command::new(external("ctr"))
                .arg("--address")
                .arg(self.socket())
                .arg("version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|status| status.success());
            if up {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("containerd did not come up: see {}", self.log().display());
    }

    /// containerd's own log (the shim's log lines end up there too).
    pub fn log(&self) -> PathBuf {
        self.dir.path().join("containerd.log")
    }

    /// `ctr --address SOCKET --namespace NS ARGS...`.
    pub fn ctr(&self) -> Command {
        let mut command = Command::new(external("ctr"));
        command.args(self.ctr_global_flags());
        command
    }

    /// The flags before ctr's command that address this instance.
    pub fn ctr_global_flags(&self) -> [std::ffi::OsString; 4] {
        [
            "--address".into(),
            self.socket().into_os_string(),
            "--namespace".into(),
            self.namespace.clone().into(),
        ]
    }

    /// `ctr run --rm --runtime io.containerd.lucet.v1 FLAGS... IMAGE ID ARGS...`,
    /// run to its end: its status is the task's.
    pub fn run(&self, flags: &[&str], image: &str, id: &str, args: &[&str]) -> Output {
        run(self
            .ctr()
            .args(["run", "--rm", "--runtime", LUCET_RUNTIME])
            .args(flags)
            .arg(image)
            .arg(id)
            .args(args))
    }

    /// Kills and removes every task and container of the namespace.
    fn remove_containers(&self) {
        let listed = run(self.ctr().args(["containers", "list", "--quiet"]));
        for id in listed
            .stdout
            .lines()
            .map(str::trim)
            .filter(|id| !id.is_empty())
        {
            let _ = run(self.ctr().args(["task", "kill", "--signal", "SIGKILL", id]));
            let _ = run(self.ctr().args(["task", "delete", "--force", id]));
            let _ = run(self.ctr().args(["containers", "delete", id]));
        }
    }

    /// Shims still running for this instance: each bundle keeps its shim's
    /// PID in `shim.pid`.
    fn leftover_shims(&self) -> Vec<i32> {
        let bundles = self
            .dir
            .path()
            .join("state/io.containerd.runtime.v2.task")
            .join(&self.namespace);
        let Ok(entries) = std::fs::read_dir(bundles) else {
            return Vec::new();
        };
        entries
            .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("shim.pid")).ok())
            .filter_map(|pid| pid.trim().parse().ok())
            .collect()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        self.remove_containers();
        let shims = self.leftover_shims();
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(self.child.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        for pid in shims {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
        // Snapshots of containers killed above may still be mounted.
        let _ = Command::new("umount")
            .arg("--recursive")
            .arg("--lazy")
            .arg(self.dir.path().join("root"))
            .stderr(Stdio::null())
            .status();
        // libcontainer keeps its per-namespace directory outside our root.
        let _ = std::fs::remove_dir(Path::new("/run/containerd/lucet").join(&self.namespace));
    }
}

/// Processes whose command line mentions `namespace`: the shims (and
/// containers) of a [`Containerd`] instance, which name it in their flags.
pub fn processes_mentioning(namespace: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let cmdline = std::fs::read(entry.path().join("cmdline")).ok()?;
            let mentions = cmdline
                .split(|&byte| byte == 0)
                .any(|arg| arg == namespace.as_bytes());
            (mentions && pid != std::process::id()).then_some(pid)
        })
        .collect()
}

fn config_toml(dir: &Path) -> String {
    format!(
        r#"version = 2
root = "{root}"
state = "{state}"
# No Kubernetes here: the CRI plugin would want CNI.
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "{socket}"
[ttrpc]
  address = "{socket}.ttrpc"
"#,
        root = dir.join("root").display(),
        state = dir.join("state").display(),
        socket = dir.join("c.sock").display(),
    )
}
