//! The command path in one place: look up -> **policy** (arity, auth, subscribed context, MULTI queuing,
//! OOM) -> **execute** -> **propagate** (effects to the stream, keyspace events, stats, slow log, MONITOR).
//! Command bodies hold only data logic.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use bytes::Bytes;

use super::flags::*;
use super::{lookup, CommandSpec, Ctx, Effects, Event, Events, Outcome};
use crate::args::Args;
use crate::config::notify;
use crate::error::CmdError;
use crate::reply::Reply;
use crate::resp::Protocol;
use crate::session::Session;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::util::lossy;

/// What the front end does with a request's result.
#[derive(Debug)]
pub enum Response {
    Reply(Reply),
    /// Send nothing (after SHUTDOWN).
    Nothing,
    /// The reply comes later: start it and wait (see [`super::Deferred`]).
    Later(super::Deferred),
}

impl From<Option<Reply>> for Response {
    fn from(r: Option<Reply>) -> Self {
        r.map_or(Response::Nothing, Response::Reply)
    }
}

/// Runs one request from a client and returns what to answer. `now` is
/// the Unix time in milliseconds the command sees (the server reads the clock once per batch of pipelined
/// requests, as Redis caches its clock per event-loop iteration). `clock` is when the previous command of
/// the batch ended (or the batch began): a command's duration is measured from it to the command's end, so
/// timing costs one monotonic clock read per command.
pub fn execute(
    shared: &Shared,
    session: &mut Session,
    argv: Vec<Bytes>,
    now: u64,
    clock: &mut Instant,
) -> Response {
    let args = Args::new(argv);
    match policy(shared, session, &args) {
        Err(mut e) => {
            let spec = lookup(&args.argv()[0]);
            if let Some(spec) = spec {
                shared.stats.record_rejected(spec);
            }
            if session.multi.is_some() {
                if spec.is_some_and(|s| s.name == "exec") {
                    // A refused EXEC ends the transaction and says why, as Redis's execCommandAbort.
                    Ctx::new(shared, session, now).clear_transaction();
                    e = CmdError::ExecAbortBecause(Box::new(e));
                } else {
                    session.multi_failed = true;
                }
            }
            Stats::add(&shared.stats.error_replies, 1);
            Response::Reply(Reply::Error(e))
        }
        Ok(Gate::Queue(spec)) => {
            if let Some(q) = session.multi.as_mut() {
                q.push((spec, args));
            }
            session.sync_info();
            Response::Reply(Reply::Simple("QUEUED"))
        }
        Ok(Gate::Run(spec)) => {
            let mut ctx = Ctx::new(shared, session, now);
            ctx.clock = *clock;
            let reply = call(&mut ctx, spec, args);
            *clock = ctx.clock;
            match ctx.deferred.take() {
                Some(d) => Response::Later(d),
                None => reply.into(),
            }
        }
    }
}

/// Redis quotes its own commands by their canonical lower-case name; RedisAI (a module) quotes argv[0]
/// exactly as the client typed it.
pub fn arity_error(spec: &CommandSpec, args: &Args) -> CmdError {
    if spec.name.starts_with("ai.") {
        CmdError::Arity(args.name())
    } else {
        CmdError::Arity(spec.name.to_string())
    }
}

enum Gate {
    Run(&'static CommandSpec),
    Queue(&'static CommandSpec),
}

/// Every check that decides whether a command may run, before any command body does.
fn policy(shared: &Shared, session: &Session, args: &Args) -> Result<Gate, CmdError> {
    let argv = args.argv();
    let Some(spec) = lookup(&argv[0]) else {
        return Err(CmdError::UnknownCommand {
            name: lossy(&argv[0]),
            args: argv[1..].iter().map(|a| lossy(a)).collect(),
        });
    };
    let sub_name = shape(spec, args)?;
    let hot = &shared.hot;
    let (auth_needed, maxmemory) = (hot.auth_required.load(Relaxed), hot.maxmemory.load(Relaxed));
    if auth_needed && !session.authenticated && !spec.has(NO_AUTH) {
        return Err(CmdError::NoAuth);
    }
    if session.protocol == Protocol::Resp2
        && session.subscriptions() > 0
        && !spec.has(SUBSCRIBED_OK)
    {
        let name = match sub_name {
            Some(sub) => format!("{}|{sub}", spec.name),
            None => spec.name.to_string(),
        };
        return Err(CmdError::err(format!(
            "Can't execute '{name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
        )));
    }
    // EXEC counts as a write when it would run one (Redis refuses it whole on a replica).
    let writes = spec.has(WRITE)
        || (spec.name == "exec"
            && session
                .multi
                .as_ref()
                .is_some_and(|q| q.iter().any(|(s, _)| s.has(WRITE))));
    if let Some(e) = shared.node.refuses(shared, spec, writes) {
        return Err(e);
    }
    let over_memory = || maxmemory > 0 && shared.engine.lock().db.used_memory() as u64 > maxmemory;
    if session.multi.is_some() && !spec.has(TXN_CONTROL) {
        if spec.has(NO_MULTI) {
            return Err(CmdError::err("Command not allowed inside a transaction"));
        }
        if spec.has(DENYOOM) && over_memory() {
            return Err(CmdError::Oom);
        }
        return Ok(Gate::Queue(spec));
    }
    if spec.has(DENYOOM) && over_memory() {
        return Err(CmdError::Oom);
    }
    if spec.has(WRITE) {
        if let Some(why) = shared.node.refuses_write(&shared.hot) {
            return Err(CmdError::Misconf(why));
        }
    }
    Ok(Gate::Run(spec))
}

/// The checks of a command's shape that every front end makes itself (Redis leaves arity to a module, as
/// RedisAI checked it): arity, and a container command's subcommand and its arity. The subcommand's name.
pub fn shape(spec: &CommandSpec, args: &Args) -> Result<Option<&'static str>, CmdError> {
    let argv = args.argv();
    if !spec.arity_ok(argv.len()) {
        return Err(arity_error(spec, args));
    }
    if argv.len() < 2 || spec.subs.is_empty() {
        return Ok(None);
    }
    let Some((sub, arity)) = spec.sub(&argv[1]) else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&argv[1]),
            cmd: spec.name.to_uppercase(),
        });
    };
    if !super::table::arity_fits(arity, argv.len()) {
        return Err(CmdError::Arity(format!("{}|{sub}", spec.name)));
    }
    Ok(Some(sub))
}

/// One command on a front end that does its own policy and propagation (the Redis module: Redis checked
/// auth, ACLs, OOM and replicas, and replicates what the outcome says): shape, then the handler over
/// `ctx` (built with [`Ctx::over`]). The outcome's effects and events are the caller's to propagate; an
/// error is its reply.
pub fn run_over(ctx: &mut Ctx, spec: &'static CommandSpec, argv: Vec<Bytes>) -> Outcome {
    let mut args = Args::new(argv);
    let start = Instant::now();
    let outcome = match shape(spec, &args).and_then(|_| (spec.handler)(ctx, &mut args)) {
        Ok(o) => o,
        Err(e) => Outcome::new(Reply::Error(e)),
    };
    let failed = outcome.reply.as_ref().is_some_and(Reply::is_error);
    ctx.shared
        .stats
        .record(spec, start.elapsed().as_micros() as u64, failed);
    outcome
}

/// A command a script runs (`redis.execute`) on the engine's own keyspace: the whole command path, as an
/// internal client that is already authenticated. A command that would finish later cannot be waited for
/// there.
pub fn execute_internal(shared: &Shared, argv: Vec<Bytes>) -> Reply {
    let client = crate::clients::ClientHandle::internal("script");
    let mut session = Session::new(client, std::sync::Arc::new(crate::pubsub::NoSink), true);
    let mut clock = Instant::now();
    match execute(
        shared,
        &mut session,
        argv,
        crate::util::now_ms(),
        &mut clock,
    ) {
        Response::Reply(r) => r,
        Response::Nothing => Reply::Nil,
        Response::Later(_) => {
            Reply::Error(CmdError::err("the command cannot complete inside a script"))
        }
    }
}

/// Executes an admitted command and propagates what it did. EXEC calls this for each queued command with
/// the engine lock already held.
pub fn call(ctx: &mut Ctx, spec: &'static CommandSpec, mut args: Args) -> Option<Reply> {
    {
        // Before running, so CLIENT LIST shows the command in progress as Redis does.
        let mut info = ctx.session.client.info.lock();
        info.last_cmd = spec.name;
        info.last_interaction_ms = ctx.now;
    }
    // Under the lock: a write admitted by policy (or queued in MULTI) just before this node became a replica
    // must not change data whose effect the follower log would drop.
    let result = if spec.has(WRITE) && !ctx.session.replaying && ctx.engine().effects.follower {
        Err(CmdError::ReadOnly)
    } else {
        (spec.handler)(ctx, &mut args)
    };
    let end = Instant::now();
    let usec = end.saturating_duration_since(ctx.clock).as_micros() as u64;
    ctx.clock = end;
    let shared = ctx.shared;

    // Keys that expired while the command looked them up are writes too, and come before its own.
    let mut outcome = match result {
        Ok(o) => o,
        Err(e) => Outcome::new(Reply::Error(e)),
    };
    ctx.settle_expired();
    if !ctx.expired_events.is_empty() {
        let mut events = std::mem::take(&mut ctx.expired_events);
        events.append(&mut outcome.events);
        outcome.events = events;
    }
    propagate(ctx, outcome.effects, outcome.events);
    ctx.deferred = outcome.deferred;

    let failed = outcome.reply.as_ref().is_some_and(Reply::is_error);
    let stats = &shared.stats;
    if failed {
        Stats::add(&stats.error_replies, 1);
    }
    stats.record(spec, usec, failed);
    let slower_than = shared.hot.slowlog_slower_than.load(Relaxed);
    let max_len = shared.hot.slowlog_max_len.load(Relaxed);
    if slower_than >= 0 && usec >= slower_than as u64 && spec.name != "exec" {
        let name = ctx
            .session
            .client
            .info
            .lock()
            .name
            .as_ref()
            .map(|n| lossy(n))
            .unwrap_or_default();
        shared.slowlog.lock().push(
            usec,
            args.argv(),
            ctx.session.client.addr.clone(),
            name,
            max_len,
        );
    }
    if !spec.has(SKIP_MONITOR | ADMIN) && shared.hot.monitors.load(Relaxed) > 0 {
        feed_monitors(shared, ctx.session, args.argv());
    }
    outcome.reply
}

/// Sends effects to the effect stream (with the engine lock held, so stream order is apply order) and raises
/// keyspace events. The only place either happens.
pub fn propagate(ctx: &mut Ctx, effects: Effects, events: Events) {
    let shared = ctx.shared;
    if !effects.is_empty() {
        Stats::add(&shared.stats.changes, effects.len() as u64);
        let wrap = ctx.in_exec && !ctx.exec_wrapped;
        ctx.exec_wrapped |= wrap;
        let log = &mut ctx.engine().effects;
        if wrap {
            log.append(vec![Bytes::from_static(b"MULTI")]);
        }
        for argv in effects {
            log.append(argv);
        }
        ctx.session.wrote_upto = log.offset();
    }
    if !events.is_empty() {
        notify_events(shared, shared.hot.notify.load(Relaxed), &events);
    }
}

/// Publishes keyspace (`__keyspace@0__:<key>`) and keyevent (`__keyevent@0__:<event>`) messages.
pub fn notify_events(shared: &Shared, flags: u32, events: &[Event]) {
    if flags & (notify::KEYSPACE | notify::KEYEVENT) == 0 || !shared.pubsub.has_listeners() {
        return;
    }
    for ev in events.iter().filter(|e| flags & e.class != 0) {
        if flags & notify::KEYSPACE != 0 {
            let mut ch = b"__keyspace@0__:".to_vec();
            ch.extend_from_slice(&ev.key);
            shared
                .pubsub
                .publish(&Bytes::from(ch), &Bytes::from_static(ev.name.as_bytes()));
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = Bytes::from(format!("__keyevent@0__:{}", ev.name));
            shared.pubsub.publish(&ch, &ev.key);
        }
    }
}

/// MONITOR lines: `+1700000000.123456 [0 127.0.0.1:5000] "SET" "k" "v"`.
fn feed_monitors(shared: &Shared, session: &Session, argv: &[Bytes]) {
    let monitors = shared.monitors.lock();
    if monitors.is_empty() {
        return;
    }
    let us = crate::util::now_us();
    let mut line = format!(
        "{}.{:06} [0 {}]",
        us / 1_000_000,
        us % 1_000_000,
        session.client.addr
    );
    for a in argv {
        line.push(' ');
        line.push_str(&repr(a));
    }
    for (_, m) in monitors.iter() {
        m.deliver(Reply::Status(line.clone()));
    }
}

/// Redis's `sdscatrepr`: a quoted, escaped rendering of an argument.
pub fn repr(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() + 2);
    s.push('"');
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            b'\t' => s.push_str("\\t"),
            7 => s.push_str("\\a"),
            8 => s.push_str("\\b"),
            c if c.is_ascii_graphic() || c == b' ' => s.push(c as char),
            c => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    s.push('"');
    s
}

/// One batch of active expiry: deletes up to `limit` expired keys and propagates them like any write.
pub fn expire_cycle(shared: &Shared, limit: usize) -> usize {
    let now = crate::util::now_ms();
    let mut events = Vec::new();
    let n = {
        let mut g = shared.engine.lock();
        let n = g.db.expire_cycle(now, limit);
        for k in g.db.take_expired() {
            g.effects
                .append(vec![Bytes::from_static(b"DEL"), k.clone()]);
            events.push(Event {
                class: notify::EXPIRED,
                name: "expired",
                key: k,
            });
        }
        n
    };
    if n > 0 {
        Stats::add(&shared.stats.expired_keys, n as u64);
        Stats::add(&shared.stats.changes, n as u64);
        notify_events(shared, shared.hot.notify.load(Relaxed), &events);
    }
    n
}

/// Reads the keyspace outside a command (a script's callback, a DAG op's input), now, through the front end
/// (its lock and its keys).
pub fn read<R>(shared: &Shared, f: impl FnOnce(&mut dyn crate::keyspace::Store) -> R) -> R {
    let mut f = Some(f);
    let mut out = None;
    shared.node.read(shared, &mut |store| {
        out = Some((f.take().expect("a read runs once"))(store));
    });
    out.expect("the node ran the read")
}

/// The commit phase of work that finished off the command's thread (a model run's outputs): `apply` runs
/// under the engine lock and returns its result with the writes and events it made, which are propagated
/// exactly as a command's are (keys it found expired first, then its own effects, in apply order).
///
/// `refused` is what a client's commit answers when this node became a replica while the work ran (its
/// effect could no longer reach anyone: READONLY); `None` for work applying the primary's stream.
pub fn commit<R>(
    shared: &Shared,
    refused: Option<R>,
    apply: impl FnOnce(&mut dyn crate::keyspace::Store) -> (R, Effects, Events),
) -> R {
    let mut apply = Some(apply);
    let mut result = None;
    let applied = shared.node.commit(shared, refused.is_some(), &mut |store| {
        let (r, effects, events) = (apply.take().expect("a commit applies once"))(store);
        result = Some(r);
        (effects, events)
    });
    match (applied, result, refused) {
        (true, Some(r), _) => r,
        (_, _, Some(r)) => r,
        _ => unreachable!("a commit that cannot be refused is applied"),
    }
}

/// [`read`] on the engine's own keyspace (the standalone server's node, and a bare one). Keys found expired
/// are left for the next commit to propagate, as a command's own lookups are.
pub fn read_engine(shared: &Shared, f: &mut dyn FnMut(&mut dyn crate::keyspace::Store)) {
    f(&mut shared.engine.lock().store(crate::util::now_ms()))
}

/// [`commit`] on the engine's own keyspace: applied under the engine lock, the effects appended to its
/// stream in apply order (keys found expired first), events raised after. With `refusable`, nothing is
/// applied (false) once this node follows a primary.
pub fn commit_engine(
    shared: &Shared,
    refusable: bool,
    apply: &mut dyn FnMut(&mut dyn crate::keyspace::Store) -> (Effects, Events),
) -> bool {
    let now = crate::util::now_ms();
    let mut all_events = Events::new();
    {
        let mut g = shared.engine.lock();
        if refusable && g.effects.follower {
            return false;
        }
        let (effects, events) = apply(&mut g.store(now));
        let expired = g.db.take_expired();
        let n = expired.len() + effects.len();
        Stats::add(&shared.stats.expired_keys, expired.len() as u64);
        for k in expired {
            g.effects
                .append(vec![Bytes::from_static(b"DEL"), k.clone()]);
            all_events.push(Event {
                class: notify::EXPIRED,
                name: "expired",
                key: k,
            });
        }
        for argv in effects {
            g.effects.append(argv);
        }
        Stats::add(&shared.stats.changes, n as u64);
        all_events.extend(events);
    }
    if !all_events.is_empty() {
        notify_events(shared, shared.hot.notify.load(Relaxed), &all_events);
    }
    true
}
