//! `lucet-serve`: serves signed `wasi:http/proxy` components over HTTP/1.1,
//! one fresh instance from the pooling allocator per request.

#![forbid(unsafe_code)]

mod access;
mod app;
mod bodies;
mod metrics;
mod reload;
mod routes;
mod serve;

use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use lucet_serve::cli::Args;

fn main() -> ExitCode {
    let args = lucet_cli::parse::<Args>();
    if let Err(usage) = args.check() {
        usage.exit();
    }
    lucet_cli::exit("lucet-serve", run(args), lucet_cli::load_advice)
}

fn run(args: Args) -> Result<u8> {
    let keyless = args.trust.signature_pk.is_empty() && args.policy_file.policy_file.is_none();
    if keyless && !args.allow_unverified {
        bail!(
            "refusing to start without a trusted key: give --signature-pk KEY or set LUCET_SIGNATURE_PK (--allow-unverified serves unsigned artifacts, for local development only)"
        );
    }
    if keyless {
        eprintln!(
            "lucet-serve: notice: serving UNVERIFIED artifacts (--allow-unverified): for local development only"
        );
    }
    let loader = app::Loader::new(&args)?;
    let routes = routes::Routes::load(&loader, &args.routes())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = serve::ServeConfig {
        listen: args.listen,
        metrics: args.metrics,
        watch: args.watch,
        max_concurrency: args.max_concurrency,
        max_connections: args.max_connections,
        max_request_body: args.max_request_body,
        max_response_body: args.max_response_body,
        header_read_timeout: args.header_read_timeout,
        shutdown_timeout: args.shutdown_timeout,
    };
    runtime.block_on(serve::serve(routes, loader, config))?;
    Ok(0)
}
