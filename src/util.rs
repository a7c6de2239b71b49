//! Small parsing and formatting helpers shared by commands, with Redis's exact rules.

use std::time::{SystemTime, UNIX_EPOCH};

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: no spaces, no `+`, no leading zeros.
pub fn parse_i64(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || digits[0] == b'0' || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: i128 = 0;
    for d in digits {
        v = v * 10 + i128::from(d - b'0');
    }
    if neg {
        v = -v;
    }
    i64::try_from(v).ok()
}

/// Parses a double the way Redis's `string2ld`/`strtod` accept it: no surrounding spaces, no NaN.
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty() || s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return None;
    }
    let v: f64 = match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        l if l.trim_start_matches(['+', '-']).starts_with("0x") => parse_hex_f64(l)?,
        _ => s.parse().ok()?,
    };
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// C99 hexadecimal floating point (`0x1.8p3`), which `strtod` and so Redis accept.
fn parse_hex_f64(l: &str) -> Option<f64> {
    let (neg, rest) = match l.as_bytes()[0] {
        b'-' => (true, &l[1..]),
        b'+' => (false, &l[1..]),
        _ => (false, l),
    };
    let rest = rest.strip_prefix("0x")?;
    let (mantissa, exp) = match rest.split_once('p') {
        Some((m, e)) => (m, parse_i64(e.strip_prefix('+').unwrap_or(e).as_bytes())?),
        None => (rest, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp.clamp(-2000, 2000) as i32);
    Some(if neg { -v } else { v })
}

/// Formats a double as Redis 7 does for bulk-string replies: the shortest text that reads back to the same
/// value, `inf`/`-inf`/`nan` for the special values, and exponent form for very large or small magnitudes.
pub fn fmt_f64(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let a = v.abs();
    if a != 0.0 && !(1e-5..1e17).contains(&a) {
        let s = format!("{v:e}");
        // Rust writes 1e300 / 1e-7; C's %g writes 1e+300 / 1e-07. Python and redis-cli read both; keep C's sign.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e}"),
            _ => s,
        }
    } else {
        format!("{v}")
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Microseconds since the Unix epoch.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Case-insensitive ASCII comparison of an argument with a keyword.
pub fn eq_ic(a: &[u8], kw: &str) -> bool {
    a.eq_ignore_ascii_case(kw.as_bytes())
}

/// Lossy text of an argument, for error messages and logs.
pub fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Parses a memory size with Redis's units (`1gb`, `100mb`, `512k`, plain bytes).
pub fn parse_memory(s: &str) -> Option<u64> {
    let l = s.trim().to_ascii_lowercase();
    let units: [(&str, u64); 8] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = l.strip_suffix(suffix) {
            if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            return num.parse::<u64>().ok()?.checked_mul(mul);
        }
    }
    None
}

/// `n` random lower-case hex digits (run ids, replication ids, EOF marks).
pub fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| char::from_digit(fastrand::u32(..16), 16).unwrap_or('0'))
        .collect()
}

/// User and system CPU time in microseconds of the process or thread whose `stat` file is at `path`
/// (`/proc/self/stat`, `/proc/self/task/<tid>/stat`); zeros when it cannot be read.
pub fn proc_cpu_us(path: &str) -> (i64, i64) {
    let stat = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the command name (which may hold spaces, so split after its closing parenthesis):
    // utime and stime are the 12th and 13th, in clock ticks.
    let rest: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| rest.get(i).and_then(|v| v.parse::<i64>().ok()).unwrap_or(0);
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|&h| h > 0)
        .unwrap_or(100);
    (ticks(11) * 1_000_000 / hz, ticks(12) * 1_000_000 / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [&b"+1"[..], b"01", b" 1", b"1.0", b"", b"-", b"-0"] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn doubles_format_like_redis() {
        assert_eq!(fmt_f64(1.0), "1");
        assert_eq!(fmt_f64(1.5), "1.5");
        assert_eq!(fmt_f64(f64::from(5.1f32)), "5.099999904632568");
        assert_eq!(fmt_f64(1e300), "1e+300");
        assert_eq!(fmt_f64(-2.5e-7), "-2.5e-7");
        assert_eq!(fmt_f64(f64::INFINITY), "inf");
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"0x1.8p3"), Some(12.0));
        assert_eq!(parse_f64(b"-0x10"), Some(-16.0));
        assert_eq!(parse_f64(b"0x"), None);
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("1gb"), Some(1 << 30));
        assert_eq!(parse_memory("512MB"), Some(512 << 20));
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("x"), None);
    }
}
