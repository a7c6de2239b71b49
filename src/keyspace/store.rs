//! The one interface the engine core's handlers reach keys through. The standalone server implements it
//! over its own keyspace ([`DbStore`]: a [`Db`] at one moment, so expiry is checked against that time);
//! the Redis module implements it over `RedisModule_OpenKey`, where Redis keeps the TTLs.

use bytes::Bytes;

use super::{Db, Value};

pub trait Store {
    /// The live value at `key` (an expired key is gone).
    fn get(&mut self, key: &[u8]) -> Option<&Value>;
    /// Stores `value` at `key`, replacing any old value and its TTL.
    fn set(&mut self, key: Bytes, value: Value);
    /// Deletes `key`; whether it existed.
    fn remove(&mut self, key: &[u8]) -> bool;
    /// Takes the live value at `key` out and stores what `f` makes of it, keeping the key's TTL, or deletes
    /// the key when `f` gives `None`. Taking it out first lets `f` change a shared value in place
    /// (`Arc::make_mut`) when nobody else holds it. Nothing happens for a missing key.
    fn modify(&mut self, key: &[u8], f: &mut dyn FnMut(Value) -> Option<Value>);
    /// Visits every live key and its value.
    fn for_each(&mut self, f: &mut dyn FnMut(&Bytes, &Value));
    /// When `key` expires (Unix ms), if it has a TTL.
    fn expire_at(&mut self, key: &[u8]) -> Option<u64>;
    /// The effect-stream offset these keys correspond to, for a model-state snapshot's log id: the
    /// standalone server's stream; 0 where Redis keeps the stream (the module).
    fn log_offset(&self) -> u64 {
        0
    }
}

/// The standalone server's keyspace as a [`Store`], at time `now` (Unix ms).
pub struct DbStore<'a> {
    pub db: &'a mut Db,
    pub now: u64,
    /// The engine's effect-stream offset while these keys are held (see [`Store::log_offset`]).
    pub offset: u64,
}

impl Store for DbStore<'_> {
    fn get(&mut self, key: &[u8]) -> Option<&Value> {
        self.db.get(key, self.now).map(|e| &e.value)
    }

    fn set(&mut self, key: Bytes, value: Value) {
        self.db.set(key, value, None);
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        self.db.remove(key).is_some()
    }

    fn modify(&mut self, key: &[u8], f: &mut dyn FnMut(Value) -> Option<Value>) {
        if self.db.get(key, self.now).is_none() {
            return;
        }
        let Some(old) = self.db.remove(key) else {
            return;
        };
        if let Some(new) = f(old.value) {
            self.db.set(Bytes::copy_from_slice(key), new, old.expire_at);
        }
    }

    fn for_each(&mut self, f: &mut dyn FnMut(&Bytes, &Value)) {
        for (k, e) in self.db.iter(self.now) {
            f(k, &e.value);
        }
    }

    fn expire_at(&mut self, key: &[u8]) -> Option<u64> {
        self.db.get(key, self.now).and_then(|e| e.expire_at)
    }

    fn log_offset(&self) -> u64 {
        self.offset
    }
}
