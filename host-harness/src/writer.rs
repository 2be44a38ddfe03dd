//! Applies the plugin's batches on a thread of their own, so that the store
//! writes one page of contacts while the plugin reads and parses the next.
//! The queue is short (memory stays bounded) and keeps the plugin's order.

use crate::apply::{RunContext, apply_batch};
use crate::runtime::types::Batch;
use crate::session::SyncTarget;
use crate::summary::Summary;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Batches waiting besides the ones being written.
const QUEUE: usize = 4;

enum Job {
    Apply(Batch),
    /// answer once every batch queued before is written
    Flush(mpsc::Sender<()>),
}

pub struct Writer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Summary>>,
    /// the first batch the store refused; later batches are not written
    failed: Arc<Mutex<Option<String>>>,
}

impl Writer {
    pub fn start(target: SyncTarget) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::sync_channel(QUEUE);
        let failed = Arc::new(Mutex::new(None));
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn({
                let failed = failed.clone();
                move || write(&target, &queue, &failed)
            })?;
        Ok(Writer { jobs: Some(jobs), thread: Some(thread), failed })
    }

    /// Queue a batch. An earlier batch that the store refused is reported
    /// here, so that the plugin stops.
    pub fn apply(&self, batch: Batch) -> Result<(), String> {
        self.error()?;
        self.send(Job::Apply(batch))
    }

    /// Wait until every batch queued so far is written (before the store
    /// is read for this run).
    pub fn flush(&self) -> Result<(), String> {
        let (done, wait) = mpsc::channel();
        self.send(Job::Flush(done))?;
        wait.recv().map_err(|_| "the store writer stopped".to_string())?;
        self.error()
    }

    /// Write what is queued and stop: the summary of what was written, and
    /// the store's refusal if there was one.
    pub fn finish(mut self) -> (Summary, Option<String>) {
        let summary = self.join();
        let error = self.error().err();
        (summary, error)
    }

    fn send(&self, job: Job) -> Result<(), String> {
        let jobs = self.jobs.as_ref().ok_or("the store writer stopped")?;
        jobs.send(job).map_err(|_| "the store writer stopped".to_string())
    }

    fn error(&self) -> Result<(), String> {
        match &*self.failed.lock().unwrap_or_else(|p| p.into_inner()) {
            Some(message) => Err(message.clone()),
            None => Ok(()),
        }
    }

    fn join(&mut self) -> Summary {
        drop(self.jobs.take());
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(summary)) => summary,
            Some(Err(_)) => {
                self.failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert("the store writer panicked".into());
                Summary::default()
            }
            None => Summary::default(),
        }
    }
}

impl Drop for Writer {
    /// A run that ends early still waits for its writes: a dry run rolls
    /// back only after them.
    fn drop(&mut self) {
        self.join();
    }
}

fn write(target: &SyncTarget, queue: &Receiver<Job>, failed: &Mutex<Option<String>>) -> Summary {
    let run = RunContext { source: &target.source, run_id: target.run_id };
    let mut summary = Summary::default();
    while let Ok(job) = queue.recv() {
        // The batches waiting now are written in one transaction: fewer
        // commits, and pages the batches share written once.
        let mut batches = Vec::new();
        let mut flushes = Vec::new();
        let mut next = Some(job);
        while let Some(job) = next {
            match job {
                Job::Apply(batch) => batches.push(batch),
                // Everything before it is in this group: answer after it.
                Job::Flush(done) => flushes.push(done),
            }
            next = queue.try_recv().ok();
        }
        // The lock on `failed` is held only to read or set it: the plugin
        // checks it at every batch and must not wait for our writes.
        let ok = failed.lock().unwrap_or_else(|p| p.into_inner()).is_none();
        if ok && !batches.is_empty() {
            let mut conn = target.store.lock();
            let refused = match write_group(&mut conn, &run, &batches) {
                Ok((written, refused)) => {
                    // What was committed before a refusal counts.
                    summary.absorb(written);
                    refused
                }
                Err(message) => Some(message),
            };
            if refused.is_some() {
                *failed.lock().unwrap_or_else(|p| p.into_inner()) = refused;
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
    summary
}

/// Write `batches` in one transaction; each batch keeps its own savepoint,
/// so a batch the store refuses leaves the ones before it written. Returns
/// what was written, and the refusal; an error if nothing could be.
fn write_group(conn: &mut rusqlite::Connection, run: &RunContext, batches: &[Batch]) -> Result<(Summary, Option<String>), String> {
    let mut written = Summary::default();
    let mut refused = None;
    conn.execute_batch("SAVEPOINT batch_group").map_err(|e| format!("the user store refused to start a transaction: {e}"))?;
    for batch in batches {
        if let Err(e) = apply_batch(conn, run, batch, &mut written) {
            refused = Some(format!("the user store refused a batch of {}: {e}", batch.folder_path));
            break;
        }
    }
    if let Err(e) = conn.execute_batch("RELEASE batch_group") {
        let _ = conn.execute_batch("ROLLBACK TO batch_group; RELEASE batch_group");
        return Err(format!("the user store could not commit: {e}"));
    }
    Ok((written, refused))
}
