//! Pub/sub channels and patterns. Delivery goes through the [`Subscriber`] trait, which the server implements
//! with a connection's outbound queue, so the core never touches a socket.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::RwLock;

use crate::glob;
use crate::reply::Reply;

/// Something that can receive pushed messages: a connection.
pub trait Subscriber: Send + Sync {
    /// Queues a message for the client; must not block or take the keyspace lock.
    fn deliver(&self, msg: Reply);
}

type Subs = HashMap<u64, Arc<dyn Subscriber>>;

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Bytes, Subs>>,
    patterns: RwLock<HashMap<Bytes, Subs>>,
}

impl PubSub {
    /// Subscribes client `id`; false if it already was.
    pub fn subscribe(&self, channel: Bytes, id: u64, sub: Arc<dyn Subscriber>) -> bool {
        self.channels
            .write()
            .entry(channel)
            .or_default()
            .insert(id, sub)
            .is_none()
    }

    pub fn unsubscribe(&self, channel: &[u8], id: u64) -> bool {
        remove(&mut self.channels.write(), channel, id)
    }

    pub fn psubscribe(&self, pattern: Bytes, id: u64, sub: Arc<dyn Subscriber>) -> bool {
        self.patterns
            .write()
            .entry(pattern)
            .or_default()
            .insert(id, sub)
            .is_none()
    }

    pub fn punsubscribe(&self, pattern: &[u8], id: u64) -> bool {
        remove(&mut self.patterns.write(), pattern, id)
    }

    /// Sends `payload` to every subscriber of `channel` and every matching pattern; returns how many got it.
    pub fn publish(&self, channel: &Bytes, payload: &Bytes) -> usize {
        let mut n = 0;
        if let Some(subs) = self.channels.read().get(channel) {
            for s in subs.values() {
                s.deliver(Reply::Push(vec![
                    Reply::lit("message"),
                    Reply::Bulk(channel.clone()),
                    Reply::Bulk(payload.clone()),
                ]));
                n += 1;
            }
        }
        for (pattern, subs) in self.patterns.read().iter() {
            if glob::matches(pattern, channel, false) {
                for s in subs.values() {
                    s.deliver(Reply::Push(vec![
                        Reply::lit("pmessage"),
                        Reply::Bulk(pattern.clone()),
                        Reply::Bulk(channel.clone()),
                        Reply::Bulk(payload.clone()),
                    ]));
                    n += 1;
                }
            }
        }
        n
    }

    /// Whether anyone listens at all (skips building keyspace notifications when nobody does).
    pub fn has_listeners(&self) -> bool {
        !self.channels.read().is_empty() || !self.patterns.read().is_empty()
    }

    /// Active channels matching an optional pattern (PUBSUB CHANNELS).
    pub fn channel_names(&self, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob::matches(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of one channel (PUBSUB NUMSUB).
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, HashMap::len)
    }

    /// Distinct patterns subscribed (PUBSUB NUMPAT).
    pub fn numpat(&self) -> usize {
        self.patterns.read().len()
    }

    pub fn channel_count(&self) -> usize {
        self.channels.read().len()
    }
}

fn remove(map: &mut HashMap<Bytes, Subs>, name: &[u8], id: u64) -> bool {
    let Some(subs) = map.get_mut(name) else {
        return false;
    };
    let removed = subs.remove(&id).is_some();
    if subs.is_empty() {
        map.remove(name);
    }
    removed
}

/// Where pushes to an internal client go (a script's `redis.execute`, the AOF loader): nowhere, since it
/// cannot subscribe to anything useful.
pub struct NoSink;

impl Subscriber for NoSink {
    fn deliver(&self, _msg: crate::reply::Reply) {}
}
