//! The one command table. Dispatch, COMMAND (INFO, DOCS, COUNT, LIST, GETKEYS), the policy checks and the
//! Redis module all read it; adding a command is one row here plus its handler.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::flags::*;
use super::{
    ai, connection, generic, pubsub, replication, server, state, string, transactions, Handler,
};

/// One command's declaration.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis convention: N = exactly N arguments (name included); -N = at least N.
    pub arity: i32,
    pub flags: u32,
    /// ACL categories, without the `@`.
    pub acl: &'static [&'static str],
    /// First key, last key (-1 = last argument), step; all 0 for no keys.
    pub keys: (i32, i32, i32),
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    /// Container commands (CONFIG, CLIENT, ...): each subcommand's lower-case name and Redis arity (the
    /// command and subcommand names counted), checked by policy so MULTI refuses a bad one at queue time.
    pub subs: &'static [(&'static str, i32)],
}

/// Whether `argc` satisfies a Redis arity: N = exactly N, -N = at least N.
pub fn arity_fits(arity: i32, argc: usize) -> bool {
    (arity > 0 && argc == arity as usize) || (arity < 0 && argc >= (-arity) as usize)
}

impl CommandSpec {
    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// Whether `argc` arguments (name included) satisfy the arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        arity_fits(self.arity, argc)
    }

    /// The declared subcommand `name` (any case), with its canonical name and arity.
    pub fn sub(&self, name: &[u8]) -> Option<(&'static str, i32)> {
        self.subs
            .iter()
            .find(|(n, _)| n.as_bytes().eq_ignore_ascii_case(name))
            .copied()
    }

    /// Indexes of the key arguments in `argv` (COMMAND GETKEYS, and later cluster routing).
    pub fn key_positions(&self, argc: usize) -> Vec<usize> {
        let (first, last, step) = self.keys;
        if first <= 0 || step <= 0 {
            return vec![];
        }
        let last = if last < 0 {
            argc as i32 + last
        } else {
            last.min(argc as i32 - 1)
        };
        (first..=last)
            .step_by(step as usize)
            .map(|i| i as usize)
            .collect()
    }
}

macro_rules! cmd {
    ($name:literal, $arity:expr, $flags:expr, [$($acl:literal),*], ($f:expr, $l:expr, $s:expr), $group:literal, $since:literal, $summary:literal, $h:path) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            acl: &[$($acl),*],
            keys: ($f, $l, $s),
            group: $group,
            since: $since,
            summary: $summary,
            handler: $h,
            subs: &[],
        }
    };
    ($name:literal, $arity:expr, $flags:expr, [$($acl:literal),*], ($f:expr, $l:expr, $s:expr), $group:literal, $since:literal, $summary:literal, $h:path, subs [$(($sn:literal, $sa:expr)),*]) => {
        CommandSpec {
            subs: &[$(($sn, $sa)),*],
            ..cmd!($name, $arity, $flags, [$($acl),*], ($f, $l, $s), $group, $since, $summary, $h)
        }
    };
}

const RW: u32 = WRITE | DENYOOM;

/// Every command the server knows, one line each.
#[rustfmt::skip]
pub static TABLE: &[CommandSpec] = &[
    // connection
    cmd!("ping", -1, FAST | SUBSCRIBED_OK | STALE | LOADING, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    cmd!("echo", 2, FAST | STALE | LOADING, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Returns the given string.", connection::echo),
    cmd!("hello", -1, FAST | NO_AUTH | STALE | LOADING | SKIP_MONITOR, ["fast", "connection"], (0, 0, 0), "connection", "6.0.0", "Handshakes with the server, optionally switching protocol and authenticating.", connection::hello),
    cmd!("auth", -2, FAST | NO_AUTH | STALE | LOADING | SKIP_MONITOR, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    cmd!("select", 2, FAST | STALE | LOADING, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Changes the selected database (only 0 exists).", connection::select),
    cmd!("quit", -1, FAST | NO_AUTH | STALE | LOADING | SUBSCRIBED_OK | TXN_CONTROL, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Closes the connection.", connection::quit),
    cmd!("reset", 1, FAST | NO_AUTH | STALE | LOADING | SUBSCRIBED_OK | TXN_CONTROL, ["fast", "connection"], (0, 0, 0), "connection", "6.2.0", "Resets the connection.", connection::reset),
    cmd!("client", -2, STALE | LOADING, ["slow", "connection"], (0, 0, 0), "connection", "2.4.0", "Inspects and manages client connections (ID, SETNAME, GETNAME, SETINFO, LIST, INFO, KILL).", connection::client, subs [("id", 2), ("setname", 3), ("getname", 2), ("setinfo", 4), ("info", 2), ("list", -2), ("kill", -3), ("help", 2)]),
    cmd!("command", -1, STALE | LOADING, ["slow", "connection"], (0, 0, 0), "server", "2.8.13", "Returns details about commands (COUNT, INFO, DOCS, LIST, GETKEYS).", connection::command, subs [("count", 2), ("info", -2), ("docs", -2), ("list", -2), ("getkeys", -3), ("help", 2)]),
    // server
    cmd!("info", -1, STALE | LOADING, ["slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Returns information and statistics about the server.", server::info),
    cmd!("config", -2, ADMIN | NOSCRIPT | STALE | LOADING, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "2.0.0", "Reads or changes configuration (GET, SET, RESETSTAT, REWRITE).", server::config, subs [("get", -3), ("set", -4), ("resetstat", 2), ("rewrite", 2), ("help", 2)]),
    cmd!("dbsize", 1, READONLY | FAST, ["keyspace", "read", "fast"], (0, 0, 0), "server", "1.0.0", "Returns the number of keys.", server::dbsize),
    cmd!("flushall", -1, WRITE, ["keyspace", "write", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Removes all keys.", server::flushall),
    cmd!("flushdb", -1, WRITE, ["keyspace", "write", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Removes all keys of the current database.", server::flushall),
    cmd!("role", 1, NOSCRIPT | LOADING | STALE | FAST, ["admin", "fast", "dangerous"], (0, 0, 0), "server", "2.8.12", "Returns the replication role.", server::role),
    cmd!("time", 1, FAST | RANDOM | STALE | LOADING, ["fast"], (0, 0, 0), "server", "2.6.0", "Returns the server time.", server::time),
    cmd!("save", 1, ADMIN | NOSCRIPT | NO_MULTI, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Synchronously saves the database(s) to disk.", server::save),
    cmd!("bgsave", -1, ADMIN | NOSCRIPT, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Asynchronously saves the database(s) to disk.", server::bgsave),
    cmd!("bgrewriteaof", 1, ADMIN | NOSCRIPT, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Asynchronously rewrites the append-only file to disk.", server::bgrewriteaof),
    cmd!("lastsave", 1, LOADING | STALE | FAST, ["admin", "fast", "dangerous"], (0, 0, 0), "server", "1.0.0", "Returns the Unix timestamp of the last successful save to disk.", server::lastsave),
    cmd!("shutdown", -1, ADMIN | NOSCRIPT | STALE | LOADING | NO_MULTI, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Stops the server.", server::shutdown),
    cmd!("slowlog", -2, ADMIN | STALE | LOADING, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "2.2.12", "Reads or resets the slow log (GET, LEN, RESET).", server::slowlog, subs [("get", -2), ("len", 2), ("reset", 2), ("help", 2)]),
    cmd!("monitor", 1, ADMIN | NOSCRIPT | STALE | LOADING, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Streams every command the server processes.", server::monitor),
    cmd!("debug", -2, ADMIN | NOSCRIPT | STALE | LOADING, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "Debugging hooks (SLEEP, EFFECTS, RELOAD, SET-ACTIVE-EXPIRE, SCRIPT-STATE).", server::debug),
    // replication (src/repl)
    cmd!("replicaof", 3, ADMIN | NOSCRIPT | STALE, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "5.0.0", "Makes the server a replica of another server, or a primary again (NO ONE).", replication::replicaof),
    cmd!("slaveof", 3, ADMIN | NOSCRIPT | STALE, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "1.0.0", "REPLICAOF under its old name.", replication::replicaof),
    cmd!("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "3.0.0", "Tells a primary about a replica during its handshake (internal).", replication::replconf),
    cmd!("psync", -3, ADMIN | NOSCRIPT | NO_MULTI | STALE, ["admin", "slow", "dangerous"], (0, 0, 0), "server", "2.8.0", "Starts a replication stream: partial (from the backlog) or full (snapshot first) (internal).", replication::psync),
    cmd!("wait", 3, NOSCRIPT, ["slow", "connection"], (0, 0, 0), "generic", "3.0.0", "Blocks until the writes before it are acknowledged by a number of replicas, or a timeout.", replication::wait),
    // strings
    cmd!("get", 2, READONLY | FAST, ["read", "string", "fast"], (1, 1, 1), "string", "1.0.0", "Returns the string value of a key.", string::get),
    cmd!("set", -3, RW, ["write", "string", "slow"], (1, 1, 1), "string", "1.0.0", "Sets the string value of a key, with optional expiry and conditions.", string::set),
    cmd!("setnx", 3, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "1.0.0", "Sets a key only if it does not exist.", string::setnx),
    cmd!("mget", -2, READONLY | FAST, ["read", "string", "fast"], (1, -1, 1), "string", "1.0.0", "Returns the values of several keys.", string::mget),
    cmd!("mset", -3, RW, ["write", "string", "slow"], (1, -1, 2), "string", "1.0.1", "Sets several keys.", string::mset),
    cmd!("getdel", 2, WRITE | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "6.2.0", "Returns a key's string value and deletes it.", string::getdel),
    cmd!("append", 3, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "2.0.0", "Appends to a string value.", string::append),
    cmd!("strlen", 2, READONLY | FAST, ["read", "string", "fast"], (1, 1, 1), "string", "2.2.0", "Returns the length of a string value.", string::strlen),
    cmd!("incr", 2, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "1.0.0", "Increments an integer value by one.", string::incr),
    cmd!("incrby", 3, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "1.0.0", "Increments an integer value.", string::incrby),
    cmd!("decr", 2, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "1.0.0", "Decrements an integer value by one.", string::decr),
    cmd!("decrby", 3, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "1.0.0", "Decrements an integer value.", string::decrby),
    cmd!("incrbyfloat", 3, RW | FAST, ["write", "string", "fast"], (1, 1, 1), "string", "2.6.0", "Increments a floating point value.", string::incrbyfloat),
    // keys
    cmd!("del", -2, WRITE, ["keyspace", "write", "slow"], (1, -1, 1), "generic", "1.0.0", "Deletes keys.", generic::del),
    cmd!("unlink", -2, WRITE | FAST, ["keyspace", "write", "fast"], (1, -1, 1), "generic", "4.0.0", "Deletes keys (values are freed off the hot path).", generic::del),
    cmd!("exists", -2, READONLY | FAST, ["keyspace", "read", "fast"], (1, -1, 1), "generic", "1.0.0", "Counts how many of the keys exist.", generic::exists),
    cmd!("type", 2, READONLY | FAST, ["keyspace", "read", "fast"], (1, 1, 1), "generic", "1.0.0", "Returns the type of a key's value.", generic::type_),
    cmd!("keys", 2, READONLY, ["keyspace", "read", "slow", "dangerous"], (0, 0, 0), "generic", "1.0.0", "Returns all keys matching a pattern.", generic::keys),
    cmd!("scan", -2, READONLY | RANDOM, ["keyspace", "read", "slow"], (0, 0, 0), "generic", "2.8.0", "Iterates over the keys.", generic::scan),
    cmd!("rename", 3, WRITE, ["keyspace", "write", "slow"], (1, 2, 1), "generic", "1.0.0", "Renames a key.", generic::rename),
    cmd!("expire", -3, WRITE | FAST, ["keyspace", "write", "fast"], (1, 1, 1), "generic", "1.0.0", "Sets a key's time to live in seconds.", generic::expire),
    cmd!("pexpire", -3, WRITE | FAST, ["keyspace", "write", "fast"], (1, 1, 1), "generic", "2.6.0", "Sets a key's time to live in milliseconds.", generic::pexpire),
    cmd!("expireat", -3, WRITE | FAST, ["keyspace", "write", "fast"], (1, 1, 1), "generic", "1.2.0", "Sets a key's expiry as a Unix time in seconds.", generic::expireat),
    cmd!("pexpireat", -3, WRITE | FAST, ["keyspace", "write", "fast"], (1, 1, 1), "generic", "2.6.0", "Sets a key's expiry as a Unix time in milliseconds.", generic::pexpireat),
    cmd!("ttl", 2, READONLY | FAST, ["keyspace", "read", "fast"], (1, 1, 1), "generic", "1.0.0", "Returns a key's time to live in seconds.", generic::ttl),
    cmd!("pttl", 2, READONLY | FAST, ["keyspace", "read", "fast"], (1, 1, 1), "generic", "2.6.0", "Returns a key's time to live in milliseconds.", generic::pttl),
    cmd!("persist", 2, WRITE | FAST, ["keyspace", "write", "fast"], (1, 1, 1), "generic", "2.2.0", "Removes a key's expiry.", generic::persist),
    cmd!("randomkey", 1, READONLY | RANDOM, ["keyspace", "read", "slow"], (0, 0, 0), "generic", "1.0.0", "Returns a random key.", generic::randomkey),
    // transactions
    cmd!("multi", 1, FAST | NOSCRIPT | LOADING | STALE | TXN_CONTROL, ["fast", "transaction"], (0, 0, 0), "transactions", "1.2.0", "Starts a transaction.", transactions::multi),
    cmd!("exec", 1, NOSCRIPT | LOADING | STALE | TXN_CONTROL, ["slow", "transaction"], (0, 0, 0), "transactions", "1.2.0", "Executes the queued commands.", transactions::exec),
    cmd!("discard", 1, FAST | NOSCRIPT | LOADING | STALE | TXN_CONTROL, ["fast", "transaction"], (0, 0, 0), "transactions", "2.0.0", "Discards the queued commands.", transactions::discard),
    cmd!("watch", -2, FAST | NOSCRIPT | LOADING | STALE | TXN_CONTROL, ["fast", "transaction"], (1, -1, 1), "transactions", "2.2.0", "Watches keys for optimistic locking.", transactions::watch),
    cmd!("unwatch", 1, FAST | NOSCRIPT | LOADING | STALE, ["fast", "transaction"], (0, 0, 0), "transactions", "2.2.0", "Forgets all watched keys.", transactions::unwatch),
    // pub/sub
    cmd!("publish", 3, PUBSUB | FAST | LOADING | STALE, ["pubsub", "fast"], (0, 0, 0), "pubsub", "2.0.0", "Posts a message to a channel.", pubsub::publish),
    cmd!("subscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, ["pubsub", "slow"], (0, 0, 0), "pubsub", "2.0.0", "Listens to channels.", pubsub::subscribe),
    cmd!("unsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, ["pubsub", "slow"], (0, 0, 0), "pubsub", "2.0.0", "Stops listening to channels.", pubsub::unsubscribe),
    cmd!("psubscribe", -2, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, ["pubsub", "slow"], (0, 0, 0), "pubsub", "2.0.0", "Listens to channels matching patterns.", pubsub::psubscribe),
    cmd!("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE | SUBSCRIBED_OK, ["pubsub", "slow"], (0, 0, 0), "pubsub", "2.0.0", "Stops listening to patterns.", pubsub::punsubscribe),
    cmd!("pubsub", -2, PUBSUB | LOADING | STALE, ["pubsub", "slow"], (0, 0, 0), "pubsub", "2.8.0", "Inspects pub/sub state (CHANNELS, NUMSUB, NUMPAT).", pubsub::pubsub, subs [("channels", -2), ("numsub", -2), ("numpat", 2), ("help", 2)]),
    // AI tensors
    cmd!("ai.tensorset", -4, RW, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Stores a tensor.", ai::tensorset),
    cmd!("ai.tensorget", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns a tensor's metadata, blob or values.", ai::tensorget),
    // AI models (loads and runs happen on the worker pool; see src/exec)
    cmd!("ai.modelstore", -6, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Stores an ONNX model.", ai::modelstore),
    cmd!("ai.modelset", -4, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Stores a model (deprecated syntax).", ai::modelset),
    cmd!("ai.modelget", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns a model's metadata and blob.", ai::modelget),
    cmd!("ai.modeldel", 2, WRITE, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Deletes a model.", ai::modeldel),
    cmd!("ai.modelexecute", -8, RW | BLOCKING, ["write", "ai"], (4, 4, 1), "ai", "1.2.0", "Runs a model and stores its outputs.", ai::modelexecute),
    cmd!("ai.modelrun", -6, RW | BLOCKING, ["write", "ai"], (3, 3, 1), "ai", "1.0.0", "Runs a model (deprecated syntax).", ai::modelrun),
    cmd!("ai._modelscan", 1, READONLY, ["read", "ai"], (0, 0, 0), "ai", "1.2.0", "Lists models and their tags (experimental).", ai::modelscan),
    cmd!("ai.info", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns or resets a model's or script's run statistics.", ai::info),
    cmd!("ai.config", -2, WRITE, ["write", "ai"], (0, 0, 0), "ai", "1.0.0", "Reads or changes RedisAI settings (BACKENDSPATH, LOADBACKEND, MODEL_CHUNK_SIZE, GET) and a script's runner count (SCRIPT_RUNNERS).", ai::config),
    // AI scripts (Python; compiled and run on the worker pool)
    cmd!("ai._scriptstate", -2, WRITE | ADMIN, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Sets the cells and pools a script's snapshots cover (the effect that carries a script's state list).", ai::scriptstate),
    cmd!("ai.snapshot", -2, WRITE | BLOCKING, ["write", "ai"], (2, 2, 1), "ai", "1.2.0", "Saves, lists, restores or deletes snapshots of a script's state (its cells and pools).", ai::snapshot, subs [("save", -3), ("list", -3), ("restore", -3), ("del", 4), ("help", 2)]),
    cmd!("ai.scriptstore", -8, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Stores a script (Python or R) with its entry points and runner count.", ai::scriptstore),
    cmd!("ai.scriptset", -5, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Stores a script (deprecated syntax).", ai::scriptset),
    cmd!("ai.scriptget", -2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "1.0.0", "Returns a script's metadata and source.", ai::scriptget),
    cmd!("ai.scriptdel", 2, WRITE, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Deletes a script.", ai::scriptdel),
    cmd!("ai.scriptexecute", -3, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.2.0", "Runs a script function and stores its outputs.", ai::scriptexecute),
    cmd!("ai.scriptrun", -4, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "1.0.0", "Runs a script function (deprecated syntax).", ai::scriptrun),
    cmd!("ai._scriptscan", 1, READONLY, ["read", "ai"], (0, 0, 0), "ai", "1.2.0", "Lists scripts and their tags (experimental).", ai::scriptscan),
    cmd!("ai.score", -4, RW | BLOCKING, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Runs a FastScore-style model over records.", ai::score),
    // DAGs (the |> form; src/commands/ai/dag.rs)
    cmd!("ai.dagexecute", -2, RW | BLOCKING, ["write", "ai"], (3, 3, 1), "ai", "1.2.0", "Runs a DAG of tensor, model and script ops in one round trip.", ai::dagexecute),
    cmd!("ai.dagexecute_ro", -2, READONLY | BLOCKING, ["read", "ai"], (3, 3, 1), "ai", "1.2.0", "Runs a read-only DAG (no PERSIST, no scripts).", ai::dagexecute_ro),
    cmd!("ai.dagrun", -2, RW | BLOCKING, ["write", "ai"], (3, 3, 1), "ai", "1.0.0", "Runs a DAG (deprecated syntax).", ai::dagrun),
    cmd!("ai.dagrun_ro", -2, READONLY | BLOCKING, ["read", "ai"], (3, 3, 1), "ai", "1.0.0", "Runs a read-only DAG (deprecated syntax).", ai::dagrun_ro),
    cmd!("ai.dagrunro", -2, READONLY | BLOCKING, ["read", "ai"], (3, 3, 1), "ai", "0.1.0", "AI.DAGRUN_RO under its original name.", ai::dagrunro),
    cmd!("ai.dagrunasync", -2, RW, ["write", "ai"], (0, 0, 0), "ai", "0.1.0", "Starts a DAG in the background and returns its id.", ai::dagrunasync),
    cmd!("ai.dagstatus", 2, READONLY | FAST, ["read", "ai", "fast"], (0, 0, 0), "ai", "0.1.0", "Reports an asynchronous DAG's status.", ai::dagstatus),
    cmd!("ai.dagresult", -2, READONLY, ["read", "ai"], (0, 0, 0), "ai", "0.1.0", "Returns an asynchronous DAG's reply, optionally waiting for it.", ai::dagresult),
    cmd!("ai.dagcancel", 2, WRITE, ["write", "ai"], (0, 0, 0), "ai", "0.1.0", "Cancels an asynchronous DAG before it commits.", ai::dagcancel),
    // cells and pools: shared model state (src/state)
    cmd!("ai.cellset", 3, RW, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Sets a cell's JSON value.", state::cellset),
    cmd!("ai.cellget", 2, READONLY | FAST, ["read", "ai", "fast"], (1, 1, 1), "ai", "0.1.0", "Returns a cell's JSON value.", state::cellget),
    cmd!("ai.poolset", -4, RW, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Sets fields of a pool to JSON values.", state::poolset),
    cmd!("ai.poolget", 3, READONLY | FAST, ["read", "ai", "fast"], (1, 1, 1), "ai", "0.1.0", "Returns one field of a pool.", state::poolget),
    cmd!("ai.pooldel", -3, WRITE, ["write", "ai"], (1, 1, 1), "ai", "0.1.0", "Removes fields from a pool.", state::pooldel),
    cmd!("ai.poolkeys", 2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "0.1.0", "Lists a pool's fields.", state::poolkeys),
    cmd!("ai.poolgetall", 2, READONLY, ["read", "ai"], (1, 1, 1), "ai", "0.1.0", "Returns every field and value of a pool.", state::poolgetall),
    cmd!("ai.poollen", 2, READONLY | FAST, ["read", "ai", "fast"], (1, 1, 1), "ai", "0.1.0", "Counts a pool's fields.", state::poollen),
];

/// Looks a command up by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    static INDEX: OnceLock<HashMap<&'static str, &'static CommandSpec>> = OnceLock::new();
    let index = INDEX.get_or_init(|| TABLE.iter().map(|c| (c.name, c)).collect());
    if name.len() > 32 {
        return None;
    }
    let mut buf = [0u8; 32];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index.get(std::str::from_utf8(lower).ok()?).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_lowercase_and_found() {
        let mut seen = std::collections::HashSet::new();
        for c in TABLE {
            assert_eq!(c.name, c.name.to_lowercase());
            assert!(seen.insert(c.name), "duplicate {}", c.name);
            assert!(std::ptr::eq(
                lookup(c.name.to_uppercase().as_bytes()).unwrap(),
                c
            ));
            assert!(c.has(WRITE) != c.has(READONLY) || (!c.has(WRITE) && !c.has(READONLY)));
        }
    }

    #[test]
    fn docs_list_every_command() {
        let doc = include_str!("../../docs/commands.md");
        for c in TABLE {
            let name = c.name.to_uppercase();
            let listed = ["`", "|", ", "].iter().any(|p| {
                [" ", "`", "|"]
                    .iter()
                    .any(|q| doc.contains(&format!("{p}{name}{q}")))
            });
            assert!(listed, "docs/commands.md lacks {name}");
        }
    }

    #[test]
    fn key_positions_follow_the_spec() {
        assert_eq!(lookup(b"mset").unwrap().key_positions(5), vec![1, 3]);
        assert_eq!(lookup(b"del").unwrap().key_positions(4), vec![1, 2, 3]);
        assert_eq!(
            lookup(b"ping").unwrap().key_positions(1),
            Vec::<usize>::new()
        );
    }
}
