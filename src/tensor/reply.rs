//! AI.TENSORGET reply shapes: META, BLOB, VALUES and their combinations, as RedisAI sends them (flat
//! key/value arrays in both protocols; FLOAT/DOUBLE values are doubles, so bulk strings in RESP2).

use super::{DType, Tensor};
use crate::reply::Reply;

/// Which parts of a tensor a TENSORGET asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TensorFormat {
    pub meta: bool,
    pub blob: bool,
    pub values: bool,
}

impl TensorFormat {
    /// TENSORGET's format arguments (any order, repeatable), with RedisAI's errors.
    pub fn parse(args: &[bytes::Bytes]) -> crate::error::CmdResult<TensorFormat> {
        use crate::error::CmdError;
        use crate::util::eq_ic;
        let mut format = TensorFormat::default();
        for a in args {
            if eq_ic(a, "META") {
                format.meta = true;
            } else if eq_ic(a, "BLOB") {
                format.blob = true;
            } else if eq_ic(a, "VALUES") {
                format.values = true;
            } else {
                return Err(CmdError::err("unsupported data format"));
            }
        }
        if format.blob && format.values {
            return Err(CmdError::err("both BLOB and VALUES specified"));
        }
        Ok(format)
    }
}

/// Builds the reply for `format`; no format argument means `META BLOB`.
pub fn tensor_reply(t: &Tensor, mut format: TensorFormat) -> Reply {
    if !format.meta && !format.blob && !format.values {
        format = TensorFormat {
            meta: true,
            blob: true,
            values: false,
        };
    }
    let payload = if format.blob {
        Some(("blob", Reply::Bulk(t.data.clone())))
    } else if format.values {
        Some(("values", Reply::Array(values(t))))
    } else {
        None
    };
    if !format.meta {
        return payload.map(|(_, r)| r).unwrap_or(Reply::Array(vec![]));
    }
    let shape = Reply::Array(t.shape.iter().map(|&d| Reply::Int(d as i64)).collect());
    let mut out = vec![
        Reply::lit("dtype"),
        Reply::lit(t.dtype.name()),
        Reply::lit("shape"),
        shape,
    ];
    if let Some((name, r)) = payload {
        out.push(Reply::lit(name));
        out.push(r);
    }
    Reply::Array(out)
}

fn values(t: &Tensor) -> Vec<Reply> {
    let d = &t.data[..];
    macro_rules! each {
        ($ty:ty, $n:expr, $map:expr) => {
            d.chunks_exact($n)
                .map(|c| $map(<$ty>::from_le_bytes(c.try_into().expect("exact chunk"))))
                .collect()
        };
    }
    match t.dtype {
        DType::Float => each!(f32, 4, |v: f32| Reply::Double(f64::from(v))),
        DType::Double => each!(f64, 8, Reply::Double),
        DType::Int8 => each!(i8, 1, |v: i8| Reply::Int(v.into())),
        DType::Int16 => each!(i16, 2, |v: i16| Reply::Int(v.into())),
        DType::Int32 => each!(i32, 4, |v: i32| Reply::Int(v.into())),
        DType::Int64 => each!(i64, 8, Reply::Int),
        DType::Uint8 | DType::Bool => each!(u8, 1, |v: u8| Reply::Int(v.into())),
        DType::Uint16 => each!(u16, 2, |v: u16| Reply::Int(v.into())),
        DType::String => t.strings().map(Reply::Bulk).collect::<Vec<_>>(),
    }
}
