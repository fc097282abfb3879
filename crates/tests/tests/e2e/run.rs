//! lucet-wasi on its own: the WASI world, exit statuses, limits.

use crate::util::*;

fn compiled(scratch: &Scratch, name: &str) -> std::path::PathBuf {
    scratch.compile(&fixture(&format!("{name}.wat")), name, &[])
}

#[test]
fn args_and_env_reach_the_guest_and_nothing_else_does() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "echo");
    let mut command = lucet_wasi([
        "--env",
        "GREETING=hi there",
        "--env",
        "QUOTED=\"a\nb\"",
        "--env",
        "PASSED",
    ]);
    command
        .arg(&artifact)
        .args(["--", "-x", "two words"])
        .env("PASSED", "through")
        .env("LEAKED", "must not appear");
    let output = run(&mut command);
    assert_eq!(
        output.ok(),
        "echo.so\n-x\ntwo words\nGREETING=hi there\nQUOTED=\"a\nb\"\nPASSED=through\n"
    );
}

#[test]
fn env_passthrough_of_an_unset_variable_is_an_error() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "echo");
    let mut command = lucet_wasi(["--env", "LUCET_SURELY_UNSET"]);
    command.arg(&artifact).env_remove("LUCET_SURELY_UNSET");
    run(&mut command).refused(1, "LUCET_SURELY_UNSET");
}

#[test]
fn proc_exit_sets_the_status() {
    let scratch = Scratch::new();
    let output = run(&mut lucet_wasi([compiled(&scratch, "exit")]));
    assert_eq!(output.status, 42, "{output:#?}");
}

#[test]
fn a_trap_exits_134_with_its_kind_and_a_wasm_backtrace() {
    let scratch = Scratch::new();
    let output = run(&mut lucet_wasi([compiled(&scratch, "trap")]));
    assert_eq!(output.status, 134, "{output:#?}");
    assert!(output.stderr.contains("unreachable"), "{output:#?}");
    assert!(output.stderr.contains("wasm backtrace"), "{output:#?}");
    assert!(!output.stderr.contains("RUST_BACKTRACE"), "{output:#?}");
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "recurse");
    for extra in [vec![], vec!["--stack-size".to_string(), "8M".to_string()]] {
        let mut command = lucet_wasi(extra);
        command.arg(&artifact);
        let output = run(&mut command);
        assert_eq!(output.status, 134, "{output:#?}");
        assert!(
            output.stderr.contains("call stack exhausted"),
            "{output:#?}"
        );
    }
}

#[test]
fn an_infinite_loop_is_stopped_by_the_timeout() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "loop");
    let started = std::time::Instant::now();
    let output = run(&mut lucet_wasi([
        "--timeout".into(),
        "300ms".into(),
        arg(&artifact),
    ]));
    assert_eq!(output.status, 124, "{output:#?}");
    assert!(output.stderr.contains("--timeout"), "{output:#?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

#[test]
fn memory_growth_stops_at_the_heap_limit() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "grow");
    // 1 MiB = 16 pages; the module starts with 1, so 15 grows succeed.
    let output = run(&mut lucet_wasi([
        "--max-heap-size".into(),
        "1M".into(),
        arg(&artifact),
    ]));
    assert_eq!(output.status, 15, "{output:#?}");
    let output = run(&mut lucet_wasi([&artifact]));
    assert_eq!(
        output.status, 100,
        "without a limit all 1000 grows succeed: {output:#?}"
    );
}

#[test]
fn preopened_directories_are_the_only_files_the_guest_sees() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "cat");
    let dir = scratch.path("data");
    std::fs::create_dir(&dir).expect("mkdir");
    std::fs::write(dir.join("note.txt"), "inside\n").expect("write");
    scratch.write("secret.txt", "outside\n");
    let with_dir = |file: &str| {
        let mut command = lucet_wasi(["--dir".to_string(), format!("{}::/data", dir.display())]);
        command.arg(&artifact).args(["--", file]);
        run(&mut command)
    };
    assert_eq!(with_dir("note.txt").ok(), "inside\n");
    for escape in [
        "../secret.txt",
        "/etc/passwd",
        "../../../../../../etc/passwd",
    ] {
        let output = with_dir(escape);
        assert_eq!(output.status, 1, "{escape} was opened: {output:#?}");
        assert!(output.stdout.is_empty());
    }
    let mut missing = lucet_wasi(["--dir", "/no/such/dir"]);
    missing.arg(&artifact);
    run(&mut missing).refused(1, "/no/such/dir");
}

#[test]
fn other_entrypoints_can_be_called_and_missing_ones_are_named() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "exit");
    run(&mut lucet_wasi([
        "--entrypoint".into(),
        "nope".into(),
        arg(&artifact),
    ]))
    .refused(1, "no exported function `nope`");
}

#[test]
fn webassembly_given_to_the_runner_gets_a_hint_to_compile_it() {
    let scratch = Scratch::new();
    let wasm = scratch.write("hello.wasm", wat::parse_file(hello_wat()).expect("wat"));
    run(&mut lucet_wasi([&wasm])).refused(1, "compile it first with `lucetc");
    run(&mut lucet_wasi([hello_wat()])).refused(1, "compile it first with `lucetc");
    let junk = scratch.write("junk.so", b"not an artifact at all, just some text");
    run(&mut lucet_wasi([&junk])).refused(1, "not a lucet artifact");
    run(&mut lucet_wasi([scratch.path("absent.so")])).refused(1, "cannot open");
}

#[test]
fn malformed_limits_are_usage_errors() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "exit");
    for (flag, value) in [
        ("--max-heap-size", "lots"),
        ("--stack-size", "1.5M"),
        ("--timeout", "soon"),
    ] {
        let output = run(&mut lucet_wasi([
            flag.to_string(),
            value.to_string(),
            arg(&artifact),
        ]));
        assert_eq!(output.status, 2, "{flag} {value}: {output:#?}");
        assert!(output.stderr.contains(value), "{output:#?}");
    }
    run(&mut lucet_wasi([
        "--stack-size".into(),
        "1K".into(),
        arg(&artifact),
    ]))
    .refused(1, "--stack-size");
}

/// Rewrites one field of an unsigned artifact's metadata block, fixing up the footer.
fn with_metadata(artifact: &[u8], from: &str, to: &str) -> Vec<u8> {
    let footer = artifact.len() - 16;
    let block_len = u32::from_le_bytes(artifact[footer + 12..].try_into().expect("u32")) as usize;
    let block = footer - block_len;
    let line = String::from_utf8(artifact[block..footer].to_vec()).expect("utf8 metadata");
    assert!(line.contains(from), "{from} not in {line}");
    let line = line.replacen(from, to, 1);
    let mut out = artifact[..block].to_vec();
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(&artifact[footer..footer + 12]);
    out.extend_from_slice(&(line.len() as u32).to_le_bytes());
    out
}

#[test]
fn recorded_engine_target_cpu_and_settings_must_match_the_runner() {
    let scratch = Scratch::new();
    let artifact = std::fs::read(compiled(&scratch, "exit")).expect("read");
    let host_target = {
        let text = String::from_utf8_lossy(&artifact);
        let start = text.find(" target=").expect("target") + 8;
        text[start..].split(' ').next().expect("value").to_string()
    };
    let cases = [
        (
            "engine=wasmtime-48.0.8",
            "engine=wasmtime-48.0.7",
            "compiled by wasmtime-48.0.7, but this runtime is wasmtime-48.0.8",
        ),
        (
            &format!("target={host_target}") as &str,
            "target=riscv64gc-unknown-linux-gnu",
            "artifact targets riscv64gc",
        ),
        (
            "settings=opt:speed_and_size,epoch:1",
            "settings=opt:speed_and_size,epoch:0",
            "cannot load artifact",
        ),
        (
            "settings=opt:speed_and_size,epoch:1,reserve:4294967296",
            "settings=opt:speed_and_size,epoch:1,reserve:8589934592",
            "cannot load artifact",
        ),
        ("lucet-artifact=1 ", "lucet-artifact=2 ", "metadata version"),
    ];
    for (from, to, needle) in cases {
        let path = scratch.write("edited.so", with_metadata(&artifact, from, to));
        run(&mut lucet_wasi([&path])).refused(1, needle);
    }
    // CPU features the host lacks are named before wasmtime sees the image.
    let text = String::from_utf8_lossy(&artifact).into_owned();
    let start = text.find(" cpu=").expect("cpu") + 1;
    let cpu = text[start..].split(' ').next().expect("value").to_string();
    let path = scratch.write(
        "cpu.so",
        with_metadata(&artifact, &cpu, "cpu=+quantum-tunnelling"),
    );
    run(&mut lucet_wasi([&path])).refused(1, "lacks (quantum-tunnelling)");
    // The unedited artifact still runs, so the edits above are what was refused.
    let path = scratch.write("same.so", with_metadata(&artifact, "engine=", "engine="));
    assert_eq!(run(&mut lucet_wasi([&path])).status, 42);
}

/// Runs `command` to completion, sampling its peak resident set (VmHWM) from
/// /proc while it runs; returns the output and the peak in bytes.
fn run_measuring_peak_rss(command: &mut std::process::Command) -> (Output, u64) {
    use std::process::Stdio;
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let sampler = std::thread::spawn(move || {
        let mut peak = 0;
        while let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            match hwm {
                Some(kb) => peak = peak.max(kb * 1024),
                None => break, // a zombie has no memory lines
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        peak
    });
    let out = child.wait_with_output().expect("wait");
    let peak = sampler.join().expect("sampler");
    let output = Output {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    (output, peak)
}

#[test]
fn a_memory_bomb_stays_within_the_heap_limit() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "bomb");
    let bomb = |limit: &str| {
        run_measuring_peak_rss(&mut lucet_wasi([
            "--max-heap-size".into(),
            limit.into(),
            "--timeout".into(),
            "1500ms".into(),
            arg(&artifact),
        ]))
    };
    let (small, small_peak) = bomb("64M");
    let (large, large_peak) = bomb("320M");
    // Both hit their limit (memory.grow returned -1) and then spun until the timeout.
    assert_eq!(small.status, 124, "{small:#?}");
    assert_eq!(large.status, 124, "{large:#?}");
    // The guest's memory is real (the larger limit costs ~256 MiB more), and
    // the smaller limit bounds the host: its peak is the runner plus 64 MiB.
    assert!(
        large_peak > small_peak + (200 << 20),
        "touching memory did not show in RSS: {small_peak} vs {large_peak}"
    );
    let runner_baseline = large_peak - (320 << 20);
    assert!(
        small_peak < runner_baseline + (64 << 20) + (32 << 20),
        "peak RSS {small_peak} exceeds the runner ({runner_baseline}) + 64 MiB + slack"
    );
    println!(
        "peak RSS: {} MiB at --max-heap-size 64M, {} MiB at 320M",
        small_peak >> 20,
        large_peak >> 20
    );
}
