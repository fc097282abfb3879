//! P10 container start: a signed hello world from start to exit as a
//! container, `ctr run --rm` through `containerd-shim-lucet-v1` (the shim
//! verifies the artifact against the node's key, then runs it), against the
//! same containerd starting a static native hello world through runc
//! (`io.containerd.runc.v2`, containerd's default). Both from a root file
//! system in a directory (`ctr run --rootfs`), so no snapshot is unpacked
//! for either; both outputs are checked.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};
use lucet_bench::report::{Report, ms, ratio, yes_no};
use lucet_runtime::EngineSettings;
use lucet_test_support::{Containerd, LUCET_RUNTIME};

use crate::fixture::{Fixture, HELLO_OUT, HELLO_WAT, wat};
use crate::options::Options;
use crate::process::{Clock, Cmd, Tools, on_path, time_interleaved};

/// The native peer: what `puts` of the same line compiles to, linked
/// statically so its root file system needs nothing else.
const NATIVE_HELLO_C: &str =
    "#include <stdio.h>\nint main(void) { puts(\"Hello, world!\"); return 0; }\n";

pub fn p10(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    report.heading(
        "P10 container start: signed hello through the shim against native hello through runc",
    );
    let Some(shim) = &tools.shim else {
        report.line("P10 not measured: no containerd-shim-lucet-v1 binary (--shim)");
        return Ok(());
    };
    if on_path("containerd").is_none() || on_path("ctr").is_none() {
        report.line("P10 not measured: containerd not installed (scripts/install-test-deps.sh)");
        return Ok(());
    }
    let shim_dir = fx.path("p10-shim");
    fs::create_dir_all(&shim_dir)?;
    fs::copy(shim, shim_dir.join("containerd-shim-lucet-v1"))?;
    let config = fx.path("p10-shim.toml");
    fs::write(
        &config,
        format!(
            "signature_pk = [{:?}]\n",
            fx.key.public_path.display().to_string()
        ),
    )?;
    let Some(containerd) = Containerd::start(&shim_dir, &config) else {
        report.line("P10 not measured: containerd needs root");
        return Ok(());
    };
    let mut names = vec!["lucet shim, signed hello, verified".to_owned()];
    let mut cmds = vec![ctr_run(
        &containerd,
        Some(LUCET_RUNTIME),
        &lucet_rootfs(fx)?,
        "p10-lucet",
        "/app.lucet",
    )];
    let native = (!opts.common.smoke)
        .then(|| native_rootfs(fx))
        .transpose()?
        .flatten();
    if let Some(rootfs) = &native {
        names.push("runc, static native hello".into());
        cmds.push(ctr_run(&containerd, None, rootfs, "p10-runc", "/hello"));
    }
    let reps = if opts.common.smoke {
        1
    } else {
        10 * opts.common.reps
    };
    let results = time_interleaved(&cmds, reps, Clock::Wall)?;
    for (name, (_, out)) in names.iter().zip(&results) {
        ensure!(out == HELLO_OUT, "P10 {name}: output {out:?}");
    }
    let ours = results.first().map(|r| r.0).context("no result")?;
    let rows: Vec<Vec<String>> = names
        .iter()
        .zip(&results)
        .map(|(name, (t, _))| vec![name.clone(), ms(*t), ratio(ours, *t)])
        .collect();
    report.line(&format!(
        "`ctr run --rm` from start to exit, one containerd on a private socket; {reps} runs each, interleaved; outputs checked."
    ));
    report.table(&["container", "median ms", "shim / this"], &rows);
    match results.get(1) {
        Some((runc, _)) => report.line(&format!(
            "P10: lucet shim {} ms vs runc {} ms = {}× (goal ≤ 1.0×: {})",
            ms(ours),
            ms(*runc),
            ratio(ours, *runc),
            yes_no(ours <= *runc)
        )),
        None => report.line("P10 verdict: runc not run (--smoke: no peers; or no C compiler)"),
    }
    Ok(())
}

/// `ctr [flags] run --rm [--runtime R] --rootfs ROOTFS ID ENTRYPOINT`.
fn ctr_run(
    containerd: &Containerd,
    runtime: Option<&str>,
    rootfs: &Path,
    id: &str,
    entry: &str,
) -> Cmd {
    let ctr = on_path("ctr").unwrap_or_else(|| PathBuf::from("ctr"));
    let mut args: Vec<OsString> = containerd.ctr_global_flags().into();
    args.extend(["run".into(), "--rm".into()]);
    if let Some(runtime) = runtime {
        args.extend(["--runtime".into(), runtime.into()]);
    }
    args.extend([
        "--rootfs".into(),
        rootfs.as_os_str().to_owned(),
        id.into(),
        entry.into(),
    ]);
    let args: Vec<&dyn AsRef<std::ffi::OsStr>> = args.iter().map(|a| a as _).collect();
    Cmd::new(&ctr, &args)
}

/// A root file system holding the signed hello as `/app.lucet`, mode 0644.
fn lucet_rootfs(fx: &Fixture) -> Result<PathBuf> {
    let (artifact, _) = fx.artifact(&wat(HELLO_WAT)?, EngineSettings::default(), true)?;
    let rootfs = fx.path("p10-lucet-rootfs");
    fs::create_dir_all(&rootfs)?;
    let file = rootfs.join("app.lucet");
    fs::write(&file, artifact)?;
    set_mode(&file, 0o644)?;
    Ok(rootfs)
}

/// A root file system holding a static native hello as `/hello`, compiled
/// with the system's C compiler; `None` when there is none.
fn native_rootfs(fx: &Fixture) -> Result<Option<PathBuf>> {
    let Some(cc) = on_path("cc") else {
        return Ok(None);
    };
    let source = fx.path("p10-hello.c");
    fs::write(&source, NATIVE_HELLO_C)?;
    let rootfs = fx.path("p10-native-rootfs");
    fs::create_dir_all(&rootfs)?;
    let status = Command::new(cc)
        .args(["-static", "-O2", "-o"])
        .arg(rootfs.join("hello"))
        .arg(&source)
        .status()?;
    ensure!(status.success(), "P10: cc -static failed");
    Ok(Some(rootfs))
}

fn set_mode(path: &Path, mode: u32) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    Ok(fs::set_permissions(path, fs::Permissions::from_mode(mode))?)
}
