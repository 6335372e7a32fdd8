//! Which addresses the proxy may connect to: public ones only, unless the operator allows
//! private ones; never a link-local (cloud metadata) address, never the daemon's own API.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Why an address is refused, if it is.
pub fn refusal(addr: SocketAddr, allow_private: bool, never: &[SocketAddr]) -> Option<&'static str> {
    let ip = canonical(addr.ip());
    if never.iter().any(|n| n.port() == addr.port() && (canonical(n.ip()) == ip || n.ip().is_unspecified())) {
        return Some("the address is the server's own");
    }
    if is_link_local(ip) {
        return Some("link-local and metadata addresses are never reached");
    }
    if !allow_private && !is_public(ip) {
        return Some("the name resolves to a non-public address");
    }
    if ip.is_unspecified() || ip.is_multicast() {
        return Some("the name resolves to an address that is not a host");
    }
    None
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 192 && b == 0 && ip.octets()[2] == 0)
        || (a == 198 && (18..20).contains(&b))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || first == 0x2001 && ip.segments()[1] == 0x0db8
        || first == 0x0064 && ip.segments()[1] == 0xff9b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    #[test]
    fn private_addresses_need_the_operator() {
        for private in ["127.0.0.1:80", "10.1.2.3:443", "192.168.0.1:80", "172.16.0.1:80", "100.64.0.1:80", "[::1]:80"]
        {
            assert!(refusal(at(private), false, &[]).is_some(), "{private}");
            assert!(refusal(at(private), true, &[]).is_none(), "{private}");
        }
        assert!(refusal(at("93.184.216.34:443"), false, &[]).is_none());
        assert!(refusal(at("[::ffff:127.0.0.1]:80"), false, &[]).is_some());
    }

    #[test]
    fn metadata_and_the_servers_own_port_are_never_reached() {
        assert!(refusal(at("169.254.169.254:80"), true, &[]).is_some());
        assert!(refusal(at("[fe80::1]:80"), true, &[]).is_some());
        let api = [at("127.0.0.1:8080")];
        assert!(refusal(at("127.0.0.1:8080"), true, &api).is_some());
        assert!(refusal(at("127.0.0.1:8081"), true, &api).is_none());
        assert!(refusal(at("127.0.0.1:8080"), true, &[at("0.0.0.0:8080")]).is_some());
    }
}
