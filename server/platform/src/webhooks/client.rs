//! The HTTP client deliveries go through, and what it refuses: targets on
//! non-public addresses (unless configured), checked on the addresses a name
//! resolves to when connecting (a name that resolves to 127.0.0.1 the second time
//! is caught there: DNS rebinding), and on IP literals, which are never resolved;
//! redirects (never followed); proxies from the environment (they would resolve the
//! name instead); response bodies past a bound.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE, RETRY_AFTER};

/// Most of a response body read; the rest is not waited for.
const MAX_RESPONSE: usize = 64 * 1024;

/// Whether an address is one webhooks may not call by default: loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast, broadcast, reserved and
/// documentation ranges, and IPv6 forms that embed such an IPv4 address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return private_v4(v4);
            }
            let s = v6.segments();
            let embedded = |hi: u16, lo: u16| Ipv4Addr::from(((hi as u32) << 16) | lo as u32);
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
                || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                // IPv4-compatible (::a.b.c.d), NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
                // reach the IPv4 address inside.
                || (s[..6] == [0; 6] && private_v4(embedded(s[6], s[7])))
                || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] && private_v4(embedded(s[6], s[7])))
                || (s[0] == 0x2002 && private_v4(embedded(s[1], s[2])))
        }
    }
}

fn private_v4(v4: Ipv4Addr) -> bool {
    let [a, b, c, _] = v4.octets();
    v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || a >= 240
        || (a == 100 && (b & 0xc0) == 64) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b & 0xfe) == 18) // benchmarking
}

/// Refuses a URL whose host is an IP literal on a non-public address (names are
/// checked when connecting, see [`SafeResolver`]).
pub fn check_target(url: &reqwest::Url, allow_private: bool) -> Result<(), String> {
    if allow_private {
        return Ok(());
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    if is_private(ip) {
        return Err(format!(
            "{ip} is not a public address; webhooks to it need `webhooks.allow_private_targets` in the platform's configuration"
        ));
    }
    Ok(())
}

/// Resolves names as the system does, then keeps only the addresses webhooks may
/// call: the check happens on what is connected to.
struct SafeResolver {
    allow_private: bool,
}

impl Resolve for SafeResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| allow_private || !is_private(a.ip()))
                .collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("{host} has no address").into()
                } else {
                    format!(
                        "{host} resolves only to non-public addresses; webhooks to them need `webhooks.allow_private_targets`"
                    )
                    .into()
                };
                return Err(e);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// What one request came to.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    pub status: Option<u16>,
    pub latency: Duration,
    /// The start of the body (lossy UTF-8, at most 64 KiB read).
    pub body: Option<String>,
    /// Why no answer came, or what the answer meant (a redirect not followed).
    pub error: Option<String>,
    /// The receiver's `Retry-After`, in seconds or as an HTTP date.
    pub retry_after: Option<Duration>,
}

/// An HTTP client for deliveries.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    allow_private: bool,
}

impl Client {
    pub fn new(timeout: Duration, allow_private: bool) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .dns_resolver(Arc::new(SafeResolver { allow_private }))
            .user_agent(concat!("Observatory-Webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Self {
            http,
            allow_private,
        })
    }

    /// POSTs `body` with `headers`; never fails, the answer says what happened.
    pub async fn post(&self, url: &str, headers: HeaderMap, body: Vec<u8>) -> Answer {
        let started = Instant::now();
        let mut answer = self.request(url, headers, body).await;
        answer.latency = started.elapsed();
        answer
    }

    async fn request(&self, url: &str, mut headers: HeaderMap, body: Vec<u8>) -> Answer {
        let url = match reqwest::Url::parse(url) {
            Ok(u) => u,
            Err(e) => return failure(format!("bad URL: {e}")),
        };
        if let Err(e) = check_target(&url, self.allow_private) {
            return failure(e);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let mut res = match self.http.post(url).headers(headers).body(body).send().await {
            Ok(r) => r,
            Err(e) => return failure(describe(&e)),
        };
        let status = res.status();
        let retry_after = res
            .headers()
            .get(RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let error = status.is_redirection().then(|| {
            let to = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("?");
            format!("redirect to {to} not followed; give the final URL")
        });
        let mut bytes = Vec::new();
        let mut body_error = None;
        while bytes.len() < MAX_RESPONSE {
            match res.chunk().await {
                Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(e) => {
                    body_error = Some(describe(&e));
                    break;
                }
            }
        }
        bytes.truncate(MAX_RESPONSE);
        Answer {
            status: Some(status.as_u16()),
            latency: Duration::ZERO,
            body: Some(String::from_utf8_lossy(&bytes).into_owned()).filter(|b| !b.is_empty()),
            // A 2xx whose body broke off still counts: the receiver said yes.
            error: error.or(body_error.filter(|_| !status.is_success())),
            retry_after,
        }
    }
}

fn failure(error: String) -> Answer {
    Answer {
        error: Some(error),
        ..Answer::default()
    }
}

/// reqwest's error with its causes (the refusal of a resolver is a cause).
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `Retry-After` as seconds or an HTTP date (RFC 9110); a date in the past is 0.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
            "::7f00:1",
        ] {
            assert!(is_private(ip.parse().expect("ip")), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(!is_private(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[test]
    fn ip_literals_are_checked_before_connecting() {
        let url = |u: &str| reqwest::Url::parse(u).expect("url");
        assert!(check_target(&url("http://127.0.0.1:9/x"), false).is_err());
        assert!(check_target(&url("http://[::ffff:7f00:1]/"), false).is_err());
        assert!(check_target(&url("http://127.0.0.1:9/x"), true).is_ok());
        assert!(check_target(&url("https://example.com/"), false).is_ok());
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later =
            httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(600));
        assert!(parse_retry_after(&later).is_some_and(|d| d > Duration::from_secs(500)));
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[tokio::test]
    async fn loopback_names_are_refused_at_connect_time() {
        let client = Client::new(Duration::from_secs(2), false).expect("client");
        // `localhost` is a name: it passes the URL check and is caught on resolution.
        let a = client
            .post("http://localhost:9/hook", HeaderMap::new(), b"{}".to_vec())
            .await;
        assert_eq!(a.status, None);
        assert!(
            a.error.as_deref().is_some_and(|e| e.contains("non-public")),
            "{a:?}"
        );
    }
}
