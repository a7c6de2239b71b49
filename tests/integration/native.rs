//! The Python runner's native half (src/runner/python/native): runners load it from beside the server (or
//! the module) and serve calls through it; every kind of call gives the same answers with it and without it
//! (`script-python-native no`), including the ones it hands back to the pure-Python code (string tensors,
//! tensors in shared memory, big-endian outputs) and callbacks. `cargo build --workspace` builds it; without
//! it the first test skips with a message, unless TENSORCELL_REQUIRE_NATIVE=1 (scripts/test sets it).

use redis::Value;

use crate::common::{q, qerr, Server};
use crate::runners::store;

const SCRIPT: &str = r#"
import numpy as np

def add(tensors, keys, args):
    return tensors[0] + tensors[1]

def mixed(tensors, keys, args):
    # a float output, a big-endian one, a string one, and the keys and arguments seen as text
    a = tensors[0]
    a[0, 0] = 100  # inputs are writable arrays
    words = np.array([k for k in keys] + [x for x in args])
    return [a * 2, a.astype(">i4"), words]

def big(tensors, keys, args):
    # 4096 floats each way: both cross through shared memory
    return tensors[0] + 1

def calls_back(tensors, keys, args):
    redis.execute("SET", keys[0], "from-script")
    n = int(redis.execute("INCRBY", "counter", 5))
    return np.array([n], dtype=np.int64)

def fails(tensors, keys, args):
    raise ValueError("no good " + args[0])

def nothing(tensors, keys, args):
    return None

def kinds(tensors, keys, args):
    # BOOL and INT8 in and out, a transposed (not C-contiguous) output, inputs that own their data
    b, i = tensors
    owns = all(t.flags.owndata and t.flags.writeable for t in tensors)
    t = np.arange(6, dtype=np.float32).reshape(2, 3).T
    return [~b, i * 2, t, np.array([owns, b.dtype == np.bool_, i.dtype == np.int8])]

def hungry(tensors, keys, args):
    # past script-memory-limit inside a callback's answer: a MemoryError the script can catch
    try:
        redis.execute("GET", "huge")
    except MemoryError:
        return np.array([1], dtype=np.int8)
    return np.array([0], dtype=np.int8)
"#;

/// The `native=` field of the script's `INFO ai` line.
fn native_of(c: &mut redis::Connection, key: &str) -> String {
    let info: String = q(c, "INFO ai").unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with(&format!("ai_script_{key}:")))
        .unwrap_or_else(|| panic!("INFO ai has no line for {key}: {info}"));
    line.rsplit("native=").next().unwrap().trim().to_string()
}

fn floats(c: &mut redis::Connection, key: &str) -> Vec<f32> {
    let blob: Vec<u8> = redis::cmd("AI.TENSORGET")
        .arg(key)
        .arg("BLOB")
        .query(c)
        .unwrap();
    blob.chunks(4)
        .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
        .collect()
}

/// Every kind of call on one server; `native` is what its INFO line must say.
fn calls_work(s: &Server, native: &str) {
    let mut c = s.con();
    assert_eq!(
        store(
            &mut c,
            "nat",
            &[],
            &[
                "add",
                "mixed",
                "big",
                "calls_back",
                "fails",
                "nothing",
                "kinds"
            ],
            SCRIPT
        ),
        "OK"
    );
    let set = |c: &mut redis::Connection, key: &str, vals: &[f32], shape: &[usize]| {
        let blob: Vec<u8> = vals.iter().flat_map(|v| v.to_le_bytes()).collect();
        let mut cmd = redis::cmd("AI.TENSORSET");
        cmd.arg(key).arg("FLOAT").arg(shape).arg("BLOB").arg(blob);
        let _: String = cmd.query(c).unwrap();
    };
    set(&mut c, "a", &[1.0, 2.0, 3.0, 4.0], &[2, 2]);
    set(&mut c, "b", &[10.0, 20.0, 30.0, 40.0], &[2, 2]);

    // The common call: small float tensors in and out.
    let _: String = q(
        &mut c,
        "AI.SCRIPTEXECUTE nat add INPUTS 2 a b OUTPUTS 1 sum",
    )
    .unwrap();
    assert_eq!(floats(&mut c, "sum"), [11.0, 22.0, 33.0, 44.0]);
    let meta: Vec<Value> = q(&mut c, "AI.TENSORGET sum META").unwrap();
    assert_eq!(meta[3], Value::Array(vec![Value::Int(2), Value::Int(2)]));

    // Outputs the fast path leaves to Python: a big-endian array and strings; keys and args as text.
    let _: String = redis::cmd("AI.SCRIPTEXECUTE")
        .arg("nat")
        .arg("mixed")
        .arg("KEYS")
        .arg(1)
        .arg("k\u{e9}")
        .arg("INPUTS")
        .arg(1)
        .arg("a")
        .arg("ARGS")
        .arg(1)
        .arg(&b"x\xffy"[..])
        .arg("OUTPUTS")
        .arg(3)
        .arg("o1")
        .arg("o2")
        .arg("o3")
        .query(&mut c)
        .unwrap();
    assert_eq!(floats(&mut c, "o1"), [200.0, 4.0, 6.0, 8.0]);
    let ints: Vec<i64> = q(&mut c, "AI.TENSORGET o2 VALUES").unwrap();
    assert_eq!(ints, [100, 2, 3, 4]);
    let meta: Vec<Value> = q(&mut c, "AI.TENSORGET o2 META").unwrap();
    assert_eq!(meta[1], Value::BulkString(b"INT32".to_vec()));
    let words: Vec<String> = q(&mut c, "AI.TENSORGET o3 VALUES").unwrap();
    assert_eq!(words, ["k\u{e9}", "x\u{fffd}y"]);
    // The input tensor itself was not changed by the script's write to its array.
    assert_eq!(floats(&mut c, "a"), [1.0, 2.0, 3.0, 4.0]);

    // Tensors big enough for shared memory, in and out.
    let many: Vec<f32> = (0..4096).map(|i| i as f32).collect();
    set(&mut c, "m", &many, &[1, 4096]);
    let _: String = q(&mut c, "AI.SCRIPTEXECUTE nat big INPUTS 1 m OUTPUTS 1 m1").unwrap();
    let got = floats(&mut c, "m1");
    assert_eq!(got.len(), 4096);
    assert!(got.iter().enumerate().all(|(i, v)| *v == i as f32 + 1.0));

    // Callbacks during a call, errors, and no outputs.
    let _: String = q(&mut c, "SET counter 1").unwrap();
    let _: String = q(
        &mut c,
        "AI.SCRIPTEXECUTE nat calls_back KEYS 1 written OUTPUTS 1 n",
    )
    .unwrap();
    let n: Vec<i64> = q(&mut c, "AI.TENSORGET n VALUES").unwrap();
    assert_eq!(n, [6]);
    assert_eq!(q::<String>(&mut c, "GET written").unwrap(), "from-script");
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE nat fails KEYS 1 x ARGS 1 here"),
        "ERR ValueError: no good here"
    );
    let _: String = q(&mut c, "AI.SCRIPTEXECUTE nat nothing KEYS 1 x").unwrap();
    // The runner survived all of it: the same process answers the next call.
    let _: String = q(
        &mut c,
        "AI.SCRIPTEXECUTE nat add INPUTS 2 b b OUTPUTS 1 sum",
    )
    .unwrap();
    assert_eq!(floats(&mut c, "sum"), [20.0, 40.0, 60.0, 80.0]);

    // Other dtypes, and an output numpy does not hold in C order.
    let _: String = q(&mut c, "AI.TENSORSET bools BOOL 3 VALUES 1 0 1").unwrap();
    let _: String = q(&mut c, "AI.TENSORSET small INT8 2 VALUES -1 60").unwrap();
    let _: String = q(
        &mut c,
        "AI.SCRIPTEXECUTE nat kinds INPUTS 2 bools small OUTPUTS 4 k1 k2 k3 k4",
    )
    .unwrap();
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET k1 VALUES").unwrap(),
        [0, 1, 0]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET k2 VALUES").unwrap(),
        [-2, 120]
    );
    let meta: Vec<Value> = q(&mut c, "AI.TENSORGET k2 META").unwrap();
    assert_eq!(meta[1], Value::BulkString(b"INT8".to_vec()));
    assert_eq!(floats(&mut c, "k3"), [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    let meta: Vec<Value> = q(&mut c, "AI.TENSORGET k3 META").unwrap();
    assert_eq!(meta[3], Value::Array(vec![Value::Int(3), Value::Int(2)]));
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET k4 VALUES").unwrap(),
        [1, 1, 1]
    );
    assert_eq!(native_of(&mut c, "nat"), native);
}

/// A callback's answer too big for `script-memory-limit`: the script gets a MemoryError it can handle and
/// its runner goes on serving, with the native half as without it.
fn memory_limit_holds(extra: &[&str]) {
    // A debug build takes seconds to move 100 MB through a callback's JSON answer.
    let mut args = vec![
        "--script-memory-limit",
        "256mb",
        "--script-time-limit",
        "60000",
    ];
    args.extend(extra);
    let s = Server::with_args(&args);
    let mut c = s.con();
    c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
        .unwrap();
    assert_eq!(store(&mut c, "nat", &[], &["hungry", "add"], SCRIPT), "OK");
    let _: String = redis::cmd("SET")
        .arg("huge")
        .arg(vec![b'x'; 100 << 20])
        .query(&mut c)
        .unwrap();
    let _: String = q(
        &mut c,
        "AI.SCRIPTEXECUTE nat hungry KEYS 1 huge OUTPUTS 1 ok",
    )
    .unwrap();
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET ok VALUES").unwrap(),
        [1]
    );
    let _: String = q(&mut c, "AI.TENSORSET a FLOAT 2 VALUES 1 2").unwrap();
    let _: String = q(&mut c, "AI.SCRIPTEXECUTE nat add INPUTS 2 a a OUTPUTS 1 s").unwrap();
    assert_eq!(floats(&mut c, "s"), [2.0, 4.0]);
    let restarts = q::<Vec<Value>>(&mut c, "AI.INFO nat").unwrap();
    let at = restarts
        .iter()
        .position(|v| v == &Value::BulkString(b"restarts".to_vec()))
        .unwrap();
    assert_eq!(restarts[at + 1], Value::Int(0), "the runner was restarted");
}

/// Whether the native half was built beside the binary the tests run (cargo build --workspace).
fn have_native() -> bool {
    let dir = std::path::Path::new(env!("CARGO_BIN_EXE_tensorcell-server"))
        .parent()
        .unwrap()
        .to_path_buf();
    let ok = dir.join("lib_tensorcell_native.so").is_file();
    if !ok {
        assert!(
            std::env::var("TENSORCELL_REQUIRE_NATIVE").as_deref() != Ok("1"),
            "lib_tensorcell_native.so is missing beside the server: run cargo build --workspace"
        );
        eprintln!(
            "SKIP native runner test: no lib_tensorcell_native.so beside the server (cargo build --workspace)"
        );
    }
    ok
}

#[test]
fn runners_serve_calls_through_the_native_half() {
    if !have_native() {
        return;
    }
    calls_work(&Server::start(), "1");
    memory_limit_holds(&[]);
}

#[test]
fn runners_without_the_native_half_give_the_same_answers() {
    calls_work(&Server::with_args(&["--script-python-native", "no"]), "0");
    memory_limit_holds(&["--script-python-native", "no"]);
}

#[test]
fn a_native_half_that_cannot_load_leaves_runners_in_pure_python() {
    let s = Server::with_args(&[
        "--script-python-native",
        "/nonexistent/lib_tensorcell_native.so",
    ]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "p", &[], &["add"], SCRIPT), "OK");
    assert_eq!(native_of(&mut c, "p"), "0");
    assert!(
        s.wait_log("cannot load their native half (ImportError: /nonexistent/"),
        "no warning that the native half did not load"
    );
}
