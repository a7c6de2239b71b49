//! One record per key, the unit of every snapshot: each value type with what it takes to rebuild it (a model
//! keeps its original blob and options, a script its source and the state it has touched), in MessagePack.
//! Records borrow their big fields from the frame they were read from, so loading a tensor copies nothing.
//! The Redis module's rdb_save/rdb_load will use the same records.

use std::sync::Arc;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_bytes::Bytes as Raw;

use crate::keyspace::{Entry, Value};
use crate::model::{self, Backend, BatchOptions};
use crate::state::{Cell, Pool};
use crate::tensor::{DType, Tensor};

/// The first record of a keyspace snapshot.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub created_ms: u64,
    /// Replication id and effect-stream offset the snapshot corresponds to (for replicas).
    pub replid: String,
    pub offset: u64,
    pub keys: u64,
}

#[derive(Debug, Serialize, Deserialize)]
pub enum Record<'a> {
    Str {
        #[serde(borrow)]
        key: &'a Raw,
        expire: Option<u64>,
        value: &'a Raw,
    },
    Tensor {
        key: &'a Raw,
        expire: Option<u64>,
        dtype: &'a str,
        shape: Vec<u64>,
        data: &'a Raw,
    },
    Model {
        key: &'a Raw,
        expire: Option<u64>,
        backend: &'a str,
        device: &'a Raw,
        tag: &'a Raw,
        batch: (u64, u64, u64),
        blob: &'a Raw,
    },
    Script {
        key: &'a Raw,
        expire: Option<u64>,
        device: &'a Raw,
        tag: &'a Raw,
        entry_points: Vec<String>,
        source: &'a Raw,
        /// (kind, name) of each cell and pool it touched.
        state: Vec<(String, serde_bytes::ByteBuf)>,
        /// `PYTHON` or `R` (files from before runner processes have none: Python).
        #[serde(default)]
        language: Option<String>,
        /// RUNNERS n (0 in older files: 1).
        #[serde(default)]
        runners: u64,
    },
    Cell {
        key: &'a Raw,
        expire: Option<u64>,
        json: String,
    },
    Pool {
        key: &'a Raw,
        expire: Option<u64>,
        fields: Vec<(&'a Raw, String)>,
    },
}

fn json(v: &serde_json::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// The record of one key.
pub fn record_of<'a>(key: &'a [u8], e: &'a Entry) -> Record<'a> {
    let key = Raw::new(key);
    let expire = e.expire_at;
    match &e.value {
        Value::Str(v) => Record::Str {
            key,
            expire,
            value: Raw::new(v),
        },
        Value::Tensor(t) => Record::Tensor {
            key,
            expire,
            dtype: t.dtype.name(),
            shape: t.shape.iter().map(|&d| d as u64).collect(),
            data: Raw::new(&t.data),
        },
        Value::Model(m) => Record::Model {
            key,
            expire,
            backend: m.backend.name(),
            device: Raw::new(&m.device),
            tag: Raw::new(&m.tag),
            batch: (
                m.batch.batchsize,
                m.batch.minbatchsize,
                m.batch.minbatchtimeout,
            ),
            blob: Raw::new(&m.blob),
        },
        Value::Script(s) => Record::Script {
            key,
            expire,
            device: Raw::new(&s.device),
            tag: Raw::new(&s.tag),
            entry_points: s.entry_points.clone(),
            source: Raw::new(&s.source),
            // The lock-free copy: this may run in a forked child (the module's RDB save).
            state: s
                .state
                .entries()
                .iter()
                .map(|(k, n)| (k.to_string(), serde_bytes::ByteBuf::from(n.to_vec())))
                .collect(),
            language: Some(s.language().name().to_string()),
            runners: s.runners.target() as u64,
        },
        Value::Cell(c) => Record::Cell {
            key,
            expire,
            json: json(&c.value),
        },
        Value::Pool(p) => Record::Pool {
            key,
            expire,
            fields: p
                .fields
                .iter()
                .map(|(f, v)| (Raw::new(f), json(v)))
                .collect(),
        },
    }
}

/// One key's record on its own, as a snapshot writes it (the Redis module's rdb_save and DUMP payload).
pub fn encode_one(key: &[u8], value: &Value) -> Vec<u8> {
    let entry = Entry {
        value: value.clone(),
        expire_at: None,
    };
    rmp_serde::to_vec(&record_of(key, &entry)).expect("a record always encodes")
}

/// The key and value back from [`encode_one`]'s bytes: a model is loaded and a script compiled, nothing runs.
pub fn decode_one(frame: Bytes, threads: crate::model::Threads) -> Result<(Bytes, Value), String> {
    let rec: Record<'_> = rmp_serde::from_slice(&frame).map_err(|e| format!("bad record: {e}"))?;
    let (key, entry) = entry_of(rec, &frame, threads)?;
    Ok((key, entry.value))
}

/// Rebuilds a key from its record. `frame` is the payload the record was decoded from (big fields become
/// slices of it). Models are loaded and scripts compiled, but nothing runs: a script's `begin()` is left to
/// the caller ([`crate::commands::run_begins`]).
pub fn entry_of(
    rec: Record<'_>,
    frame: &Bytes,
    threads: crate::model::Threads,
) -> Result<(Bytes, Entry), String> {
    let bytes = |r: &Raw| frame.slice_ref(r);
    let parse_json = |s: &str| {
        serde_json::from_str::<serde_json::Value>(s)
            .map_err(|e| format!("bad JSON in a record: {e}"))
    };
    let (key, expire_at, value) = match rec {
        Record::Str { key, expire, value } => (key, expire, Value::Str(bytes(value))),
        Record::Tensor {
            key,
            expire,
            dtype,
            shape,
            data,
        } => {
            let dtype = DType::parse(dtype.as_bytes()).ok_or("unknown tensor type")?;
            let t = Tensor {
                dtype,
                shape: shape.iter().map(|&d| d as usize).collect(),
                data: bytes(data),
            };
            if dtype.size().is_some_and(|s| s * t.len() != t.data.len()) {
                return Err("tensor data does not match its shape".into());
            }
            (key, expire, Value::Tensor(Arc::new(t)))
        }
        Record::Model {
            key,
            expire,
            backend,
            device,
            tag,
            batch,
            blob,
        } => {
            let backend = Backend::parse(backend.as_bytes()).ok_or("unknown model backend")?;
            let batch = BatchOptions {
                batchsize: batch.0,
                minbatchsize: batch.1,
                minbatchtimeout: batch.2,
            };
            let m = model::load(
                backend,
                bytes(device),
                bytes(tag),
                batch,
                bytes(blob),
                threads,
            )
            .map_err(|e| format!("model {}: {e}", String::from_utf8_lossy(key)))?;
            (key, expire, Value::Model(Arc::new(m)))
        }
        Record::Script {
            key,
            expire,
            device,
            tag,
            entry_points,
            source,
            state,
            language,
            runners,
        } => {
            let language = match language.as_deref() {
                None => crate::runner::Language::Python,
                Some(l) => crate::runner::Language::parse(l.as_bytes())
                    .ok_or_else(|| format!("unknown script language {l}"))?,
            };
            let s = crate::script::new(crate::script::Parts {
                key: bytes(key),
                device: bytes(device),
                tag: bytes(tag),
                language,
                runners: runners.clamp(1, crate::runner::MAX_RUNNERS as u64) as usize,
                entry_points,
                source: bytes(source),
            })
            .map_err(|e| format!("script {}: {e}", String::from_utf8_lossy(key)))?;
            {
                let mut st = s.state.lock();
                for (kind, name) in state {
                    let Some(kind) = crate::script::state_kind(kind.as_bytes()) else {
                        continue;
                    };
                    st.insert((kind, Bytes::from(name.into_vec())));
                }
            }
            (key, expire, Value::Script(Arc::new(s)))
        }
        Record::Cell { key, expire, json } => (
            key,
            expire,
            Value::Cell(Arc::new(Cell {
                value: parse_json(&json)?,
            })),
        ),
        Record::Pool {
            key,
            expire,
            fields,
        } => {
            let mut p = Pool::default();
            for (f, v) in fields {
                p.set(bytes(f), parse_json(&v)?);
            }
            (key, expire, Value::Pool(Arc::new(p)))
        }
    };
    Ok((bytes(key), Entry { value, expire_at }))
}
