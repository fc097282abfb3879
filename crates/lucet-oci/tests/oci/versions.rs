//! The packaging's version rule (docs/artifact-format.md, "In an OCI
//! registry"), both ways: a manifest of a newer packaging is refused with
//! "upgrade", never guessed at; what a newer writer may add without a new
//! version (annotations, fields this reader does not know) is ignored.
//! The manifests are written straight to the registry with curl.

use std::process::Command;

use lucet_test_support::{external, run};

use crate::harness::*;

/// Stores `manifest` under `tag` in `apps/hello` with an HTTP PUT.
fn put_manifest(registry: &Registry, tag: &str, manifest: &str) {
    run(Command::new(external("curl"))
        .args(["--fail", "--silent", "--show-error", "-X", "PUT"])
        .args([
            "-H",
            "Content-Type: application/vnd.oci.image.manifest.v1+json",
        ])
        .args(["--data-binary", manifest])
        .arg(format!(
            "http://{}/v2/apps/hello/manifests/{tag}",
            registry.host
        )))
    .ok();
}

fn get_manifest(registry: &Registry, tag: &str) -> String {
    run(Command::new(external("curl"))
        .args(["--fail", "--silent", "--show-error"])
        .args(["-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
        .arg(format!(
            "http://{}/v2/apps/hello/manifests/{tag}",
            registry.host
        )))
    .ok()
    .to_string()
}

#[test]
fn a_newer_packaging_is_refused_and_additions_within_a_version_are_ignored() {
    let (registry, home, _) = registry_with_hello();
    let ours = get_manifest(&registry, "1.0");
    let output = home.path("app.so");

    let newer = ours.replace(
        r#""artifactType":"application/vnd.lucet.artifact.v1""#,
        r#""artifactType":"application/vnd.lucet.artifact.v2""#,
    );
    assert_ne!(newer, ours, "the manifest names its artifact type: {ours}");
    put_manifest(&registry, "newer", &newer);
    pull(
        home.dir(),
        &fixture().public,
        &[],
        &output,
        &registry.reference("apps/hello:newer"),
    )
    .refused(1, "newer than this build reads: upgrade");
    assert!(!output.exists());

    let extended = ours.replacen(
        r#""annotations":{"#,
        r#""futureField":{"x":1},"annotations":{"dev.lucet.artifact.future":"ignored","#,
        1,
    );
    assert_ne!(extended, ours, "the manifest has annotations: {ours}");
    put_manifest(&registry, "extended", &extended);
    pull(
        home.dir(),
        &fixture().public,
        &[],
        &output,
        &registry.reference("apps/hello:extended"),
    )
    .ok();
    assert_eq!(
        std::fs::read(&output).ok(),
        std::fs::read(&fixture().artifact).ok()
    );
}
