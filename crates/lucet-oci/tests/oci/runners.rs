//! `oci://REF` in lucet-wasi and lucet-serve: fetched through a local
//! digest-addressed cache that is never trusted, verified on every load,
//! and refused without a trusted key.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use lucet_test_support::{Output, Scratch, lucet_wasi, pk, raw, run, sk, tool};

use crate::harness::*;

/// `lucet-wasi --signature-pk RELEASE oci://REFERENCE`, caching under `cache`.
fn run_from_registry(cache: &Path, reference: &str) -> Output {
    let mut command = lucet_wasi(pk(&fixture().public));
    command
        .arg(format!("oci://{reference}"))
        .env("LUCET_CACHE_DIR", cache)
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE");
    run(&mut command)
}

#[test]
fn lucet_wasi_runs_a_pinned_artifact_from_the_cache_and_rechecks_it_every_time() {
    let (registry, home, reference) = registry_with_hello();
    let cache = home.path("cache");
    assert_eq!(run_from_registry(&cache, &reference).ok(), HELLO);
    let pinned = format!(
        "{}/apps/hello@{}",
        registry.host,
        inspected(home.dir(), &reference, "digest: ")
    );
    let layer = inspected(
        home.dir(),
        &reference,
        "layer: application/vnd.lucet.artifact.layer.v1 ",
    );
    drop(registry);

    // The registry is gone: a pinned reference runs from the cache alone,
    // a tag cannot be resolved.
    assert_eq!(run_from_registry(&cache, &pinned).ok(), HELLO);
    run_from_registry(&cache, &reference).refused(1, "Connection refused");

    // The cached artifact replaced by another validly signed one (a
    // rollback, say): its digest no longer matches, so it is fetched
    // again, and with no registry, nothing runs.
    let cached = cache
        .join("oci/sha256")
        .join(layer.trim_start_matches("sha256:"));
    // Signed by the same trusted key, under another name.
    let renamed = [
        sk(raw(&fixture().secret)).to_vec(),
        vec!["--name".into(), "other".into()],
    ];
    let other = fixture()
        .scratch
        .compile(&hello_wat(), "other", &renamed.concat());
    std::fs::copy(other, &cached).expect("replace the cached artifact");
    run_from_registry(&cache, &pinned).refused(1, "Connection refused");
}

#[test]
fn lucet_oci_fetch_fills_the_cache_a_pinned_reference_then_runs_from() {
    let (registry, home, reference) = registry_with_hello();
    let cache = home.path("cache");
    let mut fetch = oci(home.dir(), ["fetch", reference.as_str()]);
    fetch.env("LUCET_CACHE_DIR", &cache);
    let fetched = lucet_test_support::run_bounded(&mut fetch, Duration::from_secs(60));
    let printed: Vec<String> = fetched
        .ok()
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let layer = inspected(
        home.dir(),
        &reference,
        "layer: application/vnd.lucet.artifact.layer.v1 ",
    );
    let pinned = format!(
        "{}/apps/hello@{}",
        registry.host,
        inspected(home.dir(), &reference, "digest: ")
    );
    assert_eq!(printed, [layer, pinned.clone()]);
    drop(registry);
    assert_eq!(run_from_registry(&cache, &pinned).ok(), HELLO);
}

/// A copy of the runner alone in a directory of its own, where a test puts
/// (or does not put) a fetcher.
fn runner_alone(home: &Scratch) -> PathBuf {
    let bin = home.path("bin");
    std::fs::create_dir_all(&bin).expect("a directory for the runner alone");
    let alone = bin.join("lucet-wasi");
    std::fs::copy(tool("lucet-wasi"), &alone).expect("copy the runner");
    alone
}

/// `RUNNER --signature-pk RELEASE oci://127.0.0.1:1/apps/hello:1.0`.
fn run_alone(runner: &Path, home: &Scratch) -> Output {
    run_alone_with(runner, home, &[])
}

/// [`run_alone`] with `flags` before the reference.
fn run_alone_with(runner: &Path, home: &Scratch, flags: &[&str]) -> Output {
    let mut command = Command::new(runner);
    command
        .args(pk(&fixture().public))
        .args(flags)
        .arg("oci://127.0.0.1:1/apps/hello:1.0")
        .env("LUCET_CACHE_DIR", home.path("cache"))
        .env_remove("LUCET_SIGNATURE_PK");
    run(&mut command)
}

/// Beside `runner`, a `lucet-oci` that prints `line` and succeeds, with
/// file mode `mode`.
fn fake_fetcher(runner: &Path, line: &str, mode: u32) {
    fetcher_script(runner, &format!("printf '%s\\n' '{line}'"), mode);
}

/// Beside `runner`, a `lucet-oci` that is this shell script.
fn fetcher_script(runner: &Path, script: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt as _;
    let fetcher = runner.with_file_name("lucet-oci");
    std::fs::write(&fetcher, format!("#!/bin/sh\n{script}\n")).expect("write the fake fetcher");
    std::fs::set_permissions(&fetcher, std::fs::Permissions::from_mode(mode))
        .expect("make the fake fetcher executable");
}

#[test]
fn lucet_wasi_without_lucet_oci_beside_it_says_what_to_install() {
    let home = Scratch::new();
    let alone = runner_alone(&home);
    run_alone(&alone, &home).refused(1, "install lucet-oci beside this runner");
}

#[test]
fn lucet_wasi_trusts_its_fetcher_no_more_than_the_registry() {
    let home = Scratch::new();
    let alone = runner_alone(&home);

    // Not a digest: never made into a path.
    fake_fetcher(
        &alone,
        "sha256:../../../etc/passwd 127.0.0.1:1/apps/hello@sha256:aa",
        0o755,
    );
    run_alone(&alone, &home).refused(1, "not a sha256 digest");

    // A digest the cache has no file for.
    let absent = format!("sha256:{} 127.0.0.1:1/apps/hello@sha256:aa", "0".repeat(64));
    fake_fetcher(&alone, &absent, 0o755);
    run_alone(&alone, &home).refused(1, "does not have the digest it was fetched with");

    // An unsigned artifact, really in the cache under its digest: it is
    // opened, and then refused by verification.
    let unsigned = fixture().scratch.compile(&hello_wat(), "unsigned", &[]);
    let bytes = std::fs::read(&unsigned).expect("read the unsigned artifact");
    let summed = Command::new("sha256sum")
        .arg(&unsigned)
        .output()
        .expect("run sha256sum");
    let hex = String::from_utf8(summed.stdout).expect("sha256sum's output")[..64].to_string();
    let cached = home.path("cache").join("oci/sha256").join(&hex);
    std::fs::create_dir_all(cached.parent().expect("a parent")).expect("the cache directory");
    std::fs::write(&cached, &bytes).expect("cache the unsigned artifact");
    fake_fetcher(
        &alone,
        &format!("sha256:{hex} 127.0.0.1:1/apps/hello@sha256:aa"),
        0o755,
    );
    run_alone(&alone, &home).refused(1, "not signed");

    // A fetcher others may write does not run at all.
    fake_fetcher(
        &alone,
        &format!("sha256:{hex} 127.0.0.1:1/apps/hello@sha256:aa"),
        0o777,
    );
    run_alone(&alone, &home).refused(1, "others may write it");
}

#[test]
fn lucet_wasi_passes_insecure_registries_to_the_fetcher_one_argument_each() {
    let home = Scratch::new();
    let alone = runner_alone(&home);
    // Fails, naming each of its arguments in brackets on its error line.
    fetcher_script(
        &alone,
        r#"{ printf 'lucet-oci: got'; printf ' [%s]' "$@"; printf '\n'; } >&2; exit 1"#,
        0o755,
    );
    let got = run_alone_with(
        &alone,
        &home,
        &[
            "--insecure-registry",
            "registry.internal:5000",
            "--insecure-registry=mirror.internal",
        ],
    );
    got.refused(1, "[--insecure-registry=registry.internal:5000]");
    got.says("[--insecure-registry=mirror.internal]");
    got.says("[fetch] [--max-artifact-size]");
    got.says("[--] [127.0.0.1:1/apps/hello:1.0]");
}

#[test]
fn lucet_wasi_passes_its_size_limit_to_the_fetcher() {
    let (_registry, home, reference) = registry_with_hello();
    let mut command = lucet_wasi(pk(&fixture().public));
    command
        .args(["--max-artifact-size", "1K"])
        .arg(format!("oci://{reference}"))
        .env("LUCET_CACHE_DIR", home.path("cache"))
        .env_remove("DOCKER_CONFIG")
        .env_remove("REGISTRY_AUTH_FILE");
    run(&mut command).refused(1, "over the limit of 1024");
}

#[test]
fn runners_refuse_an_oci_artifact_without_a_trusted_key() {
    let home = Scratch::new();
    let mut unverified = lucet_wasi(["oci://127.0.0.1:1/apps/hello:1.0"]);
    run(&mut unverified).usage_error("give --signature-pk");
    let mut serve = Command::new(tool("lucet-serve"));
    serve
        .args(["--allow-unverified", "oci://127.0.0.1:1/apps/hello:1.0"])
        .env_remove("LUCET_SIGNATURE_PK")
        .env("HOME", home.dir());
    run(&mut serve).usage_error("give --signature-pk");
}

#[test]
fn lucet_serve_fetches_verifies_and_checks_the_kind_of_an_oci_app() {
    let (_registry, home, reference) = registry_with_hello();
    let mut serve = Command::new(tool("lucet-serve"));
    serve
        .args(pk(&fixture().public))
        .args(["--listen", "127.0.0.1:0"])
        .arg(format!("oci://{reference}"))
        .env_remove("LUCET_SIGNATURE_PK")
        .env("LUCET_CACHE_DIR", home.path("cache"));
    // Fetched and verified, then refused for what its signed metadata says it is.
    run(&mut serve).refused(1, "a core module, not a component");
}
