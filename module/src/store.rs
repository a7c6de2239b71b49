//! The core's [`Store`] over Redis's keyspace: keys opened with `RedisModule_OpenKey` under Redis's lock
//! (a command callback's, or a thread-safe context's while locked), values in the module's native types.
//! A key of one of Redis's own types (a string, a list) is seen as a value of another kind, so the core's
//! handlers answer WRONGTYPE for it as they do in the standalone server.

use bytes::Bytes;
use tensorcell::keyspace::{Store, Value};

use crate::ffi::{Key, RawCtx};
use crate::types;

pub struct ModuleStore {
    ctx: RawCtx,
    /// Keys opened during this hold, kept open so a value handed out stays valid; closed on drop. `None`:
    /// opened for reading and missing.
    open: Vec<(Bytes, Option<Key>)>,
    /// What a key of a Redis type reads as.
    foreign: Value,
    /// The running command's argv, whose strings name keys without a copy.
    argv: Option<crate::ffi::Argv>,
}

impl ModuleStore {
    /// Keys of `ctx`, which must hold Redis's lock for as long as the store lives.
    pub fn new(ctx: RawCtx) -> Self {
        ModuleStore {
            ctx,
            open: Vec::new(),
            foreign: Value::Str(Bytes::new()),
            argv: None,
        }
    }

    /// Keys of a command callback's `ctx`; keys named in `argv` are opened by its strings.
    pub fn with_argv(ctx: RawCtx, argv: crate::ffi::Argv) -> Self {
        ModuleStore {
            argv: Some(argv),
            ..ModuleStore::new(ctx)
        }
    }

    fn open_key(&self, name: &[u8], write: bool) -> Option<Key> {
        let named = self.argv.and_then(|a| {
            (1..a.len())
                .find(|&i| a.get(i) == name)
                .map(|i| a.string(i))
        });
        match named {
            Some(s) => Key::open_string(self.ctx, s, write),
            None => Key::open(self.ctx, name, write),
        }
    }

    /// The key's handle: for reading (a read never marks the key modified for WATCH or client tracking),
    /// or for writing, reopening a read handle. No value handed out by `get` is alive when it is
    /// reopened: that takes `&mut self`.
    fn key(&mut self, name: &[u8], write: bool) -> Option<&Key> {
        let i = match self.open.iter().position(|(n, _)| n.as_ref() == name) {
            Some(i) => {
                let stale = write && !self.open[i].1.as_ref().is_some_and(Key::writable);
                if stale {
                    self.open[i].1 = None;
                    self.open[i].1 = self.open_key(name, true);
                }
                i
            }
            None => {
                let k = self.open_key(name, write);
                self.open.push((Bytes::copy_from_slice(name), k));
                self.open.len() - 1
            }
        };
        self.open[i].1.as_ref()
    }
}

/// What a key holds, as the store sees it.
enum Held {
    Empty,
    Ours(*mut std::ffi::c_void),
    Foreign,
}

fn held(k: &Key) -> Held {
    match k.kind() as isize {
        redis_module::raw::REDISMODULE_KEYTYPE_EMPTY => Held::Empty,
        redis_module::raw::REDISMODULE_KEYTYPE_MODULE if types::is_ours(k.module_type()) => {
            Held::Ours(k.value())
        }
        _ => Held::Foreign,
    }
}

impl Store for ModuleStore {
    fn get(&mut self, key: &[u8]) -> Option<&Value> {
        match held(self.key(key, false)?) {
            Held::Empty => None,
            // SAFETY: a pointer of one of our types, alive while the key stays open in `self.open` and
            // unchanged (changes need `&mut self`, which the returned borrow excludes).
            Held::Ours(p) => Some(unsafe { types::value_ref(p) }),
            Held::Foreign => Some(&self.foreign),
        }
    }

    fn set(&mut self, key: Bytes, value: Value) {
        let Some(i) = types::index_of(&value) else {
            return;
        };
        let p = types::boxed(value);
        if !self
            .key(&key, true)
            .is_some_and(|k| k.set(types::handle(i), p))
        {
            // SAFETY: Redis refused the pointer, so it is still ours alone.
            drop(unsafe { Box::from_raw(p.cast::<Value>()) });
        }
    }

    fn remove(&mut self, key: &[u8]) -> bool {
        if self
            .key(key, false)
            .is_none_or(|k| matches!(held(k), Held::Empty))
        {
            return false;
        }
        self.key(key, true).is_some_and(Key::delete)
    }

    fn modify(&mut self, key: &[u8], f: &mut dyn FnMut(Value) -> Option<Value>) {
        if !self
            .key(key, false)
            .is_some_and(|k| matches!(held(k), Held::Ours(_)))
        {
            return;
        }
        let Some(k) = self.key(key, true) else { return };
        let Held::Ours(p) = held(k) else { return };
        // SAFETY: our live pointer (see `get`); the value is taken out so `f` may change it in place.
        let slot = unsafe { types::value_ref(p) };
        let old_type = types::index_of(slot);
        let old = std::mem::replace(slot, Value::Str(Bytes::new()));
        match f(old) {
            None => {
                k.delete();
            }
            // The same type: back in place, the key (and its TTL) untouched.
            Some(new) if types::index_of(&new) == old_type => *slot = new,
            // Another type (no handler makes one today): stored anew, with the key's TTL put back.
            Some(new) => {
                let ttl = k.ttl();
                if let Some(i) = types::index_of(&new) {
                    let q = types::boxed(new);
                    if k.set(types::handle(i), q) {
                        if let Some(left) = ttl {
                            k.set_ttl(left);
                        }
                    } else {
                        // SAFETY: Redis refused the pointer, so it is still ours alone.
                        drop(unsafe { Box::from_raw(q.cast::<Value>()) });
                    }
                }
            }
        }
    }

    fn for_each(&mut self, f: &mut dyn FnMut(&Bytes, &Value)) {
        crate::ffi::each_key(self.ctx, &mut |name, k| {
            if let Held::Ours(p) = held(k) {
                // SAFETY: our live pointer, read while the scan holds the key.
                f(name, unsafe { types::value_ref(p) });
            }
        });
    }

    fn expire_at(&mut self, key: &[u8]) -> Option<u64> {
        self.key(key, false)?
            .ttl()
            .map(|left| tensorcell::util::now_ms() + left)
    }
}
