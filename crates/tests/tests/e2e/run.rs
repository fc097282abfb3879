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
fn everything_after_the_module_is_the_guest_s_as_with_wasmtime_run() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "echo");
    // Flags of lucet-wasi's own, after MODULE, are the guest's arguments.
    let mut command = lucet_wasi(["--argv0", "echo"]);
    command
        .arg(&artifact)
        .args(["--env", "X=1", "-v", "--", "--timeout"]);
    assert_eq!(
        run(&mut command).ok(),
        "echo\n--env\nX=1\n-v\n--\n--timeout\n"
    );
}

#[test]
fn inherit_env_passes_the_whole_environment_and_env_overrides_it() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "echo");
    let mut command = lucet_wasi(["--inherit-env", "--env", "OVERRIDDEN=by flag"]);
    command
        .arg(&artifact)
        .env_clear()
        .env("INHERITED", "yes")
        .env("OVERRIDDEN", "by host");
    assert_eq!(
        run(&mut command).ok(),
        "echo.so\nINHERITED=yes\nOVERRIDDEN=by flag\n"
    );
}

#[test]
fn an_unverified_run_says_so_unless_allowed_explicitly() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "echo");
    let output = run(lucet_wasi_noticing([&artifact]).env_remove("LUCET_SIGNATURE_PK"));
    assert_eq!(output.ok(), "echo.so\n");
    assert_eq!(output.stderr.lines().count(), 1, "{output:#?}");
    output.says("notice: running");
    output.says("unverified");
    output.says("--allow-unverified");
    let output = run(&mut lucet_wasi([&artifact]));
    assert_eq!(output.ok(), "echo.so\n");
    assert!(output.stderr.is_empty(), "{output:#?}");
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

/// Compiles the WebAssembly text `wat` as `<stem>.so`.
fn compiled_text(scratch: &Scratch, stem: &str, wat: &str) -> std::path::PathBuf {
    let source = scratch.write(&format!("{stem}.wat"), wat);
    scratch.compile(&source, stem, &[])
}

/// A command whose `_start` calls `proc_exit(status)`.
fn exiting_with(scratch: &Scratch, status: i32) -> std::path::PathBuf {
    let wat = format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $proc_exit (i32.const {status}))))"#
    );
    compiled_text(scratch, &format!("exit{}", status as u32), &wat)
}

#[test]
fn exit_statuses_up_to_125_pass_through_and_124_can_be_imitated() {
    let scratch = Scratch::new();
    for status in [0, 1, 42, 124, 125] {
        let output = run(&mut lucet_wasi([exiting_with(&scratch, status)]));
        assert_eq!(output.status, status, "{output:#?}");
        // Nothing tells the guest's 124 or 1 apart from lucet-wasi's own but
        // stderr, which the guest can write too (README, exit statuses).
        assert!(output.stderr.is_empty(), "{output:#?}");
    }
}

#[test]
fn exit_statuses_a_process_cannot_pass_on_exit_1_naming_the_status() {
    let scratch = Scratch::new();
    for status in [126, 134, 255, 256, -1] {
        let output = run(&mut lucet_wasi([exiting_with(&scratch, status)]));
        output.refused(
            1,
            &format!("guest exited with status {status}, which a process cannot pass on"),
        );
        assert!(output.stderr.contains("exiting 1"), "{output:#?}");
    }
}

#[test]
fn a_start_function_ends_the_run_as_the_guest_and_is_timed_out() {
    let scratch = Scratch::new();
    let start = |name: &str, body: &str| {
        let wat = format!(
            r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $start {body})
  (start $start)
  (func (export "_start")))"#
        );
        compiled_text(&scratch, name, &wat)
    };
    let exits = start("start-exit", "(call $proc_exit (i32.const 3))");
    assert_eq!(run(&mut lucet_wasi([exits])).status, 3);
    let traps = start("start-trap", "unreachable");
    let output = run(&mut lucet_wasi([traps]));
    assert_eq!(output.status, 134, "{output:#?}");
    assert!(output.stderr.contains("unreachable"), "{output:#?}");
    // The timer runs from before instantiation: a start function that spins
    // is stopped (the bound only turns a hang into a failure).
    let spins = start("start-spin", "(loop $forever (br $forever))");
    let output = run_bounded(
        &mut lucet_wasi(["--timeout".into(), "300ms".into(), arg(&spins)]),
        std::time::Duration::from_secs(120),
    );
    assert_eq!(output.status, 124, "{output:#?}");
}

#[test]
fn a_trap_exits_134_with_its_kind_and_a_wasm_backtrace() {
    let scratch = Scratch::new();
    let output = run(&mut lucet_wasi([compiled(&scratch, "trap")]));
    output.trapped("unreachable");
    output.says("wasm backtrace");
    assert!(!output.stderr.contains("RUST_BACKTRACE"), "{output:#?}");
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let scratch = Scratch::new();
    let artifact = compiled(&scratch, "recurse");
    for extra in [vec![], vec!["--stack-size".to_string(), "8M".to_string()]] {
        let mut command = lucet_wasi(extra);
        command.arg(&artifact);
        run(&mut command).trapped("call stack exhausted");
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
        ("--max-table-elements", "many"),
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
    .usage_error("outside 64K to 1G");
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
        ("lucet-artifact=3 ", "lucet-artifact=4 ", "metadata version"),
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

/// A guest that grows its memory one 64 KiB page at a time, writing a byte to
/// every 4 KiB of each new page so that it costs real memory, until
/// memory.grow fails; then it exits with the MiB it holds (memory.size / 16),
/// so the test knows it reached its limit, however fast it ran.
const BOMB: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (local $page i32) (local $offset i32)
    (block $full
      (loop $grow
        (local.set $page (memory.grow (i32.const 1)))
        (br_if $full (i32.eq (local.get $page) (i32.const -1)))
        (local.set $offset (i32.mul (local.get $page) (i32.const 65536)))
        (loop $touch
          (i32.store8 (local.get $offset) (i32.const 1))
          (local.set $offset (i32.add (local.get $offset) (i32.const 4096)))
          (br_if $touch (i32.rem_u (local.get $offset) (i32.const 65536))))
        (br $grow)))
    (call $proc_exit (i32.shr_u (memory.size) (i32.const 4)))))"#;

/// The peak resident set of a finished child, in bytes, from `wait4`.
///
/// Linux also counts, in a child's peak, the parent's resident set at the
/// moment the child called `exec` (the address space it left, which was
/// this test process's), so peaks are only compared with the peak of a
/// baseline run started after the measured one.
#[allow(
    unsafe_code,
    reason = "wait4 with rusage: neither std nor rustix has it"
)]
fn wait_with_peak_rss(child: &std::process::Child) -> (i32, u64) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain integers, for which all zeroes is valid.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals, written only during the
        // call; `pid` is our unreaped child (std reaps only in `wait`, which
        // is never called on it).
        let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if reaped == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::Interrupted,
            "wait4: {error}"
        );
    }
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // ru_maxrss is in KiB on Linux.
    let peak = u64::try_from(usage.ru_maxrss).expect("non-negative ru_maxrss") << 10;
    (code, peak)
}

/// Runs `artifact` under `--max-heap-size LIMIT` with stdin closed; returns
/// its output and peak resident set in bytes, read when it is reaped (no
/// sampling, so no race with it).
fn run_with_heap_limit(artifact: &std::path::Path, limit: &str) -> (Output, u64) {
    let running = DrainedChild::spawn(&mut lucet_wasi([
        "--max-heap-size".into(),
        limit.into(),
        arg(artifact),
    ]));
    let (status, peak) = wait_with_peak_rss(&running.child);
    (running.output(status), peak)
}

/// Slack over the heap limit for what else the runner's peak may hold
/// beyond the baseline's (page tables, allocator noise): far less than the
/// memory an unbounded guest would add.
const SLACK: u64 = 32 << 20;

/// Asserts that a run under `--max-heap-size 64M` peaked at no more than
/// the runner's own peak (`baseline_peak`, a run under 1M) + 64 MiB + slack.
#[track_caller]
fn assert_within_64_mib_of_baseline(peak: u64, baseline_peak: u64) {
    assert!(
        peak < baseline_peak + (64 << 20) + SLACK,
        "peak RSS {peak} exceeds the runner's ({baseline_peak}) + 64 MiB + slack"
    );
}

#[test]
fn a_memory_bomb_stays_within_the_heap_limit() {
    let scratch = Scratch::new();
    let artifact = compiled_text(&scratch, "bomb", BOMB);
    let (bombed, peak) = run_with_heap_limit(&artifact, "64M");
    // The guest held exactly 64 MiB when memory.grow failed, having touched
    // every page of it.
    assert_eq!(bombed.status, 64, "{bombed:#?}");
    assert!(
        peak >= 48 << 20,
        "64 MiB of touched pages do not show: {peak}"
    );
    let (baseline, baseline_peak) = run_with_heap_limit(&artifact, "1M");
    assert_eq!(baseline.status, 1, "{baseline:#?}");
    assert_within_64_mib_of_baseline(peak, baseline_peak);
    println!(
        "peak RSS: {} MiB at --max-heap-size 64M, {} MiB at 1M",
        peak >> 20,
        baseline_peak >> 20
    );
}

/// A guest with `count` memories of no pages that tries to grow each to 16
/// MiB, touching every 4 KiB of what it gets; it exits with the number of
/// memories that grew.
fn many_memories(count: usize) -> String {
    let memories: String = (0..count)
        .map(|i| format!("  (memory $m{i} 0)\n"))
        .collect();
    let grows: String = (0..count)
        .map(|i| {
            format!(
                r#"    (if (i32.ne (memory.grow $m{i} (i32.const 256)) (i32.const -1))
      (then
        (local.set $grown (i32.add (local.get $grown) (i32.const 1)))
        (local.set $offset (i32.const 0))
        (loop $touch{i}
          (i32.store8 $m{i} (local.get $offset) (i32.const 1))
          (local.set $offset (i32.add (local.get $offset) (i32.const 4096)))
          (br_if $touch{i} (i32.lt_u (local.get $offset) (i32.const 16777216))))))
"#
            )
        })
        .collect();
    format!(
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
{memories}  (func (export "_start") (local $grown i32) (local $offset i32)
{grows}    (call $proc_exit (local.get $grown))))"#
    )
}

#[test]
fn the_heap_limit_bounds_all_memories_together() {
    let scratch = Scratch::new();
    // Forty memories of 16 MiB would be 640 MiB; each alone is far under
    // the 64 MiB limit, which four fill.
    let artifact = compiled_text(&scratch, "memories", &many_memories(40));
    let (output, peak) = run_with_heap_limit(&artifact, "64M");
    assert_eq!(output.status, 4, "memories grown: {output:#?}");
    let (baseline, baseline_peak) = run_with_heap_limit(&artifact, "1M");
    assert_eq!(baseline.status, 0, "{baseline:#?}");
    assert_within_64_mib_of_baseline(peak, baseline_peak);
}

/// A guest with two tables of no elements: it tries to grow the first by
/// 2^28 elements (2 GiB of references), then each by 1500, and exits with
/// bit 0 set when the huge growth was refused, bits 1 and 2 when the first
/// and second 1500 were granted.
const TABLES: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (table $a 0 funcref)
  (table $b 0 funcref)
  (func (export "_start") (local $bits i32)
    (if (i32.eq (table.grow $a (ref.null func) (i32.const 0x10000000)) (i32.const -1))
      (then (local.set $bits (i32.const 1))))
    (if (i32.ne (table.grow $a (ref.null func) (i32.const 1500)) (i32.const -1))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 2)))))
    (if (i32.ne (table.grow $b (ref.null func) (i32.const 1500)) (i32.const -1))
      (then (local.set $bits (i32.or (local.get $bits) (i32.const 4)))))
    (call $proc_exit (local.get $bits))))"#;

#[test]
fn table_growth_is_bounded_for_all_tables_together() {
    let scratch = Scratch::new();
    let artifact = compiled_text(&scratch, "tables", TABLES);
    let with = |flags: &[&str]| {
        let mut command = lucet_wasi(flags);
        command.arg(&artifact);
        run(&mut command).status
    };
    // The default (2^20) refuses the huge growth and grants the rest.
    assert_eq!(with(&[]), 0b111);
    // 2K elements: one table of 1500 fits, two do not.
    assert_eq!(with(&["--max-table-elements", "2K"]), 0b011);
    assert_eq!(with(&["--max-table-elements", "1000"]), 0b001);
    assert_eq!(with(&["--max-table-elements", "3000"]), 0b111);
}

#[test]
fn a_module_whose_initial_memories_or_tables_exceed_the_limits_does_not_start() {
    let scratch = Scratch::new();
    // Two memories of 40 MiB: each fits under 64M, together they do not.
    let memories = compiled_text(
        &scratch,
        "initial-memories",
        r#"(module (memory 640) (memory 640) (func (export "_start")))"#,
    );
    let mut command = lucet_wasi(["--max-heap-size", "64M"]);
    command.arg(&memories);
    let output = run(&mut command);
    output.refused(
        1,
        "module cannot start: its linear memories need 83886080 bytes together, more than the heap limit of 67108864 bytes; raise --max-heap-size",
    );
    let mut command = lucet_wasi(["--max-heap-size", "80M"]);
    command.arg(&memories);
    assert_eq!(run(&mut command).status, 0);

    let table = compiled_text(
        &scratch,
        "initial-table",
        r#"(module (table 1048577 funcref) (func (export "_start")))"#,
    );
    run(&mut lucet_wasi([&table])).refused(
        1,
        "more than the limit of 1048576 elements; raise --max-table-elements",
    );
    let mut command = lucet_wasi(["--max-table-elements", "2M"]);
    command.arg(&table);
    assert_eq!(run(&mut command).status, 0);
}

#[test]
fn invoke_calls_any_export_with_arguments_and_prints_its_results() {
    let scratch = Scratch::new();
    let math = compiled_text(
        &scratch,
        "math",
        r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "split") (param f64 i64) (result f64 i64)
    (f64.div (local.get 0) (f64.const 4)) (i64.sub (i64.const 0) (local.get 1)))
  (func (export "nothing")))"#,
    );
    let invoke = |args: &[&str]| {
        let mut command = lucet_wasi(["--invoke"]);
        command.args(&args[..1]).arg(&math).args(&args[1..]);
        run(&mut command)
    };
    assert_eq!(invoke(&["add", "2", "40"]).ok(), "42\n");
    assert_eq!(invoke(&["add", "-1", "4294967295"]).ok(), "-2\n");
    assert_eq!(invoke(&["split", "1", "7"]).ok(), "0.25\n-7\n");
    assert_eq!(invoke(&["nothing"]).ok(), "");
    invoke(&["add", "2"]).refused(1, "it takes 2 argument(s) (i32, i32); 1 given");
    invoke(&["add", "2", "x"]).refused(1, "argument 2 `x` is not an i32");
    invoke(&["sub"]).refused(1, "it exports: add, split, nothing");
    // As the entry point, a missing export is named with what there is.
    run(lucet_wasi(["--entrypoint", "sub"]).arg(&math))
        .refused(1, "it exports: add, split, nothing");
    let usage = run(lucet_wasi(["--invoke", "add", "--entrypoint", "x"]).arg(&math));
    assert_eq!(usage.status, 2, "{usage:#?}");
}
