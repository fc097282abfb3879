//! P5 process: `lucet-wasi --signature-pk` of hello world as a whole
//! process, against `wasmtime run --allow-precompiled` and node's WASI.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result, ensure};
use lucet_bench::report::{Report, ms, ratio, yes_no};
use lucet_runtime::EngineSettings;

use crate::fixture::{Fixture, HELLO_OUT, HELLO_WAT, wat};
use crate::options::Options;
use crate::process::{Cmd, NOT_INSTALLED, Tools, time_interleaved};

/// Node's WASI preview 1 runner for P5.
const NODE_RUNNER: &str = r#"import { readFile } from 'node:fs/promises';
import { WASI } from 'node:wasi';
import process from 'node:process';
const wasi = new WASI({ version: 'preview1', args: ['hello'], env: {} });
const module = await WebAssembly.compile(await readFile(process.argv[2]));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
"#;

/// A process P5 times: its row's name and its command.
struct Process {
    name: String,
    cmd: Cmd,
}

/// The processes P5 times (lucet-wasi first) and the names of the peers
/// that are absent.
struct Processes {
    present: Vec<Process>,
    missing: Vec<&'static str>,
}

pub fn p5(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    report.heading("P5 whole process: hello world");
    let Some(lucet_wasi) = &tools.lucet_wasi else {
        report.line("P5 not measured: no lucet-wasi binary (--lucet-wasi)");
        return Ok(());
    };
    let reps = if opts.common.smoke {
        2
    } else {
        20 * opts.common.reps
    };
    let processes = processes(fx, tools, lucet_wasi)?;
    let cmds: Vec<Cmd> = processes.present.iter().map(|p| p.cmd.clone()).collect();
    let results = time_interleaved(&cmds, reps, opts.clock)?;
    let ours = results.first().map(|r| r.0).context("no result")?;
    let mut rows = Vec::new();
    for (process, (t, out)) in processes.present.iter().zip(&results) {
        let name = &process.name;
        ensure!(out == HELLO_OUT, "P5 {name}: output {out:?}");
        rows.push(vec![name.clone(), ms(*t), ratio(ours, *t)]);
    }
    for name in processes.missing {
        let why = if opts.common.smoke {
            "not run (--smoke: no peers)"
        } else {
            NOT_INSTALLED
        };
        rows.push(vec![name.into(), why.into(), String::new()]);
    }
    report.line(&format!(
        "{reps} runs each, interleaved; medians of {}; output checked; lucet-wasi and wasmtime run from fresh copies of their binaries.",
        opts.clock.what()
    ));
    report.table(&["process", "median ms", "lucet-wasi / this"], &rows);
    if let Some((t, _)) = results.get(1).filter(|_| tools.wasmtime.is_some()) {
        report.line(&format!(
            "P5: lucet-wasi {} ms vs wasmtime {} ms = {}× (goal ≤ 0.35×: {})",
            ms(ours),
            ms(*t),
            ratio(ours, *t),
            yes_no(ours.as_secs_f64() <= 0.35 * t.as_secs_f64())
        ));
    } else {
        report.line(&format!("P5 verdict: wasmtime run {}", tools.missing));
    }
    Ok(())
}

/// Writes hello world as wasm and as a signed artifact, and the peers'
/// forms of it; returns the processes that run them.
fn processes(fx: &Fixture, tools: &Tools, lucet_wasi: &Path) -> Result<Processes> {
    let wasm = wat(HELLO_WAT)?;
    let wasm_path = fx.path("hello.wasm");
    fs::write(&wasm_path, &wasm)?;
    let (artifact, _) = fx.artifact(&wasm, EngineSettings::default(), true)?;
    let so = fx.path("hello.so");
    fs::write(&so, artifact)?;
    let mut present = vec![Process {
        name: format!("lucet-wasi --signature-pk ({})", Tools::version(lucet_wasi)),
        cmd: Cmd::new(lucet_wasi, &[&"--signature-pk", &fx.key.public_path, &so]),
    }];
    let mut missing = Vec::new();
    match &tools.wasmtime {
        Some(wasmtime) => present.push(wasmtime_process(fx, wasmtime, &wasm_path)?),
        None => missing.push("wasmtime run --allow-precompiled"),
    }
    match &tools.node {
        Some(node) => {
            let runner = fx.path("wasi-run.mjs");
            fs::write(&runner, NODE_RUNNER)?;
            present.push(Process {
                name: format!("node WASI ({})", Tools::version(node)),
                cmd: Cmd::new(node, &[&"--no-warnings", &runner, &wasm_path]),
            });
        }
        None => missing.push("node WASI"),
    }
    Ok(Processes { present, missing })
}

/// `wasmtime run --allow-precompiled` of hello world, compiled first.
fn wasmtime_process(fx: &Fixture, wasmtime: &Path, wasm_path: &Path) -> Result<Process> {
    let cwasm = fx.path("hello.cwasm");
    Cmd::new(wasmtime, &[&"compile", &wasm_path, &"-o", &cwasm]).run()?;
    Ok(Process {
        name: format!(
            "wasmtime run --allow-precompiled ({})",
            Tools::version(wasmtime)
        ),
        cmd: Cmd::new(wasmtime, &[&"run", &"--allow-precompiled", &cwasm]),
    })
}
