//! The client registry: what CLIENT LIST/INFO/KILL, INFO clients and `maxclients` need to know about every
//! connection. The server registers a connection with a `kill` callback that wakes its task.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

use crate::util::{lossy, now_ms};

/// Mutable facts about a client, updated by its own connection.
#[derive(Debug, Default, Clone)]
pub struct ClientInfo {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
    pub last_cmd: &'static str,
    pub last_interaction_ms: u64,
    pub resp: u8,
    pub sub: usize,
    pub psub: usize,
    /// Commands queued in MULTI, or -1 outside one.
    pub multi: isize,
    pub monitor: bool,
}

/// One connected client.
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created_ms: u64,
    pub info: Mutex<ClientInfo>,
    kill: Box<dyn Fn() + Send + Sync>,
}

impl ClientHandle {
    /// A client that is not a connection (scripts calling `redis.execute`): id 0, not listed by CLIENT LIST.
    pub fn internal(addr: &str) -> Arc<ClientHandle> {
        Arc::new(ClientHandle {
            id: 0,
            addr: addr.to_string(),
            laddr: String::new(),
            created_ms: now_ms(),
            info: Mutex::new(ClientInfo {
                resp: 2,
                multi: -1,
                ..Default::default()
            }),
            kill: Box::new(|| {}),
        })
    }

    /// Asks the connection to close (CLIENT KILL, shutdown).
    pub fn kill(&self) {
        (self.kill)();
    }

    /// The CLIENT LIST / CLIENT INFO line, with Redis's field names.
    /// CLIENT LIST/KILL's TYPE: `pubsub` while subscribed, otherwise `normal` (replicas come later).
    pub fn kind(&self) -> &'static str {
        let i = self.info.lock();
        if i.sub + i.psub > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }

    pub fn line(&self) -> String {
        let i = self.info.lock().clone();
        let now = now_ms();
        let flags = match (i.monitor, i.sub + i.psub > 0, i.multi >= 0) {
            (true, _, _) => "O",
            (_, true, _) => "P",
            (_, _, true) => "x",
            _ => "N",
        };
        let opt = |b: &Option<Bytes>| b.as_ref().map(|b| lossy(b)).unwrap_or_default();
        // Only fields tensorcell measures; Redis's buffer and memory fields are left out rather than faked.
        format!(
            "id={} addr={} laddr={} name={} age={} idle={} flags={flags} db=0 sub={} psub={} multi={} cmd={} \
             user=default resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            opt(&i.name),
            now.saturating_sub(self.created_ms) / 1000,
            now.saturating_sub(i.last_interaction_ms) / 1000,
            i.sub,
            i.psub,
            i.multi,
            if i.last_cmd.is_empty() { "NULL" } else { i.last_cmd },
            i.resp,
            opt(&i.lib_name),
            opt(&i.lib_ver),
        )
    }
}

#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
}

impl Clients {
    /// Registers a new connection; returns its handle.
    pub fn register(
        &self,
        addr: String,
        laddr: String,
        kill: Box<dyn Fn() + Send + Sync>,
    ) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let now = now_ms();
        let h = Arc::new(ClientHandle {
            id,
            addr,
            laddr,
            created_ms: now,
            info: Mutex::new(ClientInfo {
                last_interaction_ms: now,
                resp: 2,
                multi: -1,
                ..Default::default()
            }),
            kill,
        });
        self.map.lock().insert(id, h.clone());
        h
    }

    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.lock().is_empty()
    }

    /// A snapshot of all handles, so callers do not hold the registry lock while they work.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.map.lock().values().cloned().collect()
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.lock().get(&id).cloned()
    }
}
