//! The library API against real artifacts, a real pooled engine and real WASI.

use std::time::{Duration, Instant};

use lucet_embed::{
    EngineSettings, Error, Host, HostConfig, InstanceConfig, LimitRefusal, LimitedResource,
    ModuleHandle, Outcome, Policy, PoolingLimits, RunOutput, TrapKind,
};

use crate::util::{Build, Fixtures, host, load};

fn stdin(bytes: &[u8]) -> InstanceConfig {
    InstanceConfig {
        stdin: bytes.to_vec(),
        ..InstanceConfig::default()
    }
}

/// Runs `module` with all its memories together limited to `max_memory`.
fn run_with_memory(module: &ModuleHandle, max_memory: Option<u64>) -> RunOutput {
    module
        .run(InstanceConfig {
            max_memory,
            ..InstanceConfig::default()
        })
        .expect("run")
}

/// The kind of trap that ended `output`'s run.
#[track_caller]
fn trap_kind(output: &RunOutput) -> TrapKind {
    match &output.outcome {
        Outcome::Trapped(trap) => trap.kind,
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn runs_stdin_through_the_guest() {
    let host = host(2);
    let upper = load(&host, "upper");
    assert_eq!(upper.name(), "upper");
    assert_eq!(upper.metadata().engine, lucet_runtime::ENGINE);
    let output = upper.run(stdin(b"Hello, world!")).expect("run");
    assert_eq!(output.outcome, Outcome::Exited(0));
    assert!(output.success());
    assert_eq!(output.stdout, b"HELLO, WORLD!");
    assert!(output.stderr.is_empty());
}

#[test]
fn two_hundred_fresh_instances_of_one_module() {
    // Two slots for 200 runs: the pool's slots are reused, and each run must
    // still see freshly initialised memory and globals ("1 1"), never what
    // the previous instance in that slot left ("2 2").
    let host = host(2);
    let fresh = load(&host, "fresh");
    for run in 0..200 {
        let output = fresh.run(InstanceConfig::default()).expect("run");
        assert_eq!(output.outcome, Outcome::Exited(0), "run {run}");
        assert_eq!(output.stdout, b"1 1\n", "run {run}");
    }
}

#[test]
fn concurrent_instances_share_one_loaded_module() {
    let host = host(4);
    let upper = load(&host, "upper");
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let upper = upper.clone();
                scope.spawn(move || {
                    for run in 0..25 {
                        let input = format!("worker {worker} run {run}");
                        let output = upper.run(stdin(input.as_bytes())).expect("run");
                        assert_eq!(output.stdout, input.to_uppercase().as_bytes());
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().expect("worker");
        }
    });
}

#[test]
fn a_full_pool_refuses_instead_of_queueing() {
    let host = host(1);
    let spin = load(&host, "spin");
    let fresh = load(&host, "fresh");
    std::thread::scope(|scope| {
        let spinning = scope.spawn(|| {
            loop {
                let result = spin.run(InstanceConfig {
                    deadline: Some(Duration::from_secs(3)),
                    ..InstanceConfig::default()
                });
                // The other thread may hold the slot for a moment first.
                if !matches!(result, Err(Error::PoolExhausted(_))) {
                    return result;
                }
            }
        });
        // The only slot is taken as soon as the spinning guest instantiates.
        let mut refused = None;
        while !spinning.is_finished() {
            match fresh.run(InstanceConfig::default()) {
                Err(Error::PoolExhausted(full)) => {
                    refused = Some(full.to_string());
                    break;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        let spun = spinning.join().expect("spinning thread").expect("run");
        let reason =
            refused.unwrap_or_else(|| panic!("no refusal while the pool was full: {spun:?}"));
        assert!(reason.contains("limit of 1"), "{reason}");
        assert!(matches!(spun.outcome, Outcome::TimedOut(_)), "{spun:?}");
    });
    // The slot is back.
    let output = fresh.run(InstanceConfig::default()).expect("run");
    assert_eq!(output.stdout, b"1 1\n");
}

#[test]
fn a_deadline_stops_an_infinite_loop() {
    let host = host(2);
    let spin = load(&host, "spin");
    let started = Instant::now();
    let output = spin
        .run(InstanceConfig {
            deadline: Some(Duration::from_millis(300)),
            ..InstanceConfig::default()
        })
        .expect("run");
    assert_eq!(
        output.outcome,
        Outcome::TimedOut(Duration::from_millis(300))
    );
    assert!(output.elapsed >= Duration::from_millis(300), "{output:?}");
    assert!(started.elapsed() < Duration::from_secs(10), "{output:?}");
}

#[test]
fn one_deadline_does_not_stop_another_instance() {
    // Both stores wait on the same engine epoch; each must keep its own
    // deadline.
    let host = host(2);
    let spin = load(&host, "spin");
    let run = |deadline| {
        spin.run(InstanceConfig {
            deadline: Some(deadline),
            ..InstanceConfig::default()
        })
        .expect("run")
    };
    // Far apart, so that a loaded machine delaying the short run's end by
    // a second or two still tells the two deadlines apart.
    let long_deadline = Duration::from_secs(4);
    std::thread::scope(|scope| {
        let long = scope.spawn(|| run(long_deadline));
        let short = scope.spawn(|| run(Duration::from_millis(100)));
        let short = short.join().expect("short");
        let long = long.join().expect("long");
        assert_eq!(short.outcome, Outcome::TimedOut(Duration::from_millis(100)));
        assert!(short.elapsed < long_deadline, "{short:?}");
        assert_eq!(long.outcome, Outcome::TimedOut(long_deadline));
        assert!(long.elapsed >= long_deadline, "{long:?}");
    });
}

#[test]
fn a_memory_limit_makes_memory_grow_fail() {
    let host = host(2);
    let grow = load(&host, "grow");
    let run = |max_memory| {
        let output = run_with_memory(&grow, max_memory);
        assert_eq!(output.outcome, Outcome::Exited(0));
        String::from_utf8(output.stdout).expect("text")
    };
    // The guest has 64 KiB and asks for 1 MiB more.
    assert_eq!(run(Some(512 << 10)), "refused\n");
    assert_eq!(run(Some(2 << 20)), "grown\n");
    assert_eq!(run(None), "grown\n");

    // The pool's limit applies when the instance sets none.
    let mut config = HostConfig::new(Fixtures::get().keys());
    config.pooling = PoolingLimits {
        max_instances: 1,
        max_memory_size: 512 << 10,
        ..PoolingLimits::default()
    };
    let small = Host::new(config).expect("host");
    let grow = load(&small, "grow");
    let output = grow.run(InstanceConfig::default()).expect("run");
    assert_eq!(output.stdout, b"refused\n");
}

/// A command with four memories of no pages and two empty tables: it grows
/// each memory by 8 pages (512 KiB), then each table by 600 elements, and
/// exits with 10 × the memories grown + the tables grown.
const MEMORIES_AND_TABLES: &str = r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory $m0 (export "memory") 0) (memory $m1 0) (memory $m2 0) (memory $m3 0)
  (table $a 0 funcref) (table $b 0 funcref)
  (func $count (param $old i32) (param $add i32) (param $n i32) (result i32)
    (i32.add (local.get $n)
      (select (i32.const 0) (local.get $add) (i32.eq (local.get $old) (i32.const -1)))))
  (func (export "_start") (local $n i32)
    (local.set $n (call $count (memory.grow $m0 (i32.const 8)) (i32.const 10) (local.get $n)))
    (local.set $n (call $count (memory.grow $m1 (i32.const 8)) (i32.const 10) (local.get $n)))
    (local.set $n (call $count (memory.grow $m2 (i32.const 8)) (i32.const 10) (local.get $n)))
    (local.set $n (call $count (memory.grow $m3 (i32.const 8)) (i32.const 10) (local.get $n)))
    (local.set $n (call $count (table.grow $a (ref.null func) (i32.const 600)) (i32.const 1) (local.get $n)))
    (local.set $n (call $count (table.grow $b (ref.null func) (i32.const 600)) (i32.const 1) (local.get $n)))
    (call $proc_exit (local.get $n))))"#;

#[test]
fn limits_bound_all_memories_and_all_tables_together() {
    // The pool allows four memories of 1 MiB and two tables of 1000
    // elements each; the instance's limits are on their sums.
    let mut config = HostConfig::new(Fixtures::get().keys());
    config.pooling = PoolingLimits {
        max_instances: 1,
        max_memories_per_module: 4,
        max_memory_size: 1 << 20,
        max_tables_per_module: 2,
        max_table_elements: 1000,
        ..PoolingLimits::default()
    };
    let host = Host::new(config).expect("host");
    let artifact = Fixtures::get().artifact_from_text("memories-and-tables", MEMORIES_AND_TABLES);
    let module = host.load_verified(&artifact).expect("load");
    let run = |max_memory| run_with_memory(&module, max_memory).exit_code();
    // By default all memories together get the pool's 1 MiB: two grow; the
    // tables together get 1000 elements: one grows.
    assert_eq!(run(None), Some(21));
    assert_eq!(run(Some(4 << 20)), Some(41));
    assert_eq!(run(Some(512 << 10)), Some(11));

    // Initial sizes over the limit: the module does not start.
    let artifact = Fixtures::get().artifact_from_text(
        "initial-memories",
        r#"(module (memory 8) (memory 8) (func (export "_start")))"#,
    );
    let module = host.load_verified(&artifact).expect("load");
    let result = module.run(InstanceConfig {
        max_memory: Some(768 << 10),
        ..InstanceConfig::default()
    });
    match result {
        Err(error @ Error::OverLimitAtStart(refusal)) => {
            let expected = LimitRefusal {
                resource: LimitedResource::LinearMemory,
                requested: 1 << 20,
                limit: 768 << 10,
            };
            assert_eq!(refusal, expected);
            let message = error.to_string();
            assert!(
                message.contains("need 1048576 bytes together")
                    && message.contains("raise InstanceConfig::max_memory"),
                "{message}"
            );
        }
        other => panic!("expected a refusal to start, got {other:?}"),
    }
}

#[test]
fn every_proc_exit_status_reaches_the_host() {
    // wasmtime-wasi's proc_exit refuses 126 and above; the host decides.
    let host = host(2);
    for status in [125, 126, 300, -1] {
        let artifact = Fixtures::get().artifact_from_text(
            &format!("exit-{}", status as u32),
            &format!(
                r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (call $exit (i32.const {status}))))"#
            ),
        );
        let output = host
            .load_verified(&artifact)
            .expect("load")
            .run(InstanceConfig::default())
            .expect("run");
        assert_eq!(output.outcome, Outcome::Exited(status));
    }
}

#[test]
fn arguments_and_environment_are_the_instances_own() {
    let host = host(2);
    let argsenv = load(&host, "argsenv");
    let output = argsenv
        .run(InstanceConfig {
            args: vec!["one".into(), "two".into()],
            env: vec![("A".into(), "1".into()), ("B".into(), "2".into())],
            ..InstanceConfig::default()
        })
        .expect("run");
    assert_eq!(output.stdout, b"argsenv\0one\0two\0A=1\0B=2\0");
    // Nothing of the host's environment leaks in.
    let output = argsenv.run(InstanceConfig::default()).expect("run");
    assert_eq!(output.stdout, b"argsenv\0");
}

#[test]
fn traps_and_exit_statuses_are_outcomes() {
    let host = host(2);
    let output = load(&host, "fail")
        .run(InstanceConfig::default())
        .expect("run");
    assert_eq!(trap_kind(&output), TrapKind::Unreachable);
    assert_eq!(output.stdout, b"partial\n");
    assert_eq!(output.stderr, b"about to trap\n");
    assert_eq!(output.exit_code(), None);

    let output = load(&host, "exit")
        .run(InstanceConfig::default())
        .expect("run");
    assert_eq!(output.outcome, Outcome::Exited(7));
    assert_eq!(output.exit_code(), Some(7));
    assert!(!output.success());
}

/// Runs `recurse` (unbounded recursion) and checks that it ends in a stack
/// exhaustion trap, not a crash of the host process.
fn exhausts_its_wasm_stack(handle: &ModuleHandle) {
    let output = handle.run(InstanceConfig::default()).expect("run");
    assert_eq!(trap_kind(&output), TrapKind::StackOverflow);
}

#[test]
fn guests_get_their_whole_wasm_stack_on_any_calling_thread() {
    // A guest runs on the caller's stack when that has room, otherwise on a
    // stack allocated for the run. Either way it must be able to use all of
    // `max_wasm_stack` and trap cleanly at its end: a stack too small would
    // crash the test process instead.
    for max_wasm_stack in [512 << 10, 4 << 20] {
        let mut config = HostConfig::new(Fixtures::get().keys());
        config.pooling.max_instances = 2;
        config.max_wasm_stack = max_wasm_stack;
        let host = Host::new(config).expect("host");
        let recurse = load(&host, "recurse");
        exhausts_its_wasm_stack(&recurse);
        std::thread::scope(|scope| {
            std::thread::Builder::new()
                .stack_size(128 << 10)
                .spawn_scoped(scope, || exhausts_its_wasm_stack(&recurse))
                .expect("small-stack thread")
                .join()
                .expect("small-stack thread panicked");
        });
    }
}

#[test]
fn output_is_capped() {
    // The handle keeps its host alive.
    let upper = load(&host(2), "upper");
    let output = upper
        .run(InstanceConfig {
            max_output: 10,
            ..stdin(&[b'a'; 100])
        })
        .expect("run");
    assert_eq!(output.stdout, b"AAAAAAAAAA");
}

#[test]
fn loading_from_memory_names_the_module() {
    let host = host(2);
    let bytes = std::fs::read(Fixtures::get().artifact("argsenv", Build::Signed)).expect("read");
    let module = host.load_verified_bytes("custom", &bytes).expect("load");
    assert_eq!(module.name(), "custom");
    let output = module.run(InstanceConfig::default()).expect("run");
    assert_eq!(output.stdout, b"custom\0");
}

/// The message of a refused load.
#[track_caller]
fn refused(result: Result<ModuleHandle, Error>) -> String {
    match result {
        Err(error @ Error::Refused(_)) => error.report(),
        Err(other) => panic!("expected a refusal, got {other:?}"),
        Ok(module) => panic!("{module:?} was loaded"),
    }
}

#[test]
fn unverified_artifacts_are_refused() {
    let host = host(2);
    let fixtures = Fixtures::get();
    let message = refused(host.load_verified(&fixtures.artifact("upper", Build::Unsigned)));
    assert!(message.contains("not signed"), "{message}");
    let message = refused(host.load_verified(&fixtures.artifact("upper", Build::OtherKey)));
    assert!(message.contains("not trusted"), "{message}");

    // Any flipped byte of the image, the signature block or the footer.
    let good = std::fs::read(fixtures.artifact("upper", Build::Signed)).expect("read");
    for offset in [
        0,
        good.len() / 2,
        good.len() - 200,
        good.len() - 20,
        good.len() - 1,
    ] {
        let mut bad = good.clone();
        bad[offset] ^= 0x01;
        let result = host.load_verified_bytes("bad", &bad);
        assert!(
            matches!(result, Err(Error::Refused(_))),
            "flipping byte {offset}: {result:?}"
        );
    }
    assert!(host.load_verified_bytes("good", &good).is_ok());
}

#[test]
fn artifacts_for_another_engine_configuration_are_refused() {
    let host = host(2);
    let fixtures = Fixtures::get();
    let message = refused(host.load_verified(&fixtures.artifact("upper", Build::SmallReservation)));
    assert!(
        message.contains("reserve:67108864") && !message.contains("--reserved-size"),
        "{message}"
    );
    let message = refused(host.load_verified(&fixtures.artifact("upper", Build::NoInterruption)));
    assert!(message.contains("epoch:0"), "{message}");
}

#[test]
fn deadlines_need_interruptible_artifacts() {
    let mut config = HostConfig::new(Fixtures::get().keys());
    config.engine = EngineSettings {
        interruptible: false,
        ..EngineSettings::default()
    };
    config.pooling.max_instances = 2;
    let host = Host::new(config).expect("host");
    let fixtures = Fixtures::get();
    // Interruptible artifacts do not fit this engine, and the reverse.
    let message = refused(host.load_verified(&fixtures.artifact("exit", Build::Signed)));
    assert!(message.contains("epoch:1"), "{message}");
    let exit = host
        .load_verified(&fixtures.artifact("exit", Build::NoInterruption))
        .expect("load");
    let result = exit.run(InstanceConfig {
        deadline: Some(Duration::from_secs(1)),
        ..InstanceConfig::default()
    });
    assert!(
        matches!(result, Err(Error::NotInterruptible(_))),
        "{result:?}"
    );
    let output = exit.run(InstanceConfig::default()).expect("run");
    assert_eq!(output.outcome, Outcome::Exited(7));
}

#[test]
fn the_policy_is_checked_on_signed_metadata() {
    let fixtures = Fixtures::get();
    let mut config = HostConfig::new(fixtures.keys());
    config.pooling.max_instances = 1;
    config.policy = Policy {
        min_timestamp: Some(u64::MAX),
        ..Policy::default()
    };
    let host = Host::new(config).expect("host");
    refused(host.load_verified(&fixtures.artifact("upper", Build::Signed)));
    let audited = host.load_verified_audited(&fixtures.artifact("upper", Build::Signed));
    assert!(matches!(audited, Err(Error::Refused(_))), "{audited:?}");
}

#[test]
fn audit_mode_loads_and_reports_only_when_asked_and_never_past_a_revocation() {
    let fixtures = Fixtures::get();
    let upper = fixtures.artifact("upper", Build::Signed);
    let mut config = HostConfig::new(fixtures.keys());
    config.policy = Policy {
        min_timestamp: Some(u64::MAX),
        mode: lucet_artifact::PolicyMode::Audit,
        ..Policy::default()
    };
    let host = Host::new(config.clone()).expect("host");
    // Without a way to report, audit mode is enforced.
    refused(host.load_verified(&upper));
    let audited = host.load_verified_audited(&upper).expect("audited load");
    let rules: Vec<_> = audited
        .audit_findings
        .iter()
        .map(|finding| finding.policy_rule())
        .collect();
    assert_eq!(rules, [Some("artifact.min_timestamp".to_string())]);
    let output = audited
        .handle
        .run(InstanceConfig {
            stdin: b"abc".to_vec(),
            ..InstanceConfig::default()
        })
        .expect("run");
    assert_eq!(output.stdout, b"ABC");

    let signer = audited.handle.signer();
    config.policy.revocations = Some(lucet_artifact::Revocations {
        expires: u64::MAX,
        keys: [signer].into(),
        ..Default::default()
    });
    let host = Host::new(config).expect("host");
    match host.load_verified_audited(&upper) {
        Err(error @ Error::Refused(_)) => {
            let message = error.report();
            assert!(message.contains("is revoked"), "{message}");
        }
        other => panic!("a revoked signer loaded in audit mode: {other:?}"),
    }
}

#[test]
fn modules_must_be_wasi_commands() {
    let host = host(2);
    let fixtures = Fixtures::get();
    let result = host.load_verified(&fixtures.artifact("reactor", Build::Signed));
    assert!(matches!(result, Err(Error::NotACommand)), "{result:?}");
    let result = host.load_verified(&fixtures.artifact("imports", Build::Signed));
    match result {
        Err(error @ Error::Link(_)) => {
            let message = error.report();
            assert!(message.contains("host_secret"), "{message}");
        }
        other => panic!("expected a link error, got {other:?}"),
    }
    let result = host.load_verified("no/such/file.so".as_ref());
    assert!(matches!(result, Err(Error::Open { .. })), "{result:?}");
}

#[test]
fn inconsistent_configurations_are_refused() {
    let keys = Fixtures::get().keys();
    let refused = |config: HostConfig| match Host::new(config) {
        Err(Error::InvalidConfig(message)) => message,
        other => panic!("expected an invalid configuration, got {other:?}"),
    };
    let mut config = HostConfig::new(keys.clone());
    config.pooling.max_instances = 0;
    assert!(refused(config).contains("max_instances"));
    let mut config = HostConfig::new(keys.clone());
    config.pooling.max_memory_size = config.engine.memory_reservation + 1;
    assert!(refused(config).contains("reservation"));
    let mut config = HostConfig::new(keys);
    config.max_wasm_stack = 1;
    assert!(refused(config).contains("max_wasm_stack"));
}

/// A WebAssembly 3.0 fixture of the end-to-end tests, compiled and signed.
fn load_wasm3(host: &Host, name: &str) -> ModuleHandle {
    let path = format!(
        "{}/../tests/fixtures/{name}.wat",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).expect("read the fixture");
    let artifact = Fixtures::get().artifact_from_text(name, &text);
    host.load_verified(&artifact)
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

#[test]
fn gc_and_exception_programs_run_in_pooled_instances() {
    // The GC heap comes from the pool like a linear memory and is counted
    // with them: 20 million objects pass through 16 MiB, and each fresh
    // instance starts with an empty heap.
    let host = host(2);
    let gc = load_wasm3(&host, "gc");
    for run in 0..3 {
        let output = run_with_memory(&gc, Some(16 << 20));
        assert_eq!(output.outcome, Outcome::Exited(0), "run {run}: {output:?}");
        assert_eq!(output.stdout, b"gc: 66667666670000041\n", "run {run}");
    }
    assert_eq!(
        trap_kind(&run_with_memory(&gc, Some(2 << 20))),
        TrapKind::GcHeapOutOfMemory
    );
    let exceptions = load_wasm3(&host, "exceptions");
    let output = exceptions.run(InstanceConfig::default()).expect("run");
    assert_eq!(output.stdout, b"caught 7 across 10000 frames\n");
}
