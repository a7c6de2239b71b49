//! Model-state snapshots (AI.SNAPSHOT): the seed's `sum` model snapshots itself at EOF, in every codec and
//! both stores; snapshots are listed newest first with SINCE/UNTIL/COUNT, restored by id, by prefix and
//! latest, deleted; unknown ids, ambiguous prefixes and corrupt data give the specified errors and change
//! nothing.

use std::time::Duration;

use crate::common::{q, qerr, Server, TempDir};
use crate::score::SUM_MODEL;

const CODECS: [&str; 6] = ["none", "snappy", "gzip", "bzip2", "xz", "zstd"];

/// The seed's `sum` model, stored at `summodel` (its cells are `sum` and `ended`).
fn store_sum(c: &mut redis::Connection) {
    let _: String = redis::cmd("AI.SCRIPTSTORE")
        .arg("summodel")
        .arg("CPU")
        .arg("ENTRY_POINTS")
        .arg(1)
        .arg("action")
        .arg("SOURCE")
        .arg(SUM_MODEL)
        .query(c)
        .unwrap();
}

fn arg_err(c: &mut redis::Connection, args: &[&str]) -> String {
    match redis::cmd("AI.SNAPSHOT").arg(args).query::<redis::Value>(c) {
        Err(e) => crate::common::err_text(e),
        Ok(v) => panic!("{args:?}: expected an error, got {v:?}"),
    }
}

/// LIST as (id, created, codec, size).
fn list(c: &mut redis::Connection, extra: &str) -> Vec<(String, i64, String, i64)> {
    let rows: Vec<Vec<redis::Value>> = q(c, &format!("AI.SNAPSHOT LIST summodel {extra}")).unwrap();
    rows.into_iter()
        .map(|r| {
            let text = |v: &redis::Value| match v {
                redis::Value::BulkString(b) => String::from_utf8(b.clone()).unwrap(),
                redis::Value::SimpleString(s) => s.clone(),
                other => panic!("{other:?}"),
            };
            let int = |v: &redis::Value| match v {
                redis::Value::Int(i) => *i,
                other => panic!("{other:?}"),
            };
            assert_eq!(
                (text(&r[0]), text(&r[2]), text(&r[4]), text(&r[6])),
                ("id".into(), "created".into(), "codec".into(), "size".into())
            );
            (text(&r[1]), int(&r[3]), text(&r[5]), int(&r[7]))
        })
        .collect()
}

#[test]
fn sum_model_snapshots_in_every_codec_and_both_stores() {
    for store in ["dir", "sqlite"] {
        let dir = TempDir::new();
        let mut args = vec!["--dir", dir.path()];
        if store == "sqlite" {
            args.extend(["--snapshot-store", "sqlite:state.db"]);
        }
        let s = Server::with_args(&args);
        let mut c = s.con();
        store_sum(&mut c);
        assert_eq!(
            q::<Vec<String>>(&mut c, "AI.SNAPSHOT LIST summodel")
                .unwrap()
                .len(),
            0
        );
        // One end-of-stream snapshot per codec, each of a different sum.
        let mut saved = Vec::new();
        for (i, codec) in CODECS.iter().enumerate() {
            let name = crate::common::ai_config("snapshot-codec");
            let _: () = q(&mut c, &format!("CONFIG SET {name} {codec}")).unwrap();
            let out: Vec<f64> =
                q(&mut c, &format!("AI.SCORE summodel RECORDS 2 {i} 1 EOF")).unwrap();
            let sum: f64 = q(&mut c, "AI.CELLGET sum").unwrap();
            assert_eq!(out.last(), Some(&sum));
            let all = list(&mut c, "");
            assert_eq!(all.len(), i + 1, "{store}: one snapshot per EOF");
            let (id, _, got_codec, size) = all[0].clone();
            assert_eq!(
                &got_codec, codec,
                "{store}: newest first, in the configured codec"
            );
            assert!(size > 0);
            assert_eq!(id.len(), 8);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
            saved.push((id, sum));
            std::thread::sleep(Duration::from_millis(3));
        }
        // A score without EOF takes none.
        let _: Vec<f64> = q(&mut c, "AI.SCORE summodel RECORDS 1 1000").unwrap();
        assert_eq!(list(&mut c, "").len(), CODECS.len());

        // Restored by full id and by a prefix, each codec decodes.
        for (i, (id, sum)) in saved.iter().enumerate() {
            let _: Vec<f64> = q(&mut c, "AI.SCORE summodel RECORDS 1 1000").unwrap();
            let key = if i % 2 == 0 { id.as_str() } else { &id[..6] };
            assert_eq!(
                q::<String>(&mut c, &format!("AI.SNAPSHOT RESTORE summodel {key}")).unwrap(),
                "OK"
            );
            assert_eq!(
                q::<f64>(&mut c, "AI.CELLGET sum").unwrap(),
                *sum,
                "{store}: {id} ({key})"
            );
        }
        // The restore is propagated as effects (the AOF and replicas follow).
        crate::strings::tap(&mut c);
        let effects = format!("{:?}", crate::strings::effects(&mut c, 1));
        let _: () = q(&mut c, "AI.SNAPSHOT RESTORE summodel").unwrap();
        let effects2 = format!("{:?}", crate::strings::effects(&mut c, 3));
        assert!(effects2.contains("AI.CELLSET"), "{effects} / {effects2}");
        // No id: the latest.
        assert_eq!(
            q::<f64>(&mut c, "AI.CELLGET sum").unwrap(),
            saved.last().unwrap().1
        );

        // LIST filters.
        let all = list(&mut c, "");
        assert_eq!(list(&mut c, "COUNT 2"), all[..2].to_vec());
        let since = all[2].1;
        assert_eq!(list(&mut c, &format!("SINCE {since}")), all[..3].to_vec());
        assert_eq!(
            list(&mut c, &format!("UNTIL {}", since - 1)),
            all[3..].to_vec()
        );

        // SAVE with a codec, DEL by prefix.
        let id: String = q(&mut c, "AI.SNAPSHOT SAVE summodel CODEC xz").unwrap();
        assert_eq!(list(&mut c, "COUNT 1")[0].0, id);
        assert_eq!(
            q::<String>(&mut c, &format!("AI.SNAPSHOT DEL summodel {}", &id[..7])).unwrap(),
            "OK"
        );
        assert!(list(&mut c, "").iter().all(|e| e.0 != id));

        // Errors.
        assert_eq!(
            qerr(&mut c, "AI.SNAPSHOT RESTORE summodel zzzzzzzzz"),
            "ERR no such snapshot"
        );
        assert_eq!(
            qerr(&mut c, "AI.SNAPSHOT DEL summodel zzzzzzzzz"),
            "ERR no such snapshot"
        );
        assert_eq!(
            arg_err(&mut c, &["RESTORE", "summodel", ""]),
            "ERR snapshot id prefix is ambiguous"
        );
        assert!(qerr(&mut c, "AI.SNAPSHOT SAVE summodel CODEC lz4").contains("unknown codec"));
        assert_eq!(
            qerr(&mut c, "AI.SNAPSHOT SAVE nosuch"),
            "ERR script key is empty"
        );
        let _: () = q(&mut c, "SET plain x").unwrap();
        assert!(qerr(&mut c, "AI.SNAPSHOT LIST plain").starts_with("WRONGTYPE"));
        assert!(qerr(&mut c, "AI.SNAPSHOT FROB summodel").contains("unknown subcommand"));
    }
}

#[test]
fn a_corrupt_snapshot_is_refused_and_changes_nothing() {
    let dir = TempDir::new();
    let s = Server::with_args(&["--dir", dir.path()]);
    let mut c = s.con();
    store_sum(&mut c);
    let _: Vec<f64> = q(&mut c, "AI.SCORE summodel RECORDS 1 5 EOF").unwrap();
    let id = list(&mut c, "")[0].0.clone();
    let _: Vec<f64> = q(&mut c, "AI.SCORE summodel RECORDS 1 10").unwrap();
    // Damage the stored file (the directory store keeps one file per snapshot).
    let file = walk(&dir.join("snapshots"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains(&id))
        .expect("the snapshot file");
    let mut bytes = std::fs::read(&file).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5a;
    std::fs::write(&file, &bytes).unwrap();
    assert_eq!(
        qerr(&mut c, &format!("AI.SNAPSHOT RESTORE summodel {id}")),
        "ERR snapshot is corrupt"
    );
    assert_eq!(
        q::<f64>(&mut c, "AI.CELLGET sum").unwrap(),
        15.0,
        "nothing changed"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
