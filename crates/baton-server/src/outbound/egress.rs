//! The SSRF guard every outbound request goes through (DESIGN.md, "Safety").
//!
//! Four layers, because no single one is enough with reqwest:
//! 1. [`EgressPolicy::check_url`] before sending: scheme `http`/`https`, and IP-literal hosts
//!    checked directly (hyper connects to IP literals without asking the resolver);
//! 2. a resolver ([`GuardedResolver`]) that drops forbidden addresses, so the client connects only
//!    to addresses that were checked (no DNS rebinding between check and connect);
//! 3. a redirect policy that re-runs the URL check on every hop and stops after 5 hops;
//! 4. no proxy from the environment, connect and total timeouts.
//!
//! Always refused: unspecified, broadcast, multicast, link-local (this includes cloud metadata
//! at 169.254.169.254), documentation, benchmarking and reserved ranges, and IPv6 prefixes that
//! embed IPv4 addresses (NAT64, 6to4, Teredo), and IPv6 site-local fec0::/10. Loopback and private networks (RFC 1918,
//! 100.64/10, fc00::/7) are refused unless the policy allows them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use url::{Host, Url};

/// Most redirects a request may follow.
pub const MAX_REDIRECTS: usize = 5;
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(30);

/// Which destinations outbound requests may reach, beyond public unicast addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EgressPolicy {
    /// 127.0.0.0/8 and ::1 (tests and local development).
    pub allow_loopback: bool,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 and fc00::/7.
    pub allow_private: bool,
}

/// Why an outbound request was refused before it left.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EgressError {
    #[error("scheme \"{0}\" is not allowed for outbound requests")]
    Scheme(String),
    #[error("URL has no host")]
    NoHost,
    #[error("destination {0} is not allowed by the egress policy")]
    Forbidden(String),
    #[error("host \"{0}\" resolves only to addresses the egress policy forbids")]
    ForbiddenHost(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

impl EgressPolicy {
    /// Whether the client may connect to `ip`.
    pub fn allows(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => self.allows_v4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => self.allows_v4(v4),
                None => self.allows_v6(v6),
            },
        }
    }

    /// The pre-send check: scheme `http`/`https` and, for IP-literal hosts, [`Self::allows`].
    /// Domain names are checked by the resolver of [`guarded_client`].
    pub fn check_url(&self, url: &Url) -> Result<(), EgressError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(EgressError::Scheme(url.scheme().to_owned()));
        }
        match url.host() {
            None => Err(EgressError::NoHost),
            Some(Host::Ipv4(v4)) if !self.allows(IpAddr::V4(v4)) => Err(EgressError::Forbidden(v4.to_string())),
            Some(Host::Ipv6(v6)) if !self.allows(IpAddr::V6(v6)) => Err(EgressError::Forbidden(v6.to_string())),
            Some(_) => Ok(()),
        }
    }

    fn allows_v4(&self, ip: Ipv4Addr) -> bool {
        let [a, b, c, _] = ip.octets();
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let private = ip.is_private() || (a == 100 && (64..128).contains(&b));
        if private {
            return self.allow_private;
        }
        let forbidden = a == 0
            || ip.is_link_local()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_documentation()
            || a >= 240
            || (a == 192 && b == 0 && c == 0)
            || (a == 198 && (b == 18 || b == 19));
        !forbidden
    }

    fn allows_v6(&self, ip: Ipv6Addr) -> bool {
        if ip.is_loopback() {
            return self.allow_loopback;
        }
        let segments = ip.segments();
        if ip.is_unique_local() {
            return self.allow_private;
        }
        let forbidden = ip.is_unspecified()
            // Site-local fec0::/10 (deprecated by RFC 3879, still routed inside some networks).
            || segments[0] & 0xffc0 == 0xfec0
            || ip.is_multicast()
            || ip.is_unicast_link_local()
            // IPv4-compatible ::a.b.c.d (deprecated) and the rest of ::/96.
            || segments[..6].iter().all(|it| *it == 0)
            // NAT64 64:ff9b::/96 and 64:ff9b:1::/48.
            || (segments[0] == 0x64 && segments[1] == 0xff9b)
            // Teredo 2001::/32, benchmarking 2001:2::/48, documentation 2001:db8::/32.
            || (segments[0] == 0x2001 && (segments[1] == 0 || segments[1] == 2 || segments[1] == 0xdb8))
            // 6to4.
            || segments[0] == 0x2002
            // Documentation 3fff::/20.
            || (segments[0] == 0x3fff && segments[1] & 0xf000 == 0);
        !forbidden
    }
}

/// A resolver that keeps only the addresses the policy allows.
#[derive(Debug, Clone)]
pub struct GuardedResolver {
    policy: EgressPolicy,
}

impl GuardedResolver {
    pub fn new(policy: EgressPolicy) -> GuardedResolver {
        GuardedResolver { policy }
    }
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let allowed: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.filter(|addr| policy.allows(addr.ip())).collect();
            if allowed.is_empty() {
                return Err(Box::new(EgressError::ForbiddenHost(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// A client that only reaches destinations `policy` allows. Callers must still run
/// [`EgressPolicy::check_url`] on the first URL (IP literals bypass the resolver).
///
/// With `follow_redirects`, up to [`MAX_REDIRECTS`] hops are followed and each is checked;
/// otherwise a 3xx response is returned as-is.
pub fn guarded_client(policy: EgressPolicy, follow_redirects: bool) -> reqwest::Client {
    let redirect = if follow_redirects {
        reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() > MAX_REDIRECTS {
                return attempt.error(EgressError::TooManyRedirects);
            }
            match policy.check_url(attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(err) => attempt.error(err),
            }
        })
    } else {
        reqwest::redirect::Policy::none()
    };
    let builder = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver::new(policy)))
        .redirect(redirect)
        // A Referer would tell the next hop where the request came from (issue 13, item 9).
        .referer(false)
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(TOTAL_TIMEOUT)
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")));
    match builder.build() {
        Ok(client) => client,
        // Only a broken TLS backend fails here; nothing a caller could handle.
        Err(err) => panic!("building the outbound HTTP client failed: {err}"),
    }
}

/// The [`EgressError`] somewhere in `err`'s source chain, if the guard refused the request.
pub fn find_egress_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a EgressError> {
    let mut current = Some(err);
    while let Some(it) = current {
        if let Some(egress) = it.downcast_ref::<EgressError>() {
            return Some(egress);
        }
        current = it.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: EgressPolicy = EgressPolicy { allow_loopback: false, allow_private: false };
    const LOCAL: EgressPolicy = EgressPolicy { allow_loopback: true, allow_private: false };
    const PRIVATE: EgressPolicy = EgressPolicy { allow_loopback: false, allow_private: true };

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn public_addresses_are_allowed() {
        for text in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "::ffff:8.8.8.8", "100.128.0.1", "172.32.0.1"] {
            assert!(STRICT.allows(ip(text)), "{text}");
        }
    }

    #[test]
    fn special_addresses_are_refused() {
        let always = [
            "0.0.0.0",
            "169.254.169.254",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.51.100.7",
            "203.0.113.9",
            "198.18.0.1",
            "192.0.0.8",
            "::",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "64:ff9b::7f00:1",
            "2001::1",
            "::127.0.0.1",
            "3fff::1",
            "fec0::1",
            "feff:ffff::1",
        ];
        for text in always {
            for policy in [STRICT, LOCAL, PRIVATE, EgressPolicy { allow_loopback: true, allow_private: true }] {
                assert!(!policy.allows(ip(text)), "{text} {policy:?}");
            }
        }
    }

    #[test]
    fn loopback_and_private_follow_the_policy() {
        for text in ["127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"] {
            assert!(!STRICT.allows(ip(text)), "{text}");
            assert!(LOCAL.allows(ip(text)), "{text}");
            assert!(!PRIVATE.allows(ip(text)), "{text}");
        }
        for text in ["10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1", "fd00::1", "::ffff:10.1.1.1"] {
            assert!(!STRICT.allows(ip(text)), "{text}");
            assert!(!LOCAL.allows(ip(text)), "{text}");
            assert!(PRIVATE.allows(ip(text)), "{text}");
        }
    }

    #[test]
    fn check_url_covers_schemes_and_ip_literals() {
        let check = |policy: EgressPolicy, text: &str| policy.check_url(&Url::parse(text).unwrap());
        assert_eq!(check(STRICT, "ftp://example.com/"), Err(EgressError::Scheme("ftp".into())));
        assert_eq!(check(STRICT, "file:///etc/passwd"), Err(EgressError::Scheme("file".into())));
        assert_eq!(check(STRICT, "http://127.0.0.1:8080/"), Err(EgressError::Forbidden("127.0.0.1".into())));
        // The URL parser normalises the odd spellings before we look at them.
        assert!(check(STRICT, "http://0x7f.0.0.1/").is_err());
        assert!(check(STRICT, "http://2130706433/").is_err());
        assert!(check(STRICT, "http://[::ffff:127.0.0.1]/").is_err());
        assert!(check(STRICT, "http://[::1]/").is_err());
        assert_eq!(check(LOCAL, "http://127.0.0.1:8080/"), Ok(()));
        assert_eq!(check(STRICT, "https://example.com/x"), Ok(()));
        // Names are left to the resolver.
        assert_eq!(check(STRICT, "http://localhost/"), Ok(()));
    }
}
