//! The front end the engine core runs in, as the command path sees it. The standalone server adds its own
//! persistence and replication (`crate::standalone`): a replica refuses writes, a failing AOF refuses them
//! too. Inside redis-server the module adds nothing here (Redis checks those itself). The core calls the
//! node through this trait only, so it never imports the server's persistence or replication, and those
//! consume the core's effect stream from above.

use std::any::{Any, TypeId};

use crate::commands::{CommandSpec, Effects, Events};
use crate::error::{CmdError, Misconf};
use crate::keyspace::Store;
use crate::shared::{Hot, Shared};

pub trait Node: Send + Sync {
    /// Refuses a command before it is queued or run: a replica's READONLY and MASTERDOWN, a primary's
    /// NOREPLICAS. `writes`: the command (or the EXEC it is) writes. By default nothing is refused.
    fn refuses(&self, _shared: &Shared, _spec: &CommandSpec, _writes: bool) -> Option<CmdError> {
        None
    }

    /// Refuses a write about to run (not one queued in MULTI): persistence is failing (MISCONF). By
    /// default never.
    fn refuses_write(&self, _hot: &Hot) -> Option<Misconf> {
        None
    }

    /// One of the node's parts by type (the standalone server's `Persist`, `Repl`), for the front end's own
    /// commands and threads. By default none.
    fn part(&self, _t: TypeId) -> Option<&dyn Any> {
        None
    }

    /// Commits work that ran off the command's thread (a model's outputs, a script's cell update): `apply`
    /// changes the keys under the front end's lock and returns the effects and events to propagate, all or
    /// nothing. With `refusable`, the node may refuse (false, nothing applied): it can no longer take a
    /// client's writes (it became a replica meanwhile). An implementation calls `apply` exactly once when it
    /// returns true, and never when it returns false. By default, on the engine's own keyspace.
    fn commit(
        &self,
        shared: &Shared,
        refusable: bool,
        apply: &mut dyn FnMut(&mut dyn Store) -> (Effects, Events),
    ) -> bool {
        crate::commands::dispatch::commit_engine(shared, refusable, apply)
    }

    /// Runs a command for a script (`redis.execute`), as the script's caller (`user`, the calling client's
    /// `Session::user`) may: by default through the engine's whole command path; in the module through
    /// Redis (`RedisModule_Call`, under its lock, with that user's ACL rights).
    fn execute(
        &self,
        shared: &Shared,
        user: Option<&[u8]>,
        argv: Vec<bytes::Bytes>,
    ) -> crate::reply::Reply {
        let _ = user; // the standalone server has one user, whose rights every client has
        crate::commands::dispatch::execute_internal(shared, argv)
    }

    /// Whether `argv` is a write command, for commands the core's table does not hold (inside Redis, Redis's
    /// own): a runner that replays `begin()` must not run its writes again. `None`: not known, taken as a
    /// read. The standalone server's table holds every command it runs.
    fn writes(&self, _argv: &[bytes::Bytes]) -> Option<bool> {
        None
    }

    /// Refuses a script's callback on `key` (a cell, a pool, a model) when the keyspace is sharded and
    /// `key` lives apart from the script's own key `home`: in Redis Cluster, another hash slot (CROSSSLOT),
    /// so a script never writes silently where no client would find it. A command a script runs
    /// (`execute`) is checked by the node itself. By default one keyspace: never.
    fn confines(&self, _home: &[u8], _key: &[u8]) -> Option<CmdError> {
        None
    }

    /// Publishes a message the core raises outside any command (an async DAG's `__dag__:<id>`): by default
    /// to the engine's subscribers; in the module through Redis's pub/sub.
    fn publish(&self, shared: &Shared, channel: &bytes::Bytes, message: &bytes::Bytes) {
        shared.pubsub.publish(channel, message);
    }

    /// Reads keys outside a command, under the front end's lock; calls `f` exactly once. By default, the
    /// engine's own keyspace.
    fn read(&self, shared: &Shared, f: &mut dyn FnMut(&mut dyn Store)) {
        crate::commands::dispatch::read_engine(shared, f)
    }
}

/// A node with nothing of its own: the engine alone (tests of the core, fuzzing).
#[derive(Debug, Default)]
pub struct Bare;

impl Node for Bare {}
