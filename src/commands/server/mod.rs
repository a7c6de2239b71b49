//! Server commands: INFO, CONFIG, DBSIZE, FLUSHALL/FLUSHDB, TIME, SHUTDOWN, SLOWLOG, MONITOR, DEBUG, and
//! persistence: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE; ROLE.

mod bgrewriteaof;
mod bgsave;
mod config;
mod dbsize;
mod debug;
mod flushall;
mod info;
mod lastsave;
mod monitor;
mod role;
mod save;
mod shutdown;
mod slowlog;
mod time;

pub use bgrewriteaof::bgrewriteaof;
pub use bgsave::bgsave;
pub use config::config;
pub use dbsize::dbsize;
pub use debug::debug;
pub use flushall::flushall;
pub use info::info;
pub use lastsave::lastsave;
pub use monitor::monitor;
pub use role::role;
pub use save::save;
pub use shutdown::shutdown;
pub use slowlog::slowlog;
pub use time::time;

/// The Redis version tensorcell answers like (HELLO, INFO redis_version), for clients that check it.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
