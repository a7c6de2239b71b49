//! Per-connection state the commands read and change: protocol, auth, MULTI queue, WATCH marks,
//! subscriptions. Owned by the connection, lent to each command through `Ctx`.

use std::sync::Arc;

use bytes::Bytes;

use crate::args::Args;
use crate::clients::ClientHandle;
use crate::commands::CommandSpec;
use crate::keyspace::WatchMark;
use crate::pubsub::Subscriber;
use crate::resp::Protocol;

pub struct Session {
    pub client: Arc<ClientHandle>,
    pub protocol: Protocol,
    pub authenticated: bool,
    /// Commands queued since MULTI; `None` outside a transaction.
    pub multi: Option<Vec<(&'static CommandSpec, Args)>>,
    /// A command was refused while queuing: EXEC must answer EXECABORT.
    pub multi_failed: bool,
    pub watches: Vec<WatchMark>,
    /// In subscription order, so an UNSUBSCRIBE without arguments answers in a stable order.
    pub channels: indexmap::IndexSet<Bytes>,
    pub patterns: indexmap::IndexSet<Bytes>,
    /// Where pub/sub messages and MONITOR lines for this client go.
    pub sink: Arc<dyn Subscriber>,
    pub monitor: bool,
    /// Close the connection once the current replies are written (QUIT, protocol errors).
    pub close_after_reply: bool,
    /// Send nothing for the current command (SHUTDOWN closes without a reply).
    pub suppress_reply: bool,
    /// This session replays effects (loading the AOF, later a replica's link to its primary): stored
    /// scripts are compiled without running `begin()`, since effects never run Python.
    pub replaying: bool,
    /// Effect-stream offset just after this client's last write, so a reply under `appendfsync always` can
    /// wait until the AOF holds it.
    pub wrote_upto: u64,
    /// The port a replica said it listens on (REPLCONF listening-port), for ROLE and INFO.
    pub replica_port: u16,
    /// Set by a command after whose reply the connection becomes something else, for the front end to act
    /// on (PSYNC: a replica's feed, a `repl::Handoff`). Typeless here: the core does not know what it is.
    pub takeover: Option<Box<dyn std::any::Any + Send + Sync>>,
    /// The ACL user this client's commands run as, where the front end has ACL users (the module: Redis's);
    /// a script it calls runs `redis.execute` as this user. None: the server's own rights.
    pub user: Option<Bytes>,
}

impl Session {
    pub fn new(client: Arc<ClientHandle>, sink: Arc<dyn Subscriber>, authenticated: bool) -> Self {
        Session {
            client,
            protocol: Protocol::Resp2,
            authenticated,
            multi: None,
            multi_failed: false,
            watches: Vec::new(),
            channels: indexmap::IndexSet::new(),
            patterns: indexmap::IndexSet::new(),
            sink,
            monitor: false,
            close_after_reply: false,
            suppress_reply: false,
            replaying: false,
            wrote_upto: 0,
            replica_port: 0,
            takeover: None,
            user: None,
        }
    }

    pub fn id(&self) -> u64 {
        self.client.id
    }

    /// Channel plus pattern subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Mirrors the subscription counts into the client registry (CLIENT LIST, INFO).
    pub fn sync_info(&self) {
        let mut i = self.client.info.lock();
        i.sub = self.channels.len();
        i.psub = self.patterns.len();
        i.multi = self.multi.as_ref().map_or(-1, |q| q.len() as isize);
        i.resp = if self.protocol == Protocol::Resp3 {
            3
        } else {
            2
        };
        i.monitor = self.monitor;
    }
}
