//! Query errors with Loki's texts: `parse error at line L, col C: <msg>`.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// A syntax error at a position (1-based line and column).
    #[error("parse error at line {line}, col {col}: {msg}")]
    Syntax { line: usize, col: usize, msg: String },
    /// A well-formed query that breaks a rule (Loki prints these without a position).
    #[error("parse error : {0}")]
    Invalid(String),
    /// Valid LogQL that Skald does not evaluate yet.
    #[error("{0}")]
    Unsupported(String),
}

/// Loki's text for a selector whose every matcher matches the empty string.
pub const EMPTY_COMPATIBLE: &str = "queries require at least one regexp or equality matcher that does not have an empty-compatible value. For instance, app=~\".*\" does not meet this requirement, but app=~\".+\" will";
