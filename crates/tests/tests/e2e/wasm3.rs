//! WebAssembly 3.0 through the signed pipeline: GC, exception handling and
//! memory64 programs compile, sign, verify and run with the right output,
//! under the runner's limits.

use std::path::{Path, PathBuf};

use crate::util::*;

/// `fixture` compiled and signed, and the public key that verifies it.
fn signed(scratch: &Scratch, fixture_name: &str) -> (PathBuf, PathBuf) {
    let (secret, public) = scratch.raw_key_pair("release");
    let stem = fixture_name.trim_end_matches(".wat");
    let artifact = scratch.compile(&fixture(fixture_name), stem, &sk(raw(&secret)));
    (artifact, public)
}

/// `lucet-wasi --signature-pk PUBLIC EXTRA... ARTIFACT`.
fn run_verified(artifact: &Path, public: &Path, extra: &[&str]) -> Output {
    let mut command = lucet_wasi(pk(public));
    command.args(extra).arg(artifact);
    run(&mut command)
}

#[test]
fn a_gc_program_allocating_far_beyond_its_heap_runs_because_the_collector_does() {
    let scratch = Scratch::new();
    let (artifact, public) = signed(&scratch, "gc.wat");
    // 200 lists of 100,000 nodes: 20 million objects, hundreds of MiB in
    // all, through a heap capped at 16 MiB (linear memory and GC heap
    // together) that one list fits in.
    let output = run_verified(&artifact, &public, &["--max-heap-size", "16M"]);
    assert_eq!(output.ok(), "gc: 66667666670000041\n");
}

#[test]
fn a_gc_heap_over_the_limit_is_a_trap_that_names_the_limit() {
    let scratch = Scratch::new();
    let (artifact, public) = signed(&scratch, "gc.wat");
    let output = run_verified(&artifact, &public, &["--max-heap-size", "2M"]);
    output.trapped("guest trapped: GC heap out of memory");
    output.says("counts toward --max-heap-size");
}

#[test]
fn exceptions_cross_thousands_of_frames_and_rethrow_as_exnref() {
    let scratch = Scratch::new();
    let (artifact, public) = signed(&scratch, "exceptions.wat");
    let output = run_verified(&artifact, &public, &[]);
    assert_eq!(output.ok(), "caught 7 across 10000 frames\n");
}

#[test]
fn an_uncaught_exception_is_a_trap() {
    let scratch = Scratch::new();
    let source = scratch.write(
        "throw.wat",
        "(module (tag $t) (func (export \"_start\") (throw $t)))",
    );
    let artifact = scratch.compile(&source, "throw", &[]);
    run(&mut lucet_wasi([&artifact])).trapped("guest trapped: uncaught thrown Wasm exception");
}

#[test]
fn memory64_grows_past_4_gib_within_the_heap_limit_and_not_beyond() {
    let scratch = Scratch::new();
    let (artifact, public) = signed(&scratch, "memory64.wat");
    let output = run_verified(&artifact, &public, &["--max-heap-size", "5G"]);
    assert_eq!(output.ok(), "memory64: read 42 at 4 GiB + 8\n");
    // The 64-bit memory counts toward the limit like any other: growth
    // past it fails inside the guest (memory.grow gives -1).
    let output = run_verified(&artifact, &public, &["--max-heap-size", "1G"]);
    assert_eq!(output.ok(), "memory64: failed\n");
}

#[test]
fn wide_arithmetic_compiles_and_shared_memories_are_refused_in_one_line() {
    let scratch = Scratch::new();
    let wide = scratch.write(
        "wide.wat",
        r#"(module (func (export "_start")
             (drop (drop (i64.add128 (i64.const 1) (i64.const 2) (i64.const 3) (i64.const 4))))))"#,
    );
    let artifact = scratch.compile(&wide, "wide", &[]);
    assert_eq!(run(&mut lucet_wasi([&artifact])).ok(), "");
    let shared = scratch.write("shared.wat", "(module (memory 1 1 shared))");
    let out = scratch.path("shared.so");
    run(&mut lucetc([arg(&shared), "-o".into(), arg(&out)]))
        .refused(1, "threads must be enabled for shared memories");
}
