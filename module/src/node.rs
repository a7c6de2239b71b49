//! The module's [`Node`]: how the engine core reaches Redis from any thread. Work that finished on a worker
//! or a runner's driver thread commits under Redis's lock, taken with a thread-safe context, and its
//! effects are replicated with `RedisModule_Replicate` in that same hold (Redis wraps several in
//! MULTI/EXEC); a script's `redis.execute` goes through `RedisModule_Call`. Policy (auth, ACLs, OOM,
//! READONLY on replicas) is Redis's own, so the node refuses nothing itself.

use std::cell::Cell;

use bytes::Bytes;
use redis_module::raw;
use tensorcell::commands::{Effects, Events};
use tensorcell::error::CmdError;
use tensorcell::keyspace::Store;
use tensorcell::node::Node;
use tensorcell::reply::Reply;
use tensorcell::shared::Shared;

use crate::ffi::{self, RawCtx};
use crate::store::ModuleStore;

pub struct ModuleNode {
    /// Redis runs with `cluster-enabled yes`: its keyspace is sharded by hash slot.
    pub cluster: bool,
}

/// Redis Cluster's hash slot of `key`: CRC16 (XMODEM) of its hash tag (what lies between the first `{`
/// and the next `}`, when not empty) or else of the whole key, modulo 16384.
pub fn slot(key: &[u8]) -> u16 {
    let tag = key.iter().position(|&b| b == b'{').and_then(|open| {
        let rest = &key[open + 1..];
        let close = rest.iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &rest[..close])
    });
    crc16::State::<crc16::XMODEM>::calculate(tag.unwrap_or(key)) & 0x3FFF
}

/// Commands that declare no key yet reach every slot (flush, enumerate): refused to a script on a Redis
/// Cluster, whose reach is its own slot.
fn whole_keyspace(argv: &[Bytes]) -> Option<CmdError> {
    const WHOLE: [&str; 6] = ["flushall", "flushdb", "swapdb", "keys", "scan", "randomkey"];
    let name = argv.first()?;
    WHOLE
        .iter()
        .any(|w| name.eq_ignore_ascii_case(w.as_bytes()))
        .then(|| {
            CmdError::Raw(format!(
                "CROSSSLOT a script on a Redis Cluster may not run {}: it reaches keys of every slot",
                String::from_utf8_lossy(name).to_ascii_uppercase()
            ))
        })
}

impl ModuleNode {
    /// The refusal of a script (stored at `home`) touching `key`, of another slot than its own.
    fn cross_slot(&self, home: &[u8], key: &[u8]) -> Option<CmdError> {
        let (here, there) = (slot(home), slot(key));
        (self.cluster && here != there).then(|| {
            CmdError::Raw(format!(
                "CROSSSLOT Keys in request don't hash to the same slot: script '{}' (slot {here}) touched '{}' (slot {there}); give them one hash tag, e.g. score{{m1}} and counter{{m1}}",
                String::from_utf8_lossy(home),
                String::from_utf8_lossy(key)
            ))
        })
    }
}

thread_local! {
    /// The context whose Redis lock this thread holds right now (a command callback's, or a thread-safe
    /// context's), so a commit or read made inside it reuses the hold instead of waiting for itself.
    static HELD: Cell<RawCtx> = const { Cell::new(std::ptr::null_mut()) };
}

/// Runs `f` with `ctx` (a command callback's, or one on Redis's main thread) marked as this thread's hold
/// of Redis's lock.
pub fn holding<R>(ctx: RawCtx, f: impl FnOnce() -> R) -> R {
    let before = HELD.replace(ctx);
    struct Restore(RawCtx);
    impl Drop for Restore {
        fn drop(&mut self) {
            HELD.set(self.0);
        }
    }
    let _restore = Restore(before);
    f()
}

/// This thread's thread-safe context (no blocked client), made on its first hold and reused by the next
/// ones: making one builds a whole Redis client. Freed when the thread ends.
fn own_ctx() -> RawCtx {
    struct Own(Cell<RawCtx>);
    impl Drop for Own {
        fn drop(&mut self) {
            if !self.0.get().is_null() {
                // Not held: a hold never outlives `locked`.
                ffi::free_thread_safe_ctx(self.0.get());
            }
        }
    }
    thread_local! {
        static OWN: Own = const { Own(Cell::new(std::ptr::null_mut())) };
    }
    OWN.with(|own| {
        if own.0.get().is_null() {
            own.0.set(ffi::new_thread_safe_ctx());
        }
        own.0.get()
    })
}

/// Runs `f` on Redis's main thread outside a command (the INFO callback, a server event), where Redis's
/// lock is already held: with this thread's own context marked as the hold, never locked again.
pub fn on_main_thread<R>(f: impl FnOnce(RawCtx) -> R) -> R {
    let ctx = own_ctx();
    holding(ctx, || f(ctx))
}

/// Runs `f` under Redis's lock: the hold this thread already has, or a thread-safe context's.
pub fn locked<R>(f: impl FnOnce(RawCtx) -> R) -> R {
    let held = HELD.get();
    if !held.is_null() {
        return f(held);
    }
    let ctx = own_ctx();
    // This thread holds no Redis lock (HELD is null), so taking it cannot wait for itself.
    ffi::lock(ctx);
    // While clients are paused for writes (CLIENT PAUSE, a failover, a shutdown waiting for replicas), Redis
    // may not propagate anything (it asserts so when the hold ends): the work waits, as a paused client's
    // writes do, with the lock released in between.
    while ffi::writes_paused() {
        ffi::unlock(ctx);
        std::thread::sleep(std::time::Duration::from_millis(5));
        ffi::lock(ctx);
    }
    struct Unlock(RawCtx);
    impl Drop for Unlock {
        fn drop(&mut self) {
            ffi::unlock(self.0);
        }
    }
    let _unlock = Unlock(ctx);
    holding(ctx, || f(ctx))
}

/// Sends a command's or a commit's writes on: effects to replicas and the AOF, events to subscribers.
/// `command`: the argv of the command callback running (`None` off it); when its one effect is the command
/// exactly as sent, Redis replicates the client's own argv (no copy of the arguments).
pub fn propagate(ctx: RawCtx, command: Option<ffi::Argv>, effects: &Effects, events: &Events) {
    let verbatim = |argv: &[Bytes], sent: ffi::Argv| {
        argv.len() == sent.len()
            && argv[0].eq_ignore_ascii_case(sent.get(0))
            && argv[1..]
                .iter()
                .enumerate()
                .all(|(i, a)| a.as_ref() == sent.get(i + 1))
    };
    match (command, effects.as_slice()) {
        (Some(sent), [only]) if verbatim(only, sent) => ffi::replicate_verbatim(ctx),
        _ => effects.iter().for_each(|argv| ffi::replicate(ctx, argv)),
    }
    for ev in events {
        ffi::notify(ctx, ev.class, ev.name, &ev.key);
    }
}

impl Node for ModuleNode {
    fn commit(
        &self,
        _: &Shared,
        refusable: bool,
        apply: &mut dyn FnMut(&mut dyn Store) -> (Effects, Events),
    ) -> bool {
        locked(|ctx| {
            // A client's work whose node became a replica meanwhile: Redis would refuse the write now.
            if refusable && ffi::flags(ctx) & raw::REDISMODULE_CTX_FLAGS_SLAVE != 0 {
                return false;
            }
            let (effects, events) = {
                let mut store = ModuleStore::new(ctx);
                apply(&mut store)
            };
            // Redis propagates them when the hold ends (a thread-safe context's unlock, or the command's
            // end), several wrapped in MULTI/EXEC.
            propagate(ctx, None, &effects, &events);
            true
        })
    }

    fn read(&self, _: &Shared, f: &mut dyn FnMut(&mut dyn Store)) {
        locked(|ctx| f(&mut ModuleStore::new(ctx)))
    }

    fn execute(&self, _: &Shared, user: Option<&[u8]>, argv: Vec<Bytes>) -> Reply {
        let home = self.cluster.then(tensorcell::runner::host::home).flatten();
        let reply = locked(|ctx| {
            // RedisModule_Call refuses keys of slots other nodes serve, but not a key of another slot this
            // node also serves: the script would read or write where a resharding does not follow it.
            if let Some(home) = &home {
                let keys = ffi::command_keys(ctx, &argv);
                if keys.is_empty() {
                    if let Some(e) = whole_keyspace(&argv) {
                        return Reply::Error(e);
                    }
                }
                let far = keys
                    .into_iter()
                    .filter_map(|i| argv.get(i))
                    .find_map(|k| self.cross_slot(home, k));
                if let Some(e) = far {
                    return Reply::Error(e);
                }
            }
            ffi::call(ctx, user, &argv)
        });
        match reply {
            // Redis's script-mode refusal, in the words the standalone server (and Redis's Lua) use.
            Reply::Error(e) if e.line().ends_with("is not allowed on script mode") => Reply::Error(
                CmdError::err("This Redis command is not allowed from script"),
            ),
            r => r,
        }
    }

    fn writes(&self, argv: &[Bytes]) -> Option<bool> {
        // Redis's own commands: their `write` flag from COMMAND INFO, asked once per name.
        static SEEN: std::sync::Mutex<Vec<(Vec<u8>, bool)>> = std::sync::Mutex::new(Vec::new());
        let name = argv.first()?.to_ascii_lowercase();
        if let Some((_, w)) = SEEN.lock().ok()?.iter().find(|(n, _)| *n == name) {
            return Some(*w);
        }
        let info = locked(|ctx| {
            ffi::call(
                ctx,
                None,
                &[
                    Bytes::from_static(b"COMMAND"),
                    Bytes::from_static(b"INFO"),
                    Bytes::from(name.clone()),
                ],
            )
        });
        // [[name, arity, [flags...], first, last, step, ...]]
        let Reply::Array(all) = info else { return None };
        let Some(Reply::Array(one)) = all.first() else {
            return None;
        };
        let Some(Reply::Array(flags)) = one.get(2) else {
            return None;
        };
        let w = flags.iter().any(|f| match f {
            Reply::Bulk(b) => b.eq_ignore_ascii_case(b"write"),
            Reply::Status(s) => s.eq_ignore_ascii_case("write"),
            _ => false,
        });
        if let Ok(mut seen) = SEEN.lock() {
            seen.push((name, w));
        }
        Some(w)
    }

    fn confines(&self, home: &[u8], key: &[u8]) -> Option<CmdError> {
        self.cross_slot(home, key)
    }

    fn publish(&self, _: &Shared, channel: &Bytes, message: &Bytes) {
        locked(|ctx| ffi::publish(ctx, channel, message))
    }
}

#[cfg(test)]
mod tests {
    use super::slot;

    #[test]
    fn slots_are_redis_cluster_slots() {
        // Values from Redis's CLUSTER KEYSLOT.
        assert_eq!(slot(b"123456789"), 12739);
        assert_eq!(slot(b"foo"), 12182);
        assert_eq!(slot(b"{foo}bar"), slot(b"foo"));
        assert_eq!(slot(b"score{m1}"), slot(b"counter{m1}"));
        // An empty tag hashes the whole key; only the first `{` and the next `}` count.
        assert_eq!(slot(b"{}foo"), crc(b"{}foo"));
        assert_eq!(slot(b"{{a}}"), slot(b"{a"));
        assert_eq!(slot(b"a{b}{c}"), slot(b"b"));
        assert_eq!(slot(b"{a"), crc(b"{a"));
    }

    fn crc(k: &[u8]) -> u16 {
        crc16::State::<crc16::XMODEM>::calculate(k) & 0x3FFF
    }
}
