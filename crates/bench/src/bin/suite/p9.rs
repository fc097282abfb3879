//! P9 registry pull: `lucet-oci pull --signature-pk` of a signed 100 MB
//! artifact from a real registry on loopback (CNCF distribution), against
//! the pull alone: `skopeo copy` of the same reference into a directory, and
//! curl's GET of the layer blob, the bare transfer. All three write the
//! artifact to a file in the page cache, and all three outputs are checked
//! byte for byte against the artifact pushed.

use std::fs;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use lucet_bench::report::{Report, ms, ratio, time_n, yes_no};
use lucet_bench::{pseudo_random_bytes, wasm_with_data};
use lucet_runtime::EngineSettings;
use lucet_test_support::Registry;

use crate::fixture::Fixture;
use crate::options::Options;
use crate::process::{Clock, Cmd, Tools, time_interleaved};

/// The data segment that makes the artifact about 100 MB.
const DATA_LEN: usize = 100_000_000;

/// The artifact pushed to the registry, and how the peers address it.
struct Pushed {
    artifact: Vec<u8>,
    /// `HOST/REPOSITORY@sha256:...`, as push printed it.
    pinned: String,
    /// The layer blob's URL, for curl.
    blob_url: String,
    /// The layer digest's hex: skopeo's file name for the blob.
    blob_hex: String,
}

pub fn p9(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    report.heading("P9 registry pull: pull + verify against the pull alone");
    let Some(lucet_oci) = &tools.lucet_oci else {
        report.line("P9 not measured: no lucet-oci binary (--lucet-oci)");
        return Ok(());
    };
    if crate::process::on_path("docker-registry").is_none() {
        report
            .line("P9 not measured: docker-registry not installed (scripts/install-test-deps.sh)");
        return Ok(());
    }
    let data_len = if opts.common.smoke { 1 << 20 } else { DATA_LEN };
    let registry = Registry::start();
    let pushed = push(fx, lucet_oci, &registry, data_len)?;
    let ours = fx.path("p9-pulled.so");
    let skopeo_dir = fx.path("p9-skopeo");
    let curled = fx.path("p9-curl.so");
    let mut names = vec!["lucet-oci pull --signature-pk".to_owned()];
    let mut cmds = vec![Cmd::new(
        lucet_oci,
        &[
            &"pull",
            &"--signature-pk",
            &fx.key.public_path,
            &"-o",
            &ours,
            &pushed.pinned,
        ],
    )];
    if let Some(skopeo) = &tools.skopeo {
        let source = format!("docker://{}", pushed.pinned);
        let destination = format!("dir:{}", skopeo_dir.display());
        names.push(format!("skopeo copy ({})", Tools::version(skopeo)));
        let args: [&dyn AsRef<std::ffi::OsStr>; 5] = [
            &"copy",
            &"--quiet",
            &"--src-tls-verify=false",
            &source,
            &destination,
        ];
        cmds.push(Cmd::new(skopeo, &args));
    }
    let curl = (!opts.common.smoke)
        .then(|| crate::process::on_path("curl"))
        .flatten();
    if let Some(curl) = &curl {
        names.push("curl GET of the layer blob".into());
        cmds.push(Cmd::new(curl, &[&"-sSf", &"-o", &curled, &pushed.blob_url]));
    }
    let reps = if opts.common.smoke {
        1
    } else {
        5 * opts.common.reps
    };
    let results = time_interleaved(&cmds, reps, Clock::Wall)?;
    check_outputs(
        &pushed,
        &ours,
        tools.skopeo.as_ref().map(|_| skopeo_dir.as_path()),
        curl.as_ref().map(|_| curled.as_path()),
    )?;
    // BLAKE2b-512 of the whole artifact, in process: the largest part of
    // what verification adds to a download.
    let hash = time_n(reps, || {
        std::hint::black_box(blake2b_simd::blake2b(&pushed.artifact));
        Ok(())
    })?;
    report_p9(report, &pushed, &names, &results, hash, reps);
    Ok(())
}

/// Signs an artifact with `data_len` bytes of data in process, pushes it
/// with lucet-oci and reads its layer digest back with `lucet-oci inspect`.
fn push(fx: &Fixture, lucet_oci: &Path, registry: &Registry, data_len: usize) -> Result<Pushed> {
    let wasm = wasm_with_data(&pseudo_random_bytes(data_len));
    let (artifact, _) = fx.artifact(&wasm, EngineSettings::default(), true)?;
    let file = fx.path("p9.so");
    fs::write(&file, &artifact)?;
    let reference = registry.reference("bench/p9:1.0");
    let (_, stdout) = Cmd::new(
        lucet_oci,
        &[
            &"push",
            &"--signature-pk",
            &fx.key.public_path,
            &file,
            &reference,
        ],
    )
    .run()?;
    let pinned = String::from_utf8(stdout)?.trim().to_owned();
    let (_, inspected) = Cmd::new(lucet_oci, &[&"inspect", &pinned]).run()?;
    let inspected = String::from_utf8(inspected)?;
    let blob_digest = inspected
        .lines()
        .find_map(|line| line.strip_prefix("layer: "))
        .and_then(|layer| layer.split_whitespace().last())
        .context("lucet-oci inspect printed no layer")?;
    let blob_hex = blob_digest
        .strip_prefix("sha256:")
        .context("a layer digest that is not sha256")?
        .to_owned();
    Ok(Pushed {
        artifact,
        blob_url: format!("http://{}/v2/bench/p9/blobs/{blob_digest}", registry.host),
        blob_hex,
        pinned,
    })
}

/// Every pull wrote exactly the artifact pushed.
fn check_outputs(
    pushed: &Pushed,
    ours: &Path,
    skopeo_dir: Option<&Path>,
    curled: Option<&Path>,
) -> Result<()> {
    let mut outputs = vec![ours.to_owned()];
    outputs.extend(skopeo_dir.map(|dir| dir.join(&pushed.blob_hex)));
    outputs.extend(curled.map(Path::to_owned));
    for output in outputs {
        let bytes = fs::read(&output).with_context(|| format!("reading {}", output.display()))?;
        ensure!(
            bytes == pushed.artifact,
            "P9: {} is not the artifact pushed",
            output.display()
        );
    }
    Ok(())
}

fn report_p9(
    report: &mut Report,
    pushed: &Pushed,
    names: &[String],
    results: &[(Duration, Vec<u8>)],
    hash: Duration,
    reps: usize,
) {
    let megabytes = pushed.artifact.len() as f64 / 1e6;
    let ours = results.first().map_or(Duration::ZERO, |r| r.0);
    let mut rows: Vec<Vec<String>> = names
        .iter()
        .zip(results)
        .map(|(name, (t, _))| {
            vec![
                name.clone(),
                ms(*t),
                format!("{:.0}", megabytes / t.as_secs_f64()),
                ratio(ours, *t),
            ]
        })
        .collect();
    rows.push(vec![
        "BLAKE2b-512 of the artifact, in process".into(),
        ms(hash),
        format!("{:.0}", megabytes / hash.as_secs_f64()),
        String::new(),
    ]);
    report.line(&format!(
        "{megabytes:.1} MB artifact, registry on loopback; {reps} runs each, interleaved; outputs checked."
    ));
    report.table(&["pull", "median ms", "MB/s", "lucet-oci / this"], &rows);
    let skopeo = names
        .iter()
        .zip(results)
        .find(|(name, _)| name.starts_with("skopeo"));
    match skopeo.map(|(_, (t, _))| t) {
        Some(skopeo) => report.line(&format!(
            "P9: lucet-oci pull {} ms vs skopeo copy {} ms = {}× (goal ≤ 1.05×: {})",
            ms(ours),
            ms(*skopeo),
            ratio(ours, *skopeo),
            yes_no(ours.as_secs_f64() <= 1.05 * skopeo.as_secs_f64())
        )),
        None => {
            report.line("P9 verdict: skopeo copy not run (--smoke: no peers; or not installed)")
        }
    }
}
