//! Go formatting helpers for templates: `printf` verbs, `time.Time` printing,
//! Go date layouts (`2006-01-02 15:04:05`), URL query escaping and base64.
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

fn dt(ns: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns)).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Go's `time.Time.String()` in UTC: `2006-01-02 15:04:05.999999999 +0000 UTC`.
pub fn go_time_string(ns: i64) -> String {
    format_time("2006-01-02 15:04:05.999999999 -0700 MST", ns)
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// Layout tokens, longest first.
const TOKENS: &[&str] = &[
    "January",
    "Monday",
    "2006",
    "Z07:00",
    "-07:00",
    "-0700",
    ".000000000",
    ".999999999",
    ".000000",
    ".999999",
    ".000",
    ".999",
    "Jan",
    "Mon",
    "MST",
    "01",
    "02",
    "_2",
    "15",
    "03",
    "04",
    "05",
    "06",
    "PM",
    "pm",
    "1",
    "2",
    "3",
    "4",
    "5",
];

/// Formats UTC time with a Go layout.
pub fn format_time(layout: &str, ns: i64) -> String {
    let t = dt(ns);
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for tok in TOKENS {
            if let Some(r) = rest.strip_prefix(tok) {
                let h12 = match t.hour() % 12 {
                    0 => 12,
                    h => h,
                };
                let frac = |digits: usize, trim: bool| {
                    let f = format!("{:09}", t.nanosecond());
                    let f = &f[..digits];
                    let f = if trim { f.trim_end_matches('0') } else { f };
                    if f.is_empty() {
                        String::new()
                    } else {
                        format!(".{f}")
                    }
                };
                out.push_str(&match *tok {
                    "January" => MONTHS[t.month() as usize - 1].to_string(),
                    "Jan" => MONTHS[t.month() as usize - 1][..3].to_string(),
                    "Monday" => DAYS[t.weekday().number_days_from_monday() as usize].to_string(),
                    "Mon" => DAYS[t.weekday().number_days_from_monday() as usize][..3].to_string(),
                    "2006" => format!("{:04}", t.year()),
                    "06" => format!("{:02}", t.year() % 100),
                    "01" => format!("{:02}", t.month() as u8),
                    "1" => (t.month() as u8).to_string(),
                    "02" => format!("{:02}", t.day()),
                    "_2" => format!("{:>2}", t.day()),
                    "2" => t.day().to_string(),
                    "15" => format!("{:02}", t.hour()),
                    "03" => format!("{h12:02}"),
                    "3" => h12.to_string(),
                    "04" => format!("{:02}", t.minute()),
                    "4" => t.minute().to_string(),
                    "05" => format!("{:02}", t.second()),
                    "5" => t.second().to_string(),
                    "PM" => (if t.hour() >= 12 { "PM" } else { "AM" }).to_string(),
                    "pm" => (if t.hour() >= 12 { "pm" } else { "am" }).to_string(),
                    "MST" => "UTC".to_string(),
                    "Z07:00" => "Z".to_string(),
                    "-07:00" => "+00:00".to_string(),
                    "-0700" => "+0000".to_string(),
                    t if t.starts_with(".0") => frac(t.len() - 1, false),
                    t => frac(t.len() - 1, true),
                });
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next().unwrap_or(' ');
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Parses text with a Go layout (numeric fields, month names, fractions, `Z`/offsets).
pub fn parse_time(layout: &str, text: &str) -> Option<i64> {
    let (mut y, mut mo, mut d, mut h, mut mi, mut s, mut ns, mut off) = (1i32, 1u8, 1u8, 0u8, 0u8, 0u8, 0u32, 0i64);
    let mut pm = None;
    let mut rest = layout;
    let mut tx = text;
    let num = |tx: &mut &str, max: usize| -> Option<u32> {
        let n = tx.bytes().take(max).take_while(u8::is_ascii_digit).count();
        let v = tx[..n].parse().ok()?;
        *tx = &tx[n..];
        Some(v)
    };
    'outer: while !rest.is_empty() {
        for tok in TOKENS {
            if let Some(r) = rest.strip_prefix(tok) {
                match *tok {
                    "2006" => y = num(&mut tx, 4)? as i32,
                    "06" => y = 2000 + num(&mut tx, 2)? as i32,
                    "01" | "1" => mo = num(&mut tx, 2)? as u8,
                    "02" | "2" | "_2" => {
                        tx = tx.trim_start_matches(' ');
                        d = num(&mut tx, 2)? as u8
                    }
                    "15" | "03" | "3" => h = num(&mut tx, 2)? as u8,
                    "04" | "4" => mi = num(&mut tx, 2)? as u8,
                    "05" | "5" => {
                        s = num(&mut tx, 2)? as u8;
                        if !r.starts_with('.') && tx.starts_with('.') {
                            tx = &tx[1..];
                            let n = tx.bytes().take_while(u8::is_ascii_digit).count();
                            ns = format!("{:0<9}", &tx[..n.min(9)]).parse().ok()?;
                            tx = &tx[n..];
                        }
                    }
                    "January" | "Jan" => {
                        let i = MONTHS.iter().position(|m| tx.starts_with(if *tok == "Jan" { &m[..3] } else { m }))?;
                        tx = &tx[if *tok == "Jan" { 3 } else { MONTHS[i].len() }..];
                        mo = i as u8 + 1;
                    }
                    "Monday" | "Mon" => {
                        let i = DAYS.iter().position(|m| tx.starts_with(if *tok == "Mon" { &m[..3] } else { m }))?;
                        tx = &tx[if *tok == "Mon" { 3 } else { DAYS[i].len() }..];
                    }
                    "PM" | "pm" => {
                        pm = Some(tx.get(..2)?.eq_ignore_ascii_case("pm"));
                        tx = &tx[2..];
                    }
                    "MST" => tx = tx.trim_start_matches(|c: char| c.is_ascii_uppercase()),
                    "Z07:00" | "-07:00" | "-0700" => {
                        if let Some(t2) = tx.strip_prefix('Z') {
                            tx = t2;
                        } else {
                            let sign = if tx.starts_with('-') { -1 } else { 1 };
                            tx = tx.get(1..)?;
                            let hh = num(&mut tx, 2)?;
                            tx = tx.strip_prefix(':').unwrap_or(tx);
                            let mm = num(&mut tx, 2)?;
                            off = sign * (i64::from(hh) * 3600 + i64::from(mm) * 60);
                        }
                    }
                    _ => {
                        tx = tx.strip_prefix('.')?;
                        let n = tx.bytes().take_while(u8::is_ascii_digit).count();
                        ns = format!("{:0<9}", &tx[..n.min(9)]).parse().ok()?;
                        tx = &tx[n..];
                    }
                }
                rest = r;
                continue 'outer;
            }
        }
        let c = rest.chars().next()?;
        tx = tx.strip_prefix(c)?;
        rest = &rest[c.len_utf8()..];
    }
    if let Some(p) = pm {
        h = h % 12 + if p { 12 } else { 0 };
    }
    let date = time::Date::from_calendar_date(y, time::Month::try_from(mo).ok()?, d).ok()?;
    let t = date.with_hms_nano(h, mi, s, ns).ok()?.assume_utc();
    Some((t.unix_timestamp_nanos() as i64).saturating_sub(off * 1_000_000_000))
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
        assert_eq!(go_time_string(1_500_000_000), "1970-01-01 00:00:01.5 +0000 UTC");
        let t = parse_time("2006-01-02T15:04:05Z07:00", "2024-03-12T08:09:42+01:00").unwrap();
        assert_eq!(format_time("2006-01-02 15:04:05 Jan Mon", t), "2024-03-12 07:09:42 Mar Tue");
        assert_eq!(b64dec(&b64enc(b"hello!?")).unwrap(), b"hello!?");
        assert_eq!(query_unescape(&query_escape("a b/ü")).unwrap(), "a b/ü");
    }
}
