//! Applying effects: the AOF loader and a replica's link feed the effect stream
//! back through the same command bodies, skipping policy, as Redis replays its AOF through a fake client.
//! Effects are writes with their results baked in (`AI.TENSORSET` of a model's outputs, never
//! `AI.MODELEXECUTE`), so applying one never runs a model or Python: a stored script is compiled without its
//! `begin()` (the session is marked `replaying`) and a model is only loaded.

use std::sync::Arc;

use bytes::Bytes;

use crate::args::Args;
use crate::clients::ClientHandle;
use crate::commands::{dispatch, lookup, Ctx};
use crate::keyspace::Expiry;
use crate::reply::Reply;
use crate::session::Session;
use crate::shared::Shared;
use crate::util::lossy;

/// Why an effect was not applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// Not an effect at all (unknown command, wrong arity, EXEC without MULTI): the stream is damaged.
    #[error("{0}")]
    Invalid(String),
    /// A well-formed effect the keyspace refused (logged; the stream goes on, as Redis's AOF loading).
    #[error("{0}")]
    Failed(String),
    /// The replication link stopped feeding this node (REPLICAOF elsewhere, or promotion): not applied.
    #[error("the replication link is no longer current")]
    Stale,
}

/// Applies effects in order. `MULTI` ... `EXEC` groups are buffered and applied together under one hold of
/// the keyspace lock, so a half-written transaction (a torn AOF tail) is never applied.
pub struct Replayer {
    session: Session,
    multi: Option<Vec<Vec<Bytes>>>,
    /// Applying a primary's live stream ([`Replayer::for_stream`]).
    stream: Option<Stream>,
    /// Effects applied.
    pub applied: u64,
}

/// What a replica's link adds to applying: each group's bytes are recorded in the effect log in the same
/// hold of the lock that applies it (so a capture, a save or a promotion sees both or neither), and only
/// while the link is still current.
struct Stream {
    /// Bytes of the open MULTI group, `MULTI` included.
    raw: Vec<u8>,
    /// `raw` went into the effect log (with the group it belongs to).
    recorded: bool,
    current: Box<dyn Fn(&Shared) -> bool + Send>,
}

impl Default for Replayer {
    fn default() -> Self {
        Self::new()
    }
}

impl Replayer {
    pub fn new() -> Self {
        let mut session = Session::new(
            ClientHandle::internal("replay"),
            Arc::new(crate::pubsub::NoSink),
            true,
        );
        session.replaying = true;
        Replayer {
            session,
            multi: None,
            stream: None,
            applied: 0,
        }
    }

    /// A replayer for a replica's link to its primary: `current` says (under the engine lock) whether the
    /// link still feeds this node. Expiry is the primary's: the stream applies with no clock, and keys past
    /// their time stay until its DEL.
    pub fn for_stream(current: impl Fn(&Shared) -> bool + Send + 'static) -> Self {
        Replayer {
            stream: Some(Stream {
                raw: Vec::new(),
                recorded: false,
                current: Box::new(current),
            }),
            ..Self::new()
        }
    }

    /// Applies one effect of a primary's stream and records its bytes `raw` (see [`Stream`]).
    pub fn apply_raw(
        &mut self,
        shared: &Shared,
        argv: Vec<Bytes>,
        raw: &[u8],
    ) -> Result<(), ApplyError> {
        if let Some(s) = self.stream.as_mut() {
            s.raw.extend_from_slice(raw);
        }
        let result = self.apply(shared, argv);
        if !self.in_multi() {
            if let Some(s) = self.stream.as_mut() {
                if !s.recorded && !matches!(result, Err(ApplyError::Stale)) {
                    // Refused before reaching the keyspace (EXEC without MULTI): the primary's stream
                    // still carried these bytes, and offsets must stay equal.
                    let mut g = shared.engine.lock();
                    if (s.current)(shared) {
                        g.effects.append_raw(&s.raw);
                    }
                }
                s.raw.clear();
                s.recorded = false;
            }
        }
        result
    }

    /// Whether a `MULTI` is open (its commands not yet applied).
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Drops an open `MULTI` group (the stream ended inside it).
    pub fn discard_multi(&mut self) -> usize {
        self.multi.take().map_or(0, |m| m.len())
    }

    /// Applies one effect; an error names the command and what it answered.
    pub fn apply(&mut self, shared: &Shared, argv: Vec<Bytes>) -> Result<(), ApplyError> {
        let Some(first) = argv.first() else {
            return Err(ApplyError::Invalid("an empty command".into()));
        };
        if first.eq_ignore_ascii_case(b"MULTI") {
            if self.multi.is_some() {
                return Err(ApplyError::Invalid("MULTI inside MULTI".into()));
            }
            self.multi = Some(Vec::new());
            return Ok(());
        }
        if first.eq_ignore_ascii_case(b"EXEC") {
            let group = self
                .multi
                .take()
                .ok_or_else(|| ApplyError::Invalid("EXEC without MULTI".into()))?;
            return self.apply_group(shared, group);
        }
        match self.multi.as_mut() {
            Some(group) => {
                group.push(argv);
                Ok(())
            }
            None => self.apply_group(shared, vec![argv]),
        }
    }

    fn apply_group(&mut self, shared: &Shared, group: Vec<Vec<Bytes>>) -> Result<(), ApplyError> {
        let mut ctx = Ctx::new(shared, &mut self.session, crate::util::now_ms());
        if let Some(s) = &self.stream {
            ctx.engine();
            if !(s.current)(shared) {
                return Err(ApplyError::Stale);
            }
        }
        let wrap = group.len() > 1;
        // A replica (its live stream, or its own AOF at start-up) leaves expiry to its primary: a DEL of a
        // key past its time must still delete it, not find it hidden, and a PEXPIREAT already past (the
        // replica lags) must not delete a key the primary may PERSIST next: it applies with no clock.
        let db = ctx.db();
        let keep = self.stream.is_some() || db.expiry == Expiry::Hide;
        let expiry = keep.then(|| std::mem::replace(&mut db.expiry, Expiry::Keep));
        if keep {
            ctx.now = 0;
        }
        ctx.in_exec = wrap;
        let mut deferred = None;
        let mut result = Ok(());
        for argv in group {
            let name = lossy(&argv[0]);
            let Some(spec) = lookup(&argv[0]).filter(|s| s.arity_ok(argv.len())) else {
                result = Err(ApplyError::Invalid(format!(
                    "unknown command or wrong arity: '{name}'"
                )));
                break;
            };
            self.applied += 1;
            let reply = dispatch::call(&mut ctx, spec, Args::new(argv));
            if let Some(Reply::Error(e)) = reply {
                result = Err(ApplyError::Failed(format!("'{name}' failed: {}", e.line())));
                break;
            }
            if ctx.deferred.is_some() {
                // Only a lone command defers (a model load): commands that defer are refused in EXEC.
                deferred = ctx.deferred.take();
                break;
            }
        }
        ctx.end_exec();
        if let Some(mode) = expiry {
            ctx.db().expiry = mode;
        }
        // Recorded whether or not the keyspace accepted it: the primary's stream carries it.
        if let Some(s) = self.stream.as_mut() {
            if deferred.is_none() {
                ctx.engine().effects.append_raw(&s.raw);
                s.recorded = true;
            }
        }
        drop(ctx);
        if let Some(d) = deferred {
            // A model load or script compile runs on a worker; wait for it, so the next effect sees it.
            let (tx, rx) = std::sync::mpsc::channel();
            d.start(Box::new(move |r| {
                let _ = tx.send(r);
            }));
            let outcome = match rx.recv() {
                Ok(Reply::Error(e)) => Err(ApplyError::Failed(e.line())),
                Ok(_) => Ok(()),
                Err(_) => Err(ApplyError::Failed(
                    "a worker failed while applying an effect".into(),
                )),
            };
            if let Some(s) = self.stream.as_mut() {
                // A model load committed on a worker: recorded right after, if the link is still current.
                let mut g = shared.engine.lock();
                if (s.current)(shared) {
                    g.effects.append_raw(&s.raw);
                }
                s.recorded = true;
            }
            return outcome;
        }
        result
    }
}
