//! The standalone server's Redis commands, one row each, in the same form as the core's table
//! (`table.rs`); `Standalone::new` installs them. Inside redis-server these are Redis's own.

use super::flags::*;
use super::table::{cmd, CommandSpec, RW};
use super::{connection, generic, pubsub, replication, server, string, transactions};

/// Every Redis command the standalone server knows, one line each.
#[rustfmt::skip]
pub static REDIS: &[CommandSpec] = &[
    // connection
    cmd!("ping", -1, FAST | SUBSCRIBED_OK | STALE | LOADING, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Returns the server's liveliness response.", connection::ping),
    cmd!("echo", 2, FAST | STALE | LOADING, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Returns the given string.", connection::echo),
    cmd!("hello", -1, FAST | NO_AUTH | NOSCRIPT | STALE | LOADING | SKIP_MONITOR, ["fast", "connection"], (0, 0, 0), "connection", "6.0.0", "Handshakes with the server, optionally switching protocol and authenticating.", connection::hello),
    cmd!("auth", -2, FAST | NO_AUTH | NOSCRIPT | STALE | LOADING | SKIP_MONITOR, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Authenticates the connection.", connection::auth),
    cmd!("select", 2, FAST | STALE | LOADING, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Changes the selected database (only 0 exists).", connection::select),
    cmd!("quit", -1, FAST | NO_AUTH | NOSCRIPT | STALE | LOADING | SUBSCRIBED_OK | TXN_CONTROL, ["fast", "connection"], (0, 0, 0), "connection", "1.0.0", "Closes the connection.", connection::quit),
    cmd!("reset", 1, FAST | NO_AUTH | NOSCRIPT | STALE | LOADING | SUBSCRIBED_OK | TXN_CONTROL, ["fast", "connection"], (0, 0, 0), "connection", "6.2.0", "Resets the connection.", connection::reset),
    cmd!("client", -2, NOSCRIPT | STALE | LOADING, ["slow", "connection"], (0, 0, 0), "connection", "2.4.0", "Inspects and manages client connections (ID, SETNAME, GETNAME, SETINFO, LIST, INFO, KILL).", connection::client, subs [("id", 2), ("setname", 3), ("getname", 2), ("setinfo", 4), ("info", 2), ("list", -2), ("kill", -3), ("help", 2)]),
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
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::commands::table::{all, index_of, install, lookup};

    fn redis() {
        install(REDIS);
    }

    #[test]
    fn names_are_unique_lowercase_and_found() {
        redis();
        let mut seen = std::collections::HashSet::new();
        for (i, c) in all().enumerate() {
            assert_eq!(index_of(c), i);
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
        redis();
        let doc = include_str!("../../docs/commands.md");
        for c in all() {
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
        redis();
        assert_eq!(lookup(b"mset").unwrap().key_positions(5), vec![1, 3]);
        assert_eq!(lookup(b"del").unwrap().key_positions(4), vec![1, 2, 3]);
        assert_eq!(
            lookup(b"ping").unwrap().key_positions(1),
            Vec::<usize>::new()
        );
    }
}
