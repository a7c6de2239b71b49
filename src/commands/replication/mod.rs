//! Replication commands: REPLICAOF (and SLAVEOF), the replica handshake's REPLCONF and PSYNC, and WAIT.
//! The machinery they drive is `crate::repl`.

mod psync;
mod replconf;
mod replicaof;
mod wait;

pub use psync::psync;
pub use replconf::replconf;
pub use replicaof::replicaof;
pub use wait::wait;
