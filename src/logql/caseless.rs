//! Fast path for `|~ "(?i)literal"` line filters: a case-insensitive search for
//! an ASCII needle without running the regex engine on every line.
//!
//! The line is folded (`| 0x20` on every byte, which lowercases ASCII letters)
//! into a per-thread buffer, `memchr`'s SIMD substring finder looks for the
//! folded needle there, and each hit is verified with an ASCII case-insensitive
//! compare on the line itself (the fold also merges some punctuation pairs such
//! as `@` and `` ` ``). Go's RE2 folds case by Unicode simple case folding,
//! under which two ASCII letters have non-ASCII partners: `k` (U+212A KELVIN
//! SIGN) and `s` (U+017F LATIN SMALL LETTER LONG S). When the needle has either
//! letter and the line has the lead byte of those characters' UTF-8 form (0xE2, 0xC5) and no ASCII match, the
//! line goes to the compiled regex, so answers are the regex's in every case.
//! Needles with non-ASCII characters or regex syntax never take this path.

use std::cell::RefCell;

use memchr::memchr2;
use memchr::memmem::Finder;

thread_local! {
    /// The folded copy of the current line.
    static FOLDED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A compiled `(?i)literal` search with its regex fallback.
#[derive(Clone, Debug)]
pub struct Caseless {
    /// The needle, ASCII-lowercased.
    needle: Vec<u8>,
    /// Finds the folded needle in a folded line.
    folded: Finder<'static>,
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
        let folded: Vec<u8> = needle.iter().map(|b| b | 0x20).collect();
        Some(Caseless {
            folded: Finder::new(&folded).into_owned(),
            unicode_partners: needle.iter().any(|&b| b == b'k' || b == b's'),
            needle,
            regex: regex.clone(),
        })
    }

    #[inline]
    pub fn is_match(&self, line: &[u8]) -> bool {
        match self.ascii_find(line) {
            Found::Yes => true,
            Found::No { ascii } => {
                !ascii && self.unicode_partners && memchr2(0xE2, 0xC5, line).is_some() && self.regex.is_match(line)
            }
        }
    }

    fn ascii_find(&self, line: &[u8]) -> Found {
        let n = self.needle.len();
        if line.len() < n {
            return Found::No { ascii: line.is_ascii() };
        }
        let search = |buf: &mut Vec<u8>| {
            if buf.len() < line.len() {
                buf.resize(line.len(), 0);
            }
            let folded = &mut buf[..line.len()];
            let mut high = 0u8;
            for (d, s) in folded.iter_mut().zip(line) {
                *d = s | 0x20;
                high |= s;
            }
            let mut at = 0;
            while let Some(i) = self.folded.find(&folded[at..]) {
                let p = at + i;
                if line[p..p + n].eq_ignore_ascii_case(&self.needle) {
                    return Found::Yes;
                }
                at = p + 1;
            }
            Found::No { ascii: high < 0x80 }
        };
        FOLDED.with(|b| match b.try_borrow_mut() {
            Ok(mut buf) => search(&mut buf),
            Err(_) => search(&mut Vec::new()),
        })
    }
}

/// The ASCII search's answer; with no match, whether the line is all ASCII
/// (then no Unicode fold partner can match either).
enum Found {
    Yes,
    No { ascii: bool },
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
