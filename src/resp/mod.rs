//! RESP on the wire: the request parser (multibulk and inline, with Redis's limits and error texts) and the
//! reply encoder (RESP2 and RESP3).

pub mod encode;
pub mod request;

/// The protocol a client speaks; `HELLO 3` switches a connection to RESP3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Resp2,
    Resp3,
}
