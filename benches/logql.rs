//! `cargo bench --bench logql`: the LogQL pipeline per entry, without storage or
//! HTTP: line filters (`|=`, `|~`, `(?i)`, `or`), parsers (`json`, `logfmt`,
//! `pattern`, `regexp`) with a label filter, and `line_format`, in MB of lines per
//! second on one core. One table row and one JSON line per query.

use std::time::Instant;

use skald::loadgen::gen::{line, Kind, Rng};
use skald::logql::{parse, Expr};

const LINES: usize = 200_000;

fn corpus(kind: Kind) -> Vec<String> {
    let mut rng = Rng::new(11);
    (0..LINES)
        .map(|_| {
            let mut s = String::new();
            line(&mut rng, kind, 200, &mut s);
            s
        })
        .collect()
}

fn main() {
    let (logfmt, json, nginx) = (corpus(Kind::Logfmt), corpus(Kind::Json), corpus(Kind::Nginx));
    let stream = vec![("app".to_string(), "bench".to_string())];
    let cases: [(&str, &Vec<String>); 10] = [
        (r#"{app="bench"} |= "needle-that-never-matches""#, &logfmt),
        (r#"{app="bench"} |= "upstream timeout""#, &logfmt),
        (r#"{app="bench"} |~ "(?i)UPSTREAM""#, &logfmt),
        (r#"{app="bench"} |= "timeout" or "miss""#, &logfmt),
        (r#"{app="bench"} != "info" |~ "status=5\\d\\d""#, &logfmt),
        (r#"{app="bench"} | logfmt | level="error""#, &logfmt),
        (r#"{app="bench"} | json | level="error""#, &json),
        (r#"{app="bench"} | json http_status="http.status" | http_status >= 500"#, &json),
        (
            r#"{app="bench"} | pattern "<ip> - - [<_>] \"<method> <path> <_>\" <status> <size> <_>" | status >= 400"#,
            &nginx,
        ),
        (r#"{app="bench"} | logfmt | line_format "{{.level}} {{.path}} {{.status}}""#, &logfmt),
    ];
    println!("{:<100} {:>8} {:>8}", "query", "MB/s", "kept");
    for (q, lines) in cases {
        let Ok(Expr::Log(e)) = parse(q) else { panic!("a log query: {q}") };
        let raw: usize = lines.iter().map(String::len).sum();
        let t = Instant::now();
        let mut kept = 0usize;
        for (i, l) in lines.iter().enumerate() {
            if e.pipeline.process(i as i64, l, &stream, &[]).is_some() {
                kept += 1;
            }
        }
        let mbs = raw as f64 / t.elapsed().as_secs_f64() / 1e6;
        println!("{q:<100} {mbs:>8.0} {kept:>8}");
        println!("{}", serde_json::json!({"bench": "logql_pipeline", "query": q, "mb_per_s": mbs, "kept": kept}));
    }
}
