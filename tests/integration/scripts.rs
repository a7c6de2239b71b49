//! Python scripts over TCP: SCRIPTSTORE/SCRIPTSET/SCRIPTGET/SCRIPTDEL/SCRIPTEXECUTE/SCRIPTRUN/_SCRIPTSCAN,
//! numpy arrays of every dtype both ways, Python errors, AI.INFO, effects, and the server staying up.

use redis::Value;

use crate::common::{q, qerr, Server};
use crate::models::tensorget;
use crate::strings::tap;

const SOURCE: &str = r#"
import numpy as np

def add(tensors, keys, args):
    a, b = tensors
    return a + b

def echo(tensors, keys, args):
    return list(tensors)

def labels(tensors, keys, args):
    return [np.array(keys + args, dtype=object), np.array([len(keys), len(args)], dtype=np.int64)]

def nothing(tensors, keys, args):
    return None

def boom(tensors, keys, args):
    raise ValueError("bad input " + ",".join(args))

def wrong(tensors, keys, args):
    return np.zeros(2, dtype=np.uint32)

def two(a, b):
    return a
"#;

fn store(c: &mut redis::Connection, key: &str, eps: &[&str]) -> redis::RedisResult<String> {
    redis::cmd("AI.SCRIPTSTORE")
        .arg(key)
        .arg("CPU")
        .arg("TAG")
        .arg("v1")
        .arg("ENTRY_POINTS")
        .arg(eps.len())
        .arg(eps)
        .arg("SOURCE")
        .arg(SOURCE)
        .query(c)
}

#[test]
fn scripts_store_get_run_and_delete() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    assert_eq!(
        store(
            &mut c,
            "s",
            &["add", "echo", "labels", "nothing", "boom", "wrong"]
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(q::<String>(&mut c, "TYPE s").unwrap(), "AI_SCRIPT");
    let meta: Vec<Value> = q(&mut c, "AI.SCRIPTGET s META").unwrap();
    assert_eq!(meta.len(), 6);
    assert_eq!(
        redis::from_redis_value::<String>(meta[4].clone()).unwrap(),
        "Entry Points"
    );
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(meta[5].clone()).unwrap(),
        ["add", "echo", "labels", "nothing", "boom", "wrong"]
    );
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTGET s SOURCE").unwrap(),
        SOURCE
    );
    assert_eq!(q::<Vec<Value>>(&mut c, "AI.SCRIPTGET s").unwrap().len(), 8);

    q::<()>(&mut c, "AI.TENSORSET a FLOAT 2 VALUES 1 2").unwrap();
    q::<()>(&mut c, "AI.TENSORSET b FLOAT 2 VALUES 3 4.5").unwrap();
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 2 a b OUTPUTS 1 sum").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET sum VALUES").unwrap(),
        ["4", "6.5"]
    );
    let words: Vec<Vec<u8>> = crate::strings::effects_raw(&mut c, 1).remove(0);
    assert_eq!(
        &words[..5],
        [&b"AI.TENSORSET"[..], b"sum", b"FLOAT", b"2", b"BLOB"],
        "outputs propagate as data"
    );

    assert_eq!(
        q::<String>(
            &mut c,
            "AI.SCRIPTEXECUTE s labels KEYS 2 k1 k2 INPUTS 1 a ARGS 1 x OUTPUTS 2 names counts"
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET names VALUES").unwrap(),
        ["k1", "k2", "x"]
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET counts VALUES").unwrap(),
        [2, 1]
    );
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE s nothing KEYS 1 k").unwrap(),
        "OK"
    );

    // Python errors come back with their type and message; the server carries on.
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE s boom INPUTS 1 a ARGS 2 p q"),
        "ERR ValueError: bad input p,q"
    );
    let e = qerr(&mut c, "AI.SCRIPTEXECUTE s wrong INPUTS 1 a OUTPUTS 1 w");
    assert!(e.contains("TypeError") && e.contains("uint32"), "{e}");
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 2 a b OUTPUTS 2 x y"),
        "ERR 1 outputs were produced but OUTPUTS names 2"
    );
    let e = qerr(&mut c, "AI.SCRIPTEXECUTE s missing INPUTS 1 a");
    assert!(e.starts_with("ERR AttributeError"), "{e}");
    let info: Vec<Value> = q(&mut c, "AI.INFO s").unwrap();
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(Value::Array(info[..10].to_vec())).unwrap(),
        ["key", "s", "type", "SCRIPT", "backend", "PYTHON", "device", "CPU", "tag", "v1"]
    );
    assert_eq!(
        (&info[13], &info[15], &info[17]),
        (&Value::Int(-1), &Value::Int(7), &Value::Int(3))
    );

    let scan: Vec<(String, String)> = q(&mut c, "AI._SCRIPTSCAN").unwrap();
    assert_eq!(scan, vec![("s".to_string(), "v1".to_string())]);
    assert_eq!(q::<String>(&mut c, "AI.SCRIPTDEL s").unwrap(), "OK");
    assert_eq!(qerr(&mut c, "AI.SCRIPTGET s"), "ERR script key is empty");
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
}

#[test]
fn numpy_arrays_of_every_dtype_both_ways() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(store(&mut c, "s", &["echo"]).unwrap(), "OK");
    let cases = [
        ("FLOAT", "2 2", "1.5 -2 3 4"),
        ("DOUBLE", "3", "1e300 -0.5 0"),
        ("INT8", "3", "-128 0 127"),
        ("INT16", "2", "-32768 32767"),
        ("INT32", "2", "-2147483648 2147483647"),
        ("INT64", "2", "-9223372036854775808 9223372036854775807"),
        ("UINT8", "2", "0 255"),
        ("UINT16", "2", "0 65535"),
        ("BOOL", "3", "1 0 1"),
        ("STRING", "2", "hello tensor"),
    ];
    for (i, (dtype, shape, values)) in cases.iter().enumerate() {
        q::<()>(
            &mut c,
            &format!("AI.TENSORSET in{i} {dtype} {shape} VALUES {values}"),
        )
        .unwrap();
        assert_eq!(
            q::<String>(
                &mut c,
                &format!("AI.SCRIPTEXECUTE s echo INPUTS 1 in{i} OUTPUTS 1 out{i}")
            )
            .unwrap(),
            "OK",
            "{dtype}"
        );
        assert_eq!(
            tensorget(&mut c, &format!("out{i}")),
            tensorget(&mut c, &format!("in{i}")),
            "{dtype} comes back bit for bit"
        );
    }
}

#[test]
fn script_command_errors_follow_redisai() {
    let s = Server::start();
    let mut c = s.con();
    let x = |c: &mut redis::Connection, line: &str| qerr(c, line);
    assert_eq!(
        x(&mut c, "AI.SCRIPTSTORE s CPU SOURCE x"),
        "ERR wrong number of arguments for 'AI.SCRIPTSTORE' command"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTSTORE s CPU TAG t NOTEPS 1 f SOURCE x"),
        "ERR Insufficient arguments, missing script entry points"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTSTORE s CPU ENTRY_POINTS x f SOURCE x"),
        "ERR Non numeric entry points number provided to AI.SCRIPTSTORE command"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTSTORE s CPU ENTRY_POINTS 3 f g SOURCE x"),
        "ERR Insufficient arguments, missing script entry points"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTSTORE s CPU ENTRY_POINTS 1 f NOSOURCE x"),
        "ERR Insufficient arguments, missing script SOURCE"
    );
    assert!(store(&mut c, "s", &["two"])
        .unwrap_err()
        .to_string()
        .contains("Wrong number of inputs in function two. Expected 3 but was 2"));
    assert!(store(&mut c, "s", &["nope"])
        .unwrap_err()
        .to_string()
        .contains("Function nope does not exist in the given script."));
    let e = x(&mut c, "AI.SCRIPTSTORE s CPU ENTRY_POINTS 1 f SOURCE def");
    assert!(e.starts_with("ERR SyntaxError"), "{e}");
    q::<()>(&mut c, "SET str x").unwrap();
    assert!(store(&mut c, "str", &["add"])
        .unwrap_err()
        .to_string()
        .contains("WRONGTYPE"));
    assert_eq!(store(&mut c, "s", &["add"]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET a FLOAT 1 VALUES 1").unwrap();
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s"),
        "ERR wrong number of arguments for 'AI.SCRIPTEXECUTE' command"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE nokey add INPUTS 1 a"),
        "ERR script key is empty"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE str add INPUTS 1 a"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add OUTPUTS 1 y"),
        "ERR KEYS or INPUTS scope must be provided first for AI.SCRIPTEXECUTE command"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add KEYS"),
        "ERR Missing arguments after KEYS keyword"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add KEYS 0 k"),
        "ERR Invalid or negative value found in number of KEYS"
    );
    assert_eq!(x(&mut c, "AI.SCRIPTEXECUTE s add KEYS 3 k"), "ERR Number of pre declared KEYS to be used in the command does not match the number of given arguments");
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a INPUTS 1 a"),
        "ERR Already Encountered INPUTS scope in AI.SCRIPTEXECUTE command"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS x a"),
        "ERR Invalid argument for inputs count in AI.SCRIPTEXECUTE"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a ARGS x"),
        "ERR Invalid argument for keys count in AI.SCRIPTEXECUTE"
    );
    assert_eq!(x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a OUTPUTS 2 y"), "ERR number of outputs to AI.SCRIPTEXECUTE command does not match the number of given arguments");
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a OUTPUTS"),
        "ERR Invalid arguments provided to AI.SCRIPTEXECUTE"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a TIMEOUT"),
        "ERR No value provided for TIMEOUT in AI.SCRIPTEXECUTE"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a TIMEOUT 0"),
        "ERR Invalid value for TIMEOUT"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a TIMEOUT 5 x"),
        "ERR Encountered problem parsing AI.SCRIPTEXECUTE"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 a BOGUS"),
        "ERR Invalid AI.SCRIPTEXECUTE command. Unexpected argument: BOGUS"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTEXECUTE s add INPUTS 1 nosuch"),
        "ERR tensor key is empty or in a different shard"
    );
    // Deprecated forms.
    q::<()>(&mut c, "AI.TENSORSET b FLOAT 1 VALUES 2").unwrap();
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTRUN s add INPUTS a b OUTPUTS c").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET c VALUES").unwrap(),
        ["3"]
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTRUN s add OUTPUTS c $ a"),
        "ERR Encountered a variable size list of tensors outside of input section"
    );
    assert_eq!(
        x(&mut c, "AI.SCRIPTSET s2 CPU SOURCE"),
        "ERR wrong number of arguments for 'AI.SCRIPTSET' command"
    );
    redis::cmd("AI.SCRIPTSET")
        .arg("old")
        .arg("CPU")
        .arg("SOURCE")
        .arg(SOURCE)
        .query::<()>(&mut c)
        .unwrap();
    let meta: Vec<Value> = q(&mut c, "AI.SCRIPTGET old META").unwrap();
    assert_eq!(meta[5], Value::Array(vec![]), "no entry points");
    // Blocking script commands are refused inside a transaction.
    let mut raw = s.raw();
    raw.expect(
        b"MULTI\r\nAI.SCRIPTEXECUTE s add INPUTS 2 a b OUTPUTS 1 c\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n-ERR Cannot run RedisAI command within a transaction or a LUA script\r\n",
    );
}

#[test]
fn python_scripts_can_be_disabled() {
    let s = Server::with_args(&["--enable-python-scripts", "no"]);
    let mut c = s.con();
    assert!(store(&mut c, "s", &["add"])
        .unwrap_err()
        .to_string()
        .contains("Python scripts are disabled"));
    q::<()>(
        &mut c,
        &format!(
            "CONFIG SET {} yes",
            crate::common::ai_config("enable-python-scripts")
        ),
    )
    .unwrap();
    assert_eq!(store(&mut c, "s", &["add"]).unwrap(), "OK");
}

#[test]
fn runaway_scripts_are_interrupted() {
    let s = Server::with_args(&["--script-time-limit", "300"]);
    let mut c = s.con();
    let src = "def spin(tensors, keys, args):\n    while True:\n        try:\n            pass\n        except Exception:\n            pass\n\ndef quick(tensors, keys, args):\n    return None\n";
    redis::cmd("AI.SCRIPTSTORE")
        .arg("s")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(2)
        .arg("spin")
        .arg("quick")
        .arg("SOURCE")
        .arg(src)
        .query::<()>(&mut c)
        .unwrap();
    // A script that never returns (and swallows Exception) is stopped at script-time-limit ...
    let mut runaway = s.raw();
    runaway.send(b"AI.SCRIPTEXECUTE s spin KEYS 1 k\r\n");
    // ... while the server keeps serving others.
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
    runaway.expect(b"", b"-ERR script timed out\r\n");
    // TIMEOUT bounds the run too; the worker is free again afterwards.
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE s spin KEYS 1 k TIMEOUT 100"),
        "ERR script timed out"
    );
    for _ in 0..5 {
        assert_eq!(
            q::<String>(&mut c, "AI.SCRIPTEXECUTE s quick KEYS 1 k").unwrap(),
            "OK"
        );
    }
    let info: Vec<Value> = q(&mut c, "AI.INFO s").unwrap();
    assert_eq!((&info[15], &info[17]), (&Value::Int(7), &Value::Int(2)));
}

const HOSTED: &str = r#"
import numpy as np
import fastscore
import tensorcell

def via_redis(tensors, keys, args):
    redis.execute("SET", keys[0], args[0])
    got = redis.execute("GET", keys[0])
    n = redis.execute("INCRBY", "counter", 5)
    return np.array([len(got), n], dtype=np.int64)

def run_model(tensors, keys, args):
    return redisAI.model_execute(keys[0], tensors, 1)

def bump(tensors, keys, args):
    fastscore.cells("hits").update(lambda v: (v or 0) + 1)
    tensorcell.pools("per").update(args[0], lambda v: (v or 0) + 1)

def state(tensors, keys, args):
    c = tensorcell.cells("doc")
    c.set({"a": [1, 2]})
    p = fastscore.pools("p")
    p.set("x", "y")
    p.set("gone", 1)
    p.delete("gone")
    return np.array([str(c.value), p.get("x"), ",".join(p.keys()), str(p.get("nope", "dflt"))], dtype=object)

def bad_command(tensors, keys, args):
    redis.execute("NOSUCHCMD", "a")

def blocking(tensors, keys, args):
    redis.execute("AI.MODELEXECUTE", "m", "INPUTS", 1, "x", "OUTPUTS", 1, "y")

def any_command(tensors, keys, args):
    redis.execute(*args)
"#;

#[test]
fn scripts_call_back_into_the_server() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    redis::cmd("AI.SCRIPTSTORE")
        .arg("h")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(7)
        .arg(&[
            "via_redis",
            "run_model",
            "bump",
            "state",
            "bad_command",
            "blocking",
            "any_command",
        ])
        .arg("SOURCE")
        .arg(HOSTED)
        .query::<()>(&mut c)
        .unwrap();
    // redis.execute: the writes are real and propagated as effects of their own.
    assert_eq!(
        q::<String>(
            &mut c,
            "AI.SCRIPTEXECUTE h via_redis KEYS 1 k ARGS 1 hello OUTPUTS 1 o"
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(q::<String>(&mut c, "GET k").unwrap(), "hello");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET o VALUES").unwrap(),
        [5, 5]
    );
    let eff = crate::strings::effects(&mut c, 3);
    assert_eq!(
        (eff[0][0].as_str(), eff[1][0].as_str()),
        ("SET", "INCRBY"),
        "{eff:?}"
    );
    // redisAI.model_execute gives what AI.MODELEXECUTE gives.
    redis::cmd("AI.MODELSTORE")
        .arg("m")
        .arg("ONNX")
        .arg("CPU")
        .arg("BLOB")
        .arg(crate::models::fixture("linear"))
        .query::<()>(&mut c)
        .unwrap();
    q::<()>(&mut c, "AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    assert_eq!(
        q::<String>(
            &mut c,
            "AI.SCRIPTEXECUTE h run_model KEYS 1 m INPUTS 1 x OUTPUTS 1 y1"
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y2").unwrap(),
        "OK"
    );
    assert_eq!(tensorget(&mut c, "y1"), tensorget(&mut c, "y2"));
    // Cells and pools from Python.
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE h state KEYS 1 k OUTPUTS 1 st").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET st VALUES").unwrap(),
        ["{'a': [1, 2]}", "y", "x", "dflt"]
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET doc").unwrap(),
        r#"{"a":[1,2]}"#
    );
    // Errors inside the script.
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE h bad_command KEYS 1 k"),
        "ERR RedisError: Redis command returned an error: ERR unknown command 'NOSUCHCMD', with args beginning with: 'a' "
    );
    let e = qerr(&mut c, "AI.SCRIPTEXECUTE h blocking KEYS 1 k");
    assert!(
        e.contains("'ai.modelexecute' cannot be called from a script"),
        "{e}"
    );
    // What Redis keeps from scripts (noscript) is refused: a script cannot become a replica's feed, open a
    // transaction or change the configuration.
    let replicas = |c: &mut redis::Connection| -> String {
        let repl: String = q(c, "INFO replication").unwrap();
        repl.lines()
            .find(|l| l.starts_with("connected_slaves:"))
            .unwrap_or_default()
            .to_string()
    };
    // (Against the module, the effect tap is a replica of its own: the count must not change.)
    let replicas_before = replicas(&mut c);
    for argv in [
        "PSYNC ? -1",
        "MULTI",
        "CONFIG SET maxmemory 1",
        "SHUTDOWN NOSAVE",
        "CLIENT KILL ID 1",
        "HELLO 3",
        "AUTH x",
        "RESET",
    ] {
        assert_eq!(
            qerr(
                &mut c,
                &format!(
                    "AI.SCRIPTEXECUTE h any_command KEYS 1 k ARGS {} {argv}",
                    argv.split(' ').count()
                )
            ),
            "ERR RedisError: Redis command returned an error: ERR This Redis command is not allowed from script",
            "{argv}"
        );
    }
    assert_eq!(replicas(&mut c), replicas_before);
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET maxmemory").unwrap(),
        ["maxmemory", "0"]
    );
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
}

#[test]
fn concurrent_updates_are_atomic() {
    let s = Server::with_args(&["--threads-per-queue", "2"]);
    let mut c = s.con();
    redis::cmd("AI.SCRIPTSTORE")
        .arg("h")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("bump")
        .arg("SOURCE")
        .arg(HOSTED)
        .query::<()>(&mut c)
        .unwrap();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let mut con = s.con();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let r: String = q(
                        &mut con,
                        &format!("AI.SCRIPTEXECUTE h bump KEYS 1 k ARGS 1 w{}", i % 2),
                    )
                    .unwrap();
                    assert_eq!(r, "OK");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET hits").unwrap(),
        "4000",
        "no update lost"
    );
    for field in ["w0", "w1"] {
        assert_eq!(
            q::<String>(&mut c, &format!("AI.POOLGET per {field}")).unwrap(),
            "2000"
        );
    }
}

#[test]
fn another_python_first_on_path_does_not_change_the_embedded_one() {
    // A directory that looks like a Python installation (bin/python3 next to lib/python3.11/os.py) and whose
    // standard library is broken. Embedded Python looks for its home along PATH unless PYTHONHOME is set; the
    // server pins it to the Python it was built against, so scripts still get a working stdlib and numpy.
    let dir = std::env::temp_dir().join(format!("tensorcell-fake-python-{}", std::process::id()));
    let bin = dir.join("bin");
    let lib = dir.join("lib/python3.11");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::write(bin.join("python3"), "#!/bin/sh\nexit 1\n").unwrap();
    std::fs::write(
        lib.join("os.py"),
        "raise ImportError('the wrong standard library')\n",
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("python3"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
    }
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let s = Server::with_env(&[], &[("PATH", Some(&path)), ("PYTHONHOME", None)]);
    let mut c = s.con();
    let src = "import numpy as np\ndef f(tensors, keys, args):\n    return np.ones(2, dtype=np.float32)\n";
    redis::cmd("AI.SCRIPTSTORE")
        .arg("s")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("f")
        .arg("SOURCE")
        .arg(src)
        .query::<()>(&mut c)
        .unwrap();
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE s f KEYS 1 k OUTPUTS 1 o").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET o VALUES").unwrap(),
        [1.0, 1.0]
    );
    std::fs::remove_dir_all(&dir).ok();
}
