//! LogQL: lexer, parser, matchers and the log pipeline.
//!
//! A library with no dependency on actors or the HTTP API. The query API parses
//! with [`parse`] and hands the resulting [`LogExpr`] to the ingester (which
//! matches streams with its selector and filters lines with its pipeline).
//! Supported today: stream selectors and line filters (`|=`, `!=`, `|~`, `!~`,
//! `|>`, `!>`, `or` alternatives, `ip()`); other stages answer a clear 400.

pub mod ast;
pub mod error;
pub mod filter;
pub mod lexer;
pub mod matcher;
pub mod parser;
pub mod pattern;
pub mod regex;

pub use ast::{LineFilter, LineFilterOp, LogExpr};
pub use error::ParseError;
pub use matcher::{MatchOp, Matcher};
pub use parser::{parse, parse_selector, Expr};
