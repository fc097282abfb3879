//! What `--metrics` serves: counters and a latency histogram in the
//! OpenMetrics text format Prometheus scrapes, kept by `prometheus-client`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::{Response, StatusCode};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Answered {
    pub route: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OfRoute {
    pub route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReloadResult {
    pub result: &'static str,
}

type Latency = Family<OfRoute, Histogram, fn() -> Histogram>;

/// Every metric the server keeps; cheap to update from any task.
pub struct Metrics {
    pub requests: Family<Answered, Counter>,
    pub latency: Latency,
    pub instances_in_use: Gauge,
    pub traps: Family<OfRoute, Counter>,
    pub responses_cut: Family<OfRoute, Counter>,
    pub reloads: Family<ReloadResult, Counter>,
    /// Replacements refused on reload because they did not verify or pass
    /// the policy: a start refused exits instead.
    pub verification_refusals: Counter,
    registry: Registry,
}

fn latency_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Metrics {
        let requests = Family::<Answered, Counter>::default();
        let latency: Latency = Family::new_with_constructor(latency_histogram);
        let instances_in_use = Gauge::default();
        let traps = Family::<OfRoute, Counter>::default();
        let responses_cut = Family::<OfRoute, Counter>::default();
        let reloads = Family::<ReloadResult, Counter>::default();
        let verification_refusals = Counter::default();
        let mut registry = Registry::with_prefix("lucet_serve");
        registry.register(
            "requests",
            "Requests answered, by route and status",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time to the response head, by route",
            latency.clone(),
        );
        registry.register(
            "instances_in_use",
            "Instances running a request now",
            instances_in_use.clone(),
        );
        registry.register(
            "traps",
            "Requests whose app trapped or ran past --timeout",
            traps.clone(),
        );
        registry.register(
            "responses_cut",
            "Responses cut at --max-response-body",
            responses_cut.clone(),
        );
        registry.register(
            "reloads",
            "Reloads, by result (replaced, unchanged, refused)",
            reloads.clone(),
        );
        registry.register(
            "verification_refusals",
            "Replacement artifacts refused on reload (signature, policy, rollback)",
            verification_refusals.clone(),
        );
        Metrics {
            requests,
            latency,
            instances_in_use,
            traps,
            responses_cut,
            reloads,
            verification_refusals,
            registry,
        }
    }

    fn render(&self) -> Result<String, std::fmt::Error> {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)?;
        Ok(text)
    }
}

/// Serves the metrics on `listener` (any path) until the task is dropped.
pub async fn serve_metrics(metrics: Arc<Metrics>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let metrics = Arc::clone(&metrics);
        let service = hyper::service::service_fn(move |_request| {
            let metrics = Arc::clone(&metrics);
            async move { Ok::<_, Infallible>(scrape(&metrics)) }
        });
        tokio::spawn(async move {
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(Duration::from_secs(30), conn).await;
        });
    }
}

/// Binds the metrics address now, so that a bad one refuses the start.
pub async fn bind(address: SocketAddr) -> Result<TcpListener> {
    let listener = TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} for --metrics"))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    eprintln!("lucet-serve: metrics on http://{bound}/metrics");
    Ok(listener)
}

fn scrape(metrics: &Metrics) -> Response<Full<Bytes>> {
    let (status, text) = match metrics.render() {
        Ok(text) => (StatusCode::OK, text),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "cannot encode\n".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static(
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
    );
    response
}
