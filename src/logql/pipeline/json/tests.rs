use super::*;

fn run(line: &'static str, f: impl FnOnce(&'static str, &mut LabelsBuilder<'static>)) -> Vec<(String, String)> {
    let stream: &'static [(String, String)] =
        Box::leak(vec![("level".to_string(), "x".to_string())].into_boxed_slice());
    let mut b = LabelsBuilder::new(stream, &[]);
    f(line, &mut b);
    b.finish().into_iter().map(|(k, v, _)| (k.into_owned(), v.into_owned())).collect()
}

#[test]
fn flattens_and_keeps_partial() {
    let got = run(r#"{"a":{"b":1,"c-d":"x\"y"},"arr":[1],"n":null,"level":"i","t":true}"#, |l, b| flatten(l, b));
    let names: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, vec!["a_b", "a_c_d", "level", "level_extracted", "t"]);
    assert_eq!(got[1].1, "x\"y");
    let got = run(r#"{"level":"warn","msg":"trunc"#, |l, b| flatten(l, b));
    assert!(got.iter().any(|(k, v)| k == "__error__" && v == JSON_ERR));
    assert!(got.iter().any(|(k, v)| k == "level_extracted" && v == "warn"));
}

#[test]
fn params_paths() {
    let ps = vec![
        ("x".to_string(), parse_path("a.b").unwrap()),
        ("o".to_string(), parse_path("a").unwrap()),
        ("t".to_string(), parse_path("tags[1]").unwrap()),
        ("m".to_string(), parse_path("nope").unwrap()),
    ];
    let got = run(r#"{"a":{"b":"v"},"tags":["p","q"]}"#, move |l, b| extract(l, &ps, b));
    assert!(got.contains(&("x".into(), "v".into())));
    assert!(got.contains(&("o".into(), r#"{"b":"v"}"#.into())));
    assert!(got.contains(&("t".into(), "q".into())));
    assert!(got.contains(&("m".into(), "".into())));
}

#[test]
fn unpacks_entry() {
    let stream = vec![];
    let mut b = LabelsBuilder::new(&stream, &[]);
    let line = r#"{"_entry":"GET / 200","container":"envoy"}"#;
    assert_eq!(unpack(line, &mut b).as_deref(), Some("GET / 200"));
    assert_eq!(b.get("container"), Some("envoy"));
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let stream = vec![];
    for deep in ["{\"a\":".repeat(100_000), "{\"a\":[".repeat(50_000), format!("{{\"a\":{}", "[".repeat(100_000))] {
        let mut b = LabelsBuilder::new(&stream, &[]);
        flatten(&deep, &mut b);
        assert!(b.has_err(), "flatten");
        let mut b = LabelsBuilder::new(&stream, &[]);
        extract(&deep, &[("x".to_string(), parse_path("a").unwrap())], &mut b);
        assert!(b.has_err(), "extract");
    }
    // as deep as allowed still parses
    let ok = format!("{}1{}", "{\"a\":".repeat(MAX_DEPTH), "}".repeat(MAX_DEPTH));
    let mut b = LabelsBuilder::new(&stream, &[]);
    flatten(&ok, &mut b);
    assert!(!b.has_err());
}

#[test]
fn escapes_before_non_ascii_and_cut_lines_do_not_panic() {
    let stream = vec![];
    let lines = [
        r#"{"m":"\é"}"#,
        r#"{"\é":"v"}"#,
        r#"{"m":"\"#,
        r#"{"m":"\u00"#,
        r#"{"m":"\u00é9"}"#,
        "{\"m\":\"\\\u{1F600}x\"}",
    ];
    for line in lines {
        for cut in (0..=line.len()).filter(|i| line.is_char_boundary(*i)) {
            let part = &line[..cut];
            let mut b = LabelsBuilder::new(&stream, &[]);
            flatten(part, &mut b);
            let _ = find_string_field(part, &|_| true, 0);
            let mut b = LabelsBuilder::new(&stream, &[]);
            extract(part, &[("x".to_string(), parse_path("m").unwrap())], &mut b);
        }
    }
    let mut b = LabelsBuilder::new(&stream, &[]);
    flatten(r#"{"m":"\é"}"#, &mut b);
    assert_eq!(b.get("m"), Some("é"));
}
