//! Pub/sub: PUBLISH, (P)SUBSCRIBE, (P)UNSUBSCRIBE, PUBSUB.

mod psubscribe;
mod publish;
mod pubsub_command;
mod punsubscribe;
mod subscribe;
mod unsubscribe;

pub use psubscribe::psubscribe;
pub use publish::publish;
pub use pubsub_command::pubsub;
pub use punsubscribe::punsubscribe;
pub use subscribe::subscribe;
pub use unsubscribe::unsubscribe;

use crate::commands::Ctx;
use crate::reply::Reply;
use bytes::Bytes;

pub(crate) fn confirm(ctx: &Ctx, out: &mut Vec<Reply>, kind: &'static str, name: Option<Bytes>) {
    let n = ctx.session.subscriptions() as i64;
    out.push(Reply::Push(vec![
        Reply::lit(kind),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(n),
    ]));
}

/// Drops every subscription of this client without confirmations (RESET, disconnect).
pub fn unsubscribe_all(ctx: &mut Ctx) {
    let id = ctx.session.id();
    for ch in std::mem::take(&mut ctx.session.channels) {
        ctx.shared.pubsub.unsubscribe(&ch, id);
    }
    for p in std::mem::take(&mut ctx.session.patterns) {
        ctx.shared.pubsub.punsubscribe(&p, id);
    }
}
