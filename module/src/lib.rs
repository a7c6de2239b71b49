//! tensorcell inside redis-server: `redis-server --loadmodule libtensorcell_module.so [NAME value ...]`.
//!
//! The second front end of the one engine core (docs/module.md). Redis owns the keyspace, persistence,
//! replication, ACLs and the event loop; the core owns the AI commands, their types, the worker pool and
//! the script runners. Every AI.* command is registered from the core's command table and runs its core
//! handler over Redis's keys (`store.rs`); long work runs off Redis's main thread with the client blocked
//! (`command.rs`) and commits under Redis's lock with its effects replicated (`node.rs`). Redis's C API is
//! called only from `ffi.rs` and `types.rs`.

mod args;
mod command;
mod config;
mod ffi;
mod node;
mod store;
mod types;

use std::ffi::{c_int, c_void};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use redis_module::{raw, redis_module, Context, RedisString, Status};
use tensorcell::shared::Shared;

static SHARED: OnceLock<Arc<Shared>> = OnceLock::new();

/// The engine core's state (set once the module is loaded).
pub(crate) fn shared() -> &'static Arc<Shared> {
    SHARED.get().expect("the module is loaded")
}

/// Runs a callback from Redis so that a panic never unwinds into Redis: it is logged and `fallback`
/// returned instead.
pub(crate) fn guard<R>(what: &str, fallback: R, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let why = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            ffi::log(
                std::ptr::null_mut(),
                "warning",
                &format!("tensorcell: {what}: {why}"),
            );
            fallback
        }
    }
}

fn init(ctx: &Context, args: &[RedisString]) -> Status {
    let raw_ctx = ctx.ctx;
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy()).collect();
    let loaded = match args::parse(&args) {
        Ok(l) => l,
        Err(e) => {
            ffi::log(
                raw_ctx,
                "warning",
                &format!("tensorcell: bad load argument: {e}"),
            );
            return Status::Err;
        }
    };
    if let Err(e) = types::register(raw_ctx) {
        ffi::log(raw_ctx, "warning", &format!("tensorcell: {e}"));
        return Status::Err;
    }
    // The core's rows only: Redis's own commands are Redis's.
    tensorcell::commands::table::install(&[]);
    let shared = Shared::new(loaded.config, Box::new(node::ModuleNode));
    *shared.backends_path.lock() = loaded.backends_path;
    tensorcell::commands::install_script_host(shared.clone());
    if SHARED.set(shared).is_err() {
        ffi::log(
            raw_ctx,
            "warning",
            "tensorcell: the module is already loaded",
        );
        return Status::Err;
    }
    if let Err(e) = config::register(raw_ctx) {
        ffi::log(raw_ctx, "warning", &format!("tensorcell: {e}"));
        return Status::Err;
    }
    if let Err(e) = command::register_all(raw_ctx) {
        ffi::log(raw_ctx, "warning", &format!("tensorcell: {e}"));
        return Status::Err;
    }
    ffi::set_info(raw_ctx, info);
    ffi::on_loading_ended(raw_ctx, loading_event);
    Status::Ok
}

/// INFO modules: RedisAI's sections, from the core (Redis prefixes names with the module's, `ai_`).
extern "C" fn info(ictx: *mut raw::RedisModuleInfoCtx, for_crash_report: c_int) {
    if for_crash_report != 0 {
        // Redis is crashing: building the sections takes locks a crashed thread may hold.
        return;
    }
    guard("info", (), || {
        for s in tensorcell::commands::info_modules::sections(shared()) {
            let fields: Vec<(String, String)> = s
                .fields
                .into_iter()
                .map(|(k, v)| (k.strip_prefix("ai_").unwrap_or(&k).to_string(), v))
                .collect();
            ffi::info_section(ictx, s.name.strip_prefix("ai_").unwrap_or(s.name), &fields);
        }
        // Last, so RedisAI's readers find its sections where they were. Redis keeps no per-type counts: the
        // keyspace is walked (INFO runs on Redis's main thread, which holds the lock).
        let counts = ffi::with_main_thread_ctx(|ctx| {
            let mut counts = [0usize; 3];
            node::holding(ctx, || {
                tensorcell::keyspace::Store::for_each(
                    &mut store::ModuleStore::new(ctx),
                    &mut |_, v| match v {
                        tensorcell::keyspace::Value::Tensor(_) => counts[0] += 1,
                        tensorcell::keyspace::Value::Model(_) => counts[1] += 1,
                        tensorcell::keyspace::Value::Script(_) => counts[2] += 1,
                        _ => {}
                    },
                )
            });
            counts
        });
        let ai = tensorcell::commands::info_modules::ai_section(shared(), counts);
        let fields: Vec<(String, String)> = ai
            .fields
            .into_iter()
            .map(|(k, v)| (k.strip_prefix("ai_").unwrap_or(&k).to_string(), v))
            .collect();
        ffi::info_section(ictx, "", &fields);
    })
}

/// When Redis ends loading an RDB or AOF on a primary, stored FastScore scripts run `begin()` once, before
/// any call: their first runner's load runs it (started now on a thread of its own; calls that arrive
/// meanwhile wait for that load). Set here, on Redis's main thread, before any client command can run.
extern "C" fn loading_event(
    ctx: ffi::RawCtx,
    _e: raw::RedisModuleEvent,
    sub: u64,
    _d: *mut c_void,
) {
    guard("loading event", (), || {
        if sub != raw::REDISMODULE_SUBEVENT_LOADING_ENDED
            || ffi::flags(ctx) & raw::REDISMODULE_CTX_FLAGS_SLAVE != 0
        {
            return;
        }
        tensorcell::commands::install_script_host(shared().clone());
        let mut scripts = Vec::new();
        ffi::with_main_thread_ctx(|c| {
            node::holding(c, || {
                tensorcell::keyspace::Store::for_each(
                    &mut store::ModuleStore::new(c),
                    &mut |_, v| {
                        if let tensorcell::keyspace::Value::Script(s) = v {
                            scripts.push(s.clone());
                        }
                    },
                )
            })
        });
        for s in scripts {
            s.begin_before_first_call();
        }
    })
}

redis_module! {
    name: "ai",
    version: 100,
    allocator: (redis_module::alloc::RedisAlloc, redis_module::alloc::RedisAlloc),
    data_types: [],
    init: init,
}
