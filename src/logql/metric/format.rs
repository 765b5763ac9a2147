//! Number and duration texts of metric queries: Prometheus float formatting for
//! sample values (`NaN`, `+Inf`, shortest round-trip digits) and duration
//! literals for the query printer. Called by the AST printer and the HTTP renderer.

/// Formats a float the way Prometheus renders sample values (Go's
/// `strconv.FormatFloat(v, 'f', -1, 64)`, with `+Inf`, `-Inf`, `NaN`).
pub fn prom_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    if v == 0.0 {
        return "0".into();
    }
    // Rust's Display is the shortest round-trip form without an exponent.
    format!("{v}")
}

/// A duration literal for a query (`5m`, `1h30m`, `250ms`).
pub fn format_duration_literal(ns: i64) -> String {
    if ns == 0 {
        return "0s".into();
    }
    let (neg, mut n) = (ns < 0, ns.unsigned_abs());
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    for (unit, size) in [
        ("d", 86_400_000_000_000u64),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
        ("ns", 1),
    ] {
        if n >= size {
            out.push_str(&format!("{}{unit}", n / size));
            n %= size;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_and_durations() {
        assert_eq!(prom_float(f64::NAN), "NaN");
        assert_eq!(prom_float(f64::INFINITY), "+Inf");
        assert_eq!(prom_float(-f64::INFINITY), "-Inf");
        assert_eq!(prom_float(2.5), "2.5");
        assert_eq!(prom_float(42.0), "42");
        assert_eq!(prom_float(7.766666666666667), "7.766666666666667");
        assert_eq!(format_duration_literal(90 * 60_000_000_000), "1h30m");
        assert_eq!(format_duration_literal(250_000_000), "250ms");
    }
}
