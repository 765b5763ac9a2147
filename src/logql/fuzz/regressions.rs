//! Regression tests for the parser and printer bugs the fuzz properties found,
//! one test per bug, each with the minimal input proptest reported.

use crate::logql::ast::{CmpValue, LabelFilterExpr, Stage};
use crate::logql::parser::{parse, Expr};

fn round_trip(q: &str) {
    let e = parse(q).unwrap_or_else(|err| panic!("{q}: {err}"));
    let printed = e.to_string();
    assert_eq!(parse(&printed).unwrap_or_else(|err| panic!("{printed}: {err}")), e, "{q} printed {printed}");
}

fn label_filter(q: &str) -> LabelFilterExpr {
    let Ok(Expr::Log(l)) = parse(q) else { panic!("log query expected: {q}") };
    match l.stages.last() {
        Some(Stage::LabelFilter(f)) => f.clone(),
        other => panic!("label filter expected, got {other:?}"),
    }
}

#[test]
fn negative_hex_in_a_label_filter() {
    let f = label_filter(r#"{a="b"} | a = -0x1f"#);
    assert!(matches!(f, LabelFilterExpr::Cmp { value: CmpValue::Number(v), .. } if v == -31.0));
}

#[test]
fn offset_after_a_label_filter_ends_the_filter() {
    round_trip(r#"count_over_time({a="b"}[5m] | x="1" AND y = ip("::1") offset 250ms)"#);
    // a label named `offset` still works as a filter
    round_trip(r#"{a="b"} | x="1" offset > 2"#);
}

#[test]
fn line_filter_after_an_argumentless_stage() {
    // `unpack !~ "x"` was read as a label filter on a label named `unpack`
    for q in [r#"{_="a"} | unpack !~ "a.*" or "b""#, r#"{a="b"} | json != "x""#, r#"{a="b"} | decolorize != "x""#] {
        let Ok(Expr::Log(l)) = parse(q) else { panic!("{q}") };
        assert!(matches!(l.stages[1], Stage::Line(_)), "{q}");
        round_trip(q);
    }
}

#[test]
fn right_nested_and_keeps_its_parentheses() {
    // `a and (b and c)` printed as `a and b and c`, which parses left-nested
    round_trip(r#"{a="b"} | x="1" and (y="2" and z="3")"#);
    round_trip(r#"{a="b"} | (x="1" or y="2") and (z="3" , w > 1)"#);
}

#[test]
fn float_literals_with_a_signed_exponent() {
    round_trip(r#"label_replace(2.5e-3, "a", "", "_", "a.*")"#);
    assert_eq!(parse("1e-3 + 1E+3").unwrap().to_string(), "0.001 + 1000");
}

#[test]
fn deep_trees_are_rejected_not_overflowed() {
    // these overflowed the stack (parser, printer or drop) before the depth budget
    let n = 20_000;
    let deep = [
        format!(r#"{{a="b"}} | {}x="1"{}"#, "(".repeat(n), ")".repeat(n)),
        format!(r#"{{a="b"}} | x="1"{}"#, r#" and x="1""#.repeat(n)),
        format!("vector(1){}", " + vector(1)".repeat(n)),
        format!(r#"{{a="b"}} | line_format "{{{{ {}.a{} }}}}""#, "(".repeat(n), ")".repeat(n)),
        format!(r#"{{a="b"}} | line_format "{}x{}""#, "{{ if .a }}".repeat(n), "{{ end }}".repeat(n)),
    ];
    for q in deep {
        let err = parse(&q).unwrap_err().to_string();
        assert!(err.starts_with("parse error"), "{err}");
    }
    // moderate chains still parse and round-trip
    round_trip(&format!(r#"{{a="b"}} | x="1"{}"#, r#" and x="1""#.repeat(30)));
    // the printer added parentheses around every operand, so a chain near the depth
    // limit printed as a query nested too deeply to parse back
    round_trip(&format!("vector(1){}", " + vector(1)".repeat(60)));
}

#[test]
fn offset_after_a_parser_without_params() {
    // `json offset 250ms` read `offset` as a json parameter
    round_trip(r#"bytes_over_time({_="0"}[5m] | json offset 250ms)"#);
    round_trip(r#"count_over_time({_="0"}[5m] | logfmt --strict offset 1h)"#);
    round_trip(r#"{a="b"} | json offset, x"#);
}

#[test]
fn ip_line_filter_after_drop() {
    // `drop a != ip("...")` failed: `a !=` was taken for a drop matcher
    let q = r#"{a="0"} | drop a != ip("10.0.0.0/8")"#;
    let Ok(Expr::Log(l)) = parse(q) else { panic!("{q}") };
    assert!(matches!(&l.stages[1], Stage::Line(f) if f.ip));
    round_trip(q);
}

#[test]
fn infinite_literals_print_back_parseably() {
    // `(1e3300)` printed as `+Inf`, which is not a literal
    round_trip("(1e3300)");
    round_trip("vector(-1e999) + 1e400");
}

#[test]
fn negative_line_filter_after_drop_keeps_its_parentheses() {
    for q in [r#"({a="a"} | drop a) != "" or """#, r#"(({a="b"} | keep x) !~ "y" | drop z) != "w""#] {
        let e = crate::logql::parse(q).unwrap();
        let printed = e.to_string();
        assert_eq!(crate::logql::parse(&printed).unwrap(), e, "{q} printed {printed}");
    }
}
