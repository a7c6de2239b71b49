//! Server commands: INFO, CONFIG, DBSIZE, FLUSHALL/FLUSHDB, TIME, SHUTDOWN, SLOWLOG, MONITOR, DEBUG.

mod config;
mod dbsize;
mod debug;
mod flushall;
mod info;
mod monitor;
mod shutdown;
mod slowlog;
mod time;

pub use config::config;
pub use dbsize::dbsize;
pub use debug::debug;
pub use flushall::flushall;
pub use info::info;
pub use monitor::monitor;
pub use shutdown::shutdown;
pub use slowlog::slowlog;
pub use time::time;

/// The Redis version tensorcell answers like (HELLO, INFO redis_version), for clients that check it.
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";
