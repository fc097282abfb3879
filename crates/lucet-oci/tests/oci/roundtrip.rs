//! What is pushed comes back byte for byte, verified, and runs; the
//! registry's own tools (skopeo) and minisign handle what was pushed.

use std::path::Path;
use std::process::Command;

use lucet_test_support::{Scratch, external, lucet_wasi, pk, run};

use crate::harness::*;

#[test]
fn pushed_artifact_pulls_back_by_tag_and_by_digest_verified_and_runs() {
    let fixture = fixture();
    let registry = Registry::start();
    let home = Scratch::new();
    let reference = registry.reference("apps/hello:1.0");
    let pushed = push(home.dir(), &[], &fixture.artifact, &reference);
    let pinned = pushed.ok().trim().to_string();
    assert!(
        pinned.starts_with(&format!("{}/apps/hello@sha256:", registry.host)),
        "push prints the pinned reference: {pushed:#?}"
    );

    let original = std::fs::read(&fixture.artifact).expect("read artifact");
    for (name, from) in [("by-tag.so", &reference), ("by-digest.so", &pinned)] {
        let output = home.path(name);
        let pulled = pull(home.dir(), &fixture.public, &[], &output, from);
        assert_eq!(
            pulled.ok().trim(),
            pinned,
            "pull prints the pinned reference"
        );
        pulled.says("verified (signed by key");
        assert_eq!(std::fs::read(&output).expect("pulled file"), original);
    }

    let mut runner = lucet_wasi(pk(&fixture.public));
    runner.arg(home.path("by-digest.so"));
    assert_eq!(run(&mut runner).ok(), HELLO);
}

#[test]
fn inspect_shows_verified_claims_and_the_source_that_minisign_verifies() {
    let (registry, home, reference) = registry_with_hello();
    let inspect = run_oci(home.dir(), ["inspect", &reference]);
    let shown = inspect.ok();
    inspect.says("not verified");
    assert!(
        shown.contains("artifact-type: application/vnd.lucet.artifact.v1"),
        "{shown}"
    );
    assert_eq!(annotation(shown, "dev.lucet.artifact.name"), Some("hello"));
    assert_eq!(annotation(shown, "dev.lucet.artifact.kind"), Some("module"));
    // The publisher's key, which lucetc verified the source against.
    let source_key = annotation(shown, "dev.lucet.artifact.source-key");
    assert_eq!(source_key, Some("40FCCEDA8519379D"));
    // The signer claimed is the one pull verifies.
    let signer = annotation(shown, "dev.lucet.artifact.signer").expect("signer annotation");
    let output = home.path("x.so");
    let pulled = pull(home.dir(), &fixture().public, &[], &output, &reference);
    pulled.says(&format!("signed by key {signer}"));
    let digest = inspected(home.dir(), &reference, "digest: ");
    assert!(pulled.ok().trim().ends_with(&digest));

    // The source referrer, listed through the fallback tag (this registry
    // has no referrers API), fetched by skopeo and verified by minisign.
    let referrer = inspected(
        home.dir(),
        &reference,
        "referrer: application/vnd.lucet.source.v1 ",
    );
    let copied = home.path("source");
    run(Command::new(external("skopeo"))
        .args(["copy", "--src-tls-verify=false"])
        .arg(format!("docker://{}/apps/hello@{referrer}", registry.host))
        .arg(format!("dir:{}", copied.display())))
    .ok();
    let manifest = std::fs::read_to_string(copied.join("manifest.json")).expect("manifest");
    assert!(
        manifest.contains(&digest),
        "the referrer's subject is the artifact: {manifest}"
    );
    let source = home.path("hello.wat");
    std::fs::copy(
        layer(&copied, &manifest, "application/vnd.lucet.source.layer.v1"),
        &source,
    )
    .expect("copy source");
    let signature = home.path("hello.wat.minisig");
    std::fs::copy(
        layer(&copied, &manifest, "application/vnd.lucet.minisig.v1"),
        signature,
    )
    .expect("copy signature");
    let publisher = examples().join("publisher.pub");
    run(Command::new(external("minisign"))
        .arg("-Vm")
        .arg(&source)
        .arg("-p")
        .arg(publisher))
    .ok();
}

/// The file skopeo's `dir:` transport wrote for the layer of `media_type`.
fn layer(dir: &Path, manifest: &str, media_type: &str) -> std::path::PathBuf {
    let at = manifest
        .find(media_type)
        .unwrap_or_else(|| panic!("{media_type} in {manifest}"));
    let digest_at = at + manifest[at..].find("sha256:").expect("layer digest") + "sha256:".len();
    dir.join(&manifest[digest_at..digest_at + 64])
}

#[test]
fn skopeo_reads_and_copies_what_lucet_oci_pushes() {
    let fixture = fixture();
    let (registry, home, reference) = registry_with_hello();
    let raw = run(Command::new(external("skopeo"))
        .args(["inspect", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    let artifact_type = r#""artifactType":"application/vnd.lucet.artifact.v1""#;
    assert!(raw.ok().contains(artifact_type), "{raw:#?}");

    let mirror = registry.reference("mirror/hello:1.0");
    run(Command::new(external("skopeo"))
        .args(["copy", "--src-tls-verify=false", "--dest-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("docker://{mirror}")))
    .ok();
    let output = home.path("mirrored.so");
    let pulled = pull(home.dir(), &fixture.public, &[], &output, &mirror);
    // Copied unchanged: the same manifest digest under another name.
    let digest = inspected(home.dir(), &reference, "digest: ");
    assert!(pulled.ok().trim().ends_with(&digest), "{pulled:#?}");
    assert_eq!(
        std::fs::read(output).ok(),
        std::fs::read(&fixture.artifact).ok()
    );
}

#[test]
fn a_container_image_is_a_plain_image_to_skopeo_and_pull_points_elsewhere() {
    let fixture = fixture();
    let registry = Registry::start();
    let home = Scratch::new();
    let reference = registry.reference("images/hello:1.0");
    let extra = ["--container-image".to_string()];
    push(home.dir(), &extra, &fixture.artifact, &reference).ok();

    // skopeo describes it as any linux image, labelled from the verified
    // metadata, with the artifact as the entry point.
    let config = run(Command::new(external("skopeo"))
        .args(["inspect", "--config", "--raw", "--tls-verify=false"])
        .arg(format!("docker://{reference}")));
    let config = config.ok();
    let architecture = match std::env::consts::ARCH {
        "aarch64" => r#""architecture":"arm64""#,
        _ => r#""architecture":"amd64""#,
    };
    for needle in [
        architecture,
        r#""os":"linux""#,
        r#""Entrypoint":["/app.lucet"]"#,
        r#""dev.lucet.artifact.name":"hello""#,
    ] {
        assert!(config.contains(needle), "{needle} not in {config}");
    }

    let output = home.path("x.so");
    let pulled = pull(home.dir(), &fixture.public, &[], &output, &reference);
    pulled.refused(1, "push the artifact without --container-image");
    assert!(!output.exists());
}
