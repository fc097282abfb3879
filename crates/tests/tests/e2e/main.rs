//! End-to-end tests of `lucetc` and `lucet-wasi`, run as real processes.
//!
//! One test binary, themed modules (as ripgrep and wasmtime lay theirs out).
//! The tools are located by `util::tool`; CI points `LUCET_WASI` at a runner
//! built on its own, without Cranelift, so artifacts are proven to load there.

mod binding;
mod catalogue;
mod compile;
mod component;
mod corpus;
mod files;
mod interop;
mod pipeline;
mod policy;
mod provenance;
mod run;
mod tamper;
mod util;
mod wasm3;
