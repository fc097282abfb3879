//! The sightglass programs P3 compiles and P6 runs.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use crate::options::Options;
use crate::p6::larger_input;

pub struct Program {
    pub name: String,
    pub dir: PathBuf,
    pub wasm: PathBuf,
    pub expected: Option<Vec<u8>>,
}

pub fn programs(opts: &Options) -> Result<Vec<Program>> {
    let mut found = Vec::new();
    let corpus = fs::canonicalize(&opts.corpus)
        .with_context(|| format!("the corpus {}", opts.corpus.display()))?;
    let mut dirs: Vec<PathBuf> = fs::read_dir(&corpus)
        .with_context(|| format!("reading the corpus {}", opts.corpus.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        found.extend(programs_in(&dir)?);
    }
    // Smoke mode takes the smallest program with a larger input, so that
    // both of its workloads keep running.
    if opts.common.smoke {
        found.sort_by_key(|p| {
            (
                larger_input(p).is_none(),
                fs::metadata(&p.wasm).map(|m| m.len()).unwrap_or(u64::MAX),
            )
        });
    }
    if let Some(n) = opts.programs {
        found.truncate(n);
    }
    ensure!(
        !found.is_empty(),
        "no *.plainwasi.wasm in {}",
        opts.corpus.display()
    );
    Ok(found)
}

/// The programs (`*.plainwasi.wasm`) of one directory of the corpus.
fn programs_in(dir: &Path) -> Result<Vec<Program>> {
    let mut found = Vec::new();
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    files.sort();
    for wasm in files {
        let Some(file) = wasm.file_name().and_then(|f| f.to_str()) else {
            continue;
        };
        let Some(stem) = file.strip_suffix(".plainwasi.wasm") else {
            continue;
        };
        let expected = [
            format!("{stem}.stdout.expected"),
            "default.stdout.expected".into(),
        ]
        .iter()
        .find_map(|f| fs::read(dir.join(f)).ok());
        // Single-program directories name theirs `benchmark`.
        let name = match dir.file_name().and_then(|d| d.to_str()) {
            Some(d) if stem == "benchmark" => d.to_owned(),
            _ => stem.to_owned(),
        };
        found.push(Program {
            name,
            dir: dir.to_owned(),
            wasm: wasm.clone(),
            expected,
        });
    }
    Ok(found)
}

/// Upstream compares line by line: compare lines without trailing blanks.
pub fn same_output(actual: &[u8], expected: &[u8]) -> bool {
    let lines = |b: &[u8]| {
        String::from_utf8_lossy(b)
            .lines()
            .map(|l| l.trim_end().to_owned())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    };
    lines(actual) == lines(expected)
}
