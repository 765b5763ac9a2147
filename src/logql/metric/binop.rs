//! Binary operations of one step: arithmetic, comparisons (filtering or with
//! `bool`) and set operators between scalars and vectors, with Prometheus
//! vector matching (`on`, `ignoring`, `group_left`, `group_right`). Loki's
//! rule: `x / 0` and `x % 0` are NaN. Called by `eval` for every step.

use std::collections::{HashMap, HashSet};

use super::ast::{BinOp, VectorMatching};
use super::eval::EvalError;
use super::vector_fn::Elem;

/// A step's value: a scalar or an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<Elem>),
}

pub fn arith(op: BinOp, a: f64, b: f64) -> f64 {
    match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div if b == 0.0 => f64::NAN,
        BinOp::Div => a / b,
        BinOp::Mod if b == 0.0 => f64::NAN,
        BinOp::Mod => a % b,
        BinOp::Pow => a.powf(b),
        _ => f64::NAN,
    }
}

pub fn compare(op: BinOp, a: f64, b: f64) -> bool {
    match op {
        BinOp::Eq => a == b,
        BinOp::Neq => a != b,
        BinOp::Gt => a > b,
        BinOp::Gte => a >= b,
        BinOp::Lt => a < b,
        BinOp::Lte => a <= b,
        _ => false,
    }
}

/// `lhs op rhs` for scalar operands: `Some(value)` to keep, `None` to drop.
/// The kept value of a filtering comparison is `keep_value`.
fn elem_op(op: BinOp, bool_mod: bool, a: f64, b: f64, keep_value: f64) -> Option<f64> {
    if op.is_comparison() {
        let t = compare(op, a, b);
        if bool_mod {
            Some(if t { 1.0 } else { 0.0 })
        } else {
            t.then_some(keep_value)
        }
    } else {
        Some(arith(op, a, b))
    }
}

fn signature(labels: &[(String, String)], m: &VectorMatching) -> Vec<(String, String)> {
    match m.on {
        Some(true) => labels.iter().filter(|(k, _)| m.labels.contains(k)).cloned().collect(),
        Some(false) => labels.iter().filter(|(k, _)| !m.labels.contains(k)).cloned().collect(),
        None => labels.to_vec(),
    }
}

pub fn binary(op: BinOp, bool_mod: bool, m: &VectorMatching, lhs: Value, rhs: Value) -> Result<Value, EvalError> {
    Ok(match (lhs, rhs) {
        (Value::Scalar(a), Value::Scalar(b)) => {
            let v = if op.is_comparison() {
                if compare(op, a, b) {
                    1.0
                } else {
                    0.0
                }
            } else {
                arith(op, a, b)
            };
            Value::Scalar(v)
        }
        (Value::Vector(v), Value::Scalar(b)) => Value::Vector(
            v.into_iter()
                .filter_map(|e| {
                    elem_op(op, bool_mod, e.value, b, e.value).map(|value| Elem { labels: e.labels, value })
                })
                .collect(),
        ),
        (Value::Scalar(a), Value::Vector(v)) => Value::Vector(
            v.into_iter()
                .filter_map(|e| {
                    elem_op(op, bool_mod, a, e.value, e.value).map(|value| Elem { labels: e.labels, value })
                })
                .collect(),
        ),
        (Value::Vector(l), Value::Vector(r)) if op.is_set() => Value::Vector(set_op(op, m, l, r)),
        (Value::Vector(l), Value::Vector(r)) => Value::Vector(vector_op(op, bool_mod, m, l, r)?),
    })
}

fn set_op(op: BinOp, m: &VectorMatching, l: Vec<Elem>, r: Vec<Elem>) -> Vec<Elem> {
    let rsig: HashSet<Vec<(String, String)>> = r.iter().map(|e| signature(&e.labels, m)).collect();
    match op {
        BinOp::And => l.into_iter().filter(|e| rsig.contains(&signature(&e.labels, m))).collect(),
        BinOp::Unless => l.into_iter().filter(|e| !rsig.contains(&signature(&e.labels, m))).collect(),
        _ => {
            let lsig: HashSet<Vec<(String, String)>> = l.iter().map(|e| signature(&e.labels, m)).collect();
            let mut out = l;
            out.extend(r.into_iter().filter(|e| !lsig.contains(&signature(&e.labels, m))));
            out
        }
    }
}

fn fmt_labels(l: &[(String, String)]) -> String {
    crate::model::Labels::from_pairs_keep_empty(l.to_vec()).to_string()
}

fn vector_op(
    op: BinOp,
    bool_mod: bool,
    m: &VectorMatching,
    l: Vec<Elem>,
    r: Vec<Elem>,
) -> Result<Vec<Elem>, EvalError> {
    // the "one" side is indexed by signature; group_right swaps the roles
    let right_is_one = m.group_left != Some(false);
    let (many, one) = if right_is_one { (l, r) } else { (r, l) };
    let mut index: HashMap<Vec<(String, String)>, Elem> = HashMap::new();
    for e in one {
        let sig = signature(&e.labels, m);
        if index.contains_key(&sig) {
            let side = if right_is_one { "right" } else { "left" };
            return Err(EvalError::Matching(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: {}; many-to-many matching not allowed: matching labels must be unique on one side",
                fmt_labels(&sig),
                fmt_labels(&e.labels)
            )));
        }
        index.insert(sig, e);
    }
    let mut seen: HashSet<Vec<(String, String)>> = HashSet::new();
    let mut out = Vec::new();
    for e in many {
        let sig = signature(&e.labels, m);
        let Some(o) = index.get(&sig) else { continue };
        if m.group_left.is_none() && !seen.insert(sig.clone()) {
            return Err(EvalError::Matching(
                "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)".into(),
            ));
        }
        let (a, b) = if right_is_one { (e.value, o.value) } else { (o.value, e.value) };
        let Some(value) = elem_op(op, bool_mod, a, b, a) else { continue };
        let labels = result_labels(&e.labels, &o.labels, m);
        out.push(Elem { labels, value });
    }
    Ok(out)
}

fn result_labels(many: &[(String, String)], one: &[(String, String)], m: &VectorMatching) -> Vec<(String, String)> {
    let mut labels = if m.group_left.is_none() { signature(many, m) } else { many.to_vec() };
    for name in &m.include {
        labels.retain(|(k, _)| k != name);
        if let Some(p) = one.iter().find(|(k, _)| k == name) {
            labels.push(p.clone());
        }
    }
    labels.sort();
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(l: &[(&str, &str)], v: f64) -> Elem {
        Elem { labels: l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value: v }
    }

    #[test]
    fn every_operator() {
        let cases = [
            (BinOp::Add, 7.0, 2.0, 9.0),
            (BinOp::Sub, 7.0, 2.0, 5.0),
            (BinOp::Mul, 7.0, 2.0, 14.0),
            (BinOp::Div, 7.0, 2.0, 3.5),
            (BinOp::Mod, 7.0, 2.0, 1.0),
            (BinOp::Mod, -7.0, 2.0, -1.0),
            (BinOp::Pow, 2.0, 10.0, 1024.0),
        ];
        for (op, a, b, want) in cases {
            assert_eq!(arith(op, a, b), want, "{a} {} {b}", op.as_str());
        }
        assert!(arith(BinOp::Mod, 1.0, 0.0).is_nan());
        assert!(arith(BinOp::Div, 0.0, 0.0).is_nan());
        for (op, t, f) in [
            (BinOp::Eq, (1.0, 1.0), (1.0, 2.0)),
            (BinOp::Neq, (1.0, 2.0), (1.0, 1.0)),
            (BinOp::Gt, (2.0, 1.0), (1.0, 1.0)),
            (BinOp::Gte, (1.0, 1.0), (0.0, 1.0)),
            (BinOp::Lt, (0.0, 1.0), (1.0, 1.0)),
            (BinOp::Lte, (1.0, 1.0), (2.0, 1.0)),
        ] {
            assert!(compare(op, t.0, t.1) && !compare(op, f.0, f.1), "{}", op.as_str());
        }
        assert!(!compare(BinOp::Eq, f64::NAN, f64::NAN));
        let l = vec![e(&[("a", "1")], 1.0), e(&[("a", "2")], 2.0)];
        let r = vec![e(&[("a", "2")], 5.0)];
        let none = VectorMatching::default();
        let Value::Vector(v) =
            binary(BinOp::And, false, &none, Value::Vector(l.clone()), Value::Vector(r.clone())).unwrap()
        else {
            panic!()
        };
        assert_eq!(v, vec![e(&[("a", "2")], 2.0)]);
        let Value::Vector(v) = binary(BinOp::Lt, true, &none, Value::Vector(l), Value::Vector(r)).unwrap() else {
            panic!()
        };
        assert_eq!(v, vec![e(&[("a", "2")], 1.0)]);
    }

    #[test]
    fn scalars_and_division_by_zero() {
        let none = VectorMatching::default();
        assert_eq!(
            binary(BinOp::Add, false, &none, Value::Scalar(1.0), Value::Scalar(2.0)).unwrap(),
            Value::Scalar(3.0)
        );
        assert_eq!(binary(BinOp::Gt, true, &none, Value::Scalar(1.0), Value::Scalar(2.0)).unwrap(), Value::Scalar(0.0));
        let Value::Vector(v) =
            binary(BinOp::Div, false, &none, Value::Vector(vec![e(&[], 3.0)]), Value::Scalar(0.0)).unwrap()
        else {
            panic!()
        };
        assert!(v[0].value.is_nan());
        let Value::Vector(v) = binary(
            BinOp::Gt,
            false,
            &none,
            Value::Vector(vec![e(&[("a", "1")], 3.0), e(&[("a", "2")], 1.0)]),
            Value::Scalar(2.0),
        )
        .unwrap() else {
            panic!()
        };
        assert_eq!(v, vec![e(&[("a", "1")], 3.0)]);
    }

    #[test]
    fn vector_matching() {
        let l = vec![e(&[("app", "a"), ("env", "p")], 4.0), e(&[("app", "b"), ("env", "p")], 6.0)];
        let r = vec![e(&[("env", "p")], 10.0)];
        let m = VectorMatching { on: Some(true), labels: vec!["env".into()], group_left: Some(true), include: vec![] };
        let Value::Vector(v) =
            binary(BinOp::Div, false, &m, Value::Vector(l.clone()), Value::Vector(r.clone())).unwrap()
        else {
            panic!()
        };
        assert_eq!(v, vec![e(&[("app", "a"), ("env", "p")], 0.4), e(&[("app", "b"), ("env", "p")], 0.6)]);
        let one = VectorMatching { on: Some(true), labels: vec!["env".into()], ..Default::default() };
        assert!(binary(BinOp::Div, false, &one, Value::Vector(l.clone()), Value::Vector(r.clone())).is_err());
        let Value::Vector(v) =
            binary(BinOp::Or, false, &VectorMatching::default(), Value::Vector(vec![]), Value::Vector(r.clone()))
                .unwrap()
        else {
            panic!()
        };
        assert_eq!(v.len(), 1);
        let Value::Vector(v) = binary(BinOp::Unless, false, &one, Value::Vector(l), Value::Vector(r)).unwrap() else {
            panic!()
        };
        assert!(v.is_empty());
    }
}
