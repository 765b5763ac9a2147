//! LogQL: lexer, parser, matchers, the log pipeline and metric queries.
//!
//! A library with no dependency on actors or the HTTP API. The query API parses
//! with [`parse`]; a log query's [`LogExpr`] goes to the ingester (which matches
//! streams with its selector and filters lines with its pipeline); a metric
//! query's range aggregations become sample selections, evaluated by [`metric`].
//! Supported: stream selectors and every log pipeline stage (line filters,
//! `json`, `logfmt`, `regexp`, `pattern`, `unpack`, label filters, `line_format`,
//! `label_format` with the Go template engine in [`template`], `drop`, `keep`,
//! `decolorize`), evaluated by [`pipeline::Pipeline`]; metric queries in [`metric`].

pub mod ast;
mod caseless;
pub mod error;
pub mod filter;
#[cfg(test)]
pub(crate) mod fuzz;
pub mod lexer;
pub mod matcher;
pub mod metric;
pub mod parser;
pub mod pattern;
pub mod pipeline;
pub mod regex;
mod stages;
pub mod template;

pub use ast::{LineFilter, LineFilterOp, LogExpr, Stage};
pub use error::ParseError;
pub use matcher::{MatchOp, Matcher};
pub use parser::{parse, parse_selector, Expr};
