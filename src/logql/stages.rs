//! Parsing of the pipeline stages that follow a stream selector: line filters,
//! parsers (`json`, `logfmt`, `regexp`, `pattern`, `unpack`), label filters,
//! `line_format`, `label_format`, `drop`, `keep` and `decolorize`.
//!
//! An `impl` block of the recursive-descent `Parser` (in `parser`), which calls
//! [`Parser::stages`] after every selector.

use super::ast::{CmpOp, CmpValue, LabelFilterExpr, LabelFmt, LineFilter, LineFilterOp, NamedMatcher, Stage};
use super::error::ParseError;
use super::filter::CompiledFilter;
use super::lexer::{syntax_error, Tok};
use super::matcher::{MatchOp, Matcher};
use super::parser::Parser;
use crate::model::time::{parse_bytes, parse_duration_ns};

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

fn is_cmp_op(t: &Tok) -> bool {
    matches!(t, Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre | Tok::CmpEq | Tok::Gt | Tok::Gte | Tok::Lt | Tok::Lte)
}

impl Parser<'_> {
    /// Parses stages until something that cannot continue a pipeline.
    pub(super) fn stages(&mut self, out: &mut Vec<Stage>) -> Result<(), ParseError> {
        loop {
            let op = match self.peek() {
                Tok::PipeExact => LineFilterOp::Contains,
                Tok::Neq => LineFilterOp::NotContains,
                Tok::PipeMatch => LineFilterOp::Match,
                Tok::Nre => LineFilterOp::NotMatch,
                Tok::PipePattern => LineFilterOp::Pattern,
                Tok::NotPattern => LineFilterOp::NotPattern,
                Tok::Pipe if is_kw(self.peek_at(1), "unwrap") => return Ok(()),
                Tok::Pipe => {
                    self.next();
                    let st = self.pipe_stage()?;
                    out.push(st);
                    continue;
                }
                _ => return Ok(()),
            };
            self.next();
            out.push(Stage::Line(self.line_filter(op)?));
        }
    }

    fn line_filter(&mut self, op: LineFilterOp) -> Result<LineFilter, ParseError> {
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
            let or_follows = is_kw(self.peek(), "or") && matches!(self.peek_at(1), Tok::Str(_) | Tok::Ident(_));
            if !or_follows {
                break;
            }
            self.next();
        }
        let compiled = CompiledFilter::compile(op, &values, ip)?;
        Ok(LineFilter { op, values, ip, compiled })
    }

    fn filter_value(&mut self) -> Result<(String, bool), ParseError> {
        match self.next() {
            Tok::Str(s) => Ok((s, false)),
            Tok::Ident(f) if f == "ip" && *self.peek() == Tok::LParen => Ok((self.ip_call_rest()?, true)),
            _ => {
                self.i -= 1;
                self.unexpected("STRING")
            }
        }
    }

    /// After `ip`: `("...")`.
    fn ip_call_rest(&mut self) -> Result<String, ParseError> {
        self.expect(Tok::LParen, "(")?;
        let s = self.string()?;
        self.expect(Tok::RParen, ")")?;
        Ok(s)
    }

    fn expect(&mut self, t: Tok, what: &str) -> Result<(), ParseError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            self.unexpected(what)
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Str(s) => {
                self.next();
                Ok(s)
            }
            _ => self.unexpected("STRING"),
        }
    }

    fn ident(&mut self) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => self.unexpected("IDENTIFIER"),
        }
    }

    fn pipe_stage(&mut self) -> Result<Stage, ParseError> {
        // `| unpack != "x"`: a stage that can end with no argument, then a line filter
        // (`!=` / `!~` are both line filter and comparison operators)
        let stage_then_filter = |s: &str| {
            matches!(self.peek_at(1), Tok::Neq | Tok::Nre)
                && ["json", "logfmt", "unpack", "decolorize"].iter().any(|k| s.eq_ignore_ascii_case(k))
        };
        let kw = match self.peek() {
            Tok::Ident(s) if !is_cmp_op(self.peek_at(1)) || stage_then_filter(s) => s.to_ascii_lowercase(),
            Tok::Ident(_) | Tok::LParen => return Ok(Stage::LabelFilter(self.label_filter_or()?)),
            _ => return self.unexpected("a pipeline stage"),
        };
        let st = match kw.as_str() {
            "json" => {
                self.next();
                Stage::Json(self.extraction_params()?)
            }
            "logfmt" => {
                self.next();
                let (mut strict, mut keep_empty) = (false, false);
                while let Tok::Flag(f) = self.peek().clone() {
                    self.next();
                    if f == "strict" {
                        strict = true;
                    } else {
                        keep_empty = true;
                    }
                }
                if *self.peek() == Tok::Sub && *self.peek_at(1) == Tok::Sub {
                    // an unknown flag: Loki's grammar reads `--x` as two minus signs
                    self.next();
                    self.next();
                    return self.unexpected("NUMBER");
                }
                Stage::Logfmt { strict, keep_empty, params: self.extraction_params()? }
            }
            "regexp" => {
                self.next();
                Stage::Regexp(self.string()?)
            }
            "pattern" => {
                self.next();
                Stage::Pattern(self.string()?)
            }
            "unpack" => {
                self.next();
                Stage::Unpack
            }
            "decolorize" => {
                self.next();
                Stage::Decolorize
            }
            "line_format" => {
                self.next();
                Stage::LineFormat(self.string()?)
            }
            "label_format" => {
                self.next();
                self.label_format()?
            }
            "drop" => {
                self.next();
                Stage::Drop(self.named_matchers()?)
            }
            "keep" => {
                self.next();
                Stage::Keep(self.named_matchers()?)
            }
            _ => Stage::LabelFilter(self.label_filter_or()?),
        };
        Ok(st)
    }

    /// `a="x.y", b, c="m[\"k\"]"`: a bare name stands for `name="name"`.
    fn extraction_params(&mut self) -> Result<Vec<(String, String)>, ParseError> {
        let mut out = Vec::new();
        while let Tok::Ident(name) = self.peek().clone() {
            if is_kw(self.peek(), "offset") && matches!(self.peek_at(1), Tok::Unit(_)) {
                break; // `{a="b"}[5m] | json offset 1h`: the range's offset
            }
            self.next();
            let expr = if *self.peek() == Tok::Eq {
                self.next();
                self.string()?
            } else {
                name.clone()
            };
            out.push((name, expr));
            if *self.peek() != Tok::Comma {
                break;
            }
            self.next();
            if !matches!(self.peek(), Tok::Ident(_)) {
                return self.unexpected("IDENTIFIER");
            }
        }
        Ok(out)
    }

    fn label_format(&mut self) -> Result<Stage, ParseError> {
        let mut items: Vec<LabelFmt> = Vec::new();
        loop {
            let dst = self.ident()?;
            self.expect(Tok::Eq, "=")?;
            let item = match self.peek().clone() {
                Tok::Str(s) => LabelFmt { dst, value: s, template: true },
                Tok::Ident(src) => LabelFmt { dst, value: src, template: false },
                _ => return self.unexpected("STRING or IDENTIFIER"),
            };
            self.next();
            items.push(item);
            if *self.peek() != Tok::Comma {
                break;
            }
            self.next();
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = items.iter().find(|i| !seen.insert(i.dst.as_str())) {
            let text = items
                .iter()
                .map(|i| {
                    let mut s = format!("{}=", i.dst);
                    if i.template {
                        let _ = crate::model::labels::write_go_quoted(&mut s, &i.value);
                    } else {
                        s.push_str(&i.value);
                    }
                    s
                })
                .collect::<Vec<_>>()
                .join(",");
            return Err(ParseError::Invalid(format!(
                "stage '| label_format {text}' : multiple label name '{}' not allowed in a single format operation",
                dup.dst
            )));
        }
        Ok(Stage::LabelFormat(items))
    }

    fn named_matchers(&mut self) -> Result<Vec<NamedMatcher>, ParseError> {
        let mut out = Vec::new();
        loop {
            let name = self.ident()?;
            // `drop a != ip("x")`: no string follows, so `!=` starts a line filter
            let op = match self.peek() {
                _ if !matches!(self.peek_at(1), Tok::Str(_)) => None,
                Tok::Eq => Some(MatchOp::Eq),
                Tok::Neq => Some(MatchOp::Neq),
                Tok::Re => Some(MatchOp::Re),
                Tok::Nre => Some(MatchOp::Nre),
                _ => None,
            };
            match op {
                Some(op) => {
                    self.next();
                    let v = self.string()?;
                    out.push(NamedMatcher::Matcher(Matcher::new(name, op, v)?));
                }
                None => out.push(NamedMatcher::Name(name)),
            }
            if *self.peek() != Tok::Comma {
                return Ok(out);
            }
            self.next();
        }
    }

    /// Every `or`, `and` and parenthesis deepens the tree, within the parser's depth budget.
    fn label_filter_or(&mut self) -> Result<LabelFilterExpr, ParseError> {
        let base = self.depth;
        let mut e = self.label_filter_and()?;
        while is_kw(self.peek(), "or") {
            self.next();
            self.deeper()?;
            let r = self.label_filter_and()?;
            e = LabelFilterExpr::Or(Box::new(e), Box::new(r));
        }
        self.depth = base;
        Ok(e)
    }

    fn label_filter_and(&mut self) -> Result<LabelFilterExpr, ParseError> {
        let base = self.depth;
        let mut e = self.label_filter_primary()?;
        loop {
            let t = self.peek();
            if is_kw(t, "and") || *t == Tok::Comma {
                self.next();
            } else if !(matches!(t, Tok::LParen)
                || (matches!(t, Tok::Ident(_)) && !is_kw(t, "or") && is_cmp_op(self.peek_at(1))))
            {
                // a juxtaposed filter (`a="x" b="y"`) starts with `name op`; anything else
                // (`or`, `offset 5m`) ends the `and` chain
                self.depth = base;
                return Ok(e);
            }
            self.deeper()?;
            let r = self.label_filter_primary()?;
            e = LabelFilterExpr::And(Box::new(e), Box::new(r));
        }
    }

    fn label_filter_primary(&mut self) -> Result<LabelFilterExpr, ParseError> {
        if *self.peek() == Tok::LParen {
            self.deeper()?;
            self.next();
            let e = self.label_filter_or()?;
            self.expect(Tok::RParen, ")")?;
            self.depth -= 1;
            return Ok(e);
        }
        let name = self.ident()?;
        let op = self.next();
        let is_ip = |p: &Self| matches!(p.peek(), Tok::Ident(s) if s == "ip") && *p.peek_at(1) == Tok::LParen;
        let cmp = match op {
            Tok::Eq | Tok::Neq if is_ip(self) => {
                self.next();
                let value = self.ip_call_rest()?;
                super::filter::IpRange::parse(&value)?;
                return Ok(LabelFilterExpr::Ip { name, negate: op == Tok::Neq, value });
            }
            Tok::Eq | Tok::Neq | Tok::Re | Tok::Nre if matches!(self.peek(), Tok::Str(_)) => {
                let m = match op {
                    Tok::Eq => MatchOp::Eq,
                    Tok::Neq => MatchOp::Neq,
                    Tok::Re => MatchOp::Re,
                    _ => MatchOp::Nre,
                };
                let v = self.string()?;
                return Ok(LabelFilterExpr::String(Matcher::new(name, m, v)?));
            }
            Tok::Eq => CmpOp::Eq,
            Tok::Neq => CmpOp::Neq,
            Tok::CmpEq => CmpOp::EqEq,
            Tok::Gt => CmpOp::Gt,
            Tok::Gte => CmpOp::Gte,
            Tok::Lt => CmpOp::Lt,
            Tok::Lte => CmpOp::Lte,
            _ => {
                self.i -= 1;
                return self.unexpected("a comparison operator");
            }
        };
        let pos = self.pos();
        let negative = *self.peek() == Tok::Sub && matches!(self.peek_at(1), Tok::Number(_));
        if negative {
            self.next();
        }
        let number = |n: &str| {
            n.parse::<f64>()
                .or_else(|_| i64::from_str_radix(n.trim_start_matches("0x"), 16).map(|v| v as f64))
                .map_err(|_| syntax_error(self.src, pos, "invalid number"))
        };
        let (value, text) = match self.next() {
            Tok::Number(n) if negative => (CmpValue::Number(-number(&n)?), format!("-{n}")),
            Tok::Number(n) => (CmpValue::Number(number(&n)?), n),
            Tok::Unit(u) => {
                let v = match parse_duration_ns(&u) {
                    Ok(ns) => CmpValue::Duration(ns),
                    Err(_) => CmpValue::Bytes(
                        parse_bytes(&u).map_err(|e| syntax_error(self.src, pos, format!("syntax error: {e}")))?,
                    ),
                };
                (v, u)
            }
            _ => {
                self.i -= 1;
                return self.unexpected("NUMBER");
            }
        };
        Ok(LabelFilterExpr::Cmp { name, op: cmp, value, text })
    }
}
