//! Parsing of log ranges inside range aggregations: selector and pipeline,
//! `[range]` before or after the pipeline, `| unwrap` with its conversion and
//! the label filters after it, and `offset`. Called by `metric::parse`.

use super::ast::{LogRange, Unwrap, UnwrapConv};
use super::parse::is_kw;
use crate::logql::ast::{LogExpr, Stage};
use crate::logql::error::{ParseError, EMPTY_COMPATIBLE};
use crate::logql::lexer::{syntax_error, Tok};
use crate::logql::matcher::Matcher;
use crate::logql::parser::Parser;
use crate::model::time::parse_duration_ns;

impl Parser<'_> {
    fn range_literal(&mut self, text: &str) -> Result<i64, ParseError> {
        let pos = self.pos();
        self.next();
        match parse_duration_ns(text) {
            Ok(ns) if ns > 0 => Ok(ns),
            _ => {
                let unit: String = text.chars().skip_while(|c| c.is_ascii_digit() || *c == '.').collect();
                // Loki reports this one at line 0 and the column of `[`
                let (_, col) = crate::logql::lexer::line_col(self.src, pos);
                Err(ParseError::Syntax { line: 0, col, msg: format!("unknown unit {unit:?} in duration {text:?}") })
            }
        }
    }

    pub(super) fn log_range(&mut self) -> Result<LogRange, ParseError> {
        let (matchers, mut stages): (Vec<Matcher>, Vec<Stage>) = if *self.peek() == Tok::LParen {
            self.next();
            let l = self.log_expr()?;
            self.want(Tok::RParen, ")")?;
            (l.matchers, l.stages)
        } else {
            let m = self.selector(false)?;
            let mut st = Vec::new();
            self.stages(&mut st)?;
            (m, st)
        };
        let mut range_ns = None;
        if let Tok::Range(r) = self.peek().clone() {
            range_ns = Some(self.range_literal(&r)?);
            self.stages(&mut stages)?;
        }
        let unwrap = if *self.peek() == Tok::Pipe && is_kw(self.peek_at(1), "unwrap") {
            self.next();
            self.next();
            Some(self.unwrap()?)
        } else {
            None
        };
        let range_ns = match range_ns {
            Some(r) => r,
            None => match self.peek().clone() {
                Tok::Range(r) => self.range_literal(&r)?,
                _ => return self.unexpected(""),
            },
        };
        let mut offset_ns = 0;
        if is_kw(self.peek(), "offset") {
            self.next();
            let at = self.pos();
            offset_ns = match self.next() {
                Tok::Unit(u) => parse_duration_ns(&u).map_err(|e| syntax_error(self.src, at, e))?,
                _ => {
                    self.i -= 1;
                    return self.unexpected("DURATION");
                }
            };
        }
        if matchers.iter().all(Matcher::matches_empty) {
            return Err(ParseError::Invalid(EMPTY_COMPATIBLE.into()));
        }
        Ok(LogRange { log: LogExpr::new(matchers, stages)?, unwrap, range_ns, offset_ns })
    }

    fn unwrap(&mut self) -> Result<Unwrap, ParseError> {
        let Tok::Ident(first) = self.next() else {
            self.i -= 1;
            return self.unexpected("IDENTIFIER");
        };
        let conv = match first.to_ascii_lowercase().as_str() {
            "duration" if *self.peek() == Tok::LParen => Some(UnwrapConv::Duration),
            "duration_seconds" if *self.peek() == Tok::LParen => Some(UnwrapConv::DurationSeconds),
            "bytes" if *self.peek() == Tok::LParen => Some(UnwrapConv::Bytes),
            _ => None,
        };
        let (label, conv) = match conv {
            Some(c) => {
                self.next();
                let Tok::Ident(l) = self.next() else {
                    self.i -= 1;
                    return self.unexpected("IDENTIFIER");
                };
                self.want(Tok::RParen, ")")?;
                (l, c)
            }
            None => (first, UnwrapConv::Float),
        };
        let mut post = Vec::new();
        let at = self.pos();
        self.stages(&mut post)?;
        let mut post_filters = Vec::new();
        for s in post {
            match s {
                Stage::LabelFilter(f) => post_filters.push(f),
                _ => {
                    return Err(syntax_error(self.src, at, "syntax error: only label filters are allowed after unwrap"))
                }
            }
        }
        Ok(Unwrap { label, conv, post_filters })
    }
}
