//! COMMAND: Returns details about commands (COUNT, INFO, DOCS, LIST, GETKEYS).

use crate::args::Args;
use crate::commands::flags::NAMES;
use crate::commands::{lookup, table, CommandSpec, Ctx, Outcome};
use crate::error::{CmdError, CmdResult};
use crate::glob;
use crate::reply::Reply;
use crate::util::{eq_ic, lossy};

pub fn command(_ctx: &mut Ctx, args: &mut Args) -> CmdResult<Outcome> {
    let Some(sub) = args.next() else {
        return Ok(Reply::Array(table::all().map(info_entry).collect()).into());
    };
    let reply = if eq_ic(&sub, "COUNT") {
        Reply::Int(table::count() as i64)
    } else if eq_ic(&sub, "INFO") {
        let names = args.rest();
        if names.is_empty() {
            Reply::Array(table::all().map(info_entry).collect())
        } else {
            Reply::Array(
                names
                    .iter()
                    .map(|n| lookup(n).map_or(Reply::NilArray, info_entry))
                    .collect(),
            )
        }
    } else if eq_ic(&sub, "DOCS") {
        let names = args.rest();
        let chosen: Vec<&CommandSpec> = if names.is_empty() {
            table::all().collect()
        } else {
            names.iter().filter_map(|n| lookup(n)).collect()
        };
        Reply::Map(
            chosen
                .into_iter()
                .map(|c| (Reply::lit(c.name), docs_entry(c)))
                .collect(),
        )
    } else if eq_ic(&sub, "LIST") {
        let filter = if args.eat("FILTERBY") {
            let kind = args.text()?.to_ascii_lowercase();
            let value = args.bytes()?;
            Some((kind, value))
        } else {
            None
        };
        args.finish()?;
        let keep = |c: &&CommandSpec| match &filter {
            None => true,
            Some((k, v)) if k == "pattern" => glob::matches(v, c.name.as_bytes(), true),
            Some((k, v)) if k == "aclcat" => c.acl.iter().any(|a| eq_ic(v, a)),
            Some((k, _)) if k == "module" => false,
            Some(_) => false,
        };
        Reply::Array(
            table::all()
                .filter(keep)
                .map(|c| Reply::lit(c.name))
                .collect(),
        )
    } else if eq_ic(&sub, "GETKEYS") {
        let argv = args.rest();
        let Some(first) = argv.first() else {
            return Err(CmdError::Arity("command|getkeys".into()));
        };
        let spec = lookup(first).ok_or_else(|| CmdError::err("Invalid command specified"))?;
        if !spec.arity_ok(argv.len()) {
            return Err(CmdError::err(
                "Invalid number of arguments specified for command",
            ));
        }
        let pos = match spec.getkeys {
            Some(f) => f(&argv),
            None => spec.key_positions(argv.len()),
        };
        if pos.is_empty() {
            return Err(CmdError::err("The command has no key arguments"));
        }
        Reply::Array(
            pos.into_iter()
                .map(|i| Reply::Bulk(argv[i].clone()))
                .collect(),
        )
    } else if eq_ic(&sub, "HELP") {
        Reply::help(&[
            "COMMAND",
            "COMMAND COUNT",
            "COMMAND INFO <name>...",
            "COMMAND DOCS <name>...",
            "COMMAND LIST [FILTERBY MODULE|ACLCAT|PATTERN <x>]",
            "COMMAND GETKEYS <cmd> <arg>...",
        ])
    } else {
        return Err(CmdError::UnknownSubcommand {
            sub: lossy(&sub),
            cmd: "COMMAND".into(),
        });
    };
    Ok(reply.into())
}

/// The COMMAND INFO entry of one command (Redis 7's 10-element shape).
pub fn info_entry(c: &CommandSpec) -> Reply {
    let mut flags: Vec<Reply> = NAMES
        .iter()
        .filter(|(bit, _)| c.has(*bit))
        .map(|(_, n)| Reply::Simple(n))
        .collect();
    if c.getkeys.is_some() {
        flags.push(Reply::Simple("movablekeys"));
    }
    let acl = || c.acl.iter().map(|a| Reply::Simple(acl_name(a))).collect();
    // Subcommands share the parent's flags and categories; their names are `parent|sub` as in Redis.
    let subs = c
        .subs
        .iter()
        .map(|(sub, arity)| {
            Reply::Array(vec![
                Reply::text(format!("{}|{sub}", c.name)),
                Reply::Int((*arity).into()),
                Reply::Set(flags.clone()),
                Reply::Int(0),
                Reply::Int(0),
                Reply::Int(0),
                Reply::Set(acl()),
                Reply::Array(vec![]),
                Reply::Array(vec![]),
                Reply::Array(vec![]),
            ])
        })
        .collect();
    Reply::Array(vec![
        Reply::lit(c.name),
        Reply::Int(c.arity.into()),
        Reply::Set(flags),
        Reply::Int(c.keys.0.into()),
        Reply::Int(c.keys.1.into()),
        Reply::Int(c.keys.2.into()),
        Reply::Set(acl()),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
        Reply::Array(subs),
    ])
}

fn docs_entry(c: &CommandSpec) -> Reply {
    Reply::Map(vec![
        (Reply::lit("summary"), Reply::lit(c.summary)),
        (Reply::lit("since"), Reply::lit(c.since)),
        (Reply::lit("group"), Reply::lit(c.group)),
    ])
}

/// `@read`-style names; static so replies need no allocation.
fn acl_name(cat: &str) -> &'static str {
    const ALL: [&str; 12] = [
        "@read",
        "@write",
        "@string",
        "@fast",
        "@slow",
        "@keyspace",
        "@connection",
        "@admin",
        "@dangerous",
        "@pubsub",
        "@transaction",
        "@ai",
    ];
    ALL.iter()
        .find(|a| &a[1..] == cat)
        .copied()
        .unwrap_or("@slow")
}
