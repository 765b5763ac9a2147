//! Parameter paths of `| json a="x.y[0][\"k\"]"`: parsed once at query parse
//! time, followed by `json::extract` per line.

/// One step of a `| json` parameter path.
#[derive(Clone, Debug, PartialEq)]
pub enum PathElem {
    Key(String),
    Index(usize),
}

/// Parses a parameter expression: `a.b`, `list[0]`, `m["k"]`, combinations.
pub fn parse_path(expr: &str) -> Result<Vec<PathElem>, String> {
    let bad = || format!("cannot parse json expression: {expr}");
    let mut out = Vec::new();
    let b = expr.as_bytes();
    let mut i = 0;
    let mut key = String::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                if !key.is_empty() {
                    out.push(PathElem::Key(std::mem::take(&mut key)));
                }
                i += 1;
            }
            b'[' => {
                if !key.is_empty() {
                    out.push(PathElem::Key(std::mem::take(&mut key)));
                }
                if b.get(i + 1) == Some(&b'"') {
                    let (s, end) = crate::model::quote::read_quoted(expr, i + 1).map_err(|_| bad())?;
                    if b.get(end) != Some(&b']') {
                        return Err(bad());
                    }
                    out.push(PathElem::Key(s));
                    i = end + 1;
                } else {
                    let end = expr[i..].find(']').ok_or_else(bad)? + i;
                    out.push(PathElem::Index(expr[i + 1..end].trim().parse().map_err(|_| bad())?));
                    i = end + 1;
                }
            }
            _ => {
                let ch = expr[i..].chars().next().unwrap_or(' ');
                key.push(ch);
                i += ch.len_utf8();
            }
        }
    }
    if !key.is_empty() {
        out.push(PathElem::Key(key));
    }
    if out.is_empty() {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_paths() {
        assert_eq!(
            parse_path(r#"a.b[0]["k"]"#).unwrap(),
            vec![PathElem::Key("a".into()), PathElem::Key("b".into()), PathElem::Index(0), PathElem::Key("k".into())]
        );
        assert!(parse_path("a[x]").is_err());
    }
}
