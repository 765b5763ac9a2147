//! The address this node tells the cluster to reach it at, when the config
//! names none (`memberlist.advertise_addr`) and it listens on every interface:
//! the source address of this host's route to other networks, so that a pod
//! announces its pod IP as Loki does by picking a private interface's address.
//! A node whose gossip seeds are all on loopback (one host, several processes)
//! and a host without such a route announce 127.0.0.1.
//!
//! Used by `node::cluster::prepare` (the HTTP and gRPC addresses other members
//! dial); `membership::start` gossips from the same host unless its bind
//! address names one interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs, UdpSocket};

/// Source address of the route towards a documentation network (RFC 5737 and
/// RFC 3849: never a real host; connecting a UDP socket only picks a route,
/// nothing is sent), IPv4 first; `None` without a usable route.
pub fn outbound_ip() -> Option<IpAddr> {
    let via = |bind: IpAddr, to: IpAddr| -> Option<IpAddr> {
        let s = UdpSocket::bind(SocketAddr::new(bind, 0)).ok()?;
        s.connect(SocketAddr::new(to, 9)).ok()?;
        let ip = s.local_addr().ok()?.ip();
        (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
    };
    via(Ipv4Addr::UNSPECIFIED.into(), Ipv4Addr::new(192, 0, 2, 1).into())
        .or_else(|| via(Ipv6Addr::UNSPECIFIED.into(), "2001:db8::1".parse::<Ipv6Addr>().ok()?.into()))
}

/// True when every seed (`host:port`) resolves to loopback addresses only (and
/// there is at least one): the cluster lives on this host.
pub fn seeds_on_loopback(seeds: &[String]) -> bool {
    !seeds.is_empty()
        && seeds.iter().all(|s| {
            with_default_port(s, 7946).to_socket_addrs().map(|mut a| a.all(|a| a.ip().is_loopback())).unwrap_or(false)
        })
}

/// The first configured address that names one interface; else 127.0.0.1 when
/// the seeds are all on loopback; else `outbound`; else 127.0.0.1. The two
/// probes (DNS for the seeds, a route lookup) run only when nothing is configured.
pub fn pick_host<'a>(
    configured: impl IntoIterator<Item = &'a str>,
    seeds_loopback: impl FnOnce() -> bool,
    outbound: impl FnOnce() -> Option<IpAddr>,
) -> String {
    let wildcard = |s: &str| s.is_empty() || matches!(s, "0.0.0.0" | "::" | "[::]");
    if let Some(c) = configured.into_iter().find(|s| !wildcard(s)) {
        return c.to_string();
    }
    if seeds_loopback() {
        return "127.0.0.1".to_string();
    }
    outbound().map_or_else(|| "127.0.0.1".to_string(), |ip| ip.to_string())
}

/// `addr` as `host:port`: kept when it has a port, else `port` added (IPv6
/// literals, bare or in brackets, become `[ip]:port`).
pub fn with_default_port(addr: &str, port: u16) -> String {
    if addr.parse::<SocketAddr>().is_ok() {
        return addr.to_string();
    }
    if let Ok(ip) = addr.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return SocketAddr::new(ip, port).to_string();
    }
    if addr.contains(':') {
        addr.to_string()
    } else {
        format!("{addr}:{port}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OUT: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::new(10, 4, 0, 7)));

    #[test]
    fn configured_addresses_win_in_order_and_wildcards_are_skipped() {
        let never = || -> bool { panic!("no probe when an address is configured") };
        assert_eq!(pick_host(["10.1.2.3", "127.0.0.1"], never, || OUT), "10.1.2.3");
        assert_eq!(pick_host(["", "0.0.0.0", "127.0.0.1"], never, || OUT), "127.0.0.1");
        assert_eq!(pick_host(["", "::", "[::]", "pod.example"], never, || OUT), "pod.example");
    }

    #[test]
    fn without_configured_address_the_route_decides_unless_the_cluster_is_local() {
        assert_eq!(pick_host(["", "0.0.0.0"], || false, || OUT), "10.4.0.7");
        assert_eq!(pick_host(["", "0.0.0.0"], || true, || OUT), "127.0.0.1", "seeds on loopback");
        assert_eq!(pick_host(["", "0.0.0.0"], || false, || None), "127.0.0.1", "no route");
    }

    #[test]
    fn seeds_on_loopback_only_when_every_seed_resolves_there() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(seeds_on_loopback(&s(&["127.0.0.1:7946", "localhost", "[::1]:7000"])));
        assert!(!seeds_on_loopback(&s(&["127.0.0.1:7946", "10.0.0.1:7946"])));
        assert!(!seeds_on_loopback(&s(&["no-such-host.invalid:7946"])), "unresolvable is not loopback");
        assert!(!seeds_on_loopback(&[]));
    }

    #[test]
    fn default_ports_are_added_only_where_missing() {
        assert_eq!(with_default_port("10.0.0.1", 7946), "10.0.0.1:7946");
        assert_eq!(with_default_port("10.0.0.1:7000", 7946), "10.0.0.1:7000");
        assert_eq!(with_default_port("fd00::5", 7946), "[fd00::5]:7946");
        assert_eq!(with_default_port("[fd00::5]", 7946), "[fd00::5]:7946");
        assert_eq!(with_default_port("[fd00::5]:7000", 7946), "[fd00::5]:7000");
        assert_eq!(with_default_port("seeds.example", 7946), "seeds.example:7946");
        assert_eq!(with_default_port("seeds.example:7000", 7946), "seeds.example:7000");
        assert_eq!(with_default_port("10.0.0.5", 9095), "10.0.0.5:9095");
    }

    #[test]
    fn the_outbound_address_belongs_to_this_host() {
        // on a host without a route there is nothing to check
        if let Some(ip) = outbound_ip() {
            assert!(!ip.is_loopback() && !ip.is_unspecified());
            assert!(UdpSocket::bind((ip, 0)).is_ok(), "{ip} is not an address of this host");
        }
    }
}
