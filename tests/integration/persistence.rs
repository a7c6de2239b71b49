//! Persistence over real restarts: every value type through the snapshot file, the AOF and both; SIGKILL
//! in the middle of a write load (`always` loses nothing acknowledged, `everysec` at most the last second);
//! torn and corrupt AOFs; rewrites; SAVE/BGSAVE/LASTSAVE/INFO persistence/DEBUG RELOAD/FLUSHALL.

use std::time::{Duration, Instant};

use redis::Value;

use crate::common::{q, qerr, start_fails, Server, TempDir};
use crate::models::{fixture, store};

/// A FastScore model whose begin() counts how often it ran, in a cell.
const COUNTING: &str = r#"# fastscore.input: int
# fastscore.output: int
import fastscore

def begin():
    fastscore.cells("begins").update(lambda v: (v or 0) + 1)

def action(x):
    yield fastscore.cells("seen").update(lambda v: (v or 0) + x)
"#;

fn start(dir: &TempDir, extra: &[&str]) -> Server {
    let mut args = vec!["--dir", dir.path()];
    args.extend_from_slice(extra);
    Server::with_args(&args)
}

/// Stops a server with SHUTDOWN (mode words appended) and waits for it to exit.
fn shutdown(mut s: Server, how: &str) {
    let mut c = s.con();
    let _ = q::<Value>(&mut c, &format!("SHUTDOWN {how}"));
    assert!(
        s.wait_exit(Duration::from_secs(20)).is_some(),
        "server exits"
    );
}

/// Writes one of every value type.
pub(crate) fn write_everything(c: &mut redis::Connection) {
    let _: () = q(c, "SET plain hello").unwrap();
    let _: () = q(c, "SET ttl v PX 3600000").unwrap();
    let _: () = q(c, "AI.TENSORSET t FLOAT 2 2 VALUES 1 2 3 4.5").unwrap();
    let _: () = q(c, "AI.TENSORSET s STRING 2 VALUES ab cd").unwrap();
    let blob = fixture("linear");
    store(c, "m", &blob, &["TAG", "v1", "BATCHSIZE", "4"]).unwrap();
    let _: String = redis::cmd("AI.SCRIPTSTORE")
        .arg("counting")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("action")
        .arg("SOURCE")
        .arg(COUNTING)
        .query(c)
        .unwrap();
    let _: Value = q(c, "AI.SCORE counting RECORDS 2 3 4").unwrap();
    let _: () = q(c, "AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    let _: () = q(c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y0").unwrap();
    let _: () = q(c, "AI.CELLSET cell {\"a\":[1,2]}").unwrap();
    let _: i64 = q(c, "AI.POOLSET pool x 1 y \"z\"").unwrap();
}

/// Checks every value written by [`write_everything`] is back, and begin() ran `begins` times in all.
fn check_everything(c: &mut redis::Connection, begins: i64) {
    assert_eq!(q::<String>(c, "GET plain").unwrap(), "hello");
    let ttl: i64 = q(c, "PTTL ttl").unwrap();
    assert!(ttl > 3_000_000 && ttl <= 3_600_000, "TTL kept: {ttl}");
    assert_eq!(
        q::<Vec<f64>>(c, "AI.TENSORGET t VALUES").unwrap(),
        vec![1.0, 2.0, 3.0, 4.5]
    );
    assert_eq!(
        q::<Vec<String>>(c, "AI.TENSORGET s VALUES").unwrap(),
        vec!["ab", "cd"]
    );
    let meta: Vec<Value> = q(c, "AI.MODELGET m META BLOB").unwrap();
    let text = format!("{meta:?}");
    assert!(text.contains("v1"), "tag kept: {text}");
    let blob = match meta.last() {
        Some(Value::BulkString(b)) => b.clone(),
        other => panic!("blob: {other:?}"),
    };
    assert_eq!(blob, fixture("linear"), "original blob kept");
    let batch = meta
        .windows(2)
        .find(|w| w[0] == Value::BulkString(b"batchsize".to_vec()))
        .map(|w| w[1].clone());
    assert_eq!(batch, Some(Value::Int(4)), "batch options kept");
    // The model runs after the restart, with the result it gave before.
    let _: () = q(c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y").unwrap();
    let y: Vec<f64> = q(c, "AI.TENSORGET y VALUES").unwrap();
    assert!(!y.is_empty());
    assert_eq!(y, q::<Vec<f64>>(c, "AI.TENSORGET y0 VALUES").unwrap());
    // The script: compiled, its state list kept, its cells where they were; begin() ran once more at
    // start-up (on the primary), never while loading.
    assert_eq!(q::<i64>(c, "AI.CELLGET seen").unwrap(), 7);
    assert_eq!(q::<i64>(c, "AI.CELLGET begins").unwrap(), begins);
    let state: Vec<Vec<String>> = q(c, "DEBUG SCRIPT-STATE counting").unwrap();
    assert!(
        state.contains(&vec!["cell".into(), "seen".into()]),
        "{state:?} (begins {begins})"
    );
    assert_eq!(
        q::<Vec<i64>>(c, "AI.SCORE counting RECORDS 1 1").unwrap(),
        vec![8]
    );
    assert_eq!(q::<String>(c, "AI.CELLGET cell").unwrap(), "{\"a\":[1,2]}");
    assert_eq!(
        q::<Vec<String>>(c, "AI.POOLGETALL pool").unwrap(),
        vec!["x", "1", "y", "\"z\""]
    );
}

#[test]
fn every_value_type_survives_restarts_with_snapshot_aof_and_both() {
    for mode in ["snapshot", "aof", "both"] {
        let dir = TempDir::new();
        let flags: &[&str] = match mode {
            "snapshot" => &["--appendonly", "no"],
            "aof" => &["--appendonly", "yes", "--save", ""],
            _ => &["--appendonly", "yes"],
        };
        let s = start(&dir, flags);
        let mut c = s.con();
        write_everything(&mut c);
        let keys: i64 = q(&mut c, "DBSIZE").unwrap();
        drop(c);
        // The snapshot-only server saves on SHUTDOWN (save points are set); the AOF-only one must not
        // need a snapshot at all, so it stops without one.
        shutdown(s, if mode == "aof" { "NOSAVE" } else { "" });
        assert_eq!(dir.join("dump.tcs").exists(), mode != "aof", "{mode}");

        let s = start(&dir, flags);
        let mut c = s.con();
        assert_eq!(q::<i64>(&mut c, "DBSIZE").unwrap(), keys, "{mode}");
        check_everything(&mut c, 2);
        drop(c);
        shutdown(s, if mode == "aof" { "NOSAVE" } else { "" });
        // A third start sees begin() once more.
        let s = start(&dir, flags);
        let mut c = s.con();
        assert_eq!(q::<i64>(&mut c, "AI.CELLGET begins").unwrap(), 3, "{mode}");
    }
}

/// Writes `n` strings `k<i>` = a 200-byte value derived from i, acknowledged ones recorded with their time.
fn write_load(port: u16, stop_after: Duration) -> Vec<(usize, Instant)> {
    let mut c = crate::common::connect(port);
    let mut acked = Vec::new();
    let t0 = Instant::now();
    let mut i = 0;
    while t0.elapsed() < stop_after {
        let r: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg(value_of(i))
            .query(&mut c);
        if r.is_err() {
            break;
        }
        acked.push((i, Instant::now()));
        i += 1;
    }
    acked
}

fn value_of(i: usize) -> String {
    format!("{i:08}-{}", "x".repeat(191))
}

/// Kills the server with SIGKILL while a client writes, restarts it on the same files, and returns the
/// acknowledged writes, the kill time and a connection to the restarted server.
fn crash_under_load(dir: &TempDir, fsync: &str) -> (Vec<(usize, Instant)>, Instant, Server) {
    let flags = ["--appendonly", "yes", "--appendfsync", fsync, "--save", ""];
    let s = start(dir, &flags);
    let port = s.port;
    let writer = std::thread::spawn(move || write_load(port, Duration::from_secs(30)));
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Instant::now();
    kill9(s.pid());
    let acked = writer.join().unwrap();
    drop(s);
    assert!(acked.len() > 100, "the load ran: {} writes", acked.len());
    (acked, killed, start(dir, &flags))
}

/// SIGKILL: no shutdown code runs, as in a crash.
pub(crate) fn kill9(pid: u32) {
    let st = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
}

/// Kills a server with SIGKILL and waits until it is gone.
fn crash(mut s: Server) {
    kill9(s.pid());
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
}

#[test]
fn sigkill_under_always_loses_no_acknowledged_write() {
    let dir = TempDir::new();
    let (acked, _, s) = crash_under_load(&dir, "always");
    let mut c = s.con();
    for (i, _) in &acked {
        let v: Option<String> = q(&mut c, &format!("GET k{i}")).unwrap();
        assert_eq!(
            v.as_deref(),
            Some(value_of(*i).as_str()),
            "acknowledged k{i}"
        );
    }
    // Nothing half-written: every key present is whole, and at most one unacknowledged write (the one in
    // flight when the server died) made it.
    let keys: i64 = q(&mut c, "DBSIZE").unwrap();
    assert!(
        keys as usize <= acked.len() + 1,
        "{keys} keys, {} acked",
        acked.len()
    );
    let last = acked.len();
    if let Some(v) = q::<Option<String>>(&mut c, &format!("GET k{last}")).unwrap() {
        assert_eq!(v, value_of(last));
    }
}

#[test]
fn sigkill_under_everysec_loses_at_most_the_last_second() {
    let dir = TempDir::new();
    let (acked, killed, s) = crash_under_load(&dir, "everysec");
    let mut c = s.con();
    let keys: i64 = q(&mut c, "DBSIZE").unwrap();
    for (i, at) in &acked {
        let v: Option<String> = q(&mut c, &format!("GET k{i}")).unwrap();
        match v {
            Some(v) => assert_eq!(v, value_of(*i)),
            // Writes only reach the disk in order, so a lost write must be among the last second's.
            None => assert!(
                killed.saturating_duration_since(*at) < Duration::from_secs(2),
                "k{i} was acknowledged {:?} before the kill and lost ({keys} of {} kept)",
                killed.saturating_duration_since(*at),
                acked.len()
            ),
        }
    }
}

/// The one increment file of an AOF directory.
fn incr_file(dir: &TempDir) -> std::path::PathBuf {
    let aofdir = dir.join("appendonlydir");
    std::fs::read_dir(&aofdir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .expect("an increment file")
}

/// With `aof-load-truncated no`, a torn AOF tail makes the server refuse to start, saying why.
fn refused_without_truncation(dir: &TempDir) {
    let (code, log) = start_fails(&[
        "--dir",
        dir.path(),
        "--appendonly",
        "yes",
        "--aof-load-truncated",
        "no",
    ]);
    assert_eq!(code, Some(1), "refused to start: {log}");
    assert!(
        log.contains("Unexpected end of file reading the append only file"),
        "{log}"
    );
}

#[test]
fn torn_aof_tail_loads_when_allowed_and_corruption_is_refused() {
    let dir = TempDir::new();
    let flags = ["--appendonly", "yes", "--save", ""];
    let s = start(&dir, &flags);
    let mut c = s.con();
    let _: () = q(&mut c, "SET a 1").unwrap();
    let _: () = q(&mut c, "AI.TENSORSET t INT32 2 VALUES 7 8").unwrap();
    drop(c);
    shutdown(s, "NOSAVE");
    let incr = incr_file(&dir);
    let whole = std::fs::read(&incr).unwrap();
    // A crash mid-write: half a command at the end, and an unfinished MULTI before it.
    let mut torn = whole.clone();
    torn.extend_from_slice(b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$4\r\nab");
    std::fs::write(&incr, &torn).unwrap();

    refused_without_truncation(&dir);

    let s = start(&dir, &flags);
    let mut c = s.con();
    assert_eq!(q::<String>(&mut c, "GET a").unwrap(), "1");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET t VALUES").unwrap(),
        vec![7, 8]
    );
    // The unfinished transaction is not applied, and the file was cut back so new writes follow whole
    // commands.
    assert_eq!(q::<Option<String>>(&mut c, "GET b").unwrap(), None);
    assert_eq!(std::fs::read(&incr).unwrap(), whole);
    let _: () = q(&mut c, "SET after yes").unwrap();
    drop(c);
    shutdown(s, "NOSAVE");
    let s = start(&dir, &flags);
    assert_eq!(q::<String>(&mut s.con(), "GET after").unwrap(), "yes");
    shutdown(s, "NOSAVE");

    // A file that ends right after whole arguments of an unfinished command is torn too.
    let mut cut = std::fs::read(&incr).unwrap();
    let whole_len = cut.len();
    cut.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nz\r\n");
    std::fs::write(&incr, &cut).unwrap();
    refused_without_truncation(&dir);
    let s = start(&dir, &flags);
    assert_eq!(q::<Option<String>>(&mut s.con(), "GET z").unwrap(), None);
    shutdown(s, "NOSAVE");
    assert_eq!(
        std::fs::read(&incr).unwrap().len(),
        whole_len,
        "cut back to whole commands"
    );

    // Damage in the middle is refused even with aof-load-truncated yes.
    let mut bad = std::fs::read(&incr).unwrap();
    bad.splice(0..0, b"*2\r\n$7\r\nNOTACMD\r\n$1\r\nx\r\n".iter().copied());
    std::fs::write(&incr, &bad).unwrap();
    let (code, log) = start_fails(&["--dir", dir.path(), "--appendonly", "yes"]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("Bad file format reading the append only file"),
        "{log}"
    );
}

#[test]
fn rewrite_compacts_and_restarts_see_every_write() {
    let dir = TempDir::new();
    let flags = ["--appendonly", "yes", "--save", ""];
    let s = start(&dir, &flags);
    let mut c = s.con();
    for i in 0..200 {
        let _: () = q(&mut c, &format!("SET k{} {i}", i % 10)).unwrap();
    }
    let before: i64 = info_field(&mut c, "aof_current_size");
    assert_eq!(
        q::<String>(&mut c, "BGREWRITEAOF").unwrap(),
        "Background append only file rewriting started"
    );
    wait_until(&mut c, "aof_rewrite_in_progress", 0);
    assert_eq!(info_field(&mut c, "aof_rewrites"), 1);
    let _: () = q(&mut c, "SET late 1").unwrap();
    let after: i64 = info_field(&mut c, "aof_current_size");
    // Inside a transaction the rewrite is scheduled (its switch must not split MULTI ... EXEC).
    let replies: Vec<String> = redis::pipe()
        .atomic()
        .cmd("SET")
        .arg("tx1")
        .arg("a")
        .cmd("BGREWRITEAOF")
        .cmd("SET")
        .arg("tx2")
        .arg("b")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        replies[1],
        "Background append only file rewriting scheduled"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut c, "aof_rewrites") < 2 {
        assert!(Instant::now() < deadline, "the scheduled rewrite never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until(&mut c, "aof_rewrite_in_progress", 0);
    assert!(after < before, "rewrite compacts: {before} -> {after}");
    let manifest =
        std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert!(manifest.contains("seq 3 type b"), "{manifest}");
    assert_eq!(
        std::fs::read_dir(dir.join("appendonlydir"))
            .unwrap()
            .count(),
        3,
        "old files deleted"
    );
    drop(c);
    shutdown(s, "NOSAVE");
    let s = start(&dir, &flags);
    let mut c = s.con();
    assert_eq!(q::<i64>(&mut c, "DBSIZE").unwrap(), 13);
    assert_eq!(q::<String>(&mut c, "GET k9").unwrap(), "199");
    assert_eq!(q::<String>(&mut c, "GET tx2").unwrap(), "b");
    assert_eq!(q::<String>(&mut c, "GET late").unwrap(), "1");
}

fn info_field(c: &mut redis::Connection, name: &str) -> i64 {
    let info: String = q(c, "INFO persistence").unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} in {info}"))
        .trim()
        .parse()
        .unwrap()
}

/// Polls an INFO persistence field until it has `value` (a background job finishing).
fn wait_until(c: &mut redis::Connection, name: &str, value: i64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(c, name) != value {
        assert!(Instant::now() < deadline, "{name} never became {value}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn save_bgsave_lastsave_save_points_and_info() {
    let dir = TempDir::new();
    let s = start(&dir, &["--save", ""]);
    let mut c = s.con();
    let _: () = q(&mut c, "SET a 1").unwrap();
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 1);
    let first: i64 = q(&mut c, "LASTSAVE").unwrap();
    assert_eq!(q::<String>(&mut c, "SAVE").unwrap(), "OK");
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), 0);
    assert_eq!(info_field(&mut c, "rdb_saves"), 1);
    assert!(q::<i64>(&mut c, "LASTSAVE").unwrap() >= first);
    let _: () = q(&mut c, "SET b 2").unwrap();
    assert_eq!(
        q::<String>(&mut c, "BGSAVE").unwrap(),
        "Background saving started"
    );
    wait_until(&mut c, "rdb_bgsave_in_progress", 0);
    assert_eq!(info_field(&mut c, "rdb_saves"), 2);
    assert_eq!(qerr(&mut c, "BGSAVE NOW"), "ERR syntax error");
    assert!(qerr(&mut c, "BGREWRITEAOF").contains("appendonly no"));
    // A save point: one change, one second.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("save")
        .arg("1 1")
        .query(&mut c)
        .unwrap();
    assert_eq!(
        q::<Vec<String>>(&mut c, "CONFIG GET save").unwrap(),
        vec!["save", "1 1"]
    );
    let _: () = q(&mut c, "SET c 3").unwrap();
    wait_until(&mut c, "rdb_saves", 3);
    assert!(qerr(&mut c, "CONFIG SET save 1").contains("Invalid save parameters"));
    assert!(qerr(&mut c, "CONFIG SET dir /no/such/dir").contains("No such file or directory"));
    // DEBUG RELOAD: saved and loaded back.
    let _: () = q(&mut c, "SET d 4 PX 100000").unwrap();
    assert_eq!(q::<String>(&mut c, "DEBUG RELOAD").unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, "DBSIZE").unwrap(), 4);
    assert!(q::<i64>(&mut c, "PTTL d").unwrap() > 90_000);
    // FLUSHALL with save points writes the empty snapshot at once: a restart brings nothing back.
    let _: () = q(&mut c, "FLUSHALL").unwrap();
    drop(c);
    crash(s);
    let s = start(&dir, &["--save", ""]);
    assert_eq!(q::<i64>(&mut s.con(), "DBSIZE").unwrap(), 0);
}

#[test]
fn appendonly_turned_on_at_run_time_and_corrupt_snapshot_refused() {
    let dir = TempDir::new();
    let s = start(&dir, &["--save", ""]);
    let mut c = s.con();
    let _: () = q(&mut c, "SET before 1").unwrap();
    let _: () = q(&mut c, "CONFIG SET appendonly yes").unwrap();
    let _: () = q(&mut c, "SET after 2").unwrap();
    wait_until(&mut c, "aof_rewrite_in_progress", 0);
    assert_eq!(info_field(&mut c, "aof_enabled"), 1);
    let _: () = q(&mut c, "CONFIG SET appendfsync always").unwrap();
    let _: () = q(&mut c, "SET third 3").unwrap();
    drop(c);
    crash(s);
    let s = start(&dir, &["--save", "", "--appendonly", "yes"]);
    let mut c = s.con();
    assert_eq!(q::<i64>(&mut c, "DBSIZE").unwrap(), 3);
    let _: () = q(&mut c, "SAVE").unwrap();
    drop(c);
    shutdown(s, "NOSAVE");

    // A damaged snapshot file is refused at start-up (nothing half-loaded is served).
    let path = dir.join("dump.tcs");
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let (code, log) = start_fails(&["--dir", dir.path(), "--save", ""]);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("is not a valid snapshot"), "{log}");
    // So is a directory that does not exist.
    let (code, log) = start_fails(&["--dir", "/no/such/dir"]);
    assert_eq!(code, Some(1), "{log}");
    assert!(log.contains("Can't chdir to '/no/such/dir'"), "{log}");
}

#[test]
fn aof_rewrites_itself_when_it_doubles_and_shutdown_save_writes_a_snapshot() {
    let dir = TempDir::new();
    let flags = [
        "--appendonly",
        "yes",
        "--save",
        "",
        "--auto-aof-rewrite-min-size",
        "20kb",
        "--auto-aof-rewrite-percentage",
        "100",
    ];
    let s = start(&dir, &flags);
    let mut c = s.con();
    // The same ten keys over and over: the AOF grows, the data does not.
    for i in 0..400 {
        let _: () = q(&mut c, &format!("SET k{} {}", i % 10, "v".repeat(40))).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while info_field(&mut c, "aof_rewrites") < 1 {
        assert!(Instant::now() < deadline, "no automatic rewrite");
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_until(&mut c, "aof_rewrite_in_progress", 0);
    assert!(info_field(&mut c, "aof_current_size") < 20 * 1024);
    drop(c);
    // SHUTDOWN SAVE writes the snapshot file even with no save points.
    assert!(!dir.join("dump.tcs").exists());
    shutdown(s, "SAVE");
    assert!(dir.join("dump.tcs").exists());
    let s = start(&dir, &["--save", ""]);
    assert_eq!(q::<i64>(&mut s.con(), "DBSIZE").unwrap(), 10);
}

#[test]
fn a_failed_background_save_refuses_writes_until_a_save_succeeds() {
    let dir = TempDir::new();
    let s = start(&dir, &["--save", "3600 1"]);
    let mut c = s.con();
    let _: () = q(&mut c, "SET x 1").unwrap();
    let gone = TempDir::new();
    let _: () = q(&mut c, &format!("CONFIG SET dir {}", gone.path())).unwrap();
    drop(gone);
    assert_eq!(
        q::<String>(&mut c, "BGSAVE").unwrap(),
        "Background saving started"
    );
    wait_until(&mut c, "rdb_bgsave_in_progress", 0);
    let info: String = q(&mut c, "INFO persistence").unwrap();
    assert!(info.contains("rdb_last_bgsave_status:err"), "{info}");
    // Writes are refused (the client learns they would not be persisted); reads go on.
    assert!(qerr(&mut c, "SET x 2").starts_with("MISCONF "));
    assert_eq!(q::<String>(&mut c, "GET x").unwrap(), "1");
    let _: () = q(&mut c, &format!("CONFIG SET dir {}", dir.path())).unwrap();
    assert_eq!(q::<String>(&mut c, "SAVE").unwrap(), "OK");
    let _: () = q(&mut c, "SET x 3").unwrap();
    assert_eq!(q::<String>(&mut c, "GET x").unwrap(), "3");
}

/// A script touching state from AI.SCRIPTEXECUTE only.
const BUMP: &str = r#"
import fastscore

def bump(tensors, keys, args):
    fastscore.cells("hits").update(lambda v: (v or 0) + 1)
"#;

#[test]
fn state_touched_by_scriptexecute_survives_an_aof_restart() {
    let dir = TempDir::new();
    // `always`: the test kills the server right after a reply, and only `always` makes a reply wait for the
    // AOF write (under everysec the writer may still hold the last millisecond of effects).
    let flags = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ];
    let s = start(&dir, &flags);
    let mut c = s.con();
    let _: String = redis::cmd("AI.SCRIPTSTORE")
        .arg("b")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("bump")
        .arg("SOURCE")
        .arg(BUMP)
        .query(&mut c)
        .unwrap();
    let _: () = q(&mut c, "AI.SCRIPTEXECUTE b bump KEYS 1 k").unwrap();
    drop(c);
    crash(s);
    // Loading never runs Python: what AI.SNAPSHOT of `b` covers comes back from the AOF.
    let s = start(&dir, &flags);
    let mut c = s.con();
    let state: Vec<Vec<String>> = q(&mut c, "DEBUG SCRIPT-STATE b").unwrap();
    assert_eq!(state, vec![vec!["cell".to_string(), "hits".to_string()]]);
    assert_eq!(q::<i64>(&mut c, "AI.CELLGET hits").unwrap(), 1);
}
