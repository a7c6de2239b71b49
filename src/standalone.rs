//! The standalone server's node: its snapshot file and AOF (`persist`) and its replication (`repl`), both
//! fed by the core's effect stream. `persist::of` and `repl::of` reach them from a [`Shared`].

use std::any::{Any, TypeId};

use crate::commands::CommandSpec;
use crate::error::{CmdError, Misconf};
use crate::node::Node;
use crate::persist::Persist;
use crate::repl::Repl;
use crate::shared::{Hot, Shared};

pub struct Standalone {
    pub persist: Persist,
    pub repl: Repl,
}

#[allow(clippy::new_without_default)] // a node is made once, with its commands installed
impl Standalone {
    /// The node, with the Redis commands of the standalone server added to the command table.
    pub fn new() -> Standalone {
        crate::commands::table::install(crate::commands::redis_table::REDIS);
        Standalone {
            persist: Persist::default(),
            repl: Repl::default(),
        }
    }
}

impl Node for Standalone {
    fn refuses(&self, shared: &Shared, spec: &CommandSpec, writes: bool) -> Option<CmdError> {
        self.repl.refuses(shared, spec, writes)
    }

    fn refuses_write(&self, hot: &Hot) -> Option<Misconf> {
        self.persist.refuses_writes(hot)
    }

    fn part(&self, t: TypeId) -> Option<&dyn Any> {
        if t == TypeId::of::<Persist>() {
            Some(&self.persist)
        } else if t == TypeId::of::<Repl>() {
            Some(&self.repl)
        } else {
            None
        }
    }
}
