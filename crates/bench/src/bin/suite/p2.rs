//! P2 load: `lucet_runtime::load_verified` of a signed artifact against
//! `load_unverified` of the same image unsigned, from a file in the page
//! cache; the BLAKE2b-512 time of the image is the allowance.

use std::fs::{self, File};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use lucet_bench::report::{Report, median_of, ms, ratio, time_n, yes_no};
use lucet_bench::{MemoryUse, memory_use, pseudo_random_bytes, wasm_with_data};
use lucet_runtime::{EngineSettings, LoadOptions};
use lucet_signature::Prehash;
use wasmtime::{Config, Engine};

use crate::fixture::{Fixture, HELLO_WAT, WasmtimeContext, wat};
use crate::options::Options;

/// The large P2 artifact's data segment: its image is larger than this.
const LARGE_DATA: usize = 6 << 20;

/// The columns of P2's table.
const P2_COLUMNS: [&str; 10] = [
    "artifact",
    "unsigned ms",
    "signed ms",
    "overhead ms",
    "BLAKE2b of image ms",
    "allowed ms",
    "signed/unsigned",
    "overhead ≤ allowed",
    "peak RSS growth MiB (unsigned / signed)",
    "memory files MiB",
];

/// One artifact of P2: the signed and the unsigned form of one module.
struct Artifacts {
    name: &'static str,
    signed: Vec<u8>,
    unsigned: Vec<u8>,
    image_len: usize,
    signed_path: PathBuf,
    unsigned_path: PathBuf,
    iters: usize,
}

/// The times of one timed round.
struct Round {
    signed: Duration,
    unsigned: Duration,
    hash: Duration,
}

/// A row of P2's table: medians, and the most memory a load used.
struct LoadRow {
    unsigned: Duration,
    signed: Duration,
    hash: Duration,
    memory_unsigned: Option<MemoryUse>,
    memory_signed: Option<MemoryUse>,
}

impl LoadRow {
    fn overhead(&self) -> Duration {
        self.signed.saturating_sub(self.unsigned)
    }

    fn allowed(&self) -> Duration {
        self.hash + self.unsigned / 20
    }

    fn cells(&self, a: &Artifacts) -> Vec<String> {
        let (overhead, allowed) = (self.overhead(), self.allowed());
        vec![
            format!(
                "{} ({} bytes image, {} bytes signed)",
                a.name,
                a.image_len,
                a.signed.len()
            ),
            ms(self.unsigned),
            ms(self.signed),
            ms(overhead),
            ms(self.hash),
            ms(allowed),
            ratio(self.signed, self.unsigned),
            yes_no(overhead <= allowed).into(),
            format!(
                "{} / {}",
                peak_mib(self.memory_unsigned),
                peak_mib(self.memory_signed)
            ),
            files_mib(self.memory_signed),
        ]
    }

    fn verdict(&self, name: &str) -> String {
        let (overhead, allowed) = (self.overhead(), self.allowed());
        format!(
            "P2 {name}: signed load overhead {} ms vs allowance (hash + 5 %) {} ms: {}",
            ms(overhead),
            ms(allowed),
            if overhead <= allowed { "met" } else { "MISSED" }
        )
    }
}

pub fn p2(opts: &Options, fx: &Fixture, report: &mut Report) -> Result<()> {
    report.heading("P2 load: read + verify + deserialize, signed vs unsigned");
    let mut rows = Vec::new();
    let mut verdicts = Vec::new();
    for (name, wasm, iters) in [
        ("hello", wat(HELLO_WAT)?, opts.iters(300)),
        // Smoke mode keeps artifacts small: 256 KiB of data.
        (
            "large",
            wasm_with_data(&pseudo_random_bytes(if opts.common.smoke {
                256 << 10
            } else {
                LARGE_DATA
            })),
            opts.iters(40),
        ),
    ] {
        let a = Artifacts::write(fx, name, &wasm, iters)?;
        let row = measure(&a, fx)?;
        rows.push(row.cells(&a));
        verdicts.push(row.verdict(name));
        if !opts.common.smoke {
            rows.extend(diagnostics(&a, fx)?);
        }
    }
    report.table(&P2_COLUMNS, &rows);
    for v in verdicts {
        report.line(&v);
    }
    crate::policy_cost::policy_cost(opts, fx, report)
}

impl Artifacts {
    /// Compiles `wasm` signed and unsigned, and writes both.
    fn write(fx: &Fixture, name: &'static str, wasm: &[u8], iters: usize) -> Result<Artifacts> {
        let settings = EngineSettings::default();
        let (signed, image_len) = fx.artifact(wasm, settings, true)?;
        let (unsigned, _) = fx.artifact(wasm, settings, false)?;
        let signed_path = fx.path(&format!("{name}.signed.so"));
        let unsigned_path = fx.path(&format!("{name}.unsigned.so"));
        fs::write(&signed_path, &signed)?;
        fs::write(&unsigned_path, &unsigned)?;
        Ok(Artifacts {
            name,
            signed,
            unsigned,
            image_len,
            signed_path,
            unsigned_path,
            iters,
        })
    }

    fn image(&self) -> &[u8] {
        &self.signed[..self.image_len]
    }
}

/// Times both loads and the hash of the image, interleaved.
fn measure(a: &Artifacts, fx: &Fixture) -> Result<LoadRow> {
    let name = a.name;
    let mut rounds = Vec::new();
    let (mut m_signed, mut m_unsigned) = (None, None);
    // One untimed round, then interleaved timed rounds.
    for i in 0..=a.iters {
        let (signed, memory) = timed_load(|| {
            lucet_runtime::load_verified(
                &File::open(&a.signed_path)?,
                &fx.key.keys,
                LoadOptions::default(),
            )
            .with_context(|| format!("load_verified {name}"))
        })?;
        if i > 0 {
            m_signed = most(m_signed, memory);
        }
        let (unsigned, memory) = timed_load(|| {
            lucet_runtime::load_unverified(&File::open(&a.unsigned_path)?, LoadOptions::default())
                .with_context(|| format!("load_unverified {name}"))
        })?;
        if i > 0 {
            m_unsigned = most(m_unsigned, memory);
        }
        let start = Instant::now();
        black_box(Prehash::of(black_box(a.image())));
        let hash = start.elapsed();
        if i > 0 {
            rounds.push(Round {
                signed,
                unsigned,
                hash,
            });
        }
    }
    let m = |f: fn(&Round) -> Duration| median_of(&rounds.iter().map(f).collect::<Vec<_>>());
    Ok(LoadRow {
        signed: m(|r| r.signed)?,
        unsigned: m(|r| r.unsigned)?,
        hash: m(|r| r.hash)?,
        memory_unsigned: m_unsigned,
        memory_signed: m_signed,
    })
}

/// Where unsigned load time goes, and the signed path's only extra work:
/// diagnostic rows (not in `--smoke`).
fn diagnostics(a: &Artifacts, fx: &Fixture) -> Result<Vec<Vec<String>>> {
    let (name, iters) = (a.name, a.iters);
    // Where unsigned load time goes: the engine, then deserialize.
    let t_engine = time_n(iters.min(50), || {
        let e = Engine::new(&Config::new()).wt("engine")?;
        drop(black_box(e));
        Ok(())
    })?;
    // Reading alone, from memory: both paths hash the image (the
    // unverified one checks the metadata's image_blake2b); the
    // signed one adds the signature checks.
    let t_read_unverified = time_n(iters, || {
        black_box(lucet_artifact::read_unverified(
            &a.unsigned[..],
            Default::default(),
        )?);
        Ok(())
    })?;
    let t_read_verified = time_n(iters, || {
        black_box(lucet_artifact::read_verified(
            &a.signed[..],
            &fx.key.keys,
            Default::default(),
        )?);
        Ok(())
    })?;
    let read_row = diagnostic_row(
        format!("{name}: of which `read_unverified` / `read_verified` from memory (diagnostic)"),
        &[
            (1, ms(t_read_unverified)),
            (2, ms(t_read_verified)),
            (3, ms(t_read_verified.saturating_sub(t_read_unverified))),
            (6, ratio(t_read_verified, t_read_unverified)),
        ],
    );
    let t_ed25519 = time_ed25519(a, fx)?;
    Ok(vec![
        read_row,
        diagnostic_row(
            format!("{name}: of which two Ed25519 verifications (diagnostic)"),
            &[(3, ms(t_ed25519))],
        ),
        diagnostic_row(
            format!("{name}: of which a bare `Engine::new` (diagnostic)"),
            &[(1, ms(t_engine))],
        ),
    ])
}

/// The signed path's only extra work, alone: the two strict Ed25519
/// verifications (data signature, global signature) of a prehashed
/// signature with a comment as long as the artifact's.
fn time_ed25519(a: &Artifacts, fx: &Fixture) -> Result<Duration> {
    let prehash = Prehash::of(a.image());
    let comment = "x".repeat(a.signed.len() - a.unsigned.len());
    let sig = fx.key.secret.sign_prehashed(&prehash, &comment, "bench")?;
    let key = fx.key.keys.iter().next().context("the bench key")?;
    time_n(a.iters, || {
        key.verify_prehashed(black_box(&sig), black_box(&prehash))?;
        Ok(())
    })
}

/// A diagnostic row of P2's table: its label, and only the cells given (by
/// column index) filled.
fn diagnostic_row(label: String, cells: &[(usize, String)]) -> Vec<String> {
    let mut row = vec![String::new(); P2_COLUMNS.len()];
    for (column, value) in [(0, label)].into_iter().chain(cells.iter().cloned()) {
        if let Some(cell) = row.get_mut(column) {
            *cell = value;
        }
    }
    row
}

/// Times one load and measures its memory with the module still loaded.
fn timed_load(
    load: impl FnOnce() -> Result<lucet_runtime::LoadedArtifact>,
) -> Result<(Duration, Option<MemoryUse>)> {
    let ((loaded, elapsed), memory) = memory_use(|| {
        let start = Instant::now();
        let loaded = load()?;
        Ok((loaded, start.elapsed()))
    })?;
    drop(black_box(loaded));
    Ok((elapsed, memory))
}

/// The larger of two memory uses, field by field.
fn most(a: Option<MemoryUse>, b: Option<MemoryUse>) -> Option<MemoryUse> {
    match (a, b) {
        (Some(a), Some(b)) => Some(MemoryUse {
            peak_rss_growth: a.peak_rss_growth.max(b.peak_rss_growth),
            memory_files: a.memory_files.max(b.memory_files),
        }),
        (a, b) => a.or(b),
    }
}

fn peak_mib(memory: Option<MemoryUse>) -> String {
    memory.map_or_else(
        || "n/a".into(),
        |m| format!("{:.1}", m.peak_rss_growth as f64 / 1048576.0),
    )
}

fn files_mib(memory: Option<MemoryUse>) -> String {
    memory.map_or_else(
        || "n/a".into(),
        |m| format!("{:.1}", m.memory_files as f64 / 1048576.0),
    )
}
