//! Applies the plugin's batches on a thread of their own, so that the store
//! writes one page of contacts while the plugin reads and parses the next.
//! The queue is short, and bounded in bytes too ([`crate::budget`]), so
//! memory stays bounded whatever size the plugin makes its batches; it
//! keeps the plugin's order; batches are committed together, at most
//! [`COMMIT_EVERY`] apart.

use crate::apply::{ApplyError, RunContext, apply_batch};
use crate::budget::{Budget, QUEUE_BYTES, Taken, Weight};
use crate::runtime::types::{Batch, DocumentBatch};
use crate::session::SyncTarget;
use crate::summary::Summary;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Batches waiting besides the ones being written.
const QUEUE: usize = 16;

/// A job, with the bytes it holds of the budget until it is dropped.
enum Job {
    Apply { batch: Batch, _taken: Taken },
    Documents { batch: DocumentBatch, _taken: Taken },
    /// answer once every batch queued before is written
    Flush(mpsc::Sender<()>),
}

pub struct Writer {
    jobs: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<Summary>>,
    /// the first batch the store refused; later batches are not written
    failed: Arc<Mutex<Option<String>>>,
    /// the bytes queued
    budget: Arc<Budget>,
}

impl Writer {
    pub fn start(target: SyncTarget) -> std::io::Result<Writer> {
        Writer::with_budget(target, QUEUE_BYTES)
    }

    /// A writer whose queue holds at most `bytes` (but one larger batch).
    pub fn with_budget(target: SyncTarget, bytes: usize) -> std::io::Result<Writer> {
        let (jobs, queue) = mpsc::sync_channel(QUEUE);
        let failed = Arc::new(Mutex::new(None));
        let budget = Arc::new(Budget::new(bytes));
        let thread = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn({
                let failed = failed.clone();
                move || write(&target, &queue, &failed)
            })?;
        Ok(Writer { jobs: Some(jobs), thread: Some(thread), failed, budget })
    }

    /// Queue a batch, once the budget has room for it. An earlier batch
    /// that the store refused is reported here, so that the plugin stops.
    pub fn apply(&self, batch: Batch) -> Result<(), String> {
        self.error()?;
        let taken = self.budget.take(batch.weight());
        self.send(Job::Apply { batch, _taken: taken })
    }

    /// Queue a batch of documents, in order with the users' batches.
    pub fn apply_documents(&self, batch: DocumentBatch) -> Result<(), String> {
        self.error()?;
        let taken = self.budget.take(batch.weight());
        self.send(Job::Documents { batch, _taken: taken })
    }

    /// The most this run had queued at once, in bytes.
    pub fn peak_queued(&self) -> usize {
        self.budget.peak()
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
                fail(&self.failed, "the store writer panicked".into());
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

/// How long written batches may wait for their commit. Each commit
/// rewrites every index page its batches touched (contacts arrive in no
/// order of email or id), so fewer, larger commits write far less; a crash
/// loses at most this much, checkpoints included, and the next run reads
/// it again.
const COMMIT_EVERY: Duration = Duration::from_secs(2);

/// Batches written but not committed yet.
struct Open {
    since: Instant,
    written: Summary,
}

fn write(target: &SyncTarget, queue: &Receiver<Job>, failed: &Mutex<Option<String>>) -> Summary {
    yield_to_the_plugin();
    let mut summary = Summary::default();
    let run = match RunContext::new(&target.store.lock(), &target.source, target.run_id, target.policy.clone()) {
        Ok(run) => run,
        Err(e) => {
            fail(failed, format!("the user store could not be read: {e}"));
            // Drain the queue, answering flushes, so that no one waits.
            for job in queue {
                if let Job::Flush(done) = job {
                    let _ = done.send(());
                }
            }
            return summary;
        }
    };
    let mut open: Option<Open> = None;
    // a job taken from the queue while gathering documents, next in line
    let mut held: Option<Job> = None;
    loop {
        let job = match (held.take(), &open) {
            (Some(job), _) => Ok(job),
            (None, Some(_)) => queue.recv_timeout(COMMIT_EVERY),
            (None, None) => queue.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match job {
            // The same connection reads what is written but not committed.
            Ok(Job::Flush(done)) => {
                let _ = done.send(());
            }
            // Later batches of a run that failed are not written.
            Ok(Job::Apply { .. } | Job::Documents { .. }) if failed.lock().unwrap_or_else(|p| p.into_inner()).is_some() => {}
            Ok(first @ (Job::Apply { .. } | Job::Documents { .. })) => {
                let mut jobs = vec![first];
                if matches!(jobs[0], Job::Documents { .. }) {
                    held = gather(queue, &mut jobs);
                }
                let mut conn = target.store.lock();
                let refused = match &jobs[..] {
                    [Job::Apply { batch, .. }] => write_batch(&mut conn, &run, batch, &mut open).err(),
                    documents => write_documents(&mut conn, target, documents, &mut open).err(),
                };
                // Their bytes are the budget's again.
                drop(jobs);
                let due = open.as_ref().is_some_and(|o| o.since.elapsed() >= COMMIT_EVERY);
                let refused = match (refused, due) {
                    // What was written before a refusal is committed.
                    (Some(refused), _) => commit(&mut conn, &mut open, &mut summary).err().or(Some(refused)),
                    (None, true) => commit(&mut conn, &mut open, &mut summary).err(),
                    (None, false) => None,
                };
                if let Some(message) = refused {
                    fail(failed, message);
                }
            }
            // Idle for a while, or the run is over: commit what is written.
            Err(stop) => {
                if let Err(e) = commit(&mut target.store.lock(), &mut open, &mut summary) {
                    fail(failed, e);
                }
                if stop == RecvTimeoutError::Disconnected {
                    return summary;
                }
            }
        }
    }
}

/// Take the batches of documents queued behind the first one in `jobs`,
/// to be written together (`documents::apply_batches`); a job of another
/// kind ends the gathering and is handed back, to be done next.
fn gather(queue: &Receiver<Job>, jobs: &mut Vec<Job>) -> Option<Job> {
    while jobs.len() <= QUEUE {
        match queue.try_recv() {
            Ok(job @ Job::Documents { .. }) => jobs.push(job),
            Ok(other) => return Some(other),
            Err(_) => return None,
        }
    }
    None
}

/// Keep the first failure: it is the one the run reports.
fn fail(failed: &Mutex<Option<String>>, message: String) {
    failed.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(message);
}

/// Run below the other threads (nice 10): the queue lets the writer fall
/// behind for a while, and the run waits for the plugin's parsing, not for
/// the writes. Measured: about 5 % off a full sync on two cores shared with
/// the emulator. Linux sets the nice value per thread.
fn yield_to_the_plugin() {
    // SAFETY: plain system calls on this thread's own id.
    let result = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 10) };
    if result != 0 {
        tracing::debug!("the store writer keeps its priority: {}", std::io::Error::last_os_error());
    }
}

/// Write one batch inside the open transaction (opening one if needed);
/// the batch has its own savepoint, so a refused batch leaves nothing.
fn write_batch(conn: &mut rusqlite::Connection, run: &RunContext, batch: &Batch, open: &mut Option<Open>) -> Result<(), String> {
    begin(conn, open)?;
    let written = &mut open.as_mut().expect("opened above").written;
    apply_batch(conn, run, batch, written).map_err(|e| match e {
        ApplyError::Refused(why) => why,
        ApplyError::Store(e) => format!("the user store refused a batch of {}: {e}", batch.folder_path),
    })
}

/// Write batches of documents inside the open transaction, as
/// [`write_batch`] does for users: a refused batch leaves nothing, the
/// ones before it are kept.
fn write_documents(conn: &mut rusqlite::Connection, target: &SyncTarget, jobs: &[Job], open: &mut Option<Open>) -> Result<(), String> {
    let batches: Vec<&DocumentBatch> = jobs.iter().filter_map(|job| if let Job::Documents { batch, .. } = job { Some(batch) } else { None }).collect();
    begin(conn, open)?;
    let written = open.as_mut().expect("opened above").written.documents.get_or_insert_default();
    crate::documents::apply_batches(conn, &target.source, target.run_id, &batches, written).map_err(|(at, e)| {
        let batch = batches[at];
        format!("the document store refused a batch of {} in {}: {e}", batch.folder_path, batch.mailbox)
    })
}

/// Open the writer's transaction unless it is open.
fn begin(conn: &mut rusqlite::Connection, open: &mut Option<Open>) -> Result<(), String> {
    if open.is_none() {
        conn.execute_batch("SAVEPOINT writer").map_err(|e| format!("the store refused to start a transaction: {e}"))?;
        *open = Some(Open { since: Instant::now(), written: Summary::default() });
    }
    Ok(())
}

/// Commit the open transaction; only then do its batches count.
fn commit(conn: &mut rusqlite::Connection, open: &mut Option<Open>, summary: &mut Summary) -> Result<(), String> {
    let Some(done) = open.take() else { return Ok(()) };
    if let Err(e) = conn.execute_batch("RELEASE writer") {
        let _ = conn.execute_batch("ROLLBACK TO writer; RELEASE writer");
        return Err(format!("the user store could not commit: {e}"));
    }
    summary.absorb(done.written);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::types::{Change, Upsert, User};
    use crate::store::Store;

    fn batch(ids: &[&str]) -> Batch {
        let changes = ids
            .iter()
            .map(|id| {
                let user = User {
                    login: format!("{id}@example.org"),
                    email: Some(format!("{id}@example.org")),
                    firstname: (*id).into(),
                    lastname: "Test".into(),
                    phone: String::new(),
                    extra: Vec::new(),
                };
                Change::Upsert(Upsert { external_id: (*id).into(), version: "v1".into(), user })
            })
            .collect();
        Batch { folder_id: "f".into(), folder_path: "Contacts".into(), changes, checkpoint: None, listing_complete: false }
    }

    /// While the store is busy, the plugin waits once the queue holds the
    /// budget's bytes, not once it holds so many batches.
    #[test]
    fn the_queue_holds_no_more_bytes_than_its_budget() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("users.db")).unwrap();
        let run_id = store.start_run("exchange", "full", false).unwrap();
        let target = SyncTarget { store: store.clone(), source: "exchange".into(), run_id, policy: Default::default() };
        let one = batch(&["u0"]).weight();
        let writer = std::sync::Arc::new(Writer::with_budget(target, 3 * one).unwrap());
        let busy = store.lock();
        let handed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let plugin = std::thread::spawn({
            let (writer, handed) = (writer.clone(), handed.clone());
            move || {
                for n in 0..10 {
                    writer.apply(batch(&[&format!("u{n}")])).unwrap();
                    handed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(handed.load(std::sync::atomic::Ordering::SeqCst), 3, "ten batches fit the queue, three fit the budget");
        drop(busy);
        plugin.join().unwrap();
        let writer = std::sync::Arc::into_inner(writer).unwrap();
        assert!(writer.peak_queued() <= 3 * one, "{} > {}", writer.peak_queued(), 3 * one);
        let (summary, error) = writer.finish();
        assert_eq!((summary.counts.created, error), (10, None));
    }

    #[test]
    fn a_refused_batch_fails_the_run_and_keeps_what_came_before() {
        let dir = std::env::temp_dir().join(format!("writer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let store = Store::open(&dir.join("users.db")).unwrap();
        // A store that refuses one contact, as a full disk would.
        store
            .lock()
            .execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON users WHEN NEW.external_id = 'bad' BEGIN SELECT RAISE(ABORT, 'no space left'); END;")
            .unwrap();
        let run_id = store.start_run("exchange", "full", false).unwrap();
        let target = SyncTarget { store: store.clone(), source: "exchange".into(), run_id, policy: Default::default() };
        let writer = Writer::start(target).unwrap();
        writer.apply(batch(&["a", "b"])).unwrap();
        writer.apply(batch(&["c", "bad"])).unwrap();
        let refused = writer.flush().unwrap_err();
        assert!(refused.contains("no space left"), "{refused}");
        // The plugin hears of it at its next batch, which is not written.
        assert_eq!(writer.apply(batch(&["d"])).unwrap_err(), refused);
        let (summary, error) = writer.finish();
        assert_eq!(error.as_deref(), Some(refused.as_str()));
        assert_eq!(summary.counts.created, 2, "only the committed batch counts");
        let mut logins: Vec<String> = store.users().unwrap().into_iter().map(|u| u.login).collect();
        logins.sort();
        assert_eq!(logins, ["a@example.org", "b@example.org"], "the refused batch left nothing, the one before stayed");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
