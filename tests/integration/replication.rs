//! Replication over loopback with real server processes: a primary and two replicas hold the same keys
//! (compared by DBSIZE and a digest of every key), replicas serve reads and read-only DAGs and refuse
//! writes; restarts resync partially from the backlog or fully; WAIT counts acknowledgements under a
//! redis-benchmark load; a promoted replica keeps the other one with a partial resync.

use std::time::{Duration, Instant};

use redis::Value;

use crate::common::{q, qerr, Server, TempDir};
use crate::models::fixture;
use crate::persistence::{kill9, write_everything};

fn replica_of(primary: &Server, extra: &[&str]) -> Server {
    let target = format!("127.0.0.1 {}", primary.port);
    let mut args = vec!["--replicaof", target.as_str()];
    args.extend_from_slice(extra);
    Server::with_args(&args)
}

fn info_field(c: &mut redis::Connection, section: &str, name: &str) -> String {
    let text: String = q(c, &format!("INFO {section}")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("INFO {section} lacks {name}: {text}"))
        .to_string()
}

/// Waits (up to 20 s) until the replica's link is up and its offset is the primary's.
fn in_sync(primary: &mut redis::Connection, replica: &mut redis::Connection) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let want = info_field(primary, "replication", "master_repl_offset");
        let up = info_field(replica, "replication", "master_link_status") == "up";
        let got = info_field(replica, "replication", "master_repl_offset");
        if up && got == want {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "replica not in sync: link up {up}, offset {got} of {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Every key with its type and value (TTL presence for strings), sorted: equal digests, equal keyspaces.
fn digest(c: &mut redis::Connection) -> Vec<String> {
    let mut keys: Vec<String> = q(c, "KEYS *").unwrap();
    keys.sort();
    keys.into_iter()
        .filter_map(|k| {
            let kind: String = redis::cmd("TYPE").arg(&k).query(c).unwrap();
            if kind == "none" {
                // Expired between KEYS and TYPE.
                return None;
            }
            let get = |c: &mut redis::Connection, cmd: &[&str]| -> Value {
                redis::cmd(cmd[0]).arg(&k).arg(&cmd[1..]).query(c).unwrap()
            };
            let value = match kind.as_str() {
                "string" => {
                    let ttl: i64 = redis::cmd("PTTL").arg(&k).query(c).unwrap();
                    format!("{:?} ttl:{}", get(c, &["GET"]), ttl > 0)
                }
                "AI_TENSOR" => format!("{:?}", get(c, &["AI.TENSORGET", "META", "BLOB"])),
                "AI__MODEL" => format!("{:?}", get(c, &["AI.MODELGET", "META", "BLOB"])),
                "AI_SCRIPT" => format!("{:?}", get(c, &["AI.SCRIPTGET", "META", "SOURCE"])),
                "AI___CELL" => format!("{:?}", get(c, &["AI.CELLGET"])),
                "AI___POOL" => format!("{:?}", get(c, &["AI.POOLGETALL"])),
                other => panic!("unexpected type {other}"),
            };
            Some(format!("{k} {kind} {value}"))
        })
        .collect()
}

/// Same DBSIZE and digest on the primary and each replica, once they are in step.
fn same_data(primary: &Server, replicas: &[&Server]) -> usize {
    let mut p = primary.con();
    let want = digest(&mut p);
    let size: usize = q(&mut p, "DBSIZE").unwrap();
    assert_eq!(size, want.len());
    for r in replicas {
        let mut c = r.con();
        in_sync(&mut p, &mut c);
        assert_eq!(q::<usize>(&mut c, "DBSIZE").unwrap(), size, "DBSIZE");
        let got = digest(&mut c);
        assert!(
            got == want,
            "replica on port {}: {} keys of {}, first difference {:?}",
            r.port,
            got.len(),
            want.len(),
            got.iter().zip(&want).find(|(g, w)| g != w)
        );
    }
    size
}

/// The DAG both roles run: a tensor from the keyspace through the stored model, kept volatile.
const RO_DAG: &str = "AI.DAGEXECUTE_RO LOAD 1 x |> AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 out |> AI.TENSORGET out VALUES";

#[test]
fn replicas_hold_every_value_type_serve_reads_and_refuse_writes() {
    let primary = Server::start();
    let r1 = replica_of(&primary, &[]);
    let mut p = primary.con();
    write_everything(&mut p);
    let _: () = q(&mut p, "SET short v PX 1500").unwrap();
    // The second replica attaches at run time, after the writes: it gets them in its full sync.
    let r2 = Server::start();
    let mut c2 = r2.con();
    let ok: String = q(&mut c2, &format!("REPLICAOF 127.0.0.1 {}", primary.port)).unwrap();
    assert_eq!(ok, "OK");
    let again: String = q(&mut c2, &format!("REPLICAOF 127.0.0.1 {}", primary.port)).unwrap();
    assert_eq!(again, "OK Already connected to specified master");
    // A transaction and a delete travel too.
    let _: Value = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx1")
        .arg("a")
        .cmd("AI.CELLSET")
        .arg("txcell")
        .arg("3")
        .query(&mut p)
        .unwrap();
    let _: i64 = q(&mut p, "DEL plain").unwrap();
    // A value far bigger than one socket read reaches the replicas through the live stream in pieces.
    let big: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
    let _: () = redis::cmd("AI.TENSORSET")
        .arg("big")
        .arg("UINT8")
        .arg(big.len())
        .arg("BLOB")
        .arg(&big)
        .query(&mut p)
        .unwrap();
    assert_eq!(q::<i64>(&mut p, "WAIT 2 10000").unwrap(), 2);
    let keys = same_data(&primary, &[&r1, &r2]);
    assert!(keys >= 12, "{keys} keys");

    let mut c1 = r1.con();
    for c in [&mut c1, &mut c2] {
        // Reads work; begin() ran once, on the primary; the model the replica loaded runs in RO DAGs.
        assert_eq!(q::<i64>(c, "AI.CELLGET begins").unwrap(), 1);
        assert_eq!(q::<String>(c, "AI.POOLGET pool x").unwrap(), "1");
        assert_eq!(q::<String>(c, "GET tx1").unwrap(), "a");
        let mut dag: Vec<String> = Vec::new();
        for w in RO_DAG.split_whitespace() {
            dag.push(w.into());
        }
        let run = |c: &mut redis::Connection| -> Value {
            redis::cmd(&dag[0]).arg(&dag[1..]).query(c).unwrap()
        };
        assert_eq!(run(c), run(&mut p), "RO DAG on a replica = on the primary");
        // The original `=>` form (AI.DAGRUNRO) too, with a volatile output.
        let original = "AI.DAGRUNRO MODELRUN m INPUTS x OUTPUTS ~y~ => TENSORGET ~y~ VALUES";
        assert_eq!(
            q::<Value>(c, original).unwrap(),
            q::<Value>(&mut p, original).unwrap()
        );
        let ro: Value = redis::cmd("AI.DAGRUN_RO")
            .arg("LOAD")
            .arg(1)
            .arg("x")
            .arg("|>")
            .arg("AI.TENSORGET")
            .arg("x")
            .arg("VALUES")
            .query(c)
            .unwrap();
        assert_eq!(
            ro,
            Value::Array(vec![Value::Array(
                [1, 2, 3, 4]
                    .map(|v| Value::BulkString(v.to_string().into()))
                    .to_vec()
            )])
        );
        // Writes of every kind are refused, and nothing changes.
        let readonly = "READONLY You can't write against a read only replica.";
        for cmd in [
            "SET plain x",
            "DEL t",
            "AI.TENSORSET t FLOAT 1 VALUES 1",
            "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 z",
            "AI.SCRIPTEXECUTE counting action INPUTS 1 x",
            "AI.CELLSET cell 1",
            "AI.POOLSET pool x 2",
            "AI.DAGEXECUTE PERSIST 1 z |> AI.TENSORSET z FLOAT 1 VALUES 1",
            "AI.SCORE counting RECORDS 1",
            "FLUSHALL",
        ] {
            assert_eq!(qerr(c, cmd), readonly, "{cmd}");
        }
        let _: () = q(c, "MULTI").unwrap();
        assert_eq!(qerr(c, "SET plain x"), readonly);
        assert!(qerr(c, "EXEC").starts_with("EXECABORT"));
        assert!(qerr(c, "WAIT 1 0").starts_with("ERR WAIT cannot be used with replica instances"));
        let role: Vec<Value> = q(c, "ROLE").unwrap();
        assert_eq!(role[0], Value::BulkString(b"slave".to_vec()));
        assert_eq!(role[2], Value::Int(primary.port as i64));
        assert_eq!(role[3], Value::BulkString(b"connected".to_vec()));
        assert_eq!(info_field(c, "replication", "role"), "slave");
        assert_eq!(info_field(c, "replication", "slave_read_only"), "1");
    }
    // A key past its expiry is hidden on replicas at once, and gone for good with the primary's DEL.
    std::thread::sleep(Duration::from_millis(1600));
    assert_eq!(q::<Option<String>>(&mut c1, "GET short").unwrap(), None);
    let _: Option<String> = q(&mut p, "GET short").unwrap();
    same_data(&primary, &[&r1, &r2]);

    // The primary lists both, online, with acknowledged offsets.
    let role: Vec<Value> = q(&mut p, "ROLE").unwrap();
    assert_eq!(role[0], Value::BulkString(b"master".to_vec()));
    let Value::Array(replicas) = &role[2] else {
        panic!("{role:?}")
    };
    assert_eq!(replicas.len(), 2, "{role:?}");
    assert_eq!(info_field(&mut p, "replication", "connected_slaves"), "2");
    let line = info_field(&mut p, "replication", "slave0");
    assert!(line.contains("state=online"), "{line}");
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "2");
}

/// Writes `n` keys (strings and tensors) with a given prefix.
fn write_batch(c: &mut redis::Connection, prefix: &str, n: usize) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("SET").arg(format!("{prefix}:{i}")).arg(i).ignore();
        pipe.cmd("AI.TENSORSET")
            .arg(format!("{prefix}:t{i}"))
            .arg("FLOAT")
            .arg(2)
            .arg("VALUES")
            .arg(i)
            .arg(i + 1)
            .ignore();
        pipe.cmd("INCR").arg("counter").ignore();
    }
    let _: () = pipe.query(c).unwrap();
}

/// Stops a replica cleanly: it saves its snapshot file, with its replication id and offset, on the way out.
fn shut_down(mut r: Server) {
    let mut c = r.con();
    let _ = q::<Value>(&mut c, "SHUTDOWN SAVE");
    assert!(
        r.wait_exit(Duration::from_secs(20)).is_some(),
        "the replica exits"
    );
}

#[test]
fn restarted_replicas_resync_partially_when_the_backlog_allows_and_fully_otherwise() {
    let primary = Server::start();
    let dir = TempDir::new();
    let replica_args = ["--dir", dir.path()];
    let mut p = primary.con();
    write_batch(&mut p, "a", 200);
    let r = replica_of(&primary, &replica_args);
    same_data(&primary, &[&r]);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");

    // A clean restart: the replica saves its snapshot (with the replication id and offset) at shutdown,
    // and the writes it missed meanwhile come from the backlog.
    shut_down(r);
    write_batch(&mut p, "b", 100);
    let r = replica_of(&primary, &replica_args);
    assert!(r.wait_log("Successful partial resynchronization"));
    same_data(&primary, &[&r]);
    assert_eq!(info_field(&mut p, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "1");

    // Restarted after more was written than the backlog holds: a full resync, still nothing lost or doubled
    // (the counter is an INCR: a repeated effect would show).
    shut_down(r);
    let _: () = q(&mut p, "CONFIG SET repl-backlog-size 16384").unwrap();
    write_batch(&mut p, "c", 500);
    let r = replica_of(&primary, &replica_args);
    assert!(r.wait_log("Full resync from master"));
    same_data(&primary, &[&r]);
    assert_eq!(info_field(&mut p, "stats", "sync_full"), "2");
    assert_eq!(info_field(&mut p, "stats", "sync_partial_err"), "1");
    let mut c = r.con();
    assert_eq!(q::<i64>(&mut c, "GET counter").unwrap(), 800);

    // SIGKILL: no snapshot was written at the end, so the replica restarts from its last one (older than
    // the primary's backlog) and resyncs fully; the keyspace still matches exactly.
    write_batch(&mut p, "d", 50);
    assert_eq!(q::<i64>(&mut p, "WAIT 1 10000").unwrap(), 1);
    kill9(r.pid());
    drop(r);
    write_batch(&mut p, "e", 300);
    let r = replica_of(&primary, &replica_args);
    same_data(&primary, &[&r]);
    let mut c = r.con();
    assert_eq!(q::<i64>(&mut c, "GET counter").unwrap(), 1150);
}

/// Runs redis-benchmark against `port` with `args`; false (with a message) if it is not installed.
fn benchmark(port: u16, args: &[&str]) -> bool {
    let out = std::process::Command::new("redis-benchmark")
        .args(["-p", &port.to_string(), "-q"])
        .args(args)
        .output();
    match out {
        Ok(o) => {
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            true
        }
        Err(e) => {
            eprintln!("SKIPPED part of the load test: redis-benchmark not runnable ({e})");
            false
        }
    }
}

#[test]
fn replicas_keep_up_with_a_benchmark_load_and_wait_counts_them() {
    let primary = Server::start();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&primary, &[]);
    let mut p = primary.con();
    same_data(&primary, &[&r1, &r2]);
    let loaded = benchmark(
        primary.port,
        &[
            "-t", "set,incr", "-n", "30000", "-r", "5000", "-c", "20", "-P", "8",
        ],
    ) && benchmark(
        primary.port,
        &[
            "-n",
            "10000",
            "-r",
            "2000",
            "-c",
            "10",
            "-P",
            "4",
            "AI.TENSORSET",
            "t:__rand_int__",
            "FLOAT",
            "2",
            "VALUES",
            "1",
            "2",
        ],
    );
    if !loaded {
        write_batch(&mut p, "w", 5000);
    }
    // Both replicas acknowledge everything written before WAIT within its timeout.
    assert_eq!(q::<i64>(&mut p, "WAIT 2 30000").unwrap(), 2);
    let keys = same_data(&primary, &[&r1, &r2]);
    assert!(keys > 1000, "{keys} keys");
    // With nothing new to acknowledge WAIT answers at once; asking for more replicas than exist times out
    // with the count reached.
    assert_eq!(q::<i64>(&mut p, "WAIT 2 0").unwrap(), 2);
    let started = Instant::now();
    assert_eq!(q::<i64>(&mut p, "WAIT 3 300").unwrap(), 2);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(qerr(&mut p, "WAIT 1 -1").contains("timeout is negative"));
}

#[test]
fn a_promoted_replica_keeps_the_other_one_with_a_partial_resync() {
    let mut primary = Server::start();
    let r1 = replica_of(&primary, &[]);
    let r2 = replica_of(&primary, &[]);
    let mut p = primary.con();
    write_batch(&mut p, "a", 100);
    let blob = fixture("linear");
    crate::models::store(&mut p, "m", &blob, &[]).unwrap();
    assert_eq!(q::<i64>(&mut p, "WAIT 2 10000").unwrap(), 2);
    same_data(&primary, &[&r1, &r2]);
    let mut c1 = r1.con();
    let old_id = info_field(&mut c1, "replication", "master_replid");
    let offset: i64 = info_field(&mut c1, "replication", "master_repl_offset")
        .parse()
        .unwrap();
    // The primary dies; r1 takes over and r2 follows it.
    drop(p);
    let _ = primary.wait_exit(Duration::ZERO);
    drop(primary);
    let ok: String = q(&mut c1, "REPLICAOF NO ONE").unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(info_field(&mut c1, "replication", "role"), "master");
    assert_eq!(info_field(&mut c1, "replication", "master_replid2"), old_id);
    assert_eq!(
        info_field(&mut c1, "replication", "second_repl_offset"),
        (offset + 1).to_string()
    );
    assert_ne!(info_field(&mut c1, "replication", "master_replid"), old_id);
    let mut c2 = r2.con();
    let _: String = q(&mut c2, &format!("REPLICAOF 127.0.0.1 {}", r1.port)).unwrap();
    // The new primary takes writes, and r2 gets them without a full sync.
    write_batch(&mut c1, "b", 100);
    let _: () = q(&mut c1, "AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    assert_eq!(q::<i64>(&mut c1, "WAIT 1 10000").unwrap(), 1);
    same_data(&r1, &[&r2]);
    assert_eq!(info_field(&mut c1, "stats", "sync_partial_ok"), "1");
    assert_eq!(info_field(&mut c1, "stats", "sync_full"), "0");
    assert_eq!(
        info_field(&mut c2, "replication", "master_replid"),
        info_field(&mut c1, "replication", "master_replid")
    );
    let role: Vec<Value> = q(&mut c2, "ROLE").unwrap();
    assert_eq!(role[2], Value::Int(r1.port as i64));
    // The model came through the stream and runs in an RO DAG on r2.
    let dag: Vec<&str> = RO_DAG.split_whitespace().collect();
    let run = |c: &mut redis::Connection| -> Value {
        redis::cmd(dag[0]).arg(&dag[1..]).query(c).unwrap()
    };
    assert_eq!(run(&mut c2), run(&mut c1));
}

#[test]
fn auth_stale_data_and_min_replicas_policies() {
    // The primary needs a password: a replica without masterauth never syncs, one with it does.
    let primary = Server::with_args(&["--requirepass", "pw", "--min-replicas-to-write", "1"]);
    let mut p = primary.con();
    let _: () = q(&mut p, "AUTH pw").unwrap();
    assert_eq!(
        qerr(&mut p, "SET k v"),
        "NOREPLICAS Not enough good replicas to write."
    );
    let lost = replica_of(&primary, &["--replica-serve-stale-data", "no"]);
    assert!(lost.wait_log("Unable to AUTH to MASTER") || lost.wait_log("AUTH"));
    let mut l = lost.con();
    assert_eq!(
        qerr(&mut l, "GET k"),
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
    );
    assert_eq!(q::<String>(&mut l, "PING").unwrap(), "PONG");
    assert_eq!(
        info_field(&mut l, "replication", "master_link_status"),
        "down"
    );
    let r = replica_of(&primary, &["--masterauth", "pw"]);
    let mut c = r.con();
    in_sync(&mut p, &mut c);
    // Now one good replica acknowledges: writes go through and reach it.
    let _: () = q(&mut p, "SET k v").unwrap();
    assert_eq!(q::<i64>(&mut p, "WAIT 1 10000").unwrap(), 1);
    assert_eq!(q::<String>(&mut c, "GET k").unwrap(), "v");
    assert!(qerr(&mut c, "REPLICAOF 127.0.0.1 notaport").contains("Invalid master port"));
}

#[test]
fn a_replica_with_an_aof_keeps_what_it_applied_across_a_crash() {
    let primary = Server::start();
    let mut p = primary.con();
    write_batch(&mut p, "a", 100);
    let dir = TempDir::new();
    let args = [
        "--dir",
        dir.path(),
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    let r = replica_of(&primary, &args);
    same_data(&primary, &[&r]);
    // After the full sync the replica rewrote its AOF from the new keyspace; the stream goes on into it.
    let mut c = r.con();
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut c, "persistence", "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline, "the rewrite after the sync ends");
        std::thread::sleep(Duration::from_millis(20));
    }
    write_batch(&mut p, "b", 100);
    let _: () = q(&mut p, "SET ttl v PX 3600000").unwrap();
    let _: i64 = q(&mut p, "DEL a:1 a:t1").unwrap();
    assert_eq!(q::<i64>(&mut p, "WAIT 1 10000").unwrap(), 1);
    let want = digest(&mut p);
    kill9(r.pid());
    drop(r);
    // Started on its files alone (not following anyone), it has exactly what it had applied.
    let alone = Server::with_args(&["--dir", dir.path(), "--appendonly", "yes"]);
    let mut a = alone.con();
    let got = digest(&mut a);
    assert_eq!(got.len(), want.len(), "keys after the restart");
    assert!(
        got == want,
        "first difference: {:?}",
        got.iter().zip(&want).find(|(g, w)| g != w)
    );
    assert_eq!(q::<i64>(&mut a, "GET counter").unwrap(), 200);
}

#[test]
fn a_write_queued_before_demotion_is_refused_at_exec() {
    let other = Server::start();
    let node = Server::start();
    let mut c = node.con();
    let _: () = q(&mut c, "MULTI").unwrap();
    assert_eq!(q::<String>(&mut c, "SET k v").unwrap(), "QUEUED");
    // Meanwhile the node becomes a replica: the queued write must not change data it could not propagate.
    let mut admin = node.con();
    let _: String = q(&mut admin, &format!("REPLICAOF 127.0.0.1 {}", other.port)).unwrap();
    assert_eq!(
        qerr(&mut c, "EXEC"),
        "EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica."
    );
    assert_eq!(q::<Option<String>>(&mut c, "GET k").unwrap(), None);
    assert_eq!(
        qerr(&mut c, "SET k v"),
        "READONLY You can't write against a read only replica."
    );
}

#[test]
fn a_replica_of_a_replica_gets_the_same_stream() {
    let primary = Server::start();
    let middle = replica_of(&primary, &[]);
    let mut p = primary.con();
    write_batch(&mut p, "a", 50);
    same_data(&primary, &[&middle]);
    // Chained: the last replica syncs from the middle one, which passes on exactly the bytes it applied.
    let last = replica_of(&middle, &[]);
    write_batch(&mut p, "b", 50);
    let _: () = q(&mut p, "SET ttl v PX 3600000").unwrap();
    same_data(&primary, &[&middle, &last]);
    let mut m = middle.con();
    let mut l = last.con();
    assert_eq!(
        info_field(&mut l, "replication", "master_replid"),
        info_field(&mut p, "replication", "master_replid")
    );
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), "1");
    assert_eq!(q::<i64>(&mut l, "GET counter").unwrap(), 100);
}
