//! A Loki logging handler from PyPI (python-logging-loki) pushes through Skald
//! unchanged, and its lines come back through query_range.

mod common;

use std::process::Command;

use common::{client, Skald};
use serde_json::Value;

#[test]
fn python_logging_loki_pushes_through_skald() {
    let s = Skald::start("auth_enabled: false\n");
    let script = format!(
        r#"
import logging, logging_loki
handler = logging_loki.LokiHandler(url="{}", tags={{"application": "pyapp"}}, version="1")
log = logging.getLogger("skald-test")
log.setLevel(logging.INFO)
log.addHandler(handler)
for i in range(5):
    log.info("hello from python %d", i)
log.warning("careful", extra={{"tags": {{"component": "billing"}}}})
"#,
        s.url("/loki/api/v1/push")
    );
    let out = Command::new("python3").args(["-c", &script]).output().expect("python3");
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "the handler reported an error: {}", String::from_utf8_lossy(&out.stderr));

    let v: Value = client()
        .get(s.url("/loki/api/v1/query_range"))
        .query(&[("query", r#"{application="pyapp"}"#), ("direction", "forward")])
        .send()
        .unwrap()
        .json()
        .unwrap();
    let mut lines = Vec::new();
    for st in v["data"]["result"].as_array().unwrap() {
        for e in st["values"].as_array().unwrap() {
            lines.push((e[0].as_str().unwrap().to_string(), e[1].as_str().unwrap().to_string(), st["stream"].clone()));
        }
    }
    lines.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let texts: Vec<&str> = lines.iter().map(|(_, l, _)| l.as_str()).collect();
    assert_eq!(
        texts,
        vec![
            "hello from python 0",
            "hello from python 1",
            "hello from python 2",
            "hello from python 3",
            "hello from python 4",
            "careful"
        ]
    );
    let warn = &lines[5].2;
    assert_eq!(warn["severity"], "warning");
    assert_eq!(warn["component"], "billing");
}
