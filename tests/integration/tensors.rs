//! AI.TENSORSET / AI.TENSORGET: every dtype, BLOB, VALUES, META, reply shapes, and every error in RedisAI's
//! reference, plus the deliberate differences (negative INT VALUES, size limits).

use redis::Value;

use crate::common::{err_text, q, qerr, Server};
use crate::strings::{effects, tap};

fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

#[test]
fn every_dtype_round_trips_through_blob_and_values() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    let cases: [(&str, &str, Vec<u8>); 10] = [
        (
            "FLOAT",
            "1.5 -2",
            [1.5f32.to_le_bytes(), (-2f32).to_le_bytes()].concat(),
        ),
        (
            "DOUBLE",
            "1.5 -2",
            [1.5f64.to_le_bytes(), (-2f64).to_le_bytes()].concat(),
        ),
        ("INT8", "-128 127", vec![0x80, 0x7f]),
        (
            "INT16",
            "-1 300",
            [(-1i16).to_le_bytes(), 300i16.to_le_bytes()].concat(),
        ),
        (
            "INT32",
            "-5 70000",
            [(-5i32).to_le_bytes(), 70000i32.to_le_bytes()].concat(),
        ),
        (
            "INT64",
            "-9223372036854775808 9223372036854775807",
            [i64::MIN.to_le_bytes(), i64::MAX.to_le_bytes()].concat(),
        ),
        ("UINT8", "0 255", vec![0, 255]),
        (
            "UINT16",
            "1 65535",
            [1u16.to_le_bytes(), 65535u16.to_le_bytes()].concat(),
        ),
        ("BOOL", "1 0", vec![1, 0]),
        ("STRING", "ab c", b"ab\0c\0".to_vec()),
    ];
    for (dtype, values, blob) in cases {
        assert_eq!(
            q::<String>(&mut c, &format!("AI.TENSORSET v {dtype} 2 VALUES {values}")).unwrap(),
            "OK"
        );
        let got: Vec<u8> = q(&mut c, "AI.TENSORGET v BLOB").unwrap();
        assert_eq!(got, blob, "{dtype} VALUES -> BLOB");
        redis::cmd("AI.TENSORSET")
            .arg("b")
            .arg(dtype.to_lowercase())
            .arg(2)
            .arg("BLOB")
            .arg(&blob)
            .query::<()>(&mut c)
            .unwrap();
        let meta: Vec<Value> = q(&mut c, "AI.TENSORGET b META VALUES").unwrap();
        assert_eq!(
            meta[..4],
            [
                bulk("dtype"),
                bulk(dtype),
                bulk("shape"),
                Value::Array(vec![Value::Int(2)])
            ]
        );
        assert_eq!(meta[4], bulk("values"));
        let vals: Vec<String> = q(&mut c, "AI.TENSORGET b VALUES").unwrap();
        assert_eq!(vals.join(" "), values, "{dtype} BLOB -> VALUES");
    }
    let eff = effects(&mut c, 1).pop().unwrap();
    assert_eq!(
        eff[..5],
        ["AI.TENSORSET", "b", "STRING", "2", "BLOB"],
        "tensors propagate as BLOB TENSORSETs"
    );
}

#[test]
fn reply_shapes() {
    let s = Server::start();
    let mut c = s.con();
    q::<String>(&mut c, "AI.TENSORSET t FLOAT 2 3 VALUES 1 2 3 4 5 6").unwrap();
    let dflt: Vec<Value> = q(&mut c, "AI.TENSORGET t").unwrap();
    assert_eq!(dflt.len(), 6, "no format means META BLOB");
    assert_eq!(dflt[3], Value::Array(vec![Value::Int(2), Value::Int(3)]));
    assert_eq!(dflt[4], bulk("blob"));
    let meta: Vec<Value> = q(&mut c, "AI.TENSORGET t META").unwrap();
    assert_eq!(meta.len(), 4);
    let mb: Vec<Value> = q(&mut c, "AI.TENSORGET t BLOB META").unwrap();
    assert_eq!(mb.len(), 6);
    let vals: Vec<Value> = q(&mut c, "AI.TENSORGET t VALUES").unwrap();
    assert_eq!(vals[0], bulk("1"), "FLOAT values are bulk strings in RESP2");
    q::<String>(&mut c, "AI.TENSORSET f FLOAT 1 VALUES 5.1").unwrap();
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET f VALUES").unwrap(),
        vec!["5.099999904632568"]
    );
    // 0-d scalar, zero fill, STRING fill.
    q::<String>(&mut c, "AI.TENSORSET sc FLOAT VALUES 7").unwrap();
    let m: Vec<Value> = q(&mut c, "AI.TENSORGET sc META").unwrap();
    assert_eq!(m[3], Value::Array(vec![]));
    q::<String>(&mut c, "AI.TENSORSET z INT32 3").unwrap();
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET z VALUES").unwrap(),
        vec![0, 0, 0]
    );
    q::<String>(&mut c, "AI.TENSORSET e STRING 2").unwrap();
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET e VALUES").unwrap(),
        vec!["", ""]
    );
    // RESP3: doubles, and still flat arrays.
    let mut c3 = s.con3();
    let v3: Vec<Value> = q(&mut c3, "AI.TENSORGET t META VALUES").unwrap();
    assert_eq!(
        v3[5],
        Value::Array((1..=6).map(|i| Value::Double(i as f64)).collect())
    );
}

#[test]
fn tensorset_errors() {
    let s = Server::start();
    let mut c = s.con();
    q::<String>(&mut c, "SET str v").unwrap();
    let e = |c: &mut redis::Connection, l: &str| qerr(c, l);
    assert_eq!(
        e(&mut c, "AI.TENSORSET"),
        "ERR wrong number of arguments for 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k"),
        "ERR wrong number of arguments for 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT"),
        "ERR wrong number of arguments for 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "ai.tensorset k FLOAT"),
        "ERR wrong number of arguments for 'ai.tensorset' command",
        "argv[0] as typed"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET str INT32 2 unsupported 2 3"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k INT128 2"),
        "ERR invalid data type"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k UINT32 2"),
        "ERR invalid data type"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 2 bad"),
        "ERR invalid or negative value found in tensor shape"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT -1"),
        "ERR invalid or negative value found in tensor shape"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 0"),
        "ERR invalid or negative value found in tensor shape"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 2 BLOB"),
        "ERR a single binary string should come after the BLOB argument in 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 1 BLOB abcd extra"),
        "ERR a single binary string should come after the BLOB argument in 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 2 BLOB abc"),
        "ERR data length does not match tensor shape and type"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 2 VALUES 1"),
        "ERR wrong number of values was given in 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 2 VALUES 1 2 3"),
        "ERR wrong number of values was given in 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT VALUES"),
        "ERR wrong number of values was given in 'AI.TENSORSET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 1 VALUES abc"),
        "ERR invalid value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k INT8 2 VALUES 1 1.87"),
        "ERR invalid value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k INT8 1 VALUES 128"),
        "ERR invalid value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k UINT8 1 VALUES -1"),
        "ERR invalid value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k UINT16 1 VALUES 65536"),
        "ERR invalid value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k BOOL 1 VALUES 2"),
        "ERR invalid value"
    );
    let bad_bool = redis::cmd("AI.TENSORSET")
        .arg("k")
        .arg("BOOL")
        .arg(2)
        .arg("BLOB")
        .arg(&[1u8, 2][..])
        .query::<()>(&mut c);
    assert_eq!(
        err_text(bad_bool.unwrap_err()),
        "ERR BOOL tensor elements must be 0 or 1"
    );
    let bad_str = redis::cmd("AI.TENSORSET")
        .arg("k")
        .arg("STRING")
        .arg(2)
        .arg("BLOB")
        .arg(&b"a\0b"[..])
        .query::<()>(&mut c);
    assert_eq!(
        err_text(bad_str.unwrap_err()),
        "ERR Number of string elements in data blob does not match tensor length"
    );
    let nul = redis::cmd("AI.TENSORSET")
        .arg("k")
        .arg("STRING")
        .arg(1)
        .arg("VALUES")
        .arg(&b"a\0b"[..])
        .query::<()>(&mut c);
    assert_eq!(
        err_text(nul.unwrap_err()),
        "ERR C-string value contains null character"
    );
    let trailing = redis::cmd("AI.TENSORSET")
        .arg("k")
        .arg("STRING")
        .arg(1)
        .arg("VALUES")
        .arg(&b"ab\0"[..])
        .query::<String>(&mut c);
    assert_eq!(trailing.unwrap(), "OK", "one trailing NUL is allowed");
    // Deliberate differences from RedisAI: negative INT VALUES work; oversized shapes are refused up front.
    assert_eq!(
        q::<String>(&mut c, "AI.TENSORSET neg INT8 2 VALUES -1 -128").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET neg VALUES").unwrap(),
        vec![-1, -128]
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k FLOAT 4294967296 4294967296"),
        "ERR tensor is too large: its size exceeds proto-max-bulk-len"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORSET k DOUBLE 100000 100000"),
        "ERR tensor is too large: its size exceeds proto-max-bulk-len"
    );
    assert_eq!(
        q::<i64>(&mut c, "EXISTS k").unwrap(),
        1,
        "only the valid STRING set above created k"
    );
}

#[test]
fn tensorget_errors() {
    let s = Server::start();
    let mut c = s.con();
    q::<String>(&mut c, "SET str v").unwrap();
    q::<String>(&mut c, "AI.TENSORSET t FLOAT 1").unwrap();
    let e = |c: &mut redis::Connection, l: &str| qerr(c, l);
    assert_eq!(
        e(&mut c, "AI.TENSORGET"),
        "ERR wrong number of arguments for 'AI.TENSORGET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORGET t META BLOB VALUES extra"),
        "ERR wrong number of arguments for 'AI.TENSORGET' command"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORGET nokey"),
        "ERR tensor key is empty or in a different shard"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORGET nokey bad"),
        "ERR tensor key is empty or in a different shard",
        "key checked first"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORGET str bad"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORGET t bad"),
        "ERR unsupported data format"
    );
    assert_eq!(
        e(&mut c, "AI.TENSORGET t BLOB VALUES"),
        "ERR both BLOB and VALUES specified"
    );
}

#[test]
fn big_tensor_blob_round_trip() {
    let s = Server::start();
    let mut c = s.con();
    let n = 1_000_000usize;
    let data: Vec<u8> = (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect();
    redis::cmd("AI.TENSORSET")
        .arg("big")
        .arg("FLOAT")
        .arg(1000)
        .arg(1000)
        .arg("BLOB")
        .arg(&data)
        .query::<()>(&mut c)
        .unwrap();
    let got: Vec<u8> = q(&mut c, "AI.TENSORGET big BLOB").unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data);
    let info: String = q(&mut c, "INFO ai").unwrap();
    assert!(info.contains("ai_tensors:1"), "{info}");
}
