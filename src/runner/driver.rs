//! A runner's driver thread: it owns one runner process, takes its script's queued tasks one at a time
//! (AI.SCORE calls batched together), keeps a runner started ahead of need, and stops when its pool shrinks
//! below it or goes away.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use super::{host, pacing, score, Inner, Queue, Runner, Task, SHORT_US};

/// Starts the drivers the target asks for that are not running.
pub(super) fn grow(inner: &Arc<Inner>, q: &mut Queue) {
    for i in 0..q.target {
        if !q.slots.get(i).copied().unwrap_or(false) {
            start_driver(inner, q, i);
        }
    }
}

pub(super) fn start_driver(inner: &Arc<Inner>, q: &mut Queue, index: usize) {
    if q.slots.len() <= index {
        q.slots.resize(index + 1, false);
    }
    q.slots[index] = true;
    let inner = inner.clone();
    let spawned = std::thread::Builder::new()
        .name(format!("runner-{index}"))
        .spawn(move || driver(inner, index));
    if spawned.is_err() {
        q.slots[index] = false;
        crate::warning!("could not start a runner thread");
    }
}

/// A driver: owns one runner process, takes the script's tasks one at a time, keeps a runner ready.
fn driver(inner: Arc<Inner>, index: usize) {
    host::serve(inner.spec.key.clone(), inner.spec.state.clone());
    let mut runner = Runner {
        inner: inner.clone(),
        proc: None,
        warm: inner.healthy.load(Relaxed),
        started_before: false,
    };
    let mut had_task = false;
    loop {
        let task = {
            let mut q = inner.queue.lock();
            if std::mem::take(&mut had_task) {
                q.running -= 1;
                // Drivers held back by the contention cap wait for the running one; if this driver does not
                // take the next task itself (it restarts its runner, or stops), one of them must.
                if q.running == 0 && !q.tasks.is_empty() {
                    if let Some(i) = q.idle.pop() {
                        inner.wakers[i].notify_one();
                    }
                }
            }
            loop {
                if q.stopping || index >= q.target {
                    q.slots[index] = false;
                    if q.backup == Some(index) {
                        q.backup = None;
                    }
                    // Calls left waiting for this driver's next batch go to another.
                    if !q.tasks.is_empty() {
                        if let Some(i) = q.idle.pop() {
                            inner.wakers[i].notify_one();
                        }
                    }
                    drop(q);
                    runner.lose();
                    return;
                }
                if q.backup == Some(index) {
                    // Give the busy runner the time its requests usually take to come back for the joined
                    // calls; whatever is still waiting after that is this driver's.
                    let grace =
                        Duration::from_micros(2 * inner.average_us.load(Relaxed) + SHORT_US);
                    inner.wakers[index].wait_for(&mut q, grace);
                    q.backup = None;
                    continue;
                }
                // A runner to (re)start first: a queued task is better served by a hot runner freeing up
                // than by waiting for this one's start.
                if runner.proc.is_none() && runner.warm {
                    break None;
                }
                if !q.tasks.is_empty() && q.running > 0 {
                    if let Some(left) = inner.contention.capped(inner.now_us()) {
                        // The runners collide on shared state: the busy one takes this task next.
                        q.idle.push(index);
                        inner.wakers[index].wait_for(&mut q, Duration::from_micros(left));
                        q.idle.retain(|&i| i != index);
                        continue;
                    }
                }
                if let Some(t) = q.tasks.pop_front() {
                    q.running += 1;
                    break Some(t);
                }
                q.idle.push(index);
                inner.wakers[index].wait(&mut q);
                q.idle.retain(|&i| i != index);
            }
        };
        let Some(task) = task else {
            // Start a runner before it is needed: after a scale-up, and after one died.
            let started =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner.ensure().is_ok()));
            if !matches!(started, Ok(true)) {
                runner.warm = false;
            }
            continue;
        };
        inner.stats.busy.fetch_add(1, Relaxed);
        pacing::BUSY.fetch_add(1, Relaxed);
        inner.request_began(index);
        let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match task {
            Task::Run(f) => f(&mut runner),
            Task::Score(job) => score::run(&mut runner, batch(&inner, job)),
        }));
        inner.request_ended(index);
        inner.contention.judge(inner.now_us());
        had_task = true;
        inner.stats.busy.fetch_sub(1, Relaxed);
        pacing::BUSY.fetch_sub(1, Relaxed);
        if ran.is_err() {
            // The runner may be half-way through an exchange: never reuse it.
            runner.lose();
            crate::warning!("a script task panicked on runner {index}; its client got an error");
        }
    }
}

/// `first` and the queued AI.SCORE calls that can share its request, in queue order.
fn batch(inner: &Inner, first: score::ScoreJob) -> Vec<score::ScoreJob> {
    let mut jobs = vec![first];
    let mut q = inner.queue.lock();
    let mut records = jobs[0].records.len();
    let mut bytes = jobs[0].bytes();
    let mut i = 0;
    while i < q.tasks.len() {
        let fits = match &q.tasks[i] {
            Task::Score(j) => jobs[0].takes(j, jobs.len(), records, bytes),
            Task::Run(_) => false,
        };
        if fits {
            if let Some(Task::Score(j)) = q.tasks.remove(i) {
                records += j.records.len();
                bytes += j.bytes();
                jobs.push(j);
            }
        } else {
            i += 1;
        }
    }
    jobs
}
