//! The HTTP transport: one blocking `ureq` agent with rustls, where ocifit
//! — not the library — decides about redirects, retries and body sizes.
//!
//! - TLS is verified as [`super::tls`] describes (system store,
//!   Mozilla's roots, `--ca-cert`, certs.d).
//! - Redirects are followed by hand (at most 5): the `Authorization`
//!   header goes only to the origin (scheme, host and port) it was meant
//!   for, and a redirect from `https` to `http` is refused unless the
//!   target is a loopback host or `--plain-http` names it. A request with a
//!   body (a token `POST` carrying a refresh token, a manifest `PUT`) is
//!   re-sent only for a 307 or 308 to the same origin: never elsewhere,
//!   and never as the answer to a 301, 302 or 303.
//! - 429, 502, 503 and 504 answers and refused or reset connections are
//!   retried a bounded number of times with doubling backoff (or the
//!   `Retry-After` the server asks for), each wait at most 10 s and all of
//!   them at most 30 s; timeouts are not retried.
//! - Each try has a total deadline (`--timeout`, 60 s), body included, on
//!   top of the connect and per-read timeouts.
//! - Bodies are read through a limit: a `Content-Length` above it is
//!   refused before reading, a body that grows past it is cut off.
//! - With `--verbose`, each request's method, URL (query values hidden,
//!   except `service` and `scope`) and status go to stderr.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use super::tls::{self, Trust};
use crate::options::{MAX_RETRY_WAIT, MAX_RETRY_WAIT_TOTAL, Options};
use crate::reference::is_loopback_host;

const MAX_REDIRECTS: usize = 5;
/// Error bodies are read only this far: enough for the registry's JSON error.
pub const ERROR_BODY_LIMIT: usize = 64 * 1024;

pub struct Http {
    agent: ureq::Agent,
    options: Options,
}

/// An answer, body already read (within its limit).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Lowercase names.
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Where the answer finally came from (after redirects).
    pub url: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

pub enum Method<'a> {
    Get,
    /// Like `Get`, without the body.
    Head,
    /// `application/x-www-form-urlencoded` body.
    PostForm(&'a str),
    /// A body of this content type (a manifest push).
    Put {
        content_type: &'a str,
        body: &'a [u8],
    },
}

impl Method<'_> {
    fn name(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::PostForm(_) => "POST",
            Method::Put { .. } => "PUT",
        }
    }

    /// Whether the request carries a body (which may hold a secret).
    fn has_body(&self) -> bool {
        matches!(self, Method::PostForm(_) | Method::Put { .. })
    }
}

impl Http {
    pub fn new(options: &Options, direct: bool) -> Result<Http, String> {
        let trust = Arc::new(Trust::new(options)?);
        let mut config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(options.connect_timeout))
            .timeout_recv_response(Some(options.read_timeout))
            .timeout_per_read(Some(options.read_timeout))
            .timeout_global(Some(options.total_timeout))
            .user_agent(concat!("ocifit/", env!("CARGO_PKG_VERSION")))
            .accept_encoding("identity");
        if direct {
            // A loopback registry is never reached through a proxy.
            config = config.proxy(None);
        }
        let agent = ureq::Agent::with_parts(
            config.build(),
            tls::connector(trust),
            ureq::unversioned::resolver::DefaultResolver::default(),
        );
        Ok(Http { agent, options: options.clone() })
    }

    /// Send a request, follow redirects and retry as described above. The
    /// body of a 2xx answer is read up to `max` bytes (more is an error);
    /// other bodies up to [`ERROR_BODY_LIMIT`].
    pub fn send(
        &self,
        method: Method<'_>,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        max: usize,
    ) -> Result<Reply, String> {
        let mut url = url.to_string();
        let first_origin = origin(&url).ok_or_else(|| format!("bad URL {url}"))?;
        for _ in 0..=MAX_REDIRECTS {
            // Credentials only ever go to the origin they were meant for.
            let auth = authorization.filter(|_| origin(&url).as_ref() == Some(&first_origin));
            let reply = self.send_retrying(&method, &url, headers, auth, max).map_err(Failure::into_message)?;
            if !matches!(reply.status, 301 | 302 | 303 | 307 | 308) {
                return Ok(reply);
            }
            let location = reply.header("location").ok_or_else(|| format!("{url}: redirect without a Location"))?;
            let next = resolve(&url, location).ok_or_else(|| format!("{url}: unusable redirect to {location:?}"))?;
            let (scheme, authority) = origin(&next).ok_or_else(|| format!("bad redirect URL {next}"))?;
            if method.has_body() {
                // The body may be a credential (a refresh token): re-sent
                // only where it was meant to go, and only when asked to
                // re-send it (307/308), never as a 302 turned into a new POST.
                let m = method.name();
                if !matches!(reply.status, 307 | 308) {
                    return Err(format!(
                        "{url}: the server answered the {m} with a redirect (HTTP {}); ocifit does not re-send it",
                        reply.status
                    ));
                }
                if (scheme.as_str(), authority.as_str()) != (first_origin.0.as_str(), first_origin.1.as_str()) {
                    return Err(format!(
                        "{url}: refusing to re-send the {m} and its body to another origin ({scheme}://{authority})"
                    ));
                }
            }
            if scheme == "http"
                && url.starts_with("https://")
                && !self.options.plain_http_for(&authority)
                && !is_loopback_host(crate::reference::host_of(&authority))
            {
                return Err(format!("{url}: refusing a redirect from https to plain http ({next})"));
            }
            url = next;
        }
        Err(format!("{url}: more than {MAX_REDIRECTS} redirects"))
    }

    /// `GET url` once (with retries, no redirects), telling apart a server
    /// that does not speak TLS at all: how a loopback registry's scheme is
    /// found, as docker does for insecure registries.
    pub fn probe(&self, url: &str) -> Result<Reply, Probe> {
        match self.send_retrying(&Method::Get, url, &[], None, ERROR_BODY_LIMIT) {
            Ok(r) => Ok(r),
            Err(Failure::NotTls(_)) => Err(Probe::NotTls),
            Err(f) => Err(Probe::Failed(f.into_message())),
        }
    }

    fn send_retrying(
        &self,
        method: &Method<'_>,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        max: usize,
    ) -> Result<Reply, Failure> {
        let mut backoff = self.options.retry_backoff.min(MAX_RETRY_WAIT);
        let mut waited = Duration::ZERO;
        let mut attempt = 0;
        loop {
            let outcome = self.send_once(method, url, headers, authorization, max);
            let retry_after = match &outcome {
                Ok(r) if matches!(r.status, 429 | 502 | 503 | 504) => {
                    Some(r.header("retry-after").and_then(|s| s.trim().parse::<u64>().ok()).map(Duration::from_secs))
                }
                Err(Failure::Connect(_)) => Some(None),
                _ => None,
            };
            let wait = retry_after.map(|after| next_wait(after, backoff, waited));
            match wait {
                Some(Some(wait)) if attempt < self.options.retries => {
                    std::thread::sleep(wait);
                    waited += wait;
                    backoff = (backoff * 2).min(MAX_RETRY_WAIT);
                    attempt += 1;
                }
                _ => {
                    return outcome.map_err(|f| match f {
                        Failure::Connect(m) if attempt > 0 => {
                            Failure::Other(format!("{m} (after {} attempts)", attempt + 1))
                        }
                        f => f,
                    });
                }
            }
        }
    }

    fn send_once(
        &self,
        method: &Method<'_>,
        url: &str,
        headers: &[(&str, &str)],
        authorization: Option<&str>,
        max: usize,
    ) -> Result<Reply, Failure> {
        let result = match method {
            Method::Get => with_headers(self.agent.get(url), headers, authorization).call(),
            Method::Head => with_headers(self.agent.head(url), headers, authorization).call(),
            Method::Put { content_type, body } => {
                let req = self.agent.put(url).header("Content-Type", *content_type);
                with_headers(req, headers, authorization).send(*body)
            }
            Method::PostForm(form) => {
                let req = self.agent.post(url).header("Content-Type", "application/x-www-form-urlencoded");
                with_headers(req, headers, authorization).send(form.as_bytes())
            }
        };
        let response = result.map_err(|e| {
            let failure = self.transport_failure(url, e);
            self.trace(method, url, "failed");
            failure
        })?;
        let status = response.status().as_u16();
        self.trace(method, url, &status.to_string());
        let headers: Vec<(String, String)> = response
            .headers()
            .iter()
            .filter_map(|(n, v)| Some((n.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
            .collect();
        let limit = if (200..300).contains(&status) { max } else { ERROR_BODY_LIMIT };
        let declared = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse::<u64>().ok());
        if (200..300).contains(&status) && declared.is_some_and(|n| n > limit as u64) {
            return Err(Failure::Other(format!(
                "{url}: the answer is {} bytes, more than the {limit} bytes allowed (refused before reading)",
                declared.unwrap_or_default()
            )));
        }
        let mut body = Vec::new();
        let read = response.into_body().into_reader().take((limit as u64).saturating_add(1)).read_to_end(&mut body);
        if let Err(e) = read {
            return Err(Failure::Other(format!("{url}: reading the answer: {}", self.describe_io(&e))));
        }
        if body.len() > limit {
            if (200..300).contains(&status) {
                return Err(Failure::Other(format!(
                    "{url}: the answer is larger than the {limit} bytes allowed (refused while reading)"
                )));
            }
            body.truncate(limit);
        }
        Ok(Reply { status, headers, body, url: url.to_string() })
    }

    /// `-v`: one line per try. The URL's query values are hidden (a
    /// redirect to a CDN may carry a signature in them).
    fn trace(&self, method: &Method<'_>, url: &str, outcome: &str) {
        if self.options.verbose {
            eprintln!("ocifit: {} {} -> {outcome}", method.name(), redact_url(url));
        }
    }

    fn transport_failure(&self, url: &str, e: ureq::Error) -> Failure {
        use ureq::Error as E;
        let what = match &e {
            E::Timeout(t) => return Failure::Other(format!("{url}: {}", self.timeout_words(*t))),
            E::Io(io) if is_not_tls(io) => {
                return Failure::NotTls(format!("{url}: the server does not speak TLS"));
            }
            E::Io(io) if io.get_ref().is_some_and(|i| i.is::<rustls::Error>()) => {
                let r = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
                r.map(|r| self.tls_words(url, r)).unwrap_or_default()
            }
            E::Io(io) => {
                let m = self.describe_io(io);
                return match io.kind() {
                    std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::UnexpectedEof => Failure::Connect(format!("{url}: {m}")),
                    _ => Failure::Other(format!("{url}: {m}")),
                };
            }
            E::HostNotFound => "host not found".to_string(),
            E::ConnectionFailed => return Failure::Connect(format!("{url}: connection failed")),
            E::Tls(m) => format!("TLS: {m}"),
            E::Rustls(rustls::Error::InvalidMessage(_)) => {
                return Failure::NotTls(format!("{url}: the server does not speak TLS"));
            }
            E::Rustls(r) => self.tls_words(url, r),
            other => other.to_string(),
        };
        Failure::Other(format!("{url}: {what}"))
    }

    fn tls_words(&self, url: &str, e: &rustls::Error) -> String {
        let authority = origin(url).map(|(_, a)| a).unwrap_or_default();
        tls::describe(e, &authority, !self.options.ca_certs.is_empty())
    }

    /// Which limit a timeout hit, with the flag that sets it.
    fn timeout_words(&self, t: ureq::Timeout) -> String {
        let o = &self.options;
        let secs = |d: Duration| d.as_secs_f32();
        match t {
            ureq::Timeout::Global => {
                format!("no complete answer within {} s (--timeout)", secs(o.total_timeout))
            }
            ureq::Timeout::Connect | ureq::Timeout::Resolve => {
                format!("no connection within {} s (--connect-timeout)", secs(o.connect_timeout))
            }
            _ => format!("timed out: nothing received for {} s (--read-timeout)", secs(o.read_timeout)),
        }
    }

    fn describe_io(&self, e: &std::io::Error) -> String {
        if let Some(ureq::Error::Timeout(t)) = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
            return self.timeout_words(*t);
        }
        match e.kind() {
            std::io::ErrorKind::ConnectionRefused => "connection refused (is the registry running?)".into(),
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
                format!(
                    "timed out: nothing received for {} s (--read-timeout)",
                    self.options.read_timeout.as_secs_f32()
                )
            }
            _ => e.to_string(),
        }
    }
}

/// The wait before the next try: what the server asked (`Retry-After`) or
/// the backoff, at most [`MAX_RETRY_WAIT`]; `None` when it would take the
/// waits of this request past [`MAX_RETRY_WAIT_TOTAL`] (give up instead).
fn next_wait(asked: Option<Duration>, backoff: Duration, waited: Duration) -> Option<Duration> {
    let wait = asked.unwrap_or(backoff).min(MAX_RETRY_WAIT);
    (waited + wait <= MAX_RETRY_WAIT_TOTAL).then_some(wait)
}

/// A URL for the log: query values hidden except `service` and `scope`.
pub fn redact_url(url: &str) -> String {
    let (base, fragment_free) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q.split('#').next().unwrap_or_default())),
        None => (url, None),
    };
    let base = crate::reference::redact(base);
    let Some(query) = fragment_free else { return base.into_owned() };
    let shown: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) if k == "service" || k == "scope" => format!("{k}={v}"),
            Some((k, _)) => format!("{k}=…"),
            None => kv.to_string(),
        })
        .collect();
    format!("{base}?{}", shown.join("&"))
}

enum Failure {
    /// Worth another try.
    Connect(String),
    /// The peer answered a TLS handshake with something that is not TLS.
    NotTls(String),
    Other(String),
}

impl Failure {
    fn into_message(self) -> String {
        match self {
            Failure::Connect(m) | Failure::NotTls(m) | Failure::Other(m) => m,
        }
    }
}

pub enum Probe {
    NotTls,
    Failed(String),
}

/// rustls reports a peer that answered the handshake with something other
/// than TLS (a plain-HTTP server's `400 Bad Request`) as an invalid message.
fn is_not_tls(e: &std::io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|r| matches!(r, rustls::Error::InvalidMessage(_)))
}

/// `(scheme, authority)` of an absolute URL, the authority lowercased.
pub fn origin(url: &str) -> Option<(String, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let mut authority = authority.to_ascii_lowercase();
    // The default port is the same origin as no port.
    for (s, port) in [("http", ":80"), ("https", ":443")] {
        if scheme == s && authority.ends_with(port) && !authority.ends_with(']') {
            authority.truncate(authority.len() - port.len());
        }
    }
    Some((scheme, authority))
}

/// Resolve a `Location` against the URL it came from.
fn resolve(base: &str, location: &str) -> Option<String> {
    let location = location.trim();
    if location.starts_with("http://") || location.starts_with("https://") {
        return origin(location).map(|_| location.to_string());
    }
    let (scheme, rest) = base.split_once("://")?;
    if let Some(rest) = location.strip_prefix("//") {
        return Some(format!("{scheme}://{rest}"));
    }
    let authority = rest.split(['/', '?', '#']).next()?;
    if location.starts_with('/') {
        return Some(format!("{scheme}://{authority}{location}"));
    }
    // Relative to the base's directory.
    let path = &rest[authority.len()..];
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    Some(format!("{scheme}://{authority}{}{location}", if dir.is_empty() { "/" } else { dir }))
}

/// Percent-encode a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The request's own headers and, when there is one, its credentials.
fn with_headers<B>(
    mut req: ureq::RequestBuilder<B>,
    headers: &[(&str, &str)],
    authorization: Option<&str>,
) -> ureq::RequestBuilder<B> {
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    if let Some(a) = authorization {
        req = req.header("Authorization", a);
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let o = |u: &str| origin(u).map(|(s, a)| format!("{s} {a}"));
        assert_eq!(o("https://Example.com/v2/").as_deref(), Some("https example.com"));
        assert_eq!(o("https://example.com:443/x").as_deref(), Some("https example.com"));
        assert_eq!(o("http://127.0.0.1:5000").as_deref(), Some("http 127.0.0.1:5000"));
        assert_eq!(o("http://[::1]:5000/v2/").as_deref(), Some("http [::1]:5000"));
        assert_eq!(o("http://user@evil/").as_deref(), None);
        assert_eq!(o("no-scheme"), None);
    }

    #[test]
    fn locations() {
        let b = "http://127.0.0.1:5000/v2/app/manifests/v1";
        assert_eq!(resolve(b, "/v2/x").unwrap(), "http://127.0.0.1:5000/v2/x");
        assert_eq!(resolve(b, "//other:1/y").unwrap(), "http://other:1/y");
        assert_eq!(resolve(b, "https://cdn/z?q").unwrap(), "https://cdn/z?q");
        assert_eq!(resolve(b, "v2").unwrap(), "http://127.0.0.1:5000/v2/app/manifests/v2");
    }

    #[test]
    fn retry_waits_are_capped_each_and_in_all() {
        let s = Duration::from_secs;
        // (asked by Retry-After, backoff, already waited) -> wait
        let table = [
            (None, Duration::from_millis(250), s(0), Some(Duration::from_millis(250))),
            (None, s(256), s(0), Some(MAX_RETRY_WAIT)),
            (Some(s(3600)), s(1), s(0), Some(MAX_RETRY_WAIT)),
            (Some(s(2)), s(1), s(0), Some(s(2))),
            (None, s(10), s(20), Some(s(10))),
            (None, s(10), s(25), None),
        ];
        for (asked, backoff, waited, want) in table {
            assert_eq!(next_wait(asked, backoff, waited), want, "{asked:?} {backoff:?} {waited:?}");
        }
        // `--retries 10` waits at most the total, not 256 s.
        let (mut backoff, mut waited) = (Duration::from_millis(250), Duration::ZERO);
        for _ in 0..10 {
            let Some(w) = next_wait(None, backoff, waited) else { break };
            waited += w;
            backoff = (backoff * 2).min(MAX_RETRY_WAIT);
        }
        assert!(waited <= MAX_RETRY_WAIT_TOTAL, "{waited:?}");
    }

    #[test]
    fn verbose_urls_hide_query_values() {
        let table = [
            ("https://r.example/v2/", "https://r.example/v2/"),
            (
                "https://auth.example/token?service=reg&scope=repository:a:pull",
                "https://auth.example/token?service=reg&scope=repository:a:pull",
            ),
            (
                "https://cdn.example/blob?X-Amz-Signature=abc&expires=1",
                "https://cdn.example/blob?X-Amz-Signature=…&expires=…",
            ),
        ];
        for (url, shown) in table {
            assert_eq!(redact_url(url), shown);
        }
    }

    #[test]
    fn query_encoding() {
        assert_eq!(encode("repository:a/b:pull"), "repository%3Aa%2Fb%3Apull");
        assert_eq!(encode("Docker registry"), "Docker%20registry");
    }
}
