//! lucetc on its own: inputs, outputs, options and their errors.

use crate::util::*;

#[test]
fn wat_and_wasm_inputs_compile_and_run() {
    let scratch = Scratch::new();
    let artifact = scratch.compile(&hello_wat(), "from-wat", &[]);
    assert_eq!(run(&mut lucet_wasi([&artifact])).ok(), HELLO);

    let wasm = scratch.write("hello.wasm", wat::parse_file(hello_wat()).expect("wat"));
    let artifact = scratch.compile(&wasm, "from-wasm", &[]);
    assert_eq!(run(&mut lucet_wasi([&artifact])).ok(), HELLO);
}

#[test]
fn default_output_is_the_input_stem_with_so_beside_it() {
    let scratch = Scratch::new();
    let input = scratch.write("prog.wat", std::fs::read(hello_wat()).expect("read"));
    run(&mut lucetc([&input])).ok();
    assert!(scratch.path("prog.so").is_file());
}

#[test]
fn compilation_is_deterministic_under_source_date_epoch() {
    let scratch = Scratch::new();
    let mut one = lucetc([arg(&hello_wat()), "-o".into(), arg(&scratch.path("1.so"))]);
    let mut two = lucetc([arg(&hello_wat()), "-o".into(), arg(&scratch.path("2.so"))]);
    run(one.env("SOURCE_DATE_EPOCH", "1700000000")).ok();
    run(two.env("SOURCE_DATE_EPOCH", "1700000000")).ok();
    assert_eq!(
        std::fs::read(scratch.path("1.so")).expect("read"),
        std::fs::read(scratch.path("2.so")).expect("read")
    );
}

#[test]
fn options_are_recorded_and_honoured() {
    let scratch = Scratch::new();
    let args: Vec<String> = [
        "--opt-level",
        "0",
        "--target-cpu",
        "baseline",
        "--reserved-size",
        "1G",
        "--guard-size",
        "64K",
    ]
    .map(String::from)
    .to_vec();
    let artifact = scratch.compile(&hello_wat(), "opts", &args);
    let bytes = std::fs::read(&artifact).expect("read");
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("cpu=baseline"), "cpu not recorded");
    assert!(
        text.contains("settings=opt:none,epoch:1,reserve:1073741824,guard:65536"),
        "settings not recorded"
    );
    assert_eq!(run(&mut lucet_wasi([&artifact])).ok(), HELLO);
}

#[test]
fn cross_compiles_with_a_baseline_cpu() {
    let scratch = Scratch::new();
    let target = if cfg!(target_arch = "x86_64") {
        "aarch64-unknown-linux-gnu"
    } else {
        "x86_64-unknown-linux-gnu"
    };
    let args = ["--target", target, "--target-cpu", "baseline"].map(String::from);
    let artifact = scratch.compile(&hello_wat(), "cross", &args);
    // The runner refuses it by name rather than trying to map foreign code.
    run(&mut lucet_wasi([&artifact])).refused(1, &format!("artifact targets {target}"));
    // `native` describes this host only.
    let output = run(&mut lucetc([
        arg(&hello_wat()),
        "--target".into(),
        target.into(),
        "-o".into(),
        arg(&scratch.path("x.so")),
    ]));
    output.refused(1, "`native` describes this host");
    output.says("pass --target-cpu baseline");
}

#[test]
fn invalid_inputs_are_one_line_errors() {
    let scratch = Scratch::new();
    let out = |name: &str| arg(&scratch.path(name));
    // Invalid wasm: the validator's message with its offset.
    let bad = scratch.write("bad.wasm", b"\0asm\x01\0\0\0\x01\x04\x01\x60");
    run(&mut lucetc([arg(&bad), "-o".into(), out("bad.so")])).refused(1, "offset");
    let garbage = scratch.write("garbage.wat", b"(module (func $f (i32.add)))");
    run(&mut lucetc([arg(&garbage), "-o".into(), out("g.so")])).refused(1, "garbage.wat");
    let text = scratch.write("text.wat", b"(module)");
    run(&mut lucetc([
        arg(&text),
        "--no-translate-wat".into(),
        "-o".into(),
        out("t.so"),
    ]))
    .refused(1, "--no-translate-wat");
    run(&mut lucetc([out("missing.wasm")])).refused(1, "missing.wasm");
    run(&mut lucetc([
        arg(&hello_wat()),
        "-o".into(),
        out("no/such/dir/x.so"),
    ]))
    .refused(1, "output directory");
    for (flag, value, needle) in [
        ("--reserved-size", "12X", "invalid size"),
        ("--opt-level", "9", "optimisation level"),
        ("--target-cpu", "pentium", "target CPU"),
        ("--target-feature", "+warp-drive", "unknown"),
        ("--min-reserved-size", "1M", "use --reserved-size"),
    ] {
        let output = run(&mut lucetc([
            arg(&hello_wat()),
            flag.into(),
            value.into(),
            "-o".into(),
            out("x.so"),
        ]));
        assert!(
            output.status == 1 || output.status == 2,
            "{flag}: {output:#?}"
        );
        assert!(output.stderr.contains(needle), "{flag}: {output:#?}");
    }
    assert!(
        !scratch.path("x.so").exists(),
        "a failed compile left an artifact"
    );
}

#[test]
fn lucet_flags_without_their_keys_are_errors() {
    let scratch = Scratch::new();
    let out = arg(&scratch.path("x.so"));
    run(&mut lucetc([
        arg(&hello_wat()),
        "--signature-verify".into(),
        "-o".into(),
        out.clone(),
    ]))
    .usage_error("--signature-verify verifies the source's signature");
    run(&mut lucetc([
        arg(&hello_wat()),
        "--signature-create".into(),
        "-o".into(),
        out,
    ]))
    .usage_error("--signature-create signs the artifact");
}

#[test]
fn no_interruption_artifacts_refuse_timeouts() {
    let scratch = Scratch::new();
    let artifact = scratch.compile(&fixture("loop.wat"), "fast", &["--no-interruption".into()]);
    run(&mut lucet_wasi([
        "--timeout".into(),
        "1s".into(),
        arg(&artifact),
    ]))
    .refused(1, "--no-interruption");
    let quick = scratch.compile(&hello_wat(), "quick", &["--no-interruption".into()]);
    assert_eq!(run(&mut lucet_wasi([&quick])).ok(), HELLO);
}

#[test]
fn version_names_wasmtime_and_the_format() {
    let output = run(&mut lucetc(["--version"]));
    assert!(
        output
            .ok()
            .contains("wasmtime 48.0.8, artifact format v3, compiler: cranelift")
    );
    let output = run(&mut lucet_wasi(["--version"]));
    assert!(output.ok().contains("wasmtime 48.0.8, artifact format v3"));
}
