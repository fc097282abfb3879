//! Instances made ahead of their run (`ModuleHandle::instantiate`): they
//! hold their slots, run on any thread, and get their own deadline.

use std::time::Duration;

use lucet_embed::{Error, InstanceConfig, Outcome, TrapKind};

use crate::util::{Fixtures, host, load, load_component};

/// A host keeps instances ready on one thread and runs them on others.
const _: () = {
    const fn sendable<T: Send>() {}
    sendable::<lucet_embed::ReadyInstance>();
};

#[test]
fn ready_instances_hold_their_slots_until_run_or_dropped() {
    let host = host(3);
    let fresh = load(&host, "fresh");
    let mut ready: Vec<_> = (0..3)
        .map(|_| fresh.instantiate(InstanceConfig::default()).expect("ready"))
        .collect();
    assert!(
        matches!(
            fresh.instantiate(InstanceConfig::default()),
            Err(Error::PoolExhausted(_))
        ),
        "a fourth instance while three are held"
    );
    assert!(matches!(
        fresh.run(InstanceConfig::default()),
        Err(Error::PoolExhausted(_))
    ));
    // Run on other threads: each instance is its own ("1 1"), though made
    // one after another from the same slots' module.
    let last = ready.pop().expect("three");
    let outputs: Vec<_> = std::thread::scope(|scope| {
        ready
            .into_iter()
            .map(|instance| scope.spawn(move || instance.run().expect("run")))
            .collect::<Vec<_>>()
            .into_iter()
            .map(|thread| thread.join().expect("thread"))
            .collect()
    });
    for output in outputs {
        assert_eq!(output.outcome, Outcome::Exited(0));
        assert_eq!(output.stdout, b"1 1\n");
    }
    // Two slots are back, the third only once the last instance is dropped.
    let again = fresh.instantiate(InstanceConfig::default()).expect("ready");
    let _another = fresh.instantiate(InstanceConfig::default()).expect("ready");
    assert!(fresh.instantiate(InstanceConfig::default()).is_err());
    drop(last);
    assert_eq!(again.run().expect("run").stdout, b"1 1\n");
    assert_eq!(
        fresh.run(InstanceConfig::default()).expect("run").stdout,
        b"1 1\n"
    );
}

#[test]
fn a_ready_instances_deadline_counts_from_its_run() {
    let host = host(2);
    let spin = load(&host, "spin");
    let deadline = Duration::from_millis(300);
    let ready = spin
        .instantiate(InstanceConfig {
            deadline: Some(deadline),
            ..InstanceConfig::default()
        })
        .expect("ready");
    // Longer than the deadline: a deadline counted from instantiation would
    // stop the run at its first epoch tick.
    std::thread::sleep(Duration::from_millis(600));
    let output = ready.run().expect("run");
    assert_eq!(output.outcome, Outcome::TimedOut(deadline));
    assert!(output.elapsed >= deadline, "{output:?}");
}

#[test]
fn a_start_function_that_traps_is_the_ready_instances_outcome() {
    let host = host(2);
    let artifact = Fixtures::get().artifact_from_text(
        "start-traps",
        r#"(module
  (memory (export "memory") 1)
  (func $start unreachable)
  (start $start)
  (func (export "_start")))"#,
    );
    let module = host.load_verified(&artifact).expect("load");
    let ready = module
        .instantiate(InstanceConfig::default())
        .expect("instantiated, though its start function trapped");
    let output = ready.run().expect("run");
    match output.outcome {
        Outcome::Trapped(trap) => assert_eq!(trap.kind, TrapKind::Unreachable),
        other => panic!("expected a trap, got {other:?}"),
    }
    // As the one-call run reports it.
    let direct = module.run(InstanceConfig::default()).expect("run");
    assert!(matches!(direct.outcome, Outcome::Trapped(trap) if trap.kind == TrapKind::Unreachable));
}

#[test]
fn a_ready_component_runs_like_a_module() {
    let host = host(2);
    let upper = load_component(&host, "upper");
    let ready = upper
        .instantiate(InstanceConfig {
            stdin: b"made ahead".to_vec(),
            ..InstanceConfig::default()
        })
        .expect("ready");
    let output = ready.run().expect("run");
    assert_eq!(output.outcome, Outcome::Exited(0));
    assert_eq!(output.stdout, b"MADE AHEAD");
}
