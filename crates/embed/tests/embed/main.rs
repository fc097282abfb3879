//! Integration tests of lucet-embed: one binary (see STYLE.md), built
//! artifacts from the real lucetc, the real engine and WASI.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

mod api;
mod component;
mod ready;
mod util;
