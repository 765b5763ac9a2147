//! Proptest strategies that write *valid* LogQL query texts: selectors, line
//! filters, every pipeline stage, label filter expressions, log ranges with
//! unwrap and offset, range and vector aggregations, binary operators with
//! their modifiers, `label_replace`, `vector()` and literals.
//!
//! The texts vary what the printer normalises (keyword case, `,` / `and` /
//! juxtaposition, `[range]` before the pipeline, parentheses, `==`, quoting
//! style), so that `print(parse(q))` differs from `q` and the round trip means
//! something. Used by the properties in `fuzz::mod`.

use proptest::prelude::*;

use crate::logql::metric::ast::RangeOp;

/// Words a generated label name must not be (they change how a query parses).
const RESERVED: &[&str] = &[
    "and",
    "or",
    "unless",
    "bool",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "by",
    "without",
    "offset",
    "unwrap",
    "ip",
    "json",
    "logfmt",
    "regexp",
    "pattern",
    "unpack",
    "line_format",
    "label_format",
    "drop",
    "keep",
    "decolorize",
];

pub const REGEXES: &[&str] = &["a.*", "(?i)err", "\\d+", "[a-z]+|x", ".+", "foo(bar)?", "^x$", "é|🦀"];
const IPS: &[&str] = &["10.0.0.0/8", "::1", "192.168.0.1-192.168.0.9", "127.0.0.1", "2001:db8::/32"];
const PATTERN_FILTERS: &[&str] = &["<a> foo <_>", "<method> <path> <_>", "x=<x>"];
const PATTERNS: &[&str] = &["<a> <_>", "<ip> - <user> [<_>]", "<_> status=<status>"];
const REGEXP_STAGES: &[&str] = &["(?P<x>\\d+)", "(?P<a>\\w+) (?P<b>.*)", "(?P<lvl>[A-Z]+)"];
const JSON_PATHS: &[&str] = &["a.b", "l[0]", "m[\"k\"]", "x", "a.b[2].c"];
const TEMPLATES: &[&str] =
    &["{{.a}}", "{{ __line__ | upper }}", "x {{.a}} y", "{{ if .a }}yes{{ else }}no{{ end }}", "plain", ""];
const NUMBERS: &[&str] = &["0", "1", "42", "1.5", "0.25", ".5", "0x1f", "1e3", "2.5e-3", "1e300", "123456789012"];
const UNITS: &[&str] = &["250ms", "1h30m", "3µs", "5s", "2d", "20MB", "1KiB", "100B", "2gb", "1.5m"];
const RANGES: &[&str] = &["5m", "1h", "30s", "1h30m", "250ms", "2d", "1.5m", "90s", "1ns"];

fn pick(xs: &'static [&'static str]) -> impl Strategy<Value = String> + Clone {
    proptest::sample::select(xs).prop_map(str::to_string)
}

/// A label name that is not a keyword.
pub fn name() -> impl Strategy<Value = String> + Clone {
    "[a-z_][a-z0-9_]{0,6}".prop_filter("keyword", |n| !RESERVED.contains(&n.as_str()))
}

/// Random capitalisation of a keyword (LogQL keywords are case-insensitive).
fn kw(k: &'static str) -> impl Strategy<Value = String> + Clone {
    prop_oneof![4 => Just(k.to_string()), 1 => Just(k.to_ascii_uppercase())]
}

/// Any string value: printable, quotes, backslashes, control characters, unicode.
pub fn value() -> impl Strategy<Value = String> + Clone {
    prop_oneof![".{0,10}", "[\"\\\\`'a-z \\n\\t\\x00\\x7f]{0,8}", "[a-z0-9]{1,6}"]
}

/// A Go string literal for `v`: double-quoted with escapes, or a raw string.
pub fn lit(v: String) -> impl Strategy<Value = String> + Clone {
    let raw = !v.contains('`') && !v.contains('\r');
    let mut quoted = String::new();
    let _ = crate::model::labels::write_go_quoted(&mut quoted, &v);
    let raw_text = format!("`{v}`");
    any::<bool>().prop_map(move |b| if b && raw { raw_text.clone() } else { quoted.clone() })
}

fn str_lit(s: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = String> + Clone {
    s.prop_flat_map(lit)
}

fn matcher() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        (name(), prop_oneof![Just("="), Just("!=")], str_lit(value())).prop_map(|(n, o, v)| format!("{n}{o}{v}")),
        (name(), prop_oneof![Just("=~"), Just("!~")], str_lit(pick(REGEXES)))
            .prop_map(|(n, o, v)| format!("{n} {o} {v}")),
    ]
}

/// `{app="x", ...}`: the first matcher never matches the empty string.
pub fn selector() -> impl Strategy<Value = String> + Clone {
    (name(), str_lit("[a-z0-9]{1,6}"), prop::collection::vec(matcher(), 0..3))
        .prop_map(|(n, v, rest)| std::iter::once(format!("{n}={v}")).chain(rest).collect::<Vec<_>>().join(", "))
        .prop_map(|m| format!("{{{m}}}"))
}

fn alts(op: &'static str, v: BoxedStrategy<String>) -> impl Strategy<Value = String> + Clone {
    (prop::collection::vec(v, 1..4), kw("or")).prop_map(move |(vs, or)| format!("{op} {}", vs.join(&format!(" {or} "))))
}

fn line_filter() -> impl Strategy<Value = String> + Clone {
    let ip = str_lit(pick(IPS)).prop_map(|v| format!("ip({v})")).boxed();
    prop_oneof![
        prop_oneof![Just("|="), Just("!=")].prop_flat_map(|op| alts(op, str_lit(value()).boxed())),
        prop_oneof![Just("|="), Just("!=")].prop_flat_map(move |op| alts(op, ip.clone())),
        prop_oneof![Just("|~"), Just("!~")].prop_flat_map(|op| alts(op, str_lit(pick(REGEXES)).boxed())),
        prop_oneof![Just("|>"), Just("!>")].prop_flat_map(|op| alts(op, str_lit(pick(PATTERN_FILTERS)).boxed())),
    ]
}

/// A label filter expression (without the leading `|`).
pub fn label_filter() -> impl Strategy<Value = String> + Clone {
    let cmp_op = pick(&["=", "==", "!=", ">", ">=", "<", "<="]);
    let leaf = prop_oneof![
        matcher(),
        (name(), cmp_op.clone(), any::<bool>(), pick(NUMBERS))
            .prop_map(|(n, o, neg, v)| format!("{n} {o} {}{v}", if neg { "-" } else { "" })),
        (name(), cmp_op, pick(UNITS)).prop_map(|(n, o, v)| format!("{n}{o}{v}")),
        (name(), prop_oneof![Just("="), Just("!=")], str_lit(pick(IPS)))
            .prop_map(|(n, o, v)| format!("{n} {o} ip({v})")),
    ];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            (inner.clone(), pick(&[" and ", " AND ", ", ", " "]), inner.clone())
                .prop_map(|(a, j, b)| format!("{a}{j}{b}")),
            (inner.clone(), kw("or"), inner.clone()).prop_map(|(a, o, b)| format!("{a} {o} {b}")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

fn params() -> impl Strategy<Value = String> + Clone {
    let p = prop_oneof![name(), (name(), str_lit(pick(JSON_PATHS))).prop_map(|(n, p)| format!("{n}={p}"))];
    prop::collection::vec(p, 0..3)
        .prop_map(|ps| if ps.is_empty() { String::new() } else { format!(" {}", ps.join(", ")) })
}

fn named_matchers() -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(prop_oneof![name(), matcher()], 1..4).prop_map(|v| v.join(", "))
}

fn label_format() -> impl Strategy<Value = String> + Clone {
    prop::collection::btree_set(name(), 1..4).prop_flat_map(|dsts| {
        let items: Vec<_> = dsts
            .into_iter()
            .map(|d| {
                prop_oneof![name().prop_map(move |s| (s,)), str_lit(pick(TEMPLATES)).prop_map(|t| (t,))]
                    .prop_map(move |(v,)| format!("{d}={v}"))
            })
            .collect();
        items.prop_map(|v| v.join(", "))
    })
}

/// One pipeline stage with its leading operator.
pub fn stage() -> impl Strategy<Value = String> + Clone {
    let flags = pick(&["", " --strict", " --keep-empty", " --keep-empty --strict", " --strict --keep-empty"]);
    prop_oneof![
        3 => line_filter(),
        1 => (kw("json"), params()).prop_map(|(k, p)| format!("| {k}{p}")),
        1 => (kw("logfmt"), flags, params()).prop_map(|(k, f, p)| format!("| {k}{f}{p}")),
        1 => str_lit(pick(REGEXP_STAGES)).prop_map(|r| format!("| regexp {r}")),
        1 => str_lit(pick(PATTERNS)).prop_map(|p| format!("| pattern {p}")),
        1 => kw("unpack").prop_map(|k| format!("| {k}")),
        1 => kw("decolorize").prop_map(|k| format!("| {k}")),
        3 => label_filter().prop_map(|e| format!("| {e}")),
        1 => str_lit(pick(TEMPLATES)).prop_map(|t| format!("| line_format {t}")),
        1 => label_format().prop_map(|l| format!("| label_format {l}")),
        1 => (pick(&["drop", "keep"]), named_matchers()).prop_map(|(k, m)| format!("| {k} {m}")),
    ]
}

fn stages() -> impl Strategy<Value = String> + Clone {
    prop::collection::vec(stage(), 0..5).prop_map(|s| {
        let mut out = String::new();
        for (i, st) in s.iter().enumerate() {
            // `| drop a != "x"` reads `a != "x"` as a drop matcher, in Loki too
            let after_names = i > 0 && (s[i - 1].starts_with("| drop") || s[i - 1].starts_with("| keep"));
            if after_names && st.starts_with('!') {
                out.push_str(" | decolorize");
            }
            out.push(' ');
            out.push_str(st);
        }
        out
    })
}

/// A log query: selector and pipeline, sometimes parenthesised and continued.
pub fn log_query() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        3 => (selector(), stages()).prop_map(|(s, p)| format!("{s}{p}")),
        1 => (selector(), stages(), stages()).prop_map(|(s, p, q)| format!("({s}{p}){q}")),
        1 => (selector(), stages()).prop_map(|(s, p)| format!("# a comment\n{s}\n{p}")),
    ]
}

fn grouping() -> impl Strategy<Value = String> + Clone {
    (pick(&["by", "without", "BY"]), prop::collection::vec(name(), 0..3))
        .prop_map(|(k, ls)| format!("{k} ({})", ls.join(", ")))
}

fn unwrap() -> impl Strategy<Value = String> + Clone {
    let conv = pick(&["", "duration", "duration_seconds", "bytes"]);
    (name(), conv, prop::collection::vec(label_filter(), 0..2)).prop_map(|(n, c, fs)| {
        let label = if c.is_empty() { n } else { format!("{c}({n})") };
        let post: String = fs.iter().map(|f| format!(" | {f}")).collect();
        format!("| unwrap {label}{post}")
    })
}

/// A range aggregation that obeys the unwrap and grouping rules of its function.
pub fn range_agg() -> impl Strategy<Value = String> + Clone {
    let ops: Vec<RangeOp> = [
        "count_over_time",
        "rate",
        "rate_counter",
        "bytes_over_time",
        "bytes_rate",
        "absent_over_time",
        "sum_over_time",
        "avg_over_time",
        "min_over_time",
        "max_over_time",
        "stddev_over_time",
        "stdvar_over_time",
        "quantile_over_time",
        "first_over_time",
        "last_over_time",
    ]
    .iter()
    .filter_map(|n| RangeOp::from_name(n))
    .collect();
    let parts = (selector(), stages(), pick(RANGES), any::<bool>(), proptest::option::of(pick(UNITS[..5].as_ref())));
    (proptest::sample::select(ops), parts, unwrap(), any::<bool>(), grouping(), any::<bool>(), pick(NUMBERS)).prop_map(
        |(op, (sel, st, range, before, offset), unw, use_unwrap, grp, use_grp, q)| {
            let unw =
                if op.needs_unwrap() || (op.allows_unwrap() && use_unwrap) { format!(" {unw}") } else { String::new() };
            let body = if before { format!("{sel}[{range}]{st}{unw}") } else { format!("{sel}{st}{unw} [{range}]") };
            let off = offset.map(|o| format!(" offset {o}")).unwrap_or_default();
            let param = if op == RangeOp::Quantile { format!("{q}, ") } else { String::new() };
            let grp = if op.allows_grouping() && use_grp { format!(" {grp}") } else { String::new() };
            format!("{}({param}{body}{off}){grp}", op.as_str())
        },
    )
}

/// A metric expression and whether it is a bare number literal (a "scalar" to the parser's checks).
pub fn sample_expr() -> impl Strategy<Value = (String, bool)> + Clone {
    let leaf = prop_oneof![
        4 => range_agg().prop_map(|s| (s, false)),
        1 => (any::<bool>(), pick(NUMBERS)).prop_map(|(neg, n)| (format!("{}{n}", if neg { "-" } else { "" }), true)),
        1 => pick(NUMBERS).prop_map(|n| (format!("vector({n})"), false)),
    ];
    leaf.prop_recursive(3, 10, 2, |inner| {
        let vec_ops =
            pick(&["sum", "avg", "min", "max", "count", "stddev", "stdvar", "topk", "bottomk", "sort", "sort_desc"]);
        let bin_ops = pick(&["or", "and", "unless", "==", "!=", ">", ">=", "<", "<=", "+", "-", "*", "/", "%", "^"]);
        let matching = (
            proptest::option::of((pick(&["on", "ignoring"]), prop::collection::vec(name(), 0..3))),
            proptest::option::of((pick(&["group_left", "group_right"]), prop::collection::vec(name(), 0..2))),
        );
        prop_oneof![
            (vec_ops, inner.clone(), grouping(), 0..3u8, 1..20u32).prop_map(|(op, (e, _), g, at, k)| {
                let p = if op == "topk" || op == "bottomk" { format!("{k}, ") } else { String::new() };
                match at {
                    _ if op.starts_with("sort") => (format!("{op}({p}{e})"), false),
                    0 => (format!("{op}({p}{e})"), false),
                    1 => (format!("{op} {g} ({p}{e})"), false),
                    _ => (format!("{op}({p}{e}) {g}"), false),
                }
            }),
            (inner.clone(), bin_ops, any::<bool>(), matching, inner.clone()).prop_map(
                |((l, ls), op, b, m, (r, rs))| {
                    let cmp = matches!(op.as_str(), "==" | "!=" | ">" | ">=" | "<" | "<=");
                    let set = matches!(op.as_str(), "or" | "and" | "unless");
                    // a set operator needs two vectors: replace a scalar side
                    let (l, r) = if set {
                        (if ls { "vector(1)".to_string() } else { l }, if rs { "vector(2)".to_string() } else { r })
                    } else {
                        (l, r)
                    };
                    let bool_mod = cmp && (b || (ls && rs && !set));
                    let on = m.0.map(|(k, ls)| format!(" {k} ({})", ls.join(", "))).unwrap_or_default();
                    let group = m.1.map(|(k, ls)| format!(" {k} ({})", ls.join(", "))).unwrap_or_default();
                    (format!("({l}) {op}{}{on}{group} ({r})", if bool_mod { " bool" } else { "" }), false)
                }
            ),
            (inner.clone(), name(), str_lit(value()), name(), str_lit(pick(REGEXES))).prop_map(
                |((e, _), d, rep, s, re)| (format!("label_replace({e}, \"{d}\", {rep}, \"{s}\", {re})"), false)
            ),
            inner.prop_map(|(e, s)| (format!("({e})"), s)),
        ]
    })
}

/// Any valid query.
pub fn query() -> impl Strategy<Value = String> + Clone {
    prop_oneof![log_query(), sample_expr().prop_map(|(s, _)| s)]
}
