//! Runs a parsed template: text, actions, `if` chains, pipelines (`a | f b`
//! passes `a` as the last argument of `f`).
//!
//! Called by `Template::render`; functions come from `funcs`.

use super::parse::{Arg, Cmd, Node, Pipe};
use super::value::Value;
use super::{funcs, Context, TemplateError};

pub fn run(nodes: &[Node], ctx: &dyn Context, out: &mut String) -> Result<(), TemplateError> {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => eval_pipe(p, ctx)?.write_to(out),
            Node::If(branches, els) => {
                let mut done = false;
                for (cond, body) in branches {
                    if eval_pipe(cond, ctx)?.truthy() {
                        run(body, ctx, out)?;
                        done = true;
                        break;
                    }
                }
                if !done {
                    run(els, ctx, out)?;
                }
            }
        }
    }
    Ok(())
}

fn eval_pipe(p: &Pipe, ctx: &dyn Context) -> Result<Value, TemplateError> {
    let mut prev = None;
    for c in &p.cmds {
        prev = Some(eval_cmd(c, ctx, prev)?);
    }
    Ok(prev.unwrap_or(Value::Nil))
}

fn eval_cmd(c: &Cmd, ctx: &dyn Context, piped: Option<Value>) -> Result<Value, TemplateError> {
    match c.args.first() {
        Some(Arg::Func(name)) => {
            let mut args = c.args[1..].iter().map(|a| eval_arg(a, ctx)).collect::<Result<Vec<_>, _>>()?;
            args.extend(piped);
            funcs::call(name, args, ctx)
        }
        Some(a) => {
            if c.args.len() > 1 || piped.is_some() {
                return Err(TemplateError::Exec("can't give argument to non-function".into()));
            }
            eval_arg(a, ctx)
        }
        None => Err(TemplateError::Exec("empty command".into())),
    }
}

fn eval_arg(a: &Arg, ctx: &dyn Context) -> Result<Value, TemplateError> {
    Ok(match a {
        Arg::Field(n) => Value::Str(ctx.label(n).unwrap_or("").to_string()),
        Arg::Dot | Arg::Nil => Value::Nil,
        Arg::Func(name) => funcs::call(name, Vec::new(), ctx)?,
        Arg::Str(s) => Value::Str(s.clone()),
        Arg::Int(i) => Value::Int(*i),
        Arg::Float(f) => Value::Float(*f),
        Arg::Bool(b) => Value::Bool(*b),
        Arg::Sub(p) => eval_pipe(p, ctx)?,
    })
}
