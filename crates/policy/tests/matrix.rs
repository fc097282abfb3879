//! The policy matrix: every rule a policy file can state × satisfied,
//! violated and malformed, in enforce and audit modes, against a real
//! signed and counter-signed artifact read by `lucet_artifact`. Satisfied
//! loads with no finding; violated is refused naming the rule in enforce
//! mode and reported (and loaded) in audit mode, except a revocation,
//! which audit mode refuses too; malformed is an error when the file is
//! read, in either mode, never "allow all".

#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use lucet_artifact::{ArtifactKind, Countersignature, Metadata, VerifiedArtifact};
use lucet_signature::{Prehash, PublicKeySet, SecretKey};

/// The file's keys and their roles: `ci` signs the artifact, `security`
/// counter-signs it, `release` does not sign, `publisher` signed the
/// source, `revoker` signs revocation lists.
const KEYS: [(&str, &str); 5] = [
    ("ci", "compiler"),
    ("security", "security"),
    ("release", "release"),
    ("publisher", "source"),
    ("revoker", "revocation"),
];

struct World {
    dir: tempfile::TempDir,
    keys: Vec<SecretKey>,
    artifact: Vec<u8>,
    now: u64,
    made: u64,
}

impl World {
    fn new() -> World {
        let keys: Vec<SecretKey> = KEYS
            .iter()
            .map(|_| SecretKey::generate().unwrap())
            .collect();
        let now = lucet_artifact::unix_now();
        let made = now - 100;
        let image = b"an engine image: the policy never reads it".to_vec();
        let metadata = Metadata {
            kind: ArtifactKind::Module,
            name: "app".into(),
            image_len: image.len() as u64,
            image_blake2b: Prehash::of(&image),
            source_blake2b: Prehash::of(b"(module)"),
            source_key: Some(keys[3].key_id()),
            engine: "wasmtime-48.0.8".into(),
            target: "x86_64-unknown-linux-gnu".into(),
            cpu: "baseline".into(),
            settings: "opt:speed,epoch:1,reserve:0,guard:0".into(),
            timestamp: made,
            comment: None,
        };
        let signed =
            lucet_artifact::encode_signed(&image, &metadata, &Prehash::of(&image), &keys[0])
                .unwrap();
        let mut world = World {
            dir: tempfile::tempdir().unwrap(),
            keys,
            artifact: signed,
            now,
            made,
        };
        let line = Countersignature {
            role: "security".into(),
            timestamp: now,
        };
        let verified = world.read();
        world.artifact =
            lucet_artifact::countersign(&world.artifact, &verified, &world.keys[1], &line).unwrap();
        world
    }

    fn key(&self, name: &str) -> &SecretKey {
        &self.keys[KEYS.iter().position(|(n, _)| *n == name).unwrap()]
    }

    /// The artifact, verified against every key of the world.
    fn read(&self) -> VerifiedArtifact {
        let keys = PublicKeySet::new(self.keys.iter().map(SecretKey::public_key).collect());
        lucet_artifact::read_verified(&self.artifact[..], &keys.unwrap(), Default::default())
            .unwrap()
    }

    /// A policy file in `mode`: every key, `ci_extra` lines in `[keys.ci]`,
    /// then `rest`.
    fn policy(&self, mode: &str, ci_extra: &str, rest: &str) -> String {
        let mut text = format!("version = 1\nmode = \"{mode}\"\n");
        for ((name, role), key) in KEYS.iter().zip(&self.keys) {
            let extra = if *name == "ci" { ci_extra } else { "" };
            text.push_str(&format!(
                "[keys.{name}]\nkey = \"{}\"\nroles = [\"{role}\"]\n{extra}",
                key.public_key().to_base64()
            ));
        }
        text + rest
    }

    /// Writes revocation list `name` signed by the revoker; returns the
    /// section naming it (with a state file of its own).
    fn revocation(&self, name: &str, list: &str) -> String {
        std::fs::write(self.dir.path().join(name), list).unwrap();
        let signature = self
            .key("revoker")
            .sign_prehashed(&Prehash::of(list.as_bytes()), "list", "revocation list")
            .unwrap();
        let signature_path = self.dir.path().join(format!("{name}.minisig"));
        std::fs::write(signature_path, signature.to_text()).unwrap();
        format!("[revocation]\nlist = \"{name}\"\nstate = \"{name}.state\"\n")
    }

    fn list(&self, expires: u64, entries: &str) -> String {
        format!("version = 1\nserial = 1\nexpires = {expires}\n{entries}")
    }

    fn parse(&self, text: &str) -> Result<lucet_policy::TrustPolicy, String> {
        lucet_policy::parse_text(text, self.dir.path())
    }
}

/// One rule's three states, each as (`[keys.ci]` lines, rest of the file),
/// and what a malformed file's error must say.
struct Rule {
    name: &'static str,
    satisfied: (String, String),
    violated: (String, String),
    malformed: (String, String),
    malformed_says: &'static str,
    /// When the violated state is evaluated (the world's `now` unless the
    /// rule is about time passing).
    violated_at: u64,
}

impl Rule {
    fn new(name: &'static str, states: [&str; 3], malformed_says: &'static str, now: u64) -> Rule {
        let section = |rest: &str| (String::new(), rest.to_string());
        Rule {
            name,
            satisfied: section(states[0]),
            violated: section(states[1]),
            malformed: section(states[2]),
            malformed_says,
            violated_at: now,
        }
    }
}

/// Every rule but revocation's.
fn artifact_rules(world: &World) -> Vec<Rule> {
    let (now, made) = (world.now, world.made);
    let window = |lines: String| (lines, String::new());
    vec![
        Rule::new(
            "artifact.signed_by[0]",
            [
                "[artifact]\nsigned_by = [{ at_least = 2, of = [\"ci\", \"role:security\", \"release\"] }]\n",
                // `ci` named twice (and again by its role) is one key: of
                // ci and release, only ci signed.
                "[artifact]\nsigned_by = [{ at_least = 2, of = [\"ci\", \"ci\", \"role:compiler\", \"release\"] }]\n",
                "[artifact]\nsigned_by = [{ at_least = 0, of = [\"ci\"] }]\n",
            ],
            "at_least = 0",
            now,
        ),
        Rule {
            satisfied: window(format!("not_before = {now}\nnot_after = {now}\n")),
            violated: window(format!("not_before = {}\n", now + 1)),
            malformed: window(format!("not_before = {now}\nnot_after = {}\n", now - 1)),
            ..Rule::new(
                "keys.not_before/not_after",
                ["", "", ""],
                "not_before is after not_after",
                now,
            )
        },
        Rule::new(
            "artifact.min_timestamp",
            [
                &format!("[artifact]\nmin_timestamp = {made}\n"),
                &format!("[artifact]\nmin_timestamp = {}\n", made + 1),
                "[artifact]\nmin_timestamp = \"yesterday\"\n",
            ],
            "min_timestamp",
            now,
        ),
        Rule::new(
            "artifact.engines",
            [
                "[artifact]\nengines = [\"wasmtime-47.0.0\", \"wasmtime-48.0.8\"]\n",
                "[artifact]\nengines = [\"wasmtime-48.0.7\"]\n",
                "[artifact]\nengines = \"wasmtime-48.0.8\"\n",
            ],
            "engines",
            now,
        ),
        Rule::new(
            "artifact.targets",
            [
                "[artifact]\ntargets = [\"x86_64-unknown-linux-gnu\"]\n",
                "[artifact]\ntargets = [\"aarch64-unknown-linux-gnu\"]\n",
                "[artifact]\ntargets = [1]\n",
            ],
            "targets",
            now,
        ),
        Rule::new(
            "artifact.name",
            [
                "[artifact]\nname = \"app\"\n",
                "[artifact]\nname = \"App\"\n",
                "[artifact]\nname = 3\n",
            ],
            "name",
            now,
        ),
        Rule::new(
            "source.signed_by",
            [
                "[source]\nsigned_by = [\"role:source\"]\n",
                "[source]\nsigned_by = [\"release\"]\n",
                "[source]\nsigned_by = [\"role:publisher\"]\n",
            ],
            "names no key of this file",
            now,
        ),
    ]
}

/// Revocation by key id, image hash and source hash, and the list's expiry.
fn revocation_rules(world: &World) -> Vec<Rule> {
    let now = world.now;
    let verified = world.read();
    let hex = |hash: Prehash| lucet_artifact::hex(hash.as_bytes());
    let far = now + 86_400;
    let mut rules = Vec::new();
    for (field, value, other) in [
        (
            "keys",
            world.key("ci").key_id().to_string(),
            "0707070707070707".to_string(),
        ),
        (
            "images",
            hex(verified.metadata().image_blake2b),
            "ab".repeat(64),
        ),
        (
            "sources",
            hex(verified.metadata().source_blake2b),
            "ab".repeat(64),
        ),
    ] {
        let list = |state: &str, entries: String| {
            world.revocation(&format!("{field}-{state}.toml"), &world.list(far, &entries))
        };
        rules.push(Rule::new(
            match field {
                "keys" => "revocation.keys",
                "images" => "revocation.images",
                _ => "revocation.sources",
            },
            [
                &list("ok", format!("{field} = [\"{other}\"]\n")),
                &list("hit", format!("{field} = [\"{other}\", \"{value}\"]\n")),
                &list("bad", format!("{field} = [\"{}\"]\n", &value[..8])),
            ],
            "[0] is not",
            now,
        ));
    }
    // Current when the file is read, out of date at the load.
    let expiring = world.revocation("expiring.toml", &world.list(now + 3600, ""));
    let bad = "version = 1\nserial = 1\nexpires = \"soon\"\n";
    rules.push(Rule {
        violated_at: now + 3601,
        ..Rule::new(
            "revocation.expires",
            [
                &expiring,
                &expiring,
                &world.revocation("expires-bad.toml", bad),
            ],
            "expires",
            now,
        )
    });
    rules
}

/// The violated state: refused naming the rule in enforce mode, reported
/// in audit mode unless it is a revocation. Returns the refusals.
fn violated(world: &World, rule: &Rule, mode: &str, at: &str) -> Vec<lucet_artifact::Error> {
    let (ci, rest) = &rule.violated;
    let trust = world.parse(&world.policy(mode, ci, rest));
    let trust = trust.unwrap_or_else(|e| panic!("{at}: {e}"));
    match trust.policy.check(&world.read(), rule.violated_at) {
        Err(refusal) => {
            let enforced = mode == "enforce" || refusal.is_revocation();
            assert!(enforced, "{at}: audit mode refused: {refusal}");
            vec![refusal]
        }
        Ok(findings) => {
            assert_eq!(mode, "audit", "{at}: enforce mode let it load");
            let revoked = rule.name.starts_with("revocation.");
            assert!(!revoked, "{at}: audit mode loaded a revoked artifact");
            findings
        }
    }
}

#[test]
fn every_rule_satisfied_violated_and_malformed_in_enforce_and_audit_modes() {
    let world = World::new();
    let verified = world.read();
    // The file with no rule accepts the artifact: each case below differs
    // from it by one rule alone.
    let bare = world.parse(&world.policy("enforce", "", "")).unwrap();
    assert!(bare.policy.check(&verified, world.now).unwrap().is_empty());
    let mut rules = artifact_rules(&world);
    rules.extend(revocation_rules(&world));
    assert_eq!(rules.len(), 11);
    for rule in &rules {
        for mode in ["enforce", "audit"] {
            let at = |state: &str| format!("{} {state} in {mode} mode", rule.name);
            let (ci, rest) = &rule.satisfied;
            let trust = world.parse(&world.policy(mode, ci, rest));
            let trust = trust.unwrap_or_else(|e| panic!("{}: {e}", at("satisfied")));
            let findings = trust.policy.check(&verified, world.now);
            let findings = findings.unwrap_or_else(|e| panic!("{}: {e}", at("satisfied")));
            assert!(findings.is_empty(), "{}: {findings:?}", at("satisfied"));

            let refusals = violated(&world, rule, mode, &at("violated"));
            let named: Vec<_> = refusals.iter().map(|r| r.policy_rule()).collect();
            assert_eq!(named, [Some(rule.name.to_string())], "{}", at("violated"));
            let message = refusals[0].to_string();
            assert!(!message.contains('\n'), "{}: {message:?}", at("violated"));

            let (ci, rest) = &rule.malformed;
            let Err(error) = world.parse(&world.policy(mode, ci, rest)) else {
                panic!("{}: read as a policy", at("malformed"));
            };
            let says = rule.malformed_says;
            assert!(error.contains(says), "{}: {error}", at("malformed"));
            assert!(!error.contains('\n'), "{}: {error:?}", at("malformed"));
        }
    }
}

#[test]
fn a_window_counts_at_its_boundaries_and_not_beyond() {
    let world = World::new();
    let verified = world.read();
    let now = world.now;
    for (window, accepted) in [
        (format!("not_before = {now}\n"), true),
        (format!("not_after = {now}\n"), true),
        (format!("not_before = {}\n", now + 1), false),
        (format!("not_after = {}\n", now - 1), false),
    ] {
        let trust = world.parse(&world.policy("enforce", &window, "")).unwrap();
        let loads = trust.policy.check(&verified, now).is_ok();
        assert_eq!(loads, accepted, "{window}");
    }
}

#[test]
fn a_file_that_does_not_parse_never_allows_all() {
    let world = World::new();
    for text in [
        "",
        "version = 1\n",
        "version = 1\n[artifact]\n",
        "mode = \"audit\"\n",
        "\u{0}",
        "version = 1\n[revocation]\nlist = \"absent.toml\"\nstate = \"s\"\n",
    ] {
        assert!(world.parse(text).is_err(), "{text:?} was read as a policy");
    }
}
