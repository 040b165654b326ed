//! Where a request goes: `--upstream URL`, or containerd's `?ns=` query
//! parameter, and the pooled HTTP(S) client that takes it there.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type Body = BoxBody<Bytes, BoxError>;
pub type HttpClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Body>;

/// Which `?ns=` hosts are reached over plain HTTP besides loopback ones.
#[derive(Debug, Clone, Default)]
pub struct PlainHttp {
    pub hosts: Vec<String>,
    pub all: bool,
}

/// An upstream registry: `scheme://host[:port]` (no trailing slash) and
/// the name logs use.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Upstream {
    pub base: String,
    pub name: String,
}

impl Upstream {
    /// `--upstream URL`: http or https, a host, nothing after it but `/`.
    pub fn parse(url: &str) -> Result<Upstream, String> {
        let uri: hyper::Uri = url.parse().map_err(|e| format!("--upstream {url:?}: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or("");
        if scheme != "http" && scheme != "https" {
            return Err(format!("--upstream {url:?}: give an http:// or https:// URL"));
        }
        let authority = uri.authority().ok_or_else(|| format!("--upstream {url:?}: no host"))?;
        if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
            return Err(format!("--upstream {url:?}: a registry is its host, give no path"));
        }
        Ok(Upstream { base: format!("{scheme}://{authority}"), name: authority.to_string() })
    }

    /// containerd's `ns=` (the registry host as the image reference names
    /// it): docker.io is registry-1.docker.io; plain HTTP only for loopback
    /// hosts and those named with `--plain-http`.
    pub fn from_ns(ns: &str, plain_http: &PlainHttp) -> Result<Upstream, String> {
        let valid = !ns.is_empty()
            && ns.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b))
            && ns.parse::<hyper::http::uri::Authority>().is_ok();
        if !valid {
            return Err(format!("ns={ns:?} is not a registry host"));
        }
        let host = if ns == "docker.io" { "registry-1.docker.io" } else { ns };
        let host_only = authority_host(host);
        let plain = plain_http.all
            || is_loopback(host_only)
            || plain_http.hosts.iter().any(|p| p == ns || p == host || p == host_only);
        let scheme = if plain { "http" } else { "https" };
        Ok(Upstream { base: format!("{scheme}://{host}"), name: ns.to_string() })
    }
}

/// The host part of `host[:port]` (brackets kept off IPv6 literals).
fn authority_host(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The pooled client: TLS by rustls with the system's roots (Mozilla's
/// where the system has none) plus `--ca-cert` files; redirects are not
/// followed (they pass to the client).
pub fn client(ca_certs: &[PathBuf], connect_timeout: Duration) -> Result<HttpClient, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (added, _) = roots.add_parsable_certificates(native.certs);
    if added == 0 {
        // A minimal container image without a CA bundle: Mozilla's roots,
        // as the other commands use.
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    }
    for path in ca_certs {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .and_then(|i| i.collect::<Result<_, _>>())
            .map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        if certs.is_empty() {
            return Err(format!("--ca-cert {}: no PEM certificate in it", path.display()));
        }
        for cert in certs {
            roots.add(cert).map_err(|e| format!("--ca-cert {}: {e}", path.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(connect_timeout));
    http.set_nodelay(true);
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .http1_max_buf_size(crate::MAX_BUFFERED_BYTES)
        .build(https))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s9_ns_routing() {
        let plain = PlainHttp { hosts: vec!["registry.lan:5000".to_string(), "insecure.lan".to_string()], all: false };
        let cases = [
            ("docker.io", "https://registry-1.docker.io"),
            ("ghcr.io", "https://ghcr.io"),
            ("registry.example:5000", "https://registry.example:5000"),
            ("127.0.0.1:5000", "http://127.0.0.1:5000"),
            ("localhost:5000", "http://localhost:5000"),
            ("[::1]:5000", "http://[::1]:5000"),
            ("registry.lan:5000", "http://registry.lan:5000"),
            ("insecure.lan:443", "http://insecure.lan:443"),
            ("10.0.0.1:5000", "https://10.0.0.1:5000"),
        ];
        for (ns, base) in cases {
            assert_eq!(Upstream::from_ns(ns, &plain).unwrap().base, base, "{ns}");
            assert_eq!(Upstream::from_ns(ns, &plain).unwrap().name, ns);
        }
        for bad in ["", "a/b", "x y", "host?x=1", "user@host"] {
            assert!(Upstream::from_ns(bad, &plain).is_err(), "{bad:?}");
        }
        let all = PlainHttp { hosts: vec![], all: true };
        assert_eq!(Upstream::from_ns("ghcr.io", &all).unwrap().base, "http://ghcr.io");
    }

    #[test]
    fn s9_upstream_url() {
        assert_eq!(Upstream::parse("http://127.0.0.1:5000").unwrap().base, "http://127.0.0.1:5000");
        assert_eq!(Upstream::parse("https://ghcr.io/").unwrap().base, "https://ghcr.io");
        for bad in ["ftp://x", "127.0.0.1:5000", "http://x/v2/", "nonsense"] {
            assert!(Upstream::parse(bad).is_err(), "{bad}");
        }
    }
}
