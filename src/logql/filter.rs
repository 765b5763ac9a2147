//! Compiled line filters: substring search with `memchr`'s SIMD finder, Go-style
//! regexes over bytes, pattern filters and IP-range filters. No allocation per line.

use std::net::IpAddr;

use memchr::memmem::Finder;

use super::ast::LineFilterOp;
use super::caseless::Caseless;
use super::error::ParseError;
use super::pattern::Pattern;

#[derive(Clone, Debug)]
pub enum CompiledFilter {
    Contains(Vec<Finder<'static>>),
    NotContains(Vec<Finder<'static>>),
    Regex(regex::bytes::Regex),
    NotRegex(regex::bytes::Regex),
    /// `(?i)literal` regexes, searched without the regex engine.
    Caseless(Box<Caseless>),
    NotCaseless(Box<Caseless>),
    Pattern(Vec<Pattern>),
    NotPattern(Vec<Pattern>),
    Ip(Vec<IpRange>),
    NotIp(Vec<IpRange>),
}

impl CompiledFilter {
    pub fn compile(op: LineFilterOp, values: &[String], ip: bool) -> Result<CompiledFilter, ParseError> {
        if ip {
            let ranges = values.iter().map(|v| IpRange::parse(v)).collect::<Result<Vec<_>, _>>()?;
            return match op {
                LineFilterOp::Contains => Ok(CompiledFilter::Ip(ranges)),
                LineFilterOp::NotContains => Ok(CompiledFilter::NotIp(ranges)),
                _ => Err(ParseError::Invalid("ip() filter is only allowed with |= and !=".into())),
            };
        }
        let finders = || values.iter().map(|v| Finder::new(v.as_bytes()).into_owned()).collect();
        let regex = || {
            let joined =
                values.iter().map(|v| format!("(?:{})", super::regex::go_to_rust(v))).collect::<Vec<_>>().join("|");
            regex::bytes::RegexBuilder::new(&joined).size_limit(1 << 22).build().map_err(|e| {
                let v = values.iter().find(|v| super::regex::compile_bytes(v).is_err()).unwrap_or(&values[0]);
                ParseError::Invalid(super::regex::error_text(v, &e))
            })
        };
        let patterns =
            || values.iter().map(|v| Pattern::parse(v).map_err(ParseError::Invalid)).collect::<Result<Vec<_>, _>>();
        Ok(match op {
            LineFilterOp::Contains => CompiledFilter::Contains(finders()),
            LineFilterOp::NotContains => CompiledFilter::NotContains(finders()),
            LineFilterOp::Match | LineFilterOp::NotMatch => {
                let re = regex()?;
                let fast = if values.len() == 1 { Caseless::new(&values[0], &re).map(Box::new) } else { None };
                match (op, fast) {
                    (LineFilterOp::Match, Some(c)) => CompiledFilter::Caseless(c),
                    (LineFilterOp::Match, None) => CompiledFilter::Regex(re),
                    (_, Some(c)) => CompiledFilter::NotCaseless(c),
                    (_, None) => CompiledFilter::NotRegex(re),
                }
            }
            LineFilterOp::Pattern => CompiledFilter::Pattern(patterns()?),
            LineFilterOp::NotPattern => CompiledFilter::NotPattern(patterns()?),
        })
    }

    #[inline]
    pub fn matches(&self, line: &[u8]) -> bool {
        match self {
            CompiledFilter::Contains(fs) => fs.iter().any(|f| f.find(line).is_some()),
            CompiledFilter::NotContains(fs) => fs.iter().all(|f| f.find(line).is_none()),
            CompiledFilter::Regex(r) => r.is_match(line),
            CompiledFilter::NotRegex(r) => !r.is_match(line),
            CompiledFilter::Caseless(c) => c.is_match(line),
            CompiledFilter::NotCaseless(c) => !c.is_match(line),
            CompiledFilter::Pattern(ps) => ps.iter().any(|p| p.matches(line)),
            CompiledFilter::NotPattern(ps) => !ps.iter().any(|p| p.matches(line)),
            CompiledFilter::Ip(rs) => line_has_ip(line, rs),
            CompiledFilter::NotIp(rs) => !line_has_ip(line, rs),
        }
    }
}

/// An address range from `ip("...")`: one address, `a-b`, or a CIDR block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRange {
    lo: IpAddr,
    hi: IpAddr,
}

impl IpRange {
    pub fn parse(s: &str) -> Result<IpRange, ParseError> {
        let bad = || ParseError::Invalid(format!("ip: invalid IP address or range: {s:?}"));
        let s = s.trim();
        if let Some((a, b)) = s.split_once('-') {
            let (lo, hi): (IpAddr, IpAddr) =
                (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
            if lo.is_ipv4() != hi.is_ipv4() || lo > hi {
                return Err(bad());
            }
            return Ok(IpRange { lo, hi });
        }
        if let Some((addr, bits)) = s.split_once('/') {
            let addr: IpAddr = addr.parse().map_err(|_| bad())?;
            let bits: u32 = bits.parse().map_err(|_| bad())?;
            return match addr {
                IpAddr::V4(a) if bits <= 32 => {
                    let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
                    let base = u32::from(a) & mask;
                    Ok(IpRange { lo: IpAddr::V4(base.into()), hi: IpAddr::V4((base | !mask).into()) })
                }
                IpAddr::V6(a) if bits <= 128 => {
                    let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
                    let base = u128::from(a) & mask;
                    Ok(IpRange { lo: IpAddr::V6(base.into()), hi: IpAddr::V6((base | !mask).into()) })
                }
                _ => Err(bad()),
            };
        }
        let a: IpAddr = s.parse().map_err(|_| bad())?;
        Ok(IpRange { lo: a, hi: a })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.lo.is_ipv4() && ip >= self.lo && ip <= self.hi
    }
}

fn line_has_ip(line: &[u8], ranges: &[IpRange]) -> bool {
    let is_ip_byte = |b: u8| b.is_ascii_hexdigit() || b == b'.' || b == b':';
    let mut i = 0;
    while i < line.len() {
        if !is_ip_byte(line[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < line.len() && is_ip_byte(line[i]) {
            i += 1;
        }
        if let Some(ip) = ip_in_run(&line[start..i]) {
            if ranges.iter().any(|r| r.contains(ip)) {
                return true;
            }
        }
    }
    false
}

/// The address in a run of address characters: the whole run, an IPv4 address
/// followed by `:port`, or either with trailing `.`/`:` punctuation.
fn ip_in_run(run: &[u8]) -> Option<IpAddr> {
    let s = std::str::from_utf8(run).ok()?;
    let trimmed = s.trim_end_matches(['.', ':']);
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Some(ip);
    }
    let (host, port) = trimmed.rsplit_once(':')?;
    if host.contains('.') && port.bytes().all(|b| b.is_ascii_digit()) {
        return host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_and_or() {
        let f = CompiledFilter::compile(LineFilterOp::Contains, &["foo".into(), "bar".into()], false).unwrap();
        assert!(f.matches(b"a bar b"));
        assert!(!f.matches(b"baz"));
        let f = CompiledFilter::compile(LineFilterOp::NotContains, &["foo".into(), "bar".into()], false).unwrap();
        assert!(!f.matches(b"a bar b"));
        assert!(f.matches(b"baz"));
    }

    #[test]
    fn regex_filters_are_unanchored() {
        let f = CompiledFilter::compile(LineFilterOp::Match, &["(?i)ERR".into()], false).unwrap();
        assert!(f.matches(b"an error here"));
        assert!(CompiledFilter::compile(LineFilterOp::Match, &["(".into()], false).is_err());
    }

    #[test]
    fn ip_filters() {
        let f = CompiledFilter::compile(LineFilterOp::Contains, &["10.0.0.0/8".into()], true).unwrap();
        assert!(f.matches(b"client=10.1.2.3:443 ok"));
        assert!(!f.matches(b"client=11.1.2.3 ok"));
        let f = CompiledFilter::compile(LineFilterOp::Contains, &["::1".into()], true).unwrap();
        assert!(f.matches(b"from ::1 port"));
        let r = IpRange::parse("192.168.0.1-192.168.0.9").unwrap();
        assert!(r.contains("192.168.0.5".parse().unwrap()));
        assert!(IpRange::parse("nope").is_err());
    }
}
