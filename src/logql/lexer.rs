//! Tokens of LogQL. Positions are byte offsets; [`line_col`] turns them into the
//! 1-based line and column that Loki's error texts carry.

use super::error::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Number(String),
    /// A duration or byte-size literal such as `250ms` or `20MB` (text kept as written).
    Unit(String),
    /// `[5m]`: the text between the brackets.
    Range(String),
    /// A parser flag: `--strict` or `--keep-empty` (without the dashes).
    Flag(String),
    LBrace,
    RBrace,
    LParen,
    RParen,
    Comma,
    Eq,
    Neq,
    Re,
    Nre,
    PipeExact,
    PipeMatch,
    PipePattern,
    NotPattern,
    Pipe,
    CmpEq,
    Gt,
    Gte,
    Lt,
    Lte,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eof,
}

impl Tok {
    /// The name used in syntax errors: Loki's yacc token names, without the token's text.
    pub fn describe(&self) -> String {
        match self {
            Tok::Ident(_) => "IDENTIFIER".into(),
            Tok::Str(_) => "STRING".into(),
            Tok::Number(_) => "NUMBER".into(),
            Tok::Unit(_) => "DURATION".into(),
            Tok::Range(_) => "RANGE".into(),
            Tok::Flag(_) => "PARSER_FLAG".into(),
            Tok::Eof => "end of input".into(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            other => format!("{:?}", other).to_uppercase(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub pos: usize,
}

pub fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos.min(src.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map(|i| pos - i).unwrap_or(pos + 1);
    (line, col)
}

pub fn syntax_error(src: &str, pos: usize, msg: impl Into<String>) -> ParseError {
    let (line, col) = line_col(src, pos);
    ParseError::Syntax { line, col, msg: msg.into() }
}

pub fn tokenize(src: &str) -> Result<Vec<Token>, ParseError> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'#' {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        let two = b.get(i..i + 2).unwrap_or(&[]);
        if two == b"--" {
            let flag: String = src[i + 2..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if flag == "strict" || flag == "keep-empty" {
                let len = flag.len() + 2;
                out.push(Token { tok: Tok::Flag(flag), pos: start });
                i += len;
                continue;
            }
        }
        let (tok, len) = match two {
            b"!=" => (Tok::Neq, 2),
            b"=~" => (Tok::Re, 2),
            b"!~" => (Tok::Nre, 2),
            b"|=" => (Tok::PipeExact, 2),
            b"|~" => (Tok::PipeMatch, 2),
            b"|>" => (Tok::PipePattern, 2),
            b"!>" => (Tok::NotPattern, 2),
            b"==" => (Tok::CmpEq, 2),
            b">=" => (Tok::Gte, 2),
            b"<=" => (Tok::Lte, 2),
            _ => match c {
                b'{' => (Tok::LBrace, 1),
                b'}' => (Tok::RBrace, 1),
                b'(' => (Tok::LParen, 1),
                b')' => (Tok::RParen, 1),
                b',' => (Tok::Comma, 1),
                b'=' => (Tok::Eq, 1),
                b'|' => (Tok::Pipe, 1),
                b'>' => (Tok::Gt, 1),
                b'<' => (Tok::Lt, 1),
                b'+' => (Tok::Add, 1),
                b'-' => (Tok::Sub, 1),
                b'*' => (Tok::Mul, 1),
                b'/' => (Tok::Div, 1),
                b'%' => (Tok::Mod, 1),
                b'^' => (Tok::Pow, 1),
                b'"' | b'`' => {
                    let (s, len) = lex_string(src, i)?;
                    (Tok::Str(s), len)
                }
                b'[' => {
                    let end = src[i..].find(']').ok_or_else(|| syntax_error(src, i, "unclosed range"))?;
                    (Tok::Range(src[i + 1..i + end].trim().to_string()), end + 1)
                }
                c if c.is_ascii_digit() || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                    let mut j = i;
                    loop {
                        if j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_') {
                            j += 1;
                        } else if is_exponent_sign(b, i, j) {
                            // `2.5e-3`: the sign of a float's exponent
                            j += 1;
                        } else if src[j..].starts_with('µ') || src[j..].starts_with('μ') {
                            // `1µs`: the micro sign or the Greek mu, both 2 bytes
                            j += 2;
                        } else {
                            break;
                        }
                    }
                    let text = &src[i..j];
                    let is_number = text.parse::<f64>().is_ok()
                        || (text.starts_with("0x") && i64::from_str_radix(&text[2..], 16).is_ok());
                    (if is_number { Tok::Number(text.into()) } else { Tok::Unit(text.into()) }, j - i)
                }
                c if c == b'_' || c.is_ascii_alphabetic() => {
                    let mut j = i;
                    while j < b.len() && (b[j] == b'_' || b[j] == b'.' || b[j] == b':' || b[j].is_ascii_alphanumeric())
                    {
                        j += 1;
                    }
                    (Tok::Ident(src[i..j].to_string()), j - i)
                }
                _ => {
                    let ch = src[i..].chars().next().unwrap_or('?');
                    return Err(syntax_error(src, i, format!("syntax error: unexpected character {ch:?}")));
                }
            },
        };
        out.push(Token { tok, pos: start });
        i += len;
    }
    out.push(Token { tok: Tok::Eof, pos: src.len() });
    Ok(out)
}

/// True when `b[j]` is the sign in `<digits>e±<digit>` of the number starting at `i`.
fn is_exponent_sign(b: &[u8], i: usize, j: usize) -> bool {
    j > i + 1
        && matches!(b.get(j), Some(b'+' | b'-'))
        && matches!(b[j - 1], b'e' | b'E')
        && b.get(j + 1).is_some_and(u8::is_ascii_digit)
        && b[i..j - 1].iter().all(|c| c.is_ascii_digit() || *c == b'.')
}

/// Lexes a Go string literal (double-quoted with escapes, or a backtick raw string).
fn lex_string(src: &str, start: usize) -> Result<(String, usize), ParseError> {
    use crate::model::quote::{read_quoted, QuoteError};
    match read_quoted(src, start) {
        Ok((s, end)) => Ok((s, end - start)),
        Err(QuoteError::Unterminated(p)) => Err(syntax_error(src, p, "literal not terminated")),
        Err(QuoteError::BadEscape(p)) => Err(syntax_error(src, p, "invalid syntax")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_selector_and_filters() {
        let toks: Vec<Tok> =
            tokenize(r#"{app="a\"b", x=~`\d+`} |= "x" != "y" # comment"#).unwrap().into_iter().map(|t| t.tok).collect();
        assert_eq!(
            toks,
            vec![
                Tok::LBrace,
                Tok::Ident("app".into()),
                Tok::Eq,
                Tok::Str("a\"b".into()),
                Tok::Comma,
                Tok::Ident("x".into()),
                Tok::Re,
                Tok::Str("\\d+".into()),
                Tok::RBrace,
                Tok::PipeExact,
                Tok::Str("x".into()),
                Tok::Neq,
                Tok::Str("y".into()),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn positions() {
        assert_eq!(line_col("ab\ncd", 4), (2, 2));
        assert!(matches!(tokenize("{a=\"x}"), Err(ParseError::Syntax { .. })));
        assert_eq!(tokenize("250ms 1.5 [5m]").unwrap()[0].tok, Tok::Unit("250ms".into()));
        assert_eq!(tokenize("3µs").unwrap()[0].tok, Tok::Unit("3µs".into()));
    }

    #[test]
    fn float_exponents_with_a_sign() {
        // found by the fuzzer: `2.5e-3` lexed as the unit `2.5e`, then `-`, then `3`
        assert_eq!(tokenize("2.5e-3").unwrap()[0].tok, Tok::Number("2.5e-3".into()));
        assert_eq!(tokenize("1E+2").unwrap()[0].tok, Tok::Number("1E+2".into()));
        let toks: Vec<Tok> = tokenize("5m-1").unwrap().into_iter().map(|t| t.tok).collect();
        assert_eq!(toks[..2], [Tok::Unit("5m".into()), Tok::Sub]);
        assert_eq!(tokenize("0x1e-3").unwrap()[0].tok, Tok::Number("0x1e".into()));
    }
}
