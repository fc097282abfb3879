//! Threads that advance an engine's epoch: how a running guest is stopped
//! from outside (an interruptible guest checks the epoch at loop heads and
//! calls). The runner's timeout and lucet-embed's deadline ticker are both
//! one of these.

use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::Engine;

/// A thread advancing an engine's epoch; dropping it stops and joins the
/// thread at once.
#[derive(Debug)]
pub struct EpochThread {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochThread {
    /// Advances `engine`'s epoch once, after `delay`, unless dropped first.
    pub fn once_after(engine: Engine, delay: Duration) -> std::io::Result<EpochThread> {
        EpochThread::spawn("lucet-timeout", move |stopped| {
            if let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(delay) {
                engine.increment_epoch();
            }
        })
    }

    /// Advances `engine`'s epoch every `period` until dropped.
    pub fn every(engine: Engine, period: Duration) -> std::io::Result<EpochThread> {
        EpochThread::spawn("lucet-epoch", move |stopped| {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(period) {
                engine.increment_epoch();
            }
        })
    }

    fn spawn(
        name: &str,
        body: impl FnOnce(Receiver<()>) + Send + 'static,
    ) -> std::io::Result<EpochThread> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(stopped))?;
        Ok(EpochThread {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for EpochThread {
    fn drop(&mut self) {
        // Disconnecting the channel wakes the thread at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
