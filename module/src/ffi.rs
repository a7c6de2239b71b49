//! The one place that calls Redis's C API (`redismodule.h`, through the `redis-module` crate's bindings).
//! Everything else in the module works with plain Rust values: argument bytes, [`Reply`], key handles that
//! close themselves. Every `unsafe` block of the module is here, in `types.rs` (the type callbacks) or in
//! `store.rs` (the values behind module pointers), each with the reason it is sound.

use std::ffi::{c_char, c_int, c_void, CString};
use std::ptr::NonNull;

use bytes::Bytes;
use redis_module::raw;
use tensorcell::reply::Reply;

pub type RawCtx = *mut raw::RedisModuleCtx;

/// An exported Redis API function. Redis fills every pointer of its API table before `RedisModule_OnLoad`
/// returns (`RedisModule_Init`), and the module uses none that Redis 7.0 lacks, so a missing one is a build
/// against the wrong header: a panic, caught at the entry point like any other.
macro_rules! api {
    ($name:ident) => {{
        // SAFETY: the API table is written once by RedisModule_Init, on Redis's main thread, before any
        // other thread of the module exists; afterwards it is only read.
        #[allow(unused_unsafe)]
        let f = unsafe { raw::$name };
        f.expect(concat!(stringify!($name), " is exported by Redis 7"))
    }};
}
pub(crate) use api;

/// A pointer that crosses threads: Redis's blocked-client handles and thread-safe contexts are made to be
/// used from other threads (that is their purpose).
#[derive(Clone, Copy)]
pub struct Sendable<T>(pub *mut T);
// SAFETY: only used for Redis objects whose API is documented as callable from any thread (blocked clients,
// thread-safe contexts), or that are used only while Redis's lock is held.
unsafe impl<T> Send for Sendable<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for Sendable<T> {}

/// A Redis string's bytes, borrowed: valid while the string is (an argv string: for the callback).
pub fn bytes_of<'a>(s: *mut raw::RedisModuleString) -> &'a [u8] {
    let mut len = 0usize;
    // SAFETY: `s` is a live Redis string; StringPtrLen returns a pointer to its `len` bytes.
    let p = unsafe { api!(RedisModule_StringPtrLen)(s, &mut len) };
    if p.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: `p` points at `len` readable bytes owned by `s`, which outlives the borrow (see above).
    unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) }
}

/// A Redis string's bytes, copied (Redis frees its strings after the call).
pub fn arg(s: *mut raw::RedisModuleString) -> Bytes {
    Bytes::copy_from_slice(bytes_of(s))
}

/// A command callback's argv as Redis passed it, for looking at without copying.
#[derive(Clone, Copy)]
pub struct Argv {
    argv: *mut *mut raw::RedisModuleString,
    argc: usize,
}

impl Argv {
    pub fn new(argv: *mut *mut raw::RedisModuleString, argc: c_int) -> Argv {
        Argv {
            argv,
            argc: argc.max(0) as usize,
        }
    }

    pub fn len(&self) -> usize {
        self.argc
    }

    /// Argument `i`'s Redis string.
    pub fn string(&self, i: usize) -> *mut raw::RedisModuleString {
        assert!(i < self.argc);
        // SAFETY: Redis passes `argc` valid string pointers in `argv`, alive for the callback.
        unsafe { *self.argv.add(i) }
    }

    pub fn get(&self, i: usize) -> &[u8] {
        bytes_of(self.string(i))
    }

    /// Every argument, copied into one buffer (one allocation: the core copies what it keeps of a small
    /// argument); an argument of `BIG_ARG` bytes or more gets a buffer of its own, which the core keeps as is.
    pub fn copied(self) -> Vec<Bytes> {
        let big = tensorcell::resp::request::BIG_ARG;
        let small: usize = (0..self.argc)
            .map(|i| self.get(i).len())
            .filter(|&n| n < big)
            .sum();
        let mut buf = bytes::BytesMut::with_capacity(small);
        (0..self.argc)
            .map(|i| match self.get(i) {
                a if a.len() >= big => Bytes::copy_from_slice(a),
                a => {
                    buf.extend_from_slice(a);
                    buf.split().freeze()
                }
            })
            .collect()
    }
}

/// A Redis string the module owns until [`free_string`] (or until Redis takes a reference of its own).
pub fn string(ctx: RawCtx, b: &[u8]) -> *mut raw::RedisModuleString {
    // SAFETY: CreateString copies `b.len()` bytes from `b`; `ctx` is a live context or null.
    unsafe { api!(RedisModule_CreateString)(ctx, b.as_ptr().cast::<c_char>(), b.len()) }
}

pub fn free_string(ctx: RawCtx, s: *mut raw::RedisModuleString) {
    // SAFETY: `s` came from `string` with the same context and is not used afterwards.
    unsafe { api!(RedisModule_FreeString)(ctx, s) }
}

/// Arguments as Redis strings for the variadic calls' `"v"` format (Replicate, Call, EmitAOF), freed when
/// dropped: Redis takes references of its own to what it keeps.
pub struct Strings {
    ctx: RawCtx,
    pub name: CString,
    all: Vec<*mut raw::RedisModuleString>,
}

impl Strings {
    /// `argv[0]` as the command name, the rest as strings of `ctx` (null: of no context). `None` for an
    /// empty argv or a name holding NUL.
    pub fn new(ctx: RawCtx, argv: &[Bytes]) -> Option<Strings> {
        let (name, rest) = argv.split_first()?;
        Some(Strings {
            ctx,
            name: CString::new(name.to_vec()).ok()?,
            all: rest.iter().map(|a| string(ctx, a)).collect(),
        })
    }

    pub fn ptr(&self) -> *const *mut raw::RedisModuleString {
        self.all.as_ptr()
    }

    pub fn len(&self) -> usize {
        self.all.len()
    }
}

impl Drop for Strings {
    fn drop(&mut self) {
        for &s in &self.all {
            free_string(self.ctx, s);
        }
    }
}

/// A C string for Redis (interior NULs, which no name or status the module sends contains, become `?`).
fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', "?")).expect("NULs were replaced")
}

/// Whether clients are paused (CLIENT PAUSE, a manual failover): Redis then propagates nothing. Called
/// with Redis's lock held.
pub fn writes_paused() -> bool {
    // SAFETY: no arguments; reads server state under the lock the caller holds.
    unsafe { api!(RedisModule_AvoidReplicaTraffic)() != 0 }
}

/// The database the calling client has selected.
pub fn selected_db(ctx: RawCtx) -> i32 {
    // SAFETY: the live context of a command callback.
    unsafe { api!(RedisModule_GetSelectedDb)(ctx) }
}

/// The calling client's context flags (`REDISMODULE_CTX_FLAGS_*`).
pub fn flags(ctx: RawCtx) -> u32 {
    // SAFETY: `ctx` is the live context of the running callback.
    unsafe { api!(RedisModule_GetContextFlags)(ctx) as u32 }
}

/// Sends `reply` to the client of `ctx`, in the client's protocol (Redis maps maps, sets and booleans
/// to RESP2 itself; doubles are formatted here as the standalone server does, so RESP2 bytes agree).
pub fn reply(ctx: RawCtx, r: &Reply, resp3: bool) {
    // SAFETY (every call below): `ctx` is the live context of a command callback or of a blocked client's
    // reply callback, on Redis's main thread; the pointers passed are to live buffers of the given length.
    unsafe {
        match r {
            Reply::Simple(s) => {
                let c = c_text(s);
                api!(RedisModule_ReplyWithSimpleString)(ctx, c.as_ptr());
            }
            Reply::Status(s) => {
                let c = c_text(s);
                api!(RedisModule_ReplyWithSimpleString)(ctx, c.as_ptr());
            }
            Reply::Error(e) => {
                let c = c_text(&e.line());
                api!(RedisModule_ReplyWithError)(ctx, c.as_ptr());
            }
            Reply::Int(i) => {
                api!(RedisModule_ReplyWithLongLong)(ctx, *i);
            }
            Reply::Bulk(b) => {
                api!(RedisModule_ReplyWithStringBuffer)(ctx, b.as_ptr().cast::<c_char>(), b.len());
            }
            Reply::Nil => {
                api!(RedisModule_ReplyWithNull)(ctx);
            }
            Reply::NilArray => {
                api!(RedisModule_ReplyWithNullArray)(ctx);
            }
            Reply::Array(v) | Reply::Push(v) | Reply::Many(v) => {
                api!(RedisModule_ReplyWithArray)(ctx, v.len() as _);
                v.iter().for_each(|e| reply(ctx, e, resp3));
            }
            Reply::Set(v) => {
                api!(RedisModule_ReplyWithSet)(ctx, v.len() as _);
                v.iter().for_each(|e| reply(ctx, e, resp3));
            }
            Reply::Map(kv) => {
                api!(RedisModule_ReplyWithMap)(ctx, kv.len() as _);
                for (k, v) in kv {
                    reply(ctx, k, resp3);
                    reply(ctx, v, resp3);
                }
            }
            Reply::Double(d) if resp3 => {
                api!(RedisModule_ReplyWithDouble)(ctx, *d);
            }
            Reply::Double(d) => {
                let t = tensorcell::util::fmt_f64(*d);
                api!(RedisModule_ReplyWithStringBuffer)(ctx, t.as_ptr().cast::<c_char>(), t.len());
            }
            Reply::Bool(b) => {
                api!(RedisModule_ReplyWithBool)(ctx, c_int::from(*b));
            }
            Reply::Verbatim(s) => {
                api!(RedisModule_ReplyWithVerbatimString)(
                    ctx,
                    s.as_ptr().cast::<c_char>(),
                    s.len(),
                );
            }
        }
    }
}

/// Replicates (and AOF-logs) one effect. Several from one command or one thread-safe lock hold are
/// wrapped by Redis in MULTI/EXEC.
pub fn replicate(ctx: RawCtx, argv: &[Bytes]) {
    let args = Strings::new(ctx, argv).expect("an effect is a command with a name");
    // SAFETY: format "v" takes an array of RedisModuleString pointers and its length; Redis takes its own
    // references to them.
    unsafe {
        api!(RedisModule_Replicate)(
            ctx,
            args.name.as_ptr(),
            c"v".as_ptr(),
            args.ptr(),
            args.len(),
        );
    }
}

/// Replicates the running command as the client sent it (its one effect is the command itself).
pub fn replicate_verbatim(ctx: RawCtx) {
    // SAFETY: the live context of a command callback.
    unsafe { api!(RedisModule_ReplicateVerbatim)(ctx) };
}

/// Raises a keyspace event (Redis's own `notify-keyspace-events` decides who hears it; nothing is built
/// for a class it does not ask for).
pub fn notify(ctx: RawCtx, class: u32, event: &str, key: &[u8]) {
    use tensorcell::config::notify as n;
    let class = match class {
        n::MODULE => raw::REDISMODULE_NOTIFY_MODULE,
        n::EXPIRED => raw::REDISMODULE_NOTIFY_EXPIRED,
        n::STRING => raw::REDISMODULE_NOTIFY_STRING,
        _ => raw::REDISMODULE_NOTIFY_GENERIC,
    };
    // SAFETY: reads a server setting; Redis's lock is held.
    if unsafe { api!(RedisModule_GetNotifyKeyspaceEvents)() } & class == 0 {
        return;
    }
    let event = c_text(event);
    let key = string(ctx, key);
    // SAFETY: `ctx` is live and Redis's lock is held (a command or a locked thread-safe context).
    unsafe { api!(RedisModule_NotifyKeyspaceEvent)(ctx, class, event.as_ptr(), key) };
    free_string(ctx, key);
}

/// Publishes a message on a channel (DAG completion messages).
pub fn publish(ctx: RawCtx, channel: &[u8], message: &[u8]) {
    let (c, m) = (string(ctx, channel), string(ctx, message));
    // SAFETY: `ctx` is live and Redis's lock is held.
    unsafe { api!(RedisModule_PublishMessage)(ctx, c, m) };
    free_string(ctx, c);
    free_string(ctx, m);
}

/// Writes a line to Redis's log.
pub fn log(ctx: RawCtx, level: &str, text: &str) {
    let (level, text) = (c_text(level), c_text(text));
    // SAFETY: format "%s" with one C string argument.
    unsafe { api!(RedisModule_Log)(ctx, level.as_ptr(), c"%s".as_ptr(), text.as_ptr()) };
}

/// An open key, closed when dropped (unless it is Redis's own handle, lent to a scan callback).
pub struct Key {
    key: NonNull<raw::RedisModuleKey>,
    write: bool,
    owned: bool,
}

impl Key {
    /// Opens `name` for reading (`None` when it is missing or has expired), or for writing too (a handle
    /// to an empty key when missing). Only a write handle marks the key modified when it closes.
    pub fn open(ctx: RawCtx, name: &[u8], write: bool) -> Option<Key> {
        let s = string(ctx, name);
        let key = Key::open_string(ctx, s, write);
        free_string(ctx, s);
        key
    }

    /// Opens the key named by a Redis string the caller holds (an argv string: no copy of the name).
    pub fn open_string(ctx: RawCtx, name: *mut raw::RedisModuleString, write: bool) -> Option<Key> {
        let mode = raw::REDISMODULE_READ | if write { raw::REDISMODULE_WRITE } else { 0 };
        // SAFETY: `ctx` is live with Redis's lock held; `name` is a live string (OpenKey takes a reference).
        let key = unsafe { api!(RedisModule_OpenKey)(ctx, name, mode as c_int) };
        Some(Key {
            key: NonNull::new(key.cast())?,
            write,
            owned: true,
        })
    }

    /// Whether the handle may change the key.
    pub fn writable(&self) -> bool {
        self.write
    }

    fn raw(&self) -> *mut raw::RedisModuleKey {
        self.key.as_ptr()
    }

    /// `REDISMODULE_KEYTYPE_*`.
    pub fn kind(&self) -> c_int {
        // SAFETY: an open key handle.
        unsafe { api!(RedisModule_KeyType)(self.raw()) }
    }

    /// The module type of the value, if the key holds a module value.
    pub fn module_type(&self) -> *mut raw::RedisModuleType {
        // SAFETY: an open key handle.
        unsafe { api!(RedisModule_ModuleTypeGetType)(self.raw()) }
    }

    /// The value pointer a module type holds.
    pub fn value(&self) -> *mut c_void {
        // SAFETY: an open key handle holding a module value.
        unsafe { api!(RedisModule_ModuleTypeGetValue)(self.raw()) }
    }

    /// Stores a module value (Redis owns it from now on and frees it with the type's `free`), replacing
    /// the old value and its TTL.
    pub fn set(&self, t: *mut raw::RedisModuleType, value: *mut c_void) -> bool {
        // SAFETY: a key opened for writing; `value` is a pointer the type's callbacks understand.
        unsafe {
            api!(RedisModule_ModuleTypeSetValue)(self.raw(), t, value)
                == raw::REDISMODULE_OK as c_int
        }
    }

    /// Sets the key's TTL to `ms` from now.
    pub fn set_ttl(&self, ms: u64) {
        // SAFETY: a key opened for writing that holds a value.
        unsafe { api!(RedisModule_SetExpire)(self.raw(), ms as i64) };
    }

    pub fn delete(&self) -> bool {
        // SAFETY: a key opened for writing.
        unsafe { api!(RedisModule_DeleteKey)(self.raw()) == raw::REDISMODULE_OK as c_int }
    }

    /// Milliseconds left before the key expires, if it has a TTL.
    pub fn ttl(&self) -> Option<u64> {
        // SAFETY: an open key handle.
        let t = unsafe { api!(RedisModule_GetExpire)(self.raw()) };
        (t >= 0).then_some(t as u64)
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: the handle is open and closed once, while the context that opened it is alive.
            unsafe { api!(RedisModule_CloseKey)(self.raw()) };
        }
    }
}

/// Visits every key of the selected database (`RedisModule_Scan`), with the handle Redis opened for it: a
/// key is never opened again inside the scan (opening an expired one would delete it under the scan).
pub fn each_key(ctx: RawCtx, f: &mut dyn FnMut(&Bytes, &Key)) {
    struct Visit<'a> {
        f: &'a mut dyn FnMut(&Bytes, &Key),
    }
    extern "C" fn one(
        _ctx: RawCtx,
        name: *mut raw::RedisModuleString,
        key: *mut raw::RedisModuleKey,
        privdata: *mut c_void,
    ) {
        crate::guard("scan", (), || {
            // SAFETY: `privdata` is the `Visit` passed to Scan below, alive for the whole scan.
            let v = unsafe { &mut *privdata.cast::<Visit>() };
            let Some(key) = NonNull::new(key) else { return };
            // Redis's own handle, valid for this callback; Redis closes it.
            let key = Key {
                key,
                write: false,
                owned: false,
            };
            (v.f)(&arg(name), &key);
        })
    }
    let mut visit = Visit { f };
    // SAFETY: a cursor is created, used with the live context under Redis's lock, and destroyed.
    unsafe {
        let cursor = api!(RedisModule_ScanCursorCreate)();
        while api!(RedisModule_Scan)(ctx, cursor, Some(one), (&mut visit as *mut Visit).cast()) != 0
        {
        }
        api!(RedisModule_ScanCursorDestroy)(cursor);
    }
}

/// The ACL user name of the client running the current command.
pub fn current_user(ctx: RawCtx) -> Option<Bytes> {
    // SAFETY: `ctx` is a command's context; the returned string is ours to free.
    let s = unsafe { api!(RedisModule_GetCurrentUserName)(ctx) };
    if s.is_null() {
        return None;
    }
    let name = Bytes::copy_from_slice(bytes_of(s));
    free_string(std::ptr::null_mut(), s);
    Some(name)
}

/// Redis's user `name`, set as `ctx`'s user until dropped (then freed): commands called through `ctx`
/// with the `C` flag are checked against its ACL rules.
struct AsUser {
    ctx: RawCtx,
    user: NonNull<raw::RedisModuleUser>,
}

impl AsUser {
    fn new(ctx: RawCtx, name: &[u8]) -> Option<AsUser> {
        let s = string(std::ptr::null_mut(), name);
        // SAFETY: `s` is a live string; the user returned is ours until FreeModuleUser.
        let user = unsafe { api!(RedisModule_GetModuleUserFromUserName)(s) };
        free_string(std::ptr::null_mut(), s);
        let user = NonNull::new(user)?;
        // SAFETY: `ctx` is live and under the lock; the user outlives the setting (reset in drop).
        unsafe { api!(RedisModule_SetContextUser)(ctx, user.as_ptr()) };
        Some(AsUser { ctx, user })
    }
}

impl Drop for AsUser {
    fn drop(&mut self) {
        // SAFETY: back to the context's own user, then the user is freed once.
        unsafe {
            api!(RedisModule_SetContextUser)(self.ctx, std::ptr::null());
            api!(RedisModule_FreeModuleUser)(self.user.as_ptr());
        }
    }
}

/// Runs a command through Redis for a script (`redis.execute`): replicated as Redis replicates it (`!`),
/// refused where scripts may not run it (`S`) or over `maxmemory` (`M`), errors as replies (`E`), RESP2
/// replies as the standalone server's internal client sees them; with `user` (the calling client's), with
/// that user's ACL rights (`C`: a command or key it may not touch is a NOPERM error).
pub fn call(ctx: RawCtx, user: Option<&[u8]>, argv: &[Bytes]) -> Reply {
    if argv.is_empty() {
        return Reply::Error(tensorcell::error::CmdError::err(
            "redis.execute needs a command",
        ));
    }
    let Some(args) = Strings::new(ctx, argv) else {
        return Reply::Error(tensorcell::error::CmdError::err(
            "a command name cannot hold NUL",
        ));
    };
    let as_user = match user {
        Some(name) => match AsUser::new(ctx, name) {
            Some(u) => Some(u),
            None => {
                return Reply::Error(tensorcell::error::CmdError::err(
                    "the calling client's ACL user no longer exists",
                ))
            }
        },
        None => None,
    };
    let format = if as_user.is_some() {
        c"v!SEMC"
    } else {
        c"v!SEM"
    };
    // SAFETY: format "v" with an array of strings and its length, plus flag letters; Redis's lock is held.
    let r = unsafe {
        api!(RedisModule_Call)(
            ctx,
            args.name.as_ptr(),
            format.as_ptr(),
            args.ptr(),
            args.len(),
        )
    };
    drop(as_user);
    if r.is_null() {
        let errno = std::io::Error::last_os_error();
        return Reply::Error(tensorcell::error::CmdError::err(format!(
            "the command could not be called ({errno})"
        )));
    }
    let out = call_reply(r);
    // SAFETY: the reply Call returned, freed once (with its nested elements).
    unsafe { api!(RedisModule_FreeCallReply)(r) };
    out
}

/// The positions in `argv` (`argv[0]`: the command's name) of the keys the command declares, as Redis
/// finds them (key specs, first/last/step or a module's getkeys-api); empty for an unknown command or a
/// wrong arity, which the call itself then refuses. Called with Redis's lock held.
pub fn command_keys(ctx: RawCtx, argv: &[Bytes]) -> Vec<usize> {
    // Redis reads argv[0] unchecked.
    if argv.is_empty() {
        return Vec::new();
    }
    let mut all: Vec<*mut raw::RedisModuleString> = argv.iter().map(|a| string(ctx, a)).collect();
    let mut n: c_int = 0;
    // SAFETY: `all` holds argv.len() live strings of `ctx`; Redis returns an array of `n` ints it
    // allocated (or null), freed below with RedisModule_Free.
    let keys = unsafe {
        api!(RedisModule_GetCommandKeys)(ctx, all.as_mut_ptr(), all.len() as c_int, &mut n)
    };
    let out = if keys.is_null() {
        Vec::new()
    } else {
        // SAFETY: a non-null result points at `n` ints.
        let positions = unsafe { std::slice::from_raw_parts(keys, n.max(0) as usize) };
        let out = positions.iter().map(|&i| i as usize).collect();
        // SAFETY: the array Redis allocated for this call, freed once.
        unsafe { api!(RedisModule_Free)(keys.cast()) };
        out
    };
    for s in all {
        free_string(ctx, s);
    }
    out
}

fn call_reply(r: *mut raw::RedisModuleCallReply) -> Reply {
    // SAFETY (each call): `r` is a live call reply (or a nested element of one) owned by the caller.
    unsafe {
        let text = || {
            let mut len = 0usize;
            let p = api!(RedisModule_CallReplyStringPtr)(r, &mut len);
            if p.is_null() {
                Bytes::new()
            } else {
                Bytes::copy_from_slice(std::slice::from_raw_parts(p.cast::<u8>(), len))
            }
        };
        match api!(RedisModule_CallReplyType)(r) as isize {
            raw::REDISMODULE_REPLY_STRING => Reply::Bulk(text()),
            raw::REDISMODULE_REPLY_ERROR => Reply::Error(tensorcell::error::CmdError::Raw(
                String::from_utf8_lossy(&text()).into_owned(),
            )),
            raw::REDISMODULE_REPLY_INTEGER => Reply::Int(api!(RedisModule_CallReplyInteger)(r)),
            raw::REDISMODULE_REPLY_ARRAY => {
                let n = api!(RedisModule_CallReplyLength)(r);
                Reply::Array(
                    (0..n)
                        .map(|i| call_reply(api!(RedisModule_CallReplyArrayElement)(r, i)))
                        .collect(),
                )
            }
            _ => Reply::Nil,
        }
    }
}

/// Whether Redis called the command only to learn its keys (`getkeys-api`: COMMAND GETKEYS, Cluster).
pub fn is_keys_request(ctx: RawCtx) -> bool {
    // SAFETY: the live context of a command callback.
    unsafe { api!(RedisModule_IsKeysPositionRequest)(ctx) != 0 }
}

/// Reports argument `pos` as a key (in a keys request).
pub fn key_at(ctx: RawCtx, pos: usize) {
    // SAFETY: the live context of a keys-position request.
    unsafe { api!(RedisModule_KeyAtPos)(ctx, pos as c_int) };
}

/// A command callback's signature.
pub type CommandFn = extern "C" fn(RawCtx, *mut *mut raw::RedisModuleString, c_int) -> c_int;

/// Registers a command with Redis's flag words and legacy key range.
pub fn create_command(
    ctx: RawCtx,
    name: &str,
    flags: &str,
    keys: (i32, i32, i32),
    f: CommandFn,
) -> Result<(), String> {
    let (n, fl) = (c_text(name), c_text(flags));
    // SAFETY: called from RedisModule_OnLoad with its context; Redis copies the strings.
    let rc = unsafe {
        api!(RedisModule_CreateCommand)(
            ctx,
            n.as_ptr(),
            Some(f),
            fl.as_ptr(),
            keys.0,
            keys.1,
            keys.2,
        )
    };
    if rc == raw::REDISMODULE_OK as c_int {
        Ok(())
    } else {
        Err(format!("could not register {name} (flags '{flags}')"))
    }
}

/// A client blocked until its reply arrives from another thread.
pub type Blocked = Sendable<raw::RedisModuleBlockedClient>;

extern "C" fn blocked_reply(
    ctx: RawCtx,
    _argv: *mut *mut raw::RedisModuleString,
    _argc: c_int,
) -> c_int {
    crate::guard("blocked reply", (), || {
        // SAFETY: the private data of this blocked client is the boxed Reply `unblock` passed.
        let r = unsafe { api!(RedisModule_GetBlockedClientPrivateData)(ctx) };
        if r.is_null() {
            return;
        }
        // SAFETY: as above; freed later by `free_blocked`, not here.
        let r = unsafe { &*r.cast::<Reply>() };
        let resp3 = flags(ctx) & raw::REDISMODULE_CTX_FLAGS_RESP3 != 0;
        reply(ctx, r, resp3);
    });
    raw::REDISMODULE_OK as c_int
}

extern "C" fn free_blocked(_ctx: RawCtx, privdata: *mut c_void) {
    if !privdata.is_null() {
        // SAFETY: the boxed Reply `unblock` passed, freed once here (also when the client went away).
        drop(unsafe { Box::from_raw(privdata.cast::<Reply>()) });
    }
}

/// Blocks the calling client (no timeout: the core's TIMEOUT options end the work themselves).
pub fn block(ctx: RawCtx) -> Blocked {
    // SAFETY: the live context of a command callback that may block (the caller checked the flags).
    Sendable(unsafe {
        api!(RedisModule_BlockClient)(ctx, Some(blocked_reply), None, Some(free_blocked), 0)
    })
}

/// Unblocks `bc` with its reply; callable from any thread. A client that disconnected meanwhile gets
/// nothing, and the reply is freed.
pub fn unblock(bc: Blocked, r: Reply) {
    let p = Box::into_raw(Box::new(r));
    // SAFETY: `bc` is a blocked client not yet unblocked (each is unblocked once: see command.rs).
    unsafe { api!(RedisModule_UnblockClient)(bc.0, p.cast()) };
}

/// Replaces Redis's info callback for the module (INFO modules).
pub fn set_info(ctx: RawCtx, f: extern "C" fn(*mut raw::RedisModuleInfoCtx, c_int)) {
    // SAFETY: called from RedisModule_OnLoad with its context.
    unsafe { api!(RedisModule_RegisterInfoFunc)(ctx, Some(f)) };
}

/// Adds a section (Redis prefixes it with the module's name) and its fields to an INFO reply.
pub fn info_section(ictx: *mut raw::RedisModuleInfoCtx, name: &str, fields: &[(String, String)]) {
    let name = c_text(name);
    // SAFETY: `ictx` is the live INFO context passed to the info callback; strings are copied.
    unsafe {
        api!(RedisModule_InfoAddSection)(ictx, name.as_ptr());
        for (k, v) in fields {
            let (k, v) = (c_text(k), c_text(v));
            api!(RedisModule_InfoAddFieldCString)(ictx, k.as_ptr(), v.as_ptr());
        }
    }
}

/// Calls `f` on Redis's main thread when loading (RDB or AOF) ends.
pub fn on_loading_ended(
    ctx: RawCtx,
    f: extern "C" fn(RawCtx, raw::RedisModuleEvent, u64, *mut c_void),
) {
    let event = raw::RedisModuleEvent {
        id: raw::REDISMODULE_EVENT_LOADING,
        dataver: 1,
    };
    // SAFETY: called from RedisModule_OnLoad with its context.
    unsafe { api!(RedisModule_SubscribeToServerEvent)(ctx, event, Some(f)) };
}

/// A new thread-safe context with no blocked client (of database 0).
pub fn new_thread_safe_ctx() -> RawCtx {
    // SAFETY: no arguments but a null blocked client; callable from any thread.
    unsafe { api!(RedisModule_GetThreadSafeContext)(std::ptr::null_mut()) }
}

/// Frees a context made by [`new_thread_safe_ctx`], not held.
pub fn free_thread_safe_ctx(ctx: RawCtx) {
    // SAFETY: the caller's own context, not locked, freed once.
    unsafe { api!(RedisModule_FreeThreadSafeContext)(ctx) };
}

/// Takes Redis's lock for `ctx` (a thread-safe context); the calling thread must not hold it already.
pub fn lock(ctx: RawCtx) {
    // SAFETY: a live thread-safe context; the caller does not hold the lock (it would wait for itself).
    unsafe { api!(RedisModule_ThreadSafeContextLock)(ctx) };
}

/// Releases Redis's lock taken with [`lock`]; Redis propagates what was replicated in the hold now.
pub fn unlock(ctx: RawCtx) {
    // SAFETY: the context this thread locked.
    unsafe { api!(RedisModule_ThreadSafeContextUnlock)(ctx) };
}

/// The value CONFIG GET of each module config last read, kept alive for Redis (it does not take it over).
static CONFIG_VALUES: parking_lot::Mutex<Vec<(String, Sendable<raw::RedisModuleString>)>> =
    parking_lot::Mutex::new(Vec::new());

fn c_name(name: *const c_char) -> String {
    if name.is_null() {
        return String::new();
    }
    // SAFETY: Redis passes the NUL-terminated name the config was registered with.
    let full = unsafe { std::ffi::CStr::from_ptr(name) }
        .to_string_lossy()
        .into_owned();
    full.strip_prefix("ai.").unwrap_or(&full).to_string()
}

/// What a module config reads and writes, reached from Redis's callbacks through their private data.
pub struct ConfigFns {
    pub get: fn(&str) -> String,
    /// The error is Redis's reply text.
    pub set: fn(&str, &str) -> Result<(), String>,
}

/// The `ConfigFns` a callback's private data points at.
fn config_fns<'a>(privdata: *mut c_void) -> &'a ConfigFns {
    // SAFETY: `register_config` passes a `&'static ConfigFns` as the private data of every config.
    unsafe { &*privdata.cast::<ConfigFns>() }
}

extern "C" fn config_get(
    name: *const c_char,
    privdata: *mut c_void,
) -> *mut raw::RedisModuleString {
    crate::guard("config get", std::ptr::null_mut(), || {
        let name = c_name(name);
        let value = (config_fns(privdata).get)(&name);
        let s = string(std::ptr::null_mut(), value.as_bytes());
        let mut kept = CONFIG_VALUES.lock();
        if let Some(i) = kept.iter().position(|(n, _)| *n == name) {
            let (_, old) = kept.swap_remove(i);
            free_string(std::ptr::null_mut(), old.0);
        }
        kept.push((name, Sendable(s)));
        s
    })
}

extern "C" fn config_set(
    name: *const c_char,
    val: *mut raw::RedisModuleString,
    privdata: *mut c_void,
    err: *mut *mut raw::RedisModuleString,
) -> c_int {
    crate::guard("config set", raw::REDISMODULE_ERR as c_int, || {
        let value = String::from_utf8_lossy(bytes_of(val)).into_owned();
        match (config_fns(privdata).set)(&c_name(name), &value) {
            Ok(()) => raw::REDISMODULE_OK as c_int,
            Err(e) => {
                if !err.is_null() {
                    // SAFETY: Redis hands a slot for an error string it frees itself.
                    unsafe { *err = string(std::ptr::null_mut(), e.as_bytes()) };
                }
                raw::REDISMODULE_ERR as c_int
            }
        }
    })
}

/// Registers `ai.<name>`, a string config read and written through `fns`.
pub fn register_config(
    ctx: RawCtx,
    name: &str,
    default: &str,
    immutable: bool,
    fns: &'static ConfigFns,
) -> Result<(), String> {
    let (n, dflt) = (c_text(name), c_text(default));
    let flags = if immutable {
        raw::REDISMODULE_CONFIG_IMMUTABLE
    } else {
        raw::REDISMODULE_CONFIG_DEFAULT
    };
    // SAFETY: called from RedisModule_OnLoad with its context; Redis copies the strings.
    let rc = unsafe {
        api!(RedisModule_RegisterStringConfig)(
            ctx,
            n.as_ptr(),
            dflt.as_ptr(),
            flags,
            Some(config_get),
            Some(config_set),
            None,
            (fns as *const ConfigFns).cast_mut().cast(),
        )
    };
    if rc == raw::REDISMODULE_OK as c_int {
        Ok(())
    } else {
        Err(format!("could not register the config ai.{name}"))
    }
}

/// Applies the module configs redis.conf and the command line gave (or their defaults).
pub fn load_configs(ctx: RawCtx) -> Result<(), String> {
    // SAFETY: called from RedisModule_OnLoad with its context, after every config is registered.
    let rc = unsafe { api!(RedisModule_LoadConfigs)(ctx) };
    if rc == raw::REDISMODULE_OK as c_int {
        Ok(())
    } else {
        Err("a module config in redis.conf was refused (see the line above)".into())
    }
}
