//! P2's policy row: what evaluating a trust policy adds to a load
//! (`Policy::check` on the verified artifact, as every loader calls it),
//! for no policy and for one as large as a policy file makes in practice
//! with a revocation list. Per call, timed in batches: a call is far below
//! the clock's useful resolution.

use std::collections::HashSet;
use std::hint::black_box;
use std::time::Duration;

use anyhow::{Result, ensure};
use lucet_artifact::{KeyWindow, Policy, PolicyMode, Revocations, SignerRule, VerifiedArtifact};
use lucet_bench::report::{Report, time_n, yes_no};
use lucet_runtime::EngineSettings;
use lucet_signature::{KeyId, Prehash};

use crate::fixture::{Fixture, HELLO_WAT, wat};
use crate::options::Options;

/// The goal: policy evaluation adds at most this to a load.
const GOAL: Duration = Duration::from_micros(5);

/// Calls per timed batch.
const BATCH: u32 = 100;

/// Entries of the revocation list: keys, and images and sources each.
const REVOKED_KEYS: usize = 1_000;
const REVOKED_HASHES: usize = 10_000;

pub fn policy_cost(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    let (signed, _) = fx.artifact(&wat(HELLO_WAT)?, EngineSettings::default(), true)?;
    let verified = lucet_artifact::read_verified(&signed[..], &fx.key.keys, Default::default())?;
    let now = lucet_artifact::unix_now();
    let file_like = file_like_policy(&verified, now);
    ensure!(
        file_like.check(&verified, now)?.is_empty(),
        "the file-like policy must accept the artifact: every rule is evaluated in full"
    );
    let batches = opts.iters(2_000);
    let rows: Vec<Vec<String>> = [
        ("none (no flags, no file)", Policy::default()),
        (
            "file-like: 2 signer rules over 3 keys, 3 windows, minimum timestamp, engines, targets, name; revocation list of 1,000 keys, 10,000 images, 10,000 sources",
            file_like,
        ),
    ]
    .into_iter()
    .map(|(label, policy)| {
        let per_call = per_check(&policy, &verified, now, batches)?;
        Ok(vec![
            label.to_string(),
            format!("{:.3}", per_call.as_secs_f64() * 1e6),
            yes_no(per_call <= GOAL).to_string(),
        ])
    })
    .collect::<Result<_>>()?;
    report.line(&format!(
        "P2 policy: `Policy::check` per load, hello artifact, median of {batches} batches of {BATCH} calls"
    ));
    report.table(&["policy", "µs per load", "≤ 5 µs"], &rows);
    let worst = rows.last().map(|row| row[1].clone()).unwrap_or_default();
    let met = rows.iter().all(|row| row[2] == "yes");
    report.line(&format!(
        "P2 policy: evaluation adds {worst} µs to a load vs ≤ 5 µs: {}",
        if met { "met" } else { "MISSED" }
    ));
    Ok(())
}

/// Median time of one `check`, from batches of [`BATCH`] calls.
fn per_check<I>(
    policy: &Policy,
    verified: &VerifiedArtifact<I>,
    now: u64,
    batches: usize,
) -> Result<Duration> {
    let batch = time_n(batches, || {
        for _ in 0..BATCH {
            black_box(black_box(policy).check(black_box(verified), now)?);
        }
        Ok(())
    })?;
    Ok(batch / BATCH)
}

/// A policy the artifact meets with every rule evaluated: what a policy
/// file with a revocation list reads into.
fn file_like_policy<I>(verified: &VerifiedArtifact<I>, now: u64) -> Policy {
    let metadata = verified.metadata();
    let signer = verified.signer();
    let others = [KeyId::from_bytes([1; 8]), KeyId::from_bytes([2; 8])];
    let of = vec![signer, others[0], others[1]];
    let hashes = |salt: u8| -> HashSet<Prehash> {
        (0..REVOKED_HASHES)
            .map(|i| Prehash::of(&[&i.to_le_bytes()[..], &[salt]].concat()))
            .collect()
    };
    Policy {
        expected_name: Some(metadata.name.clone()),
        required_source_keys: Vec::new(),
        min_timestamp: Some(metadata.timestamp.saturating_sub(3600)),
        signer_rules: vec![
            SignerRule {
                name: "artifact.signed_by[0]".into(),
                at_least: 1,
                of: of.clone(),
            },
            SignerRule {
                name: "artifact.signed_by[1]".into(),
                at_least: 1,
                of: vec![signer, others[1]],
            },
        ],
        key_windows: of
            .iter()
            .map(|&key| KeyWindow {
                key,
                not_before: Some(now - 86_400),
                not_after: Some(now + 86_400),
            })
            .collect(),
        allowed_engines: vec!["wasmtime-47.0.0".into(), metadata.engine.clone()],
        allowed_targets: vec!["aarch64-unknown-linux-gnu".into(), metadata.target.clone()],
        revocations: Some(Revocations {
            serial: 1,
            expires: now + 86_400,
            grace: 0,
            keys: (0..REVOKED_KEYS as u64)
                .map(|i| KeyId::from_bytes((i + 1000).to_le_bytes()))
                .collect(),
            images: hashes(0),
            sources: hashes(1),
        }),
        mode: PolicyMode::Enforce,
    }
}
