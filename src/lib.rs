//! tensorcell: an in-memory tensor, model and state server that speaks RESP.
//!
//! # Crate map and dependency rules
//!
//! ```text
//!   server/  (feature "server": tokio)  -- sockets, connections, signals
//!      |
//!   persist/  repl/  -- the standalone server's AOF, snapshot file and replication (consume the effect stream)
//!      |
//!   commands/ -> dispatch (policy, execute, propagate) -> Outcome { reply, effects }
//!      |
//!   keyspace/ tensor/ model/ exec/ script/ runner/ state/ codec/ config effects resp/ args reply error
//! ```
//!
//! `model/` holds stored models (`model/onnx.rs` is the tract backend); `exec/` is the worker pool that runs
//! them off the I/O threads, with RedisAI's per-device queues and auto-batching. `script/` holds stored
//! scripts, which run in runner processes (`runner/`, docs/runners.md). `codec/` is how values are written
//! down (compression, container, records), shared by every front end. docs/architecture.md has the map.
//!
//! - The engine core (everything outside `server/`) depends on neither tokio nor redis-module. CI checks it
//!   with `cargo tree --no-default-features -e normal`, which must not mention tokio.
//! - tract lives only in `src/model/onnx.rs`; processes start only in `src/runner/` (scripts/test checks both).
//! - `unsafe` is forbidden in this crate; the Redis module's type glue is the one place that may use it.
#![forbid(unsafe_code)]

pub mod args;
pub mod clients;
pub mod codec;
pub mod commands;
pub mod config;
pub mod effects;
pub mod error;
pub mod exec;
pub mod glob;
pub mod keyspace;
pub mod log;
pub mod model;
pub mod node;
pub mod persist;
pub mod pubsub;
pub mod repl;
pub mod reply;
pub mod resp;
pub mod runner;
pub mod script;
pub mod session;
pub mod shared;
pub mod slowlog;
pub mod standalone;
pub mod state;
pub mod stats;
pub mod tensor;
pub mod util;

#[cfg(feature = "server")]
pub mod server;
