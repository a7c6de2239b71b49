//! The persistence timer (Redis's serverCron part for it), ten times a second on a thread of its own:
//! `save <seconds> <changes>` points, scheduled jobs, and automatic AOF rewrites
//! (`auto-aof-rewrite-percentage`, `auto-aof-rewrite-min-size`).

use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::shared::Shared;
use crate::stats::Stats;

/// A failed background save is retried after this many seconds (Redis's CONFIG_BGSAVE_RETRY_DELAY).
const RETRY_DELAY_S: u64 = 5;

/// Starts the timer; it ends when the server state is dropped.
pub fn start_cron(shared: &Arc<Shared>) {
    let weak: Weak<Shared> = Arc::downgrade(shared);
    let _ = std::thread::Builder::new()
        .name("persist-cron".into())
        .spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let Some(shared) = weak.upgrade() else { return };
            tick(&shared);
        });
}

fn tick(shared: &Shared) {
    let p = &super::of(shared);
    if p.loading.load(SeqCst) || p.job().is_some() {
        return;
    }
    if p.rewrite_scheduled.load(SeqCst) {
        let _ = super::bgrewriteaof(shared, &mut shared.engine.lock());
        return;
    }
    if p.save_scheduled.load(SeqCst) {
        let _ = super::bgsave(shared, &mut shared.engine.lock(), false);
        return;
    }
    let s = shared.settings();
    let now = crate::util::now_ms() / 1000;
    let dirty = Stats::get(&shared.stats.changes).saturating_sub(p.dirty_saved.load(SeqCst));
    let since_save = now.saturating_sub(p.last_save.load(SeqCst));
    let may_retry = p.last_bgsave_ok.load(SeqCst)
        || now.saturating_sub(p.last_bgsave_try.load(SeqCst)) > RETRY_DELAY_S;
    if may_retry
        && s.save
            .iter()
            .any(|&(secs, changes)| dirty >= changes && since_save >= secs)
    {
        crate::notice!("{dirty} changes in {since_save} seconds. Saving...");
        let _ = super::bgsave(shared, &mut shared.engine.lock(), false);
        return;
    }
    if let Some(aof) = p.aof() {
        let base = aof.base_size.load(SeqCst);
        let size = aof.current_size.load(SeqCst);
        if s.auto_aof_rewrite_percentage > 0
            && size >= s.auto_aof_rewrite_min_size
            && size.saturating_sub(base) * 100 >= base.max(1) * s.auto_aof_rewrite_percentage
        {
            crate::notice!(
                "Starting automatic rewriting of AOF on {}% growth",
                size.saturating_sub(base) * 100 / base.max(1)
            );
            let _ = super::bgrewriteaof(shared, &mut shared.engine.lock());
        }
    }
}
