//! Reloading apps without downtime: on SIGHUP every route, with `--watch`
//! each route whose file changed. One task does every reload, so two never
//! race on one route.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::metrics::ReloadResult;
use crate::routes::{Reloaded, Routes, Served};
use crate::serve::Server;

/// How often `--watch` looks at the files. Polling, not inotify: it sees a
/// file replaced through a symlink swap (as Kubernetes mounts do) or on a
/// network file system alike, and costs one stat per route per second.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);

/// What identifies one version of a file, as far as a stat tells.
#[derive(Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let metadata = std::fs::metadata(path).ok()?;
    Some(Stamp {
        modified: metadata.modified().ok(),
        len: metadata.len(),
        inode: metadata.ino(),
    })
}

/// The reload task, its SIGHUP handler installed already.
pub struct Reloads {
    server: Arc<Server>,
    hangup: Signal,
    /// With `--watch`: each route's last stamp, in `Routes::iter` order.
    watched: Option<Vec<Option<Stamp>>>,
}

impl Reloads {
    pub fn new(server: Arc<Server>, watch: bool) -> Result<Reloads> {
        let hangup = signal(SignalKind::hangup()).context("cannot handle SIGHUP")?;
        let watched = watch.then(|| {
            server
                .routes
                .iter()
                .map(|route| stamp(&route.path))
                .collect()
        });
        Ok(Reloads {
            server,
            hangup,
            watched,
        })
    }

    /// Runs until the server drops the task.
    pub async fn run(mut self) {
        let mut ticks = tokio::time::interval(WATCH_INTERVAL);
        loop {
            let every = tokio::select! {
                _ = self.hangup.recv() => true,
                _ = ticks.tick(), if self.watched.is_some() => false,
            };
            let due = self.due(every);
            let server = Arc::clone(&self.server);
            // Reading and verifying an artifact blocks: off the async threads.
            let _ = tokio::task::spawn_blocking(move || reload(&server, &due)).await;
        }
    }

    /// Which routes to reload: all on SIGHUP, else those whose file changed.
    fn due(&mut self, every: bool) -> Vec<bool> {
        let routes = &self.server.routes;
        match &mut self.watched {
            None => vec![true; routes.iter().count()],
            Some(stamps) => routes
                .iter()
                .zip(stamps.iter_mut())
                .map(|(route, last)| {
                    let now = stamp(&route.path);
                    let changed = now != *last;
                    *last = now;
                    every || changed
                })
                .collect(),
        }
    }
}

/// Reloads the routes marked due, logging and counting each result.
fn reload(server: &Server, due: &[bool]) {
    let metrics = &server.metrics;
    for (route, _) in server.routes.iter().zip(due).filter(|(_, due)| **due) {
        let result = match Routes::reload(&server.loader, route) {
            Ok(Reloaded::Unchanged) => "unchanged",
            Ok(Reloaded::Replaced { from, to }) => {
                eprintln!(
                    "lucet-serve: reloaded {}: app={from} -> app={to}",
                    describe(route)
                );
                "replaced"
            }
            Err(error) => {
                let message = format!("{error:#}").replace('\n', " ");
                eprintln!(
                    "lucet-serve: reload of {} refused, app={} keeps serving: {message}",
                    describe(route),
                    route.app().image
                );
                metrics.verification_refusals.inc();
                "refused"
            }
        };
        metrics
            .reloads
            .get_or_create(&ReloadResult { result })
            .inc();
    }
}

fn describe(route: &Served) -> String {
    format!("{} ({})", route.prefix, route.path.display())
}
