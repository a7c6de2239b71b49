//! R runners: FastScore's R seed models run verbatim and give their Python twins' outputs, R and Python
//! runners share cells, R arrays for SCRIPTEXECUTE, and R errors, interrupts and crashes failing only their
//! call. Needs Rscript with jsonlite (Debian's r-base-core and r-cran-jsonlite, installed by scripts/test);
//! without them these tests skip with a message, unless TENSORCELL_REQUIRE_R=1 (scripts/test sets it).

use std::time::Duration;

use crate::common::{q, qerr, Server};
use crate::score::SUM_MODEL;

fn have_r() -> bool {
    let ok = std::process::Command::new("Rscript")
        .args(["-e", "library(jsonlite)"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("TENSORCELL_REQUIRE_R").as_deref() != Ok("1"),
            "Rscript with jsonlite is missing (apt-get install r-base-core r-cran-jsonlite)"
        );
        eprintln!(
            "SKIP R runner test: Rscript with jsonlite is missing (r-base-core, r-cran-jsonlite)"
        );
    }
    ok
}

fn store(c: &mut redis::Connection, key: &str, lang: &str, eps: &[&str], src: &str) -> String {
    crate::runners::store(c, key, &["LANGUAGE", lang], eps, src)
}

/// FastScore's R cell model: a running total in a cell.
const R_CELL: &str = r#"# fastscore.input: int
# fastscore.output: int
library(fastscore)

begin <- function() {
  total <<- Cell("running_total")
  Set(total, 0)
}

action <- function(x) {
  emit(Update(total, function(v) v + x))
}
"#;

/// FastScore's R pool model: how often each value was seen.
const R_POOL: &str = r#"# fastscore.input: int
# fastscore.output: int
library(fastscore)

action <- function(x) {
  counts <- Pool("counts")
  emit(Update(counts, as.character(x), function(v) if (is.null(v)) 1 else v + 1))
}
"#;

/// FastScore's R sum model: sets its cell only when unset, snapshotted at end of stream.
const R_SUM: &str = r#"# fastscore.input: double
# fastscore.output: double
# fastscore.snapshots: eof
library(fastscore)

begin <- function() {
  s <- Cell("sum")
  if (is.null(Get(s))) Set(s, 0)
}

action <- function(x) {
  emit(Update(Cell("sum"), function(v) v + x))
}

end <- function() {
  Update(Cell("ended"), function(v) if (is.null(v)) 1 else v + 1)
}
"#;

#[test]
fn r_seed_models_run_verbatim_like_their_python_twins() {
    if !have_r() {
        return;
    }
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(store(&mut c, "r:cell", "R", &["action"], R_CELL), "OK");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.SCORE r:cell RECORDS 3 1 2 3").unwrap(),
        [1, 3, 6]
    );
    assert_eq!(store(&mut c, "r:pool", "R", &["action"], R_POOL), "OK");
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.SCORE r:pool RECORDS 3 5 5 5").unwrap(),
        [1, 2, 3]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.POOLGETALL counts").unwrap(),
        ["5", "3"]
    );
    // The sum model keeps its cell across a re-store; EOF runs end() and snapshots it.
    assert_eq!(store(&mut c, "r:sum", "R", &["action"], R_SUM), "OK");
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.SCORE r:sum RECORDS 2 1.5 2 EOF").unwrap(),
        [1.5, 3.5]
    );
    assert_eq!(q::<String>(&mut c, "AI.CELLGET ended").unwrap(), "1");
    let snaps: Vec<redis::Value> = q(&mut c, "AI.SNAPSHOT LIST r:sum").unwrap();
    assert_eq!(snaps.len(), 1, "one end-of-stream snapshot");
    assert_eq!(store(&mut c, "r:sum", "R", &["action"], R_SUM), "OK");
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.SCORE r:sum RECORDS 1 10").unwrap(),
        [13.5]
    );

    // The Python twin of the sum model continues the same cell.
    assert_eq!(
        store(&mut c, "py:sum", "PYTHON", &["action"], SUM_MODEL),
        "OK"
    );
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.SCORE py:sum RECORDS 1 0.5").unwrap(),
        [14.0]
    );
    // AI.INFO says which language runs it.
    let info: Vec<redis::Value> = q(&mut c, "AI.INFO r:cell").unwrap();
    assert_eq!(info[5], redis::Value::BulkString(b"R".to_vec()));
}

#[test]
fn r_and_python_runners_share_one_cell_without_losing_updates() {
    if !have_r() {
        return;
    }
    let s = Server::start();
    let mut c = s.con();
    let r_src = "# fastscore.input: int\n# fastscore.output: int\nlibrary(fastscore)\n\
                 action <- function(x) emit(Update(Cell(\"shared\"), function(v) if (is.null(v)) x else v + x))\n";
    let py_src = "# fastscore.input: int\n# fastscore.output: int\nimport fastscore\n\
                  def action(x):\n    yield fastscore.cells('shared').update(lambda v: x if v is None else v + x)\n";
    assert_eq!(store(&mut c, "r", "R", &["action"], r_src), "OK");
    assert_eq!(store(&mut c, "py", "PYTHON", &["action"], py_src), "OK");
    assert_eq!(
        q::<String>(&mut c, "AI.CONFIG SCRIPT_RUNNERS r 2").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CONFIG SCRIPT_RUNNERS py 2").unwrap(),
        "OK"
    );
    let (per_client, records) = (15, 10);
    let port = s.port;
    let clients: Vec<_> = ["r", "r", "py", "py"]
        .into_iter()
        .map(|key| {
            std::thread::spawn(move || {
                let mut c = crate::common::connect(port);
                for _ in 0..per_client {
                    let mut cmd = redis::cmd("AI.SCORE");
                    cmd.arg(key).arg("RECORDS").arg(records);
                    for _ in 0..records {
                        cmd.arg(1);
                    }
                    let out: Vec<i64> = cmd.query(&mut c).unwrap();
                    assert_eq!(out.len(), records);
                }
            })
        })
        .collect();
    for t in clients {
        t.join().unwrap();
    }
    assert_eq!(
        q::<i64>(&mut c, "AI.CELLGET shared").unwrap(),
        (4 * per_client * records) as i64
    );
}

const R_TENSORS: &str = r#"
add <- function(tensors, keys, args) tensors[[1]] + tensors[[2]]

shape <- function(tensors, keys, args) {
  x <- tensors[[1]]
  list(array(as.integer(dim(x)), dim = length(dim(x))), x[2, 3], c(keys, args))
}

ints <- function(tensors, keys, args) tensors[[1]] * 2L

boom <- function(tensors, keys, args) stop("bad input ", paste(args, collapse = ","))

sleepy <- function(tensors, keys, args) Sys.sleep(3600)

crash <- function(tensors, keys, args) quit(save = "no", status = 3)
"#;

#[test]
fn r_scripts_take_and_return_arrays_and_fail_alone() {
    if !have_r() {
        return;
    }
    let s = Server::start();
    let mut c = s.con();
    let eps = ["add", "shape", "ints", "boom", "sleepy", "crash"];
    assert_eq!(store(&mut c, "rs", "R", &eps, R_TENSORS), "OK");
    let _: String = q(&mut c, "AI.TENSORSET a FLOAT 2 3 VALUES 1 2 3 4 5 6").unwrap();
    let _: String = q(&mut c, "AI.TENSORSET b FLOAT 2 3 VALUES 10 20 30 40 50 60").unwrap();
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE rs add INPUTS 2 a b OUTPUTS 1 c").unwrap(),
        "OK"
    );
    // Row-major data and the input's dtype come back.
    let meta: Vec<redis::Value> = q(&mut c, "AI.TENSORGET c META VALUES").unwrap();
    assert_eq!(meta[1], redis::Value::BulkString(b"FLOAT".to_vec()));
    assert_eq!(
        redis::from_redis_value::<Vec<f64>>(meta[5].clone()).unwrap(),
        [11.0, 22.0, 33.0, 44.0, 55.0, 66.0]
    );
    assert_eq!(
        q::<String>(
            &mut c,
            "AI.SCRIPTEXECUTE rs shape INPUTS 1 a KEYS 1 k ARGS 1 z OUTPUTS 3 dims elem words"
        )
        .unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET dims VALUES").unwrap(),
        [2, 3]
    );
    assert_eq!(
        q::<Vec<f64>>(&mut c, "AI.TENSORGET elem VALUES").unwrap(),
        [6.0]
    );
    assert_eq!(
        q::<Vec<String>>(&mut c, "AI.TENSORGET words VALUES").unwrap(),
        ["k", "z"]
    );
    let _: String = q(&mut c, "AI.TENSORSET i INT64 3 VALUES -5 7 4000000000").unwrap();
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE rs ints INPUTS 1 i OUTPUTS 1 i2").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET i2 VALUES").unwrap(),
        [-10, 14, 8000000000]
    );
    // stop(), an interrupt past TIMEOUT, a crash: each its error, then the script works again.
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE rs boom KEYS 1 k ARGS 2 p q"),
        "ERR Error in boom(arrays, keys, args): bad input p,q"
    );
    let mut watcher = s.con();
    watcher
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE rs sleepy KEYS 1 k TIMEOUT 500"),
        "ERR script timed out"
    );
    assert_eq!(q::<String>(&mut watcher, "PING").unwrap(), "PONG");
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE rs crash KEYS 1 k"),
        "ERR script runner died: exited with code 3"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE rs add INPUTS 2 a b OUTPUTS 1 c").unwrap(),
        "OK"
    );
    // Load errors are the store's.
    let e = store(&mut c, "bad", "R", &["nosuch"], R_TENSORS);
    assert_eq!(e, "ERR Function nosuch does not exist in the given script.");
    let e = store(&mut c, "bad", "R", &["f"], "f <- function(a, b, c) {");
    assert!(e.starts_with("ERR Error"), "{e}");
}

#[test]
fn r_scripts_persist_with_their_language_and_respect_the_memory_limit() {
    if !have_r() {
        return;
    }
    let dir = crate::common::TempDir::new();
    {
        let s = Server::with_args(&["--dir", dir.path()]);
        let mut c = s.con();
        assert_eq!(store(&mut c, "r:cell", "R", &["action"], R_CELL), "OK");
        assert_eq!(
            q::<String>(&mut c, "AI.CONFIG SCRIPT_RUNNERS r:cell 2").unwrap(),
            "OK"
        );
        assert_eq!(
            q::<Vec<i64>>(&mut c, "AI.SCORE r:cell RECORDS 2 4 5").unwrap(),
            [4, 9]
        );
        assert_eq!(q::<String>(&mut c, "SAVE").unwrap(), "OK");
    }
    let s = Server::with_args(&["--dir", dir.path(), "--script-memory-limit", "512mb"]);
    let mut c = s.con();
    // Loaded from disk: begin() ran once at start-up (the cell restarts at 0), in R, with 2 runners.
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.SCORE r:cell RECORDS 1 7").unwrap(),
        [7]
    );
    let info: Vec<redis::Value> = q(&mut c, "AI.INFO r:cell").unwrap();
    assert_eq!(info[5], redis::Value::BulkString(b"R".to_vec()));
    assert_eq!(info[19], redis::Value::Int(2), "{info:?}");
    let hog = "hog <- function(t, k, a) { x <- numeric(2e9); NULL }\n";
    assert_eq!(store(&mut c, "hog", "R", &["hog"], hog), "OK");
    assert_eq!(
        qerr(&mut c, "AI.SCRIPTEXECUTE hog hog KEYS 1 k"),
        "ERR script memory limit reached"
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.SCORE r:cell RECORDS 1 1").unwrap(),
        [8]
    );
}

#[test]
fn r_runners_run_as_script_user() {
    if !have_r() {
        return;
    }
    if !crate::common::is_root() {
        eprintln!("SKIP r_runners_run_as_script_user: needs root to switch users");
        return;
    }
    let s = Server::with_args(&["--script-user", "nobody"]);
    let mut c = s.con();
    let src =
        "who <- function(t, k, a) array(as.integer(system('id -u', intern = TRUE)), dim = 1)\n";
    assert_eq!(store(&mut c, "who", "R", &["who"], src), "OK");
    assert_eq!(
        q::<String>(&mut c, "AI.SCRIPTEXECUTE who who KEYS 1 k OUTPUTS 1 uid").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<Vec<i64>>(&mut c, "AI.TENSORGET uid VALUES").unwrap(),
        [65534]
    );
}
