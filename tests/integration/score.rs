//! FastScore-style models through AI.SCORE: the seed models verbatim, atomic shared state under concurrent
//! runners, begin/end, typed records and outputs, and their errors.

use redis::Value;

use crate::common::{q, qerr, Server};

/// The cell model: a running total kept in a cell.
const CELL_MODEL: &str = r#"# fastscore.input: int
# fastscore.output: int
import fastscore

def begin():
    global total
    total = fastscore.cells("running_total")
    total.set(0)

def action(x):
    yield total.update(lambda v: v + x)
"#;

/// The pool model: how many times each value has been seen, in a pool.
const POOL_MODEL: &str = r#"# fastscore.input: int
# fastscore.output: int
import fastscore

def action(x):
    counts = fastscore.pools("counts")
    yield counts.update(str(x), lambda v: (v or 0) + 1)
"#;

/// The sum model: keeps its cell when its runner restarts (begin() only sets it when unset).
pub const SUM_MODEL: &str = r#"# fastscore.input: double
# fastscore.output: double
# fastscore.snapshots: eof
import tensorcell

def begin():
    c = tensorcell.cells("sum")
    if c.value is None:
        c.set(0.0)

def action(x):
    return tensorcell.cells("sum").update(lambda v: v + x)

def end():
    tensorcell.cells("ended").update(lambda v: (v or 0) + 1)
"#;

const TYPED: &str = r#"# fastscore.input: json
# fastscore.output: string
def action(d):
    yield d["name"]
    yield d["name"].upper()

def numbers(d):
    return 1.5

def wrong(d):
    return 42
"#;

fn store(c: &mut redis::Connection, key: &str, src: &str) -> redis::RedisResult<String> {
    redis::cmd("AI.SCRIPTSTORE")
        .arg(key)
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("action")
        .arg("SOURCE")
        .arg(src)
        .query(c)
}

#[test]
fn seed_models_run_verbatim() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(store(&mut c, "m:cell", CELL_MODEL).unwrap(), "OK");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.SCORE m:cell RECORDS 3 1 2 3").unwrap(),
        [1, 3, 6]
    );
    assert_eq!(store(&mut c, "m:pool", POOL_MODEL).unwrap(), "OK");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.SCORE m:pool RECORDS 3 5 5 5").unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.POOLGETALL counts").unwrap(),
        ["5", "3"]
    );
    // The sum model keeps its cell across restarts of its runner (storing it again runs begin() again).
    assert_eq!(store(&mut c, "m:sum", SUM_MODEL).unwrap(), "OK");
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.SCORE m:sum RECORDS 2 1.5 2 EOF").unwrap(),
        [1.5, 3.5]
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET ended").unwrap(),
        "1",
        "EOF calls end()"
    );
    assert_eq!(store(&mut c, "m:sum", SUM_MODEL).unwrap(), "OK");
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.SCORE m:sum RECORDS 1 10").unwrap(),
        [13.5]
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET ended").unwrap(),
        "1",
        "no EOF, no end()"
    );
    // RESP3: doubles are doubles.
    let mut c3 = s.con3();
    let v: Value = q(&mut c3, "AI.SCORE m:sum RECORDS 1 0.25").unwrap();
    assert_eq!(v, Value::Array(vec![Value::Double(13.75)]));
}

#[test]
fn concurrent_runners_share_state_atomically() {
    let s = Server::with_args(&["--threads-per-queue", "2"]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "m:pool", POOL_MODEL).unwrap(), "OK");
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let mut con = s.con();
            std::thread::spawn(move || {
                for _ in 0..500 {
                    let out: Vec<i64> = q(&mut con, "AI.SCORE m:pool RECORDS 1 7").unwrap();
                    assert_eq!(out.len(), 1);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(
        q::<String>(&mut c, "AI.POOLGET counts 7").unwrap(),
        "4000",
        "8 clients x 500 calls"
    );
}

#[test]
fn records_and_outputs_are_typed() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(store(&mut c, "t", TYPED).unwrap(), "OK");
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            r#"AI.SCORE t RECORDS 2 {"name":"ada"} {"name":"bob"}"#
        )
        .unwrap(),
        ["ada", "ADA", "bob", "BOB"]
    );
    assert_eq!(
        qerr(&mut c, r#"AI.SCORE t RECORDS 2 {"name":"x"} {bad"#),
        "ERR record 2: expected json"
    );
    assert_eq!(
        qerr(&mut c, "AI.SCORE t ACTION wrong RECORDS 1 1"),
        "ERR the action produced 42, which is not string"
    );
    assert_eq!(
        qerr(&mut c, "AI.SCORE t ACTION nope RECORDS 1 1"),
        "ERR the script has no function nope"
    );
    assert_eq!(store(&mut c, "m:cell", CELL_MODEL).unwrap(), "OK");
    assert_eq!(
        qerr(&mut c, "AI.SCORE m:cell RECORDS 3 1 x 3"),
        "ERR record 2: expected int"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CELLGET running_total").unwrap(),
        "1",
        "records before the bad one ran, none after"
    );
    // Argument errors.
    assert_eq!(
        qerr(&mut c, "AI.SCORE m:cell 1 2"),
        "ERR RECORDS not specified"
    );
    assert_eq!(
        qerr(&mut c, "AI.SCORE m:cell RECORDS x 1"),
        "ERR Invalid argument for records count"
    );
    assert_eq!(
        qerr(&mut c, "AI.SCORE m:cell RECORDS 3 1"),
        "ERR number of records to AI.SCORE command does not match the number of given arguments"
    );
    assert_eq!(
        qerr(&mut c, "AI.SCORE m:cell RECORDS 1 1 EOF extra"),
        "Invalid argument: extra"
    );
    assert_eq!(
        qerr(&mut c, "AI.SCORE nokey RECORDS 1 1"),
        "ERR script key is empty"
    );
    // A plain RedisAI script is not a FastScore model.
    redis::cmd("AI.SCRIPTSTORE")
        .arg("plain")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("f")
        .arg("SOURCE")
        .arg("def f(tensors, keys, args):\n    return None\n")
        .query::<()>(&mut c)
        .unwrap();
    let e = qerr(&mut c, "AI.SCORE plain RECORDS 1 1");
    assert!(e.contains("not a FastScore model"), "{e}");
    // Unknown smart-comment types are refused at store time.
    let e = store(
        &mut c,
        "x",
        "# fastscore.input: complex\ndef action(d):\n    return d\n",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("unknown fastscore.input type 'complex'"), "{e}");
}
