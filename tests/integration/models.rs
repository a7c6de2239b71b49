//! ONNX models over TCP: the generated fixtures against onnxruntime's recorded outputs, the shared
//! third-party models, every MODEL* error, batching across clients, timeouts, concurrency and effects.

use std::path::{Path, PathBuf};

use redis::Value;
use serde_json::Value as Json;

use crate::common::{q, qerr, Server};
use crate::strings::tap;

/// tensorcell's own fixtures (scripts/make_fixtures.py).
pub fn fixture(name: &str) -> Vec<u8> {
    let p =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/models/{name}.onnx"));
    std::fs::read(&p)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/make_fixtures.py)", p.display()))
}

fn cases() -> Json {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/models/cases.json");
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// The shared third-party models, or `None` (with a message) when this clone has no `../shared`.
/// `.ci/run` sets TENSORCELL_REQUIRE_SHARED=1, which turns their absence into a failure.
/// Models run on ONNX Runtime in this run (scripts/test runs the model tests again with `ORT_DYLIB_PATH`
/// set, which `onnx-backend auto` picks up), else on tract.
pub fn onnxruntime() -> bool {
    std::env::var("ORT_DYLIB_PATH").is_ok_and(|p| !p.is_empty())
}

pub fn shared_fixture(name: &str) -> Option<Vec<u8>> {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/onnx");
    match std::fs::read(dir.join(name)) {
        Ok(b) => Some(b),
        Err(e) => {
            if std::env::var("TENSORCELL_REQUIRE_SHARED").as_deref() == Ok("1") {
                panic!(
                    "{}: {e}; CI requires the shared fixtures",
                    dir.join(name).display()
                );
            }
            eprintln!(
                "skipping: shared fixture {name} not found ({e}); these tests need ../shared"
            );
            None
        }
    }
}

pub fn store(
    c: &mut redis::Connection,
    key: &str,
    blob: &[u8],
    opts: &[&str],
) -> redis::RedisResult<String> {
    redis::cmd("AI.MODELSTORE")
        .arg(key)
        .arg("ONNX")
        .arg("CPU")
        .arg(opts)
        .arg("BLOB")
        .arg(blob)
        .query(c)
}

/// Little-endian bytes of a JSON tensor's values.
pub fn blob_of(t: &Json) -> Vec<u8> {
    let vals = t["values"].as_array().unwrap();
    let mut out = Vec::new();
    for v in vals {
        match t["dtype"].as_str().unwrap() {
            "FLOAT" => out.extend((v.as_f64().unwrap() as f32).to_le_bytes()),
            "DOUBLE" => out.extend(v.as_f64().unwrap().to_le_bytes()),
            "INT64" => out.extend(v.as_i64().unwrap().to_le_bytes()),
            "INT32" => out.extend((v.as_i64().unwrap() as i32).to_le_bytes()),
            "BOOL" => out.push(v.as_bool().unwrap() as u8),
            "INT8" => out.extend((v.as_i64().unwrap() as i8).to_le_bytes()),
            "INT16" => out.extend((v.as_i64().unwrap() as i16).to_le_bytes()),
            "UINT8" => out.push(v.as_i64().unwrap() as u8),
            "UINT16" => out.extend((v.as_i64().unwrap() as u16).to_le_bytes()),
            "STRING" => {
                out.extend(v.as_str().unwrap().as_bytes());
                out.push(0);
            }
            other => panic!("fixture dtype {other}"),
        }
    }
    out
}

pub fn tensorset(c: &mut redis::Connection, key: &str, dtype: &str, shape: &[usize], blob: &[u8]) {
    let _: () = redis::cmd("AI.TENSORSET")
        .arg(key)
        .arg(dtype)
        .arg(shape)
        .arg("BLOB")
        .arg(blob)
        .query(c)
        .unwrap();
}

/// (dtype, shape, blob) of a stored tensor.
pub fn tensorget(c: &mut redis::Connection, key: &str) -> (String, Vec<usize>, Vec<u8>) {
    let v: Vec<Value> = redis::cmd("AI.TENSORGET")
        .arg(key)
        .arg("META")
        .arg("BLOB")
        .query(c)
        .unwrap();
    let dtype: String = redis::from_redis_value(v[1].clone()).unwrap();
    let shape: Vec<usize> = redis::from_redis_value(v[3].clone()).unwrap();
    let blob: Vec<u8> = redis::from_redis_value(v[5].clone()).unwrap();
    (dtype, shape, blob)
}

pub fn floats(b: &[u8]) -> Vec<f32> {
    b.chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

/// Runs `model` on one row per call and returns the output floats.
pub fn run_rows(c: &mut redis::Connection, model: &str, input: &str, output: &str) -> Vec<f32> {
    let r: String = q(
        c,
        &format!("AI.MODELEXECUTE {model} INPUTS 1 {input} OUTPUTS 1 {output}"),
    )
    .unwrap();
    assert_eq!(r, "OK");
    floats(&tensorget(c, output).2)
}

#[test]
fn generated_models_match_onnxruntime() {
    let s = Server::start();
    let mut c = s.con();
    let cases = cases();
    for (name, case) in cases.as_object().unwrap() {
        if name == "badbatch" {
            continue;
        }
        assert_eq!(
            store(&mut c, name, &fixture(name), &[]).unwrap(),
            "OK",
            "{name}"
        );
        let meta: Vec<Value> = q(&mut c, &format!("AI.MODELGET {name} META")).unwrap();
        let inputs: Vec<String> = redis::from_redis_value(meta[11].clone()).unwrap();
        let outputs: Vec<String> = redis::from_redis_value(meta[13].clone()).unwrap();
        let want_in: Vec<String> = serde_json::from_value(case["inputs"].clone()).unwrap();
        let want_out: Vec<String> = serde_json::from_value(case["outputs"].clone()).unwrap();
        assert_eq!(
            (inputs, outputs),
            (want_in, want_out),
            "{name}: names from the model"
        );
        for run in case["runs"].as_array().unwrap() {
            let mut cmd = redis::cmd("AI.MODELEXECUTE");
            cmd.arg(name.as_str())
                .arg("INPUTS")
                .arg(run["inputs"].as_array().unwrap().len());
            for t in run["inputs"].as_array().unwrap() {
                let key = format!("{name}:in:{}", t["name"].as_str().unwrap());
                let shape: Vec<usize> = serde_json::from_value(t["shape"].clone()).unwrap();
                tensorset(
                    &mut c,
                    &key,
                    t["dtype"].as_str().unwrap(),
                    &shape,
                    &blob_of(t),
                );
                cmd.arg(key);
            }
            let outs = run["outputs"].as_array().unwrap();
            cmd.arg("OUTPUTS").arg(outs.len());
            for t in outs {
                cmd.arg(format!("{name}:out:{}", t["name"].as_str().unwrap()));
            }
            let r: String = cmd.query(&mut c).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(r, "OK");
            for t in outs {
                let (dtype, shape, blob) = tensorget(
                    &mut c,
                    &format!("{name}:out:{}", t["name"].as_str().unwrap()),
                );
                assert_eq!(dtype, t["dtype"].as_str().unwrap(), "{name}");
                assert_eq!(
                    shape,
                    serde_json::from_value::<Vec<usize>>(t["shape"].clone()).unwrap(),
                    "{name}"
                );
                if dtype == "FLOAT" {
                    let want: Vec<f32> = t["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| v.as_f64().unwrap() as f32)
                        .collect();
                    for (g, w) in floats(&blob).iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 1e-4 * w.abs().max(1.0),
                            "{name}: {g} vs onnxruntime {w}"
                        );
                    }
                } else {
                    assert_eq!(blob, blob_of(t), "{name}: exact for every type but FLOAT");
                }
            }
        }
    }
    let scan: Vec<(String, String)> = q(&mut c, "AI._MODELSCAN").unwrap();
    assert_eq!(scan.len(), cases.as_object().unwrap().len() - 1);
}

#[test]
fn third_party_models_run_or_fail_clearly() {
    let (Some(mnist), Some(digit), Some(iris), Some(logreg), Some(boston), Some(square)) = (
        shared_fixture("mnist.onnx"),
        shared_fixture("mnist_one.raw"),
        shared_fixture("linear_iris.onnx"),
        shared_fixture("logreg_iris.onnx"),
        shared_fixture("boston.onnx"),
        shared_fixture("findsquare.onnx"),
    ) else {
        return;
    };
    let s = Server::start();
    let mut c = s.con();
    assert_eq!(
        store(&mut c, "mnist", &mnist, &["TAG", "v1"]).unwrap(),
        "OK"
    );
    tensorset(&mut c, "digit", "FLOAT", &[1, 1, 28, 28], &digit);
    let scores = run_rows(&mut c, "mnist", "digit", "scores");
    let best = scores
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(b.1))
        .unwrap()
        .0;
    assert_eq!(best, 1, "mnist reads mnist_one.raw as a 1: {scores:?}");

    assert_eq!(store(&mut c, "iris", &iris, &[]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET x FLOAT 1 4 VALUES 5.1 3.5 1.4 0.2").unwrap();
    let y = run_rows(&mut c, "iris", "x", "y");
    assert!((y[0] - -0.0905).abs() < 1e-3, "{y:?}");
    let meta: Vec<Value> = q(&mut c, "AI.MODELGET iris META").unwrap();
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(meta[11].clone()).unwrap(),
        vec!["float_input"]
    );
    assert_eq!(
        redis::from_redis_value::<Vec<String>>(meta[13].clone()).unwrap(),
        vec!["variable"]
    );

    if onnxruntime() {
        // ONNX Runtime runs scikit-learn's ZipMap; its sequence of maps comes back as a FLOAT tensor of the
        // probabilities, one row per input row, in class order.
        assert_eq!(store(&mut c, "logreg", &logreg, &[]).unwrap(), "OK");
        let r: String = q(
            &mut c,
            "AI.MODELEXECUTE logreg INPUTS 1 x OUTPUTS 2 label probs",
        )
        .unwrap();
        assert_eq!(r, "OK");
        let (dtype, shape, blob) = tensorget(&mut c, "label");
        assert_eq!((dtype.as_str(), shape), ("INT64", vec![1]));
        assert_eq!(i64::from_le_bytes(blob[..8].try_into().unwrap()), 0);
        let (dtype, shape, blob) = tensorget(&mut c, "probs");
        assert_eq!((dtype.as_str(), shape), ("FLOAT", vec![1, 3]));
        let p = floats(&blob);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-4, "{p:?}");
        assert!(p[0] > p[1] && p[0] > p[2], "a setosa: {p:?}");
    } else {
        let err = store(&mut c, "logreg", &logreg, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ZipMap"),
            "the error names the unsupported operator: {err}"
        );
        assert_eq!(q::<i64>(&mut c, "EXISTS logreg").unwrap(), 0);
    }

    assert_eq!(store(&mut c, "boston", &boston, &[]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET h FLOAT 1 13 VALUES 0.00632 18 2.31 0 0.538 6.575 65.2 4.09 1 296 15.3 396.9 4.98").unwrap();
    let price = run_rows(&mut c, "boston", "h", "price");
    assert!(price[0].is_finite() && price[0] > 0.0, "{price:?}");

    assert_eq!(store(&mut c, "square", &square, &[]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET n FLOAT 1 VALUES 7").unwrap();
    let sq = run_rows(&mut c, "square", "n", "n2");
    assert!(sq[0].is_finite(), "{sq:?}");
}

#[test]
fn model_command_errors_follow_redisai() {
    let s = Server::start();
    let mut c = s.con();
    let lin = fixture("linear");
    let e = |c: &mut redis::Connection, opts: &[&str]| {
        redis::cmd("AI.MODELSTORE")
            .arg(opts)
            .query::<String>(c)
            .unwrap_err()
            .to_string()
    };
    assert!(e(&mut c, &["m", "ONNX", "CPU", "BLOB"])
        .contains("wrong number of arguments for 'AI.MODELSTORE' command"));
    assert!(e(&mut c, &["m", "CAFFE", "CPU", "BLOB", "x"]).contains("unsupported backend"));
    assert!(e(&mut c, &["m", "TF", "CPU", "BLOB", "x"]).contains("unsupported backend"));
    for bad in ["bad_device", "CPU::", "CPU:1.8", "CPU:123456"] {
        assert!(
            e(&mut c, &["m", "ONNX", bad, "BLOB", "x"]).contains("Invalid DEVICE"),
            "{bad}"
        );
    }
    assert!(e(&mut c, &["m", "ONNX", "GPU", "BLOB", "x"])
        .contains("GPU requested but no GPU backend is available"));
    assert!(
        e(&mut c, &["m", "ONNX", "CPU", "BATCHSIZE", "x", "BLOB", "x"])
            .contains("Invalid argument for BATCHSIZE")
    );
    assert!(e(
        &mut c,
        &["m", "ONNX", "CPU", "MINBATCHSIZE", "2", "BLOB", "x"]
    )
    .contains("MINBATCHSIZE specified without BATCHSIZE"));
    assert!(e(
        &mut c,
        &[
            "m",
            "ONNX",
            "CPU",
            "BATCHSIZE",
            "2",
            "MINBATCHTIMEOUT",
            "5",
            "BLOB"
        ]
    )
    .contains("MINBATCHTIMEOUT specified without MINBATCHSIZE"));
    assert!(
        e(&mut c, &["m", "ONNX", "CPU", "TAG", "t", "BATCHSIZE", "2"])
            .contains("Insufficient arguments, missing model BLOB")
    );
    assert!(e(&mut c, &["m", "ONNX", "CPU", "INPUTS", "1", "a", "BLOB"])
        .contains("INPUTS argument should not be specified for this backend"));
    assert!(e(&mut c, &["m", "ONNX", "CPU", "TAG", "t", "NOTBLOB"])
        .contains("Invalid argument, expected BLOB"));
    let unreadable = e(&mut c, &["m", "ONNX", "CPU", "BLOB", "not a model"]);
    assert!(
        unreadable.contains(if onnxruntime() {
            "protobuf parsing failed"
        } else {
            "Reading proto model"
        }),
        "a blob the runtime cannot read gets the runtime's reason, not a crash: {unreadable}"
    );
    // The key's type is checked after loading.
    q::<()>(&mut c, "SET str x").unwrap();
    assert!(store(&mut c, "str", &lin, &[])
        .unwrap_err()
        .to_string()
        .contains("WRONGTYPE"));

    assert_eq!(store(&mut c, "m", &lin, &[]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    let x = |c: &mut redis::Connection, line: &str| qerr(c, line);
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1"),
        "ERR wrong number of arguments for 'AI.MODELEXECUTE' command"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE nokey INPUTS 1 x OUTPUTS 1 y"),
        "ERR model key is empty"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE str INPUTS 1 x OUTPUTS 1 y"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUT 1 x OUTPUTS 1 y"),
        "ERR INPUTS not specified"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS a x OUTPUTS 1 y"),
        "ERR Invalid argument for input_count"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 0 x OUTPUTS 1 y"),
        "ERR Input count must be a positive integer"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 2 x x OUTPUTS 1 y"),
        "Number of keys given as INPUTS here does not match model definition"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUT 1 y"),
        "ERR OUTPUTS not specified"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS z y"),
        "ERR Invalid argument for output_count"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS -1 y"),
        "ERR Output count must be a positive integer"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 2 y z"),
        "Number of keys given as OUTPUTS here does not match model definition"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y TIMEOUT"),
        "ERR No value provided for TIMEOUT"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y TIMEOUT 0"),
        "ERR Invalid value for TIMEOUT"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y EXTRA"),
        "Invalid argument: EXTRA"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 nosuch OUTPUTS 1 y"),
        "ERR tensor key is empty or in a different shard"
    );
    q::<()>(&mut c, "AI.TENSORSET wide FLOAT 1 5 VALUES 1 2 3 4 5").unwrap();
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 wide OUTPUTS 1 y"),
        "ERR input 0 ('x') of the model has shape [?,4], got [1, 5]"
    );
    q::<()>(&mut c, "AI.TENSORSET dbl DOUBLE 1 4 VALUES 1 2 3 4").unwrap();
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 dbl OUTPUTS 1 y"),
        "ERR input 0 ('x') of the model is FLOAT, got DOUBLE"
    );
    assert_eq!(
        x(&mut c, "AI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 str"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        q::<String>(&mut c, "GET str").unwrap(),
        "x",
        "a refused commit writes nothing"
    );
    assert_eq!(
        x(&mut c, "AI.MODELRUN m INPUTS x"),
        "ERR wrong number of arguments for 'AI.MODELRUN' command"
    );
    assert_eq!(
        x(&mut c, "AI.MODELRUN m INPUTS x x OUTPUTS y"),
        "Number of keys given as INPUTS here does not match model definition"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.MODELRUN m TIMEOUT 1000 INPUTS x OUTPUTS y").unwrap(),
        "OK"
    );
    assert_eq!(x(&mut c, "AI.MODELGET nokey"), "ERR model key is empty");
    assert_eq!(
        x(&mut c, "AI.MODELDEL str"),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(x(&mut c, "AI.INFO x"), "ERR cannot find run info for key");
    // Stats count runs and run errors, not argument errors.
    let info: Vec<Value> = q(&mut c, "AI.INFO m").unwrap();
    // RedisAI's 18 fields, then the runtime that runs the model.
    assert_eq!(info.len(), 20);
    assert_eq!(
        info[19],
        Value::BulkString(
            if onnxruntime() {
                "onnxruntime"
            } else {
                "tract"
            }
            .into()
        )
    );
    assert_eq!(
        (&info[15], &info[17]),
        (&Value::Int(4), &Value::Int(2)),
        "{info:?}"
    );
    assert_eq!(q::<String>(&mut c, "AI.INFO m RESETSTAT").unwrap(), "OK");
    let info: Vec<Value> = q(&mut c, "AI.INFO m").unwrap();
    assert_eq!(
        info[11..18].to_vec(),
        vec![
            Value::Int(0),
            Value::SimpleString("samples".into()).into_bulk(),
            Value::Int(0),
            "calls".into_bulk(),
            Value::Int(0),
            "errors".into_bulk(),
            Value::Int(0)
        ]
    );
    assert_eq!(q::<String>(&mut c, "TYPE m").unwrap(), "AI__MODEL");
    assert_eq!(q::<String>(&mut c, "AI.MODELDEL m").unwrap(), "OK");
    assert_eq!(q::<i64>(&mut c, "EXISTS m").unwrap(), 0);
    // Blocking model commands are refused inside a transaction, at EXEC.
    assert_eq!(store(&mut c, "m", &lin, &[]).unwrap(), "OK");
    let mut raw = s.raw();
    raw.expect(
        b"MULTI\r\nAI.MODELEXECUTE m INPUTS 1 x OUTPUTS 1 y\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n-ERR Cannot run RedisAI command within a transaction or a LUA script\r\n",
    );
}

trait IntoBulk {
    fn into_bulk(self) -> Value;
}
impl IntoBulk for Value {
    fn into_bulk(self) -> Value {
        match self {
            Value::SimpleString(s) => Value::BulkString(s.into_bytes()),
            v => v,
        }
    }
}
impl IntoBulk for &str {
    fn into_bulk(self) -> Value {
        Value::BulkString(self.as_bytes().to_vec())
    }
}

#[test]
fn modelget_meta_blob_and_chunks() {
    let s = Server::start();
    let mut c = s.con();
    let blob = fixture("cnn");
    assert_eq!(
        store(
            &mut c,
            "cnn",
            &blob,
            &[
                "TAG",
                "v1.2",
                "BATCHSIZE",
                "4",
                "MINBATCHSIZE",
                "2",
                "MINBATCHTIMEOUT",
                "10"
            ]
        )
        .unwrap(),
        "OK"
    );
    let meta: Vec<Value> = q(&mut c, "AI.MODELGET cnn META").unwrap();
    assert_eq!(meta.len(), 16);
    let text: Vec<String> = meta
        .iter()
        .step_by(2)
        .map(|v| redis::from_redis_value(v.clone()).unwrap())
        .collect();
    assert_eq!(
        text,
        [
            "backend",
            "device",
            "tag",
            "batchsize",
            "minbatchsize",
            "inputs",
            "outputs",
            "minbatchtimeout"
        ]
    );
    assert_eq!(meta[3], "CPU".into_bulk());
    assert_eq!(meta[5], "v1.2".into_bulk());
    assert_eq!(
        (&meta[7], &meta[9], &meta[15]),
        (&Value::Int(4), &Value::Int(2), &Value::Int(10))
    );
    let full: Vec<Value> = q(&mut c, "AI.MODELGET cnn META BLOB").unwrap();
    assert_eq!(full.len(), 18);
    assert_eq!(full[17], Value::BulkString(blob.clone()));
    let only: Vec<u8> = q(&mut c, "AI.MODELGET cnn BLOB").unwrap();
    assert_eq!(only, blob, "the original bytes come back");
    // A chunk size a third of the blob gives four chunks (RedisAI's +1 rule).
    assert_eq!(
        q::<Option<i64>>(&mut c, "AI.CONFIG GET MODEL_CHUNK_SIZE").unwrap(),
        Some(535822336)
    );
    q::<()>(
        &mut c,
        &format!("AI.CONFIG MODEL_CHUNK_SIZE {}", blob.len() / 3),
    )
    .unwrap();
    let chunks: Vec<Vec<u8>> = q(&mut c, "AI.MODELGET cnn BLOB").unwrap();
    assert_eq!(chunks.len(), 4);
    assert_eq!(chunks.concat(), blob);
    assert_eq!(
        q::<Vec<String>>(
            &mut c,
            &format!(
                "CONFIG GET {}",
                crate::common::ai_config("model-chunk-size")
            )
        )
        .unwrap()[1],
        (blob.len() / 3).to_string()
    );
    assert_eq!(
        q::<Option<String>>(&mut c, "AI.CONFIG GET NOSUCH").unwrap(),
        None
    );
    assert_eq!(
        qerr(&mut c, "AI.CONFIG MODEL_CHUNK_SIZE abc"),
        "ERR MODEL_CHUNK_SIZE: invalid chunk size"
    );
    assert_eq!(
        qerr(&mut c, "AI.CONFIG NOSUCH x"),
        "ERR unsupported subcommand"
    );
    assert_eq!(
        qerr(&mut c, "AI.CONFIG LOADBACKEND TORCH x"),
        "ERR unsupported backend"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CONFIG BACKENDSPATH /opt/backends").unwrap(),
        "OK"
    );
    assert_eq!(
        q::<String>(&mut c, "AI.CONFIG GET BACKENDSPATH").unwrap(),
        "/opt/backends"
    );
    // Device strings are kept as written.
    redis::cmd("AI.MODELSTORE")
        .arg("lower")
        .arg("onnx")
        .arg("cpu")
        .arg("BLOB")
        .arg(fixture("add"))
        .query::<()>(&mut c)
        .unwrap();
    let info: Vec<Value> = q(&mut c, "AI.INFO lower").unwrap();
    assert_eq!(
        (info[5].clone(), info[7].clone()),
        ("ONNX".into_bulk(), "cpu".into_bulk())
    );
    let scan: Vec<(String, String)> = q(&mut c, "AI._MODELSCAN").unwrap();
    assert_eq!(
        scan,
        vec![("cnn".into(), "v1.2".into()), ("lower".into(), "".into())]
    );
}

#[test]
fn model_effects_replay_without_running() {
    let s = Server::start();
    let mut c = s.con();
    tap(&mut c);
    let lin = fixture("linear");
    assert_eq!(store(&mut c, "m", &lin, &["TAG", "t"]).unwrap(), "OK");
    q::<()>(&mut c, "AI.TENSORSET x FLOAT 1 4 VALUES 1 2 3 4").unwrap();
    let y = run_rows(&mut c, "m", "x", "y");
    let eff = crate::strings::effects_raw(&mut c, 3);
    let argv = |i: usize| -> Vec<Vec<u8>> { eff[i].clone() };
    let store_eff = argv(0);
    let words: Vec<String> = store_eff[..13]
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    assert_eq!(
        words,
        [
            "AI.MODELSTORE",
            "m",
            "ONNX",
            "CPU",
            "TAG",
            "t",
            "BATCHSIZE",
            "0",
            "MINBATCHSIZE",
            "0",
            "MINBATCHTIMEOUT",
            "0",
            "BLOB"
        ]
    );
    assert_eq!(
        store_eff[13..].concat(),
        lin,
        "the model travels as its original blob"
    );
    let out_eff = argv(2);
    assert_eq!(
        out_eff[..6]
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect::<Vec<_>>(),
        ["AI.TENSORSET", "y", "FLOAT", "1", "3", "BLOB"]
    );
    assert_eq!(
        floats(&out_eff[6]),
        y,
        "outputs propagate as data, never as a model run"
    );
}
