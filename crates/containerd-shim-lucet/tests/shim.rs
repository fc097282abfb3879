//! `containerd-shim-lucet-v1` under a real containerd (started by each test,
//! on its own socket), driven by `ctr` as an operator would: signed
//! artifacts run with their status and output; everything else is refused
//! before the guest starts. Needs root (containerd does); skipped otherwise.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use lucet_test_support::{
    Containerd, Output, Registry, Scratch, componentize, run, sign_raw, tool,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures");
const HELLO: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/hello/hello.wat"
);

/// A node: its key pair, its configuration, a root file system for
/// `ctr run --rootfs`, and containerd with the shim on its PATH.
struct Node {
    scratch: Scratch,
    secret: PathBuf,
    rootfs: PathBuf,
    containerd: Containerd,
}

impl Node {
    /// A node trusting a fresh key, with `extra` lines in its configuration.
    fn start(extra: &str) -> Option<Node> {
        Node::start_with(|_, public| {
            format!(
                "signature_pk = [{:?}]\n{extra}",
                public.display().to_string()
            )
        })
    }

    /// A node with a fresh key (`node.key`, `node.pub`) whose configuration
    /// `config` writes, given the scratch directory and the public key.
    fn start_with(config: impl FnOnce(&Scratch, &Path) -> String) -> Option<Node> {
        let scratch = Scratch::new();
        let (secret, public) = scratch.raw_key_pair("node");
        let config = scratch.write("shim.toml", config(&scratch, &public));
        let shim = tool("containerd-shim-lucet-v1");
        let containerd = Containerd::start(shim.parent().expect("the shim's directory"), &config)?;
        let rootfs = scratch.path("rootfs");
        std::fs::create_dir(&rootfs).expect("rootfs");
        Some(Node {
            scratch,
            secret,
            rootfs,
            containerd,
        })
    }

    /// Compiles `source` signed by the node's key (or `signing`) into the
    /// root file system as `/NAME`, mode 0644.
    fn install(&self, source: &Path, name: &str, signing: &[String]) -> PathBuf {
        let artifact = self.scratch.compile(source, name, signing);
        let installed = self.rootfs.join(name);
        std::fs::copy(&artifact, &installed).expect("install the artifact");
        set_mode(&installed, 0o644);
        installed
    }

    fn install_signed(&self, source: &Path, name: &str) -> PathBuf {
        self.install(source, name, &[sign_raw(&self.secret)])
    }

    /// `ctr run --rm --runtime io.containerd.lucet.v1 --rootfs ROOTFS ID ARGS...`.
    fn run(&self, flags: &[&str], id: &str, args: &[&str]) -> Output {
        let rootfs = self.rootfs.display().to_string();
        let flags: Vec<&str> = flags.iter().copied().chain(["--rootfs"]).collect();
        self.containerd.run(&flags, &rootfs, id, args)
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn fixture(name: &str) -> PathBuf {
    Path::new(FIXTURES).join(name)
}

/// Asserts the container ran nothing and said why on its stderr.
#[track_caller]
fn assert_refused(output: &Output, reason: &str) {
    assert_eq!(output.status, 1, "{output:?}");
    assert!(output.stdout.is_empty(), "the guest ran: {output:?}");
    assert!(
        output.stderr.contains("containerd-shim-lucet: not started")
            && output.stderr.contains(reason),
        "{output:?}"
    );
}

#[test]
fn signed_modules_and_components_run_with_their_output_and_status() {
    let Some(node) = Node::start("") else { return };
    node.install_signed(Path::new(HELLO), "hello.lucet");
    let hello = node.run(&[], "hello", &["/hello.lucet"]);
    assert_eq!(
        (hello.status, hello.stdout.as_str()),
        (0, "Hello, world!\n"),
        "{hello:?}"
    );

    node.install_signed(&fixture("exit.wat"), "exit.lucet");
    assert_eq!(node.run(&[], "exit", &["/exit.lucet"]).status, 42);

    node.install_signed(&fixture("trap.wat"), "trap.lucet");
    let trapped = node.run(&[], "trap", &["/trap.lucet"]);
    assert_eq!(trapped.status, 134, "{trapped:?}");
    assert!(trapped.stderr.contains("guest trapped"), "{trapped:?}");

    // Arguments after the entry point and the container's environment.
    node.install_signed(&fixture("echo.wat"), "echo.lucet");
    let echo = node.run(
        &["--env", "GREETING=hi"],
        "echo",
        &["/echo.lucet", "a", "b c"],
    );
    assert_eq!(echo.status, 0, "{echo:?}");
    assert!(echo.stdout.starts_with("echo.lucet\na\nb c\n"), "{echo:?}");
    assert!(
        echo.stdout.lines().any(|line| line == "GREETING=hi"),
        "{echo:?}"
    );

    // A WASI 0.2 component: the preview-1 hello through the adapter.
    let module = wat::parse_file(HELLO).expect("hello.wat");
    let component = componentize(&module).expect("componentize");
    let source = node.scratch.write("hello-component.wasm", component);
    node.install_signed(&source, "component.lucet");
    let component = node.run(&[], "component", &["/component.lucet"]);
    assert_eq!(
        (component.status, component.stdout.as_str()),
        (0, "Hello, world!\n"),
        "{component:?}"
    );
}

#[test]
fn unsigned_tampered_foreign_and_native_entry_points_never_start() {
    let Some(node) = Node::start("") else { return };
    node.install(Path::new(HELLO), "unsigned.lucet", &[]);
    assert_refused(
        &node.run(&[], "unsigned", &["/unsigned.lucet"]),
        "unsigned.lucet",
    );

    let (foreign, _) = node.scratch.raw_key_pair("foreign");
    node.install(Path::new(HELLO), "foreign.lucet", &[sign_raw(&foreign)]);
    assert_refused(
        &node.run(&[], "foreign", &["/foreign.lucet"]),
        "which is not trusted",
    );

    let tampered = node.install_signed(Path::new(HELLO), "tampered.lucet");
    let mut bytes = std::fs::read(&tampered).expect("artifact");
    bytes[3000] ^= 1;
    std::fs::write(&tampered, bytes).expect("tamper");
    assert_refused(
        &node.run(&[], "tampered", &["/tampered.lucet"]),
        "signature does not verify",
    );

    assert_refused(
        &node.run(&[], "missing", &["/missing.lucet"]),
        "cannot open /missing.lucet",
    );
    assert_refused(
        &node.run(&[], "relative", &["hello.lucet"]),
        "not an absolute path",
    );

    // Native entry points, which runwasi's crate would run as runc does:
    // a script, and a signed artifact left executable (it is ELF).
    let script = node.rootfs.join("native.sh");
    std::fs::write(&script, "#!/bin/sh\necho native\n").expect("script");
    set_mode(&script, 0o755);
    let native = node.run(&[], "native", &["/native.sh"]);
    assert_ne!(native.status, 0, "{native:?}");
    assert!(!native.stdout.contains("native"), "{native:?}");
    let executable = node.install_signed(Path::new(HELLO), "executable.lucet");
    set_mode(&executable, 0o755);
    let elf = node.run(&[], "elf", &["/executable.lucet"]);
    assert_ne!(elf.status, 0, "{elf:?}");
    assert!(elf.stdout.is_empty(), "{elf:?}");
    let log = std::fs::read_to_string(node.containerd.log()).expect("containerd's log");
    assert!(
        log.contains("the entry point is a native executable"),
        "{log}"
    );
}

#[test]
fn the_nodes_policy_and_configuration_are_enforced() {
    // Signed, but older than the node accepts.
    let Some(node) = Node::start("min_timestamp = 4102444800\n") else {
        return;
    };
    node.install_signed(Path::new(HELLO), "old.lucet");
    assert_refused(&node.run(&[], "old", &["/old.lucet"]), "timestamp");
    drop(node);

    // A configuration with a key the shim does not know refuses every guest.
    let Some(node) = Node::start("allow_unsigned = true\n") else {
        return;
    };
    node.install_signed(Path::new(HELLO), "hello.lucet");
    assert_refused(
        &node.run(&[], "typo", &["/hello.lucet"]),
        "the node's configuration is unusable",
    );
}

#[test]
fn ctr_task_kill_stops_a_running_guest_and_mounts_are_its_directories() {
    let Some(node) = Node::start("") else { return };
    // A bind mount is a directory the guest can read, as --dir would give.
    let data = node.scratch.path("data");
    std::fs::create_dir(&data).expect("data dir");
    std::fs::write(data.join("note.txt"), "from the host\n").expect("note");
    node.install_signed(&fixture("cat.wat"), "cat.lucet");
    let mount = format!(
        "type=bind,src={},dst=/data,options=rbind:ro",
        data.display()
    );
    // cat opens its argument in the first preopened directory: /data.
    let cat = node.run(&["--mount", &mount], "cat", &["/cat.lucet", "note.txt"]);
    assert_eq!(
        (cat.status, cat.stdout.as_str()),
        (0, "from the host\n"),
        "{cat:?}"
    );
    // Nothing else: not the container's root, and so not its /proc, where
    // /proc/self is the runtime itself (its memory, containerd's environment).
    let escape = node.run(
        &["--mount", &mount],
        "escape",
        &["/cat.lucet", "../proc/self/environ"],
    );
    assert_eq!(
        (escape.status, escape.stdout.as_str()),
        (1, ""),
        "{escape:?}"
    );
    let rootless = node.run(&[], "rootless", &["/cat.lucet", "proc/self/environ"]);
    assert_eq!(
        (rootless.status, rootless.stdout.as_str()),
        (1, ""),
        "{rootless:?}"
    );

    node.install_signed(&fixture("loop.wat"), "loop.lucet");
    let shims_seen = |node: &Node| {
        let shims = lucet_test_support::processes_mentioning(&node.containerd.namespace);
        assert!(!shims.is_empty(), "the running guest's shim is not found");
    };
    let status = run_until_killed(&node, &[], "loop", "/loop.lucet", shims_seen);
    assert_eq!(status, Some(128 + 15));

    // Nothing this containerd started outlives it: no shim, no guest.
    let namespace = node.containerd.namespace.clone();
    drop(node);
    let left = lucet_test_support::processes_mentioning(&namespace);
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// `ctr run --rm --runtime io.containerd.lucet.v1 FLAGS --rootfs ROOTFS ID
/// ENTRY` in the background; once the task runs, `while_running`, then
/// `ctr task kill ID` (SIGTERM). The exit status `ctr run` reports.
fn run_until_killed(
    node: &Node,
    flags: &[&str],
    id: &str,
    entry: &str,
    while_running: impl FnOnce(&Node),
) -> Option<i32> {
    let rootfs = node.rootfs.display().to_string();
    let mut running = node
        .containerd
        .ctr()
        .args([
            "run",
            "--rm",
            "--runtime",
            lucet_test_support::LUCET_RUNTIME,
        ])
        .args(flags)
        .args(["--rootfs", rootfs.as_str(), id, entry])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ctr run");
    wait_for_task(&node.containerd, id);
    while_running(node);
    run(node.containerd.ctr().args(["task", "kill", id])).ok();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = running.try_wait().expect("wait for ctr") {
            return status.code();
        }
        assert!(Instant::now() < deadline, "SIGTERM did not stop {id}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for_task(containerd: &Containerd, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let tasks = run(containerd.ctr().args(["task", "list"]));
        if tasks
            .stdout
            .lines()
            .any(|line| line.starts_with(id) && line.contains("RUNNING"))
        {
            return;
        }
        assert!(Instant::now() < deadline, "the task never ran: {tasks:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn images_pushed_by_lucet_oci_are_pulled_by_containerd_and_run_verified() {
    let Some(node) = Node::start("") else { return };
    let registry = Registry::start();
    let artifact = node
        .scratch
        .compile(Path::new(HELLO), "hello", &[sign_raw(&node.secret)]);
    let public = node.scratch.path("node.pub");
    let reference = registry.reference("apps/hello:1");
    run(std::process::Command::new(tool("lucet-oci"))
        .args(["push", "--container-image", "--signature-pk"])
        .arg(&public)
        .arg(&artifact)
        .arg(&reference))
    .ok();
    run(node
        .containerd
        .ctr()
        .args(["image", "pull", "--plain-http", &reference]))
    .ok();
    let hello = node.containerd.run(&[], &reference, "pulled", &[]);
    assert_eq!(
        (hello.status, hello.stdout.as_str()),
        (0, "Hello, world!\n"),
        "{hello:?}"
    );

    // The same image on a node that trusts another key does not start.
    let Some(other) = Node::start("") else { return };
    run(other
        .containerd
        .ctr()
        .args(["image", "pull", "--plain-http", &reference]))
    .ok();
    assert_refused(
        &other.containerd.run(&[], &reference, "foreign", &[]),
        "which is not trusted",
    );
}

#[test]
fn specs_with_hooks_are_refused_and_pod_sandboxes_run_nothing() {
    let Some(node) = Node::start("") else { return };
    node.install_signed(Path::new(HELLO), "hello.lucet");
    // A native program that leaves a mark if it ever runs.
    let native = node.rootfs.join("native.sh");
    std::fs::write(&native, "#!/bin/sh\ntouch /ran\n").expect("script");
    set_mode(&native, 0o755);

    // An OCI hook is a native program: the spec is refused before any runs.
    let spec = run(node.containerd.ctr().args(["oci", "spec"]));
    let mut spec: serde_json::Value = serde_json::from_str(spec.ok()).expect("spec");
    spec["process"]["args"] = serde_json::json!(["/hello.lucet"]);
    spec["root"] =
        serde_json::json!({"path": node.rootfs.display().to_string(), "readonly": false});
    spec["hooks"] = serde_json::json!({"startContainer": [{"path": "/native.sh"}]});
    let spec_path = node.scratch.write("hooks.json", spec.to_string());
    let spec_arg = spec_path.display().to_string();
    let hooked = run(node.containerd.ctr().args([
        "run",
        "--rm",
        "--runtime",
        lucet_test_support::LUCET_RUNTIME,
        "--config",
        &spec_arg,
        "hooked",
    ]));
    assert_ne!(hooked.status, 0, "{hooked:?}");
    assert!(!hooked.stdout.contains("Hello"), "{hooked:?}");
    assert!(hooked.stderr.contains("OCI hooks"), "{hooked:?}");
    assert!(!node.rootfs.join("ran").exists(), "the hook ran");

    // A pod's sandbox container (as containerd's CRI plugin marks it) runs
    // nothing of its image, not even a native /pause: it waits, then
    // exits 0 when told to stop.
    let annotation = ["--annotation", "io.kubernetes.cri.container-type=sandbox"];
    let status = run_until_killed(&node, &annotation, "sandbox", "/native.sh", |_| {});
    assert_eq!(status, Some(0));
    assert!(
        !node.rootfs.join("ran").exists(),
        "the sandbox ran its image's program"
    );
}

#[test]
fn a_policy_file_on_the_node_counts_counter_signatures_and_audit_mode_runs() {
    // Two of {node, security} must have signed; security counter-signs.
    let policy = |mode: &'static str| {
        move |scratch: &Scratch, _: &Path| {
            let (_, security) = scratch.raw_key_pair("security");
            let file = scratch.write(
                "policy.toml",
                format!(
                    "version = 1\nmode = \"{mode}\"\n[keys.node]\nfile = \"node.pub\"\nroles = [\"compiler\"]\n\
                     [keys.security]\nfile = {:?}\nroles = [\"security\"]\n\
                     [artifact]\nsigned_by = [{{ at_least = 2, of = [\"node\", \"role:security\"] }}]\n",
                    security.display().to_string()
                ),
            );
            format!("policy = {:?}\n", file.display().to_string())
        }
    };
    let Some(node) = Node::start_with(policy("enforce")) else {
        return;
    };
    let installed = node.install_signed(Path::new(HELLO), "hello.lucet");
    assert_refused(
        &node.run(&[], "one-signer", &["/hello.lucet"]),
        "rule artifact.signed_by[0] needs 2",
    );
    let mut countersign = lucet_test_support::lucetc(["--countersign".to_string()]);
    countersign
        .arg(&installed)
        .args(["--role", "security"])
        .arg(sign_raw(&node.scratch.path("security.key")))
        .arg("--signature-pk")
        .arg(node.scratch.path("node.pub"));
    run(&mut countersign).ok();
    let hello = node.run(&[], "two-signers", &["/hello.lucet"]);
    assert_eq!(
        (hello.status, hello.stdout.as_str()),
        (0, "Hello, world!\n"),
        "{hello:?}"
    );
    drop(node);

    let Some(node) = Node::start_with(policy("audit")) else {
        return;
    };
    node.install_signed(Path::new(HELLO), "hello.lucet");
    let audited = node.run(&[], "audited", &["/hello.lucet"]);
    assert_eq!(
        (audited.status, audited.stdout.as_str()),
        (0, "Hello, world!\n"),
        "{audited:?}"
    );
    assert!(
        audited
            .stderr
            .contains("audit: /hello.lucet: rule artifact.signed_by[0] would refuse it"),
        "{audited:?}"
    );
}

/// `-v` and `--help` print in full, and exit 0 even when the reader has
/// already gone (as `... -v | grep -q` does): the shim kit's own `-v`
/// panicked there.
#[test]
fn version_and_help_print_and_survive_a_closed_pipe() {
    let shim = tool("containerd-shim-lucet-v1");
    let version = std::process::Command::new(&shim)
        .arg("-v")
        .output()
        .expect("run the shim");
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(version.status.success(), "{version:?}");
    assert!(
        text.contains("Runtime: lucet")
            && text.contains("artifact format v")
            && text.contains("Revision: "),
        "{text}"
    );
    for flag in ["-v", "--help"] {
        let (reader, writer) = std::io::pipe().expect("a pipe");
        drop(reader);
        let closed = std::process::Command::new(&shim)
            .arg(flag)
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .expect("run the shim");
        assert!(closed.status.success(), "{flag}: {closed:?}");
        assert!(closed.stderr.is_empty(), "{flag}: {closed:?}");
    }
}
