//! The access log and request metrics: one line and one count per request,
//! also for a request whose client went away before its answer.

use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use hyper::Method;

use crate::metrics::{Answered, Metrics, OfRoute};

/// The status logged and counted for a request whose client went away
/// before its answer (nginx's convention; no response is sent with it).
pub const CLIENT_GONE: u16 = 499;

/// Writes `lucet-serve: MESSAGE` to stderr in one write: lines of requests
/// running at once never interleave, and a request costs one system call.
pub fn log_line(message: String) {
    let mut line = message;
    line.insert_str(0, "lucet-serve: ");
    line.push('\n');
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// One request's log line and counts, written when it is dropped: at its
/// answer, or when hyper drops the request because the client went away.
pub struct Access {
    start: Instant,
    method: Method,
    path: String,
    route: String,
    app: String,
    metrics: Arc<Metrics>,
    status: u16,
    trapped: bool,
}

impl Access {
    pub fn begin(method: Method, path: String, metrics: Arc<Metrics>) -> Access {
        Access {
            start: Instant::now(),
            method,
            path,
            route: String::new(),
            app: "-".to_owned(),
            metrics,
            status: CLIENT_GONE,
            trapped: false,
        }
    }

    /// The route and the app (image hash prefix) serving the request.
    pub fn routed(&mut self, route: &str, app: &str) {
        self.route = route.to_owned();
        self.app = app.to_owned();
    }

    pub fn answered(&mut self, status: u16, trapped: bool) {
        self.status = status;
        self.trapped = trapped;
    }
}

impl Drop for Access {
    fn drop(&mut self) {
        let elapsed = self.start.elapsed();
        let gone = if self.status == CLIENT_GONE {
            " (client went away)"
        } else {
            ""
        };
        log_line(format!(
            "{} {} {} {}ms app={}{gone}",
            self.method,
            self.path,
            self.status,
            elapsed.as_millis(),
            self.app
        ));
        // Unrouted paths have no route label: counting them would let any
        // client mint label values.
        if self.route.is_empty() {
            return;
        }
        let route = OfRoute {
            route: self.route.clone(),
        };
        let answered = Answered {
            route: self.route.clone(),
            status: self.status,
        };
        self.metrics.requests.get_or_create(&answered).inc();
        self.metrics
            .latency
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        if self.trapped {
            self.metrics.traps.get_or_create(&route).inc();
        }
    }
}
