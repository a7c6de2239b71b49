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
use tensorcell::keyspace::{Store, Value};
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
    let args: Vec<String> = args.iter().map(|a| a.to_string_lossy()).collect();
    match start(ctx.ctx, &args) {
        Ok(()) => Status::Ok,
        Err(e) => {
            ffi::log(ctx.ctx, "warning", &format!("tensorcell: {e}"));
            Status::Err
        }
    }
}

/// Everything the module sets up at load; the error says what stopped it.
fn start(ctx: ffi::RawCtx, args: &[String]) -> Result<(), String> {
    // The core's log lines go to Redis's log (its loglevel, logfile and syslog), not to stdout.
    tensorcell::log::set_hook(redis_log);
    let loaded = args::parse(args).map_err(|e| format!("bad load argument: {e}"))?;
    // Python runners find their native half beside this library, as beside the standalone server.
    if let Some(dir) = own_dir() {
        tensorcell::runner::python::look_beside(&dir);
    }
    types::register(ctx)?;
    // The core's rows only: Redis's own commands are Redis's.
    tensorcell::commands::table::install(&[]);
    let cluster = ffi::flags(ctx) & redis_module::raw::REDISMODULE_CTX_FLAGS_CLUSTER != 0;
    let shared = Shared::new(loaded.config, Box::new(node::ModuleNode { cluster }));
    *shared.backends_path.lock() = loaded.backends_path;
    tensorcell::commands::install_script_host(shared.clone());
    SHARED
        .set(shared)
        .map_err(|_| "the module is already loaded".to_string())?;
    config::register(ctx)?;
    command::register_all(ctx)?;
    ffi::set_info(ctx, info);
    ffi::on_loading_ended(ctx, loading_event);
    Ok(())
}

/// One of the core's log lines, in Redis's log at the matching level.
fn redis_log(level: tensorcell::log::Level, msg: &str) {
    use tensorcell::log::Level;
    let level = match level {
        Level::Debug => "debug",
        Level::Verbose => "verbose",
        Level::Notice => "notice",
        Level::Warning | Level::Nothing => "warning",
    };
    // No context: Redis allows this from any thread (its own background threads log the same way).
    ffi::log(std::ptr::null_mut(), level, msg);
}

/// The directory this library was loaded from: the mapping in /proc/self/maps that holds this function's
/// code.
fn own_dir() -> Option<std::path::PathBuf> {
    let here = own_dir as *const () as usize;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines().find_map(|line| {
        let (lo, hi) = line.split_whitespace().next()?.split_once('-')?;
        let (lo, hi) = (
            usize::from_str_radix(lo, 16).ok()?,
            usize::from_str_radix(hi, 16).ok()?,
        );
        // The path is the rest of the line from its first '/' (the fields before hold none), spaces and all.
        let path = &line[line.find('/')?..];
        (lo <= here && here < hi)
            .then(|| std::path::Path::new(path).parent().map(|p| p.to_path_buf()))
            .flatten()
    })
}

/// Adds one of the core's INFO sections: Redis prefixes section and field names with the module's
/// (`ai_`), so the core's own prefix is left out.
fn add_section(ictx: *mut raw::RedisModuleInfoCtx, s: tensorcell::commands::info_modules::Section) {
    let fields: Vec<(String, String)> = s
        .fields
        .into_iter()
        .map(|(k, v)| (k.strip_prefix("ai_").unwrap_or(&k).to_string(), v))
        .collect();
    let name = match s.name {
        "ai" => "",
        n => n.strip_prefix("ai_").unwrap_or(n),
    };
    ffi::info_section(ictx, name, &fields);
}

/// INFO modules: RedisAI's sections, from the core.
extern "C" fn info(ictx: *mut raw::RedisModuleInfoCtx, for_crash_report: c_int) {
    if for_crash_report != 0 {
        // Redis is crashing: building the sections takes locks a crashed thread may hold.
        return;
    }
    guard("info", (), || {
        for s in tensorcell::commands::info_modules::sections(shared()) {
            add_section(ictx, s);
        }
        // Last, so RedisAI's readers find its sections where they were. Redis keeps no per-type counts: the
        // keyspace is walked (INFO runs on Redis's main thread, which holds the lock).
        let mut counts = [0usize; 3];
        node::on_main_thread(|ctx| {
            store::ModuleStore::new(ctx).for_each(&mut |_, v| match v {
                Value::Tensor(_) => counts[0] += 1,
                Value::Model(_) => counts[1] += 1,
                Value::Script(_) => counts[2] += 1,
                _ => {}
            })
        });
        add_section(
            ictx,
            tensorcell::commands::info_modules::ai_section(shared(), counts),
        );
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
        let scripts = node::on_main_thread(|_| tensorcell::commands::fastscore_scripts(shared()));
        for (_, s) in scripts {
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
