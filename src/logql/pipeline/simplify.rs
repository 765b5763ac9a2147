//! Loki's simplification of label-filter regexes (`| name=~"re"`): alternatives
//! of literals with `.*` around them turn into substring tests, and are then
//! NOT anchored (`a.*|b.*` keeps any value containing `a` or `b`), plain
//! literals into equality tests, `.*` into "always" and `.+` into "non-empty".
//! Go's regex parser factors common prefixes (`login|logout` is `log(?:in|out)`),
//! after which those literals also become substring tests. Anything else stays
//! an anchored regex.
//!
//! Used by `label_filter` when compiling string label filters.

/// One alternative of a simplified regex.
#[derive(Clone, Debug, PartialEq)]
pub enum Leg {
    Equal(String),
    Contains(String),
    True,
    Exists,
}

impl Leg {
    pub fn matches(&self, v: &str) -> bool {
        match self {
            Leg::Equal(s) => v == s,
            Leg::Contains(s) => v.contains(s.as_str()),
            Leg::True => true,
            Leg::Exists => !v.is_empty(),
        }
    }
}

const META: &[char] = &['.', '+', '*', '?', '(', ')', '|', '[', ']', '{', '}', '^', '$', '\\'];

/// Splits on `|` outside escapes; `None` when groups or classes are present.
fn alternatives(re: &str) -> Option<Vec<String>> {
    let mut out = vec![String::new()];
    let mut it = re.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => {
                let n = it.next()?;
                if n.is_ascii_alphanumeric() {
                    return None;
                }
                out.last_mut()?.push('\\');
                out.last_mut()?.push(n);
            }
            '|' => out.push(String::new()),
            '(' | ')' | '[' | ']' | '{' | '}' | '^' | '$' => return None,
            c => out.last_mut()?.push(c),
        }
    }
    Some(out)
}

/// The literal text of an alternative without metacharacters (escapes resolved).
fn literal(s: &str) -> Option<String> {
    let mut out = String::new();
    let mut it = s.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            out.push(it.next()?);
        } else if META.contains(&c) {
            return None;
        } else {
            out.push(c);
        }
    }
    Some(out)
}

enum Alt {
    Lit(String),
    Leg(Leg),
}

pub fn simplify(re: &str) -> Option<Vec<Leg>> {
    let alts = alternatives(re)?;
    let mut parsed = Vec::with_capacity(alts.len());
    for a in &alts {
        let p = match a.as_str() {
            "" | ".*" => Alt::Leg(Leg::True),
            ".+" => Alt::Leg(Leg::Exists),
            _ => {
                let (pre, rest) = match a.strip_prefix(".*") {
                    Some(r) => (true, r),
                    None => (false, a.as_str()),
                };
                let (post, mid) = match rest.strip_suffix(".*") {
                    Some(m) if !m.ends_with('\\') => (true, m),
                    _ => (false, rest),
                };
                let lit = literal(mid)?;
                if lit.is_empty() {
                    return None;
                }
                if pre || post {
                    Alt::Leg(Leg::Contains(lit))
                } else {
                    Alt::Lit(lit)
                }
            }
        };
        parsed.push(p);
    }
    let first = |i: usize| match parsed.get(i) {
        Some(Alt::Lit(s)) => s.chars().next(),
        Some(Alt::Leg(Leg::Contains(s))) if !alts[i].starts_with(".*") => s.chars().next(),
        _ => None,
    };
    let mut out = Vec::with_capacity(parsed.len());
    for (i, p) in parsed.iter().enumerate() {
        match p {
            Alt::Leg(l) => out.push(l.clone()),
            Alt::Lit(s) => {
                let c = s.chars().next();
                let shared = (i > 0 && first(i - 1) == c) || first(i + 1) == c;
                if shared && parsed.len() > 1 {
                    // a shared prefix with a non-literal leg makes Go's tree unsimplifiable
                    let neighbour_leg = [i.wrapping_sub(1), i + 1]
                        .iter()
                        .any(|&j| first(j) == c && matches!(parsed.get(j), Some(Alt::Leg(_))));
                    if neighbour_leg {
                        return None;
                    }
                    out.push(Leg::Contains(s.clone()));
                } else {
                    out.push(Leg::Equal(s.clone()));
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simplifies_like_loki() {
        assert_eq!(simplify("a.*|b.*").unwrap(), vec![Leg::Contains("a".into()), Leg::Contains("b".into())]);
        assert_eq!(simplify("0.*").unwrap(), vec![Leg::Contains("0".into())]);
        assert_eq!(simplify("error").unwrap(), vec![Leg::Equal("error".into())]);
        assert_eq!(
            simplify("login|logout").unwrap(),
            vec![Leg::Contains("login".into()), Leg::Contains("logout".into())]
        );
        assert_eq!(simplify("info|warn").unwrap(), vec![Leg::Equal("info".into()), Leg::Equal("warn".into())]);
        assert_eq!(simplify(".+").unwrap(), vec![Leg::Exists]);
        assert_eq!(simplify(r"a\.b").unwrap(), vec![Leg::Equal("a.b".into())]);
        assert!(simplify("[0-9]+").is_none());
        assert!(simplify(r"\d").is_none());
        assert!(simplify("(?i)x").is_none());
    }
}
