//! Values flowing through templates and their Go-like printing and conversions
//! (`cast.ToInt64` / `cast.ToFloat64` rules used by sprig's math functions).
//!
//! Used by `exec` (evaluation) and `funcs` (the function library).

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A point in time, as Unix nanoseconds (Go `time.Time`, UTC).
    Time(i64),
    Nil,
}

impl Value {
    pub fn truthy(&self) -> bool {
        match self {
            Value::Str(s) => !s.is_empty(),
            Value::Int(i) => *i != 0,
            Value::Float(f) => *f != 0.0,
            Value::Bool(b) => *b,
            Value::Time(_) => true,
            Value::Nil => false,
        }
    }

    /// Go's `fmt.Sprint` form.
    pub fn write_to(&self, out: &mut String) {
        match self {
            Value::Str(s) => out.push_str(s),
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&go_float(*f)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Time(ns) => out.push_str(&super::funcs::go_time_string(*ns)),
            Value::Nil => out.push_str("<no value>"),
        }
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        self.write_to(&mut s);
        s
    }

    /// `cast.ToInt64E`: strings parse as integers (or fail), floats truncate.
    pub fn to_int(&self) -> Result<i64, String> {
        match self {
            Value::Int(i) => Ok(*i),
            Value::Float(f) => Ok(*f as i64),
            Value::Bool(b) => Ok(i64::from(*b)),
            Value::Str(s) => {
                let t = s.trim();
                t.parse::<i64>().map_err(|_| format!("unable to cast {s:?} of type string to int64"))
            }
            Value::Time(ns) => Ok(*ns),
            Value::Nil => Ok(0),
        }
    }

    /// Sprig's lenient int: failures give 0.
    pub fn to_int_lenient(&self) -> i64 {
        match self {
            Value::Str(s) => {
                let t = s.trim();
                t.parse::<i64>().or_else(|_| t.parse::<f64>().map(|f| f as i64)).unwrap_or(0)
            }
            v => v.to_int().unwrap_or(0),
        }
    }

    pub fn to_float(&self) -> Result<f64, String> {
        match self {
            Value::Int(i) => Ok(*i as f64),
            Value::Float(f) => Ok(*f),
            Value::Bool(b) => Ok(f64::from(u8::from(*b))),
            Value::Str(s) => {
                s.trim().parse::<f64>().map_err(|_| format!("unable to cast {s:?} of type string to float64"))
            }
            Value::Time(ns) => Ok(*ns as f64),
            Value::Nil => Ok(0.0),
        }
    }

    pub fn to_float_lenient(&self) -> f64 {
        self.to_float().unwrap_or(0.0)
    }
}

/// Go's `%v` for float64 (`strconv` 'g', shortest): exponent form when exp < -4 or >= 6.
pub fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    let e = format!("{f:e}");
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mant}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_like_go() {
        assert_eq!(go_float(1.5), "1.5");
        assert_eq!(go_float(1e21), "1e+21");
        assert_eq!(go_float(1.4e6), "1.4e+06");
        assert_eq!(go_float(204000.0), "204000");
        assert_eq!(go_float(0.0001), "0.0001");
        assert_eq!(go_float(0.00001), "1e-05");
        assert_eq!(Value::Str("12".into()).to_int(), Ok(12));
        assert!(Value::Str("x".into()).to_int().is_err());
    }
}
