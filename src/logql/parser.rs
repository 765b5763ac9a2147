//! Recursive-descent parser over the tokens of `lexer`.
//!
//! Today it builds log queries (selector + line filters). Pipeline stages and
//! metric queries are recognised and answered with a clear "not supported yet".

use super::ast::{LineFilter, LineFilterOp, LogExpr};
use super::error::{ParseError, EMPTY_COMPATIBLE};
use super::filter::CompiledFilter;
use super::lexer::{syntax_error, tokenize, Tok, Token};
use super::matcher::{MatchOp, Matcher};

/// Longest query Loki accepts, in bytes.
pub const MAX_QUERY_LEN: usize = 131_072;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Log(LogExpr),
}

/// Parses a query and applies Loki's query-wide rules (a selector needs a matcher
/// that does not match the empty string).
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_QUERY_LEN {
        return Err(ParseError::Invalid(format!("input size too long ({} > {MAX_QUERY_LEN})", src.len())));
    }
    let mut p = Parser { src, toks: tokenize(src)?, i: 0 };
    let e = p.expr()?;
    p.expect_eof()?;
    let Expr::Log(l) = &e;
    if l.matchers.iter().all(Matcher::matches_empty) {
        return Err(ParseError::Invalid(EMPTY_COMPATIBLE.into()));
    }
    Ok(e)
}

/// Parses a bare stream selector (`{a="b"}`), allowing `{}` and empty-compatible
/// matchers, as `/series` and `/labels?query=` do.
pub fn parse_selector(src: &str) -> Result<Vec<Matcher>, ParseError> {
    let mut p = Parser { src, toks: tokenize(src)?, i: 0 };
    let m = p.selector(true)?;
    p.expect_eof()?;
    Ok(m)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }

    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }

    fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    fn unexpected<T>(&self, expecting: &str) -> Result<T, ParseError> {
        let got = self.peek().describe();
        let msg = if expecting.is_empty() {
            format!("syntax error: unexpected {got}")
        } else {
            format!("syntax error: unexpected {got}, expecting {expecting}")
        };
        Err(syntax_error(self.src, self.pos(), msg))
    }

    fn expect_eof(&self) -> Result<(), ParseError> {
        if *self.peek() == Tok::Eof {
            Ok(())
        } else {
            self.unexpected("")
        }
    }

    fn expr(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::LBrace => self.log_expr().map(Expr::Log),
            Tok::LParen => {
                self.next();
                let e = self.expr()?;
                if self.next() != Tok::RParen {
                    self.i -= 1;
                    return self.unexpected(")");
                }
                self.pipeline_after_parens(e)
            }
            Tok::Ident(_) | Tok::Number(_) | Tok::Sub | Tok::Add => Err(ParseError::Unsupported(
                "metric queries are not supported by this Skald version yet; only log queries (stream selectors with line filters) are".into(),
            )),
            _ => self.unexpected(""),
        }
    }

    fn pipeline_after_parens(&mut self, e: Expr) -> Result<Expr, ParseError> {
        let Expr::Log(mut l) = e;
        self.stages(&mut l)?;
        Ok(Expr::Log(l))
    }

    fn log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let matchers = self.selector(false)?;
        let mut l = LogExpr { matchers, filters: Vec::new() };
        self.stages(&mut l)?;
        Ok(l)
    }

    fn selector(&mut self, allow_empty: bool) -> Result<Vec<Matcher>, ParseError> {
        if self.next() != Tok::LBrace {
            self.i -= 1;
            return self.unexpected("{");
        }
        let mut out = Vec::new();
        loop {
            match self.next() {
                Tok::RBrace if !out.is_empty() || allow_empty => return Ok(out),
                Tok::Ident(name) => {
                    let op = match self.next() {
                        Tok::Eq => MatchOp::Eq,
                        Tok::Neq => MatchOp::Neq,
                        Tok::Re => MatchOp::Re,
                        Tok::Nre => MatchOp::Nre,
                        _ => {
                            self.i -= 1;
                            return self.unexpected("=, !=, =~ or !~");
                        }
                    };
                    let Tok::Str(v) = self.next() else {
                        self.i -= 1;
                        return self.unexpected("STRING");
                    };
                    out.push(Matcher::new(name, op, v)?);
                    match self.next() {
                        Tok::Comma => {}
                        Tok::RBrace => return Ok(out),
                        _ => {
                            self.i -= 1;
                            return self.unexpected(", or }");
                        }
                    }
                }
                _ => {
                    self.i -= 1;
                    return self.unexpected("IDENTIFIER");
                }
            }
        }
    }

    fn stages(&mut self, l: &mut LogExpr) -> Result<(), ParseError> {
        loop {
            let op = match self.peek() {
                Tok::PipeExact => LineFilterOp::Contains,
                Tok::Neq => LineFilterOp::NotContains,
                Tok::PipeMatch => LineFilterOp::Match,
                Tok::Nre => LineFilterOp::NotMatch,
                Tok::PipePattern => LineFilterOp::Pattern,
                Tok::NotPattern => LineFilterOp::NotPattern,
                Tok::Pipe => {
                    let stage = match self.peek_at(1) {
                        Tok::Ident(s) => s.clone(),
                        _ => {
                            self.next();
                            return self.unexpected("a pipeline stage");
                        }
                    };
                    return Err(ParseError::Unsupported(format!(
                        "the LogQL pipeline stage `| {stage}` is not supported by this Skald version yet; only line filters are"
                    )));
                }
                Tok::Range(_) => {
                    return Err(ParseError::Unsupported(
                        "metric queries are not supported by this Skald version yet; only log queries are".into(),
                    ))
                }
                _ => return Ok(()),
            };
            self.next();
            let mut values = Vec::new();
            let mut ip = false;
            loop {
                let (v, is_ip) = self.filter_value()?;
                if !values.is_empty() && is_ip != ip {
                    return Err(syntax_error(
                        self.src,
                        self.pos(),
                        "syntax error: cannot mix ip() and strings in one filter",
                    ));
                }
                ip = is_ip;
                values.push(v);
                let or_follows = matches!(self.peek(), Tok::Ident(s) if s.eq_ignore_ascii_case("or"))
                    && matches!(self.peek_at(1), Tok::Str(_) | Tok::Ident(_));
                if !or_follows {
                    break;
                }
                self.next();
            }
            let compiled = CompiledFilter::compile(op, &values, ip)?;
            l.filters.push(LineFilter { op, values, ip, compiled });
        }
    }

    fn filter_value(&mut self) -> Result<(String, bool), ParseError> {
        match self.next() {
            Tok::Str(s) => Ok((s, false)),
            Tok::Ident(f) if f == "ip" && *self.peek() == Tok::LParen => {
                self.next();
                let Tok::Str(s) = self.next() else {
                    self.i -= 1;
                    return self.unexpected("STRING");
                };
                if self.next() != Tok::RParen {
                    self.i -= 1;
                    return self.unexpected(")");
                }
                Ok((s, true))
            }
            _ => {
                self.i -= 1;
                self.unexpected("STRING")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(q: &str) -> LogExpr {
        let Expr::Log(l) = parse(q).unwrap();
        l
    }

    #[test]
    fn parses_selectors_and_filters() {
        let l = log(r#"{app="a", env=~"p.*"} |= "x" or "y" != "z" |~ `(?i)err` |= ip("10.0.0.0/8")"#);
        assert_eq!(l.matchers.len(), 2);
        assert_eq!(l.filters.len(), 4);
        assert_eq!(l.filters[0].values, vec!["x", "y"]);
        assert!(l.filters[3].ip);
        assert!(l.keep_line(b"x 10.1.1.1 ERR"));
        assert!(!l.keep_line(b"x z 10.1.1.1 ERR"));
    }

    #[test]
    fn printing_round_trips() {
        for q in [r#"{app="a"}"#, r#"{app="a\"b", x!~"y"} |= "q" or "r" !> "<_> x""#, r#"{a="b"} != ip("::1")"#] {
            let l = log(q);
            assert_eq!(log(&l.to_string()), l, "{q}");
        }
    }

    #[test]
    fn errors_have_loki_texts() {
        assert_eq!(parse(r#"{app=~".*"}"#).unwrap_err().to_string(), format!("parse error : {EMPTY_COMPATIBLE}"));
        assert!(matches!(parse("{}").unwrap_err(), ParseError::Syntax { line: 1, col: 2, .. }));
        assert!(matches!(parse(r#"{app="a"} | json"#).unwrap_err(), ParseError::Unsupported(_)));
        assert!(matches!(parse(r#"rate({app="a"}[5m])"#).unwrap_err(), ParseError::Unsupported(_)));
        assert_eq!(
            parse(r#"{app=~"(unclosed"}"#).unwrap_err().to_string(),
            "parse error : error parsing regexp: missing closing ): `(unclosed`"
        );
        assert!(parse(r#"{app="a"} |= "#).is_err());
        assert!(parse_selector("{}").unwrap().is_empty());
    }
}
