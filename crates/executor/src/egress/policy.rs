//! An egress policy: the destinations a run may reach through its door, each a host name
//! (exact, or `*.suffix` for the names under a suffix) and a port (`:port`; without one, the
//! web ports 80 and 443). No address literals and no ranges among them: the proxy resolves
//! names itself. A policy may also deny address ranges, which no name it allows may resolve
//! into.

use std::fmt;
use std::net::IpAddr;

/// Ports a destination without `:port` allows.
pub const WEB_PORTS: [u16; 2] = [80, 443];
/// Most destinations a policy may list.
pub const MAX_DESTINATIONS: usize = 64;
/// Longest destination, as written (a host name is at most 253 characters).
pub const MAX_DESTINATION_LEN: usize = 253;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// This name only.
    Exact(String),
    /// Names under this suffix (`*.example.com`: `a.example.com`, `b.a.example.com`, not
    /// `example.com` itself).
    Under(String),
}

/// One allowed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub host: HostPattern,
    /// `None`: [`WEB_PORTS`].
    pub port: Option<u16>,
}

/// The destinations a run may reach; a run without one has no network at all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EgressPolicy {
    pub allow: Vec<Destination>,
    /// Addresses the proxy never connects to for this policy, whatever name resolves there.
    pub deny: Vec<AddressRange>,
}

/// An address range: an address and the length of its prefix (`10.0.0.0/8`, `1.1.1.1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressRange {
    pub base: IpAddr,
    pub prefix: u8,
}

impl AddressRange {
    /// Parses `address` or `address/prefix`.
    pub fn parse(text: &str) -> Result<AddressRange, String> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text.trim(), None),
        };
        let base: IpAddr = address.parse().map_err(|_| format!("{text:?} is not an address or address range"))?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?}: the prefix must be 0 to {max}"))?,
        };
        Ok(AddressRange { base, prefix })
    }

    /// Whether the range is every address of its family (`0.0.0.0/0`, `::/0`).
    pub fn is_everything(&self) -> bool {
        self.prefix == 0
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
            v4 => v4,
        };
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v4) => (u128::from(u32::from(v4)) << 96, 32),
                IpAddr::V6(v6) => (u128::from(v6), 128),
            }
        };
        let ((base, family), (addr, other)) = (bits(self.base), bits(ip));
        let mask = if self.prefix == 0 { 0 } else { u128::MAX << (128 - u32::from(self.prefix)) };
        family == other && (base & mask) == (addr & mask)
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.base, self.prefix)
    }
}

/// Why a list of destinations is refused; its text is the API's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("at most {MAX_DESTINATIONS} destinations")]
    TooMany,
    #[error("a destination is at most {MAX_DESTINATION_LEN} characters")]
    TooLong,
    #[error("{0:?}: the port must be 1 to 65535")]
    Port(String),
    #[error("{text:?}: {why}")]
    Host { text: String, why: &'static str },
}

impl Destination {
    /// Parses `host`, `*.suffix`, either with `:port`.
    pub fn parse(text: &str) -> Result<Destination, PolicyError> {
        if text.len() > MAX_DESTINATION_LEN {
            return Err(PolicyError::TooLong);
        }
        let text = text.to_ascii_lowercase();
        let (host, port) = match text.rsplit_once(':') {
            Some((host, port)) => {
                let digits = !port.is_empty() && !port.starts_with('0') && port.bytes().all(|b| b.is_ascii_digit());
                let port = port.parse::<u16>().ok().filter(|_| digits);
                (host.to_owned(), Some(port.ok_or_else(|| PolicyError::Port(text.clone()))?))
            }
            None => (text.clone(), None),
        };
        let (pattern, name) = match host.strip_prefix("*.") {
            Some(suffix) => (HostPattern::Under(suffix.to_owned()), suffix),
            None => (HostPattern::Exact(host.clone()), host.as_str()),
        };
        check_host_name(name).map_err(|why| PolicyError::Host { text: text.clone(), why })?;
        Ok(Destination { host: pattern, port })
    }

    fn ports(&self) -> Vec<u16> {
        self.port.map(|p| vec![p]).unwrap_or(WEB_PORTS.to_vec())
    }

    /// Whether `host` (lowercase, without a trailing dot) at `port` is this destination.
    pub fn admits(&self, host: &str, port: u16) -> bool {
        self.ports().contains(&port)
            && match &self.host {
                HostPattern::Exact(name) => host == name,
                HostPattern::Under(suffix) => {
                    host.strip_suffix(suffix.as_str()).is_some_and(|rest| rest.ends_with('.'))
                }
            }
    }

    /// Whether everything `other` allows, this allows too (a cap checking a request).
    pub fn covers(&self, other: &Destination) -> bool {
        let ports = self.ports();
        let host = match (&self.host, &other.host) {
            (HostPattern::Exact(a), HostPattern::Exact(b)) => a == b,
            (HostPattern::Exact(_), HostPattern::Under(_)) => false,
            (HostPattern::Under(_), HostPattern::Exact(b)) => self.admits(b, ports[0]),
            (HostPattern::Under(a), HostPattern::Under(b)) => a == b || b.ends_with(&format!(".{a}")),
        };
        host && other.ports().iter().all(|p| ports.contains(p))
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            HostPattern::Exact(name) => write!(f, "{name}")?,
            HostPattern::Under(suffix) => write!(f, "*.{suffix}")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}"),
            None => Ok(()),
        }
    }
}

impl EgressPolicy {
    /// Parses a list of destinations; an empty list is no policy (no network).
    pub fn parse(items: &[String]) -> Result<Option<EgressPolicy>, PolicyError> {
        if items.len() > MAX_DESTINATIONS {
            return Err(PolicyError::TooMany);
        }
        let allow = items.iter().map(|item| Destination::parse(item)).collect::<Result<Vec<_>, _>>()?;
        Ok((!allow.is_empty()).then_some(EgressPolicy { allow, deny: Vec::new() }))
    }

    /// Whether the policy lets a run reach `host` at `port`.
    pub fn admits(&self, host: &str, port: u16) -> bool {
        self.allow.iter().any(|d| d.admits(host, port))
    }

    /// The denied range `ip` falls in, if any.
    pub fn denied(&self, ip: IpAddr) -> Option<&AddressRange> {
        self.deny.iter().find(|r| r.contains(ip))
    }

    /// The destinations as the caller wrote them (normalised).
    pub fn describe(&self) -> Vec<String> {
        self.allow.iter().map(ToString::to_string).collect()
    }
}

/// A host name as DNS spells it: dot-separated labels of letters, digits and hyphens, not an
/// address literal.
pub fn check_host_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > MAX_DESTINATION_LEN {
        return Err("a host name of 1 to 253 characters is required");
    }
    if name.parse::<std::net::IpAddr>().is_ok() || name.starts_with('[') {
        return Err("address literals are not allowed, only host names");
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    if !name.split('.').all(label_ok) {
        return Err("a host name is dot-separated labels of letters, digits and hyphens");
    }
    // Top-level domains start with a letter; a name ending in digits is an address.
    if !name.rsplit('.').next().is_some_and(|last| last.starts_with(|c: char| c.is_ascii_alphabetic())) {
        return Err("address literals are not allowed, only host names (the last label starts with a letter)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Destination {
        Destination::parse(text).unwrap()
    }

    #[test]
    fn a_wildcard_matches_only_names_under_its_suffix() {
        let under = d("*.example.com");
        assert!(under.admits("a.example.com", 443));
        assert!(under.admits("b.a.example.com", 80));
        assert!(!under.admits("example.com", 443));
        assert!(!under.admits("badexample.com", 443));
        assert!(!under.admits("a.example.com.evil.org", 443));
        assert!(!under.admits("a.example.com", 22));
    }

    #[test]
    fn an_exact_name_with_a_port_matches_that_port_only() {
        let exact = d("Index.Test:8080");
        assert!(exact.admits("index.test", 8080));
        assert!(!exact.admits("index.test", 443));
        assert!(!exact.admits("x.index.test", 8080));
    }

    #[test]
    fn addresses_and_odd_names_are_refused() {
        for bad in ["127.0.0.1", "[::1]", "::1", "10.0.0.0/8", "", "*.", "a..b", "-a.b", "a.b:0", "a.b:99999", "a_b.c"]
        {
            assert!(Destination::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn address_ranges_contain_their_addresses() {
        let r = |t: &str| AddressRange::parse(t).unwrap();
        let ip = |t: &str| t.parse::<IpAddr>().unwrap();
        assert!(r("127.0.0.0/8").contains(ip("127.1.2.3")));
        assert!(!r("127.0.0.0/8").contains(ip("128.0.0.1")));
        assert!(r("1.1.1.1").contains(ip("1.1.1.1")) && !r("1.1.1.1").contains(ip("1.1.1.2")));
        assert!(r("0.0.0.0/0").contains(ip("8.8.8.8")) && r("0.0.0.0/0").is_everything());
        assert!(r("0.0.0.0/0").contains(ip("::ffff:8.8.8.8")));
        assert!(!r("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(r("2001:db8::/32").contains(ip("2001:db8::1")));
        for bad in ["example.com", "1.1.1.1/33", "::/129", "1.1.1.1/x", ""] {
            assert!(AddressRange::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_cap_covers_what_is_within_it() {
        assert!(d("*.example.com").covers(&d("a.example.com")));
        assert!(d("*.example.com").covers(&d("*.a.example.com")));
        assert!(!d("*.example.com").covers(&d("example.com")));
        assert!(!d("a.example.com").covers(&d("*.example.com")));
        assert!(d("pypi.org").covers(&d("pypi.org:443")));
        assert!(!d("pypi.org:443").covers(&d("pypi.org")));
        assert!(!d("pypi.org").covers(&d("pypi.org:8080")));
    }
}
