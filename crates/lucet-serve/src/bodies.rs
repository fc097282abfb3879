//! Request and response bodies between hyper and the app: capped, and a
//! client's fault (a body over the cap, broken chunking, a client gone)
//! told apart from the app's.

use std::sync::{Arc, OnceLock};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response};
use prometheus_client::metrics::counter::Counter;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

use crate::access::log_line;

/// What went wrong with a request body on the client's side, if anything:
/// the server answers for it, not the app (413 or 400, never a trap).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientFault {
    /// Past `--max-request-body`.
    OverCap,
    /// Malformed framing (chunk sizes), or the client went away mid-body.
    Broken,
}

/// Set at most once, by the body as the app reads it.
pub type FaultCell = Arc<OnceLock<ClientFault>>;

pub type CappedBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// The body length a request declares, if any.
pub fn declared_length(request: &Request<Incoming>) -> Option<u64> {
    request
        .headers()
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The request with its body capped at `cap` bytes (a chunked body has no
/// length to check up front): reading past it, or a broken body, fails the
/// app's read, and the cell says whose fault it was.
pub fn cap_request(request: Request<Incoming>, cap: u64) -> (Request<CappedBody>, FaultCell) {
    let fault = FaultCell::default();
    let cell = Arc::clone(&fault);
    let request = request.map(|body| {
        Limited::new(body, usize::try_from(cap).unwrap_or(usize::MAX))
            .map_err(move |error| match error.downcast::<hyper::Error>() {
                Ok(error) => {
                    let _ = cell.set(ClientFault::Broken);
                    wasmtime_wasi_http::Error::Hyper(*error)
                }
                Err(_) => {
                    let _ = cell.set(ClientFault::OverCap);
                    wasmtime_wasi_http::Error::HttpRequestBodySize(Some(cap))
                }
            })
            .boxed_unsync()
    });
    (request, fault)
}

/// Cuts the response body past `cap` bytes: the head is sent already, so
/// the connection is closed, and the cut is logged and counted.
pub fn cap_response(
    response: Response<HyperOutgoingBody>,
    cap: u64,
    route: &str,
    cut: Counter,
) -> Response<HyperOutgoingBody> {
    let route = route.to_owned();
    response.map(|body| {
        Limited::new(body, usize::try_from(cap).unwrap_or(usize::MAX))
            .map_err(
                move |error| match error.downcast::<wasmtime_wasi_http::Error>() {
                    Ok(error) => *error,
                    Err(other) => {
                        if other.is::<LengthLimitError>() {
                            cut.inc();
                            log_line(format!(
                                "response of {route} cut at --max-response-body ({cap} bytes)"
                            ));
                        }
                        wasmtime_wasi_http::Error::HttpResponseBodySize(Some(cap))
                    }
                },
            )
            .boxed_unsync()
    })
}
