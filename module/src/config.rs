//! The AI directives as Redis 7 module configs, `ai.<directive>`: `CONFIG GET ai.*`, `CONFIG SET
//! ai.script-time-limit 500`, `ai.snapshot-codec zstd` in redis.conf, `CONFIG REWRITE`. Values are checked
//! by the core's directive table and installed with `Shared::set_config`, as the standalone server's
//! CONFIG SET does; directives the core cannot change at run time are registered immutable.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::ffi::{self, RawCtx};

static FNS: ffi::ConfigFns = ffi::ConfigFns { get, set };

/// While Redis applies the configs at load (`RedisModule_LoadConfigs`): immutable ones may be set then.
static LOADING: AtomicBool = AtomicBool::new(false);

/// Registers every engine directive (`tensorcell::config::ENGINE_DIRECTIVES`) as a module config and applies what
/// redis.conf or the command line gave for them.
pub fn register(ctx: RawCtx) -> Result<(), String> {
    let current = crate::shared().config.read().clone();
    for &name in tensorcell::config::ENGINE_DIRECTIVES {
        let d =
            tensorcell::config::directive(name).ok_or_else(|| format!("no directive {name}"))?;
        let value = current.get(name).unwrap_or(d.default).to_string();
        ffi::register_config(ctx, name, &value, !d.mutable, &FNS)?;
    }
    LOADING.store(true, Ordering::SeqCst);
    let loaded = ffi::load_configs(ctx);
    LOADING.store(false, Ordering::SeqCst);
    loaded
}

/// The directive's current value (CONFIG GET).
fn get(name: &str) -> String {
    crate::shared()
        .config
        .read()
        .get(name)
        .unwrap_or_default()
        .to_string()
}

/// Sets a directive (CONFIG SET, or redis.conf at load); the error is Redis's reply text.
fn set(name: &str, value: &str) -> Result<(), String> {
    let shared = crate::shared();
    let mut next = shared.config.read().clone();
    let result = if LOADING.load(Ordering::SeqCst) {
        next.set_at_start(name, value)
    } else {
        next.set(name, value)
    };
    result.map_err(|e| e.to_string())?;
    shared.set_config(next);
    Ok(())
}
