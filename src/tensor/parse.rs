//! AI.TENSORSET argument parsing, shared by the command and (later) DAG ops, with RedisAI's checks in its
//! order and its error texts.

use bytes::{BufMut, Bytes, BytesMut};

use super::{DType, Tensor};
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use crate::util::{eq_ic, parse_f64, parse_i64};

/// Limits the parser enforces before allocating anything.
#[derive(Debug, Clone, Copy)]
pub struct TensorSetArgs {
    /// `proto-max-bulk-len`: the largest tensor, in bytes, a TENSORSET may create.
    pub max_bytes: usize,
}

fn e(text: &str) -> CmdError {
    CmdError::err(text)
}

/// Parses `<type> [dim ...] [BLOB <data> | VALUES <v> ...]` (the key has been consumed) into a tensor.
pub fn parse_tensorset(args: &mut Args, limits: TensorSetArgs) -> CmdResult<Tensor> {
    let dtype = DType::parse(&args.bytes()?).ok_or_else(|| e("invalid data type"))?;
    let mut shape = Vec::new();
    let mut mode = None;
    while let Some(tok) = args.next() {
        if eq_ic(&tok, "BLOB") || eq_ic(&tok, "VALUES") {
            mode = Some(tok);
            break;
        }
        match parse_i64(&tok) {
            Some(d) if d > 0 => shape.push(d as usize),
            _ => return Err(e("invalid or negative value found in tensor shape")),
        }
    }
    // Refuse shapes whose size overflows or exceeds the bulk limit before any allocation.
    let elements = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
    let bytes = elements.and_then(|n| n.checked_mul(dtype.size().unwrap_or(1)));
    if bytes.is_none_or(|b| b > limits.max_bytes) {
        return Err(e(
            "tensor is too large: its size exceeds proto-max-bulk-len",
        ));
    }
    let n = elements.unwrap_or(0);
    let data = match mode {
        None => zero_filled(dtype, n),
        Some(m) if eq_ic(&m, "BLOB") => {
            if args.remaining() != 1 {
                return Err(e(
                    "a single binary string should come after the BLOB argument in 'AI.TENSORSET' command",
                ));
            }
            let blob = crate::keyspace::own(args.bytes()?);
            check_blob(dtype, n, &blob)?;
            blob
        }
        Some(_) => {
            let values = args.rest();
            if values.len() != n {
                return Err(e(
                    "wrong number of values was given in 'AI.TENSORSET' command",
                ));
            }
            encode_values(dtype, &values)?
        }
    };
    Ok(Tensor { dtype, shape, data })
}

fn zero_filled(dtype: DType, n: usize) -> Bytes {
    // STRING elements are empty strings: just their terminators. Numeric zeros are all-zero bytes.
    Bytes::from(vec![0u8; n * dtype.size().unwrap_or(1)])
}

/// Validates a BLOB against the shape and type.
pub fn check_blob(dtype: DType, n: usize, blob: &[u8]) -> CmdResult<()> {
    match dtype.size() {
        Some(size) => {
            if blob.len() != n * size {
                return Err(e("data length does not match tensor shape and type"));
            }
            // RedisAI skips the last byte (its loop stops at len - 1); we check every element.
            if dtype == DType::Bool && blob.iter().any(|&b| b > 1) {
                return Err(e("BOOL tensor elements must be 0 or 1"));
            }
        }
        None => {
            let count = blob.iter().filter(|&&b| b == 0).count();
            if blob.last() != Some(&0) || count != n {
                return Err(e(
                    "Number of string elements in data blob does not match tensor length",
                ));
            }
        }
    }
    Ok(())
}

/// Encodes VALUES arguments as a blob of `dtype`. Negative INT values are accepted (commands.md).
fn encode_values(dtype: DType, values: &[Bytes]) -> CmdResult<Bytes> {
    let invalid = || e("invalid value");
    let mut out = BytesMut::with_capacity(values.len() * dtype.size().unwrap_or(8));
    for v in values {
        match dtype {
            DType::Float => out.put_f32_le(parse_f64(v).ok_or_else(invalid)? as f32),
            DType::Double => out.put_f64_le(parse_f64(v).ok_or_else(invalid)?),
            DType::String => {
                let body = v.strip_suffix(b"\0").unwrap_or(v);
                if body.contains(&0) {
                    return Err(e("C-string value contains null character"));
                }
                out.put_slice(body);
                out.put_u8(0);
            }
            _ => {
                let i = parse_i64(v).ok_or_else(invalid)?;
                let (lo, hi) = int_range(dtype);
                if i < lo || i > hi {
                    return Err(invalid());
                }
                match dtype {
                    DType::Int8 => out.put_i8(i as i8),
                    DType::Int16 => out.put_i16_le(i as i16),
                    DType::Int32 => out.put_i32_le(i as i32),
                    DType::Int64 => out.put_i64_le(i),
                    DType::Uint8 | DType::Bool => out.put_u8(i as u8),
                    DType::Uint16 => out.put_u16_le(i as u16),
                    DType::Float | DType::Double | DType::String => unreachable!("handled above"),
                }
            }
        }
    }
    Ok(out.freeze())
}

fn int_range(dtype: DType) -> (i64, i64) {
    match dtype {
        DType::Int8 => (i8::MIN.into(), i8::MAX.into()),
        DType::Int16 => (i16::MIN.into(), i16::MAX.into()),
        DType::Int32 => (i32::MIN.into(), i32::MAX.into()),
        DType::Uint8 => (0, u8::MAX.into()),
        DType::Uint16 => (0, u16::MAX.into()),
        DType::Bool => (0, 1),
        _ => (i64::MIN, i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> CmdResult<Tensor> {
        let argv = std::iter::once("K")
            .chain(line.split(' '))
            .map(|s| Bytes::copy_from_slice(s.as_bytes()));
        let mut a = Args::new(argv.collect());
        parse_tensorset(
            &mut a,
            TensorSetArgs {
                max_bytes: 512 << 20,
            },
        )
    }

    #[test]
    fn values_encode_little_endian() {
        let t = parse("INT16 2 VALUES -1 300").unwrap();
        assert_eq!(&t.data[..], &[0xff, 0xff, 0x2c, 0x01]);
        let t = parse("float 1 VALUES 1.5").unwrap();
        assert_eq!(&t.data[..], &1.5f32.to_le_bytes());
        let t = parse("STRING 2 VALUES a b").unwrap();
        assert_eq!(&t.data[..], b"a\0b\0");
        assert_eq!(
            t.strings().collect::<Vec<_>>(),
            vec![Bytes::from("a"), Bytes::from("b")]
        );
    }

    #[test]
    fn scalar_and_zero_fill() {
        let t = parse("FLOAT VALUES 1").unwrap();
        assert!(t.shape.is_empty());
        assert_eq!(t.len(), 1);
        let t = parse("INT32 2 3").unwrap();
        assert_eq!(t.data.len(), 24);
    }

    #[test]
    fn errors_match_redisai() {
        let err = |l: &str| parse(l).unwrap_err().line();
        assert_eq!(err("FLOATX 2"), "ERR invalid data type");
        assert_eq!(err("UINT32 2"), "ERR invalid data type");
        assert_eq!(
            err("FLOAT 0"),
            "ERR invalid or negative value found in tensor shape"
        );
        assert_eq!(
            err("FLOAT -2"),
            "ERR invalid or negative value found in tensor shape"
        );
        assert_eq!(
            err("FLOAT 2 VALUES 1"),
            "ERR wrong number of values was given in 'AI.TENSORSET' command"
        );
        assert_eq!(err("INT8 2 VALUES 1 1.87"), "ERR invalid value");
        assert_eq!(err("INT8 1 VALUES 128"), "ERR invalid value");
        assert_eq!(err("UINT8 1 VALUES -1"), "ERR invalid value");
        assert_eq!(err("FLOAT 2 BLOB"), "ERR a single binary string should come after the BLOB argument in 'AI.TENSORSET' command");
        assert_eq!(
            err("FLOAT 2 BLOB abc"),
            "ERR data length does not match tensor shape and type"
        );
        assert_eq!(
            err("BOOL 2 BLOB \u{1}\u{2}"),
            "ERR BOOL tensor elements must be 0 or 1"
        );
        assert_eq!(
            err("FLOAT 4294967296 4294967296"),
            "ERR tensor is too large: its size exceeds proto-max-bulk-len"
        );
        assert_eq!(
            err("FLOAT 9223372036854775807 2"),
            "ERR tensor is too large: its size exceeds proto-max-bulk-len"
        );
    }

    #[test]
    fn negative_ints_are_accepted() {
        let t = parse("INT8 2 VALUES -1 -128").unwrap();
        assert_eq!(&t.data[..], &[0xff, 0x80]);
    }
}
