//! Vector aggregations of one step (`sum`, `avg`, `min`, `max`, `count`,
//! `stddev`, `stdvar`, `topk`, `bottomk`, `sort`, `sort_desc`) with `by` /
//! `without` grouping, Prometheus semantics. Called by `eval` for every step.

use std::collections::BTreeMap;

use super::ast::{Grouping, VecOp};

/// One element of an instant vector: sorted label pairs and a value.
#[derive(Clone, Debug, PartialEq)]
pub struct Elem {
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// The labels an element is grouped under.
pub fn group_labels(labels: &[(String, String)], g: Option<&Grouping>) -> Vec<(String, String)> {
    match g {
        None => Vec::new(),
        Some(g) if g.without => labels.iter().filter(|(k, _)| !g.labels.contains(k)).cloned().collect(),
        Some(g) => labels.iter().filter(|(k, _)| g.labels.contains(k)).cloned().collect(),
    }
}

pub fn aggregate(op: VecOp, param: Option<f64>, g: Option<&Grouping>, input: Vec<Elem>) -> Vec<Elem> {
    match op {
        VecOp::Sort | VecOp::SortDesc => {
            let mut v = input;
            let desc = op == VecOp::SortDesc;
            v.sort_by(|a, b| {
                // NaN sorts last either way
                match (a.value.is_nan(), b.value.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if desc => b.value.total_cmp(&a.value),
                    _ => a.value.total_cmp(&b.value),
                }
            });
            v
        }
        VecOp::Topk | VecOp::Bottomk => {
            let k = param.unwrap_or(1.0).max(0.0) as usize;
            let mut groups: BTreeMap<Vec<(String, String)>, Vec<Elem>> = BTreeMap::new();
            for e in input {
                groups.entry(group_labels(&e.labels, g)).or_default().push(e);
            }
            let top = op == VecOp::Topk;
            let mut out = Vec::new();
            for (_, mut v) in groups {
                v.sort_by(|a, b| {
                    let (x, y) = if top { (b.value, a.value) } else { (a.value, b.value) };
                    match (x.is_nan(), y.is_nan()) {
                        (true, false) => std::cmp::Ordering::Greater,
                        (false, true) => std::cmp::Ordering::Less,
                        _ => x.total_cmp(&y),
                    }
                });
                v.truncate(k);
                out.extend(v);
            }
            out
        }
        _ => {
            let mut groups: BTreeMap<Vec<(String, String)>, Vec<f64>> = BTreeMap::new();
            for e in input {
                groups.entry(group_labels(&e.labels, g)).or_default().push(e.value);
            }
            groups.into_iter().map(|(labels, vals)| Elem { labels, value: reduce(op, &vals) }).collect()
        }
    }
}

fn reduce(op: VecOp, v: &[f64]) -> f64 {
    let n = v.len() as f64;
    let mean = || v.iter().sum::<f64>() / n;
    let var = || {
        let m = mean();
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n
    };
    match op {
        VecOp::Sum => v.iter().sum(),
        VecOp::Avg => mean(),
        VecOp::Count => n,
        VecOp::Min => v.iter().copied().fold(f64::NAN, |a, x| if a.is_nan() || x < a { x } else { a }),
        VecOp::Max => v.iter().copied().fold(f64::NAN, |a, x| if a.is_nan() || x > a { x } else { a }),
        VecOp::Stdvar => var(),
        VecOp::Stddev => var().sqrt(),
        _ => f64::NAN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(l: &[(&str, &str)], v: f64) -> Elem {
        Elem { labels: l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), value: v }
    }

    #[test]
    fn aggregations() {
        let input = vec![e(&[("a", "1"), ("b", "x")], 1.0), e(&[("a", "1"), ("b", "y")], 3.0), e(&[("a", "2")], 5.0)];
        let by_a = Grouping { without: false, labels: vec!["a".into()] };
        let s = aggregate(VecOp::Sum, None, Some(&by_a), input.clone());
        assert_eq!(s, vec![e(&[("a", "1")], 4.0), e(&[("a", "2")], 5.0)]);
        let without_b = Grouping { without: true, labels: vec!["b".into()] };
        assert_eq!(aggregate(VecOp::Count, None, Some(&without_b), input.clone()).len(), 2);
        assert_eq!(aggregate(VecOp::Avg, None, None, input.clone()), vec![e(&[], 3.0)]);
        assert_eq!(aggregate(VecOp::Max, None, None, input.clone())[0].value, 5.0);
        assert_eq!(aggregate(VecOp::Min, None, None, input.clone())[0].value, 1.0);
        assert!((aggregate(VecOp::Stdvar, None, None, input.clone())[0].value - 8.0 / 3.0).abs() < 1e-12);
        let top = aggregate(VecOp::Topk, Some(1.0), Some(&by_a), input.clone());
        assert_eq!(top, vec![e(&[("a", "1"), ("b", "y")], 3.0), e(&[("a", "2")], 5.0)]);
        let bottom = aggregate(VecOp::Bottomk, Some(1.0), None, input.clone());
        assert_eq!(bottom[0].value, 1.0);
        assert!((aggregate(VecOp::Stddev, None, None, input.clone())[0].value - (8.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let asc = aggregate(VecOp::Sort, None, None, vec![e(&[], f64::NAN), e(&[], 2.0), e(&[], 1.0)]);
        assert_eq!(asc[0].value, 1.0);
        assert!(asc[2].value.is_nan(), "NaN sorts last");
        let sorted = aggregate(VecOp::SortDesc, None, None, input);
        assert_eq!(sorted.iter().map(|e| e.value).collect::<Vec<_>>(), vec![5.0, 3.0, 1.0]);
    }
}
