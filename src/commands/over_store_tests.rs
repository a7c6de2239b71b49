//! The core's handlers over a store that is not the engine's keyspace, as the Redis module runs them: a
//! plain map here. The replies, effects and events are the handlers' own; the engine's keyspace stays
//! untouched.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use super::{lookup, Ctx, Outcome};
use crate::clients::ClientHandle;
use crate::config::Config;
use crate::keyspace::{Store, Value};
use crate::reply::Reply;
use crate::session::Session;
use crate::shared::Shared;

#[derive(Default)]
struct MapStore(BTreeMap<Bytes, Value>);

impl Store for MapStore {
    fn get(&mut self, key: &[u8]) -> Option<&Value> {
        self.0.get(key)
    }
    fn set(&mut self, key: Bytes, value: Value) {
        self.0.insert(key, value);
    }
    fn remove(&mut self, key: &[u8]) -> bool {
        self.0.remove(key).is_some()
    }
    fn modify(&mut self, key: &[u8], f: &mut dyn FnMut(Value) -> Option<Value>) {
        if let Some(v) = self.0.remove(key) {
            if let Some(new) = f(v) {
                self.0.insert(Bytes::copy_from_slice(key), new);
            }
        }
    }
    fn for_each(&mut self, f: &mut dyn FnMut(&Bytes, &Value)) {
        for (k, v) in &self.0 {
            f(k, v);
        }
    }
    fn expire_at(&mut self, _: &[u8]) -> Option<u64> {
        None
    }
}

fn run(shared: &Shared, store: &mut MapStore, line: &str) -> Outcome {
    let argv: Vec<Bytes> = line
        .split(' ')
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    let spec = lookup(&argv[0]).expect("a core command");
    let mut session = Session::new(
        ClientHandle::internal("test"),
        Arc::new(crate::pubsub::NoSink),
        true,
    );
    let mut ctx = Ctx::over(shared, &mut session, crate::util::now_ms(), store);
    super::dispatch::run_over(&mut ctx, spec, argv)
}

fn text(r: &Option<Reply>) -> String {
    format!("{r:?}")
}

#[test]
fn tensors_and_pools_live_in_the_front_ends_store() {
    // The lib's tests share one command table: every test that reads it installs the same rows first.
    super::table::install(super::redis_table::REDIS);
    let shared = Shared::new(Config::default(), Box::new(crate::node::Bare));
    let mut store = MapStore::default();
    let set = run(&shared, &mut store, "AI.TENSORSET t FLOAT 1 2 VALUES 1 2");
    assert_eq!(set.reply, Some(Reply::OK));
    assert_eq!(set.effects[0][0], Bytes::from_static(b"AI.TENSORSET"));
    assert!(matches!(store.0.get(&b"t"[..]), Some(Value::Tensor(_))));
    let got = run(&shared, &mut store, "AI.TENSORGET t VALUES");
    assert!(
        text(&got.reply).contains('1') && text(&got.reply).contains('2'),
        "{:?}",
        got.reply
    );
    // A pool is created, changed in place and emptied through the same store.
    assert_eq!(
        run(&shared, &mut store, "AI.POOLSET p a 1 b 2").reply,
        Some(Reply::Int(2))
    );
    assert_eq!(
        run(&shared, &mut store, "AI.POOLDEL p a").reply,
        Some(Reply::Int(1))
    );
    assert_eq!(
        run(&shared, &mut store, "AI.POOLLEN p").reply,
        Some(Reply::Int(1))
    );
    assert_eq!(
        run(&shared, &mut store, "AI.POOLDEL p b").reply,
        Some(Reply::Int(1))
    );
    assert!(
        !store.0.contains_key(&b"p"[..]),
        "an emptied pool is deleted"
    );
    // Type errors come from the store's values too.
    let wrong = run(&shared, &mut store, "AI.POOLGET t a");
    assert!(
        text(&wrong.reply).contains("WrongType"),
        "{:?}",
        wrong.reply
    );
    // The engine's own keyspace saw none of it.
    assert!(shared.engine.lock().db.is_empty());
}
