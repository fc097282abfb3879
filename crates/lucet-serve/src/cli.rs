//! The command-line definition of `lucet-serve`: its flags, help text and
//! the sections after the options.
//!
//! It lives in the library so that one definition serves the binary (which
//! parses with it) and `lucet-dist` (which generates the man page and shell
//! completions from it). Nothing here does I/O.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

/// Text after the options, as `(heading, body)` sections in order: `--help`
/// prints them under `Heading:` lines, the man page makes each heading a
/// section. Indented lines are shown verbatim; other lines are prose.
pub const SECTIONS: &[(&str, &str)] = &[
    (
        "Responses of the server itself",
        "  404   no --route takes the path
  413   the request body is over --max-request-body
  503   --max-concurrency requests are running (answered at once)
  504   the app ran past --timeout
  500   the app trapped, went past --max-heap-size, or set no response",
    ),
    (
        "Exit status",
        "  0     stopped by SIGTERM or SIGINT, in-flight requests drained
  2     usage error
  1     refused to start (no trusted key, an artifact that does not verify or
        is not a wasi:http/proxy component, an address in use)",
    ),
    (
        "Environment",
        "\
LUCET_SIGNATURE_PK: colon-separated public key paths, used as --signature-pk
when no flag is given.",
    ),
    (
        "Examples",
        "  lucet-serve --signature-pk lucet.pub app.so
  lucet-serve --listen 0.0.0.0:8080 --timeout 2s --signature-pk lucet.pub app.so
  lucet-serve --signature-pk lucet.pub --route /api=api.so --route /=site.so --watch
  kill -HUP $(pidof lucet-serve)    # reload every app that verifies and is not older",
    ),
];

/// [`SECTIONS`] as `--help` prints them after the options.
pub fn after_help() -> String {
    lucet_cli::after_help(SECTIONS)
}

/// Headings that group the options in `--help`.
const TRUST: &str = "Trust";
const LIMITS: &str = "Limits";

/// Serve a signed wasi:http/proxy component: every artifact verified first,
/// one fresh pooled instance per request.
#[derive(Parser, Debug)]
#[command(name = "lucet-serve", version = lucet_runtime::version_details(), after_help = after_help())]
pub struct Args {
    /// The component artifact to serve at `/`, as made by lucetc (the same as
    /// `--route /=APP`).
    #[arg(value_name = "APP", required_unless_present = "route")]
    pub app: Option<PathBuf>,

    /// Serve APP for paths under PREFIX (`/api` takes `/api` and `/api/...`,
    /// not `/apix`); repeatable, the longest matching prefix wins, other paths
    /// get 404. The app sees the whole path.
    #[arg(long, value_name = "PREFIX=APP", value_parser = parse_route)]
    pub route: Vec<Route>,

    /// Address to listen on (port 0 picks a free port; the address bound is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Serve Prometheus metrics at http://ADDR/metrics (requests by status,
    /// latency, instances in use, traps, reloads, refusals).
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<SocketAddr>,

    /// Also reload an app when its file changes (checked every second), as on
    /// SIGHUP: a replacement is used only if it verifies and is not older.
    #[arg(long)]
    pub watch: bool,

    /// The trusted keys: `--signature-pk`, or `LUCET_SIGNATURE_PK`.
    #[command(flatten, next_help_heading = TRUST)]
    pub trust: lucet_cli::TrustedKeys,

    /// INSECURE, for local development only: serve an artifact WITHOUT verifying
    /// its signature when no key is given. Whoever can write the file controls
    /// the code that runs.
    #[arg(long, help_heading = TRUST, conflicts_with_all = ["require_source_key", "min_timestamp", "expect_name", "policy_file"])]
    pub allow_unverified: bool,

    /// The load policy: `--require-source-key`, `--min-timestamp`, `--expect-name`.
    #[command(flatten, next_help_heading = TRUST)]
    pub policy: lucet_cli::PolicyFlags,

    /// `--policy FILE` and `--log-format`.
    #[command(flatten, next_help_heading = TRUST)]
    pub policy_file: lucet_cli::PolicyFileFlags,

    /// How apps given as oci://REF are fetched (again on every reload).
    #[command(flatten, next_help_heading = TRUST)]
    pub registry: lucet_cli::RegistryFlags,

    /// Wall-clock time a request may run (e.g. 500ms, 10s); past it the instance is
    /// stopped and the client gets 504.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration, default_value = "10s", help_heading = LIMITS)]
    pub timeout: Duration,

    /// Linear memory each instance may have, all its memories together (e.g. 64M).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "256M", help_heading = LIMITS)]
    pub max_heap_size: u64,

    /// Requests served at once (and instances reserved in the pool); one more is
    /// answered 503 at once.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000), help_heading = LIMITS)]
    pub max_concurrency: u32,

    /// On SIGTERM or SIGINT, how long in-flight requests may still run before the
    /// server exits anyway.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration, default_value = "10s", help_heading = LIMITS)]
    pub shutdown_timeout: Duration,

    /// Memory each pool slot keeps between requests (zeroed, not handed back
    /// to the kernel): instantiation without page faults, for up to
    /// --max-concurrency times SIZE of resident memory (0: hand everything back).
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "16M", help_heading = LIMITS)]
    pub keep_resident: u64,

    /// Request body a client may send; past it the client gets 413.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "16M", help_heading = LIMITS)]
    pub max_request_body: u64,

    /// Response body an app may send; past it the response is cut (the
    /// connection is closed) and logged.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "64M", help_heading = LIMITS)]
    pub max_response_body: u64,

    /// Time a client has to send a request's headers, idle keep-alive time
    /// included; then the connection is closed.
    #[arg(long, value_name = "DURATION", value_parser = lucet_runtime::parse_duration, default_value = "10s", help_heading = LIMITS)]
    pub header_read_timeout: Duration,

    /// Client connections open at once; more wait in the listen backlog.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..), help_heading = LIMITS)]
    pub max_connections: u32,

    /// Refuse artifacts whose engine image is larger than this, before reading it.
    #[arg(long, value_name = "SIZE", value_parser = lucet_runtime::parse_size, default_value = "1G", help_heading = LIMITS)]
    pub max_artifact_size: u64,
}

impl Args {
    /// Every route: APP at `/` first, then each `--route` in order.
    pub fn routes(&self) -> Vec<Route> {
        let root = self.app.iter().map(|app| Route {
            prefix: "/".to_owned(),
            app: app.clone(),
        });
        root.chain(self.route.iter().cloned()).collect()
    }

    /// Combinations clap cannot express, as usage errors (exit status 2).
    pub fn check(&self) -> Result<(), clap::Error> {
        use clap::CommandFactory;
        let routes = self.routes();
        let usage = |message: String| {
            Err(Args::command().error(clap::error::ErrorKind::ArgumentConflict, message))
        };
        if let Some(twice) = routes.iter().enumerate().find(|(at, route)| {
            routes[..*at]
                .iter()
                .any(|other| other.prefix == route.prefix)
        }) {
            return usage(format!(
                "two apps for the prefix {}: give each route its own prefix",
                twice.1.prefix
            ));
        }
        let from_registry = routes.iter().any(|route| {
            route
                .app
                .to_str()
                .is_some_and(|app| app.starts_with("oci://"))
        });
        if let Some(flag) = self.policy_file.conflict(&self.trust, &self.policy) {
            return usage(lucet_cli::PolicyFileFlags::conflict_message(flag));
        }
        let verified =
            !self.trust.signature_pk.is_empty() || self.policy_file.policy_file.is_some();
        if from_registry && !verified {
            return usage(
                "an oci:// app is served only verified: give --signature-pk KEY (or set LUCET_SIGNATURE_PK)".into(),
            );
        }
        if self.policy.expect_name.is_some() && routes.len() > 1 {
            return usage(
                "--expect-name names one app: with several routes, give each app its own signing key instead".into(),
            );
        }
        Ok(())
    }
}

/// One `--route`: paths under `prefix` go to the app in the file `app`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Starts with `/`, no trailing `/` unless it is `/`.
    pub prefix: String,
    /// The artifact.
    pub app: PathBuf,
}

fn parse_route(text: &str) -> Result<Route, String> {
    let (prefix, app) = text
        .split_once('=')
        .ok_or("expected PREFIX=APP, e.g. /api=api.so")?;
    if !prefix.starts_with('/') || prefix.contains(['?', '#']) {
        return Err(format!("{prefix:?} is not a path prefix: start it with /"));
    }
    if app.is_empty() {
        return Err("no artifact after =".to_owned());
    }
    let trimmed = prefix.trim_end_matches('/');
    Ok(Route {
        prefix: if trimmed.is_empty() { "/" } else { trimmed }.to_owned(),
        app: PathBuf::from(app),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Args::command().debug_assert();
    }

    #[test]
    fn routes_are_prefixes_then_an_artifact() {
        let route = |prefix: &str, app: &str| Route {
            prefix: prefix.into(),
            app: app.into(),
        };
        assert_eq!(parse_route("/api=a.so"), Ok(route("/api", "a.so")));
        assert_eq!(parse_route("/api/=a.so"), Ok(route("/api", "a.so")));
        assert_eq!(parse_route("/=a=b.so"), Ok(route("/", "a=b.so")));
        assert_eq!(parse_route("//=a.so"), Ok(route("/", "a.so")));
        for bad in ["api=a.so", "/api", "/api=", "/a?b=c.so", "=a.so"] {
            assert!(parse_route(bad).is_err(), "{bad}");
        }
    }
}
