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

/// Batches waiting besides the one being written.
const QUEUE: usize = 2;

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
    for job in queue {
        match job {
            Job::Flush(done) => {
                let _ = done.send(());
            }
            Job::Apply(batch) => {
                let mut failed = failed.lock().unwrap_or_else(|p| p.into_inner());
                if failed.is_some() {
                    continue;
                }
                let mut conn = target.store.lock();
                if let Err(e) = apply_batch(&mut conn, &run, &batch, &mut summary) {
                    *failed = Some(format!("the user store refused a batch of {}: {e}", batch.folder_path));
                }
            }
        }
    }
    summary
}
