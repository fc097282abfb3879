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
