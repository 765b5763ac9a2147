use super::*;
use crate::model::Entry;

fn labels(s: &str) -> Labels {
    Labels::parse(s).unwrap()
}

#[test]
fn labels_with_only_identifier_values_are_not_offered() {
    let series = [
        labels(r#"{app="api", shard="1", req="0b7e5d5c-3c1a-4a8e-9d55-1f0f5e1b2c3d", flag="0", pod="7"}"#),
        labels(r#"{app="web", shard="2", req="{0B7E5D5C-3C1A-4A8E-9D55-1F0F5E1B2C3E}", flag="1", pod="8"}"#),
        labels(r#"{app="db", shard="3.5", req="0b7e5d5c3c1a4a8e9d551f0f5e1b2c3f", flag="1", pod="9"}"#),
    ];
    let got = detected_labels(&series);
    let names: Vec<(&str, usize)> = got.iter().map(|l| (l.label.as_str(), l.cardinality)).collect();
    // shard: all numbers; req: all UUIDs (three spellings); pod is static, flag is 0/1
    assert_eq!(names, vec![("app", 3), ("flag", 2), ("pod", 3)]);
    // one value that is not an identifier keeps the label
    let mixed = [labels(r#"{shard="1"}"#), labels(r#"{shard="x"}"#), labels(r#"{shard="2"}"#)];
    assert_eq!(detected_labels(&mixed), vec![DetectedLabel { label: "shard".into(), cardinality: 3 }]);
    // three values of 0/1 and something numeric is not a flag
    let numeric = [labels(r#"{n="0"}"#), labels(r#"{n="1"}"#), labels(r#"{n="2"}"#)];
    assert!(detected_labels(&numeric).is_empty());
    assert!(detected_labels(&[]).is_empty());
}

#[test]
fn uuid_spellings() {
    assert!(is_uuid("0b7e5d5c-3c1a-4a8e-9d55-1f0f5e1b2c3d"));
    assert!(is_uuid("urn:uuid:0B7E5D5C-3C1A-4A8E-9D55-1F0F5E1B2C3D"));
    assert!(!is_uuid("0b7e5d5c-3c1a-4a8e-9d55-1f0f5e1b2c3"));
    assert!(!is_uuid("0b7e5d5c-3c1a4-a8e-9d55-1f0f5e1b2c3d"));
    assert!(!is_uuid("zb7e5d5c-3c1a-4a8e-9d55-1f0f5e1b2c3d"));
    assert!(!is_uuid("{0b7e5d5c-3c1a-4a8e-9d55-1f0f5e1b2c3d"));
    assert!(is_uuid("0B7E5D5C3C1A4A8E9D551F0F5E1B2C3D"));
    // the undashed form only stands alone
    assert!(!is_uuid("urn:uuid:0b7e5d5c3c1a4a8e9d551f0f5e1b2c3d"));
    assert!(!is_uuid("{0b7e5d5c3c1a4a8e9d551f0f5e1b2c3d}"));
}

#[test]
fn field_types_in_loki_order() {
    for (v, t) in [
        ("42", "int"),
        ("-7", "int"),
        ("0.5", "float"),
        ("1e3", "float"),
        ("true", "boolean"),
        ("F", "boolean"),
        ("15ms", "duration"),
        ("1h30m", "duration"),
        ("10KB", "bytes"),
        ("1.5 MiB", "bytes"),
        ("5d", "string"),
        ("1d2h", "string"),
        (" 5s", "string"),
        ("-1.5h", "duration"),
        ("1e400", "string"),
        ("-Inf", "float"),
        ("hello", "string"),
        ("", "string"),
    ] {
        assert_eq!(field_type(v), t, "{v:?}");
    }
}

fn group(stream: &str, structured: &[(&str, &str)], parsed: &[(&str, &str)], lines: &[&str]) -> StreamEntries {
    let l = labels(stream);
    let pairs = |p: &[(&str, &str)]| p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    StreamEntries {
        labels: l.clone(),
        stream: l,
        structured: pairs(structured),
        parsed: pairs(parsed),
        entries: lines.iter().enumerate().map(|(i, s)| Entry::new(i as i64, s.to_string())).collect(),
    }
}

#[test]
fn fields_from_metadata_json_and_logfmt() {
    let streams = [
        group(
            r#"{app="api", level="x"}"#,
            &[("trace_id", "abc")],
            &[],
            &["level=info took=15ms size=10KB n=3", "level=error took=2s msg=\"disk full\" n=4 bad"],
        ),
        group(r#"{app="web"}"#, &[], &[], &[r#"{"user":{"id":"u1"},"status":200,"ok":true}"#, "plain words only"]),
    ];
    let f = detected_fields(&streams, 1000, None);
    let view: Vec<(&str, &str, usize, Vec<&str>)> =
        f.iter().map(|(k, d)| (k.as_str(), d.kind, d.values.len(), d.parsers.clone())).collect();
    assert_eq!(
        view,
        vec![
            ("level_extracted", "string", 2, vec!["logfmt"]),
            ("msg", "string", 1, vec!["logfmt"]),
            ("n", "int", 2, vec!["logfmt"]),
            ("ok", "boolean", 1, vec!["json"]),
            ("size", "bytes", 1, vec!["logfmt"]),
            ("status", "int", 1, vec!["json"]),
            ("took", "duration", 2, vec!["logfmt"]),
            ("trace_id", "string", 1, vec![]),
            ("user_id", "string", 1, vec!["json"]),
        ]
    );
    // the field limit keeps the first names found; `only` collects one field
    assert_eq!(detected_fields(&streams, 2, None).len(), 2);
    let only = detected_fields(&streams, 1000, Some("took"));
    assert_eq!(only.keys().collect::<Vec<_>>(), vec!["took"]);
    assert_eq!(only["took"].values.iter().collect::<Vec<_>>(), vec!["15ms", "2s"]);
}

#[test]
fn query_extracted_labels_count_and_errors_do_not() {
    let streams = [group(
        r#"{app="api"}"#,
        &[],
        &[("status", "500"), ("__error__", "JSONParserErr"), ("__error_details__", "x")],
        &["not json and no pairs"],
    )];
    let f = detected_fields(&streams, 1000, None);
    assert_eq!(f.keys().collect::<Vec<_>>(), vec!["status"]);
    assert_eq!(f["status"].kind, "int");
    assert_eq!(f["status"].parsers, vec!["logfmt"], "a line that is not JSON counts as logfmt");
}

#[test]
fn metadata_counts_as_it_left_the_pipeline() {
    // the entry still carries `dropped`, but the query's `| drop` removed it from the group
    let mut g = group(r#"{app="api"}"#, &[("kept", "1")], &[], &["x=1"]);
    g.entries[0].metadata = vec![("kept".into(), "1".into()), ("dropped".into(), "2".into())];
    let f = detected_fields(&[g], 1000, None);
    assert_eq!(f.keys().collect::<Vec<_>>(), vec!["kept", "x"]);
    assert!(f["kept"].parsers.is_empty());
}

#[test]
fn odd_lines_do_not_break_detection() {
    let mut g = group(r#"{app="api"}"#, &[], &[], &[]);
    let deep = "{\"a\":".repeat(100_000);
    g.entries = vec![
        Entry::new(1, bytes::Bytes::from_static(b"k=\xff\xfe v=1")),
        Entry::new(2, deep),
        Entry::new(3, format!("{}=1", "k".repeat(10_000))),
    ];
    let f = detected_fields(&[g], 1000, None);
    assert_eq!(f["v"].kind, "int", "invalid UTF-8 is read lossily");
    assert!(f.contains_key(&"k".repeat(10_000)));
}
