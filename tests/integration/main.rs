//! Integration tests: each starts a real `tensorcell-server` process on port 0 and talks RESP over TCP,
//! with the `redis` crate and with raw bytes.

mod common;

mod connection;
mod dags;
mod keys;
mod model_load;
mod models;
mod native;
mod persistence;
mod protocol;
mod pubsub;
mod r_runners;
mod replication;
mod runners;
mod score;
mod scripts;
mod server_admin;
mod snapshots;
mod state;
mod strings;
mod tensors;
mod transactions;
