//! Proptest strategies for *arbitrary* parser input: random strings and bytes,
//! token soup, mutations of valid queries (truncation, token swaps, inserted
//! junk, deletions, duplications), deep nesting and huge numbers. Used by the
//! robustness property in `fuzz::mod`.

use proptest::prelude::*;

use super::gen;

/// Fragments that are LogQL tokens, near-tokens, or awkward text.
const JUNK: &[&str] = &[
    "(",
    ")",
    "{",
    "}",
    "[",
    "]",
    "|",
    "\"",
    "`",
    "\\",
    "--",
    "-",
    "+",
    ",",
    "=",
    "=~",
    "!~",
    "!=",
    "|=",
    "|>",
    "!>",
    "==",
    ">=",
    "<",
    "^",
    "%",
    "#",
    "\n",
    "µ",
    "μs",
    "\u{0}",
    "\u{202e}",
    "é",
    "🦀",
    "\u{301}",
    "\u{feff}",
    "\u{fffd}",
    "1e999",
    "-1e999",
    "99999999999999999999999999",
    "0x",
    "0xFFFFFFFFFFFFFFFFFF",
    "NaN",
    "Inf",
    "1e-400",
    ".5",
    "5m",
    "[5m]",
    "[0s]",
    "[-1m]",
    "[99999999999999h]",
    "offset",
    "offset 1e30h",
    "by",
    "without",
    "or",
    "and",
    "unless",
    "bool",
    "on()",
    "ignoring(a)",
    "group_left",
    "group_right()",
    "unwrap",
    "| unwrap x",
    "duration(",
    "ip(",
    "ip(\"x\")",
    "json",
    "logfmt",
    "--strict",
    "--nope",
    "regexp",
    "pattern",
    "line_format",
    "label_format",
    "drop",
    "keep",
    "{{",
    "}}",
    "{{.a}}",
    "{{ (",
    "count_over_time(",
    "sum(",
    "topk(",
    "topk(1e30,",
    "vector(",
    "label_replace(",
    "quantile_over_time(",
    "{a=\"b\"}",
    "{a=~\".*\"}",
    "\"\\x\"",
    "\"\\u12\"",
    "`",
    "x",
    "_",
    "a.b:c",
    "1",
    "0",
];

fn junk() -> impl Strategy<Value = String> {
    prop_oneof![proptest::sample::select(JUNK).prop_map(str::to_string), ".{1,3}"]
}

/// The char boundary of `s` nearest below `at` (taken modulo the length).
fn boundary(s: &str, at: usize) -> usize {
    let mut i = at % (s.len() + 1);
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Mutations of a valid query.
pub fn mutated() -> impl Strategy<Value = String> {
    (gen::query(), 0..5u8, any::<usize>(), any::<usize>(), prop::collection::vec(junk(), 1..4)).prop_map(
        |(q, kind, a, b, junk)| {
            let (i, j) = (boundary(&q, a), boundary(&q, b));
            let (lo, hi) = (i.min(j), i.max(j));
            match kind {
                0 => q[..i].to_string(),
                1 => {
                    let mut w: Vec<&str> = q.split(' ').collect();
                    let n = w.len();
                    w.swap(a % n, b % n);
                    w.join(" ")
                }
                2 => format!("{}{}{}", &q[..i], junk.concat(), &q[i..]),
                3 => format!("{}{}", &q[..lo], &q[hi..]),
                _ => format!("{}{}{}", &q[..hi], &q[lo..hi], &q[hi..]),
            }
        },
    )
}

/// Deeply nested constructs, up to a depth that would overflow an unbounded recursion.
pub fn nested() -> impl Strategy<Value = String> {
    let shapes: &[(&str, &str, &str)] = &[
        ("(", "{a=\"b\"}", ")"),
        ("(", "1", ")"),
        ("sum(", "count_over_time({a=\"b\"}[5m])", ")"),
        ("label_replace(", "vector(1)", ", \"a\", \"b\", \"c\", \"d\")"),
        ("{a=\"b\"} | ", "", ""),
        ("-", "1", ""),
        ("1 ^ ", "1", ""),
        ("vector(1) + ", "vector(1)", ""),
        ("1 + ", "1", ""),
        ("", "{a=\"b\"} |= \"x\"", " or \"y\""),
        ("", "{a=\"b\"} | x=\"1\"", " and x=\"1\""),
        ("", "vector(1)", " or vector(1)"),
    ];
    (proptest::sample::select(shapes), 1..20_000usize).prop_map(|((open, mid, close), n)| match open {
        "{a=\"b\"} | " => format!("{open}{}x=\"1\"{}", "(".repeat(n), ")".repeat(n)),
        "" => format!("{mid}{}", close.repeat(n)),
        _ => format!("{}{mid}{}", open.repeat(n), close.repeat(n)),
    })
}

/// Templates nested deeply inside `line_format` (the template parser recurses too).
pub fn nested_template() -> impl Strategy<Value = String> {
    (0..3u8, 1..20_000usize).prop_map(|(k, n)| match k {
        0 => format!("{{a=\"b\"}} | line_format \"{{{{ {}.a{} }}}}\"", "(".repeat(n), ")".repeat(n)),
        1 => format!("{{a=\"b\"}} | line_format \"{}x{}\"", "{{ if .a }}".repeat(n), "{{ end }}".repeat(n)),
        _ => format!("{{a=\"b\"}} | label_format x=\"{{{{ {}.a }}}}\"", "(".repeat(n)),
    })
}

/// Completely arbitrary input.
pub fn arbitrary() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        prop::collection::vec((junk(), prop_oneof![Just(""), Just(" ")]), 0..30)
            .prop_map(|v| v.into_iter().map(|(a, b)| a + b).collect()),
    ]
}
