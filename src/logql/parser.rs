//! Recursive-descent parser over the tokens of `lexer`: selectors and the entry
//! points. Pipeline stages are parsed in `stages`, metric expressions in
//! `metric::parse`; the pipeline is compiled (and so validated) here.

use std::sync::Arc;

use super::ast::LogExpr;
use super::error::{ParseError, EMPTY_COMPATIBLE};
use super::lexer::{syntax_error, tokenize, Tok, Token};
use super::matcher::{MatchOp, Matcher};
use super::metric::SampleExpr;
use super::pipeline::Pipeline;

/// Longest query Loki accepts, in bytes.
pub const MAX_QUERY_LEN: usize = 131_072;

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    Log(LogExpr),
    Sample(SampleExpr),
}

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::Log(l) => write!(f, "{l}"),
            Expr::Sample(s) => write!(f, "{s}"),
        }
    }
}

/// Parses a query and applies Loki's query-wide rules (a selector needs a matcher
/// that does not match the empty string).
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.len() > MAX_QUERY_LEN {
        return Err(ParseError::Invalid(format!("input size too long ({} > {MAX_QUERY_LEN})", src.len())));
    }
    let mut p = Parser { src, toks: tokenize(src)?, i: 0, depth: 0 };
    let e = p.query_expr()?;
    p.expect_eof()?;
    if let Expr::Log(l) = &e {
        if l.matchers.iter().all(Matcher::matches_empty) {
            return Err(ParseError::Invalid(EMPTY_COMPATIBLE.into()));
        }
    }
    Ok(e)
}

/// Parses a bare stream selector (`{a="b"}`), allowing `{}` and empty-compatible
/// matchers, as `/series` and `/labels?query=` do.
pub fn parse_selector(src: &str) -> Result<Vec<Matcher>, ParseError> {
    let mut p = Parser { src, toks: tokenize(src)?, i: 0, depth: 0 };
    let m = p.selector(true)?;
    p.expect_eof()?;
    Ok(m)
}

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) toks: Vec<Token>,
    pub(super) i: usize,
    /// Nesting depth of metric sub-expressions (bounded: deep nesting is a 400, not a stack overflow).
    pub(super) depth: usize,
}

impl Parser<'_> {
    pub(super) fn peek(&self) -> &Tok {
        &self.toks[self.i.min(self.toks.len() - 1)].tok
    }

    pub(super) fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.i + k).min(self.toks.len() - 1)].tok
    }

    pub(super) fn pos(&self) -> usize {
        self.toks[self.i.min(self.toks.len() - 1)].pos
    }

    pub(super) fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.i += 1;
        t
    }

    pub(super) fn unexpected<T>(&self, expecting: &str) -> Result<T, ParseError> {
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

    pub(super) fn pipeline_after_parens(&mut self, l: LogExpr) -> Result<LogExpr, ParseError> {
        let mut stages = l.stages;
        self.stages(&mut stages)?;
        LogExpr::new(l.matchers, stages)
    }

    pub(super) fn log_expr(&mut self) -> Result<LogExpr, ParseError> {
        let matchers = self.selector(false)?;
        let mut stages = Vec::new();
        self.stages(&mut stages)?;
        LogExpr::new(matchers, stages)
    }

    pub(super) fn selector(&mut self, allow_empty: bool) -> Result<Vec<Matcher>, ParseError> {
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
}

impl LogExpr {
    /// Builds a log expression, compiling (and so validating) its pipeline.
    pub fn new(matchers: Vec<Matcher>, stages: Vec<super::ast::Stage>) -> Result<LogExpr, ParseError> {
        let pipeline = Arc::new(Pipeline::compile(&stages)?);
        Ok(LogExpr { matchers, stages, pipeline })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::ast::Stage;

    fn log(q: &str) -> LogExpr {
        let Expr::Log(l) = parse(q).unwrap() else { panic!("log query expected") };
        l
    }

    #[test]
    fn parses_selectors_and_filters() {
        let l = log(r#"{app="a", env=~"p.*"} |= "x" or "y" != "z" |~ `(?i)err` |= ip("10.0.0.0/8")"#);
        assert_eq!(l.matchers.len(), 2);
        assert_eq!(l.stages.len(), 4);
        let Stage::Line(f0) = &l.stages[0] else { panic!("line filter expected") };
        assert_eq!(f0.values, vec!["x", "y"]);
        assert!(matches!(&l.stages[3], Stage::Line(f) if f.ip));
        assert!(l.keep_line(b"x 10.1.1.1 ERR"));
        assert!(!l.keep_line(b"x z 10.1.1.1 ERR"));
    }

    #[test]
    fn printing_round_trips() {
        for q in [
            r#"{app="a"}"#,
            r#"{app="a\"b", x!~"y"} |= "q" or "r" !> "<_> x""#,
            r#"{a="b"} != ip("::1")"#,
            r#"{a="b"} | json | json x="a.b", y=`l[0]`, c="m[\"k\"]", d | logfmt --strict --keep-empty h, ip="fwd""#,
            r#"{a="b"} | regexp "(?P<x>\\d+)" | pattern "<a> <_>" | unpack | decolorize |= "x""#,
            r#"{a="b"} | x="1" and (y>=2 or z<3.5) , w=~"v" q!="r" | d > 250ms or b <= 20MB | ip = ip("10.0.0.0/8")"#,
            r#"{a="b"} | s == 5 | s != 5 | s > -1.5 | d < 3µs | line_format "{{.a}} {{ __line__ | upper }}" | label_format a=b, c="{{.d}}""#,
            r#"{a="b"} | drop a, b="v", c=~"re" | keep a, b!="v" | logfmt | json"#,
        ] {
            let l = log(q);
            assert_eq!(log(&l.to_string()), l, "{q}");
        }
    }

    #[test]
    fn errors_have_loki_texts() {
        assert_eq!(parse(r#"{app=~".*"}"#).unwrap_err().to_string(), format!("parse error : {EMPTY_COMPATIBLE}"));
        assert!(matches!(parse("{}").unwrap_err(), ParseError::Syntax { line: 1, col: 2, .. }));
        assert!(matches!(parse(r#"{app="a"} | unwrap x"#).unwrap_err(), ParseError::Syntax { .. }));
        assert_eq!(
            parse(r#"{app="a"} | regexp "(?P<x>[a-""#).unwrap_err().to_string(),
            "parse error : invalid regexp parser: error parsing regexp: missing closing ]: `[a-`"
        );
        assert_eq!(
            parse(r#"{app="a"} | pattern "<_> foo""#).unwrap_err().to_string(),
            "parse error : invalid pattern parser: at least one capture is required"
        );
        assert_eq!(
            parse(r#"{app="a"} | logfmt | label_format a=user, a=event"#).unwrap_err().to_string(),
            "parse error : stage '| label_format a=user,a=event' : multiple label name 'a' not allowed in a single format operation"
        );
        assert!(matches!(parse(r#"{app="nginx"} | logfmt --nope"#).unwrap_err(), ParseError::Syntax { line: 1, .. }));
        assert_eq!(
            parse(r#"{app=~"(unclosed"}"#).unwrap_err().to_string(),
            "parse error : error parsing regexp: missing closing ): `(unclosed`"
        );
        assert!(parse(r#"{app="a"} |= "#).is_err());
        assert!(parse_selector("{}").unwrap().is_empty());
    }
}
