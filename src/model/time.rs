//! Time and unit parsing with Loki's rules: query timestamps, Prometheus/Go
//! durations and humanized byte sizes, plus RFC 3339 rendering for error texts.

use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Parses a query timestamp: an integer of ten digits or fewer is seconds, a longer
/// integer is nanoseconds, a number with a `.` is float seconds (rounded to ms),
/// anything else RFC 3339. Returns Unix nanoseconds.
pub fn parse_timestamp(s: &str) -> Result<i64, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<i64>() {
        let digits = s.trim_start_matches('-').len();
        return Ok(if digits <= 10 { n.saturating_mul(NANOS_PER_SEC) } else { n });
    }
    if s.contains('.') {
        if let Ok(f) = s.parse::<f64>() {
            if f.is_finite() {
                let ms = (f * 1000.0).round();
                return Ok((ms as i64).saturating_mul(1_000_000));
            }
        }
    }
    match OffsetDateTime::parse(s, &Rfc3339) {
        Ok(t) => Ok(t.unix_timestamp_nanos().clamp(i64::MIN as i128, i64::MAX as i128) as i64),
        Err(_) => Err(format!("strconv.ParseInt: parsing {s:?}: invalid syntax")),
    }
}

/// Renders Unix nanoseconds as RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`).
pub fn rfc3339_nano(ns: i64) -> String {
    rfc3339_i128(ns as i128)
}

fn rfc3339_i128(ns: i128) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(ns).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let mut s = t.format(&Rfc3339).unwrap_or_default();
    // `time` prints fractions fully; Go trims trailing zeros, which `time` also does. Keep as is.
    if s.ends_with("+00:00") {
        s.truncate(s.len() - 6);
        s.push('Z');
    }
    s
}

/// Renders Unix nanoseconds as RFC 3339 in whole seconds (Go's `time.RFC3339`).
pub fn rfc3339_secs(ns: i64) -> String {
    // in i128: rounding i64::MIN down to a whole second does not fit in i64
    let per_sec = NANOS_PER_SEC as i128;
    rfc3339_i128((ns as i128).div_euclid(per_sec) * per_sec)
}

/// Parses a Prometheus duration (`1h30m`, `5m`, `1d`, `2w`, `1y`) or a Go duration
/// (`1.5h`, `300ms`, `10us`, `-2s`). Returns signed nanoseconds.
pub fn parse_duration_ns(s: &str) -> Result<i64, String> {
    let bad = || format!("not a valid duration string: \"{s}\"");
    let t = s.trim();
    let (neg, mut rest) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if rest == "0" {
        return Ok(0);
    }
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total: f64 = 0.0;
    while !rest.is_empty() {
        let num_end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        if num_end == 0 {
            return Err(bad());
        }
        let num: f64 = rest[..num_end].parse().map_err(|_| bad())?;
        rest = &rest[num_end..];
        let unit_end = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let unit = &rest[..unit_end];
        rest = &rest[unit_end..];
        let mult: f64 = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "d" => 86400e9,
            "w" => 7.0 * 86400e9,
            "y" => 365.0 * 86400e9,
            _ => return Err(bad()),
        };
        total += num * mult;
    }
    if total > i64::MAX as f64 {
        return Err(bad());
    }
    let v = total.round() as i64;
    Ok(if neg { -v } else { v })
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let ns = parse_duration_ns(s)?;
    if ns < 0 {
        return Err(format!("not a valid duration string: \"{s}\""));
    }
    Ok(Duration::from_nanos(ns as u64))
}

/// Formats a duration the way Prometheus' `model.Duration` prints it (`1h`, `30d1h`, `5m30s`).
pub fn format_prom_duration(d: Duration) -> String {
    let mut ms = d.as_millis() as u64;
    if ms == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    // Years and weeks only when exact, as Prometheus does ("90d" reads better than "12w6d").
    for (unit, len, exact) in [
        ("y", 365 * 86_400_000u64, true),
        ("w", 7 * 86_400_000, true),
        ("d", 86_400_000, false),
        ("h", 3_600_000, false),
        ("m", 60_000, false),
        ("s", 1000, false),
        ("ms", 1, false),
    ] {
        if ms >= len && (!exact || ms.is_multiple_of(len)) {
            out.push_str(&format!("{}{unit}", ms / len));
            ms %= len;
        }
    }
    out
}

/// Formats nanoseconds like Go's `time.Duration.String()` (`834h20m0s`, `1.5s`, `0s`).
pub fn go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let s = if u < 1_000 {
        format!("{u}ns")
    } else if u < 1_000_000 {
        format!("{}µs", trim_frac(u as f64 / 1e3))
    } else if u < 1_000_000_000 {
        format!("{}ms", trim_frac(u as f64 / 1e6))
    } else {
        let (h, rem) = (u / 3_600_000_000_000, u % 3_600_000_000_000);
        let (m, rem) = (rem / 60_000_000_000, rem % 60_000_000_000);
        let secs = trim_frac(rem as f64 / 1e9);
        match (h, m) {
            (0, 0) => format!("{secs}s"),
            (0, m) => format!("{m}m{secs}s"),
            (h, m) => format!("{h}h{m}m{secs}s"),
        }
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

fn trim_frac(v: f64) -> String {
    let s = format!("{v:.9}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Parses a humanized byte size (`256KB` = 256000, `1MiB` = 1048576, `100` = 100).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let bad = || format!("invalid byte size \"{s}\"");
    let num_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let num: f64 = t[..num_end].parse().map_err(|_| bad())?;
    let unit = t[num_end..].trim().to_ascii_lowercase();
    let mult: f64 = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "m" | "mb" => 1e6,
        "g" | "gb" => 1e9,
        "t" | "tb" => 1e12,
        "p" | "pb" => 1e15,
        "ki" | "kib" => 1024.0,
        "mi" | "mib" => 1024.0 * 1024.0,
        "gi" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "ti" | "tib" => 1024f64.powi(4),
        "pi" | "pib" => 1024f64.powi(5),
        _ => return Err(bad()),
    };
    Ok((num * mult) as u64)
}

/// Renders bytes as Loki's `flagext.ByteSize` does in texts: base-2 units, each
/// non-zero unit listed (`3MiB`, `1KiB476B`, `0B`).
pub fn base2_bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n == 0 {
        return "0B".into();
    }
    let (mut parts, mut rest) = (Vec::new(), n);
    for unit in UNITS {
        if rest % 1024 != 0 {
            parts.push(format!("{}{unit}", rest % 1024));
        }
        rest /= 1024;
        if rest == 0 {
            break;
        }
    }
    parts.reverse();
    parts.concat()
}

pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as i64).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_follow_loki_rules() {
        assert_eq!(parse_timestamp("1700000000").unwrap(), 1_700_000_000 * NANOS_PER_SEC);
        assert_eq!(parse_timestamp("1700000000000000000").unwrap(), 1_700_000_000_000_000_000);
        assert_eq!(parse_timestamp("1700000000.5").unwrap(), 1_700_000_000_500_000_000);
        assert_eq!(parse_timestamp("2023-11-14T22:13:20Z").unwrap(), 1_700_000_000 * NANOS_PER_SEC);
        assert!(parse_timestamp("yesterday").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("1h30m").unwrap(), 5400 * NANOS_PER_SEC);
        assert_eq!(parse_duration_ns("1.5s").unwrap(), 1_500_000_000);
        assert_eq!(parse_duration_ns("-5m").unwrap(), -300 * NANOS_PER_SEC);
        assert_eq!(parse_duration_ns("1d").unwrap(), 86400 * NANOS_PER_SEC);
        assert!(parse_duration_ns("5x").is_err());
        assert!(parse_duration_ns("").is_err());
        assert_eq!(go_duration(834 * 3600 * NANOS_PER_SEC + 20 * 60 * NANOS_PER_SEC), "834h20m0s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(300 * NANOS_PER_SEC), "5m0s");
        assert_eq!(format_prom_duration(Duration::from_secs(721 * 3600)), "30d1h");
        assert_eq!(format_prom_duration(Duration::from_secs(14 * 86400)), "2w");
    }

    #[test]
    fn bytes() {
        assert_eq!(parse_bytes("256KB").unwrap(), 256_000);
        assert_eq!(parse_bytes("1MiB").unwrap(), 1 << 20);
        assert_eq!(parse_bytes("3MB").unwrap(), 3_000_000);
        assert_eq!(parse_bytes("42").unwrap(), 42);
        assert!(parse_bytes("lots").is_err());
        assert_eq!(base2_bytes(3 << 20), "3MiB");
        assert_eq!(base2_bytes(1500), "1KiB476B");
        assert_eq!(base2_bytes(0), "0B");
    }

    #[test]
    fn rfc3339() {
        assert_eq!(rfc3339_nano(1_700_000_000 * NANOS_PER_SEC), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_secs(1_700_000_000 * NANOS_PER_SEC + 5), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_secs(i64::MIN), "1677-09-21T00:12:43Z", "found by the push fuzz property");
    }
}
