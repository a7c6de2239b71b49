//! Every command of the core's table, registered with Redis and run through one callback: keys for
//! `getkeys-api` requests, then the core's handler over Redis's keys ([`ModuleStore`]) with the command's
//! effects replicated and its events raised here, then the reply now, or a blocked client whose reply
//! comes from the worker pool or a runner.

use std::ffi::c_int;
use std::sync::{Arc, OnceLock};

use redis_module::raw;
use tensorcell::clients::ClientHandle;
use tensorcell::commands::flags::*;
use tensorcell::commands::{dispatch, table, CommandSpec, Completion, Ctx};
use tensorcell::error::CmdError;
use tensorcell::reply::Reply;
use tensorcell::resp::Protocol;
use tensorcell::session::Session;

use crate::ffi::{self, RawCtx};
use crate::node;
use crate::store::ModuleStore;

/// Redis's flag words for a row of the table.
fn redis_flags(spec: &CommandSpec) -> String {
    let mut words = Vec::new();
    for (bit, word) in [
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "deny-oom"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (NOSCRIPT, "deny-script"),
        (LOADING, "allow-loading"),
        (STALE, "allow-stale"),
        (NO_AUTH, "no-auth"),
    ] {
        if spec.has(bit) {
            words.push(word);
        }
    }
    if spec.getkeys.is_some() {
        words.push("getkeys-api");
    }
    words.join(" ")
}

/// Registers every command of the table (the core's rows: the module installs no Redis rows).
pub fn register_all(ctx: RawCtx) -> Result<(), String> {
    for spec in table::all() {
        ffi::create_command(ctx, spec.name, &redis_flags(spec), spec.keys, command)?;
    }
    Ok(())
}

extern "C" fn command(ctx: RawCtx, argv: *mut *mut raw::RedisModuleString, argc: c_int) -> c_int {
    // Set once the client has its answer or is blocked (its blocked-client handle answers it then).
    let answered = std::cell::Cell::new(false);
    crate::guard("command", (), || {
        answer(ctx, ffi::Argv::new(argv, argc), &answered);
        answered.set(true);
    });
    if !answered.get() {
        ffi::reply(
            ctx,
            &Reply::Error(CmdError::err("internal error in tensorcell (logged)")),
            false,
        );
    }
    raw::REDISMODULE_OK as c_int
}

/// The one internal client every module command runs as (Redis knows the real one).
fn client() -> Arc<ClientHandle> {
    static CLIENT: OnceLock<Arc<ClientHandle>> = OnceLock::new();
    CLIENT
        .get_or_init(|| ClientHandle::internal("redis"))
        .clone()
}

const REPLAYING: u32 = raw::REDISMODULE_CTX_FLAGS_LOADING | raw::REDISMODULE_CTX_FLAGS_REPLICATED;
const NO_BLOCKING: u32 = raw::REDISMODULE_CTX_FLAGS_MULTI
    | raw::REDISMODULE_CTX_FLAGS_LUA
    | raw::REDISMODULE_CTX_FLAGS_DENY_BLOCKING;

fn answer(ctx: RawCtx, sent: ffi::Argv, answered: &std::cell::Cell<bool>) {
    let argv = sent.copied();
    let Some(spec) = argv.first().and_then(|n| table::lookup(n)) else {
        return ffi::reply(ctx, &Reply::Error(CmdError::err("unknown command")), false);
    };
    if ffi::is_keys_request(ctx) {
        let keys = match spec.getkeys {
            Some(find) => find(&argv),
            None => spec.key_positions(argv.len()),
        };
        // Redis indexes argv with each position: only ones inside it are reported.
        return keys
            .into_iter()
            .filter(|&i| i > 0 && i < argv.len())
            .for_each(|i| ffi::key_at(ctx, i));
    }
    if ffi::selected_db(ctx) != 0 {
        // Work that finishes off Redis's main thread commits through a context of its own, on database 0.
        return ffi::reply(
            ctx,
            &Reply::Error(CmdError::err(
                "AI commands run in database 0 only (SELECT 0)",
            )),
            false,
        );
    }
    let flags = ffi::flags(ctx);
    let replaying = flags & REPLAYING != 0;
    let no_blocking = !replaying && flags & NO_BLOCKING != 0;
    let resp3 = flags & raw::REDISMODULE_CTX_FLAGS_RESP3 != 0;
    let shared = crate::shared();
    let mut session = Session::new(client(), Arc::new(tensorcell::pubsub::NoSink), true);
    session.replaying = replaying;
    if !replaying {
        // Scripts this command runs call Redis with this client's ACL rights.
        session.user = ffi::current_user(ctx);
    }
    if resp3 {
        session.protocol = Protocol::Resp3;
    }
    node::holding(ctx, || {
        let outcome = {
            let mut store = ModuleStore::with_argv(ctx, sent);
            let mut c = Ctx::over(shared, &mut session, tensorcell::util::now_ms(), &mut store);
            if no_blocking {
                c = c.in_transaction();
            }
            dispatch::run_over(&mut c, spec, argv)
        };
        node::propagate(ctx, Some(sent), &outcome.effects, &outcome.events);
        match (outcome.reply, outcome.deferred) {
            (_, Some(_)) if no_blocking || replaying => ffi::reply(
                ctx,
                &Reply::Error(CmdError::err(
                    "Cannot run RedisAI command within a transaction or a LUA script",
                )),
                resp3,
            ),
            // Started inside the hold: work that commits at once (on this thread) reuses it.
            (_, Some(work)) => {
                let bc = ffi::block(ctx);
                answered.set(true);
                work.start(completion(bc))
            }
            (Some(r), None) => ffi::reply(ctx, &r, resp3),
            (None, None) => ffi::reply(ctx, &Reply::Nil, resp3),
        }
    });
}

/// Unblocks its client exactly once: with the reply, or, if the work was dropped without one (a worker
/// that panicked), with an error, so no client stays blocked for ever.
struct Unblock(Option<ffi::Blocked>);

impl Unblock {
    fn send(mut self, r: Reply) {
        if let Some(bc) = self.0.take() {
            ffi::unblock(bc, r);
        }
    }
}

impl Drop for Unblock {
    fn drop(&mut self) {
        if let Some(bc) = self.0.take() {
            ffi::unblock(
                bc,
                Reply::Error(CmdError::err("the command's work ended without a reply")),
            );
        }
    }
}

fn completion(bc: ffi::Blocked) -> Completion {
    let u = Unblock(Some(bc));
    Box::new(move |r| u.send(r))
}
