//! The server's basic promises: answers, deadlines, memory cap, overload,
//! drain, and refusals at start.

use std::path::Path;
use std::time::Duration;

use lucet_test_support::{built, pk, raw, sk};

use crate::harness::{Server, fixture, request, serve_command, signed_server};

#[test]
fn a_signed_component_answers_each_request_in_a_fresh_instance() {
    let server = signed_server(&["--timeout", "2s", "--max-heap-size", "64M"]);
    assert_eq!(
        server.get("/hello/world"),
        (200, "GET /hello/world\n".into())
    );
    assert_eq!(
        request(&server.address, "POST", "/form"),
        (200, "POST /form\n".into())
    );
    // A guest that loops forever is stopped at its deadline; another
    // request meanwhile is served.
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");
    assert_eq!(server.get("/meanwhile").0, 200);
    let (status, _) = looping.join().expect("loop request");
    assert_eq!(status, 504);
    // Past --max-heap-size the JS engine aborts: a trap, answered 500.
    assert_eq!(server.get("/grow").0, 500);
    assert_eq!(server.get("/after").0, 200);
    let log = server.log();
    assert!(log.contains("lucet-serve: GET /hello/world 200 "), "{log}");
    assert!(log.contains("lucet-serve: GET /loop 504 "), "{log}");
    assert!(log.contains("lucet-serve: GET /grow 500 "), "{log}");
    assert_eq!(server.terminate(Duration::from_secs(15)), 0);
}

#[test]
fn a_request_past_max_concurrency_is_answered_503_at_once() {
    // A deadline long enough that the loop still holds the slot when the
    // second request arrives on a loaded machine (2s and then 8s were not,
    // in CI, where this binary's servers share two cores).
    let server = signed_server(&["--timeout", "20s", "--max-concurrency", "1"]);
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");
    let busy = server.get("/busy").0;
    assert_eq!(
        busy,
        503,
        "the log says when the loop ended: {}",
        server.log()
    );
    // At once: answered while the only slot is still taken, not after.
    assert!(!looping.is_finished(), "503 only after the slot was free");
    assert_eq!(looping.join().expect("loop request").0, 504);
    assert_eq!(server.get("/free").0, 200);
}

#[test]
fn sigterm_drains_the_request_in_flight_then_exits_0() {
    let server = signed_server(&["--timeout", "1s"]);
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");
    let status = server.terminate(Duration::from_secs(15));
    // The request in flight got its answer rather than a cut connection.
    assert_eq!(looping.join().expect("loop request").0, 504);
    assert_eq!(status, 0);
}

/// `lucet-serve ARGS... ARTIFACT` must refuse to start: exit 1, one line
/// on stderr containing `needle`.
#[track_caller]
fn refused(args: &[String], artifact: &Path, needle: &str) {
    let mut command = serve_command();
    command.args(args).arg(artifact);
    let output = lucet_test_support::run_bounded(&mut command, Duration::from_secs(60));
    assert_eq!(output.status, 1, "{output:?}");
    assert_eq!(output.stderr.lines().count(), 1, "{output:?}");
    assert!(output.stderr.contains(needle), "{output:?}");
}

#[test]
fn unverifiable_artifacts_and_modules_are_refused_at_start() {
    let fixture = fixture();
    let scratch = &fixture.scratch;
    let key = pk(&fixture.public);
    refused(&[], &fixture.artifact, "without a trusted key");

    let source = built("LUCET_HTTP_COMPONENT", "../js-component/http.wasm", "");
    let unsigned = scratch.compile(&source, "unsigned", &[]);
    refused(&key, &unsigned, "not signed");

    let mut bytes = std::fs::read(&fixture.artifact).expect("read");
    bytes[4000] ^= 1;
    let tampered = scratch.write("tampered.so", bytes);
    refused(&key, &tampered, "signature");

    let module = scratch.write("module.wat", "(module)");
    let module = scratch.compile(&module, "module", &sk(raw(&fixture.secret)));
    refused(&key, &module, "not a component");

    // A component, but a command rather than a wasi:http/proxy.
    let command = built("LUCET_JS_COMPONENT", "../js-component/app.wasm", "");
    let command = scratch.compile(&command, "command", &sk(raw(&fixture.secret)));
    refused(&key, &command, "not a wasi:http/proxy");

    let policy = [
        key.to_vec(),
        vec!["--min-timestamp".into(), "99999999999".into()],
    ]
    .concat();
    refused(&policy, &fixture.artifact, "timestamp");

    // For local development, an explicit flag serves it, and says so.
    let mut command = serve_command();
    command.arg("--allow-unverified").arg(&unsigned);
    let server = Server::start(&mut command);
    assert_eq!(server.get("/dev"), (200, "GET /dev\n".into()));
    assert!(server.log().contains("UNVERIFIED"), "{}", server.log());
}

#[test]
fn a_policy_file_decides_at_start_and_audit_mode_serves_and_reports() {
    let fixture = fixture();
    let scratch = &fixture.scratch;
    let (_, security) = scratch.raw_key_pair("policy-security");
    let policy = |mode: &str| {
        scratch.write(
            &format!("policy-{mode}.toml"),
            format!(
                "version = 1\nmode = \"{mode}\"\n[keys.release]\nfile = {:?}\nroles = [\"release\"]\n\
                 [keys.security]\nfile = {:?}\nroles = [\"security\"]\n\
                 [artifact]\nsigned_by = [{{ at_least = 2, of = [\"release\", \"security\"] }}]\n",
                fixture.public.display().to_string(),
                security.display().to_string()
            ),
        )
    };
    let enforce = [
        "--policy".to_string(),
        lucet_test_support::arg(&policy("enforce")),
    ];
    refused(
        &enforce,
        &fixture.artifact,
        "rule artifact.signed_by[0] needs 2",
    );
    let both = [enforce.to_vec(), pk(&fixture.public).to_vec()].concat();
    let mut command = serve_command();
    command.args(&both).arg(&fixture.artifact);
    let output = lucet_test_support::run_bounded(&mut command, Duration::from_secs(60));
    assert_eq!(output.status, 2, "{output:?}");

    let audit = lucet_test_support::arg(&policy("audit"));
    let mut command = serve_command();
    command
        .args(["--policy", &audit, "--log-format", "json"])
        .arg(&fixture.artifact);
    let server = Server::start(&mut command);
    assert_eq!(server.get("/").0, 200);
    assert!(
        server.log().contains("\"rule\":\"artifact.signed_by[0]\""),
        "{}",
        server.log()
    );
}
