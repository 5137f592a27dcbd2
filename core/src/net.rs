//! The outbound address policy: which IP addresses and host names count as internal (loopback,
//! private, link-local, cloud metadata, reserved), and the operator's allow-list of hosts that
//! may be reached anyway. One source for every check: the webhook URL guard in
//! `gateway/webhooks.rs` applies it to the URL's host, and native HTTP clients apply it to each
//! address a name resolves to (`molts-reqwest`'s public-only resolver), so a public-looking name
//! that resolves to `127.0.0.1` or `169.254.169.254` is refused as its literal would be.
//! The same policy guards every destination someone other than the operator chose: a tenant's
//! own provider `base_url`, and the output URLs providers answer with (see
//! `gateway/outbound.rs`).
//!
//! Pure: prefix tables over the address bits and text matching, no resolver, no I/O.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges that are not publicly routable, as (network, prefix length).
const V4_NOT_PUBLIC: &[([u8; 4], u32)] = &[
    ([0, 0, 0, 0], 8),       // "this network", including 0.0.0.0
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT, often internal to a cloud
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local, where cloud metadata lives
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation
    ([203, 0, 113, 0], 24),  // documentation
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, including the broadcast address
];

/// IPv6 ranges that are not publicly routable (those embedding an IPv4 address are judged by
/// it instead, see `embedded_v4`), as (network, prefix length).
const V6_NOT_PUBLIC: &[([u16; 8], u32)] = &[
    ([0, 0, 0, 0, 0, 0, 0, 0], 96), // unspecified, loopback, deprecated IPv4-compatible
    ([0, 0, 0, 0, 0xffff, 0, 0, 0], 96), // IPv4-translated (SIIT)
    ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48), // local-use NAT64
    ([0x100, 0, 0, 0, 0, 0, 0, 0], 64), // discard-only
    ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23), // IETF protocol assignments (Teredo, ORCHID, ...)
    ([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32), // documentation
    ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20), // documentation
    ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7), // unique local
    ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10), // link-local
    ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10), // site-local (deprecated)
    ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8), // multicast
];

fn in_v4_prefix(ip: Ipv4Addr, (network, len): ([u8; 4], u32)) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    u32::from(ip) & mask == u32::from(Ipv4Addr::from(network)) & mask
}

fn in_v6_prefix(ip: Ipv6Addr, (network, len): ([u16; 8], u32)) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    u128::from(ip) & mask == u128::from(Ipv6Addr::from(network)) & mask
}

/// The IPv4 address an IPv6 address stands for, where connecting to it reaches that address:
/// IPv4-mapped (`::ffff:127.0.0.1`), well-known NAT64 (`64:ff9b::/96`) and 6to4 (`2002::/16`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let bits = u128::from(ip);
    let low = Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if in_v6_prefix(ip, ([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)) {
        Some(low)
    } else if in_v6_prefix(ip, ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16)) {
        Some(Ipv4Addr::from(((bits >> 80) & 0xffff_ffff) as u32))
    } else {
        None
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    !V4_NOT_PUBLIC.iter().any(|&range| in_v4_prefix(ip, range))
}

fn public_v6(ip: Ipv6Addr) -> bool {
    match embedded_v4(ip) {
        Some(v4) => public_v4(v4),
        None => !V6_NOT_PUBLIC.iter().any(|&range| in_v6_prefix(ip, range)),
    }
}

/// Whether molts may send to `ip` on an agent's behalf: `false` for loopback, private (RFC 1918,
/// unique-local `fc00::/7`), link-local (`169.254.0.0/16` with the cloud metadata address,
/// `fe80::/10`), carrier-grade NAT (`100.64.0.0/10`), unspecified, broadcast, multicast,
/// documentation, benchmarking and other reserved ranges, and for IPv6 addresses that carry
/// such an IPv4 address (`::ffff:127.0.0.1`, NAT64, 6to4).
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => public_v6(v6),
    }
}

/// Whether a host name is internal by its name alone (`localhost`, `*.localhost`, `*.internal`,
/// `*.local`, `metadata`), before any resolution.
pub fn is_internal_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.ends_with(".internal")
        || host.ends_with(".local")
        || host == "metadata"
}

/// Whether the operator's allow-list names `host` (a name or an IP literal, with or without
/// IPv6 brackets): exact, ignoring ASCII case, surrounding blanks and a final dot. A listed host
/// may be reached although it is internal or resolves to internal addresses.
pub fn host_is_allowed(allowed: &[String], host: &str) -> bool {
    let normal = |h: &str| {
        h.trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_owned()
    };
    let host = normal(host);
    !host.is_empty()
        && allowed
            .iter()
            .any(|listed| normal(listed).eq_ignore_ascii_case(&host))
}

/// A URL host as the allow-list spells it: a name, or an IP literal without brackets.
pub fn host_text(host: &url::Host<&str>) -> String {
    match host {
        url::Host::Domain(d) => (*d).to_owned(),
        url::Host::Ipv4(ip) => ip.to_string(),
        url::Host::Ipv6(ip) => ip.to_string(),
    }
}

/// Whether a URL's host may not be reached by its text alone: an internal name or an IP literal
/// that is not public, and not on the operator's allow-list. What a name resolves to is the
/// resolver's to judge (`molts-reqwest`'s public-only clients); on Workers, which resolve for
/// themselves, this is the whole check.
pub fn host_is_refused(host: &url::Host<&str>, allowed: &[String]) -> bool {
    let internal = match host {
        url::Host::Domain(d) => is_internal_name(d),
        url::Host::Ipv4(ip) => !is_public_address(IpAddr::V4(*ip)),
        url::Host::Ipv6(ip) => !is_public_address(IpAddr::V6(*ip)),
    };
    internal && !host_is_allowed(allowed, &host_text(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        match text.parse() {
            Ok(ip) => ip,
            Err(_) => unreachable!("{text} is not an IP address"),
        }
    }

    #[test]
    fn internal_and_reserved_addresses_are_not_public() {
        for text in [
            // IPv4
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "169.254.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:0:7f00:1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
        ] {
            assert!(!is_public_address(ip(text)), "{text} should not be public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.255.255",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.0.3.1",
            "192.167.255.255",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public_address(ip(text)), "{text} should be public");
        }
    }

    #[test]
    fn internal_names_are_recognised() {
        for name in [
            "localhost",
            "LOCALHOST.",
            "api.localhost",
            "metadata",
            "metadata.google.internal",
            "printer.local",
        ] {
            assert!(is_internal_name(name), "{name} should be internal");
        }
        for name in [
            "hooks.example.com",
            "internal.example.com",
            "localhost.example",
        ] {
            assert!(!is_internal_name(name), "{name} should not be internal");
        }
    }

    #[test]
    fn url_hosts_are_refused_by_text_unless_allowed() {
        let allowed = vec!["127.0.0.1".to_owned(), "models.internal".to_owned()];
        let refused = |raw: &str| {
            let url = url::Url::parse(raw).unwrap_or_else(|_| unreachable!("{raw}"));
            let host = url
                .host()
                .unwrap_or_else(|| unreachable!("{raw} has no host"));
            host_is_refused(&host, &allowed)
        };
        for raw in [
            "http://169.254.169.254/latest",
            "http://[::1]:8080/",
            "http://[::ffff:10.0.0.1]/",
            "http://localhost:6379/",
            "http://metadata.google.internal/",
            "http://127.0.0.2/",
        ] {
            assert!(refused(raw), "{raw} should be refused");
        }
        for raw in [
            "https://cdn.example.com/out.mp4",
            "http://8.8.8.8/",
            "http://127.0.0.1:9/allowed",
            "http://models.internal/v1",
        ] {
            assert!(!refused(raw), "{raw} should pass");
        }
    }

    #[test]
    fn the_allow_list_matches_exact_hosts_only() {
        let allowed = vec![
            "Hooks.Example.Test".to_owned(),
            " 127.0.0.1 ".to_owned(),
            "[::1]".to_owned(),
        ];
        assert!(host_is_allowed(&allowed, "hooks.example.test"));
        assert!(host_is_allowed(&allowed, "hooks.example.test."));
        assert!(host_is_allowed(&allowed, "127.0.0.1"));
        assert!(host_is_allowed(&allowed, "::1"));
        assert!(host_is_allowed(&allowed, "[::1]"));
        assert!(!host_is_allowed(&allowed, "evil.hooks.example.test"));
        assert!(!host_is_allowed(&allowed, "example.test"));
        assert!(!host_is_allowed(&allowed, "127.0.0.2"));
        assert!(!host_is_allowed(&allowed, ""));
        assert!(!host_is_allowed(&[String::new()], ""));
    }
}
