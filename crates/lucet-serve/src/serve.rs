//! The HTTP/1.1 server: accepts connections until SIGTERM or SIGINT, routes
//! each request to an app and runs it in a fresh instance, logs one line per
//! request, and drains in-flight requests on shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response, StatusCode};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::access::{Access, log_line};
use crate::app::{App, Loader};
use crate::bodies::{ClientFault, cap_request, cap_response, declared_length};
use crate::metrics::{Metrics, OfRoute};
use crate::routes::Routes;

/// How long past its deadline a request may take to be stopped where the
/// epoch cannot stop it (a blocking host call).
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// Request head a client may send (hyper answers 431 past it).
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// What the server needs besides its apps.
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub metrics: Option<SocketAddr>,
    pub watch: bool,
    pub max_concurrency: u32,
    pub max_connections: u32,
    pub max_request_body: u64,
    pub max_response_body: u64,
    pub header_read_timeout: Duration,
    pub shutdown_timeout: Duration,
}

/// What every connection shares.
pub struct Server {
    pub routes: Routes,
    pub loader: Loader,
    pub metrics: Arc<Metrics>,
    slots: Arc<Semaphore>,
    max_request_body: u64,
    max_response_body: u64,
    header_read_timeout: Duration,
}

/// Serves until SIGTERM or SIGINT, then drains in-flight requests for at
/// most `shutdown_timeout`.
pub async fn serve(routes: Routes, loader: Loader, config: ServeConfig) -> Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let metrics = Arc::new(Metrics::new());
    let metrics_listener = match config.metrics {
        Some(address) => Some(crate::metrics::bind(address).await?),
        None => None,
    };
    let permits = usize::try_from(config.max_concurrency).unwrap_or(usize::MAX);
    let server = Arc::new(Server {
        routes,
        loader,
        metrics: Arc::clone(&metrics),
        slots: Arc::new(Semaphore::new(permits)),
        max_request_body: config.max_request_body,
        max_response_body: config.max_response_body,
        header_read_timeout: config.header_read_timeout,
    });
    // Signals are taken before the listening line: from then on SIGHUP
    // reloads and SIGTERM drains, never the default action (exit).
    let reloads = crate::reload::Reloads::new(Arc::clone(&server), config.watch)?;
    let shutdown = shutdown_signal()?;
    let background = [
        metrics_listener
            .map(|listener| tokio::spawn(crate::metrics::serve_metrics(metrics, listener))),
        Some(tokio::spawn(reloads.run())),
    ];
    eprintln!("lucet-serve: listening on http://{bound}");
    let connections = accept_until(&server, &listener, &config, shutdown).await;
    drop(listener);
    background
        .into_iter()
        .flatten()
        .for_each(|task| task.abort());
    drain(connections, config.shutdown_timeout).await;
    Ok(())
}

/// Accepts connections (at most `max_connections` open) until `shutdown`.
async fn accept_until(
    server: &Arc<Server>,
    listener: &TcpListener,
    config: &ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> (JoinSet<()>, watch::Sender<bool>) {
    let (stop_tx, stop_rx) = watch::channel(false);
    let open = Arc::new(Semaphore::new(config.max_connections as usize));
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            accepted = accept(listener, &open) => match accepted {
                Ok((stream, permit)) => {
                    let task = connection(Arc::clone(server), stream, stop_rx.clone());
                    connections.spawn(async move {
                        task.await;
                        drop(permit);
                    });
                }
                // Out of descriptors and the like: the listener stays, the
                // pause keeps the loop from spinning.
                Err(error) => {
                    eprintln!("lucet-serve: accept failed: {error}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    (connections, stop_tx)
}

/// The next connection, once fewer than the maximum are open: the others
/// wait in the kernel's backlog.
async fn accept(
    listener: &TcpListener,
    open: &Arc<Semaphore>,
) -> std::io::Result<(TcpStream, OwnedSemaphorePermit)> {
    let permit = Arc::clone(open)
        .acquire_owned()
        .await
        .map_err(std::io::Error::other)?;
    let (stream, _) = listener.accept().await?;
    Ok((stream, permit))
}

/// Tells every connection to finish its request in flight and waits for
/// them, at most `limit`.
async fn drain((mut connections, stop): (JoinSet<()>, watch::Sender<bool>), limit: Duration) {
    eprintln!(
        "lucet-serve: shutting down: draining {} connection(s)",
        connections.len()
    );
    let _ = stop.send(true);
    let drained = tokio::time::timeout(limit, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "lucet-serve: --shutdown-timeout reached: {} connection(s) cut",
            connections.len()
        );
    }
}

/// Resolves at the first SIGTERM or SIGINT; the handlers are installed now.
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    Ok(async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    })
}

/// Serves one connection's requests; on shutdown, finishes the request in
/// flight and closes.
async fn connection(server: Arc<Server>, stream: TcpStream, mut stop: watch::Receiver<bool>) {
    // A response head is written before its body: without this the body
    // may wait for the client's delayed acknowledgement (up to 40 ms).
    let _ = stream.set_nodelay(true);
    let header_read_timeout = server.header_read_timeout;
    let service = hyper::service::service_fn(move |request| {
        let server = Arc::clone(&server);
        async move { Ok::<_, Infallible>(server.handle(request).await) }
    });
    let conn = http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .max_header_size(MAX_HEADER_BYTES)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        _ = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    // A client that goes away mid-request is its own business.
    drop(result);
}

/// When the server is told to stop (or is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// How a request ended, for the log and the metrics.
struct Answer {
    response: Response<HyperOutgoingBody>,
    /// The app trapped or ran past its deadline.
    trapped: bool,
}

impl From<Response<HyperOutgoingBody>> for Answer {
    fn from(response: Response<HyperOutgoingBody>) -> Answer {
        Answer {
            response,
            trapped: false,
        }
    }
}

impl Server {
    /// Answers one request; it is logged and counted whatever happens.
    async fn handle(&self, request: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let path = request.uri().path().to_owned();
        let mut access = Access::begin(request.method().clone(), path, Arc::clone(&self.metrics));
        let Some(route) = self.routes.find(request.uri().path()) else {
            access.answered(404, false);
            return plain(StatusCode::NOT_FOUND, "no app serves this path");
        };
        let app = route.app();
        access.routed(&route.prefix, &app.image);
        let answer = if declared_length(&request).is_some_and(|len| len > self.max_request_body) {
            too_large().into()
        } else {
            match Arc::clone(&self.slots).try_acquire_owned() {
                Ok(permit) => self.run(&app, &route.prefix, request, permit).await,
                Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded: try again").into(),
            }
        };
        access.answered(answer.response.status().as_u16(), answer.trapped);
        answer.response
    }

    /// Runs the guest on a fresh instance; `permit` is held until the guest
    /// has finished, body included.
    async fn run(
        &self,
        app: &Arc<App>,
        route: &str,
        request: Request<Incoming>,
        permit: OwnedSemaphorePermit,
    ) -> Answer {
        let deadline = Instant::now() + app.timeout;
        let mut store = app.store(deadline);
        let (request, client_fault) = cap_request(request, self.max_request_body);
        let (sender, receiver) = oneshot::channel();
        let prepared = store
            .data_mut()
            .http()
            .new_incoming_request(Scheme::Http, request)
            .and_then(|request| {
                let out = store.data_mut().http().new_response_outparam(sender)?;
                Ok((request, out))
            });
        let Ok((request, out)) = prepared else {
            return plain(StatusCode::BAD_REQUEST, "bad request").into();
        };
        let pre = app.pre.clone();
        let in_use = self.metrics.instances_in_use.clone();
        // The epoch stops wasm code at the deadline; this also bounds a
        // guest blocked in a host call, before or after its response began:
        // dropping the call drops the store, which frees the instance.
        let limit = tokio::time::Instant::from_std(deadline + DEADLINE_GRACE);
        let task = tokio::spawn(async move {
            // Both go when the task ends or is aborted at the deadline.
            let _permit = permit;
            let _in_use = InUse::new(in_use);
            let call = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, out)
                    .await
            };
            match tokio::time::timeout_at(limit, call).await {
                Ok(result) => result,
                Err(_) => Err(wasmtime::Trap::Interrupt.into()),
            }
        });
        let answer = match tokio::time::timeout_at(limit, receiver).await {
            Ok(Ok(Ok(response))) => {
                let cut = self.metrics.responses_cut.get_or_create_owned(&OfRoute {
                    route: route.to_owned(),
                });
                cap_response(response, self.max_response_body, route, cut).into()
            }
            Ok(Ok(Err(code))) => guest_error(&code).into(),
            Ok(Err(_)) => ended_without_response(task).await,
            Err(_) => {
                task.abort();
                Answer {
                    response: plain(StatusCode::GATEWAY_TIMEOUT, "the app ran past its deadline"),
                    trapped: true,
                }
            }
        };
        // The app failed reading a body the client got wrong: the client's
        // fault, answered as such.
        match client_fault.get() {
            Some(ClientFault::OverCap) => too_large().into(),
            Some(ClientFault::Broken) => {
                plain(StatusCode::BAD_REQUEST, "malformed request body").into()
            }
            None => answer,
        }
    }
}

/// Counts an instance in use while it lives.
struct InUse(prometheus_client::metrics::gauge::Gauge);

impl InUse {
    fn new(gauge: prometheus_client::metrics::gauge::Gauge) -> InUse {
        gauge.inc();
        InUse(gauge)
    }
}

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.dec();
    }
}

fn too_large() -> Response<HyperOutgoingBody> {
    plain(
        StatusCode::PAYLOAD_TOO_LARGE,
        "request body over --max-request-body",
    )
}

/// The guest returned without setting a response: why, from its task.
async fn ended_without_response(task: tokio::task::JoinHandle<wasmtime::Result<()>>) -> Answer {
    let error = match task.await {
        Ok(Ok(())) => {
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "the app set no response").into();
        }
        Ok(Err(error)) => error,
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "the app's task failed").into(),
    };
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded: try again").into();
    }
    let response = if matches!(
        error.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) {
        plain(StatusCode::GATEWAY_TIMEOUT, "the app ran past its deadline")
    } else {
        let message = format!("{error:#}").replace('\n', " ");
        log_line(format!("the app failed: {message}"));
        plain(StatusCode::INTERNAL_SERVER_ERROR, "the app failed")
    };
    Answer {
        response,
        trapped: true,
    }
}

/// The guest answered with an error code instead of a response.
fn guest_error(code: &ErrorCode) -> Response<HyperOutgoingBody> {
    log_line(format!("the app answered an error: {code:?}"));
    plain(StatusCode::INTERNAL_SERVER_ERROR, "the app failed")
}

/// A short plain-text response from the server itself.
fn plain(status: StatusCode, text: &str) -> Response<HyperOutgoingBody> {
    let body = Full::new(Bytes::from(format!("{text}\n")))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response
}
