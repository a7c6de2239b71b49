//! The values a key can hold. Big values sit behind `Arc` so a reader clones a pointer under the keyspace
//! lock and does its work (encoding a tensor reply, running a model) after releasing it.

use std::sync::Arc;

use bytes::Bytes;

use crate::model::Model;
use crate::script::Script;
use crate::state::{Cell, Pool};
use crate::tensor::Tensor;

#[derive(Debug, Clone)]
pub enum Value {
    Str(Bytes),
    Tensor(Arc<Tensor>),
    Model(Arc<Model>),
    Script(Arc<Script>),
    Cell(Arc<Cell>),
    /// Updated in place with `Arc::make_mut` (copied only while a reader still holds it).
    Pool(Arc<Pool>),
}

/// The kind of a value, for TYPE, SCAN TYPE and per-kind counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    String = 0,
    Tensor = 1,
    Model = 2,
    Cell = 3,
    Pool = 4,
    Script = 5,
}

impl ValueKind {
    pub const COUNT: usize = 6;
    pub const ALL: [ValueKind; Self::COUNT] = [
        ValueKind::String,
        ValueKind::Tensor,
        ValueKind::Model,
        ValueKind::Cell,
        ValueKind::Pool,
        ValueKind::Script,
    ];

    /// The name TYPE answers (RedisAI's 9-character module type names for AI values).
    pub fn type_name(self) -> &'static str {
        match self {
            ValueKind::String => "string",
            ValueKind::Tensor => "AI_TENSOR",
            ValueKind::Model => "AI__MODEL",
            ValueKind::Cell => "AI___CELL",
            ValueKind::Pool => "AI___POOL",
            ValueKind::Script => "AI_SCRIPT",
        }
    }
}

impl Value {
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Str(_) => ValueKind::String,
            Value::Tensor(_) => ValueKind::Tensor,
            Value::Model(_) => ValueKind::Model,
            Value::Cell(_) => ValueKind::Cell,
            Value::Pool(_) => ValueKind::Pool,
            Value::Script(_) => ValueKind::Script,
        }
    }

    /// Approximate bytes held, for memory accounting.
    pub fn mem_size(&self) -> usize {
        match self {
            Value::Str(b) => b.len(),
            Value::Tensor(t) => t.mem_size(),
            Value::Model(m) => m.mem_size(),
            Value::Cell(c) => c.mem_size(),
            Value::Pool(p) => p.mem_size(),
            Value::Script(s) => s.mem_size(),
        }
    }
}

/// Makes an argument safe to keep in the keyspace. Arguments of at least [`crate::resp::request::BIG_ARG`]
/// bytes were read into their own allocation and are kept as they are (no copy); smaller ones are slices of
/// a shared read buffer, copied so one small value cannot pin a whole buffer.
pub fn own(b: Bytes) -> Bytes {
    if b.len() >= crate::resp::request::BIG_ARG {
        b
    } else {
        Bytes::copy_from_slice(&b)
    }
}
