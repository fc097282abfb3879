//! A registry that requires a password: credentials come from docker's
//! config.json or from the auth.json skopeo (and podman) log in to, never
//! from flags; without them the registry's refusal is reported.

use std::process::Command;

use base64::Engine as _;
use lucet_test_support::{Scratch, arg, external, pk, run};

use crate::harness::*;

#[test]
fn docker_config_credentials_push_and_pull_and_none_are_refused() {
    let registry = Registry::with_password("ci", "s3cret");
    let home = Scratch::new();
    let reference = registry.reference("apps/hello:1.0");

    push(home.dir(), &[], &fixture().artifact, &reference).refused(1, "401");

    let write_config = |password: &str| {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("ci:{password}"));
        std::fs::create_dir_all(home.path(".docker")).expect("mkdir");
        home.write(
            ".docker/config.json",
            format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host),
        );
    };
    write_config("wrong");
    push(home.dir(), &[], &fixture().artifact, &reference).refused(1, "401");
    write_config("s3cret");
    push(home.dir(), &[], &fixture().artifact, &reference).ok();

    let mut pull = vec!["pull".to_string()];
    pull.extend(pk(&fixture().public));
    pull.extend([
        "-o".to_string(),
        arg(&home.path("app.so")),
        reference.clone(),
    ]);
    run_oci(home.dir(), &pull).ok();

    home.write(".docker/config.json", "{ not json");
    run_oci(home.dir(), &pull).refused(1, "credentials for");
}

#[test]
fn skopeo_login_auth_file_is_used() {
    let registry = Registry::with_password("ci", "s3cret");
    let home = Scratch::new();
    let auth_file = home.path("auth.json");
    run(Command::new(external("skopeo"))
        .args([
            "login",
            "--tls-verify=false",
            "-u",
            "ci",
            "-p",
            "s3cret",
            "--authfile",
        ])
        .arg(&auth_file)
        .arg(&registry.host))
    .ok();
    let reference = registry.reference("apps/hello:1.0");
    let mut args = vec!["push".to_string()];
    args.extend(pk(&fixture().public));
    args.extend([arg(&fixture().artifact), reference]);
    let mut command = oci(home.dir(), args);
    command.env("REGISTRY_AUTH_FILE", &auth_file);
    run(&mut command).ok();
}
