//! Asynchronous DAG runs (AI.DAGRUNASYNC, commands.md section 4): their status, their result once finished,
//! clients waiting for it (`AI.DAGRESULT ... BLOCK`), and cancellation before commit. Finished runs are kept
//! `dag-result-ttl` seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::commands::Completion;
use crate::reply::Reply;

#[derive(Default)]
struct State {
    status: &'static str,
    result: Option<Reply>,
    finished: Option<Instant>,
    cancelled: bool,
    committing: bool,
    /// Waiters (`DAGRESULT ... BLOCK`): each slot is taken once, by the finish or by the waiter's timer.
    waiters: Vec<Arc<Mutex<Option<Completion>>>>,
}

/// One asynchronous run.
pub struct AsyncDag {
    state: Mutex<State>,
}

impl Default for AsyncDag {
    fn default() -> Self {
        AsyncDag {
            state: Mutex::new(State {
                status: "queued",
                ..Default::default()
            }),
        }
    }
}

impl AsyncDag {
    pub fn status(&self) -> &'static str {
        self.state.lock().status
    }

    /// The result, once finished.
    pub fn result(&self) -> Option<Reply> {
        self.state.lock().result.clone()
    }

    /// The worker took it: `running`, unless it was cancelled while queued (then false: do not run).
    pub fn start(&self) -> bool {
        let mut s = self.state.lock();
        if s.cancelled {
            return false;
        }
        s.status = "running";
        true
    }

    /// Whether the run should stop (it was cancelled).
    pub fn cancelled(&self) -> bool {
        self.state.lock().cancelled
    }

    /// The runner is about to write its keys: from here on it can no longer be cancelled. False if it was.
    pub fn begin_commit(&self) -> bool {
        let mut s = self.state.lock();
        if s.cancelled {
            return false;
        }
        s.committing = true;
        true
    }

    /// AI.DAGCANCEL: true if the run is stopped before it committed anything.
    pub fn cancel(&self) -> bool {
        let mut s = self.state.lock();
        if s.committing || s.finished.is_some() {
            return false;
        }
        s.cancelled = true;
        true
    }

    /// Records the outcome and wakes every waiter with it.
    pub fn finish(&self, status: &'static str, result: Reply) {
        let waiters = {
            let mut s = self.state.lock();
            s.status = status;
            s.result = Some(result.clone());
            s.finished = Some(Instant::now());
            std::mem::take(&mut s.waiters)
        };
        for w in waiters {
            if let Some(done) = w.lock().take() {
                done(result.clone());
            }
        }
    }

    /// Waits for the result for at most `block` (on a timer thread, never the caller's): `done` gets the result,
    /// or nil when the time runs out.
    pub fn wait(&self, block: Duration, done: Completion) {
        let slot = Arc::new(Mutex::new(Some(done)));
        {
            let mut s = self.state.lock();
            if let Some(r) = s.result.clone() {
                drop(s);
                if let Some(done) = slot.lock().take() {
                    done(r);
                }
                return;
            }
            s.waiters.push(slot.clone());
        }
        std::thread::spawn(move || {
            std::thread::sleep(block);
            if let Some(done) = slot.lock().take() {
                done(Reply::Nil);
            }
        });
    }

    fn expired(&self, ttl: Duration) -> bool {
        self.state
            .lock()
            .finished
            .is_some_and(|t| t.elapsed() > ttl)
    }
}

/// Every asynchronous run by id.
#[derive(Default)]
pub struct Registry {
    runs: Mutex<HashMap<String, Arc<AsyncDag>>>,
}

impl Registry {
    /// Registers a new run under a fresh id; runs finished more than `ttl` ago are dropped on the way.
    pub fn create(&self, ttl: Duration) -> (String, Arc<AsyncDag>) {
        let mut runs = self.runs.lock();
        runs.retain(|_, r| !r.expired(ttl));
        let id = loop {
            let id: String = (0..16)
                .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
                .collect();
            if !runs.contains_key(&id) {
                break id;
            }
        };
        let run = Arc::new(AsyncDag::default());
        runs.insert(id.clone(), run.clone());
        (id, run)
    }

    /// A run by id, unless it finished more than `ttl` ago.
    pub fn get(&self, id: &str, ttl: Duration) -> Option<Arc<AsyncDag>> {
        let mut runs = self.runs.lock();
        let run = runs.get(id)?.clone();
        if run.expired(ttl) {
            runs.remove(id);
            return None;
        }
        Some(run)
    }
}
