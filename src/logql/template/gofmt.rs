//! Go formatting helpers for templates: `printf` verbs, URL query escaping and base64.
//!
//! Called by `funcs` and `value`.

use super::value::{go_float, Value};

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %f %e %g %q %x %X %t %c %%`,
/// with flags `-`, `0`, `+`, width and precision.
pub fn printf(f: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = f.chars().peekable();
    let mut ai = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero, mut plus) = (false, false, false);
        while let Some(&fl) = it.peek() {
            match fl {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width = String::new();
        while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                it.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        ai += 1;
        let body = match (verb, arg) {
            ('s' | 'v', Value::Float(x)) if prec.is_none() => go_float(*x),
            ('s' | 'v', v) => {
                let t = v.to_text();
                match prec {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            ('d', Value::Int(i)) => {
                if plus && *i >= 0 {
                    format!("+{i}")
                } else {
                    i.to_string()
                }
            }
            ('f' | 'F', Value::Float(_) | Value::Int(_)) => {
                format!("{:.*}", prec.unwrap_or(6), arg.to_float_lenient())
            }
            ('e', Value::Float(_) | Value::Int(_)) => {
                let s = format!("{:.*e}", prec.unwrap_or(6), arg.to_float_lenient());
                match s.split_once('e') {
                    Some((m, e)) => {
                        let n: i32 = e.parse().unwrap_or(0);
                        format!("{m}e{}{:02}", if n < 0 { '-' } else { '+' }, n.abs())
                    }
                    None => s,
                }
            }
            ('g', Value::Float(x)) => go_float(*x),
            ('q', v) => format!("{:?}", v.to_text()),
            ('x', Value::Int(i)) => format!("{i:x}"),
            ('X', Value::Int(i)) => format!("{i:X}"),
            ('x', v) => v.to_text().bytes().map(|b| format!("{b:02x}")).collect(),
            ('t', Value::Bool(b)) => b.to_string(),
            ('c', Value::Int(i)) => char::from_u32(*i as u32).map(String::from).unwrap_or_default(),
            (verb, v) => {
                let ty = match v {
                    Value::Str(_) => "string",
                    Value::Int(_) => "int",
                    Value::Float(_) => "float64",
                    Value::Bool(_) => "bool",
                    Value::Time(_) => "time.Time",
                    Value::Nil => "<nil>",
                };
                format!("%!{verb}({ty}={})", v.to_text())
            }
        };
        let w: usize = width.parse().unwrap_or(0);
        let n = body.chars().count();
        if n >= w {
            out.push_str(&body);
        } else if left {
            out.push_str(&body);
            out.push_str(&" ".repeat(w - n));
        } else if zero && matches!(verb, 'd' | 'f' | 'e' | 'g') {
            let (sign, digits) = if let Some(d) = body.strip_prefix('-') { ("-", d) } else { ("", body.as_str()) };
            out.push_str(sign);
            out.push_str(&"0".repeat(w - n));
            out.push_str(digits);
        } else {
            out.push_str(&" ".repeat(w - n));
            out.push_str(&body);
        }
    }
    if ai < args.len() {
        out.push_str("%!(EXTRA ");
        out.push_str(&args[ai..].iter().map(|a| a.to_text()).collect::<Vec<_>>().join(", "));
        out.push(')');
    }
    out
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Go's `url.QueryUnescape`.
pub fn query_unescape(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = s.get(i + 1..i + 3).ok_or_else(|| format!("invalid URL escape {:?}", &s[i..]))?;
                out.push(u8::from_str_radix(h, 16).map_err(|_| format!("invalid URL escape \"%{h}\""))?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub fn b64enc(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for ch in data.chunks(3) {
        let n =
            (u32::from(ch[0]) << 16) | (u32::from(*ch.get(1).unwrap_or(&0)) << 8) | u32::from(*ch.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= ch.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Sprig's `b64dec`: the decoded text, or the Go error text as the value.
pub fn b64dec(s: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for (i, c) in s.bytes().enumerate() {
        if c == b'=' {
            break;
        }
        let v = B64.iter().position(|&x| x == c).ok_or_else(|| format!("illegal base64 data at input byte {i}"))?;
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            printf(
                "%-6s|%5s|%s|%05.1f|%q",
                &[
                    Value::Str("GET".into()),
                    Value::Str("200".into()),
                    Value::Int(3),
                    Value::Float(2.25),
                    Value::Str("x".into())
                ]
            ),
            "GET   |  200|3|002.2|\"x\""
        );
        assert_eq!(b64dec(&b64enc(b"hello!?")).unwrap(), b"hello!?");
        assert_eq!(query_unescape(&query_escape("a b/ü")).unwrap(), "a b/ü");
    }
}
