//! Go time handling for templates: `time.Time` printing and Go date layouts
//! (`2006-01-02 15:04:05`, `Jan`, `Z07:00`...) for `date` and `toDate`.
//!
//! Called by `funcs` and `value`.

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts() {
        assert_eq!(go_time_string(1_500_000_000), "1970-01-01 00:00:01.5 +0000 UTC");
        let t = parse_time("2006-01-02T15:04:05Z07:00", "2024-03-12T08:09:42+01:00").unwrap();
        assert_eq!(format_time("2006-01-02 15:04:05 Jan Mon", t), "2024-03-12 07:09:42 Mar Tue");
    }
}
