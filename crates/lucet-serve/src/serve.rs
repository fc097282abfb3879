//! The HTTP/1.1 server: accepts connections until SIGTERM or SIGINT, runs
//! each request in a fresh instance, logs one line per request, and drains
//! in-flight requests on shutdown.

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

use crate::app::App;

/// How long past its deadline a request may take to be stopped where the
/// epoch cannot stop it (a blocking host call).
const DEADLINE_GRACE: Duration = Duration::from_millis(100);

/// What the server needs besides the app.
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub max_concurrency: u32,
    pub shutdown_timeout: Duration,
}

/// What every connection shares.
struct Server {
    app: Arc<App>,
    slots: Arc<Semaphore>,
}

/// Serves until SIGTERM or SIGINT, then drains in-flight requests for at
/// most `shutdown_timeout`.
pub async fn serve(app: Arc<App>, config: ServeConfig) -> Result<()> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let bound = listener
        .local_addr()
        .context("cannot read the bound address")?;
    eprintln!("lucet-serve: listening on http://{bound}");
    let permits = usize::try_from(config.max_concurrency).unwrap_or(usize::MAX);
    let server = Arc::new(Server {
        app,
        slots: Arc::new(Semaphore::new(permits)),
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            signal = &mut shutdown => {
                signal?;
                break;
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(Arc::clone(&server), stream, stop_rx.clone()));
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
    drop(listener);
    eprintln!(
        "lucet-serve: shutting down: draining {} connection(s)",
        connections.len()
    );
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        eprintln!(
            "lucet-serve: --shutdown-timeout reached: {} connection(s) cut",
            connections.len()
        );
    }
    Ok(())
}

/// The first of SIGTERM and SIGINT.
async fn shutdown_signal() -> Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    Ok(())
}

/// Serves one connection's requests; on shutdown, finishes the request in
/// flight and closes.
async fn connection(server: Arc<Server>, stream: TcpStream, mut stop: watch::Receiver<bool>) {
    let service = hyper::service::service_fn(move |request| {
        let server = Arc::clone(&server);
        async move { Ok::<_, Infallible>(server.handle(request).await) }
    });
    let conn = http1::Builder::new()
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

impl Server {
    /// Answers one request and logs it.
    async fn handle(&self, request: Request<Incoming>) -> Response<HyperOutgoingBody> {
        let start = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(permit) => self.run(request, permit).await,
            Err(_) => plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded: try again"),
        };
        eprintln!(
            "lucet-serve: {method} {path} {} {}ms app={}",
            response.status().as_u16(),
            start.elapsed().as_millis(),
            self.app.image
        );
        response
    }

    /// Runs the guest on a fresh instance; `permit` is held until the guest
    /// has finished, body included.
    async fn run(
        &self,
        request: Request<Incoming>,
        permit: OwnedSemaphorePermit,
    ) -> Response<HyperOutgoingBody> {
        let deadline = Instant::now() + self.app.timeout;
        let mut store = self.app.store(deadline);
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
            return plain(StatusCode::BAD_REQUEST, "bad request");
        };
        let pre = self.app.pre.clone();
        // The epoch stops wasm code at the deadline; this also bounds a
        // guest blocked in a host call, before or after its response began:
        // dropping the call drops the store, which frees the instance.
        let limit = tokio::time::Instant::from_std(deadline + DEADLINE_GRACE);
        let task = tokio::spawn(async move {
            let _permit = permit;
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
        match tokio::time::timeout_at(limit, receiver).await {
            Ok(Ok(Ok(response))) => response,
            Ok(Ok(Err(code))) => guest_error(&code),
            Ok(Err(_)) => ended_without_response(task).await,
            Err(_) => {
                task.abort();
                plain(StatusCode::GATEWAY_TIMEOUT, "the app ran past its deadline")
            }
        }
    }
}

/// The guest returned without setting a response: why, from its task.
async fn ended_without_response(
    task: tokio::task::JoinHandle<wasmtime::Result<()>>,
) -> Response<HyperOutgoingBody> {
    let error = match task.await {
        Ok(Ok(())) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "the app set no response"),
        Ok(Err(error)) => error,
        Err(_) => return plain(StatusCode::INTERNAL_SERVER_ERROR, "the app's task failed"),
    };
    if error
        .downcast_ref::<wasmtime::PoolConcurrencyLimitError>()
        .is_some()
    {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "overloaded: try again");
    }
    if matches!(
        error.downcast_ref::<wasmtime::Trap>(),
        Some(wasmtime::Trap::Interrupt)
    ) {
        return plain(StatusCode::GATEWAY_TIMEOUT, "the app ran past its deadline");
    }
    let message = format!("{error:#}").replace('\n', " ");
    eprintln!("lucet-serve: the app failed: {message}");
    plain(StatusCode::INTERNAL_SERVER_ERROR, "the app failed")
}

/// The guest answered with an error code instead of a response.
fn guest_error(code: &ErrorCode) -> Response<HyperOutgoingBody> {
    eprintln!("lucet-serve: the app answered an error: {code:?}");
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
