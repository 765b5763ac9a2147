//! Parser of the Go `text/template` subset Loki's `line_format` and
//! `label_format` use: text, `{{ pipeline }}` actions with `{{-`/`-}}` trimming,
//! comments, `if / else if / else / end`, `.label` fields, literals, function
//! calls, parenthesised pipelines and `|` chains.
//!
//! Called by `Template::parse` (template/mod.rs); the tree is run by `exec`.

use super::TemplateError;

#[derive(Debug, Clone, PartialEq)]
pub enum Arg {
    Field(String),
    Dot,
    Func(String),
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Nil,
    Sub(Pipe),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cmd {
    pub args: Vec<Arg>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipe {
    pub cmds: Vec<Cmd>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Text(String),
    Action(Pipe),
    /// Branches `(condition, body)` and the `else` body.
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
}

/// One `{{ }}` action as read from the source.
enum Piece {
    Text(String),
    Action(String),
}

fn split(src: &str) -> Result<Vec<Piece>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while !rest.is_empty() {
        let Some(open) = rest.find("{{") else {
            let t = if trim_next { rest.trim_start() } else { rest };
            out.push(Piece::Text(t.to_string()));
            break;
        };
        let mut text = &rest[..open];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[open + 2..];
        let trim_prev = after.starts_with("- ") || after.starts_with("-\t") || after.starts_with("-\n");
        if trim_prev {
            text = text.trim_end();
        }
        if !text.is_empty() {
            out.push(Piece::Text(text.to_string()));
        }
        let body_start = if trim_prev { 1 } else { 0 };
        let close = find_close(after).ok_or_else(|| TemplateError::Parse("unclosed action".into()))?;
        let mut body = &after[body_start..close];
        trim_next = false;
        if body.ends_with(" -") || body.ends_with("\t-") || body.ends_with("\n-") {
            body = &body[..body.len() - 1];
            trim_next = true;
        }
        let b = body.trim();
        if !(b.starts_with("/*") && b.ends_with("*/")) {
            out.push(Piece::Action(b.to_string()));
        }
        rest = &after[close + 2..];
    }
    Ok(out)
}

/// The `}}` closing an action, skipping quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'`' => {
                i += 1;
                while i < b.len() && b[i] != b'`' {
                    i += 1;
                }
            }
            b'}' if b.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

pub fn parse(src: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Vec<Node>, TemplateError> {
    let pieces = split(src)?;
    let mut it = pieces.into_iter().peekable();
    let (nodes, end) = parse_list(&mut it, is_func, 0)?;
    if let Some(e) = end {
        return Err(TemplateError::Parse(format!("unexpected {{{{{e}}}}}")));
    }
    Ok(nodes)
}

type Pieces = std::iter::Peekable<std::vec::IntoIter<Piece>>;

/// Deepest nesting of `{{if}}` blocks and of parentheses a template may have
/// (the parser, the executor and the tree's drop all recurse).
const MAX_NESTING: usize = 100;

fn too_deep() -> TemplateError {
    TemplateError::Parse(format!("exceeded maximum template depth ({MAX_NESTING})"))
}

/// Parses nodes until `else ...` or `end` (returned) or the end of input.
fn parse_list(
    it: &mut Pieces,
    is_func: &dyn Fn(&str) -> bool,
    depth: usize,
) -> Result<(Vec<Node>, Option<String>), TemplateError> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    let mut out = Vec::new();
    while let Some(p) = it.next() {
        match p {
            Piece::Text(t) => out.push(Node::Text(t)),
            Piece::Action(a) => {
                let word = a.split_whitespace().next().unwrap_or("");
                match word {
                    "end" | "else" => return Ok((out, Some(a))),
                    "if" => out.push(parse_if(a[2..].trim(), it, is_func, depth + 1)?),
                    "range" | "with" | "define" | "template" | "block" => {
                        return Err(TemplateError::Parse(format!("{{{{{word}}}}} is not supported")))
                    }
                    _ => out.push(Node::Action(parse_pipe(&a, is_func)?)),
                }
            }
        }
    }
    Ok((out, None))
}

fn parse_if(cond: &str, it: &mut Pieces, is_func: &dyn Fn(&str) -> bool, depth: usize) -> Result<Node, TemplateError> {
    let mut branches = vec![];
    let mut cond = parse_pipe(cond, is_func)?;
    loop {
        let (body, end) = parse_list(it, is_func, depth)?;
        branches.push((cond, body));
        let end = end.ok_or_else(|| TemplateError::Parse("unexpected EOF: missing {{end}}".into()))?;
        if end == "end" {
            return Ok(Node::If(branches, Vec::new()));
        }
        let rest = end["else".len()..].trim();
        if let Some(c) = rest.strip_prefix("if ") {
            cond = parse_pipe(c.trim(), is_func)?;
            continue;
        }
        if !rest.is_empty() {
            return Err(TemplateError::Parse(format!("unexpected {{{{{end}}}}}")));
        }
        let (else_body, end) = parse_list(it, is_func, depth)?;
        if end.as_deref() != Some("end") {
            return Err(TemplateError::Parse("expected {{end}}".into()));
        }
        return Ok(Node::If(branches, else_body));
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Dot,
    Ident(String),
    Str(String),
    Num(String),
    Pipe,
    LParen,
    RParen,
}

fn lex(s: &str) -> Result<Vec<Tok>, TemplateError> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    let word = |i: usize| {
        let mut j = i;
        while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
            j += 1;
        }
        j
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b' ' | b'\t' | b'\n' | b'\r' => i += 1,
            b'|' => {
                out.push(Tok::Pipe);
                i += 1;
            }
            b'(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            b')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            b'.' if b.get(i + 1).is_some_and(|c| c.is_ascii_alphabetic() || *c == b'_') => {
                let j = word(i + 1);
                out.push(Tok::Field(s[i + 1..j].to_string()));
                i = j;
            }
            b'.' => {
                out.push(Tok::Dot);
                i += 1;
            }
            b'"' | b'`' => {
                let (v, end) = crate::model::quote::read_quoted(s, i)
                    .map_err(|_| TemplateError::Parse("unterminated quoted string".into()))?;
                out.push(Tok::Str(v));
                i = end;
            }
            b'\'' => {
                let ch = s[i + 1..].chars().next().ok_or_else(|| TemplateError::Parse("bad char constant".into()))?;
                out.push(Tok::Num((ch as u32).to_string()));
                i += 2 + ch.len_utf8();
            }
            c if c.is_ascii_digit() || ((c == b'-' || c == b'+') && b.get(i + 1).is_some_and(u8::is_ascii_digit)) => {
                let mut j = i + 1;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'.' || b[j] == b'_') {
                    j += 1;
                }
                out.push(Tok::Num(s[i..j].to_string()));
                i = j;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let j = word(i);
                out.push(Tok::Ident(s[i..j].to_string()));
                i = j;
            }
            _ => return Err(TemplateError::Parse(format!("unexpected {:?} in command", c as char))),
        }
    }
    Ok(out)
}

fn parse_pipe(s: &str, is_func: &dyn Fn(&str) -> bool) -> Result<Pipe, TemplateError> {
    let toks = lex(s)?;
    let mut i = 0;
    let p = pipe(&toks, &mut i, is_func, 0)?;
    if i != toks.len() {
        return Err(TemplateError::Parse(format!("unexpected {:?} in operand", toks[i])));
    }
    Ok(p)
}

fn pipe(t: &[Tok], i: &mut usize, is_func: &dyn Fn(&str) -> bool, depth: usize) -> Result<Pipe, TemplateError> {
    if depth > MAX_NESTING {
        return Err(too_deep());
    }
    let mut cmds = Vec::new();
    loop {
        let mut args = Vec::new();
        while *i < t.len() && !matches!(t[*i], Tok::Pipe | Tok::RParen) {
            let a = match &t[*i] {
                Tok::Field(f) => Arg::Field(f.clone()),
                Tok::Dot => Arg::Dot,
                Tok::Str(s) => Arg::Str(s.clone()),
                Tok::Num(n) => number(n)?,
                Tok::Ident(w) => match w.as_str() {
                    "true" => Arg::Bool(true),
                    "false" => Arg::Bool(false),
                    "nil" => Arg::Nil,
                    f if is_func(f) => Arg::Func(f.to_string()),
                    f => return Err(TemplateError::Parse(format!("function {f:?} not defined"))),
                },
                Tok::LParen => {
                    *i += 1;
                    let p = pipe(t, i, is_func, depth + 1)?;
                    if t.get(*i) != Some(&Tok::RParen) {
                        return Err(TemplateError::Parse("unclosed left paren".into()));
                    }
                    Arg::Sub(p)
                }
                Tok::Pipe | Tok::RParen => return Err(TemplateError::Parse("unexpected token".into())),
            };
            args.push(a);
            *i += 1;
        }
        if args.is_empty() {
            return Err(TemplateError::Parse("missing value for command".into()));
        }
        cmds.push(Cmd { args });
        if t.get(*i) == Some(&Tok::Pipe) {
            *i += 1;
            continue;
        }
        return Ok(Pipe { cmds });
    }
}

fn number(n: &str) -> Result<Arg, TemplateError> {
    if let Ok(v) = n.parse::<i64>() {
        return Ok(Arg::Int(v));
    }
    if let Some(h) = n.strip_prefix("0x") {
        if let Ok(v) = i64::from_str_radix(h, 16) {
            return Ok(Arg::Int(v));
        }
    }
    n.parse::<f64>().map(Arg::Float).map_err(|_| TemplateError::Parse(format!("bad number syntax: {n:?}")))
}
