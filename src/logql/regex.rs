//! Go (RE2) regex semantics on top of the `regex` crate.
//!
//! Go's `\d`, `\w`, `\s` and `\b` are ASCII-only; Rust's are Unicode-aware. The
//! pattern is rewritten to ASCII classes before compiling so `\d` never matches
//! `٣`. Everything else RE2 accepts, the `regex` crate accepts with the same meaning.

/// Rewrites Go-only-ASCII escapes into their explicit ASCII forms.
pub fn go_to_rust(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(e) = chars.next() else {
                    out.push('\\');
                    break;
                };
                let class = match e {
                    'd' => Some(("digit", false)),
                    'D' => Some(("digit", true)),
                    'w' => Some(("word", false)),
                    'W' => Some(("word", true)),
                    's' => Some(("space", false)),
                    'S' => Some(("space", true)),
                    _ => None,
                };
                match (class, in_class) {
                    (Some((name, neg)), true) => out.push_str(&format!("[:{}{name}:]", if neg { "^" } else { "" })),
                    (Some((name, neg)), false) => out.push_str(&format!("[[:{}{name}:]]", if neg { "^" } else { "" })),
                    (None, false) if e == 'b' || e == 'B' => out.push_str(&format!("(?-u:\\{e})")),
                    _ => {
                        out.push('\\');
                        out.push(e);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                // a leading ^ and a leading ] are literal parts of the class syntax
                if chars.peek() == Some(&'^') {
                    out.push(chars.next().unwrap_or('^'));
                }
                if chars.peek() == Some(&']') {
                    chars.next();
                    out.push_str("\\]");
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                // POSIX class inside a class: copy through to the closing ":]"
                out.push('[');
                for d in chars.by_ref() {
                    out.push(d);
                    if d == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            c => out.push(c),
        }
    }
    out
}

/// Compiles a Go regex for matching text (label values), fully anchored when asked.
pub fn compile(pattern: &str, anchored: bool) -> Result<regex::Regex, regex::Error> {
    let p = go_to_rust(pattern);
    let p = if anchored { format!("^(?:{p})$") } else { p };
    regex::RegexBuilder::new(&p).size_limit(1 << 22).build()
}

/// Compiles a Go regex for matching raw line bytes.
pub fn compile_bytes(pattern: &str) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(&go_to_rust(pattern)).size_limit(1 << 22).build()
}

/// Loki's text for a regex that does not compile (quoted as the user typed it).
pub fn error_text(pattern: &str, err: &regex::Error) -> String {
    let detail = match err {
        regex::Error::Syntax(s) => go_error_text(s),
        regex::Error::CompiledTooBig(_) => "expression too large".to_string(),
        _ => err.to_string(),
    };
    format!("error parsing regexp: {detail}: `{pattern}`")
}

/// Maps the `regex` crate's syntax error to Go's wording where the meaning is the same.
fn go_error_text(rust_msg: &str) -> String {
    const MAP: [(&str, &str); 6] = [
        ("unclosed group", "missing closing )"),
        ("unclosed character class", "missing closing ]"),
        ("unopened group", "unexpected )"),
        ("repetition operator missing expression", "missing argument to repetition operator"),
        ("invalid character class range", "invalid character class range"),
        ("unrecognized escape sequence", "invalid escape sequence"),
    ];
    MAP.iter().find(|(r, _)| rust_msg.contains(r)).map(|(_, g)| g.to_string()).unwrap_or_else(|| {
        rust_msg.lines().last().unwrap_or("invalid syntax").trim_start_matches("error: ").to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_ascii_only() {
        let r = compile(r"\d+", true).unwrap();
        assert!(r.is_match("123"));
        assert!(!r.is_match("١٢٣"));
        let r = compile(r"[\d\s]+", true).unwrap();
        assert!(r.is_match("1 2"));
        assert!(!r.is_match("١"));
        let r = compile(r"[^\w]", true).unwrap();
        assert!(r.is_match("-"));
        assert!(!r.is_match("a"));
        let e = compile(r"(unclosed", false).unwrap_err();
        assert_eq!(error_text("(unclosed", &e), "error parsing regexp: missing closing ): `(unclosed`");
    }

    #[test]
    fn classes_with_brackets() {
        let r = compile(r"[]a]+", true).unwrap();
        assert!(r.is_match("]a]"));
        let r = compile(r"[[:alpha:]]+", true).unwrap();
        assert!(r.is_match("abc"));
    }
}
