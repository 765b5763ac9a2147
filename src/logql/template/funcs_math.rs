//! Sprig's math functions for templates (`add sub mul div mod max min`, the
//! float variants, `int float64 ceil floor round`), with sprig's lenient
//! conversions (an unparsable number counts as 0).
//!
//! Called by `funcs::call`.

use super::funcs::{err, Args};
use super::value::Value;
use super::TemplateError;

pub(super) fn call(a: &Args<'_>) -> Result<Value, TemplateError> {
    let name = a.name;
    match name {
        "int" => Ok(Value::Int(a.lenient_i(0)?)),
        "float64" => Ok(Value::Float(a.lenient_f(0)?)),
        "add" => Ok(Value::Int(a.v.iter().map(|x| x.to_int().unwrap_or(0)).sum())),
        "mul" => Ok(Value::Int(a.v.iter().map(|x| x.to_int().unwrap_or(0)).product())),
        "sub" => Ok(Value::Int(a.lenient_i(0)? - a.lenient_i(1)?)),
        "div" | "mod" => {
            let (x, y) = (a.lenient_i(0)?, a.lenient_i(1)?);
            if y == 0 {
                return Err(err(name, "runtime error: integer divide by zero"));
            }
            Ok(Value::Int(if name == "div" { x / y } else { x % y }))
        }
        "max" | "min" => {
            a.need(1)?;
            let it = a.v.iter().map(|x| x.to_int().unwrap_or(0));
            Ok(Value::Int(if name == "max" { it.max() } else { it.min() }.unwrap_or(0)))
        }
        "addf" | "subf" | "mulf" | "divf" | "maxf" | "minf" => {
            a.need(1)?;
            let mut it = a.v.iter().map(Value::to_float_lenient);
            let first = it.next().unwrap_or(0.0);
            Ok(Value::Float(it.fold(first, |acc, x| match name {
                "addf" => acc + x,
                "subf" => acc - x,
                "mulf" => acc * x,
                "divf" => acc / x,
                "maxf" => acc.max(x),
                _ => acc.min(x),
            })))
        }
        "ceil" => Ok(Value::Float(a.lenient_f(0)?.ceil())),
        "floor" => Ok(Value::Float(a.lenient_f(0)?.floor())),
        "round" => {
            let (x, p) = (a.lenient_f(0)?, a.lenient_i(1).unwrap_or(0));
            let on = a.v.get(2).map(Value::to_float_lenient).unwrap_or(0.5);
            let pow = 10f64.powi(p as i32);
            let digit = pow * x;
            let (int, frac) = (digit.trunc(), digit.fract());
            let r = if frac.abs() >= on { int + frac.signum() } else { int };
            Ok(Value::Float(r / pow))
        }
        _ => Err(TemplateError::Exec(format!("function {name:?} not defined"))),
    }
}
