//! Redis's glob matching (`stringmatchlen`): `*`, `?`, `[abc]`, `[^a-z]`, `\x`, for KEYS, SCAN MATCH,
//! PSUBSCRIBE and CONFIG GET.

/// Whether `s` matches `pattern`, optionally ignoring ASCII case.
pub fn matches(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    // Iterative with one backtrack point for the last `*`, so a hostile pattern cannot recurse deeply.
    let (mut p, mut i) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while i < s.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    while p < pattern.len() && pattern[p] == b'*' {
                        p += 1;
                    }
                    if p == pattern.len() {
                        return true;
                    }
                    star = Some((p, i));
                    continue;
                }
                b'?' => {
                    p += 1;
                    i += 1;
                    continue;
                }
                b'[' => {
                    let (matched, next) = class(pattern, p, s[i], nocase);
                    if matched {
                        p = next;
                        i += 1;
                        continue;
                    }
                }
                b'\\' if p + 1 < pattern.len() => {
                    if eq(pattern[p + 1], s[i]) {
                        p += 2;
                        i += 1;
                        continue;
                    }
                }
                c => {
                    if eq(c, s[i]) {
                        p += 1;
                        i += 1;
                        continue;
                    }
                }
            }
        }
        match star {
            Some((sp, si)) => {
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches one character against the class starting at `pattern[p] == b'['`; returns (matched, index after
/// the class). Exactly `stringmatchlen`'s reading: `x-y` is a range whenever two more characters follow the
/// `x` (so in `[a-]` the `]` is the range's end), and an unterminated class ends with the pattern.
fn class(pattern: &[u8], p: usize, c: u8, nocase: bool) -> (bool, usize) {
    let len = pattern.len();
    let mut j = p + 1;
    let not = pattern.get(j) == Some(&b'^');
    if not {
        j += 1;
    }
    let norm = |x: u8| if nocase { x.to_ascii_lowercase() } else { x };
    let c_n = norm(c);
    let mut matched = false;
    loop {
        if j >= len {
            return (matched != not, len);
        }
        let pc = pattern[j];
        if pc == b'\\' && len - j >= 2 {
            j += 1;
            matched |= pattern[j] == c;
        } else if pc == b']' {
            break;
        } else if len - j >= 3 && pattern[j + 1] == b'-' {
            let (mut a, mut b) = (norm(pc), norm(pattern[j + 2]));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            matched |= (a..=b).contains(&c_n);
            j += 2;
        } else {
            matched |= norm(pc) == c_n;
        }
        j += 1;
    }
    (matched != not, j + 1)
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn globs() {
        let m = |p: &str, s: &str| matches(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a*b", "acd"));
        assert!(m("*max*", "maxmemory-policy"));
        assert!(matches(b"MAX*", b"maxclients", true));
        // `[a-]` is the range `]`..`a`, and the unterminated class runs to the end of the pattern.
        assert!(m("[a-]", "_"));
        assert!(!m("[a-]", "-"));
        assert!(m("x[ab", "xa"));
    }
}
