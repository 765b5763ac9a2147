//! A Go `text/template` engine for `line_format` and `label_format`: the subset
//! Loki users write (fields, `if/else`, pipelines, Go builtins) and Loki's
//! template functions (sprig subset plus its own).
//!
//! `pipeline::format` parses templates at query parse time with
//! [`Template::parse`] and renders them per line with [`Template::render`].

mod exec;
mod funcs;
mod funcs_math;
mod gofmt;
mod gotime;
mod parse;
mod value;

pub use value::Value;

/// What a template can see: labels as `.name`, `__line__`, `__timestamp__`.
pub trait Context {
    fn label(&self, name: &str) -> Option<&str>;
    fn line(&self) -> &str;
    fn timestamp_ns(&self) -> i64;
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("template: {0}")]
    Parse(String),
    #[error("template: error calling {func}: {msg}")]
    Call { func: String, msg: String },
    #[error("template: {0}")]
    Exec(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<parse::Node>,
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        Ok(Template { nodes: parse::parse(src, &funcs::exists)? })
    }

    pub fn render(&self, ctx: &dyn Context, out: &mut String) -> Result<(), TemplateError> {
        exec::run(&self.nodes, ctx, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Ctx(Vec<(&'static str, &'static str)>);
    impl Context for Ctx {
        fn label(&self, name: &str) -> Option<&str> {
            self.0.iter().find(|(k, _)| *k == name).map(|(_, v)| *v)
        }
        fn line(&self) -> &str {
            "the line"
        }
        fn timestamp_ns(&self) -> i64 {
            1_700_000_000_123_000_000
        }
    }

    fn r(t: &str) -> String {
        let ctx = Ctx(vec![("a", "x"), ("n", "10016"), ("s", "200"), ("p", "/api/v1"), ("f", "1.5")]);
        let mut out = String::new();
        Template::parse(t).unwrap().render(&ctx, &mut out).map(|_| out).unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn fields_and_control() {
        assert_eq!(r("{{.a}}-{{ .missing }}-{{ __line__ }}"), "x--the line");
        assert_eq!(r(r#"{{ if eq .a "y" }}Y{{ else if eq .a "x" }}X{{ else }}-{{ end }}"#), "X");
        assert_eq!(r("  {{- .a -}}  !"), "x!");
        assert_eq!(r(r#"{{ .a | upper }} {{ "AbC" | lower }} {{ printf "%-4s|%3s|%d" .a .s 7 }}"#), "X abc x   |200|7");
        assert_eq!(
            r("{{ div .n 1024 }} {{ mul .s 2 }} {{ add 1 2 }} {{ sub .s 100 }} {{ mod .n 7 }}"),
            "9 400 3 100 6"
        );
        assert_eq!(r("{{ addf .f 1 }} {{ mulf 2 .f }} {{ divf 1 4 }}"), "2.5 3 0.25");
        assert_eq!(r("{{ unixEpoch __timestamp__ }} {{ unixEpochMillis __timestamp__ }}"), "1700000000 1700000000123");
        assert_eq!(r(r#"{{ __timestamp__ | date "2006-01-02T15:04:05Z07:00" }}"#), "2023-11-14T22:13:20Z");
        assert_eq!(r(r#"{{ default "none" .missing }} {{ if contains "v1" .p }}v1{{ end }}"#), "none v1");
        assert_eq!(r(r#"{{ .p | urlencode }} {{ "x" | b64enc }} {{ "eA==" | b64dec }}"#), "%2Fapi%2Fv1 eA== x");
        assert_eq!(
            r(r#"{{ count "[0-9]" "a1b22" }} {{ len "abc" }} {{ int "42" }} {{ float64 "1.5" }}"#),
            "3 3 42 1.5"
        );
        assert_eq!(r(r#"{{ duration "1.5s" }} {{ bytes "1.4MB" }} {{ bytes "204KB" }}"#), "1.5 1.4e+06 204000");
        assert_eq!(
            r(r#"{{ trunc 2 "héllo" }}|{{ substr 1 3 "hello" }}|{{ replace "l" "L" "hello" }}"#),
            "h\u{FFFD}|el|heLLo"
        );
        assert_eq!(
            r(r#"{{ regexReplaceAll "(a)(x)?" "cab" "[$1]" }} {{ alignLeft 3 "abcdef" }}{{ alignRight 4 "ab" }}"#),
            "c[a]b abc  ab"
        );
        assert_eq!(
            r(r#"{{ and .a "" }}|{{ or "" .a }}|{{ not true }}|{{ ne 1 2 }}|{{ lt 1 2 }}"#),
            "|x|false|true|true"
        );
        assert!(r(r#"{{ duration "" }}"#).starts_with("ERR"));
        assert!(Template::parse("{{ nosuchfn 1 }}").is_err());
        assert!(Template::parse("{{ if .a }}x").is_err());
    }
}
