//! The native types, with RedisAI's names so `TYPE` answers as it did: `AI_TENSOR`, `AI__MODEL`,
//! `AI_SCRIPT`, `AI___CELL`, `AI___POOL`. Each key holds a boxed [`Value`]. Persistence is the core's: an
//! RDB value is the key's record (`codec::records`, the same MessagePack record a snapshot file holds),
//! an AOF rewrite emits the commands that rebuild the value (`commands::rebuild`), DUMP/RESTORE and
//! MIGRATE use the RDB form. Loading a model rebuilds its plan and loading a script compiles it; nothing
//! runs (a script's `begin()` runs after loading, on a primary only: see lib.rs).

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

use bytes::Bytes;
use redis_module::raw;
use tensorcell::keyspace::Value;

use crate::ffi::{api, Sendable};

/// RDB encoding version of every type. RedisAI wrote versions below 100 under the same type names: those
/// are refused with a message that says so rather than misread.
pub const ENCODING: c_int = 100;

const NAMES: [&str; 5] = [
    "AI_TENSOR",
    "AI__MODEL",
    "AI_SCRIPT",
    "AI___CELL",
    "AI___POOL",
];

static TYPES: OnceLock<[Sendable<raw::RedisModuleType>; 5]> = OnceLock::new();

/// Which of the five types holds `v` (`None`: a Redis string, which lives in Redis's own type).
pub fn index_of(v: &Value) -> Option<usize> {
    Some(match v {
        Value::Tensor(_) => 0,
        Value::Model(_) => 1,
        Value::Script(_) => 2,
        Value::Cell(_) => 3,
        Value::Pool(_) => 4,
        Value::Str(_) => return None,
    })
}

/// The registered type at `i`.
pub fn handle(i: usize) -> *mut raw::RedisModuleType {
    TYPES.get().expect("types are registered at load")[i].0
}

/// Whether `t` is one of ours.
pub fn is_ours(t: *mut raw::RedisModuleType) -> bool {
    TYPES
        .get()
        .is_some_and(|all| all.iter().any(|h| std::ptr::eq(h.0, t)))
}

/// Registers the five types (at load, on Redis's main thread).
pub fn register(ctx: crate::ffi::RawCtx) -> Result<(), String> {
    let mut methods = raw::RedisModuleTypeMethods {
        version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
        rdb_load: Some(rdb_load),
        rdb_save: Some(rdb_save),
        aof_rewrite: Some(aof_rewrite),
        mem_usage: Some(mem_usage),
        digest: Some(digest),
        free: Some(free),
        aux_load: None,
        aux_save: None,
        aux_save_triggers: 0,
        free_effort: None,
        unlink: None,
        copy: None,
        defrag: None,
        mem_usage2: None,
        free_effort2: None,
        unlink2: None,
        copy2: Some(copy2),
        aux_save2: None,
    };
    let mut made = Vec::new();
    for name in NAMES {
        let c = CString::new(name).expect("no NUL in a type name");
        // SAFETY: called from RedisModule_OnLoad with its context; Redis copies the method table.
        let t =
            unsafe { api!(RedisModule_CreateDataType)(ctx, c.as_ptr(), ENCODING, &mut methods) };
        if t.is_null() {
            return Err(format!("could not register the native type {name}"));
        }
        made.push(Sendable(t));
    }
    let all: [Sendable<raw::RedisModuleType>; 5] = made.try_into().map_err(|_| "five types")?;
    TYPES
        .set(all)
        .map_err(|_| "types registered twice".to_string())
}

/// The value a key's module pointer holds.
///
/// # Safety
/// `p` must be a pointer this module stored in a key of one of its types (a `Box<Value>`), still alive.
pub unsafe fn value_ref<'a>(p: *mut c_void) -> &'a mut Value {
    // SAFETY: guaranteed by the caller.
    unsafe { &mut *p.cast::<Value>() }
}

/// A new module pointer owning `v`.
pub fn boxed(v: Value) -> *mut c_void {
    Box::into_raw(Box::new(v)).cast()
}

/// The key an RDB callback is saving or loading.
fn io_key(io: *mut raw::RedisModuleIO) -> Bytes {
    // SAFETY: `io` is the IO handle Redis passed to the running callback.
    let name = unsafe { api!(RedisModule_GetKeyNameFromIO)(io) };
    if name.is_null() {
        return Bytes::new();
    }
    crate::ffi::arg(name.cast_mut())
}

fn log_io(io: *mut raw::RedisModuleIO, text: &str) {
    let text = CString::new(text.replace('\0', "?")).expect("NULs replaced");
    // SAFETY: format "%s" with one C string.
    unsafe { api!(RedisModule_LogIOError)(io, c"warning".as_ptr(), c"%s".as_ptr(), text.as_ptr()) };
}

extern "C" fn rdb_load(io: *mut raw::RedisModuleIO, encver: c_int) -> *mut c_void {
    crate::guard("rdb_load", std::ptr::null_mut(), || {
        if encver != ENCODING {
            let who = if encver < ENCODING {
                "RedisAI"
            } else {
                "a newer tensorcell"
            };
            log_io(
                io,
                &format!("tensorcell: an AI value of encoding version {encver} was written by {who}; this module reads version {ENCODING}"),
            );
            return std::ptr::null_mut();
        }
        let mut len = 0usize;
        // SAFETY: `io` is the live IO handle; LoadStringBuffer returns a buffer Redis allocated (freed below).
        let p = unsafe { api!(RedisModule_LoadStringBuffer)(io, &mut len) };
        if p.is_null() {
            return std::ptr::null_mut();
        }
        // SAFETY: `p` holds `len` bytes; copied before it is freed.
        let frame =
            Bytes::copy_from_slice(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) });
        // SAFETY: the buffer came from Redis's allocator.
        unsafe { api!(RedisModule_Free)(p.cast()) };
        let threads = crate::shared().pool.threads;
        match tensorcell::codec::records::decode_one(frame, threads) {
            // A script knows its key: one restored or renamed under another is rebuilt under that one.
            Ok((saved, v @ Value::Script(_))) => {
                let key = io_key(io);
                if key.is_empty() || key == saved {
                    boxed(v)
                } else {
                    rekeyed(&v, &key).map_or(std::ptr::null_mut(), boxed)
                }
            }
            Ok((_, v)) => boxed(v),
            Err(e) => {
                log_io(
                    io,
                    &format!(
                        "tensorcell: cannot load {}: {e}",
                        String::from_utf8_lossy(&io_key(io))
                    ),
                );
                std::ptr::null_mut()
            }
        }
    })
}

extern "C" fn rdb_save(io: *mut raw::RedisModuleIO, value: *mut c_void) {
    crate::guard("rdb_save", (), || {
        // SAFETY: Redis passes the pointer stored in the key being saved.
        let v = unsafe { value_ref(value) };
        let data = tensorcell::codec::records::encode_one(&io_key(io), v);
        // SAFETY: `data` is a live buffer of its length.
        unsafe {
            api!(RedisModule_SaveStringBuffer)(io, data.as_ptr().cast::<c_char>(), data.len())
        };
    })
}

extern "C" fn aof_rewrite(
    io: *mut raw::RedisModuleIO,
    key: *mut raw::RedisModuleString,
    value: *mut c_void,
) {
    crate::guard("aof_rewrite", (), || {
        let key = crate::ffi::arg(key);
        // SAFETY: Redis passes the pointer stored in the key being rewritten.
        let v = unsafe { value_ref(value) };
        let chunk = crate::shared().settings().model_chunk_size;
        for argv in tensorcell::commands::rebuild(&key, v, chunk) {
            let args = crate::ffi::Strings::new(std::ptr::null_mut(), &argv)
                .expect("a rebuild command has a name");
            // SAFETY: format "v" with an array of strings and its length; Redis copies them into the AOF.
            unsafe {
                api!(RedisModule_EmitAOF)(
                    io,
                    args.name.as_ptr(),
                    c"v".as_ptr(),
                    args.ptr(),
                    args.len(),
                );
            }
        }
    })
}

extern "C" fn mem_usage(value: *const c_void) -> usize {
    crate::guard("mem_usage", 0, || {
        // SAFETY: Redis passes a live stored pointer; only read.
        let v = unsafe { value_ref(value.cast_mut()) };
        std::mem::size_of::<Value>() + v.mem_size()
    })
}

extern "C" fn digest(md: *mut raw::RedisModuleDigest, value: *mut c_void) {
    crate::guard("digest", (), || {
        // SAFETY: Redis passes a live stored pointer.
        let v = unsafe { value_ref(value) };
        let data = tensorcell::codec::records::encode_one(b"", v);
        // SAFETY: `md` is the live digest; `data` a live buffer of its length.
        unsafe {
            api!(RedisModule_DigestAddStringBuffer)(md, data.as_ptr().cast::<c_char>(), data.len());
            api!(RedisModule_DigestEndSequence)(md);
        }
    })
}

extern "C" fn free(value: *mut c_void) {
    crate::guard("free", (), || {
        // SAFETY: Redis frees each stored pointer once, after which it never hands it out again.
        drop(unsafe { Box::from_raw(value.cast::<Value>()) });
    })
}

/// A script rebuilt (compiled, not run) under `key`.
fn rekeyed(v: &Value, key: &[u8]) -> Option<Value> {
    let frame = Bytes::from(tensorcell::codec::records::encode_one(key, v));
    tensorcell::codec::records::decode_one(frame, tensorcell::model::Threads { intra: 1, inter: 1 })
        .ok()
        .map(|(_, v)| v)
}

/// COPY: values are immutable behind `Arc`s, so a copy shares them, except a script, which knows its key:
/// it is rebuilt (compiled, not run) under the new one.
extern "C" fn copy2(_from: *mut raw::RedisModuleKeyOptCtx, value: *const c_void) -> *mut c_void {
    crate::guard("copy", std::ptr::null_mut(), || {
        // SAFETY: Redis passes the live source pointer; only read.
        let v = unsafe { value_ref(value.cast_mut()) };
        match v {
            Value::Script(_) => {
                // SAFETY: the key-options context Redis passed; the destination key's name.
                let to = unsafe { api!(RedisModule_GetToKeyNameFromOptCtx)(_from) };
                rekeyed(v, &crate::ffi::arg(to.cast_mut())).map_or(std::ptr::null_mut(), boxed)
            }
            other => boxed(other.clone()),
        }
    })
}
