//! Where a request comes from. The client's address is the connection's peer, unless the peer
//! is a configured trusted proxy: then `X-Forwarded-For` is read from the right, skipping
//! trusted proxies, and the first address that is not one is the client's. Likewise
//! `X-Forwarded-Proto` (whether the client's connection was TLS, for `Secure` cookies) is
//! believed only from a trusted proxy. Anyone else's headers are ignored: a client cannot
//! choose the address its failures are counted under, nor the one the audit log names.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// One trusted address or range (`10.0.0.1`, `10.0.0.0/8`, `fd00::/8`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn parse(s: &str) -> Result<Net, String> {
        let bad = || {
            format!(
                "trusted proxy {s:?} is not an address or range such as 10.0.0.1, 10.0.0.0/8 or fd00::/8"
            )
        };
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr.trim().parse().map_err(|_| bad())?;
        let addr = canonical(addr);
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(bad)?,
            None => max,
        };
        Ok(Net { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        let p = u32::from(self.prefix);
        match (canonical(ip), self.addr) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = u32::MAX.checked_shl(32 - p).unwrap_or(0);
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = u128::MAX.checked_shl(128 - p).unwrap_or(0);
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 address in IPv6 clothing (`::ffff:10.0.0.1`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v) => v.to_ipv4_mapped().map_or(IpAddr::V6(v), IpAddr::V4),
        v4 => v4,
    }
}

/// The proxies whose forwarding headers are believed (configuration `trusted_proxies`,
/// `--trusted-proxy`, `YGT_TRUSTED_PROXIES`). Empty: none, the peer is the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Net>);

impl TrustedProxies {
    /// Parses addresses and ranges; an item may hold several separated by commas.
    pub fn parse<S: AsRef<str>>(items: &[S]) -> Result<TrustedProxies, String> {
        let mut out = Vec::new();
        for item in items {
            for s in item
                .as_ref()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                out.push(Net::parse(s)?);
            }
        }
        Ok(TrustedProxies(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The configured entries, as given (for the start-up message).
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|n| format!("{}/{}", n.addr, n.prefix))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Where a request comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The client's address.
    pub client: IpAddr,
    /// Whether the client's connection to the edge was TLS.
    pub tls: bool,
}

/// One hop of `X-Forwarded-For`: an address, perhaps with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn hop(s: &str) -> Option<IpAddr> {
    let s = s.trim();
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok().map(canonical);
    }
    let (a, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    a.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

/// Where a request that arrived from `peer` with `headers` comes from.
pub fn origin(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> Origin {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return Origin {
            client: peer,
            tls: false,
        };
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    let mut client = peer;
    for h in hops.iter().rev() {
        // A hop that does not parse ends the walk: what lies left of it cannot be believed.
        let Some(ip) = hop(h) else { break };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    let tls = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    Origin { client, tls }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn trusted_addresses_and_ranges() {
        let t = TrustedProxies::parse(&["10.0.0.0/8, 192.168.1.5", "fd00::/8", "::1"]).unwrap();
        assert!(t.contains(ip("10.1.2.3")));
        assert!(t.contains(ip("::ffff:10.1.2.3")));
        assert!(!t.contains(ip("11.0.0.1")));
        assert!(t.contains(ip("192.168.1.5")));
        assert!(!t.contains(ip("192.168.1.6")));
        assert!(t.contains(ip("fd12::1")));
        assert!(!t.contains(ip("fe80::1")));
        assert!(t.contains(ip("::1")));
        assert!(!t.contains(ip("127.0.0.1")));
        let all4 = TrustedProxies::parse(&["0.0.0.0/0"]).unwrap();
        assert!(all4.contains(ip("8.8.8.8")) && !all4.contains(ip("2001:db8::1")));
        let slash = TrustedProxies::parse(&["172.16.0.0/12"]).unwrap();
        assert!(slash.contains(ip("172.31.255.255")) && !slash.contains(ip("172.32.0.0")));
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
        for bad in [
            "proxy.example",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.1/x",
            "10.0.0",
        ] {
            let e = TrustedProxies::parse(&[bad]).unwrap_err();
            assert!(e.contains("trusted proxy"), "{bad}: {e}");
        }
    }

    #[test]
    fn spoofed_headers_from_untrusted_peers_are_ignored() {
        let none = TrustedProxies::default();
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
        ]);
        let o = origin(ip("198.51.100.9"), &h, &none);
        assert_eq!(o.client, ip("198.51.100.9"));
        assert!(!o.tls);
        // A trusted list that does not hold the peer changes nothing.
        let t = TrustedProxies::parse(&["10.0.0.1"]).unwrap();
        assert_eq!(origin(ip("10.0.0.2"), &h, &t).client, ip("10.0.0.2"));
        assert!(!origin(ip("10.0.0.2"), &h, &t).tls);
    }

    #[test]
    fn trusted_proxies_name_the_client() {
        let t = TrustedProxies::parse(&["10.0.0.1", "10.0.0.2"]).unwrap();
        let o = origin(
            ip("10.0.0.1"),
            &headers(&[
                ("x-forwarded-for", "203.0.113.7"),
                ("x-forwarded-proto", "https"),
            ]),
            &t,
        );
        assert_eq!(
            o,
            Origin {
                client: ip("203.0.113.7"),
                tls: true
            }
        );
        // The client prepends a forged hop: the rightmost untrusted address wins.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.2")]);
        assert_eq!(origin(ip("10.0.0.1"), &h, &t).client, ip("203.0.113.7"));
        // Several headers count as one list.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.8:5123"),
        ]);
        assert_eq!(origin(ip("10.0.0.1"), &h, &t).client, ip("203.0.113.8"));
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443")]);
        assert_eq!(origin(ip("10.0.0.1"), &h, &t).client, ip("2001:db8::7"));
        // Nothing forwarded, or nothing believable: the proxy itself (or the last good hop).
        assert_eq!(
            origin(ip("10.0.0.1"), &HeaderMap::new(), &t).client,
            ip("10.0.0.1")
        );
        let h = headers(&[("x-forwarded-for", "203.0.113.7, garbage, 10.0.0.2")]);
        assert_eq!(origin(ip("10.0.0.1"), &h, &t).client, ip("10.0.0.2"));
        // Only https is TLS.
        let h = headers(&[("x-forwarded-proto", "http")]);
        assert!(!origin(ip("10.0.0.1"), &h, &t).tls);
        let h = headers(&[("x-forwarded-proto", "HTTPS")]);
        assert!(origin(ip("::ffff:10.0.0.1"), &h, &t).tls);
    }
}
