//! Go string literals: double-quoted with escapes, single-quoted, or backtick raw.
//! Shared by the label-string parser and the LogQL lexer.

/// Why a literal could not be read, and where (byte offset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteError {
    Unterminated(usize),
    BadEscape(usize),
}

/// Reads the literal whose opening quote is at byte `start` of `src`. Returns the
/// unescaped text and the offset just past the closing quote.
pub fn read_quoted(src: &str, start: usize) -> Result<(String, usize), QuoteError> {
    let b = src.as_bytes();
    let quote = b[start];
    let mut out = String::new();
    let mut i = start + 1;
    loop {
        let Some(&c) = b.get(i) else {
            return Err(QuoteError::Unterminated(start));
        };
        if c == quote {
            return Ok((out, i + 1));
        }
        if c == b'\\' && quote != b'`' {
            let e = *b.get(i + 1).ok_or(QuoteError::Unterminated(start))?;
            let esc_at = i;
            i += 2;
            let simple = match e {
                b'n' => Some('\n'),
                b't' => Some('\t'),
                b'r' => Some('\r'),
                b'a' => Some('\u{7}'),
                b'b' => Some('\u{8}'),
                b'f' => Some('\u{c}'),
                b'v' => Some('\u{b}'),
                b'\\' => Some('\\'),
                b'"' => Some('"'),
                b'\'' => Some('\''),
                _ => None,
            };
            if let Some(ch) = simple {
                out.push(ch);
                continue;
            }
            let (digits, radix) = match e {
                b'x' => (2, 16),
                b'u' => (4, 16),
                b'U' => (8, 16),
                b'0'..=b'7' => {
                    i -= 1;
                    (3, 8)
                }
                _ => return Err(QuoteError::BadEscape(esc_at)),
            };
            let ch = src
                .get(i..i + digits)
                .and_then(|h| u32::from_str_radix(h, radix).ok())
                .and_then(char::from_u32)
                .ok_or(QuoteError::BadEscape(esc_at))?;
            out.push(ch);
            i += digits;
            continue;
        }
        let ch = src[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_literals() {
        assert_eq!(read_quoted(r#""a\"b\n\x41\u00e9\101" rest"#, 0).unwrap(), ("a\"b\nAéA".to_string(), 22));
        assert_eq!(read_quoted(r"`raw\d`", 0).unwrap().0, r"raw\d");
        assert_eq!(read_quoted("'x'", 0).unwrap().0, "x");
        assert_eq!(read_quoted("\"open", 0), Err(QuoteError::Unterminated(0)));
        assert_eq!(read_quoted(r#""\q""#, 0), Err(QuoteError::BadEscape(1)));
    }
}
