//! Several apps, their metrics, reloading them, and body limits.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lucet_test_support::{built, lucetc, pk, raw, run};

use crate::harness::{Server, exchange, fixture, request, serve_command, with_body};

fn server(args: &[&str]) -> Server {
    let fixture = fixture();
    let mut command = serve_command();
    command.args(pk(&fixture.public)).args(args);
    Server::start(&mut command)
}

/// The server's metrics page, from the address it printed.
fn scrape(server: &Server) -> String {
    let prefix = "lucet-serve: metrics on http://";
    server.wait_for_prefix(prefix);
    let log = server.log();
    let address = log
        .lines()
        .find_map(|line| line.strip_prefix(prefix))
        .and_then(|rest| rest.strip_suffix("/metrics"))
        .expect("metrics address");
    let (status, text) = request(address, "GET", "/metrics");
    assert_eq!(status, 200, "{text}");
    text
}

#[test]
fn routes_take_whole_path_segments_and_are_counted_apart() {
    let artifact = fixture().artifact.to_str().expect("utf-8 path").to_owned();
    let api = format!("/api={artifact}");
    let static_files = format!("/static/={artifact}");
    let server = server(&[
        "--route",
        &api,
        "--route",
        &static_files,
        "--metrics",
        "127.0.0.1:0",
    ]);
    assert_eq!(server.get("/api"), (200, "GET /api\n".into()));
    assert_eq!(
        server.get("/api/v1/x?q=1"),
        (200, "GET /api/v1/x?q=1\n".into())
    );
    assert_eq!(
        server.get("/static/a.css"),
        (200, "GET /static/a.css\n".into())
    );
    for unrouted in ["/", "/apix", "/stat", "/Static/a.css"] {
        assert_eq!(server.get(unrouted).0, 404, "{unrouted}");
    }
    let metrics = scrape(&server);
    for line in [
        r#"lucet_serve_requests_total{route="/api",status="200"} 2"#,
        r#"lucet_serve_requests_total{route="/static",status="200"} 1"#,
        r#"lucet_serve_request_duration_seconds_count{route="/api"} 2"#,
        "lucet_serve_instances_in_use 0",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "no {line:?} in\n{metrics}"
        );
    }
    assert!(
        !metrics.contains("404"),
        "unrouted paths have no route: {metrics}"
    );
}

#[test]
fn the_same_prefix_twice_is_a_usage_error() {
    let artifact = fixture().artifact.to_str().expect("utf-8 path").to_owned();
    let mut command = serve_command();
    command
        .args(pk(&fixture().public))
        .args(["--route", &format!("/a={artifact}"), "--route"])
        .arg(format!("/a/={artifact}"));
    let output = lucet_test_support::run_bounded(&mut command, Duration::from_secs(30));
    output.usage_error("two apps for the prefix /a");
}

#[test]
fn bodies_stream_both_ways_within_their_caps() {
    let artifact = fixture().artifact.to_str().expect("utf-8 path").to_owned();
    let server = server(&[
        "--max-request-body",
        "256K",
        "--max-response-body",
        "1M",
        &artifact,
    ]);
    let address = &server.address;
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let echoed = with_body(address, "POST", "/echo", &body);
    assert_eq!(echoed.status, 200);
    assert!(
        echoed.headers.contains("x-echo-length: 200000"),
        "{}",
        echoed.headers
    );
    assert!(echoed.complete && echoed.body == body, "echo differs");

    // A declared length over the cap: 413 before the app runs.
    let over = vec![b'a'; 300_000];
    assert_eq!(with_body(address, "POST", "/echo", &over).status, 413);
    // A chunked body has no length up front: the app's read fails at the
    // cap, and the client still gets 413.
    let mut chunked = format!(
        "POST /echo HTTP/1.1\r\nHost: {address}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..5 {
        chunked.extend_from_slice(format!("{:x}\r\n", 65536).as_bytes());
        chunked.extend(std::iter::repeat_n(b'b', 65536));
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(exchange(address, &chunked).status, 413);

    // A streamed response within the cap arrives whole; one past it is cut
    // (its last chunk never comes) and the cut is logged.
    let big = request_raw(address, "/big?bytes=900000");
    assert!(
        big.complete && big.body.len() == 900_000,
        "{}",
        big.body.len()
    );
    let cut = request_raw(address, "/big?bytes=3000000");
    assert_eq!(cut.status, 200);
    assert!(
        !cut.complete && cut.body.len() <= 1 << 20,
        "{}",
        cut.body.len()
    );
    server.wait_for_prefix("lucet-serve: response of / cut at --max-response-body");
    assert_eq!(server.get("/after").0, 200);
}

fn request_raw(address: &str, path: &str) -> crate::harness::Reply {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    exchange(address, raw.as_bytes())
}

/// The handler compiled again, signed by the fixture's key, with
/// SOURCE_DATE_EPOCH as its timestamp and `args` for lucetc.
fn compiled_at(stem: &str, epoch: u64, args: &[&str]) -> PathBuf {
    let fixture = fixture();
    let source = built("LUCET_HTTP_COMPONENT", "../js-component/http.wasm", "");
    let output = fixture.scratch.path(&format!("{stem}.so"));
    let mut command = lucetc([source.as_os_str(), "-o".as_ref(), output.as_os_str()]);
    command
        .args(["--signature-sk", &raw(&fixture.secret)])
        .args(args)
        .env("SOURCE_DATE_EPOCH", epoch.to_string());
    run(&mut command).ok();
    output
}

/// Replaces `live` with `from` at once (rename), as a deploy should.
fn deploy(from: &Path, live: &Path) {
    let staged = live.with_extension("staged");
    std::fs::copy(from, &staged).expect("stage");
    std::fs::rename(&staged, live).expect("deploy");
}

fn hangup(server: &Server) {
    run(std::process::Command::new("kill").args(["-HUP", &server.pid().to_string()])).ok();
}

/// The `app=` of the access-log line for `GET path`.
fn app_of(server: &Server, path: &str) -> String {
    assert_eq!(server.get(path).0, 200);
    let needle = format!("lucet-serve: GET {path} 200 ");
    server.wait_for_prefix(&needle);
    let log = server.log();
    let line = log.lines().rev().find(|line| line.starts_with(&needle));
    line.and_then(|line| line.rsplit_once("app="))
        .map(|(_, app)| app.to_owned())
        .expect("an app= field")
}

#[test]
fn a_reload_takes_only_a_newer_verified_artifact_and_requests_finish_where_they_began() {
    let fixture = fixture();
    let live = fixture.scratch.path("live.so");
    deploy(&fixture.artifact, &live);
    let older = compiled_at("older", 1_600_000_000, &[]);
    let newer = compiled_at("newer", 4_000_000_000, &["--opt-level", "none"]);
    let mut tampered = std::fs::read(&newer).expect("read");
    tampered[5000] ^= 1;
    let tampered = fixture.scratch.write("tampered-newer.so", tampered);

    let server = server(&["--timeout", "4s", live.to_str().expect("utf-8 path")]);
    let first = app_of(&server, "/first");
    let address = server.address.clone();
    let looping = std::thread::spawn(move || request(&address, "GET", "/loop"));
    server.wait_for_line("looping");

    for (attempt, (bad, why)) in [(&tampered, "signature"), (&older, "rollback")]
        .into_iter()
        .enumerate()
    {
        deploy(bad, &live);
        hangup(&server);
        server.wait_for_count("lucet-serve: reload of / (", attempt + 1);
        let log = server.log();
        let refusal = log.lines().rfind(|l| l.contains("reload of / ("));
        let refusal = refusal.expect("a refusal line");
        assert!(refusal.contains(why), "{refusal}");
        assert!(
            refusal.contains(&format!("app={first} keeps serving")),
            "{refusal}"
        );
        assert_eq!(app_of(&server, &format!("/still-{attempt}")), first);
    }

    deploy(&newer, &live);
    hangup(&server);
    server.wait_for_prefix("lucet-serve: reloaded / (");
    let second = app_of(&server, "/second");
    assert_ne!(second, first);
    // The request in flight finished on the app it began on.
    assert_eq!(looping.join().expect("loop request").0, 504);
    server.wait_for_prefix("lucet-serve: GET /loop 504 ");
    let log = server.log();
    let loop_line = log
        .lines()
        .find(|l| l.starts_with("lucet-serve: GET /loop 504 "));
    assert!(
        loop_line
            .expect("loop line")
            .ends_with(&format!("app={first}")),
        "{log}"
    );
}

#[test]
fn watch_reloads_a_changed_file_without_a_signal() {
    let fixture = fixture();
    let live = fixture.scratch.path("watched.so");
    deploy(&fixture.artifact, &live);
    let server = server(&[
        "--watch",
        "--metrics",
        "127.0.0.1:0",
        live.to_str().expect("utf-8 path"),
    ]);
    let first = app_of(&server, "/first");
    let mut tampered = std::fs::read(&fixture.artifact).expect("read");
    tampered[6000] ^= 1;
    let tampered = fixture.scratch.write("tampered-watched.so", tampered);
    deploy(&tampered, &live);
    server.wait_for_prefix("lucet-serve: reload of / (");
    assert_eq!(app_of(&server, "/still"), first);
    let metrics = scrape(&server);
    assert!(
        metrics.contains("lucet_serve_verification_refusals_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains(r#"lucet_serve_reloads_total{result="refused"} 1"#),
        "{metrics}"
    );
}
