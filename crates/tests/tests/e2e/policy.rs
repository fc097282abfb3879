//! `lucet-wasi --policy FILE`: a trust policy file's keys, roles, windows
//! and k-of-n rule against real artifacts, counter-signed by `lucetc
//! --countersign`, in enforce and audit modes; revocation lists signed by
//! the real minisign.

use std::path::{Path, PathBuf};

use crate::util::*;

/// A compiled hello signed by `ci`, the `security` key pair, and a scratch
/// directory holding both public keys.
struct Setup {
    scratch: Scratch,
    artifact: PathBuf,
    ci: PathBuf,
    security_secret: PathBuf,
}

fn setup() -> Setup {
    let scratch = Scratch::new();
    let (ci_secret, ci) = scratch.raw_key_pair("ci");
    let (security_secret, _) = scratch.raw_key_pair("security");
    let artifact = scratch.compile(&hello_wat(), "hello", &[sign_raw(&ci_secret)]);
    Setup {
        scratch,
        artifact,
        ci,
        security_secret,
    }
}

impl Setup {
    /// A policy file: ci and security (with `security_extra` lines), two of
    /// them required, in `mode`.
    fn policy(&self, mode: &str, security_extra: &str) -> PathBuf {
        self.scratch.write(
            "policy.toml",
            format!(
                "version = 1\nmode = \"{mode}\"\n\
                 [keys.ci]\nfile = \"ci.pub\"\nroles = [\"compiler\"]\n\
                 [keys.security]\nfile = \"security.pub\"\nroles = [\"security\"]\n{security_extra}\
                 [artifact]\nsigned_by = [{{ at_least = 2, of = [\"ci\", \"role:security\"] }}]\n"
            ),
        )
    }

    fn countersign(&self) {
        let mut command = lucetc([
            "--countersign".into(),
            arg(&self.artifact),
            "--role".into(),
            "security".into(),
        ]);
        command
            .arg(sign_raw(&self.security_secret))
            .args(pk(&self.ci));
        run(&mut command).ok();
    }
}

fn run_with_policy(policy: &Path, artifact: &Path, extra: &[&str]) -> Output {
    let mut command = lucet_wasi(["--policy".to_string(), arg(policy)]);
    command.args(extra).arg(artifact);
    run(&mut command)
}

#[test]
fn k_of_n_counts_counter_signatures_and_refuses_naming_the_rule() {
    let setup = setup();
    let policy = setup.policy("enforce", "");
    run_with_policy(&policy, &setup.artifact, &[]).refused(
        1,
        "rule artifact.signed_by[0] needs 2 of its keys to have signed, and 1 did",
    );
    setup.countersign();
    assert_eq!(run_with_policy(&policy, &setup.artifact, &[]).ok(), HELLO);
}

#[test]
fn a_key_outside_its_window_does_not_count() {
    let setup = setup();
    setup.countersign();
    let expired = setup.policy("enforce", "not_after = 1000000000\n");
    run_with_policy(&expired, &setup.artifact, &[]).refused(1, "and 1 did");
    let future = setup.policy("enforce", "not_before = 4102444800\n");
    run_with_policy(&future, &setup.artifact, &[]).refused(1, "and 1 did");
}

#[test]
fn audit_mode_runs_and_reports_each_rule_as_text_or_json() {
    let setup = setup();
    let policy = setup.policy("audit", "");
    let text = run_with_policy(&policy, &setup.artifact, &[]);
    assert_eq!(text.status, 0, "{text:#?}");
    assert_eq!(text.stdout, HELLO);
    assert!(text.stderr.contains("audit:"), "{text:#?}");
    assert!(
        text.stderr
            .contains("rule artifact.signed_by[0] would refuse it"),
        "{text:#?}"
    );

    let json = run_with_policy(&policy, &setup.artifact, &["--log-format", "json"]);
    assert_eq!(json.stdout, HELLO);
    let line: serde_json::Value = serde_json::from_str(json.stderr.trim()).expect("one JSON line");
    assert_eq!(line["level"], "audit");
    assert_eq!(line["rule"], "artifact.signed_by[0]");
    assert_eq!(line["action"], "ran");
}

#[test]
fn a_policy_file_is_the_one_source_of_keys_and_a_bad_one_stops_the_start() {
    let setup = setup();
    let policy = setup.policy("enforce", "");
    let mut both = lucet_wasi(["--policy".to_string(), arg(&policy)]);
    both.args(pk(&setup.ci)).arg(&setup.artifact);
    run(&mut both).usage_error("--policy FILE holds the keys and rules");

    let broken = setup.scratch.write("broken.toml", "version = 1\n[artifact]\nsigned_by = [{ at_least = 1, of = [\"nobody\"] }]\n[keys.ci]\nfile = \"ci.pub\"\nroles = [\"compiler\"]\n");
    run_with_policy(&broken, &setup.artifact, &[])
        .refused(1, "\"nobody\" names no key of this file");
    let newer = setup.scratch.write("newer.toml", "version = 2\n");
    run_with_policy(&newer, &setup.artifact, &[]).refused(1, "upgrade");
}

/// A policy with a revocation list signed by the real minisign with the
/// `revoker` key; what the artifact is and who signed it, from
/// lucet-objdump --json.
struct Revocation {
    setup: Setup,
    revoker: PathBuf,
    key_id: String,
    image: String,
    source: String,
}

fn revocation_setup() -> Revocation {
    let setup = setup();
    let (revoker, _) = setup.scratch.raw_key_pair("revoker");
    let dump = run(&mut lucet_objdump([
        "--json".to_string(),
        "--signature-pk".into(),
        arg(&setup.ci),
        arg(&setup.artifact),
    ]));
    let dump: serde_json::Value = serde_json::from_str(dump.ok()).expect("JSON");
    let field = |value: &serde_json::Value| value.as_str().expect("a string").to_string();
    Revocation {
        key_id: field(&dump["key_id"]),
        image: field(&dump["image_blake2b"]),
        source: field(&dump["metadata"]["source-blake2b"]),
        setup,
        revoker,
    }
}

impl Revocation {
    fn policy(&self, mode: &str) -> PathBuf {
        self.setup.scratch.write(
            "revoking.toml",
            format!(
                "version = 1\nmode = \"{mode}\"\n\
                 [keys.ci]\nfile = \"ci.pub\"\nroles = [\"compiler\"]\n\
                 [keys.revoker]\nfile = \"revoker.pub\"\nroles = [\"revocation\"]\n\
                 [revocation]\nlist = \"revoked.toml\"\nstate = \"revocation.state\"\n"
            ),
        )
    }

    /// Writes list `serial`, revoking `field = [value]`, and signs it with
    /// stock minisign.
    fn publish(&self, serial: u64, expires: u64, field: &str, value: &str) {
        let list = self.setup.scratch.write(
            "revoked.toml",
            format!(
                "version = 1\nserial = {serial}\nexpires = {expires}\n{field} = [\"{value}\"]\n"
            ),
        );
        run(std::process::Command::new(external("minisign"))
            .args(["-S", "-s"])
            .arg(&self.revoker)
            .arg("-m")
            .arg(&list))
        .ok();
    }
}

/// 2100-01-01: lists in these tests stay current.
const FAR: u64 = 4102444800;

#[test]
fn a_signed_revocation_list_refuses_revoked_keys_images_and_sources_even_in_audit_mode() {
    let revocation = revocation_setup();
    let artifact = &revocation.setup.artifact;
    let (enforce, audit) = (revocation.policy("enforce"), revocation.policy("audit"));
    revocation.publish(1, FAR, "keys", "0000000000000001");
    assert_eq!(run_with_policy(&enforce, artifact, &[]).ok(), HELLO);
    let cases = [
        ("keys", revocation.key_id.as_str(), "signing key"),
        ("images", revocation.image.as_str(), "image"),
        ("sources", revocation.source.as_str(), "source"),
    ];
    for (serial, (field, value, what)) in (2..).zip(cases) {
        revocation.publish(serial, FAR, field, value);
        let refusal =
            format!("artifact's {what} {value} is revoked (revocation list serial {serial})");
        run_with_policy(&enforce, artifact, &[]).refused(1, &refusal);
        run_with_policy(&audit, artifact, &[]).refused(1, &refusal);
    }
}

#[test]
fn an_older_or_expired_or_unsigned_revocation_list_stops_the_start() {
    let revocation = revocation_setup();
    let artifact = &revocation.setup.artifact;
    let policy = revocation.policy("enforce");
    revocation.publish(5, FAR, "keys", "0000000000000001");
    assert_eq!(run_with_policy(&policy, artifact, &[]).ok(), HELLO);
    revocation.publish(4, FAR, "keys", "0000000000000001");
    run_with_policy(&policy, artifact, &[]).refused(1, "lower than serial 5 already seen");
    revocation.publish(6, 1_000_000_000, "keys", "0000000000000001");
    run_with_policy(&policy, artifact, &[]).refused(1, "expired at 1000000000 (grace 0 s)");
    revocation.publish(7, FAR, "keys", "0000000000000001");
    let list = revocation.setup.scratch.path("revoked.toml");
    let signed = std::fs::read_to_string(&list).expect("read");
    std::fs::write(&list, signed.replace("serial = 7", "serial = 8")).expect("write");
    run_with_policy(&policy, artifact, &[])
        .refused(1, "it must verify against a key with the `revocation` role");
}
