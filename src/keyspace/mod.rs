//! The keyspace: keys to values with optional absolute expiry, WATCH versions, and the expiry bookkeeping
//! (lazy on access, active from a timer).
//!
//! Why an `IndexMap`: O(1) RANDOMKEY, and a SCAN cursor that is a plain index walked downwards. Removal is
//! `swap_remove`, which only ever moves the last entry down, so a downward walk returns every key that lives
//! through the whole scan at least once, as Redis promises.

mod store;
mod value;

use std::collections::{BTreeSet, HashMap};

use bytes::Bytes;
use indexmap::IndexMap;

pub use store::{DbStore, Store};
pub use value::{own, Value, ValueKind};

/// One key's value and its absolute expiry time in Unix milliseconds.
#[derive(Debug, Clone)]
pub struct Entry {
    pub value: Value,
    pub expire_at: Option<u64>,
}

/// How lookups treat keys whose time has passed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Expiry {
    /// A primary: delete them on access (lazy expiry), to be propagated as DEL.
    #[default]
    Delete,
    /// A replica serving clients: hide them, but leave deleting to the primary's DEL, as Redis replicas
    /// do; a replica that deleted on its own clock could drop a key its primary has just PERSISTed.
    Hide,
    /// A replica applying its primary's stream: expiry is the primary's business, every key is live.
    Keep,
}

/// What a WATCH recorded about a key: the version when watched, and whether the key was alive then.
#[derive(Debug, Clone)]
pub struct WatchMark {
    pub key: Bytes,
    pub version: u64,
    pub existed: bool,
}

/// The database (tensorcell has one, db 0).
#[derive(Debug, Default)]
pub struct Db {
    map: IndexMap<Bytes, Entry>,
    /// Keys with a TTL, ordered by expiry time, so the active cycle pops exactly the expired ones.
    by_expiry: BTreeSet<(u64, Bytes)>,
    /// Watched keys: (version of the last write, number of watchers).
    watched: HashMap<Bytes, (u64, usize)>,
    version: u64,
    /// Keys deleted because they expired, not yet propagated (DEL effects and `expired` events).
    expired: Vec<Bytes>,
    /// Approximate bytes held by keys and values (INFO used_memory, maxmemory).
    mem: usize,
    /// Keys per value kind (INFO ai).
    kinds: [usize; ValueKind::COUNT],
    /// Set by the replication role (and, on a replica, while applying the primary's stream).
    pub expiry: Expiry,
}

/// Per-entry overhead estimate: the map slot, the Entry, the Bytes headers.
const ENTRY_OVERHEAD: usize = 96;

impl Db {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Keys that carry a TTL.
    pub fn expires_count(&self) -> usize {
        self.by_expiry.len()
    }

    /// Approximate memory held by the dataset.
    pub fn used_memory(&self) -> usize {
        self.mem
    }

    /// Number of keys holding values of `kind`.
    pub fn count_kind(&self, kind: ValueKind) -> usize {
        self.kinds[kind as usize]
    }

    fn footprint(key: &[u8], e: &Entry) -> usize {
        key.len() + e.value.mem_size() + ENTRY_OVERHEAD
    }

    /// Looks a key up, expiring it first if its time has passed (lazy expiry).
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let now_ms = self.expire_if_needed(key, now_ms);
        self.map.get(key).filter(|e| !is_expired(e, now_ms))
    }

    /// Mutable lookup with lazy expiry. The caller must call [`Db::touch`] if it changes the value.
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let now_ms = self.expire_if_needed(key, now_ms);
        self.map.get_mut(key).filter(|e| !is_expired(e, now_ms))
    }

    /// Whether a key exists, without lazy deletion (for read paths that must not write).
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let now_ms = self.clock(now_ms);
        self.map.get(key).filter(|e| !is_expired(e, now_ms))
    }

    /// The time expiry is judged against: none at all while applying a primary's stream.
    fn clock(&self, now_ms: u64) -> u64 {
        if self.expiry == Expiry::Keep {
            0
        } else {
            now_ms
        }
    }

    /// Replaces every key with `other`'s (a replica's full sync), as one change: watched keys count as
    /// written. Returns the old contents, to be freed outside the engine lock.
    pub fn replace_with(&mut self, mut other: Db) -> Db {
        // A swap of the built maps, not a re-insert: the engine lock is held for this.
        self.version += 1;
        let v = self.version;
        for (k, w) in self.watched.iter_mut() {
            if self.map.contains_key(k) || other.map.contains_key(k) {
                w.0 = v;
            }
        }
        std::mem::swap(&mut self.map, &mut other.map);
        std::mem::swap(&mut self.by_expiry, &mut other.by_expiry);
        std::mem::swap(&mut self.mem, &mut other.mem);
        std::mem::swap(&mut self.kinds, &mut other.kinds);
        other
    }

    pub fn exists(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores a value, replacing any old one, with the given expiry.
    pub fn set(&mut self, key: Bytes, value: Value, expire_at: Option<u64>) {
        self.touch(&key);
        let entry = Entry { value, expire_at };
        self.account_add(&key, &entry);
        // Overwrite in place when the key exists (no new key allocation); otherwise keep a copy of the key
        // of our own: it arrived as a slice of a connection's read buffer, which it must not pin.
        let old = match self.map.get_mut(&key[..]) {
            Some(slot) => Some(std::mem::replace(slot, entry)),
            None => {
                self.map.insert(own(key.clone()), entry);
                None
            }
        };
        if let Some(old) = old {
            self.account_remove(&key, &old);
        }
        // After removing the old entry's index slot, which may have had the same expiry time.
        if let Some(t) = expire_at {
            self.by_expiry.insert((t, own(key)));
        }
    }

    /// Replaces only the value, keeping the key's TTL (KEEPTTL, APPEND, INCR, ...).
    pub fn set_keep_ttl(&mut self, key: Bytes, value: Value, now_ms: u64) {
        let ttl = self.get(&key, now_ms).and_then(|e| e.expire_at);
        self.set(key, value, ttl);
    }

    /// Removes a key; returns its entry.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (k, old) = self.map.swap_remove_entry(key)?;
        self.account_remove(&k, &old);
        self.touch(&k);
        Some(old)
    }

    /// Sets or clears a live key's expiry; false if the key does not exist.
    pub fn set_expiry(&mut self, key: &[u8], expire_at: Option<u64>, now_ms: u64) -> bool {
        self.expire_if_needed(key, now_ms);
        let Some((_, k, e)) = self.map.get_full_mut(key) else {
            return false;
        };
        let k = k.clone();
        if let Some(old) = e.expire_at {
            self.by_expiry.remove(&(old, k.clone()));
        }
        e.expire_at = expire_at;
        if let Some(t) = expire_at {
            self.by_expiry.insert((t, k.clone()));
        }
        self.touch(&k);
        true
    }

    /// Records a write to `key` for WATCH.
    pub fn touch(&mut self, key: &[u8]) {
        if self.watched.is_empty() {
            return;
        }
        if let Some(w) = self.watched.get_mut(key) {
            self.version += 1;
            w.0 = self.version;
        }
    }

    /// Registers a watcher on `key` and returns what EXEC will compare against.
    pub fn watch(&mut self, key: Bytes, now_ms: u64) -> WatchMark {
        let key = own(key);
        let existed = self.peek(&key, now_ms).is_some();
        let version = self.version;
        let w = self.watched.entry(key.clone()).or_insert((version, 0));
        w.1 += 1;
        WatchMark {
            key,
            version: w.0,
            existed,
        }
    }

    /// Drops one watcher of `key`.
    pub fn unwatch(&mut self, key: &[u8]) {
        if let Some(w) = self.watched.get_mut(key) {
            w.1 -= 1;
            if w.1 == 0 {
                self.watched.remove(key);
            }
        }
    }

    /// Whether a watched key was written (or expired) since the mark was taken.
    pub fn watch_broken(&self, mark: &WatchMark, now_ms: u64) -> bool {
        let changed = self
            .watched
            .get(&mark.key)
            .is_none_or(|w| w.0 != mark.version);
        changed || (mark.existed && self.peek(&mark.key, now_ms).is_none())
    }

    /// Removes every key (FLUSHALL); watched keys that existed count as written (a watched missing key is
    /// still missing, so its WATCH holds, as in Redis).
    pub fn clear(&mut self) -> IndexMap<Bytes, Entry> {
        self.version += 1;
        let v = self.version;
        for (k, w) in self.watched.iter_mut() {
            if self.map.contains_key(k) {
                w.0 = v;
            }
        }
        self.by_expiry.clear();
        self.mem = 0;
        self.kinds = [0; ValueKind::COUNT];
        // Handed back so the caller can free the values outside the engine lock.
        std::mem::take(&mut self.map)
    }

    /// Lazy expiry; returns the clock lookups should judge by.
    fn expire_if_needed(&mut self, key: &[u8], now_ms: u64) -> u64 {
        let now_ms = self.clock(now_ms);
        let expired = self.map.get(key).is_some_and(|e| is_expired(e, now_ms));
        if expired && self.expiry == Expiry::Delete {
            if let Some(e) = self.remove(key) {
                drop(e);
                self.expired.push(Bytes::copy_from_slice(key));
            }
        }
        now_ms
    }

    /// Deletes up to `limit` keys whose time has passed (the active expiry cycle); returns how many.
    pub fn expire_cycle(&mut self, now_ms: u64, limit: usize) -> usize {
        if self.expiry != Expiry::Delete {
            return 0;
        }
        let mut n = 0;
        while n < limit {
            let Some((t, key)) = self.by_expiry.first().cloned() else {
                break;
            };
            if t > now_ms {
                break;
            }
            self.by_expiry.pop_first();
            self.remove(&key);
            self.expired.push(key);
            n += 1;
        }
        n
    }

    /// Keys that expired since the last call, for propagation as DEL effects and `expired` events.
    pub fn take_expired(&mut self) -> Vec<Bytes> {
        std::mem::take(&mut self.expired)
    }

    /// A random live key.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        // A few tries so a keyspace full of expired-but-not-yet-collected keys still answers quickly.
        for _ in 0..100 {
            if self.map.is_empty() {
                return None;
            }
            let i = fastrand::usize(..self.map.len());
            let (k, e) = self.map.get_index(i)?;
            if !is_expired(e, now_ms) {
                return Some(k.clone());
            }
            let k = k.clone();
            self.expire_if_needed(&k, now_ms);
        }
        None
    }

    /// One SCAN step: visits up to `count` slots below `cursor` (0 = start), returns the next cursor (0 = done)
    /// and the live keys seen that pass `filter`.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        now_ms: u64,
        mut filter: impl FnMut(&Bytes, &Entry) -> bool,
    ) -> (u64, Vec<Bytes>) {
        let len = self.map.len() as u64;
        let mut pos = if cursor == 0 { len } else { cursor.min(len) };
        let mut out = Vec::new();
        let mut visited = 0;
        while pos > 0 && visited < count.max(1) {
            pos -= 1;
            visited += 1;
            if let Some((k, e)) = self.map.get_index(pos as usize) {
                if !is_expired(e, now_ms) && filter(k, e) {
                    out.push(k.clone());
                }
            }
        }
        (pos, out)
    }

    /// Every live key (KEYS); the caller filters.
    pub fn iter(&self, now_ms: u64) -> impl Iterator<Item = (&Bytes, &Entry)> {
        let now_ms = self.clock(now_ms);
        self.map.iter().filter(move |(_, e)| !is_expired(e, now_ms))
    }

    fn account_add(&mut self, key: &[u8], e: &Entry) {
        self.mem += Self::footprint(key, e);
        self.kinds[e.value.kind() as usize] += 1;
    }

    fn account_remove(&mut self, key: &Bytes, e: &Entry) {
        self.mem = self.mem.saturating_sub(Self::footprint(key, e));
        self.kinds[e.value.kind() as usize] -= 1;
        if let Some(t) = e.expire_at {
            self.by_expiry.remove(&(t, key.clone()));
        }
    }
}

fn is_expired(e: &Entry, now_ms: u64) -> bool {
    e.expire_at.is_some_and(|t| t <= now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(Bytes::copy_from_slice(v.as_bytes()))
    }

    #[test]
    fn lazy_and_active_expiry() {
        let mut db = Db::new();
        db.set("a".into(), s("1"), Some(100));
        db.set("b".into(), s("2"), Some(200));
        db.set("c".into(), s("3"), None);
        assert!(db.get(b"a", 50).is_some());
        assert!(db.get(b"a", 100).is_none());
        assert_eq!(db.take_expired(), vec![Bytes::from("a")]);
        assert_eq!(db.expire_cycle(1000, 10), 1);
        assert_eq!(db.take_expired(), vec![Bytes::from("b")]);
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_count(), 0);
    }

    #[test]
    fn overwrite_clears_old_ttl_index() {
        let mut db = Db::new();
        db.set("a".into(), s("1"), Some(100));
        db.set("a".into(), s("2"), None);
        assert_eq!(db.expires_count(), 0);
        assert_eq!(db.expire_cycle(1000, 10), 0);
        assert!(db.get(b"a", 1000).is_some());
    }

    #[test]
    fn scan_returns_every_surviving_key_despite_deletes() {
        let mut db = Db::new();
        for i in 0..100 {
            db.set(format!("k{i}").into(), s("v"), None);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            let (next, keys) = db.scan(cursor, 7, 0, |_, _| true);
            seen.extend(keys);
            // Delete some keys mid-scan, including ones already returned.
            db.remove(format!("k{}", step * 3).as_bytes());
            step += 1;
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        for (k, _) in db.iter(0) {
            assert!(seen.contains(k), "missed {:?}", k);
        }
    }

    #[test]
    fn watch_sees_writes_and_expiry() {
        let mut db = Db::new();
        db.set("a".into(), s("1"), Some(100));
        let m = db.watch("a".into(), 0);
        assert!(!db.watch_broken(&m, 50));
        assert!(db.watch_broken(&m, 150), "expiry after WATCH breaks it");
        let m2 = db.watch("b".into(), 0);
        db.set("b".into(), s("x"), None);
        assert!(db.watch_broken(&m2, 0));
        db.unwatch(b"b");
        db.unwatch(b"a");
    }
}
