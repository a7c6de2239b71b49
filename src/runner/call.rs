//! One request to a runner and the calls back into the server it makes before it answers: each callback is
//! served by the [`Host`] on the calling (driver) thread, so a script's `redis.execute` or cell update is
//! an ordinary engine call. The request's time limit is enforced here: past it the runner is interrupted
//! (SIGINT), and past the grace period after that it is killed.

use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{json, Value};

use super::host::{host, Host, HostValue, Swapped};
use super::pacing::Contention;
use super::process::{Process, RecvError};
use super::wire::{bstr, sbytes, In, Out};

/// Why a request did not give a result.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// The script raised an error (its text); the runner is fine.
    Script(String),
    /// Past its time limit. `killed`: the runner did not stop when asked and was killed.
    TimedOut { killed: bool },
    /// The script hit `script-memory-limit` (and recovered).
    Memory,
    /// The runner process is gone: why.
    Died(String),
}

impl Failure {
    /// The error reply's text (without `ERR `).
    pub fn message(&self) -> String {
        match self {
            Failure::Script(s) => s.clone(),
            Failure::TimedOut { .. } => "script timed out".into(),
            Failure::Memory => "script memory limit reached".into(),
            Failure::Died(why) => format!("script runner died: {why}"),
        }
    }

    /// Whether the runner process is gone after this failure.
    pub fn lost_runner(&self) -> bool {
        matches!(self, Failure::Died(_) | Failure::TimedOut { killed: true })
    }
}

/// Whether a runner's callbacks change anything: a runner other than the first replays `begin()` so its
/// module's globals are set, but the shared state it writes was written once, by the first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Replay,
}

/// Sends `frame` and serves the runner's callbacks until its answer. `limit` bounds the whole exchange.
pub fn exchange(
    p: &mut Process,
    frame: Vec<u8>,
    mode: Mode,
    limit: Duration,
    grace: Duration,
    spin: Duration,
    contention: &Contention,
) -> Result<In, Failure> {
    let mut deadline = Instant::now() + limit;
    match p.send(&frame, deadline) {
        Ok(()) => {}
        Err(RecvError::Gone(why)) => return Err(Failure::Died(why)),
        Err(RecvError::Timeout) => {
            p.kill();
            return Err(Failure::TimedOut { killed: true });
        }
    }
    let mut interrupted = false;
    loop {
        let msg = match p.recv(deadline, spin) {
            Ok(m) => m,
            Err(RecvError::Gone(why)) => {
                return Err(if interrupted {
                    Failure::TimedOut { killed: true }
                } else {
                    Failure::Died(why)
                })
            }
            Err(RecvError::Timeout) if !interrupted => {
                p.interrupt();
                interrupted = true;
                deadline = Instant::now() + grace;
                continue;
            }
            Err(RecvError::Timeout) => {
                p.kill();
                return Err(Failure::TimedOut { killed: true });
            }
        };
        match msg.op() {
            "ok" | "result" if interrupted => return Err(Failure::TimedOut { killed: false }),
            "ok" | "result" => return Ok(msg),
            "error" => {
                return Err(match msg.str("kind") {
                    "timeout" => Failure::TimedOut { killed: false },
                    "memory" => Failure::Memory,
                    _ if interrupted => Failure::TimedOut { killed: false },
                    _ => Failure::Script(msg.str("message").to_string()),
                })
            }
            _ => {
                let reply = if interrupted {
                    let mut out = Out::new("error", &p.shm);
                    out.set("timeout", Value::Bool(true))
                        .set("message", json!("script timed out"));
                    out.frame()
                } else {
                    serve(&msg, p, mode, contention)
                };
                match p.send(&reply, deadline + grace) {
                    Ok(()) => {}
                    Err(RecvError::Gone(why)) => return Err(Failure::Died(why)),
                    Err(RecvError::Timeout) => {
                        p.kill();
                        return Err(Failure::TimedOut { killed: true });
                    }
                }
            }
        }
    }
}

/// Answers one callback.
fn serve(msg: &In, p: &Process, mode: Mode, contention: &Contention) -> Vec<u8> {
    let result = match host() {
        None => Err("no server to call into".to_string()),
        Some(h) => callback(h, msg, p, mode, contention),
    };
    match result {
        Ok(out) => out,
        Err(e) => {
            let mut out = Out::new("error", &p.shm);
            out.set("message", Value::String(e));
            out.frame()
        }
    }
}

fn value_reply(p: &Process, v: Value) -> Vec<u8> {
    let mut out = Out::new("value", &p.shm);
    out.set("value", v);
    out.frame()
}

fn opt_bytes(v: Option<Bytes>) -> Value {
    v.map(|b| bstr(&b)).unwrap_or(Value::Null)
}

fn callback(
    h: &dyn Host,
    msg: &In,
    p: &Process,
    mode: Mode,
    contention: &Contention,
) -> Result<Vec<u8>, String> {
    let live = mode == Mode::Live;
    let swapped = |s: Swapped| {
        contention.swapped(s.done);
        swapped(s)
    };
    let v = match msg.op() {
        "execute" => {
            let argv: Vec<Bytes> = msg.header["argv"]
                .as_array()
                .ok_or("runner message: bad argv")?
                .iter()
                .map(|a| sbytes(a).map(Bytes::from))
                .collect::<Option<_>>()
                .ok_or("runner message: bad argv")?;
            let value = if !live && h.writes(&argv) {
                HostValue::Nil
            } else {
                h.execute(argv)?
            };
            host_value(&value)
        }
        "model_execute" => {
            let key = msg.bytes("key")?;
            let inputs = msg.tensors(&p.shm)?;
            let outputs = h.model_execute(&key, inputs)?;
            let mut out = Out::new("value", &p.shm);
            out.set_tensors("tensors", outputs.iter())
                .map_err(|e| format!("runner shared memory: {e}"))?;
            return Ok(out.frame());
        }
        "cell_get" => opt_bytes(h.cell_get(&msg.bytes("name")?)?),
        "cell_swap" => {
            let (name, old, new) = (msg.bytes("name")?, msg.opt_bytes("old")?, msg.bytes("new")?);
            swapped(if live {
                h.cell_swap(&name, old.as_deref(), &new)?
            } else {
                replayed(new)
            })
        }
        "pool_get" => opt_bytes(h.pool_get(&msg.bytes("name")?, &msg.bytes("field")?)?),
        "pool_swap" => {
            let (name, field) = (msg.bytes("name")?, msg.bytes("field")?);
            let (old, new) = (msg.opt_bytes("old")?, msg.bytes("new")?);
            swapped(if live {
                h.pool_swap(&name, &field, old.as_deref(), &new)?
            } else {
                replayed(new)
            })
        }
        "pool_keys" => Value::Array(
            h.pool_keys(&msg.bytes("name")?)?
                .iter()
                .map(|k| bstr(k))
                .collect(),
        ),
        "pool_delete" => {
            let (name, field) = (msg.bytes("name")?, msg.bytes("field")?);
            Value::Bool(live && h.pool_delete(&name, &field)?)
        }
        other => return Err(format!("unknown runner callback '{other}'")),
    };
    Ok(value_reply(p, v))
}

/// A swap's answer: `[done, text]` (text: what is stored now, null when unset).
fn swapped(s: Swapped) -> Value {
    json!([s.done, opt_bytes(s.text)])
}

/// A swap during a replayed `begin()`: reported done, nothing written.
fn replayed(new: Vec<u8>) -> Swapped {
    Swapped {
        done: true,
        text: Some(Bytes::from(new)),
    }
}

/// A command's reply as the protocol carries it: text as JSON strings, binary as `{"$b": ...}`.
fn host_value(v: &HostValue) -> Value {
    match v {
        HostValue::Nil => Value::Null,
        HostValue::Int(i) => json!(i),
        HostValue::Text(t) => Value::String(t.clone()),
        HostValue::Bytes(b) => json!({"$b": bstr(b)}),
        HostValue::List(items) => Value::Array(items.iter().map(host_value).collect()),
    }
}
