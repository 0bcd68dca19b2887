//! Who sent a request, and over what: the one place that decides the client
//! address the throttles key on and whether the request arrived over https.
//!
//! The socket's peer is the client unless it is a trusted proxy (a CIDR in
//! `--trusted-proxy`). Only then are `X-Forwarded-For` and
//! `X-Forwarded-Proto` believed, since anyone else can write them.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The networks whose connections are proxies that tell the truth about the
/// client in `X-Forwarded-For` and `X-Forwarded-Proto`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses CIDRs (`10.0.0.0/8`, `::1/128`) or plain addresses (one host).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, InvalidProxy> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.as_ref().trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| InvalidProxy(entry.to_owned()))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|net| net.contains(&address))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not a CIDR (10.0.0.0/8, fd00::/8) or an IP address")]
pub struct InvalidProxy(pub String);

/// Marks a request that arrived on a TLS connection (set by the accept loop).
/// With the socket's `ConnectInfo`, what the `ClientOrigin` extractor (in
/// `state`, beside the trusted proxies it reads) starts from.
#[derive(Debug, Clone, Copy)]
pub struct ArrivedOverTls;

/// The client behind a request: its address (for throttles and nothing that
/// grants access) and whether it spoke https to the first hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOrigin {
    pub address: Option<IpAddr>,
    pub https: bool,
}

/// Decides the client's address and scheme from the socket's peer, whether
/// the connection is TLS, the trusted proxies and the request's headers.
pub fn client_origin(
    peer: Option<IpAddr>,
    tls: bool,
    trusted: &TrustedProxies,
    headers: &HeaderMap,
) -> ClientOrigin {
    let direct = ClientOrigin {
        address: peer.map(canonical),
        https: tls,
    };
    let Some(peer) = peer else { return direct };
    if !trusted.contains(peer) {
        return direct;
    }
    let forwarded_for = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok());
    let address = client_from_forwarded_for(peer, forwarded_for, trusted);
    let https = headers
        .get_all("x-forwarded-proto")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .next_back()
        .and_then(|proto| match proto.trim().to_ascii_lowercase().as_str() {
            "https" => Some(true),
            "http" => Some(false),
            _ => None,
        })
        .unwrap_or(tls);
    ClientOrigin {
        address: Some(address),
        https,
    }
}

/// The rightmost hop of `X-Forwarded-For` that is not a trusted proxy,
/// walking from the trusted `peer` leftwards. Hops left of an untrusted one
/// were written by the client and are ignored; an entry that is not an
/// address stops the walk at the last hop known good.
pub fn client_from_forwarded_for<'a>(
    peer: IpAddr,
    values: impl IntoIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let hops: Vec<&str> = values
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = canonical(peer);
    for hop in hops.iter().rev() {
        let Some(address) = parse_hop(hop) else { break };
        client = address;
        if !trusted.contains(address) {
            break;
        }
    }
    client
}

/// An address as proxies write them: `203.0.113.7`, `2001:db8::1`,
/// `203.0.113.7:4711` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

/// IPv4 peers of a dual-stack socket arrive as `::ffff:a.b.c.d`; compare
/// and count them as the IPv4 addresses they are.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies() -> TrustedProxies {
        TrustedProxies::parse(&["10.0.0.0/8", "fd00::/8", "192.0.2.1"]).unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn cidrs_and_plain_addresses_parse_and_nonsense_is_refused_by_value() {
        let trusted = proxies();
        assert!(trusted.contains(ip("10.1.2.3")));
        assert!(trusted.contains(ip("::ffff:10.1.2.3")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(trusted.contains(ip("192.0.2.1")));
        assert!(!trusted.contains(ip("192.0.2.2")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert_eq!(
            TrustedProxies::parse(&["10.0.0.0/33"]),
            Err(InvalidProxy("10.0.0.0/33".into()))
        );
        assert!(TrustedProxies::parse(&["proxy.internal"]).is_err());
        assert!(TrustedProxies::parse::<&str>(&[]).unwrap().is_empty());
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_writes() {
        let origin = client_origin(
            Some(ip("203.0.113.9")),
            false,
            &proxies(),
            &headers(&[
                ("x-forwarded-for", "198.51.100.1"),
                ("x-forwarded-proto", "https"),
            ]),
        );
        assert_eq!(origin.address, Some(ip("203.0.113.9")));
        assert!(!origin.https);
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies();
        // The client forged the first entry; the edge proxy appended the
        // address it saw; an inner proxy appended the edge's.
        let hops = ["6.6.6.6, 198.51.100.7", "10.0.0.2"];
        assert_eq!(
            client_from_forwarded_for(ip("10.0.0.1"), hops, &trusted),
            ip("198.51.100.7")
        );
        // Only proxies: the leftmost is as close to the client as it gets.
        assert_eq!(
            client_from_forwarded_for(ip("10.0.0.1"), ["10.0.0.3, 10.0.0.2"], &trusted),
            ip("10.0.0.3")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_from_forwarded_for(ip("10.0.0.1"), [], &trusted),
            ip("10.0.0.1")
        );
        // Ports and brackets as some proxies write them.
        assert_eq!(
            client_from_forwarded_for(ip("10.0.0.1"), ["[2001:db8::5]:4711"], &trusted),
            ip("2001:db8::5")
        );
        assert_eq!(
            client_from_forwarded_for(ip("10.0.0.1"), ["198.51.100.7:4711"], &trusted),
            ip("198.51.100.7")
        );
        // Garbage stops the walk at the last good hop, never past it.
        assert_eq!(
            client_from_forwarded_for(ip("10.0.0.1"), ["198.51.100.7, nonsense"], &trusted),
            ip("10.0.0.1")
        );
    }

    #[test]
    fn the_scheme_comes_from_a_trusted_proxy_or_the_connection() {
        let trusted = proxies();
        let via_proxy = |proto: &str, tls| {
            client_origin(
                Some(ip("10.0.0.1")),
                tls,
                &trusted,
                &headers(&[("x-forwarded-proto", proto)]),
            )
            .https
        };
        assert!(via_proxy("https", false));
        assert!(via_proxy("HTTPS", false));
        assert!(!via_proxy("http", true));
        assert!(via_proxy("gopher", true));
        assert!(via_proxy("http, https", false));
        let direct = client_origin(Some(ip("10.0.0.1")), true, &trusted, &HeaderMap::new());
        assert!(direct.https);
        assert_eq!(
            client_origin(None, true, &trusted, &HeaderMap::new()),
            ClientOrigin {
                address: None,
                https: true
            }
        );
    }
}
