//! The address this node tells the cluster to reach it at, when the config
//! names none (`memberlist.advertise_addr`) and it listens on every interface:
//! the source address of this host's route to other networks, so that a pod
//! announces its pod IP as Loki does by picking a private interface's address.
//! Without such a route (a host with loopback only) it is 127.0.0.1.
//!
//! Used by `membership::start` (the gossip address) and `node::cluster::prepare`
//! (the HTTP and gRPC addresses other members dial).

use std::net::{IpAddr, Ipv4Addr, UdpSocket};

/// Source address of the route towards TEST-NET-1 (RFC 5737: never a real host;
/// connecting a UDP socket only picks a route, nothing is sent); `None` without a
/// usable route.
pub fn outbound_ip() -> Option<IpAddr> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    s.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    let ip = s.local_addr().ok()?.ip();
    (!ip.is_unspecified() && !ip.is_loopback()).then_some(ip)
}

/// The first configured address that names one interface, else the outbound
/// address, else 127.0.0.1.
pub fn advertised_host<'a>(configured: impl IntoIterator<Item = &'a str>) -> String {
    configured
        .into_iter()
        .find(|s| !s.is_empty() && *s != "0.0.0.0" && *s != "::" && *s != "[::]")
        .map(str::to_string)
        .or_else(|| outbound_ip().map(|ip| ip.to_string()))
        .unwrap_or_else(|| "127.0.0.1".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_addresses_win_and_wildcards_are_skipped() {
        assert_eq!(advertised_host(["10.1.2.3", "127.0.0.1"]), "10.1.2.3");
        assert_eq!(advertised_host(["", "0.0.0.0", "127.0.0.1"]), "127.0.0.1");
        assert_eq!(advertised_host(["", "0.0.0.0", "pod.example"]), "pod.example");
    }

    #[test]
    fn without_configured_address_it_is_a_reachable_interface_address() {
        let host = advertised_host(["", "0.0.0.0"]);
        let ip: IpAddr = host.parse().expect("an IP address");
        assert!(!ip.is_unspecified());
        match outbound_ip() {
            // the address belongs to this host: a socket binds to it
            Some(out) => {
                assert_eq!(ip, out);
                assert!(UdpSocket::bind((ip, 0)).is_ok(), "{ip} is not an address of this host");
            }
            None => assert_eq!(host, "127.0.0.1"),
        }
    }
}
