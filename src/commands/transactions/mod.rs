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
