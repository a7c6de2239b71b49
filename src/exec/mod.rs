//! The worker pool: model runs (and other long work, such as loading a model) happen here, never on the
//! I/O threads. As RedisAI: one FIFO run queue per device string, `threads-per-queue` workers per queue,
//! and auto-batching of model requests inside a queue (see [`batch`]).
//!
//! A request carries a completion callback; the worker calls it with the result, from the worker thread.
//! The command that queued the request commits the outputs and replies from that callback, so the
//! keyspace lock is never held while a model runs.

pub mod asyncdag;
mod batch;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::model::{onnx, Model};
use crate::tensor::Tensor;

/// The outcome of one model request.
#[derive(Debug)]
pub enum RunResult {
    /// The outputs, and the run's duration in microseconds (a batched run's full duration).
    Done {
        outputs: Vec<Tensor>,
        micros: u64,
    },
    /// The request waited in the queue longer than its TIMEOUT.
    TimedOut,
    Failed(String),
}

/// One MODELEXECUTE-style request.
pub struct ModelRequest {
    pub model: Arc<Model>,
    pub inputs: Vec<Arc<Tensor>>,
    pub enqueued: Instant,
    pub timeout: Option<Duration>,
    pub done: Box<dyn FnOnce(RunResult) + Send>,
}

/// What a worker keeps between jobs.
#[derive(Default)]
pub struct WorkerCache {
    pub onnx: onnx::States,
}

/// A queued unit of work.
pub enum Job {
    Model(ModelRequest),
    /// Any other long work that must stay off the I/O threads (loading a model).
    Task(Box<dyn FnOnce(&mut WorkerCache) + Send>),
}

/// One device's queue and its workers.
pub struct RunQueue {
    pub name: String,
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
    pub workers: usize,
    pub busy: AtomicUsize,
    /// Jobs done (a batch counts once).
    pub processed: AtomicU64,
    /// Runs that served more than one request, and the requests they served.
    pub batches: AtomicU64,
    pub batched_requests: AtomicU64,
    /// Its workers' thread ids by worker index, 0 until that worker has started (INFO modules reports each
    /// one's CPU time).
    pub thread_ids: Mutex<Vec<i32>>,
}

impl RunQueue {
    pub fn len(&self) -> usize {
        self.jobs.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The pool: queues by device, created on first use.
pub struct Pool {
    queues: Mutex<HashMap<String, Arc<RunQueue>>>,
    threads_per_queue: usize,
    /// `model-execution-timeout` in milliseconds: a run is stopped between operators after this long.
    pub exec_timeout_ms: u64,
    /// Threads each loaded model may use inside one run (`intra-op-parallelism`, `inter-op-parallelism`).
    pub threads: crate::model::Threads,
    stopping: Arc<AtomicBool>,
}

impl Pool {
    pub fn new(
        threads_per_queue: usize,
        threads: crate::model::Threads,
        exec_timeout_ms: u64,
    ) -> Pool {
        let pool = Pool {
            queues: Mutex::new(HashMap::new()),
            threads_per_queue: threads_per_queue.max(1),
            exec_timeout_ms,
            threads,
            stopping: Arc::new(AtomicBool::new(false)),
        };
        // CPU's queue exists from the start, as in RedisAI.
        pool.queue("CPU");
        pool
    }

    /// Most queues: device strings are client input (scripts' are not even validated), so past this many,
    /// new devices share the CPU queue instead of each starting threads.
    pub const MAX_QUEUES: usize = 16;

    /// The queue for a device string (case-insensitive), created with its workers on first use.
    pub fn queue(&self, device: &str) -> Arc<RunQueue> {
        let name = device.to_ascii_uppercase();
        let mut queues = self.queues.lock();
        if let Some(q) = queues.get(&name) {
            return q.clone();
        }
        if queues.len() >= Self::MAX_QUEUES {
            if let Some(cpu) = queues.get("CPU") {
                return cpu.clone();
            }
        }
        let q = Arc::new(RunQueue {
            name: name.clone(),
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
            workers: self.threads_per_queue,
            busy: AtomicUsize::new(0),
            processed: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            batched_requests: AtomicU64::new(0),
            thread_ids: Mutex::new(vec![0; self.threads_per_queue]),
        });
        for i in 0..self.threads_per_queue {
            let (q2, stop) = (q.clone(), self.stopping.clone());
            let exec_timeout = self.exec_timeout_ms;
            std::thread::Builder::new()
                .name(format!("ai-{}-{i}", name.to_ascii_lowercase()))
                .spawn(move || worker(q2, i, stop, exec_timeout))
                .expect("spawning a worker thread");
        }
        queues.insert(name, q.clone());
        q
    }

    /// Every queue, by name.
    pub fn queues(&self) -> Vec<Arc<RunQueue>> {
        let mut v: Vec<_> = self.queues.lock().values().cloned().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Queues a job on a device's queue.
    pub fn submit(&self, device: &str, job: Job) {
        let q = self.queue(device);
        q.jobs.lock().push_back(job);
        // Every waiting worker looks: a new request may complete a batch another worker is holding back.
        q.ready.notify_all();
    }

    /// Stops the workers once their current job ends (server shutdown).
    pub fn stop(&self) {
        self.stopping.store(true, Relaxed);
        for q in self.queues.lock().values() {
            q.ready.notify_all();
        }
    }
}

/// A worker: takes the next runnable work from its queue (a task, a lone request or a batch) and runs it.
fn worker(q: Arc<RunQueue>, index: usize, stop: Arc<AtomicBool>, exec_timeout_ms: u64) {
    q.thread_ids.lock()[index] = nix::unistd::gettid().as_raw();
    let mut cache = WorkerCache::default();
    loop {
        let work = {
            let mut jobs = q.jobs.lock();
            loop {
                if stop.load(Relaxed) {
                    return;
                }
                match batch::take_ready(&mut jobs, Instant::now()) {
                    batch::Take::Work(w) => break w,
                    batch::Take::WaitUntil(t) => {
                        q.ready.wait_until(&mut jobs, t);
                    }
                    batch::Take::Wait => q.ready.wait(&mut jobs),
                }
            }
        };
        q.busy.fetch_add(1, Relaxed);
        // A panic in a job must not take the worker down: its completions are dropped (their clients get an
        // error) and the worker starts over with a fresh cache.
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match work {
            batch::Work::Task(f) => f(&mut cache),
            batch::Work::Batch(reqs) => {
                if reqs.len() > 1 {
                    q.batches.fetch_add(1, Relaxed);
                    q.batched_requests.fetch_add(reqs.len() as u64, Relaxed);
                }
                batch::run(reqs, &mut cache, Duration::from_millis(exec_timeout_ms));
            }
        }));
        if ran.is_err() {
            crate::warning!(
                "a job panicked on worker queue {}; its requests got an error",
                q.name
            );
            cache = WorkerCache::default();
        }
        q.busy.fetch_sub(1, Relaxed);
        q.processed.fetch_add(1, Relaxed);
    }
}
