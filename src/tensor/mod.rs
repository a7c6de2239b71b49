//! Tensors: a dtype, a shape and a contiguous little-endian row-major blob, as RedisAI stores them.
//!
//! The blob is `Bytes`, so a tensor set with `BLOB` keeps the bytes the request parser read (no copy) and a
//! TENSORGET BLOB reply hands the same bytes to the encoder.

mod parse;
mod reply;

use bytes::Bytes;

pub use parse::{check_blob, parse_tensorset, TensorSetArgs};
pub use reply::{tensor_reply, TensorFormat};

/// Tensor element types (RedisAI's set; no UINT32/UINT64, as RedisAI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    Float,
    Double,
    Int8,
    Int16,
    Int32,
    Int64,
    Uint8,
    Uint16,
    Bool,
    String,
}

impl DType {
    pub const ALL: [DType; 10] = [
        DType::Float,
        DType::Double,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::Uint8,
        DType::Uint16,
        DType::Bool,
        DType::String,
    ];

    /// Parses a type name case-insensitively (`float`, `INT32`, ...).
    pub fn parse(name: &[u8]) -> Option<DType> {
        let upper = name.to_ascii_uppercase();
        DType::ALL
            .into_iter()
            .find(|d| d.name().as_bytes() == upper.as_slice())
    }

    /// The canonical name replies use.
    pub fn name(self) -> &'static str {
        match self {
            DType::Float => "FLOAT",
            DType::Double => "DOUBLE",
            DType::Int8 => "INT8",
            DType::Int16 => "INT16",
            DType::Int32 => "INT32",
            DType::Int64 => "INT64",
            DType::Uint8 => "UINT8",
            DType::Uint16 => "UINT16",
            DType::Bool => "BOOL",
            DType::String => "STRING",
        }
    }

    /// Bytes per element; `None` for STRING, whose elements vary in length.
    pub fn size(self) -> Option<usize> {
        Some(match self {
            DType::Float | DType::Int32 => 4,
            DType::Double | DType::Int64 => 8,
            DType::Int8 | DType::Uint8 | DType::Bool => 1,
            DType::Int16 | DType::Uint16 => 2,
            DType::String => return None,
        })
    }
}

/// An immutable tensor value.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub dtype: DType,
    pub shape: Vec<usize>,
    /// Row-major little-endian elements; for STRING, the elements each terminated by `\0`.
    pub data: Bytes,
}

impl Tensor {
    /// Number of elements: the product of the shape (1 for a 0-d scalar).
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Approximate bytes held.
    pub fn mem_size(&self) -> usize {
        self.data.len() + self.shape.len() * 8 + 48
    }

    /// The STRING elements, without their terminators.
    pub fn strings(&self) -> impl Iterator<Item = Bytes> + '_ {
        let mut start = 0;
        let data = &self.data;
        std::iter::from_fn(move || {
            if start >= data.len() {
                return None;
            }
            let end = data[start..]
                .iter()
                .position(|&b| b == 0)
                .map_or(data.len(), |p| start + p);
            let s = data.slice(start..end);
            start = end + 1;
            Some(s)
        })
    }
}
