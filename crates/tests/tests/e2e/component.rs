//! WASI 0.2 components through the signed pipeline: compiled, signed,
//! verified and run with the same flags, limits, exit statuses and checks
//! as core modules. The components are preview-1 command modules wrapped
//! with the official adapter (`lucet_test_support::componentize`).

use std::path::{Path, PathBuf};

use lucet_artifact::{ArtifactKind, Metadata, ReadLimits};
use lucet_signature::{Prehash, SecretKey};

use crate::util::*;

/// A command that grows its memory by 1 MiB and traps if that is refused
/// (the adapter passes on no exit status but success or failure).
const GROWS_ONE_MIB: &[u8] = br#"(module
  (memory (export "memory") 1)
  (func (export "_start")
    (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1)) (then unreachable))))"#;

/// `wat`, a preview-1 command module, as a component binary `<stem>.wasm`.
fn component_source(scratch: &Scratch, stem: &str, wat: &[u8]) -> PathBuf {
    let component = lucet_test_support::componentize(wat).expect("componentize");
    scratch.write(&format!("{stem}.wasm"), component)
}

/// The hello example as a component binary `<stem>.wasm`.
fn hello_component(scratch: &Scratch, stem: &str) -> PathBuf {
    let wat = std::fs::read(hello_wat()).expect("read hello");
    component_source(scratch, stem, &wat)
}

/// A fixture (or the hello example, `hello`) as a component compiled to
/// `<stem>.so` with extra lucetc `args`.
fn compiled(scratch: &Scratch, stem: &str, args: &[String]) -> PathBuf {
    let wat = match stem {
        "hello" => hello_wat(),
        _ => fixture(&format!("{stem}.wat")),
    };
    let source = component_source(scratch, stem, &std::fs::read(wat).expect("read fixture"));
    scratch.compile(&source, stem, args)
}

/// A component, written as text, whose `wasi:cli/run` calls
/// `wasi:cli/exit`'s `exit-with-code(status)`: a status the preview-1
/// adapter never passes on (its `proc_exit` calls `exit`, which says only
/// success or failure).
fn exiting_with(scratch: &Scratch, status: u8) -> PathBuf {
    let wat = format!(
        r#"(component
  (import "wasi:cli/exit@0.2.12" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core func $exit_with_code (canon lower (func $exit "exit-with-code")))
  (core module $command
    (import "wasi" "exit-with-code" (func $exit_with_code (param i32)))
    (func (export "run") (result i32)
      (call $exit_with_code (i32.const {status}))
      (i32.const 0)))
  (core instance $wasi (export "exit-with-code" (func $exit_with_code)))
  (core instance $command (instantiate $command (with "wasi" (instance $wasi))))
  (func $run (result (result)) (canon lift (core func $command "run")))
  (instance $cli (export "run" (func $run)))
  (export "wasi:cli/run@0.2.12" (instance $cli)))"#
    );
    let stem = format!("exit{status}");
    let source = scratch.write(&format!("{stem}.wat"), wat);
    scratch.compile(&source, &stem, &[])
}

/// A signed hello component, and the public key that verifies it.
fn signed_hello(scratch: &Scratch) -> (PathBuf, PathBuf, PathBuf) {
    let (secret, public) = scratch.raw_key_pair("lucet");
    let artifact = compiled(scratch, "hello", &sk(raw(&secret)));
    (artifact, secret, public)
}

/// `lucet-objdump ARGS... ARTIFACT`'s report.
fn objdump(artifact: &Path, args: &[String]) -> String {
    let mut command = lucet_objdump(args);
    command.arg(artifact);
    run(&mut command).ok().to_string()
}

#[test]
fn a_hello_component_compiles_signs_verifies_and_runs() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed_hello(&scratch);
    assert_eq!(run(lucet_wasi(pk(&public)).arg(&artifact)).ok(), HELLO);
    assert_eq!(run(&mut lucet_wasi([&artifact])).ok(), HELLO);
    let report = objdump(&artifact, &pk(&public));
    assert!(report.contains("verified:       yes"), "{report}");
    assert!(report.contains("kind:           component"), "{report}");
    assert!(
        report.contains("\nexports:\n  wasi:cli/run@0.2."),
        "{report}"
    );
    assert!(report.contains("  wasi:cli/stdout@0.2."), "{report}");
    assert!(report.contains(" (instance)\n"), "{report}");
    let report = objdump(&artifact, &["--allow-unverified".into()]);
    assert!(report.contains("kind:           component"), "{report}");
    assert!(report.contains("exports (UNVERIFIED):"), "{report}");
    let json = objdump(
        &artifact,
        &[pk(&public).as_slice(), &["--json".into()]].concat(),
    );
    let value: serde_json::Value = serde_json::from_str(&json).expect("one JSON object");
    assert_eq!(value["metadata"]["kind"], "component");
    let named = |list: &str, prefix: &str| {
        value[list].as_array().expect(list).iter().any(|item| {
            item["name"]
                .as_str()
                .is_some_and(|name| name.starts_with(prefix))
                && item["type"] == "(instance)"
                && item.get("module").is_none()
        })
    };
    assert!(named("exports", "wasi:cli/run@0.2."), "{json}");
    assert!(named("imports", "wasi:cli/stdout@0.2."), "{json}");
}

#[test]
fn component_text_compiles_and_a_component_without_wasi_cli_run_is_named() {
    let scratch = Scratch::new();
    let source = scratch.write("empty.wat", "(component)");
    let artifact = scratch.compile(&source, "empty", &[]);
    let report = objdump(&artifact, &["--allow-unverified".into()]);
    assert!(report.contains("kind:           component"), "{report}");
    run(&mut lucet_wasi([&artifact])).refused(1, "component does not export wasi:cli/run");
    // A module stays a module.
    let module = scratch.compile(&hello_wat(), "module", &[]);
    let report = objdump(&module, &[]);
    assert!(report.contains("kind:           module"), "{report}");
}

#[test]
fn exit_statuses_pass_through_the_same_table_as_modules() {
    let scratch = Scratch::new();
    for status in [0, 1, 42, 124, 125] {
        let output = run(&mut lucet_wasi([exiting_with(&scratch, status)]));
        assert_eq!(i32::from(status), output.status, "{output:#?}");
        assert!(output.stderr.is_empty(), "{output:#?}");
    }
    let output = run(&mut lucet_wasi([exiting_with(&scratch, 200)]));
    output.refused(
        1,
        "guest exited with status 200, which a process cannot pass on",
    );
    // The preview-1 adapter turns `proc_exit(42)` into `exit(err)`: failure.
    let output = run(&mut lucet_wasi([compiled(&scratch, "exit", &[])]));
    assert_eq!(output.status, 1, "{output:#?}");
    assert!(output.stderr.is_empty(), "{output:#?}");
}

#[test]
fn a_trap_exits_134_and_a_timeout_124() {
    let scratch = Scratch::new();
    let output = run(&mut lucet_wasi([compiled(&scratch, "trap", &[])]));
    output.trapped("guest trapped: wasm trap: wasm `unreachable` instruction executed");
    let spins = compiled(&scratch, "loop", &[]);
    let output = run_bounded(
        &mut lucet_wasi(["--timeout".into(), "300ms".into(), arg(&spins)]),
        std::time::Duration::from_secs(120),
    );
    assert_eq!(output.status, 124, "{output:#?}");
    output.says("--timeout");
}

#[test]
fn memory_limits_bound_a_component_s_memories() {
    let scratch = Scratch::new();
    let grows = component_source(&scratch, "grows", GROWS_ONE_MIB);
    let grows = scratch.compile(&grows, "grows", &[]);
    let with_limit = |limit: &str| run(lucet_wasi(["--max-heap-size", limit]).arg(&grows));
    assert_eq!(with_limit("4M").ok(), "");
    with_limit("1M").trapped("unreachable");
    with_limit("32K").refused(1, "cannot start: its linear memories need");
    with_limit("32K").says("raise --max-heap-size");
}

#[test]
fn args_env_and_preopened_directories_reach_the_component() {
    let scratch = Scratch::new();
    let echo = compiled(&scratch, "echo", &[]);
    let mut command = lucet_wasi(["--env", "GREETING=hi there", "--env", "PASSED"]);
    command
        .arg(&echo)
        .args(["--", "-x", "two words"])
        .env("PASSED", "through")
        .env("LEAKED", "must not appear");
    assert_eq!(
        run(&mut command).ok(),
        "echo.so\n-x\ntwo words\nGREETING=hi there\nPASSED=through\n"
    );

    // The guest sees the preopened directory and nothing outside it.
    let cat = compiled(&scratch, "cat", &[]);
    let data = scratch.path("data");
    std::fs::create_dir(&data).expect("mkdir");
    scratch.write("data/note.txt", "inside\n");
    scratch.write("secret.txt", "outside\n");
    let preopen = ["--dir".to_string(), format!("{}::/data", data.display())];
    for (file, status, printed) in [("note.txt", 0, "inside\n"), ("../secret.txt", 1, "")] {
        let output = run(lucet_wasi(&preopen).arg(&cat).args(["--", file]));
        assert_eq!(
            (output.status, output.stdout.as_str()),
            (status, printed),
            "{output:#?}"
        );
    }
    run(lucet_wasi(["--entrypoint", "main"]).arg(&cat)).refused(1, "drop --entrypoint");
}

#[test]
fn components_are_rebuilt_resigned_and_bound_to_their_name() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed_hello(&scratch);
    let source = scratch.path("hello.wasm");
    let check = |input: &Path| {
        run(&mut lucetc([
            "--verify-rebuild".into(),
            arg(&artifact),
            arg(input),
            "--signature-pk".into(),
            arg(&public),
        ]))
    };
    assert!(check(&source).ok().contains("rebuild matches"));
    let module = check(&hello_wat());
    assert_eq!(module.status, 1, "{module:#?}");
    module.says("the source is a core module, but the artifact holds a component");

    let expecting = |name: &str| {
        let mut command = lucet_wasi(pk(&public));
        command.args(["--expect-name", name]).arg(&artifact);
        run(&mut command)
    };
    assert_eq!(expecting("hello").ok(), HELLO);
    expecting("other").refused(1, "other");

    // Re-signed in place: the kind is kept, and the old key no longer runs it.
    let (new_secret, new_public) = scratch.raw_key_pair("new");
    run(&mut lucetc_resign(&artifact, &public, &new_secret)).ok();
    assert_eq!(run(lucet_wasi(pk(&new_public)).arg(&artifact)).ok(), HELLO);
    run(lucet_wasi(pk(&public)).arg(&artifact)).refused(1, "which is not trusted");
    let report = objdump(&artifact, &pk(&new_public));
    assert!(report.contains("kind:           component"), "{report}");
}

#[test]
fn a_verified_component_source_is_recorded_and_required() {
    let scratch = Scratch::new();
    let publisher = SecretKey::generate().expect("key");
    let publisher_pub = scratch.write("publisher.pub", publisher.public_key().to_box());
    let source = hello_component(&scratch, "app");
    let bytes = std::fs::read(&source).expect("read source");
    let signature = publisher
        .sign_prehashed(
            &Prehash::of(&bytes),
            "timestamp:1\tfile:app.wasm",
            "signature from minisign secret key",
        )
        .expect("sign");
    scratch.write("app.wasm.minisig", signature.to_text());
    let (secret, public) = scratch.raw_key_pair("lucet");
    let artifact = scratch.compile(
        &source,
        "app",
        &[pk(&publisher_pub), sk(raw(&secret))].concat(),
    );
    let publisher_id = publisher.key_id().to_string();
    let mut command = lucet_wasi(pk(&public));
    command
        .args(["--require-source-key", &publisher_id])
        .arg(&artifact);
    assert_eq!(run(&mut command).ok(), HELLO);

    // A source changed after it was signed is not compiled.
    let mut changed = bytes;
    *changed.last_mut().expect("not empty") ^= 1;
    std::fs::write(&source, changed).expect("write");
    let mut command = lucetc([arg(&source), "-o".into(), arg(&scratch.path("changed.so"))]);
    command.args(pk(&publisher_pub));
    run(&mut command).refused(1, "signature");
}

#[test]
fn a_tampered_component_artifact_is_refused_before_it_runs() {
    let scratch = Scratch::new();
    let (artifact, _, public) = signed_hello(&scratch);
    let mut bytes = std::fs::read(&artifact).expect("read");
    bytes[2000] ^= 1;
    let tampered = scratch.write("tampered.so", bytes);
    run(lucet_wasi(pk(&public)).arg(&tampered)).refused(1, "signature");
}

/// An unsigned artifact whose (unauthenticated) metadata claims the other
/// kind: wasmtime refuses the image, in one line.
#[test]
fn an_image_of_another_kind_than_recorded_is_refused_in_one_line() {
    let scratch = Scratch::new();
    let swapped = |artifact: &Path, kind: ArtifactKind| {
        let file = std::fs::File::open(artifact).expect("open");
        let read = lucet_artifact::read_unverified(&file, ReadLimits::default()).expect("read");
        let metadata = Metadata {
            kind,
            ..read.metadata
        };
        let bytes =
            lucet_artifact::encode_unsigned(&read.image, &metadata, &Prehash::of(&read.image))
                .expect("encode");
        scratch.write(&format!("swapped-{kind}.so"), bytes)
    };
    let component = compiled(&scratch, "hello", &[]);
    let as_module = swapped(&component, ArtifactKind::Module);
    run(&mut lucet_wasi([&as_module])).refused(1, "cannot load artifact");
    let module = scratch.compile(&hello_wat(), "module", &[]);
    let as_component = swapped(&module, ArtifactKind::Component);
    run(&mut lucet_wasi([&as_component])).refused(1, "cannot load artifact");
}

#[test]
fn a_component_given_to_the_runner_gets_the_hint_to_compile_it() {
    let scratch = Scratch::new();
    let binary = hello_component(&scratch, "hello");
    run(&mut lucet_wasi([&binary])).refused(1, "compile it first with `lucetc");
    let text = scratch.write("empty.wat", "(component)");
    run(&mut lucet_wasi([&text])).refused(1, "compile it first with `lucetc");
}

#[test]
fn a_large_javascript_component_compiles_signs_verifies_and_runs() {
    // About 12 MB: the StarlingMonkey JavaScript engine and app.js, made by
    // scripts/build-js-component.sh (which scripts/test.sh runs first).
    let source = built(
        "LUCET_JS_COMPONENT",
        "../js-component/app.wasm",
        "run scripts/build-js-component.sh",
    );
    let scratch = Scratch::new();
    let (secret, public) = scratch.raw_key_pair("release");
    let artifact = scratch.compile(&source, "app", &sk(raw(&secret)));
    let output = run(lucet_wasi(pk(&public)).arg(&artifact));
    assert_eq!(
        output.ok(),
        "the 1000th prime is 7919 ({\"primes\":1000,\"last\":7919})\n"
    );
    let report = objdump(&artifact, &pk(&public));
    assert!(report.contains("kind:           component"), "{report}");
}
