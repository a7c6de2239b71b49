//! What a running script can reach of the server ([`crate::script::Host`]): `redis.execute` runs a command
//! through the normal dispatch (policy, execute, propagate) as an internal client; `redisAI.model_execute`
//! runs a stored model on the runner's driver thread; cells and pools are read, and written by
//! compare-and-swap, so `update(fn)` from concurrent runners never loses a write while Python never holds the
//! keyspace lock. Every write is propagated as an effect through `dispatch::commit`.

use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::commands::dispatch;
use crate::commands::{lookup, word, Effects, Event, Events};
use crate::config::notify;
use crate::keyspace::Value;
use crate::reply::Reply;
use crate::script::{Host, HostValue, Swapped};
use crate::shared::Shared;
use crate::state::{self, Cell, Pool};
use crate::tensor::Tensor;

/// The engine side of scripts.
pub struct EngineHost {
    shared: Arc<Shared>,
}

impl EngineHost {
    pub fn new(shared: Arc<Shared>) -> Self {
        EngineHost { shared }
    }

    /// Refuses a callback on `key` that the node says lies outside the running script's reach (Redis
    /// Cluster: another slot than the script's key), before it is read, written or recorded as state.
    fn confined(&self, key: &[u8]) -> Result<(), String> {
        match crate::runner::host::home() {
            Some(home) => match self.shared.node.confines(&home, key) {
                Some(e) => Err(e.line()),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// A callback on the cell or pool `name`: within the script's reach, then noted as the script's state.
    fn touch(&self, kind: &'static str, name: &[u8]) -> Result<(), String> {
        self.confined(name)?;
        crate::script::touched(kind, name);
        Ok(())
    }
}

fn host_value(r: Reply) -> Result<HostValue, String> {
    Ok(match r {
        Reply::Error(e) => return Err(e.line()),
        Reply::Nil | Reply::NilArray => HostValue::Nil,
        Reply::Int(i) => HostValue::Int(i),
        Reply::Bool(b) => HostValue::Int(i64::from(b)),
        Reply::Simple(s) => HostValue::Text(s.to_string()),
        Reply::Status(s) | Reply::Verbatim(s) => HostValue::Text(s),
        Reply::Double(d) => HostValue::Text(crate::util::fmt_f64(d)),
        Reply::Bulk(b) => match String::from_utf8(b.to_vec()) {
            Ok(t) => HostValue::Text(t),
            Err(e) => HostValue::Bytes(e.into_bytes()),
        },
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) | Reply::Many(v) => {
            HostValue::List(v.into_iter().map(host_value).collect::<Result<_, _>>()?)
        }
        Reply::Map(kv) => HostValue::List(
            kv.into_iter()
                .flat_map(|(k, v)| [host_value(k), host_value(v)])
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// Whether `key` holds another kind of value than `ok` accepts (the WRONGTYPE case).
fn wrong_type(v: Option<&Value>, ok: fn(&Value) -> bool) -> Result<(), String> {
    match v {
        Some(v) if !ok(v) => Err(crate::error::CmdError::WrongType.line()),
        _ => Ok(()),
    }
}

impl Host for EngineHost {
    fn writes(&self, argv: &[Bytes]) -> bool {
        match argv.first().and_then(|name| lookup(name)) {
            Some(spec) => spec.has(crate::commands::flags::WRITE),
            // Not in the table: the front end knows (inside Redis, Redis's own commands).
            None => self.shared.node.writes(argv).unwrap_or(false),
        }
    }

    fn execute(&self, argv: Vec<Bytes>) -> Result<HostValue, String> {
        let Some(first) = argv.first() else {
            return Err("ERR redis.execute needs a command".into());
        };
        // As Redis: what would take over or stop the connection, the server or a transaction is not for scripts.
        if lookup(first).is_some_and(|s| s.has(crate::commands::flags::NOSCRIPT)) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        // A blocking command would wait for a worker, possibly this one: scripts use model_execute instead.
        if let Some(spec) = lookup(first).filter(|s| s.has(crate::commands::flags::BLOCKING)) {
            return Err(format!(
                "ERR '{}' cannot be called from a script (use redisAI.model_execute for models)",
                spec.name
            ));
        }
        let user = crate::runner::host::caller();
        host_value(
            self.shared
                .node
                .execute(&self.shared, user.as_deref(), argv),
        )
    }

    fn model_execute(&self, key: &[u8], inputs: Vec<Tensor>) -> Result<Vec<Tensor>, String> {
        thread_local! {
            static STATES: RefCell<crate::model::onnx::States> = RefCell::default();
        }
        self.confined(key)?;
        let model = match dispatch::read(&self.shared, |s| s.get(key).cloned()) {
            Some(Value::Model(m)) => m,
            Some(_) => return Err(crate::error::CmdError::WrongType.line()),
            None => return Err("ERR model key is empty".into()),
        };
        let refs: Vec<&Tensor> = inputs.iter().collect();
        let limit = Duration::from_millis(self.shared.pool.exec_timeout_ms);
        let start = Instant::now();
        let result = model.onnx.check_inputs(&refs).and_then(|()| {
            STATES.with(|s| {
                model.onnx.run(
                    model.id,
                    &mut s.borrow_mut(),
                    &refs,
                    (!limit.is_zero()).then_some(limit),
                )
            })
        });
        let samples = result
            .as_ref()
            .ok()
            .and_then(|o| o.first())
            .and_then(|t| t.shape.first().copied())
            .unwrap_or(0) as u64;
        model
            .stats
            .record(start.elapsed().as_micros() as u64, samples, result.is_err());
        result
    }

    fn cell_get(&self, name: &[u8]) -> Result<Option<Bytes>, String> {
        self.touch("cell", name)?;
        dispatch::read(&self.shared, |s| {
            let v = s.get(name);
            wrong_type(v, |v| matches!(v, Value::Cell(_)))?;
            Ok(match v {
                Some(Value::Cell(c)) => Some(state::text(&c.value)),
                _ => None,
            })
        })
    }

    fn cell_swap(&self, name: &[u8], old: Option<&[u8]>, new: &[u8]) -> Result<Swapped, String> {
        self.touch("cell", name)?;
        let value = state::parse(new).ok_or("ERR invalid JSON value")?;
        let key = Bytes::copy_from_slice(name);
        dispatch::commit(
            &self.shared,
            Some(Err(crate::error::CmdError::ReadOnly.line())),
            |db| {
                let current = db.get(&key);
                if let Err(e) = wrong_type(current, |v| matches!(v, Value::Cell(_))) {
                    return (Err(e), Effects::new(), Events::new());
                }
                let text = match current {
                    Some(Value::Cell(c)) => Some(state::text(&c.value)),
                    _ => None,
                };
                if text.as_deref() != old {
                    let miss = Swapped { done: false, text };
                    return (Ok(miss), Effects::new(), Events::new());
                }
                let canonical = state::text(&value);
                db.set(key.clone(), Value::Cell(Arc::new(Cell { value })));
                let done = Swapped {
                    done: true,
                    text: Some(canonical.clone()),
                };
                let effect = vec![word("AI.CELLSET"), key.clone(), canonical];
                let event = Event {
                    class: notify::MODULE,
                    name: "ai.cellset",
                    key,
                };
                (
                    Ok(done),
                    Effects::from_elem(effect, 1),
                    Events::from_elem(event, 1),
                )
            },
        )
    }

    fn pool_get(&self, name: &[u8], field: &[u8]) -> Result<Option<Bytes>, String> {
        self.touch("pool", name)?;
        dispatch::read(&self.shared, |s| {
            let v = s.get(name);
            wrong_type(v, |v| matches!(v, Value::Pool(_)))?;
            Ok(match v {
                Some(Value::Pool(p)) => p.fields.get(field).map(state::text),
                _ => None,
            })
        })
    }

    fn pool_swap(
        &self,
        name: &[u8],
        field: &[u8],
        old: Option<&[u8]>,
        new: &[u8],
    ) -> Result<Swapped, String> {
        self.touch("pool", name)?;
        let value = state::parse(new).ok_or("ERR invalid JSON value")?;
        let (key, field) = (Bytes::copy_from_slice(name), Bytes::copy_from_slice(field));
        dispatch::commit(
            &self.shared,
            Some(Err(crate::error::CmdError::ReadOnly.line())),
            |db| {
                let current = db.get(&key);
                if let Err(e) = wrong_type(current, |v| matches!(v, Value::Pool(_))) {
                    return (Err(e), Effects::new(), Events::new());
                }
                let exists = current.is_some();
                let text = match current {
                    Some(Value::Pool(p)) => p.fields.get(&field).map(state::text),
                    _ => None,
                };
                if text.as_deref() != old {
                    let miss = Swapped { done: false, text };
                    return (Ok(miss), Effects::new(), Events::new());
                }
                let canonical = state::text(&value);
                let done = Swapped {
                    done: true,
                    text: Some(canonical.clone()),
                };
                let mut value = Some(value);
                let mut put = |mut pool: Arc<Pool>| {
                    let v = value.take().expect("one swap");
                    Arc::make_mut(&mut pool).set(field.clone(), v);
                    Value::Pool(pool)
                };
                if exists {
                    // Taken out of the keyspace first: the pool changes in place unless a reader holds it.
                    db.modify(&key, &mut |v| match v {
                        Value::Pool(pool) => Some(put(pool)),
                        other => Some(other),
                    });
                } else {
                    let pool = put(Arc::new(Pool::default()));
                    db.set(key.clone(), pool);
                }
                let effect = vec![word("AI.POOLSET"), key.clone(), field, canonical];
                let event = Event {
                    class: notify::MODULE,
                    name: "ai.poolset",
                    key,
                };
                (
                    Ok(done),
                    Effects::from_elem(effect, 1),
                    Events::from_elem(event, 1),
                )
            },
        )
    }

    fn pool_keys(&self, name: &[u8]) -> Result<Vec<Bytes>, String> {
        self.touch("pool", name)?;
        dispatch::read(&self.shared, |s| {
            let v = s.get(name);
            wrong_type(v, |v| matches!(v, Value::Pool(_)))?;
            Ok(match v {
                Some(Value::Pool(p)) => p.fields.keys().cloned().collect(),
                _ => Vec::new(),
            })
        })
    }

    fn pool_delete(&self, name: &[u8], field: &[u8]) -> Result<bool, String> {
        self.touch("pool", name)?;
        let mut argv = vec![word("AI.POOLDEL"), Bytes::copy_from_slice(name)];
        argv.push(Bytes::copy_from_slice(field));
        match self.execute(argv)? {
            HostValue::Int(n) => Ok(n > 0),
            _ => Ok(false),
        }
    }
}
