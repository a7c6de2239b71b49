//! Script runner processes: calls spread over RUNNERS, AI.CONFIG SCRIPT_RUNNERS, begin() once per store,
//! crashes, runaway scripts and memory limits failing only their own call, exact shared state with runners
//! killed mid-run, big tensors through shared memory, script-user.

use std::time::Duration;

use redis::Value;

use crate::common::{err_text, q, qerr, Server};

/// Stores a script with `opts` before ENTRY_POINTS (RUNNERS, LANGUAGE); the reply, or the error's text.
pub(crate) fn store(
    c: &mut redis::Connection,
    key: &str,
    opts: &[&str],
    eps: &[&str],
    src: &str,
) -> String {
    let mut cmd = redis::cmd("AI.SCRIPTSTORE");
    cmd.arg(key)
        .arg("CPU")
        .arg(opts)
        .arg("ENTRY_POINTS")
        .arg(eps.len())
        .arg(eps);
    cmd.arg("SOURCE").arg(src);
    match cmd.query::<String>(c) {
        Ok(s) => s,
        Err(e) => err_text(e),
    }
}

/// The pids of the server's runner processes: the children of each of its threads (each driver thread
/// starts its own runner).
fn runner_pids(server: &Server) -> Vec<u32> {
    let mut all: Vec<u32> = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", server.pid())) {
        for t in tasks.flatten() {
            let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            all.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    all.sort_unstable();
    all.dedup();
    all
}

/// SIGKILL to a runner that may already be gone (unlike `persistence::kill9`, which insists).
fn kill9(pid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
}

/// A field of AI.INFO's flat reply.
fn info_field(c: &mut redis::Connection, key: &str, field: &str) -> i64 {
    let v: Vec<Value> = q(c, &format!("AI.INFO {key}")).unwrap();
    let i = v
        .iter()
        .position(|x| {
            matches!(x, Value::BulkString(b) if b == field.as_bytes())
                || matches!(x, Value::SimpleString(s) if s == field)
        })
        .unwrap_or_else(|| panic!("AI.INFO has no {field}: {v:?}"));
    redis::from_redis_value(v[i + 1].clone()).unwrap()
}

const PIDS: &str = r#"
import os, time
import numpy as np

def pid(tensors, keys, args):
    time.sleep(float(args[0]) if args else 0)
    return np.array([os.getpid()], dtype=np.int64)

def echo(tensors, keys, args):
    return list(tensors)
"#;

fn pid_of(c: &mut redis::Connection, key: &str, out: &str, sleep: &str) -> i64 {
    assert_eq!(
        q::<String>(
            c,
            &format!("AI.SCRIPTEXECUTE {key} pid KEYS 1 k ARGS 1 {sleep} OUTPUTS 1 {out}")
        )
        .unwrap(),
        "OK"
    );
    let v: Vec<i64> = q(c, &format!("AI.TENSORGET {out} VALUES")).unwrap();
    v[0]
}

#[test]
fn concurrent_calls_spread_over_runners_and_scale_live() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(
        store(&mut c, "p", &["RUNNERS", "2"], &["pid", "echo"], PIDS),
        "OK"
    );
    // Two slow calls at once run in two different processes.
    let port = s.port;
    let other = std::thread::spawn(move || {
        let mut c2 = crate::common::connect(port);
        pid_of(&mut c2, "p", "o2", "0.6")
    });
    let mine = pid_of(&mut c, "p", "o1", "0.6");
    let theirs = other.join().unwrap();
    assert_ne!(mine, theirs, "two concurrent calls shared one runner");
    assert!(runner_pids(&s).contains(&(mine as u32)));
    assert_eq!(info_field(&mut c, "p", "runners"), 2);
    assert_eq!(info_field(&mut c, "p", "runners_alive"), 2);

    // Scale up, then down; the effect carries the count.
    crate::strings::tap(&mut c);
    assert_eq!(
        q::<String>(&mut c, "AI.CONFIG SCRIPT_RUNNERS p 3").unwrap(),
        "OK"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while info_field(&mut c, "p", "runners_alive") < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "p", "runners_alive"), 3);
    assert_eq!(
        q::<String>(&mut c, "AI.CONFIG SCRIPT_RUNNERS p 1").unwrap(),
        "OK"
    );
    while info_field(&mut c, "p", "runners_alive") > 1 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "p", "runners_alive"), 1);
    let effects = crate::strings::effects(&mut c, 1);
    assert!(
        format!("{effects:?}").contains("SCRIPT_RUNNERS"),
        "{effects:?}"
    );
    let info: String = q(&mut c, "INFO ai").unwrap();
    assert!(
        info.contains("ai_script_p:language=PYTHON,runners=1,alive=1"),
        "{info}"
    );

    // Errors of the command itself.
    assert_eq!(
        qerr(&mut c, "AI.CONFIG SCRIPT_RUNNERS p 0"),
        "ERR RUNNERS must be an integer between 1 and 64"
    );
    assert_eq!(
        qerr(&mut c, "AI.CONFIG SCRIPT_RUNNERS nosuch 2"),
        "ERR script key is empty"
    );
    assert_eq!(
        store(&mut c, "bad", &["RUNNERS", "x"], &["pid"], PIDS),
        "ERR RUNNERS must be an integer between 1 and 64"
    );
    assert_eq!(
        store(&mut c, "bad", &["LANGUAGE", "COBOL"], &["pid"], PIDS),
        "ERR unknown script language 'COBOL' (PYTHON or R)"
    );

    // Deleting the script stops its runners.
    let before = runner_pids(&s);
    assert!(!before.is_empty());
    assert_eq!(q::<i64>(&mut c, "DEL p").unwrap(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !runner_pids(&s).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(runner_pids(&s), Vec::<u32>::new());
}

#[test]
fn big_tensors_cross_through_shared_memory() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(store(&mut c, "p", &[], &["echo"], PIDS), "OK");
    let blob: Vec<u8> = (0..4 * 300_000u32).map(|i| (i % 251) as u8).collect();
    let _: String = redis::cmd("AI.TENSORSET")
        .arg("big")
        .arg("FLOAT")
        .arg(300_000)
        .arg("BLOB")
        .arg(&blob)
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("AI.TENSORSET")
        .arg("small")
        .arg("INT8")
        .arg(3)
        .arg("VALUES")
        .arg(&[1, -2, 3])
        .query(&mut c)
        .unwrap();
    assert_eq!(
        q::<String>(
            &mut c,
            "AI.SCRIPTEXECUTE p echo INPUTS 2 big small OUTPUTS 2 big2 small2"
        )
        .unwrap(),
        "OK"
    );
    let back: Vec<u8> = q(&mut c, "AI.TENSORGET big2 BLOB").unwrap();
    assert!(back == blob, "the 1.2 MB tensor came back changed");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET small2 VALUES").unwrap(),
        [1, -2, 3]
    );
}

const CRASHES: &str = r#"
import ctypes, os, time
import tensorcell

def segv(tensors, keys, args):
    ctypes.string_at(0)

def exit3(tensors, keys, args):
    os._exit(3)

def sleep(tensors, keys, args):
    time.sleep(3600)

def stubborn(tensors, keys, args):
    while True:
        try:
            time.sleep(3600)
        except BaseException:
            pass

def hog(tensors, keys, args):
    return bytearray(10 * 1024 ** 3)

def bump(tensors, keys, args):
    tensorcell.cells("bumps").update(lambda v: (v or 0) + 1)
"#;

#[test]
fn crashes_and_runaways_fail_only_their_call() {
    let s = Server::with_args(&["--script-memory-limit", "256mb"]);
    let mut c = s.con();
    let eps = ["segv", "exit3", "sleep", "stubborn", "hog", "bump"];
    assert_eq!(store(&mut c, "x", &["RUNNERS", "2"], &eps, CRASHES), "OK");
    let mut watcher = s.con();
    watcher
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let cases = [
        (
            "segv",
            "",
            "ERR script runner died: killed by signal 11 (SIGSEGV)",
        ),
        ("exit3", "", "ERR script runner died: exited with code 3"),
        ("sleep", " TIMEOUT 500", "ERR script timed out"),
        ("stubborn", " TIMEOUT 300", "ERR script timed out"),
        ("hog", "", "ERR script memory limit reached"),
    ];
    for (i, (f, extra, want)) in cases.into_iter().enumerate() {
        let port = s.port;
        let call = std::thread::spawn(move || {
            let mut c2 = crate::common::connect(port);
            qerr(&mut c2, &format!("AI.SCRIPTEXECUTE x {f} KEYS 1 k{extra}"))
        });
        // The server answers while the call is failing (a 1 s read timeout on this connection).
        assert_eq!(q::<String>(&mut watcher, "PING").unwrap(), "PONG", "{f}");
        assert_eq!(call.join().unwrap(), want, "{f}");
        assert_eq!(q::<String>(&mut watcher, "PING").unwrap(), "PONG", "{f}");
        // The next call on the same script works.
        assert_eq!(
            q::<String>(&mut c, "AI.SCRIPTEXECUTE x bump KEYS 1 k").unwrap(),
            "OK",
            "after {f}"
        );
        assert_eq!(
            q::<i64>(&mut c, "AI.CELLGET bumps").unwrap(),
            i as i64 + 1,
            "after {f}"
        );
    }
    // Two crashes and one kill (the stubborn sleeper) were replaced; two interrupts, one kill.
    assert_eq!(info_field(&mut c, "x", "restarts"), 3);
    assert_eq!(info_field(&mut c, "x", "timeouts"), 2);
    assert_eq!(info_field(&mut c, "x", "kills"), 1);
    assert_eq!(info_field(&mut c, "x", "errors"), 5);
}

/// begin() sets the counter to 0 and keeps a handle in a global: every runner needs the global, none but
/// the first may reset the counter.
const COUNTER: &str = r#"# fastscore.input: json
# fastscore.output: int
import time
import fastscore

def begin():
    global total, ids
    total = fastscore.cells("total")
    ids = fastscore.cells("ids")
    total.set(0)
    ids.set([])

def action(rec):
    time.sleep(0.01)
    ids.update(lambda v: v if rec["id"] in v else v + [rec["id"]])
    yield total.update(lambda v: v + 1)
"#;

#[test]
fn shared_state_stays_exact_with_runners_killed_mid_run() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(
        store(&mut c, "cnt", &["RUNNERS", "3"], &["action"], COUNTER),
        "OK"
    );
    let (clients, per_client) = (4, 60);
    let port = s.port;
    let workers: Vec<_> = (0..clients)
        .map(|w| {
            std::thread::spawn(move || {
                let mut c = crate::common::connect(port);
                let mut died = 0;
                for i in 0..per_client {
                    let rec = format!("{{\"id\": {}}}", w * 1000 + i);
                    // A call that died is retried: its update either committed or not, never half.
                    loop {
                        match redis::cmd("AI.SCORE")
                            .arg("cnt")
                            .arg("RECORDS")
                            .arg(1)
                            .arg(&rec)
                            .query::<Vec<i64>>(&mut c)
                        {
                            Ok(_) => break,
                            Err(e) => {
                                let t = err_text(e);
                                assert!(t.starts_with("ERR script runner died"), "{t}");
                                died += 1;
                            }
                        }
                    }
                }
                died
            })
        })
        .collect();
    // Kill runners while the clients run.
    let mut killed = 0;
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(150));
        if let Some(pid) = runner_pids(&s).first() {
            kill9(*pid);
            killed += 1;
        }
    }
    let died: i64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(killed > 0);
    let ids: Vec<i64> = serde_ids(&q::<String>(&mut c, "AI.CELLGET ids").unwrap());
    assert_eq!(
        ids.len(),
        clients * per_client,
        "every record applied exactly once"
    );
    let total: i64 = q(&mut c, "AI.CELLGET total").unwrap();
    // A call killed after its update committed was retried: at most one extra update per death.
    assert!(
        total >= (clients * per_client) as i64 && total <= (clients * per_client) as i64 + died,
        "total {total}, {died} calls died"
    );
    // begin() ran once: replacements and the other runners did not reset the counter.
    assert!(total > 0);
    assert!(info_field(&mut c, "cnt", "restarts") > 0);
}

fn serde_ids(json: &str) -> Vec<i64> {
    let mut v: Vec<i64> = json
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .filter(|x| !x.trim().is_empty())
        .map(|x| x.trim().parse().unwrap())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn a_script_user_cannot_read_the_servers_files() {
    if !crate::common::is_root() {
        eprintln!("SKIP a_script_user_cannot_read_the_servers_files: needs root to switch users");
        return;
    }
    let dir = crate::common::TempDir::new();
    let secret = dir.join("secret");
    std::fs::write(&secret, "root only").unwrap();
    std::fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    // The runner must reach the file's directory to be refused by the file itself.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let src = format!(
        "import os\nimport numpy as np\ndef peek(t, k, a):\n    open({:?}).read()\n\ndef who(t, k, a):\n    return np.array([os.getuid()], dtype=np.int64)\n",
        secret.display().to_string()
    );
    let s = Server::with_args(&["--script-user", "nobody"]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "peek", &[], &["peek", "who"], &src), "OK");
    let e = qerr(&mut c, "AI.SCRIPTEXECUTE peek peek KEYS 1 k");
    assert!(e.starts_with("ERR PermissionError"), "{e}");
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE peek who KEYS 1 k OUTPUTS 1 uid").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET uid VALUES").unwrap(),
        [65534]
    );
    // Without script-user, the same script reads it (the server's own user).
    let s2 = Server::start();
    let mut c2 = s2.con();
    assert_eq!(store(&mut c2, "peek", &[], &["peek", "who"], &src), "OK");
    assert_eq!(
        q::<String>(&mut c2, "AI.SCRIPTEXECUTE peek peek KEYS 1 k").unwrap(),
        "OK"
    );
}

/// Calls that wait together for one runner share a request (one record set each): every call still gets
/// its own outputs, and a bad record fails its call only.
#[test]
fn waiting_score_calls_share_a_runner_request_but_not_their_errors() {
    let s = Server::start();
    let mut c = s.con();
    let src = "# fastscore.input: int\n# fastscore.output: int\nimport time\n\
               def action(x):\n    time.sleep(0.02)\n    yield x * 10\n";
    assert_eq!(store(&mut c, "slow", &[], &["action"], src), "OK");
    let port = s.port;
    let calls: Vec<_> = (0..12)
        .map(|i| {
            std::thread::spawn(move || {
                let mut c = crate::common::connect(port);
                let rec = if i == 5 {
                    "x".to_string()
                } else {
                    i.to_string()
                };
                let r: redis::RedisResult<Vec<i64>> = redis::cmd("AI.SCORE")
                    .arg("slow")
                    .arg("RECORDS")
                    .arg(2)
                    .arg(&rec)
                    .arg(i + 100)
                    .query(&mut c);
                (i, r.map_err(err_text))
            })
        })
        .collect();
    for t in calls {
        let (i, r) = t.join().unwrap();
        if i == 5 {
            assert_eq!(r.unwrap_err(), "ERR record 1: expected int");
        } else {
            assert_eq!(r.unwrap(), [i * 10, (i + 100) * 10], "call {i}");
        }
    }
    // Every call is counted, batched or not.
    assert_eq!(info_field(&mut c, "slow", "calls"), 12);
    assert_eq!(info_field(&mut c, "slow", "errors"), 1);
}

/// A script's background thread cannot talk to the server between calls (its answers would reach the next
/// request): it gets an error, and the runner stays in step.
#[test]
fn background_threads_cannot_call_the_server_between_calls() {
    let s = Server::start();
    let mut c = s.con();
    let src = r#"
import threading, time
import numpy as np
import tensorcell

errors = []

def later():
    time.sleep(0.3)
    try:
        tensorcell.cells("bgcell").set(1)
    except RuntimeError as e:
        errors.append(str(e))

def start(t, k, a):
    threading.Thread(target=later).start()

def check(t, k, a):
    return np.array(errors or ["none"], dtype=object)
"#;
    assert_eq!(store(&mut c, "bg", &[], &["start", "check"], src), "OK");
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE bg start KEYS 1 k").unwrap(),
        "OK"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE bg check KEYS 1 k OUTPUTS 1 e").unwrap(),
        "OK"
    );
    let e: Vec<String> = q(&mut c, "AI.TENSORGET e VALUES").unwrap();
    assert!(e[0].starts_with("no call is running"), "{e:?}");
    assert_eq!(
        q::<Option<String>>(&mut c, "AI.CELLGET bgcell").unwrap(),
        None
    );
    assert_eq!(info_field(&mut c, "bg", "restarts"), 0);
}

/// A short call never waits behind another call's long request when the script has a free runner, even
/// when short calls usually join a busy runner's next batch.
#[test]
fn a_short_call_is_not_held_behind_a_long_one() {
    let s = Server::start();
    let mut c = s.con();
    let src = "# fastscore.input: int\n# fastscore.output: int\nimport time\n\
               def action(x):\n    if x < 0:\n        time.sleep(3)\n    yield x\n";
    assert_eq!(
        store(&mut c, "mix", &["RUNNERS", "2"], &["action"], src),
        "OK"
    );
    // Short calls first: the script's requests are short on average.
    for i in 0..50 {
        assert_eq!(
            q::<Vec<i64>>(&mut c, &format!("AI.SCORE mix RECORDS 1 {i}")).unwrap(),
            [i]
        );
    }
    let port = s.port;
    let long = std::thread::spawn(move || {
        let mut c = crate::common::connect(port);
        q::<Vec<i64>>(&mut c, "AI.SCORE mix RECORDS 1 -1").unwrap()
    });
    // The long call is running on one runner: its request went out (INFO counts a call when its request
    // is sent: 51), and a runner is busy (a busy count alone may be the last short call's driver finishing).
    let sent = |c: &mut redis::Connection| -> i64 {
        let info: String = q(c, "INFO ai").unwrap();
        let line = info
            .lines()
            .find_map(|l| l.strip_prefix("ai_script_mix:"))
            .unwrap_or_else(|| panic!("no ai_script_mix line in {info}"));
        line.split(',')
            .find_map(|f| f.strip_prefix("calls="))
            .unwrap()
            .parse()
            .unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(2);
    while (sent(&mut c) < 51 || info_field(&mut c, "mix", "runners_busy") < 1)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(sent(&mut c), 51);
    assert_eq!(info_field(&mut c, "mix", "runners_busy"), 1);
    for i in 0..5 {
        assert_eq!(
            q::<Vec<i64>>(&mut c, &format!("AI.SCORE mix RECORDS 1 {i}")).unwrap(),
            [i]
        );
    }
    assert!(
        !long.is_finished(),
        "the short calls were answered while the long one still ran"
    );
    assert_eq!(long.join().unwrap(), [-1]);
}

/// begin() writes a Redis string through redis.execute: a runner started later replays begin() for its
/// globals, and the write must not run again (in both front ends: inside Redis, INCR is Redis's own command).
const BEGIN_WRITES: &str = r#"# fastscore.input: int
# fastscore.output: int
import fastscore

def begin():
    redis.execute("INCR", "begun")

def action(x):
    yield int(redis.execute("GET", "begun"))
"#;

#[test]
fn a_replayed_begin_does_not_run_its_writes_again() {
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(store(&mut c, "b", &[], &["action"], BEGIN_WRITES), "OK");
    assert_eq!(q::<i64>(&mut c, "GET begun").unwrap(), 1);
    q::<()>(&mut c, "AI.CONFIG SCRIPT_RUNNERS b 3").unwrap();
    // Calls on every runner, each of which replayed begin(): all read the count the first run left.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while info_field(&mut c, "b", "runners_alive") < 3 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(info_field(&mut c, "b", "runners_alive"), 3);
    let port = s.port;
    let calls: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                let mut c = crate::common::connect(port);
                redis::cmd("AI.SCORE")
                    .arg("b")
                    .arg("RECORDS")
                    .arg(1)
                    .arg(7)
                    .query::<Vec<i64>>(&mut c)
                    .unwrap()
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.join().unwrap(), vec![1]);
    }
    assert_eq!(
        q::<i64>(&mut c, "GET begun").unwrap(),
        1,
        "begin()'s INCR ran once"
    );
}
