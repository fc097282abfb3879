//! `suite`: the performance suite (rows P2–P11 of BENCHMARKS.md), each row
//! measured side by side with its peer in the same run.
//!
//! * **P2 load**: `lucet_runtime::load_verified` of a signed artifact
//!   against `load_unverified` of the same image unsigned, from a file in the
//!   page cache, for a small (hello world) and a large (≥ 5 MiB image)
//!   artifact; the BLAKE2b-512 time of the image is the allowance.
//! * **P3 compile**: `lucetc` (subprocess) against the bare in-process
//!   wasmtime `precompile_module` with the same settings, and `wasmtime
//!   compile` (the CLI, when installed), on the sightglass programs.
//! * **P4 full cycle**: `lucet_embed::ModuleHandle::run` (WASI context,
//!   pooled instance, `_start`, drop) of a trivial module and a hello world,
//!   against bare wasmtime with the same pooling allocator.
//! * **P5 process**: `lucet-wasi --signature-pk` of hello world as a whole
//!   process, against `wasmtime run --allow-precompiled` and node's WASI.
//! * **P6 execution**: the sightglass programs under `lucet-wasi`, with
//!   upstream's inputs and, for the four whose inputs scale their work,
//!   larger ones (`LARGER_INPUTS`) in a scratch directory, against `wasmtime
//!   run --allow-precompiled` at the same opt level, with epoch interruption
//!   (our default) and without (`lucetc --no-interruption`).
//! * **P7 WebAssembly 3.0 and components**, in three parts: the end-to-end
//!   tests' wasm-GC program (`gc.wat`, which allocates far beyond its heap so
//!   the collector runs) as a whole process, `lucetc` + `lucet-wasi
//!   --signature-pk` against `wasmtime compile` + `wasmtime run
//!   --allow-precompiled`, both at opt level s with the copying collector,
//!   with epoch interruption and without; hello world made a WASI 0.2
//!   component with the official preview-1 adapter, as a whole process the
//!   same two ways at each tool's defaults (the core module alongside, as a
//!   diagnostic); and `ModuleHandle::run` of that component (instantiate from
//!   the pool, `wasi:cli/run`, drop) against bare wasmtime with the same
//!   engine and pool, a `CommandPre` and a WASI 0.2 context per iteration.
//! * **P8 wasi:http server**: `lucet-serve --signature-pk` serving the
//!   JavaScript wasi:http handler that `lucetc` compiled and signed, against
//!   `wasmtime serve` (the CLI) on the same `.wasm`, on loopback under the
//!   same closed-loop load (`wrk`) at 1, 16 and 64 connections:
//!   requests/s, p50 and p99 latency, peak resident set under load, and
//!   the per-request instantiate cost (in process with lucet-serve's engine
//!   and pool, and over HTTP against the server's own 404).
//! * **P9 registry pull**: `lucet-oci pull --signature-pk` (download,
//!   digest check, signature and policy verification, atomic write) of a
//!   signed 100 MB artifact from a CNCF distribution registry on loopback,
//!   against `skopeo copy` of the same reference to a directory (the pull
//!   alone) and curl's GET of the layer blob (the bare transfer).
//! * **P10 container start**: `ctr run --rm` of a signed hello world
//!   through `containerd-shim-lucet-v1` (verified against the node's key),
//!   against the same containerd starting a static native hello world
//!   through runc, start to exit.
//! * **P11 density**: the resident set of 1,000 idle hello-world instances
//!   held by lucet-embed (`ModuleHandle::instantiate`), each measurement in
//!   a fresh process of this binary, against bare wasmtime holding as many
//!   with the same engine and pool; and instantiate + drop from 2 threads at
//!   once, the same two ways.
//!
//! Each row has a module of its own (`p2` … `p11`; P8's servers, load
//! generator and in-process instantiation in `servers`, `wrk` and
//! `instantiate`); the tables and timing
//! helpers are in the library (`lucet_bench::report`), keys and in-process
//! compilation too (`lucet_bench::fixture`), and `--smoke`, `--markdown`,
//! `--reps` and what `main` does with them are defined once for every
//! harness (`lucet_bench::args`).
//!
//! Measurements are interleaved round by round so background load falls on
//! every row alike; medians are reported. Verdicts are printed, never
//! enforced: only a failure of something run (a load, a guest's exit
//! status) makes the suite fail. `--smoke` runs our own rows with tiny
//! counts and no peers, for CI.

#![forbid(unsafe_code)]

mod corpus;
mod fixture;
mod instantiate;
mod options;
mod p10;
mod p11;
mod p2;
mod p3;
mod p4;
mod p5;
mod p6;
mod p7;
mod p8;
mod p9;
mod policy_cost;
mod process;
mod servers;
mod wrk;

use std::env;
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use lucet_bench::load_average;
use lucet_bench::report::Report;

use crate::fixture::{Fixture, bare_precompile};
use crate::options::Options;
use crate::process::Tools;

fn run(opts: &Options) -> Result<()> {
    let fx = Fixture::new()?;
    let tools = Tools::find(opts).with_fresh_copies(&fx)?;
    let mut report = Report::new(opts.common.markdown);
    report.line(&format!(
        "suite{}: load average {} before",
        if opts.common.smoke { " --smoke" } else { "" },
        load_average()
    ));
    report.flush();
    if opts.wants("P2") {
        p2::p2(opts, &fx, &mut report)?;
        report.flush();
    }
    if opts.wants("P4") {
        p4::p4(opts, &fx, &mut report)?;
        report.flush();
    }
    if opts.wants("P5") {
        p5::p5(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P3") || opts.wants("P6") {
        p3_p6(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P7") {
        p7::p7(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P8") {
        p8::p8(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P9") {
        p9::p9(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P10") {
        p10::p10(opts, &fx, &tools, &mut report)?;
        report.flush();
    }
    if opts.wants("P11") {
        p11::p11(opts, &fx, &mut report)?;
        report.flush();
    }
    report.line(&format!("load average {} after", load_average()));
    report.flush();
    Ok(())
}

/// P3 and P6 share the compiled artifacts: P3 times the compilations,
/// P6 runs their outputs.
fn p3_p6(opts: &Options, fx: &Fixture, tools: &Tools, report: &mut Report) -> Result<()> {
    let Some(lucetc) = &tools.lucetc else {
        report.line("P3 and P6 not measured: no lucetc binary (--lucetc)");
        return Ok(());
    };
    let programs = corpus::programs(opts)?;
    let reps = opts.common.reps;
    let mut p3_rows = Vec::new();
    let mut p6_rows = Vec::new();
    for program in &programs {
        let compiled = p3::Compiled::paths(fx, &program.name);
        p3_rows.push(p3::measure(program, &compiled, lucetc, fx, tools, reps)?);
        p3::compile_plain(program, &compiled, lucetc, fx, tools)?;
        // P6: run them in the workload's directory, preopened as `.`.
        if !opts.wants("P6") {
            continue;
        }
        let Some(lucet_wasi) = &tools.lucet_wasi else {
            continue;
        };
        p6_rows.extend(p6::measure(
            program, &compiled, lucet_wasi, fx, tools, reps, opts.clock,
        )?);
    }
    if opts.wants("P3") {
        p3::report(&p3_rows, reps, tools, report);
    }
    if opts.wants("P6") {
        p6::report(&p6_rows, reps, opts.clock, tools, report);
    }
    Ok(())
}

/// Hidden mode for P3's process-to-process comparison: `suite
/// --bare-precompile-process IN OUT` reads IN, runs [`bare_precompile`] and
/// writes OUT, as a process of its own (this binary, about as large as
/// lucetc).
const BARE_PROCESS: &str = "--bare-precompile-process";

fn bare_precompile_process(input: &Path, output: &Path) -> Result<()> {
    let wasm = fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let image = bare_precompile(&wasm, true)?;
    fs::write(output, image).with_context(|| format!("writing {}", output.display()))
}

fn main() -> ExitCode {
    let args: Vec<OsString> = env::args_os().skip(1).collect();
    if let [mode, input, output] = args.as_slice()
        && mode == BARE_PROCESS
    {
        return match bare_precompile_process(input.as_ref(), output.as_ref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("suite {BARE_PROCESS}: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let [mode, side, instances] = args.as_slice()
        && mode == p11::DENSITY_PROCESS
    {
        return density_process(side, instances);
    }
    lucet_bench::args::main::<Options>()
}

/// P11's hidden mode: prints the resident set growth of holding the
/// instances, in bytes.
fn density_process(side: &OsString, instances: &OsString) -> ExitCode {
    let measured = (|| {
        let side = p11::Side::from_arg(&side.to_string_lossy())?;
        let instances = instances.to_string_lossy().parse()?;
        p11::density_process(side, instances)
    })();
    match measured {
        Ok(bytes) => {
            println!("{bytes}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("suite {}: {e:#}", p11::DENSITY_PROCESS);
            ExitCode::FAILURE
        }
    }
}
