//! Which arguments of a command are keys, for the commands whose keys are found by reading the arguments
//! (RedisAI's getkeys-api commands): `COMMAND GETKEYS`, and later the Redis module's getkeys callback and
//! Cluster routing. Syntax only: nothing is looked up, and a malformed command reports the keys it has
//! (the command itself refuses it when it runs). Positions index the whole argv (the name is 0).

use bytes::Bytes;

use super::dag_run::volatile;
use crate::util::{eq_ic, parse_i64};

/// `n key...` at `at`: the key positions, and where the list ends.
fn counted(argv: &[Bytes], at: usize) -> (Vec<usize>, usize) {
    let n = argv
        .get(at)
        .and_then(|c| parse_i64(c))
        .filter(|n| *n > 0)
        .unwrap_or(0) as usize;
    let end = (at + 1 + n).min(argv.len());
    ((at + 1..end).collect(), end)
}

/// The model or script key at position 1, when the command has one (a bare name has no keys: Redis
/// indexes argv with every position a finder reports).
fn first_key(argv: &[Bytes]) -> Vec<usize> {
    if argv.len() > 1 {
        vec![1]
    } else {
        vec![]
    }
}

/// Counted scopes from `from` on: the keys of each `keyed` scope (`KW n key...`), `skipped` scopes jumped
/// over (`KW n arg...`), anything else passed by.
fn scopes(argv: &[Bytes], from: usize, keyed: &[&str], skipped: &[&str]) -> Vec<usize> {
    let mut keys = first_key(argv);
    let mut i = from;
    while i < argv.len() {
        let a = &argv[i];
        if keyed.iter().any(|k| eq_ic(a, k)) {
            let (k, end) = counted(argv, i + 1);
            keys.extend(k);
            i = end;
        } else if skipped.iter().any(|k| eq_ic(a, k)) {
            i = counted(argv, i + 1).1;
        } else {
            i += 1;
        }
    }
    keys
}

/// `AI.MODELEXECUTE key INPUTS n in... OUTPUTS m out... [TIMEOUT t]`.
pub fn modelexecute(argv: &[Bytes]) -> Vec<usize> {
    scopes(argv, 2, &["INPUTS", "OUTPUTS"], &[])
}

/// `AI.MODELRUN key INPUTS in... OUTPUTS out...` (no counts: a list runs to the next keyword).
pub fn modelrun(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = first_key(argv);
    let mut listing = false;
    for (i, a) in argv.iter().enumerate().skip(2) {
        if eq_ic(a, "INPUTS") || eq_ic(a, "OUTPUTS") {
            listing = true;
        } else if listing {
            keys.push(i);
        }
    }
    keys
}

/// `AI.SCRIPTEXECUTE key fn [KEYS n k...] [INPUTS n in...] [ARGS n a...] [OUTPUTS n out...] [TIMEOUT t]`.
pub fn scriptexecute(argv: &[Bytes]) -> Vec<usize> {
    scopes(argv, 3, &["KEYS", "INPUTS", "OUTPUTS"], &["ARGS"])
}

/// `AI.SCRIPTRUN key fn [TIMEOUT t] INPUTS in... [$ in...] OUTPUTS out...` (`$` marks the variadic inputs).
pub fn scriptrun(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = first_key(argv);
    let mut listing = false;
    let mut i = 3;
    while i < argv.len() {
        let a = &argv[i];
        if eq_ic(a, "INPUTS") || eq_ic(a, "OUTPUTS") {
            listing = true;
        } else if !listing && eq_ic(a, "TIMEOUT") {
            i += 1;
        } else if listing && a.as_ref() != b"$" {
            keys.push(i);
        }
        i += 1;
    }
    keys
}

/// AI.DAGEXECUTE and AI.DAGEXECUTE_RO (the `|>` form, RedisAI's rule): the LOAD and PERSIST keys, the
/// ROUTING key, and the model or script key after each `AI.MODELEXECUTE` / `AI.SCRIPTEXECUTE` op; its tensor
/// names are the DAG's own.
pub fn dag(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = Vec::new();
    let mut i = 1;
    while i < argv.len() && argv[i].as_ref() != b"|>" {
        let a = &argv[i];
        if eq_ic(a, "LOAD") || eq_ic(a, "PERSIST") {
            let (k, end) = counted(argv, i + 1);
            keys.extend(k);
            i = end;
        } else if eq_ic(a, "ROUTING") {
            if i + 1 < argv.len() {
                keys.push(i + 1);
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    for j in i..argv.len() {
        let op = argv[j].as_ref() == b"|>" && j + 2 < argv.len();
        if op && (eq_ic(&argv[j + 1], "AI.MODELEXECUTE") || eq_ic(&argv[j + 1], "AI.SCRIPTEXECUTE"))
        {
            keys.push(j + 2);
        }
    }
    keys
}

/// The deprecated DAG commands (AI.DAGRUN, _RO, AI.DAGRUNRO, AI.DAGRUNASYNC): the `|>` form as [`dag`], or
/// the original `=>` form, recognised as their handler does.
pub fn dagrun(argv: &[Bytes]) -> Vec<usize> {
    if super::dag::arrow_form(argv.get(1..).unwrap_or_default()) {
        arrow(argv)
    } else {
        dag(argv)
    }
}

/// `op => op => ...`: every op's keys, found as for the op alone, without volatile names.
fn arrow(argv: &[Bytes]) -> Vec<usize> {
    let mut keys = Vec::new();
    let mut start = 1;
    for end in (1..=argv.len()).filter(|&j| j == argv.len() || argv[j].as_ref() == b"=>") {
        let op = &argv[start..end];
        // An op may leave out the `AI.` of its name (as the handler allows).
        let spec = op.first().and_then(|name| {
            crate::commands::lookup(name).or_else(|| {
                let mut full = b"AI.".to_vec();
                full.extend_from_slice(name);
                crate::commands::lookup(&full)
            })
        });
        if let Some(spec) = spec {
            let found = match spec.getkeys {
                Some(f) => f(op),
                None => spec.key_positions(op.len()),
            };
            keys.extend(
                found
                    .into_iter()
                    .filter(|&k| k < op.len() && !volatile(&op[k]))
                    .map(|k| start + k),
            );
        }
        start = end + 1;
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(line: &str) -> Vec<Bytes> {
        line.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn named(line: &str, f: fn(&[Bytes]) -> Vec<usize>) -> Vec<String> {
        let a = argv(line);
        f(&a)
            .into_iter()
            .map(|i| String::from_utf8_lossy(&a[i]).into_owned())
            .collect()
    }

    #[test]
    fn model_and_script_keys() {
        assert_eq!(
            named(
                "AI.MODELEXECUTE m INPUTS 2 a b OUTPUTS 1 c TIMEOUT 5",
                modelexecute
            ),
            ["m", "a", "b", "c"]
        );
        assert_eq!(
            named("AI.MODELRUN m INPUTS a b OUTPUTS c", modelrun),
            ["m", "a", "b", "c"]
        );
        assert_eq!(
            named(
                "AI.SCRIPTEXECUTE s f KEYS 1 k INPUTS 1 i ARGS 2 x y OUTPUTS 1 o",
                scriptexecute
            ),
            ["s", "k", "i", "o"]
        );
        assert_eq!(
            named(
                "AI.SCRIPTRUN s f TIMEOUT 5 INPUTS i $ j k OUTPUTS o",
                scriptrun
            ),
            ["s", "i", "j", "k", "o"]
        );
        // Malformed: what is there.
        assert_eq!(
            named("AI.MODELEXECUTE m INPUTS 5 a", modelexecute),
            ["m", "a"]
        );
    }

    #[test]
    fn dag_keys_follow_redisai() {
        assert_eq!(
            named(
                "AI.DAGEXECUTE LOAD 1 a PERSIST 1 b ROUTING r |> AI.TENSORSET t FLOAT 1 VALUES 1 \
                 |> AI.MODELEXECUTE m INPUTS 1 t OUTPUTS 1 b |> AI.SCRIPTEXECUTE s f INPUTS 1 b",
                dag
            ),
            ["a", "b", "r", "m", "s"]
        );
    }
}
