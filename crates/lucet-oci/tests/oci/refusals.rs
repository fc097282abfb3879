//! Everything a registry or a pusher can get wrong is refused with one
//! line, and nothing is written: untrusted keys, policy, tampered blobs,
//! oversize layers, manifests that are not lucet artifacts, unsigned or
//! mismatched pushes, unreachable registries, missing keys.

use lucet_test_support::{Scratch, arg, pk};

use crate::harness::*;

const ARTIFACT_LAYER: &str = "layer: application/vnd.lucet.artifact.layer.v1 ";
const SOURCE_REFERRER: &str = "referrer: application/vnd.lucet.source.v1 ";

#[test]
fn pull_refuses_an_untrusted_signer_and_leaves_the_output_alone() {
    let (_registry, home, reference) = registry_with_hello();
    let stranger = &fixture().stranger;
    let output = home.write("app.so", "previous contents");
    pull(home.dir(), stranger, &[], &output, &reference).refused(1, "not trusted");
    assert_eq!(
        std::fs::read_to_string(&output).ok().as_deref(),
        Some("previous contents")
    );
    let fresh = home.path("fresh.so");
    pull(home.dir(), stranger, &[], &fresh, &reference).refused(1, "not trusted");
    assert!(!fresh.exists(), "a refused pull wrote {}", fresh.display());
}

#[test]
fn pull_applies_the_load_policy_to_signed_metadata() {
    let (_registry, home, reference) = registry_with_hello();
    let output = home.path("app.so");
    let with = |policy: &[&str]| pull(home.dir(), &fixture().public, policy, &output, &reference);
    with(&["--expect-name", "billing"]).refused(1, "billing");
    with(&["--require-source-key", "0000000000000001"]).refused(1, "0000000000000001");
    with(&["--min-timestamp", "99999999999"]).refused(1, "rollback refused");
    assert!(!output.exists());
    with(&[
        "--expect-name",
        "hello",
        "--require-source-key",
        "40FCCEDA8519379D",
    ])
    .ok();
}

#[test]
fn pull_refuses_a_blob_tampered_in_the_registry() {
    let (registry, home, reference) = registry_with_hello();
    // The registry's storage changed behind its back: same length, one bit flipped.
    let blob = registry.blob_path(&inspected(home.dir(), &reference, ARTIFACT_LAYER));
    let mut bytes = std::fs::read(&blob).expect("stored blob");
    bytes[100] ^= 1;
    std::fs::write(&blob, bytes).expect("tamper");
    let output = home.path("app.so");
    pull(home.dir(), &fixture().public, &[], &output, &reference)
        .refused(1, "does not match its digest");
    assert!(!output.exists());
}

#[test]
fn pull_refuses_an_oversize_artifact_before_downloading_it() {
    let (_registry, home, reference) = registry_with_hello();
    let output = home.path("app.so");
    let limit = ["--max-artifact-size", "1K"];
    let refused = pull(home.dir(), &fixture().public, &limit, &output, &reference);
    refused.refused(1, "over the limit of 1024");
    refused.says("--max-artifact-size");
}

#[test]
fn pull_refuses_what_is_not_a_lucet_artifact() {
    let (registry, home, reference) = registry_with_hello();
    let referrer = inspected(home.dir(), &reference, SOURCE_REFERRER);
    let output = home.path("app.so");
    let source = format!("{}/apps/hello@{referrer}", registry.host);
    pull(home.dir(), &fixture().public, &[], &output, &source).refused(
        1,
        "is not a lucet artifact: its artifact type is application/vnd.lucet.source.v1",
    );
    // A digest nothing has: the registry's own answer, on one line.
    let missing = format!("{}/apps/hello@sha256:{}", registry.host, "0".repeat(64));
    pull(home.dir(), &fixture().public, &[], &output, &missing).refused(1, "manifest unknown");
    assert!(!output.exists());
}

#[test]
fn push_refuses_unsigned_untrusted_and_mismatched_inputs() {
    let fixture = fixture();
    let registry = Registry::start();
    let home = Scratch::new();
    let reference = registry.reference("apps/hello:1.0");
    let unsigned = fixture.scratch.compile(&hello_wat(), "unsigned", &[]);
    push(home.dir(), &[], &unsigned, &reference).refused(1, "not signed");
    push_with_key(
        home.dir(),
        &fixture.stranger,
        &[],
        &fixture.artifact,
        &reference,
    )
    .refused(1, "not trusted");
    let other_source = home.write("other.wat", "(module)");
    home.write("other.wat.minisig", "not read: the hash differs first");
    let other = ["--source".into(), arg(&other_source)];
    push(home.dir(), &other, &fixture.artifact, &reference)
        .refused(1, "is not the source this artifact was compiled from");
    let unsigned_source = home.write("hello.wat", std::fs::read(hello_wat()).expect("source"));
    let unsigned_source = ["--source".into(), arg(&unsigned_source)];
    push(home.dir(), &unsigned_source, &fixture.artifact, &reference)
        .refused(1, "hello.wat.minisig");
    // Nothing reached the registry.
    run_oci(home.dir(), ["inspect", &reference]).refused(1, "manifest unknown");
}

#[test]
fn usage_errors_and_an_unreachable_registry() {
    let home = Scratch::new();
    let fixture = fixture();
    run_oci(home.dir(), ["pull", "-o", "x.so", "127.0.0.1:1/a:b"]).usage_error("--signature-pk");
    run_oci(home.dir(), ["push", "a.so", "127.0.0.1:1/a:b"]).usage_error("--signature-pk");
    let mut no_output = vec!["pull".to_string()];
    no_output.extend(pk(&fixture.public));
    no_output.push("127.0.0.1:1/a:b".into());
    run_oci(home.dir(), &no_output).usage_error("required arguments were not provided");
    run_oci(home.dir(), ["inspect", "Not A Reference"]).refused(1, "invalid reference");
    // Nothing listens on port 1: refused at once, not a hang.
    let output = home.path("app.so");
    pull(
        home.dir(),
        &fixture.public,
        &[],
        &output,
        "127.0.0.1:1/apps/hello:1.0",
    )
    .refused(1, "Connection refused");
}
