//! WAIT: blocks a client until enough replicas have acknowledged the stream up to the offset it saw, or its
//! timeout passes. Acknowledgements come from the feeds' readers ([`acked`]); a WAIT that must block asks
//! every replica for its offset at once (`REPLCONF GETACK *`) instead of waiting for the next heartbeat.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use super::{Waiter, ONLINE};
use crate::commands::Outcome;
use crate::reply::Reply;
use crate::shared::Shared;

/// Replicas whose acknowledged offset has reached `target`.
fn acked_count(shared: &Shared, target: u64) -> usize {
    super::of(shared)
        .peers
        .lock()
        .iter()
        .filter(|p| p.state.load(SeqCst) == ONLINE && p.ack.load(SeqCst) >= target)
        .count()
}

/// WAIT's reply: the count now if it already reaches `want` (or the client may not block, inside EXEC),
/// otherwise a deferred reply. `timeout_ms` 0 waits for ever, as in Redis.
pub fn wait(
    shared: &Shared,
    target: u64,
    want: usize,
    timeout_ms: u64,
    may_block: bool,
) -> Outcome {
    let now = acked_count(shared, target);
    if now >= want || !may_block {
        return Outcome::new(Reply::Int(now as i64));
    }
    let shared = shared.arc();
    let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
    Outcome::later(move |done| {
        let repl = &super::of(&shared);
        let mut waiters = repl.waiters.lock();
        // Acknowledgements may have come in since the count above: [`acked`] takes this lock too.
        let n = acked_count(&shared, target);
        if n >= want {
            drop(waiters);
            done(Reply::Int(n as i64));
            return;
        }
        waiters.push(Waiter {
            target,
            want,
            deadline,
            done,
        });
        drop(waiters);
        repl.wake.notify_one();
        for p in repl.peers() {
            p.feed.push(super::feed::GETACK);
        }
    })
}

/// A replica acknowledged: answers the WAITs that now have enough replicas.
pub(super) fn acked(shared: &Shared) {
    let mut ready = Vec::new();
    {
        let mut waiters = super::of(shared).waiters.lock();
        let mut i = 0;
        while i < waiters.len() {
            let n = acked_count(shared, waiters[i].target);
            if n >= waiters[i].want {
                ready.push((waiters.swap_remove(i), n));
            } else {
                i += 1;
            }
        }
    }
    for (w, n) in ready {
        (w.done)(Reply::Int(n as i64));
    }
}

/// The timer that answers WAITs whose timeout passed, with the count reached by then.
pub(super) fn start_timer(shared: Arc<Shared>) {
    let weak: Weak<Shared> = Arc::downgrade(&shared);
    drop(shared);
    let _ = std::thread::Builder::new()
        .name("repl-wait".into())
        .spawn(move || loop {
            let Some(shared) = weak.upgrade() else { return };
            let repl = &super::of(&shared);
            let mut waiters = repl.waiters.lock();
            let now = Instant::now();
            let nap = waiters
                .iter()
                .filter_map(|w| w.deadline)
                .min()
                .map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now))
                .min(Duration::from_secs(1));
            repl.wake.wait_for(&mut waiters, nap);
            let now = Instant::now();
            let (due, keep): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut *waiters)
                .into_iter()
                .partition(|w| w.deadline.is_some_and(|d| d <= now));
            *waiters = keep;
            drop(waiters);
            for w in due {
                let n = acked_count(&shared, w.target);
                (w.done)(Reply::Int(n as i64));
            }
        });
}
