//! `lucet-serve`: serves a signed `wasi:http/proxy` component over HTTP/1.1,
//! one fresh instance from the pooling allocator per request.

#![forbid(unsafe_code)]

mod app;
mod serve;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Parser;

use lucet_serve::cli::Args;

fn main() -> ExitCode {
    let args = Args::parse();
    lucet_cli::exit("lucet-serve", run(args), lucet_cli::load_advice)
}

fn run(args: Args) -> Result<u8> {
    if args.trust.signature_pk.is_empty() && !args.allow_unverified {
        bail!(
            "refusing to start without a trusted key: give --signature-pk KEY or set LUCET_SIGNATURE_PK (--allow-unverified serves unsigned artifacts, for local development only)"
        );
    }
    if args.trust.signature_pk.is_empty() {
        eprintln!(
            "lucet-serve: notice: serving {} UNVERIFIED (--allow-unverified): for local development only",
            args.app.display()
        );
    }
    let app = app::App::load(&args).with_context(|| args.app.display().to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = serve::ServeConfig {
        listen: args.listen,
        max_concurrency: args.max_concurrency,
        shutdown_timeout: args.shutdown_timeout,
    };
    runtime.block_on(serve::serve(Arc::new(app), config))?;
    Ok(0)
}
