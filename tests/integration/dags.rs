//! DAGs in RedisAI's `|>` form: local tensors that never reach the keyspace, PERSIST all or nothing, one
//! reply per op with NA after an error, every parse error, TIMEOUT, and the read-only variants.

use std::time::Duration;

use redis::Value;

use crate::common::{q, qerr, Server};
use crate::models::{fixture, tensorset};
use crate::strings::tap;

fn store(c: &mut redis::Connection, key: &str, name: &str) {
    redis::cmd("AI.MODELSTORE")
        .arg(key)
        .arg("ONNX")
        .arg("CPU")
        .arg("BLOB")
        .arg(fixture(name))
        .query::<()>(c)
        .unwrap();
}

fn ok() -> Value {
    Value::Okay
}

#[test]
fn dag_runs_ops_over_local_tensors() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    store(&mut c, "foo", "add");
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGEXECUTE PERSIST 1 d |> AI.TENSORSET a FLOAT 2 VALUES 2 3 |> AI.TENSORSET b FLOAT 2 VALUES 2 3 \
         |> AI.MODELEXECUTE foo INPUTS 2 a b OUTPUTS 1 c |> AI.MODELEXECUTE foo INPUTS 2 c c OUTPUTS 1 d \
         |> AI.TENSORGET c VALUES",
    )
    .unwrap();
    assert_eq!(reply.len(), 5);
    assert_eq!(&reply[..4], [ok(), ok(), ok(), ok()]);
    assert_eq!(
        redis::from_redis_value::<Vec<f64>>(reply[4].clone()).unwrap(),
        [4.0, 6.0]
    );
    // Only the PERSIST key reached the keyspace, and it was propagated as data.
    assert_eq!(q::<i64>(&mut c, "EXISTS a b c").unwrap(), 0);
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET d VALUES").unwrap(),
        [8.0, 12.0]
    );
    let eff = crate::strings::effects(&mut c, 1);
    assert_eq!(&eff[0][..5], ["AI.TENSORSET", "d", "FLOAT", "2", "BLOB"]);
    // LOAD reads keys; a name reassigned later is a new version: each TENSORGET sees the one at its place.
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGRUN LOAD 1 d |> AI.TENSORGET d VALUES |> AI.TENSORSET d FLOAT 1 VALUES 7 |> AI.TENSORGET d VALUES",
    )
    .unwrap();
    assert_eq!(
        redis::from_redis_value::<Vec<f64>>(reply[0].clone()).unwrap(),
        [8.0, 12.0]
    );
    assert_eq!(
        redis::from_redis_value::<Vec<f64>>(reply[2].clone()).unwrap(),
        [7.0]
    );
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET d VALUES").unwrap(),
        [8.0, 12.0],
        "no PERSIST, no write"
    );
}

#[test]
fn an_op_error_stops_the_dag_and_persists_nothing() {
    let s = Server::start();
    let mut c = s.con();
    store(&mut c, "lin", "linear");
    // Replies with an error element are checked on the wire: the error is an element of the array.
    let mut raw = s.raw();
    raw.expect(
        b"AI.DAGEXECUTE PERSIST 1 y |> AI.TENSORSET x FLOAT 1 5 VALUES 1 2 3 4 5 |> AI.MODELEXECUTE lin INPUTS 1 x OUTPUTS 1 y |> AI.TENSORGET y VALUES\r\n",
        b"*3\r\n+OK\r\n-ERR input 0 ('x') of the model has shape [?,4], got [1, 5]\r\n+NA\r\n",
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS y").unwrap(), 0);
    // A PERSIST key of another type: the ops ran, and an extra error element says the persist failed.
    q::<()>(&mut c, "SET y str").unwrap();
    raw.expect(
        b"AI.DAGEXECUTE PERSIST 1 y |> AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4 |> AI.MODELEXECUTE lin INPUTS 1 x OUTPUTS 1 y\r\n",
        b"*3\r\n+OK\r\n+OK\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    assert_eq!(q::<String>(&mut c, "GET y").unwrap(), "str");
}

#[test]
fn dag_parse_errors_follow_redisai() {
    let s = Server::start();
    let mut c = s.con();
    store(&mut c, "m", "add");
    q::<()>(&mut c, "AI.TENSORSET t FLOAT 2 VALUES 1 1").unwrap();
    let e = |c: &mut redis::Connection, line: &str| qerr(c, line);
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE |> AI.TENSORGET t"),
        "ERR missing arguments for 'AI.DAGEXECUTE' command"
    );
    assert_eq!(
        e(&mut c, "AI.DAGRUN |> AI.TENSORGET"),
        "ERR wrong number of arguments for 'AI.DAGRUN' command"
    );
    assert_eq!(e(&mut c, "AI.DAGEXECUTE TIMEOUT 5 |> AI.TENSORGET t META"), "ERR AI.DAGEXECUTE and AI.DAGEXECUTE_RO commands must contain at least one out of ROUTING, LOAD, PERSIST keywords");
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE LOAD 1 t LOAD 1 t |> AI.TENSORGET t"),
        "ERR Invalid DAG command. Unexpected argument:  LOAD"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE BOGUS 1 t |> AI.TENSORGET t"),
        "ERR Invalid DAG command. Unexpected argument:  BOGUS"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE LOAD x t |> AI.TENSORGET t"),
        "ERR invalid or negative value found in number of keys to LOAD"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE LOAD 2 t |> AI.TENSORGET t"),
        "ERR number of keys to LOAD into DAG does not match the number of given arguments"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE LOAD 1 nokey |> AI.TENSORGET nokey"),
        "ERR tensor key is empty or in a different shard"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE PERSIST 2 a a |> AI.TENSORSET a FLOAT 1"
        ),
        "ERR PERSIST keys must be unique"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE PERSIST 1 zz |> AI.TENSORSET a FLOAT 1"
        ),
        "ERR PERSIST key cannot be found in DAG"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE_RO PERSIST 1 a |> AI.TENSORSET a FLOAT 1"
        ),
        "ERR PERSIST cannot be specified in a read-only DAG"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE ROUTING r |> AI.TENSORGET a META"),
        "ERR INPUT key cannot be found in DAG"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE ROUTING r |> SET a b"),
        "Unsupported command within DAG"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE LOAD 1 t |> AI.MODELRUN m INPUTS t t OUTPUTS o"
        ),
        "Deprecated AI.MODELRUN cannot be used in AI.DAGEXECUTE command"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGRUN LOAD 1 t |> AI.MODELEXECUTE m INPUTS 2 t t OUTPUTS 1 o"
        ),
        "AI.MODELEXECUTE cannot be used in a deprecated AI.DAGRUN command"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE LOAD 1 t |> AI.MODELEXECUTE m INPUTS 2 t t OUTPUTS 1 o TIMEOUT 5"
        ),
        "ERR TIMEOUT not allowed within a DAG command"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE_RO LOAD 1 t |> AI.SCRIPTEXECUTE s f INPUTS 1 t"
        ),
        "ERR AI.SCRIPTEXECUTE command cannot be specified in a read-only DAG"
    );
    assert_eq!(
        e(&mut c, "AI.DAGEXECUTE LOAD 1 t |> AI.TENSORSET x BADTYPE 1"),
        "ERR invalid data type"
    );
    assert_eq!(
        e(
            &mut c,
            "AI.DAGEXECUTE LOAD 1 t |> AI.TENSORGET t BLOB VALUES"
        ),
        "ERR both BLOB and VALUES specified",
        "the same format rules as AI.TENSORGET"
    );
    // The deprecated DAGRUN_RO may run the deprecated ops, and reads fine.
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGRUN_RO LOAD 1 t |> AI.MODELRUN m INPUTS t t OUTPUTS o |> AI.TENSORGET o VALUES",
    )
    .unwrap();
    assert_eq!(
        redis::from_redis_value::<Vec<f64>>(reply[1].clone()).unwrap(),
        [2.0, 2.0]
    );
    // Blocking: refused inside a transaction, at EXEC.
    let mut raw = s.raw();
    raw.expect(
        b"MULTI\r\nAI.DAGRUN |> AI.TENSORSET a FLOAT 1\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n-ERR Cannot run RedisAI command within a transaction or a LUA script\r\n",
    );
}

#[test]
fn dag_timeout_while_queued() {
    let s = Server::with_args(&[
        "--threads-per-queue",
        "1",
        // The slow run must not hit the kill switch on a slow machine (debug build): this test is
        // about queueing, not about the kill switch.
        "--model-execution-timeout",
        "120000",
    ]);
    let mut c = s.con();
    store(&mut c, "slow", "slow");
    let rows = 50_000usize;
    tensorset(
        &mut c,
        "big",
        "FLOAT",
        &[rows, 128],
        &vec![0u8; rows * 128 * 4],
    );
    let mut busy = s.raw();
    busy.send(b"AI.MODELEXECUTE slow INPUTS 1 big OUTPUTS 1 bigout\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let r: Value = q(
        &mut c,
        "AI.DAGEXECUTE PERSIST 1 a TIMEOUT 1 |> AI.TENSORSET a FLOAT 1",
    )
    .unwrap();
    assert_eq!(r, Value::SimpleString("TIMEDOUT".into()));
    assert_eq!(q::<i64>(&mut c, "EXISTS a").unwrap(), 0);
    busy.expect(b"", b"+OK\r\n");
}

#[test]
fn arrow_form_with_volatile_names() {
    let s = Server::start();
    let mut c = s.con();
    store(&mut c, "foo", "add");
    // The seed example, verbatim.
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGRUN TENSORSET ~a~ FLOAT 2 VALUES 2 3 => TENSORSET ~b~ FLOAT 2 VALUES 2 3 => MODELRUN foo INPUTS ~a~ ~b~ OUTPUTS ~c~ => TENSORGET ~c~",
    )
    .unwrap();
    assert_eq!(&reply[..3], [ok(), ok(), ok()]);
    let meta: Vec<Value> = redis::from_redis_value(reply[3].clone()).unwrap();
    assert_eq!(
        redis::from_redis_value::<String>(meta[1].clone()).unwrap(),
        "FLOAT"
    );
    let blob: Vec<u8> = redis::from_redis_value(meta[5].clone()).unwrap();
    assert_eq!(
        blob,
        [4f32, 6f32]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect::<Vec<u8>>()
    );
    assert_eq!(
        q::<i64>(&mut c, "EXISTS a b c ~a~ ~b~ ~c~").unwrap(),
        0,
        "volatile names never reach the keyspace"
    );
    // A plain name is a keyspace key: written when the DAG commits, and only it.
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGRUN AI.TENSORSET ~a~ FLOAT 2 VALUES 1 1 => AI.MODELEXECUTE foo INPUTS 2 ~a~ ~a~ OUTPUTS 1 d",
    )
    .unwrap();
    assert_eq!(reply, [ok(), ok()]);
    let mut keys: Vec<String> = q(&mut c, "KEYS *").unwrap();
    keys.sort();
    assert_eq!(keys, ["d", "foo"]);
    // Keyspace names are read when their op runs.
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGRUNRO MODELRUN foo INPUTS d d OUTPUTS ~e~ => TENSORGET ~e~ VALUES",
    )
    .unwrap();
    assert_eq!(
        redis::from_redis_value::<Vec<f64>>(reply[1].clone()).unwrap(),
        [4.0, 4.0]
    );
    // Read-only DAGs may not write keyspace keys.
    assert_eq!(
        qerr(&mut c, "AI.DAGRUN_RO TENSORSET x FLOAT 1 => TENSORGET x"),
        "ERR read-only DAG cannot write key 'x'"
    );
    assert_eq!(
        qerr(&mut c, "AI.DAGRUNRO MODELRUN foo INPUTS ~q~ d OUTPUTS ~e~"),
        "ERR INPUT key cannot be found in DAG"
    );
    // A failing op commits nothing.
    let mut raw = s.raw();
    raw.expect(
        b"AI.DAGRUN TENSORSET z FLOAT 1 => MODELRUN foo INPUTS z z OUTPUTS w\r\n",
        b"*2\r\n+OK\r\n-ERR input 0 ('a') of the model has shape [2], got [1]\r\n",
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS z w").unwrap(), 0);
}

#[test]
fn async_dags_report_wait_and_cancel() {
    let s = Server::with_args(&[
        "--threads-per-queue",
        "1",
        // The slow run must not hit the kill switch on a slow machine (debug build): this test is
        // about queueing, not about the kill switch.
        "--model-execution-timeout",
        "120000",
    ]);
    let mut c = s.con();
    store(&mut c, "slow", "slow");
    store(&mut c, "foo", "add");
    let rows = 50_000usize;
    tensorset(
        &mut c,
        "big",
        "FLOAT",
        &[rows, 128],
        &vec![0u8; rows * 128 * 4],
    );
    // A run that stays queued behind a busy worker can be cancelled: it never runs, writes nothing.
    let mut busy = s.raw();
    busy.send(b"AI.MODELEXECUTE slow INPUTS 1 big OUTPUTS 1 out1\r\n");
    std::thread::sleep(Duration::from_millis(50));
    let id: String = q(
        &mut c,
        "AI.DAGRUNASYNC TENSORSET kept FLOAT 1 => TENSORGET kept",
    )
    .unwrap();
    assert_eq!(
        q::<String>(&mut c, &format!("AI.DAGSTATUS {id}")).unwrap(),
        "queued"
    );
    assert_eq!(
        q::<Option<String>>(&mut c, &format!("AI.DAGRESULT {id}")).unwrap(),
        None
    );
    assert_eq!(q::<i64>(&mut c, &format!("AI.DAGCANCEL {id}")).unwrap(), 1);
    busy.expect(b"", b"+OK\r\n");
    let r: Value = q(&mut c, &format!("AI.DAGRESULT {id} BLOCK 10000")).unwrap();
    assert_eq!(r, Value::SimpleString("CANCELLED".into()));
    assert_eq!(
        q::<String>(&mut c, &format!("AI.DAGSTATUS {id}")).unwrap(),
        "cancelled"
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS kept").unwrap(), 0);
    assert_eq!(
        q::<i64>(&mut c, &format!("AI.DAGCANCEL {id}")).unwrap(),
        0,
        "too late once finished"
    );

    // A running one: its status moves to running, then done; BLOCK answers when it finishes; the completion
    // is published; the starting client may go away without cancelling it.
    let mut sub = s.raw();
    let mut starter = s.con();
    let id: String = q(
        &mut starter,
        "AI.DAGRUNASYNC MODELRUN slow INPUTS big OUTPUTS ~o~ => TENSORSET d FLOAT 1 VALUES 5",
    )
    .unwrap();
    drop(starter);
    let ch = format!("__dag__:{id}");
    sub.expect(
        format!("SUBSCRIBE {ch}\r\n").as_bytes(),
        format!("*3\r\n$9\r\nsubscribe\r\n${}\r\n{ch}\r\n:1\r\n", ch.len()).as_bytes(),
    );
    let mut waited = 0;
    while q::<String>(&mut c, &format!("AI.DAGSTATUS {id}")).unwrap() == "queued" {
        assert!(waited < 400, "never started");
        std::thread::sleep(Duration::from_millis(5));
        waited += 1;
    }
    let r: Vec<Value> = q(&mut c, &format!("AI.DAGRESULT {id} BLOCK 20000")).unwrap();
    assert_eq!(r, [ok(), ok()]);
    assert_eq!(
        q::<String>(&mut c, &format!("AI.DAGSTATUS {id}")).unwrap(),
        "done"
    );
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET d VALUES").unwrap(),
        [5.0]
    );
    sub.expect(
        b"",
        format!(
            "*3\r\n$7\r\nmessage\r\n${}\r\n{ch}\r\n$4\r\ndone\r\n",
            ch.len()
        )
        .as_bytes(),
    );
    // Failures and unknown ids.
    let id: String = q(&mut c, "AI.DAGRUNASYNC MODELRUN foo INPUTS d d OUTPUTS e").unwrap();
    let r: Result<Vec<Value>, _> = q(&mut c, &format!("AI.DAGRESULT {id} BLOCK 20000"));
    assert!(r.is_err(), "the op's error comes back as in AI.DAGRUN");
    assert_eq!(
        q::<String>(&mut c, &format!("AI.DAGSTATUS {id}")).unwrap(),
        "failed"
    );
    assert_eq!(qerr(&mut c, "AI.DAGSTATUS nosuchid"), "ERR no such DAG run");
    assert_eq!(qerr(&mut c, "AI.DAGRESULT nosuch"), "ERR no such DAG run");
}

#[test]
fn independent_ops_run_in_parallel_and_batch() {
    let s = Server::start();
    let mut c = s.con();
    // MINBATCHSIZE 2 holds a request until a second one joins it: two independent ops of one DAG can only
    // complete if they are queued at the same time, and then they run as one batch.
    redis::cmd("AI.MODELSTORE")
        .arg("lin")
        .arg("ONNX")
        .arg("CPU")
        .arg("BATCHSIZE")
        .arg(2)
        .arg("MINBATCHSIZE")
        .arg(2)
        .arg("MINBATCHTIMEOUT")
        .arg(20000)
        .arg("BLOB")
        .arg(fixture("linear"))
        .query::<()>(&mut c)
        .unwrap();
    let reply: Vec<Value> = q(
        &mut c,
        "AI.DAGEXECUTE PERSIST 2 y1 y2 |> AI.TENSORSET x1 FLOAT 1 4 VALUES 1 2 3 4 |> AI.TENSORSET x2 FLOAT 1 4 VALUES 4 3 2 1 \
         |> AI.MODELEXECUTE lin INPUTS 1 x1 OUTPUTS 1 y1 |> AI.MODELEXECUTE lin INPUTS 1 x2 OUTPUTS 1 y2",
    )
    .unwrap();
    assert_eq!(reply, [ok(), ok(), ok(), ok()]);
    let info: String = q(&mut c, "INFO ai").unwrap();
    assert!(
        info.contains("ai_queue_CPU_batches:1\r\n")
            && info.contains("ai_queue_CPU_batched_requests:2\r\n"),
        "{info}"
    );
    // Same results as running them alone.
    redis::cmd("AI.MODELSTORE")
        .arg("plain")
        .arg("ONNX")
        .arg("CPU")
        .arg("BLOB")
        .arg(fixture("linear"))
        .query::<()>(&mut c)
        .unwrap();
    q::<()>(&mut c, "AI.TENSORSET x1 FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    q::<()>(&mut c, "AI.MODELEXECUTE plain INPUTS 1 x1 OUTPUTS 1 r1").unwrap();
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET y1 VALUES").unwrap(),
        q::<Vec<f64>>(&mut c, "AI.TENSORGET r1 VALUES").unwrap()
    );
}

#[test]
fn other_clients_never_see_a_half_committed_dag() {
    let s = Server::start();
    let mut c = s.con();
    q::<()>(&mut c, "AI.TENSORSET p FLOAT 1 VALUES 0").unwrap();
    q::<()>(&mut c, "AI.TENSORSET q FLOAT 1 VALUES 0").unwrap();
    let writer = {
        let mut w = s.con();
        std::thread::spawn(move || {
            for i in 1..=200 {
                let _: Vec<Value> = q(
                    &mut w,
                    &format!("AI.DAGRUN TENSORSET ~v~ FLOAT 1 VALUES {i} => TENSORSET p FLOAT 1 VALUES {i} => TENSORSET q FLOAT 1 VALUES {i}"),
                )
                .unwrap();
            }
        })
    };
    let mut reads = 0;
    while !writer.is_finished() || reads < 10 {
        // MULTI reads both keys at one instant.
        let (p, q_, v): (Vec<f64>, Vec<f64>, i64) = redis::pipe()
            .atomic()
            .cmd("AI.TENSORGET")
            .arg("p")
            .arg("VALUES")
            .cmd("AI.TENSORGET")
            .arg("q")
            .arg("VALUES")
            .cmd("EXISTS")
            .arg("~v~")
            .query(&mut c)
            .unwrap();
        assert_eq!(p, q_, "both keys of one DAG commit together");
        assert_eq!(v, 0, "a volatile tensor is never a key");
        reads += 1;
    }
    writer.join().unwrap();
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET q VALUES").unwrap(),
        [200.0]
    );
}
