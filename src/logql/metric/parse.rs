//! Parsing of metric queries: an `impl` block of the recursive-descent `Parser`
//! (in `logql::parser`), which calls [`Parser::query_expr`] for every query.
//!
//! Binary operators by precedence climbing (Prometheus order, `^` right
//! associative); range and vector aggregations, `label_replace`, `vector`,
//! number literals; keywords are case-insensitive as in Loki 3.x.

use super::ast::{BinOp, Grouping, RangeAgg, RangeOp, SampleExpr, VecOp, VectorMatching};
use crate::logql::error::ParseError;
use crate::logql::lexer::{syntax_error, Tok};
use crate::logql::parser::{Expr, Parser};

/// Deepest nesting of sub-expressions a query may have. Chained operators
/// (`a + b + c`, `x="1" and y="2"`) count too: each one deepens the tree.
pub(in crate::logql) const MAX_DEPTH: usize = 64;

pub(super) fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

fn parse_number(s: &str) -> f64 {
    if let Some(h) = s.strip_prefix("0x") {
        return i64::from_str_radix(h, 16).map(|v| v as f64).unwrap_or(f64::NAN);
    }
    s.parse().unwrap_or(f64::NAN)
}

impl Parser<'_> {
    /// A whole query: a log query or a metric expression.
    pub(in crate::logql) fn query_expr(&mut self) -> Result<Expr, ParseError> {
        self.bin_expr(0)
    }

    fn peek_binop(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::Add => BinOp::Add,
            Tok::Sub => BinOp::Sub,
            Tok::Mul => BinOp::Mul,
            Tok::Div => BinOp::Div,
            Tok::Mod => BinOp::Mod,
            Tok::Pow => BinOp::Pow,
            Tok::CmpEq => BinOp::Eq,
            Tok::Neq => BinOp::Neq,
            Tok::Gt => BinOp::Gt,
            Tok::Gte => BinOp::Gte,
            Tok::Lt => BinOp::Lt,
            Tok::Lte => BinOp::Lte,
            t if is_kw(t, "or") => BinOp::Or,
            t if is_kw(t, "and") => BinOp::And,
            t if is_kw(t, "unless") => BinOp::Unless,
            _ => return None,
        })
    }

    fn bin_expr(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        self.deeper()?;
        let out = self.bin_expr_inner(min_prec);
        self.depth -= 1;
        out
    }

    /// Enters one more level of the tree, failing past [`MAX_DEPTH`] (deep trees
    /// would overflow the stack when printed, evaluated or dropped).
    pub(in crate::logql) fn deeper(&mut self) -> Result<(), ParseError> {
        if self.depth >= MAX_DEPTH {
            return Err(syntax_error(self.src, self.pos(), "syntax error: expression nested too deeply"));
        }
        self.depth += 1;
        Ok(())
    }

    fn bin_expr_inner(&mut self, min_prec: u8) -> Result<Expr, ParseError> {
        let base = self.depth;
        let mut lhs = self.unary()?;
        while let Some(op) = self.peek_binop() {
            if op.precedence() < min_prec {
                break;
            }
            self.deeper()?;
            let op_pos = self.pos();
            self.next();
            let bool_mod = is_kw(self.peek(), "bool");
            if bool_mod {
                self.next();
            }
            let matching = self.matching()?;
            let next_min = if op == BinOp::Pow { op.precedence() } else { op.precedence() + 1 };
            let rhs = self.bin_expr(next_min)?;
            let (l, r) = (self.sample(lhs, op_pos)?, self.sample(rhs, op_pos)?);
            if bool_mod && !op.is_comparison() {
                return Err(ParseError::Invalid("bool modifier can only be used on comparison operators".into()));
            }
            let scalar = |e: &SampleExpr| matches!(e, SampleExpr::Literal(_));
            if op.is_comparison() && !bool_mod && scalar(&l) && scalar(&r) {
                return Err(ParseError::Invalid("comparisons between scalars must use BOOL modifier".into()));
            }
            if op.is_set() && (scalar(&l) || scalar(&r)) {
                return Err(ParseError::Invalid(format!(
                    "set operator {} not allowed in binary scalar expression",
                    op.as_str()
                )));
            }
            lhs = Expr::Sample(SampleExpr::Binary { op, bool_mod, matching, lhs: Box::new(l), rhs: Box::new(r) });
        }
        self.depth = base;
        Ok(lhs)
    }

    /// A metric operand; a log query there is a syntax error at `pos`.
    fn sample(&self, e: Expr, pos: usize) -> Result<SampleExpr, ParseError> {
        match e {
            Expr::Sample(s) => Ok(s),
            Expr::Log(_) => {
                Err(syntax_error(self.src, pos, "syntax error: unexpected binary operator after a log query"))
            }
        }
    }

    pub(super) fn want(&mut self, t: Tok, name: &str) -> Result<(), ParseError> {
        if *self.peek() == t {
            self.next();
            Ok(())
        } else {
            self.unexpected(name)
        }
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        match self.peek().clone() {
            Tok::Sub | Tok::Add if matches!(self.peek_at(1), Tok::Number(_)) => {
                let neg = *self.peek() == Tok::Sub;
                self.next();
                let Tok::Number(n) = self.next() else { return self.unexpected("NUMBER") };
                let v = parse_number(&n);
                Ok(Expr::Sample(SampleExpr::Literal(if neg { -v } else { v })))
            }
            Tok::Number(n) => {
                self.next();
                Ok(Expr::Sample(SampleExpr::Literal(parse_number(&n))))
            }
            Tok::LParen => {
                self.next();
                let e = self.bin_expr(0)?;
                self.want(Tok::RParen, ")")?;
                match e {
                    Expr::Log(l) => self.pipeline_after_parens(l).map(Expr::Log),
                    s => Ok(s),
                }
            }
            Tok::LBrace => self.log_expr().map(Expr::Log),
            Tok::Ident(name)
                if *self.peek_at(1) == Tok::LParen
                    || is_kw(self.peek_at(1), "by")
                    || is_kw(self.peek_at(1), "without") =>
            {
                self.function(&name).map(Expr::Sample)
            }
            _ => self.unexpected(""),
        }
    }

    fn function(&mut self, name: &str) -> Result<SampleExpr, ParseError> {
        if let Some(op) = RangeOp::from_name(name) {
            if *self.peek_at(1) == Tok::LParen {
                self.next();
                return self.range_agg(op);
            }
        }
        if let Some(op) = VecOp::from_name(name) {
            self.next();
            return self.vector_agg(op);
        }
        if name.eq_ignore_ascii_case("vector") && *self.peek_at(1) == Tok::LParen {
            self.next();
            self.next();
            let v = self.number()?;
            self.want(Tok::RParen, ")")?;
            return Ok(SampleExpr::VectorLit(v));
        }
        if name.eq_ignore_ascii_case("label_replace") && *self.peek_at(1) == Tok::LParen {
            self.next();
            return self.label_replace();
        }
        Err(syntax_error(self.src, self.pos(), "syntax error: unexpected IDENTIFIER"))
    }

    fn number(&mut self) -> Result<f64, ParseError> {
        let neg = *self.peek() == Tok::Sub;
        if neg {
            self.next();
        }
        match self.next() {
            Tok::Number(n) => Ok(if neg { -parse_number(&n) } else { parse_number(&n) }),
            _ => {
                self.i -= 1;
                self.unexpected("NUMBER")
            }
        }
    }

    fn str_lit(&mut self) -> Result<String, ParseError> {
        match self.next() {
            Tok::Str(s) => Ok(s),
            _ => {
                self.i -= 1;
                self.unexpected("STRING")
            }
        }
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.want(Tok::LParen, "(")?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                Tok::RParen => return Ok(out),
                Tok::Ident(n) => {
                    out.push(n);
                    match self.next() {
                        Tok::Comma => {}
                        Tok::RParen => return Ok(out),
                        _ => {
                            self.i -= 1;
                            return self.unexpected(", or )");
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

    fn grouping(&mut self) -> Result<Option<Grouping>, ParseError> {
        let without = if is_kw(self.peek(), "by") {
            false
        } else if is_kw(self.peek(), "without") {
            true
        } else {
            return Ok(None);
        };
        self.next();
        Ok(Some(Grouping { without, labels: self.label_list()? }))
    }

    fn matching(&mut self) -> Result<VectorMatching, ParseError> {
        let mut m = VectorMatching::default();
        if is_kw(self.peek(), "on") || is_kw(self.peek(), "ignoring") {
            m.on = Some(is_kw(self.peek(), "on"));
            self.next();
            m.labels = self.label_list()?;
        }
        if is_kw(self.peek(), "group_left") || is_kw(self.peek(), "group_right") {
            m.group_left = Some(is_kw(self.peek(), "group_left"));
            self.next();
            if *self.peek() == Tok::LParen {
                m.include = self.label_list()?;
            }
        }
        Ok(m)
    }

    fn vector_agg(&mut self, op: VecOp) -> Result<SampleExpr, ParseError> {
        let mut grouping = self.grouping()?;
        self.want(Tok::LParen, "(")?;
        let param = match op {
            VecOp::Topk | VecOp::Bottomk => {
                let k = self.number()?;
                self.want(Tok::Comma, ",")?;
                Some(k)
            }
            _ => None,
        };
        let pos = self.pos();
        let inner = self.bin_expr(0)?;
        let inner = self.sample(inner, pos)?;
        self.want(Tok::RParen, ")")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        }
        if let Some(k) = param {
            if k < 1.0 || k.fract() != 0.0 {
                return Err(ParseError::Invalid(format!("invalid parameter ({}): must be a positive integer", k)));
            }
        }
        if matches!(op, VecOp::Sort | VecOp::SortDesc) && grouping.is_some() {
            return Err(ParseError::Invalid(format!("grouping not allowed for {} aggregation", op.as_str())));
        }
        Ok(SampleExpr::Vector { op, grouping, param, inner: Box::new(inner) })
    }

    fn label_replace(&mut self) -> Result<SampleExpr, ParseError> {
        self.want(Tok::LParen, "(")?;
        let pos = self.pos();
        let inner = self.bin_expr(0)?;
        let inner = Box::new(self.sample(inner, pos)?);
        let mut parts = Vec::new();
        for _ in 0..4 {
            self.want(Tok::Comma, ",")?;
            parts.push(self.str_lit()?);
        }
        self.want(Tok::RParen, ")")?;
        let regex = parts.pop().unwrap_or_default();
        let src = parts.pop().unwrap_or_default();
        let replacement = parts.pop().unwrap_or_default();
        let dst = parts.pop().unwrap_or_default();
        if let Err(e) = regex::Regex::new(&format!("^(?:{regex})$")) {
            return Err(ParseError::Invalid(format!("invalid regular expression in label_replace(): {regex}: {e}")));
        }
        if !crate::model::labels::is_valid_label_name(&dst) {
            return Err(ParseError::Invalid(format!("invalid destination label name in label_replace(): {dst}")));
        }
        Ok(SampleExpr::LabelReplace { inner, dst, replacement, src, regex })
    }

    fn range_agg(&mut self, op: RangeOp) -> Result<SampleExpr, ParseError> {
        self.want(Tok::LParen, "(")?;
        let param = if op == RangeOp::Quantile {
            let q = self.number()?;
            self.want(Tok::Comma, ",")?;
            Some(q)
        } else {
            None
        };
        let range = self.log_range()?;
        self.want(Tok::RParen, ")")?;
        let grouping = self.grouping()?;
        if grouping.is_some() && !op.allows_grouping() {
            return Err(ParseError::Invalid(format!("grouping not allowed for {} aggregation", op.as_str())));
        }
        match (&range.unwrap, op.needs_unwrap(), op.allows_unwrap()) {
            (Some(_), _, false) => {
                return Err(ParseError::Invalid(format!("invalid aggregation {} with unwrap", op.as_str())))
            }
            (None, true, _) => {
                return Err(ParseError::Invalid(format!("invalid aggregation {} without unwrap", op.as_str())))
            }
            _ => {}
        }
        Ok(SampleExpr::Range(RangeAgg { op, param, range, grouping }))
    }
}
