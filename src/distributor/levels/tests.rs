use super::*;

fn level(labels: &str, meta: &[(&str, &str)], line: &str) -> String {
    level_with(labels, meta, line, &Limits::default())
}

fn level_with(labels: &str, meta: &[(&str, &str)], line: &str, l: &Limits) -> String {
    let mut e = Entry::new(1, line.to_string());
    e.metadata = meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    discover(&mut e, &Labels::parse(labels).unwrap(), l);
    let found: Vec<&(String, String)> = e.metadata.iter().filter(|(k, _)| k == LEVEL_KEY).collect();
    assert_eq!(found.len(), 1, "exactly one detected_level: {:?}", e.metadata);
    found[0].1.clone()
}

#[test]
fn labels_then_metadata_then_otlp() {
    assert_eq!(level(r#"{app="a", level="WARNING"}"#, &[("level", "debug")], "error here"), "warn");
    assert_eq!(level(r#"{app="a", lvl="notice"}"#, &[], "error here"), "notice", "unknown spellings are kept");
    // the list's order decides between two names, not the label's
    assert_eq!(level(r#"{app="a", lvl="dbg", severity="ERR"}"#, &[], ""), "error");
    assert_eq!(level(r#"{app="a"}"#, &[("severity", "Fatal")], "info"), "fatal");
    for (n, want) in [
        ("0", "unknown"),
        ("3", "trace"),
        ("8", "debug"),
        ("9", "info"),
        ("13", "warn"),
        ("17", "error"),
        ("24", "fatal"),
        ("99", "unknown"),
        ("x", "info"),
    ] {
        assert_eq!(level(r#"{app="a"}"#, &[("severity_number", n)], "debug words"), want, "{n}");
    }
    // a level already there is normalised, never doubled
    assert_eq!(level(r#"{app="a", level="info"}"#, &[("detected_level", "ERR")], ""), "error");
    assert_eq!(level(r#"{app="a"}"#, &[("detected_level", "custom")], ""), "custom");
}

#[test]
fn json_lines_by_field_and_depth() {
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"msg":"error in text","level":"Info"}"#), "info");
    assert_eq!(level(r#"{app="a"}"#, &[], r#" {"log":{"severity":"wrn"}} "#), "warn");
    // deeper than log_level_from_json_max_depth (2): the words decide
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"a":{"b":{"level":"dbg"}},"m":"fatal crash"}"#), "fatal");
    let any_depth = Limits { log_level_from_json_max_depth: 0, ..Limits::default() };
    assert_eq!(level_with(r#"{app="a"}"#, &[], r#"{"a":{"b":{"level":"dbg"}}}"#, &any_depth), "debug");
    // a number is not a level field; a field that is no level falls back to the words
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"level":3,"m":"warn"}"#), "warn");
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"level":"unknown","m":"trace"}"#), "trace");
    // broken before a level field: the words
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"m":"fatal" oops,"level":"dbg"}"#), "fatal");
    // an empty nested object is passed over, not taken for the end of the line's object
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"ctx":{},"level":"info","msg":"error x"}"#), "info");
    // nested arrays are skipped; an escaped key still matches
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"a":[{"level":"debug"}],"lev\u0065l":"warn"}"#), "warn");
    // a backslash before a non-ASCII character, and nesting past the parser's limit: no panic
    assert_eq!(level(r#"{app="a"}"#, &[], r#"{"m":"\é","level":"trc"}"#), "trace");
    let deep = format!("{}{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    assert_eq!(level_with(r#"{app="a"}"#, &[], &deep, &any_depth), "unknown");
}

#[test]
fn empty_values_add_nothing_and_unknown_spellings_stay() {
    let mut e = Entry::new(1, "error".to_string());
    e.metadata = vec![("level".into(), String::new())];
    discover(&mut e, &Labels::parse(r#"{app="a"}"#).unwrap(), &Limits::default());
    assert!(e.metadata.iter().all(|(k, _)| k != LEVEL_KEY), "an empty level is no level: {:?}", e.metadata);
    assert_eq!(level(r#"{app="a", level="UNKNOWN"}"#, &[], ""), "UNKNOWN");
    // an empty field list means Loki's list
    let none = Limits { log_level_fields: Vec::new(), ..Limits::default() };
    assert_eq!(level_with(r#"{app="a"}"#, &[], "LVL=wrn", &none), "warn");
}

#[test]
fn logfmt_lines_any_case_and_list_order() {
    assert_eq!(level(r#"{app="a"}"#, &[], "ts=1 LEVEL=dbg msg=\"error later\""), "debug");
    assert_eq!(level(r#"{app="a"}"#, &[], "lvl=warn severity=error"), "error", "severity comes before lvl in the list");
    assert_eq!(level(r#"{app="a"}"#, &[], "level msg=fatal"), "fatal", "a bare key has no value: words");
    assert_eq!(level(r#"{app="a"}"#, &[], "k=v"), "unknown");
}

#[test]
fn words_stand_alone_and_only_the_first_occurrence_counts() {
    assert_eq!(level(r#"{app="a"}"#, &[], "GET /x 500 Internal Server Error"), "error");
    assert_eq!(level(r#"{app="a"}"#, &[], "[WARN] disk at 91%"), "warn");
    assert_eq!(level(r#"{app="a"}"#, &[], "debugger attached; info"), "info", "debugger is not debug");
    assert_eq!(level(r#"{app="a"}"#, &[], "errors: 0"), "unknown", "err inside errors does not stand alone");
    assert_eq!(level(r#"{app="a"}"#, &[], "tracer_error"), "unknown", "underscores join words");
    assert_eq!(level(r#"{app="a"}"#, &[], "all fine"), "unknown");
    assert_eq!(level(r#"{app="a"}"#, &[], ""), "unknown");
    assert_eq!(level(r#"{app="a"}"#, &[], "ÉRROR error"), "error");
}

/// Token soup for JSON and logfmt lines: any sequence of these never panics
/// level discovery or the `| json` / `| logfmt` parsers it shares code with.
const SOUP: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    ":",
    ",",
    "\\",
    "=",
    " ",
    "\\u",
    "00e9",
    "d83d",
    "\\ud83d",
    "é",
    "😀",
    "\u{FFFD}",
    "level",
    "\"level\"",
    "info",
    "ERR",
    "null",
    "1e9",
    "-",
    "\n",
    "\t",
    "{\"a\":",
    "\"lvl\":\"wrn\"",
    "{\"",
    "\":\"",
    "\\é",
    "\\😀",
    "\\\"",
    "\\u00",
    "k=\"",
    "=\"\\",
];

#[test]
fn token_soup_never_panics() {
    use proptest::prelude::*;
    let strategy = proptest::collection::vec(proptest::sample::select(SOUP), 0..40).prop_map(|v| v.concat());
    crate::logql::fuzz::run(3_000, strategy, |line| {
        let stream = Vec::new();
        let mut b = crate::logql::pipeline::labels::LabelsBuilder::new(&stream, &[]);
        json::flatten(&line, &mut b);
        let mut b = crate::logql::pipeline::labels::LabelsBuilder::new(&stream, &[]);
        json::unpack(&line, &mut b);
        let mut b = crate::logql::pipeline::labels::LabelsBuilder::new(&stream, &[]);
        let opts = logfmt::LogfmtOpts { strict: true, keep_empty: true, params: Vec::new() };
        logfmt::parse(&line, &opts, &mut b);
        let got = level(r#"{app="a"}"#, &[], &line);
        if got.is_empty() {
            return Err(format!("no level for {line:?}"));
        }
        Ok(())
    });
}
