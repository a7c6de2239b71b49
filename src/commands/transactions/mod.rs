//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH. EXEC holds the engine lock across every queued
//! command, so no other client sees the transaction half done; its effects reach the stream wrapped in
//! MULTI/EXEC.

mod discard;
mod exec;
mod multi;
mod unwatch;
mod watch;

pub use discard::discard;
pub use exec::exec;
pub use multi::multi;
pub use unwatch::unwatch;
pub use watch::watch;

use crate::commands::Ctx;

/// Forgets the queue and every WATCH (DISCARD, EXEC, RESET).
pub fn clear_transaction(ctx: &mut Ctx) {
    ctx.session.multi = None;
    ctx.session.multi_failed = false;
    let watches = std::mem::take(&mut ctx.session.watches);
    if !watches.is_empty() {
        let db = ctx.db();
        for w in &watches {
            db.unwatch(&w.key);
        }
    }
    ctx.session.sync_info();
}
