//! Fast path for `|~ "(?i)literal"` line filters: a case-insensitive search for
//! an ASCII needle without running the regex engine on every line.
//!
//! Candidates come from `memchr2` on the needle's rarest byte in both ASCII
//! cases; each one is verified with an ASCII case-insensitive compare. Go's RE2
//! folds case by Unicode simple case folding, under which two ASCII letters have
//! non-ASCII partners: `k` (U+212A KELVIN SIGN) and `s` (U+017F LATIN SMALL
//! LETTER LONG S). When the needle has either letter and the line has the lead
//! byte of those characters' UTF-8 form (0xE2, 0xC5) and no ASCII match, the
//! line goes to the compiled regex, so answers are the regex's in every case.
//! Needles with non-ASCII characters or regex syntax never take this path.

use memchr::{memchr, memchr2, memchr2_iter, memchr_iter};

/// A compiled `(?i)literal` search with its regex fallback.
#[derive(Clone, Debug)]
pub struct Caseless {
    /// The needle, ASCII-lowercased.
    needle: Vec<u8>,
    /// Offset of the rarest byte in `needle`, and that byte in both cases.
    rare_at: usize,
    rare: (u8, u8),
    /// True when the needle has `k` or `s` (non-ASCII fold partners exist).
    unicode_partners: bool,
    regex: regex::bytes::Regex,
}

impl Caseless {
    /// The fast path for `pattern` when it is `(?i)` followed by a plain ASCII
    /// literal (no metacharacters, no escapes); `None` otherwise. `regex` is
    /// the pattern compiled as usual (kept for the fallback).
    pub fn new(pattern: &str, regex: &regex::bytes::Regex) -> Option<Caseless> {
        let lit = pattern.strip_prefix("(?i)")?;
        let plain = |b: u8| (b.is_ascii_graphic() && !br"\.+*?()|[]{}^$#".contains(&b)) || b == b' ';
        if lit.is_empty() || !lit.bytes().all(plain) {
            return None;
        }
        let needle = lit.to_ascii_lowercase().into_bytes();
        let rare_at = (0..needle.len()).min_by_key(|&i| rank(needle[i]))?;
        let b = needle[rare_at];
        Some(Caseless {
            rare: (b, b.to_ascii_uppercase()),
            rare_at,
            unicode_partners: needle.iter().any(|&b| b == b'k' || b == b's'),
            needle,
            regex: regex.clone(),
        })
    }

    #[inline]
    pub fn is_match(&self, line: &[u8]) -> bool {
        if self.ascii_find(line) {
            return true;
        }
        self.unicode_partners && memchr2(0xE2, 0xC5, line).is_some() && self.regex.is_match(line)
    }

    fn ascii_find(&self, line: &[u8]) -> bool {
        let n = self.needle.len();
        if line.len() < n {
            return false;
        }
        let verify = |p: usize| {
            p >= self.rare_at
                && line
                    .get(p - self.rare_at..p - self.rare_at + n)
                    .is_some_and(|w| w.eq_ignore_ascii_case(&self.needle))
        };
        let (lo, up) = self.rare;
        if lo == up {
            if n == 1 {
                return memchr(lo, line).is_some();
            }
            return memchr_iter(lo, line).any(verify);
        }
        memchr2_iter(lo, up, line).any(verify)
    }
}

/// How common a byte (in either ASCII case) is in log lines: lower is rarer.
/// A heuristic: spaces, digits and structural punctuation are the most common,
/// letters follow English letter frequency, other punctuation is rare.
fn rank(b: u8) -> u32 {
    const LETTERS: &[u8] = b"etaoinsrhldcumfpgwybvkxjqz";
    let b = b.to_ascii_lowercase();
    if let Some(i) = LETTERS.iter().position(|&l| l == b) {
        return 100 + (LETTERS.len() - i) as u32;
    }
    match b {
        b' ' | b'"' | b':' | b',' | b'=' | b'.' => 300,
        b'0'..=b'9' => 250,
        b'-' | b'/' | b'_' => 200,
        _ => 50,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn caseless(p: &str) -> Option<Caseless> {
        Caseless::new(p, &regex::bytes::Regex::new(p).unwrap())
    }

    #[test]
    fn only_plain_ascii_literals() {
        assert!(caseless("(?i)needle-that-never-matches").is_some());
        assert!(caseless("(?i)a b:c=d").is_some());
        for p in ["needle", "(?i)a.b", "(?i)a|b", "(?i)é", "(?i)", "(?i)a\\d", "(?is)ab", "(?i)(?-i)ab"] {
            assert!(caseless(p).is_none(), "{p}");
        }
    }

    #[test]
    fn folds_like_re2() {
        let c = caseless("(?i)Risk").unwrap();
        assert!(c.is_match(b"high RISK here"));
        assert!(c.is_match("ri\u{17F}\u{212A}".as_bytes()), "long s and Kelvin sign fold to s and k");
        assert!(!c.is_match("ri\u{17F}".as_bytes()));
        assert!(!c.is_match(b"ris"));
        let c = caseless("(?i)x").unwrap();
        assert!(c.is_match(b"X") && c.is_match(b"ax") && !c.is_match(b"") && !c.is_match(b"y"));
    }

    fn alphabet() -> impl Strategy<Value = String> {
        let chars = prop::sample::select(vec!['a', 'K', 'k', 's', 'S', 'x', '-', ' ', '\u{17F}', '\u{212A}', 'é']);
        prop::collection::vec(chars, 0..24).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn agrees_with_the_regex(needle in "[aKksSx -]{1,4}", line in alphabet(), raw in prop::collection::vec(any::<u8>(), 0..8)) {
            let pattern = format!("(?i){needle}");
            let re = regex::bytes::Regex::new(&pattern).unwrap();
            let c = Caseless::new(&pattern, &re).unwrap();
            let mut bytes = line.into_bytes();
            prop_assert_eq!(c.is_match(&bytes), re.is_match(&bytes), "{:?} on {:?}", pattern, bytes);
            bytes.extend(raw);
            prop_assert_eq!(c.is_match(&bytes), re.is_match(&bytes), "{:?} on {:?}", pattern, bytes);
        }
    }
}
