//! Shared model state, FastScore-style: *cells* (one named JSON value) and *pools* (a named map from field to
//! JSON value). Both are keyspace values (types `AI___CELL`, `AI___POOL`), so they expire, rename, persist and
//! replicate like any key; every write propagates as an effect carrying the resulting JSON, never the
//! computation that produced it.
//!
//! Values are kept parsed (`serde_json::Value`, object keys in insertion order) so script runners can read and
//! update them without re-parsing; the canonical text is what replies and effects carry.

pub mod snapshots;

use bytes::Bytes;
use indexmap::IndexMap;
use serde_json::Value as Json;

/// Parses a client's JSON argument (`ERR invalid JSON value` otherwise).
pub fn parse(text: &[u8]) -> Option<Json> {
    serde_json::from_slice(text).ok()
}

/// The canonical text of a value: compact, keys in insertion order.
pub fn text(v: &Json) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_else(|_| b"null".to_vec()))
}

/// Approximate bytes a value holds, for memory accounting.
pub fn size_of(v: &Json) -> usize {
    match v {
        Json::Null | Json::Bool(_) | Json::Number(_) => 16,
        Json::String(s) => s.len() + 24,
        Json::Array(a) => a.iter().map(size_of).sum::<usize>() + 24,
        Json::Object(o) => {
            o.iter()
                .map(|(k, v)| k.len() + 24 + size_of(v))
                .sum::<usize>()
                + 32
        }
    }
}

/// A cell: one JSON value.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub value: Json,
}

impl Cell {
    pub fn mem_size(&self) -> usize {
        size_of(&self.value) + 16
    }
}

/// A pool: fields to JSON values, in insertion order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pool {
    pub fields: IndexMap<Bytes, Json>,
}

impl Pool {
    pub fn mem_size(&self) -> usize {
        self.fields
            .iter()
            .map(|(k, v)| k.len() + 16 + size_of(v))
            .sum::<usize>()
            + 48
    }

    /// Sets a field; true if it is new.
    pub fn set(&mut self, field: Bytes, value: Json) -> bool {
        self.fields.insert(field, value).is_none()
    }

    /// Removes a field, keeping the others' order; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        self.fields.shift_remove(field).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_canonically() {
        let v = parse(br#"{ "b": 1, "a": [true, null, 2.5, "x"] }"#).unwrap();
        assert_eq!(text(&v).as_ref(), br#"{"b":1,"a":[true,null,2.5,"x"]}"#);
        assert!(parse(b"{nope").is_none());
        assert!(parse(b"").is_none());
        assert_eq!(text(&parse(b"-3").unwrap()).as_ref(), b"-3");
    }

    #[test]
    fn pools_keep_insertion_order() {
        let mut p = Pool::default();
        assert!(p.set("b".into(), Json::from(1)));
        assert!(p.set("a".into(), Json::from(2)));
        assert!(!p.set("b".into(), Json::from(3)));
        assert!(p.remove(b"b"));
        assert!(!p.remove(b"b"));
        assert_eq!(p.fields.keys().collect::<Vec<_>>(), vec![&Bytes::from("a")]);
    }
}
