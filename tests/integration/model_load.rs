//! Models under load: auto-batching across clients, workers that never block the server, TIMEOUT and the
//! kill switch, many concurrent clients, clients that leave mid-run.

use std::time::Duration;

use redis::Value;

use crate::common::{q, qerr, Server};
use crate::models::{fixture, floats, run_rows, store, tensorget, tensorset};

#[test]
fn batching_across_clients() {
    let s = Server::start();
    let mut c = s.con();
    let lin = fixture("linear");
    // Unbatched reference results for four different rows.
    assert_eq!(store(&mut c, "plain", &lin, &[]).unwrap(), "OK");
    let mut want = Vec::new();
    for i in 0..4 {
        q::<()>(
            &mut c,
            &format!("AI.TENSORSET in{i} FLOAT 1 4 VALUES {i} 1 2 3"),
        )
        .unwrap();
        want.push(run_rows(&mut c, "plain", &format!("in{i}"), "ref"));
    }
    // MINBATCHSIZE 4 holds requests until four rows are queued: three clients wait, the fourth completes all.
    assert_eq!(
        store(
            &mut c,
            "batched",
            &lin,
            &["BATCHSIZE", "4", "MINBATCHSIZE", "4"]
        )
        .unwrap(),
        "OK"
    );
    let mut raws: Vec<_> = (0..3).map(|_| s.raw()).collect();
    for (i, r) in raws.iter_mut().enumerate() {
        r.send(format!("AI.MODELEXECUTE batched INPUTS 1 in{i} OUTPUTS 1 out{i}\r\n").as_bytes());
    }
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        q::<i64>(&mut c, "EXISTS out0 out1 out2").unwrap(),
        0,
        "held back until the batch is complete"
    );
    assert_eq!(
        q::<String>(&mut c, "PING").unwrap(),
        "PONG",
        "the server answers meanwhile"
    );
    let mine = run_rows(&mut c, "batched", "in3", "out3");
    for r in &mut raws {
        assert_eq!(r.read_n(5), b"+OK\r\n");
    }
    let info: String = q(&mut c, "INFO ai").unwrap();
    assert!(
        info.contains("ai_queue_CPU_batches:1\r\n")
            && info.contains("ai_queue_CPU_batched_requests:4\r\n"),
        "{info}"
    );
    for (i, w) in want.iter().enumerate() {
        let got = if i == 3 {
            mine.clone()
        } else {
            floats(&tensorget(&mut c, &format!("out{i}")).2)
        };
        assert_eq!(&got, w, "request {i} gets its own rows back");
    }
    let stats: Vec<Value> = q(&mut c, "AI.INFO batched").unwrap();
    assert_eq!(
        (&stats[13], &stats[15]),
        (&Value::Int(4), &Value::Int(4)),
        "4 samples in 4 calls"
    );

    // A batch of 3 on BATCHSIZE 8 (tract pads it to 4 rows, ONNX Runtime runs 3): every request still gets
    // its own rows, and only real rows count as samples.
    assert_eq!(
        store(
            &mut c,
            "three",
            &lin,
            &["BATCHSIZE", "8", "MINBATCHSIZE", "3"]
        )
        .unwrap(),
        "OK"
    );
    let mut raws: Vec<_> = (0..2).map(|_| s.raw()).collect();
    for (i, r) in raws.iter_mut().enumerate() {
        r.send(format!("AI.MODELEXECUTE three INPUTS 1 in{i} OUTPUTS 1 third{i}\r\n").as_bytes());
    }
    std::thread::sleep(Duration::from_millis(200));
    let mine = run_rows(&mut c, "three", "in2", "third2");
    for r in &mut raws {
        assert_eq!(r.read_n(5), b"+OK\r\n");
    }
    for (i, w) in want.iter().take(3).enumerate() {
        let got = if i == 2 {
            mine.clone()
        } else {
            floats(&tensorget(&mut c, &format!("third{i}")).2)
        };
        assert_eq!(
            &got, w,
            "request {i} of the padded batch gets its own rows back"
        );
        assert_eq!(tensorget(&mut c, &format!("third{i}")).1[0], 1);
    }
    let stats: Vec<Value> = q(&mut c, "AI.INFO three").unwrap();
    assert_eq!(
        (&stats[13], &stats[15]),
        (&Value::Int(3), &Value::Int(3)),
        "3 samples in 3 calls"
    );

    // MINBATCHTIMEOUT lets a lone request run once it has waited that long.
    assert_eq!(
        store(
            &mut c,
            "timed",
            &lin,
            &[
                "BATCHSIZE",
                "4",
                "MINBATCHSIZE",
                "4",
                "MINBATCHTIMEOUT",
                "50"
            ]
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(run_rows(&mut c, "timed", "in0", "t0"), want[0]);

    // A model whose output does not follow the batch fails every request of the batch.
    assert_eq!(
        store(
            &mut c,
            "bad",
            &fixture("badbatch"),
            &["BATCHSIZE", "2", "MINBATCHSIZE", "2"]
        )
        .unwrap(),
        "OK"
    );
    q::<()>(&mut c, "AI.TENSORSET b FLOAT 1 2 VALUES 1 2").unwrap();
    let mut other = s.raw();
    other.send(b"AI.MODELEXECUTE bad INPUTS 1 b OUTPUTS 1 bo1\r\n");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        qerr(&mut c, "AI.MODELEXECUTE bad INPUTS 1 b OUTPUTS 1 bo2"),
        "ERR Model did not generate the expected batch size"
    );
    other.expect(
        b"",
        b"-ERR Model did not generate the expected batch size\r\n",
    );
}

#[test]
fn workers_never_block_the_server() {
    // One worker, and a run long enough to be still going while other clients are served.
    let s = Server::with_args(&[
        "--threads-per-queue",
        "1",
        // The slow run must not hit the kill switch on a slow machine (debug build): this test is
        // about queueing, not about the kill switch.
        "--model-execution-timeout",
        "120000",
    ]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "slow", &fixture("slow"), &[]).unwrap(), "OK");
    let rows = 50_000usize;
    let big: Vec<u8> = (0..rows * 128)
        .flat_map(|i| ((i % 7) as f32 / 7.0).to_le_bytes())
        .collect();
    tensorset(&mut c, "big", "FLOAT", &[rows, 128], &big);
    q::<()>(&mut c, "AI.TENSORSET one FLOAT 1 128").unwrap();
    let mut busy = s.raw();
    busy.send(b"AI.MODELEXECUTE slow INPUTS 1 big OUTPUTS 1 bigout\r\n");
    std::thread::sleep(Duration::from_millis(50));
    // While the worker runs: PING and other commands answer; a queued request with TIMEOUT 1 times out.
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
    assert_eq!(
        q::<String>(
            &mut c,
            "AI.MODELEXECUTE slow INPUTS 1 one OUTPUTS 1 late TIMEOUT 1"
        )
        .unwrap(),
        "TIMEDOUT"
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS late").unwrap(), 0);
    busy.expect(b"", b"+OK\r\n");
    let (_, shape, _) = tensorget(&mut c, "bigout");
    assert_eq!(shape, vec![rows, 128]);
    // A client that goes away mid-run does not disturb the others; its outputs are still committed.
    let mut gone = s.raw();
    gone.send(b"AI.MODELEXECUTE slow INPUTS 1 big OUTPUTS 1 orphan\r\n");
    drop(gone);
    assert_eq!(run_rows(&mut c, "slow", "one", "after").len(), 128);
    let mut waited = 0;
    while q::<i64>(&mut c, "EXISTS orphan").unwrap() == 0 {
        assert!(waited < 200, "the orphaned run never committed");
        std::thread::sleep(Duration::from_millis(50));
        waited += 1;
    }
}

#[test]
fn execution_timeout_stops_a_run() {
    let s = Server::with_args(&["--model-execution-timeout", "50"]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "slow", &fixture("slow"), &[]).unwrap(), "OK");
    let rows = 50_000usize;
    tensorset(
        &mut c,
        "big",
        "FLOAT",
        &[rows, 128],
        &vec![0u8; rows * 128 * 4],
    );
    let err = qerr(&mut c, "AI.MODELEXECUTE slow INPUTS 1 big OUTPUTS 1 y");
    assert!(
        err.contains("Exiting due to terminate flag being set to true"),
        "{err}"
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS y").unwrap(), 0);
    // The worker's state for the model was dropped; the next run starts clean.
    q::<()>(&mut c, "AI.TENSORSET one FLOAT 1 128").unwrap();
    assert_eq!(run_rows(&mut c, "slow", "one", "y").len(), 128);
}

#[test]
fn many_clients_get_their_own_results() {
    let s = Server::with_args(&["--threads-per-queue", "2"]);
    let mut c = s.con();
    let lin = fixture("linear");
    assert_eq!(store(&mut c, "plain", &lin, &[]).unwrap(), "OK");
    assert_eq!(
        store(&mut c, "batched", &lin, &["BATCHSIZE", "8"]).unwrap(),
        "OK"
    );
    let mut want = Vec::new();
    for i in 0..32 {
        q::<()>(
            &mut c,
            &format!("AI.TENSORSET x{i} FLOAT 1 4 VALUES {i} {} 0.5 -1", i * 2),
        )
        .unwrap();
        want.push(run_rows(
            &mut c,
            "plain",
            &format!("x{i}"),
            &format!("ref{i}"),
        ));
    }
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let mut con = s.con();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                for round in 0..10 {
                    let model = if round % 2 == 0 { "batched" } else { "plain" };
                    got.push(run_rows(
                        &mut con,
                        model,
                        &format!("x{i}"),
                        &format!("y{i}"),
                    ));
                }
                got
            })
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        for got in t.join().unwrap() {
            assert_eq!(got, want[i], "client {i} got someone else's rows");
        }
    }
    let stats: Vec<Value> = q(&mut c, "AI.INFO batched").unwrap();
    assert_eq!((&stats[15], &stats[17]), (&Value::Int(160), &Value::Int(0)));
}

/// `INFO modules` carries RedisAI's sections in RedisAI's order, read the way its tests read them (split on
/// `#`, by position after `# Modules`), with the load-time settings this server runs with.
#[test]
fn info_modules_has_redisai_sections() {
    let s = Server::with_args(&[
        "--threads-per-queue",
        "2",
        "--model-execution-timeout",
        "2500",
    ]);
    let mut c = s.con();
    let info: String = q(&mut c, "INFO MODULES").unwrap();
    let pieces: Vec<&str> = info.split('#').collect();
    assert!(pieces[1].trim_start().starts_with("Modules"), "{info}");
    let section = |i: usize| -> Vec<(String, String)> {
        let mut lines = pieces[i + 2].lines();
        let _name = lines.next();
        lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let names: Vec<&str> = (2..7)
        .map(|i| pieces[i].lines().next().unwrap().trim())
        .collect();
    assert_eq!(
        names,
        [
            "ai_versions",
            "ai_git",
            "ai_load_time_configs",
            "ai_backends_info",
            "ai_cpu"
        ]
    );
    let keys = |i: usize| -> Vec<String> { section(i).into_iter().map(|(k, _)| k).collect() };
    assert_eq!(
        keys(0),
        [
            "ai_RedisAI_version",
            "ai_low_level_API_version",
            "ai_rdb_version"
        ]
    );
    assert_eq!(keys(1), ["ai_git_sha"]);
    let configs: Vec<(String, String)> = section(2);
    let get = |k: &str| {
        configs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {configs:?}"))
    };
    assert_eq!(
        keys(2),
        [
            "ai_threads_per_queue",
            "ai_inter_op_parallelism",
            "ai_intra_op_parallelism",
            "ai_model_execution_timeout",
            "ai_backend_memory_limit"
        ]
    );
    assert_eq!(get("ai_threads_per_queue"), "2");
    assert_eq!(get("ai_model_execution_timeout"), "2500");
    let sha = &section(1)[0].1;
    assert!(
        sha == "unknown" || (sha.len() == 40 && sha.chars().all(|c| c.is_ascii_hexdigit())),
        "{sha}"
    );
    // One CPU line per model worker of the CPU queue, each a number of seconds.
    let cpu = section(4);
    for n in 1..=2 {
        let k = format!("ai_queue_CPU_bthread_n{n}_used_cpu_total");
        let v = cpu
            .iter()
            .find(|(name, _)| *name == k)
            .unwrap_or_else(|| panic!("no {k} in {cpu:?}"));
        assert!(v.1.parse::<f64>().is_ok(), "{v:?}");
    }
    assert!(cpu.iter().any(|(k, _)| k == "ai_self_used_cpu_user"));
    // As Redis: not in the default INFO, there with `everything`.
    let default: String = q(&mut c, "INFO").unwrap();
    assert!(!default.contains("# ai_versions"));
    let everything: String = q(&mut c, "INFO everything").unwrap();
    assert!(everything.contains("# ai_versions"));
}

#[test]
fn an_onnxruntime_library_that_does_not_load_is_a_clear_error() {
    // `onnx-backend onnxruntime` with no library there: the server starts, and a model load is refused with
    // the path and the ONNX Runtime this build needs, never a crash and never a silent move to tract.
    let missing = "/nonexistent/libonnxruntime.so";
    let s = Server::with_args(&[
        "--onnx-backend",
        "onnxruntime",
        "--onnxruntime-library",
        missing,
    ]);
    let mut c = s.con();
    let err = store(&mut c, "m", &fixture("linear"), &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(missing) && err.contains("tensorcell needs libonnxruntime.so 1."),
        "{err}"
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS m").unwrap(), 0);
    // RedisAI's way, with a file that is no library at all: an error naming it; the server goes on.
    let dir = tempfile_dir();
    let fake = dir.join("libonnxruntime.so");
    std::fs::write(&fake, b"not a shared library").unwrap();
    let err = qerr(
        &mut c,
        &format!("AI.CONFIG LOADBACKEND ONNX {}", fake.display()),
    );
    assert!(
        err.contains("error loading backend") && err.contains(&fake.display().to_string()),
        "{err}"
    );
    assert_eq!(q::<String>(&mut c, "PING").unwrap(), "PONG");
}

#[test]
fn onnx_backend_auto_falls_back_to_tract() {
    let s = Server::with_args(&[
        "--onnx-backend",
        "auto",
        "--onnxruntime-library",
        "/nonexistent/libonnxruntime.so",
    ]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "m", &fixture("linear"), &[]).unwrap(), "OK");
    let info: Vec<Value> = q(&mut c, "AI.INFO m").unwrap();
    assert_eq!(info[19], Value::BulkString(b"tract".to_vec()));
    let ai: String = q(&mut c, "INFO ai").unwrap();
    assert!(ai.contains("ai_onnx_backend:tract "), "{ai}");
    // tract pinned: even a library that loads is not used.
    let s = Server::with_args(&["--onnx-backend", "tract"]);
    let mut c = s.con();
    assert_eq!(store(&mut c, "m", &fixture("linear"), &[]).unwrap(), "OK");
    let info: Vec<Value> = q(&mut c, "AI.INFO m").unwrap();
    assert_eq!(info[19], Value::BulkString(b"tract".to_vec()));
}

fn tempfile_dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!(
        "tensorcell-ort-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The onnxruntime wheel's library in the test venv (scripts/test installs it), if it is there.
fn venv_onnxruntime() -> Option<std::path::PathBuf> {
    let lib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(".venv/lib");
    let py = std::fs::read_dir(&lib).ok()?.flatten().next()?.path();
    let capi = py.join("site-packages/onnxruntime/capi");
    std::fs::read_dir(capi)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime.so."))
        })
}

#[test]
fn loadbackend_switches_new_models_to_onnxruntime() {
    let Some(lib) = venv_onnxruntime() else {
        eprintln!("skipped: no onnxruntime wheel in .venv (scripts/test installs it)");
        return;
    };
    // Started on tract (auto, no library given), then RedisAI's way: BACKENDSPATH + a relative path.
    let s = Server::with_env(&["--onnx-backend", "auto"], &[("ORT_DYLIB_PATH", None)]);
    let mut c = s.con();
    assert_eq!(
        store(&mut c, "before", &fixture("linear"), &[]).unwrap(),
        "OK"
    );
    let (dir, file) = (lib.parent().unwrap(), lib.file_name().unwrap());
    q::<()>(&mut c, &format!("AI.CONFIG BACKENDSPATH {}", dir.display())).unwrap();
    let ok: String = q(
        &mut c,
        &format!("AI.CONFIG LOADBACKEND ONNX {}", file.to_string_lossy()),
    )
    .unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(
        store(&mut c, "after", &fixture("linear"), &[]).unwrap(),
        "OK"
    );
    let runtime = |c: &mut redis::Connection, k: &str| {
        let info: Vec<Value> = q(c, &format!("AI.INFO {k}")).unwrap();
        info[19].clone()
    };
    assert_eq!(
        runtime(&mut c, "before"),
        Value::BulkString(b"tract".to_vec())
    );
    assert_eq!(
        runtime(&mut c, "after"),
        Value::BulkString(b"onnxruntime".to_vec())
    );
    // Both give the same results.
    q::<()>(&mut c, "AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    assert_eq!(
        run_rows(&mut c, "before", "x", "y1"),
        run_rows(&mut c, "after", "x", "y2")
    );
    let modules: String = q(&mut c, "INFO modules").unwrap();
    assert!(modules.contains("ai_onnxruntime_version:1."), "{modules}");
}

#[test]
fn an_endless_loop_is_stopped_by_the_kill_switch() {
    // A Loop that never ends: ONNX Runtime runs it until model-execution-timeout sets its terminate flag, the
    // client gets RedisAI's error and the worker is free for the next run. tract has no Loop: a clear refusal.
    let s = Server::with_args(&["--model-execution-timeout", "300"]);
    let mut c = s.con();
    let stored = store(&mut c, "endless", &fixture("endless"), &[]);
    if !crate::models::onnxruntime() {
        let err = stored.unwrap_err().to_string();
        assert!(err.contains("Loop"), "{err}");
        return;
    }
    assert_eq!(stored.unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET x FLOAT 1 VALUES 0").unwrap();
    let err = qerr(&mut c, "AI.MODELEXECUTE endless INPUTS 1 x OUTPUTS 1 y");
    assert!(
        err.contains("Exiting due to terminate flag being set to true"),
        "{err}"
    );
    assert_eq!(q::<i64>(&mut c, "EXISTS y").unwrap(), 0);
    // Twice: the run's session went back to the pool sound, and the same worker serves the next one.
    let err = qerr(&mut c, "AI.MODELEXECUTE endless INPUTS 1 x OUTPUTS 1 y");
    assert!(err.contains("terminate flag"), "{err}");
    assert_eq!(store(&mut c, "lin", &fixture("linear"), &[]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET v FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    assert_eq!(run_rows(&mut c, "lin", "v", "w").len(), 3);
    let info: Vec<Value> = q(&mut c, "AI.INFO endless").unwrap();
    assert_eq!(info[17], Value::Int(2), "two failed runs: {info:?}");
}
