//! WASI 0.2 components in pooled instances: preview-1 fixtures made into
//! components with the official adapter, and components written as text.

use std::time::Duration;

use lucet_embed::{Error, Host, InstanceConfig, ModuleHandle, Outcome, TrapKind};

use crate::util::{Fixtures, host, load_component};

/// A component that never returns (its module imports WASI, so the adapter
/// makes it a command): only a deadline stops it.
fn load_spinning(host: &Host) -> ModuleHandle {
    let spin = Fixtures::get().component_from_text(
        "spin-wasi",
        r#"(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "_start") (loop $forever (br $forever))))"#,
    );
    host.load_verified(&spin).expect("load")
}

#[test]
fn a_component_runs_many_times_from_the_pool_each_with_its_own_wasi_0_2_context() {
    let host = host(2);
    let upper = load_component(&host, "upper");
    assert_eq!(upper.metadata().kind, lucet_embed::ArtifactKind::Component);
    assert_eq!(upper.name(), "upper-component");
    for run in 0..50 {
        let input = format!("run {run}: hello, component");
        let output = upper
            .run(InstanceConfig {
                stdin: input.clone().into_bytes(),
                ..InstanceConfig::default()
            })
            .expect("run");
        assert_eq!(output.outcome, Outcome::Exited(0), "run {run}: {output:?}");
        assert_eq!(
            output.stdout,
            input.to_uppercase().into_bytes(),
            "run {run}"
        );
    }
    // Its state is the instance's: every run starts fresh.
    let fresh = load_component(&host, "fresh");
    for _ in 0..3 {
        let output = fresh.run(InstanceConfig::default()).expect("run");
        assert_eq!(output.stdout, b"1 1\n");
    }
}

#[test]
fn modules_and_components_share_one_host_and_pool() {
    let host = host(2);
    let module = host
        .load_verified(&Fixtures::get().artifact("upper", crate::util::Build::Signed))
        .expect("module");
    let component = load_component(&host, "upper");
    let threads: Vec<_> = [module, component]
        .into_iter()
        .map(|handle| {
            std::thread::spawn(move || {
                for _ in 0..20 {
                    let output = handle
                        .run(InstanceConfig {
                            stdin: b"abc".to_vec(),
                            ..InstanceConfig::default()
                        })
                        .expect("run");
                    assert_eq!(output.stdout, b"ABC");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("no panic");
    }
}

#[test]
fn arguments_environment_exit_and_traps_of_a_component() {
    let host = host(2);
    let output = load_component(&host, "argsenv")
        .run(InstanceConfig {
            args: vec!["one".into()],
            env: vec![("A".into(), "1".into())],
            ..InstanceConfig::default()
        })
        .expect("run");
    assert_eq!(output.stdout, b"argsenv-component\0one\0A=1\0");
    // The adapter's proc_exit says only success or failure.
    let output = load_component(&host, "exit")
        .run(InstanceConfig::default())
        .expect("run");
    assert_eq!(output.outcome, Outcome::Exited(1));
    let output = load_component(&host, "fail")
        .run(InstanceConfig::default())
        .expect("run");
    match &output.outcome {
        Outcome::Trapped(trap) => assert_eq!(trap.kind, TrapKind::Unreachable, "{output:?}"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(
        !output.stdout.is_empty() && !output.stderr.is_empty(),
        "{output:?}"
    );
}

#[test]
fn memory_limits_and_deadlines_bound_a_component() {
    let host = host(2);
    let grow = load_component(&host, "grow");
    let run = |max_memory| {
        grow.run(InstanceConfig {
            max_memory: Some(max_memory),
            ..InstanceConfig::default()
        })
        .expect("run")
    };
    // The program's and the adapter's pages together: a little over 1 MiB
    // is not enough to grow by 1 MiB, 4 MiB is.
    assert_eq!(run(4 << 20).stdout, b"grown\n");
    assert_eq!(run((1 << 20) + (64 << 10)).stdout, b"refused\n");
    let spin = load_spinning(&host);
    let output = spin
        .run(InstanceConfig {
            deadline: Some(Duration::from_millis(100)),
            ..InstanceConfig::default()
        })
        .expect("run");
    assert_eq!(
        output.outcome,
        Outcome::TimedOut(Duration::from_millis(100))
    );
}

#[test]
fn a_component_must_be_a_wasi_command_importing_only_wasi_0_2() {
    let host = host(1);
    let fixtures = Fixtures::get();
    let empty = fixtures.artifact_from_text("empty-component", "(component)");
    assert!(matches!(
        host.load_verified(&empty),
        Err(Error::NotACommand)
    ));
    let imports = fixtures.artifact_from_text(
        "imports-component",
        r#"(component
  (import "acme:db/query" (func))
  (core module $command (func (export "run") (result i32) (i32.const 0)))
  (core instance $command (instantiate $command))
  (func $run (result (result)) (canon lift (core func $command "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $cli)))"#,
    );
    let error = host.load_verified(&imports).expect_err("refused");
    assert!(matches!(error, Error::Link(_)), "{error:?}");
    assert!(
        error.report().contains("acme:db/query"),
        "{}",
        error.report()
    );
}

#[test]
fn a_running_component_takes_one_instance_slot() {
    // A pool of one: the component's four core instances fit in it, and
    // while it runs a module is refused, not queued.
    let host = host(1);
    let spin = load_spinning(&host);
    let module = host
        .load_verified(&Fixtures::get().artifact("fresh", crate::util::Build::Signed))
        .expect("module");
    std::thread::scope(|scope| {
        // The probing loop below may hold the one slot at the moment the
        // spinner asks for it: then the spinner is the one refused, and
        // asks again (a module run takes milliseconds).
        let spinning = scope.spawn(|| {
            loop {
                match spin.run(InstanceConfig {
                    deadline: Some(Duration::from_secs(2)),
                    ..InstanceConfig::default()
                }) {
                    Err(Error::PoolExhausted(_)) => std::thread::sleep(Duration::from_millis(1)),
                    other => break other,
                }
            }
        });
        let mut refusal = None;
        while !spinning.is_finished() {
            match module.run(InstanceConfig::default()) {
                Err(Error::PoolExhausted(full)) => {
                    refusal = Some(full.to_string());
                    break;
                }
                Ok(_) => std::thread::sleep(Duration::from_millis(10)),
                Err(other) => panic!("unexpected error: {}", other.report()),
            }
        }
        let spun = spinning.join().expect("no panic").expect("run");
        assert!(matches!(spun.outcome, Outcome::TimedOut(_)), "{spun:?}");
        let refusal = refusal.expect("a refusal while the component ran");
        assert!(refusal.contains("limit of 1"), "{refusal}");
    });
    assert_eq!(
        module.run(InstanceConfig::default()).expect("run").stdout,
        b"1 1\n"
    );
}
