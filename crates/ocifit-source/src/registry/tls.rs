//! Whom ocifit trusts over TLS, per registry, and TLS errors in words.
//!
//! The trust anchors for a connection to `HOST[:PORT]` are:
//!
//! - the system's store (`rustls-native-certs`: `/etc/ssl/certs`, or
//!   `$SSL_CERT_FILE` / `$SSL_CERT_DIR` when set) and Mozilla's roots
//!   (bundled, so a machine without a store still verifies);
//! - every `--ca-cert FILE`;
//! - for that registry only, as podman and docker read them:
//!   `/etc/containers/certs.d/HOST[:PORT]/*.crt` and
//!   `/etc/docker/certs.d/HOST[:PORT]/ca.crt` (under `$OCIFIT_CONFIG_ROOT`
//!   instead of `/` when that is set, for tests).
//!
//! A server certificate that is byte for byte one of those anchors is
//! accepted when it names the host, even when it is marked as a CA: that is
//! the self-signed certificate the distribution and Docker docs make with
//! `openssl req -x509` (CA:TRUE), which curl, skopeo and docker accept when
//! given it. Accepting it grants nothing more than trusting it as a CA
//! already does.
//!
//! `--tls-verify=false` accepts any certificate (handshake signatures are
//! still checked); the CLI warns on stderr.
//!
//! The TLS layer is ureq's transport chain with this module's connector in
//! place of ureq's own rustls connector, because ureq has no hook for a
//! certificate verifier.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{WebPkiServerVerifier, verify_server_name};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::{CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, StreamOwned};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport, TransportAdapter,
};

use crate::options::Options;

/// The variable naming a directory that stands for `/` when reading
/// `etc/containers/certs.d` and `etc/docker/certs.d`.
pub const CONFIG_ROOT_VAR: &str = "OCIFIT_CONFIG_ROOT";

/// The trust settings of one [`Http`](super::http::Http), and the TLS
/// client configuration built from them for each registry reached.
pub struct Trust {
    provider: Arc<CryptoProvider>,
    verify: bool,
    /// `--ca-cert` certificates (already read: a missing file is an error
    /// before any request).
    extra: Vec<CertificateDer<'static>>,
    config_root: PathBuf,
    /// Per `host[:port]`.
    configs: Mutex<HashMap<String, Arc<ClientConfig>>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust").field("verify", &self.verify).field("extra", &self.extra.len()).finish()
    }
}

impl Trust {
    pub fn new(options: &Options) -> Result<Trust, String> {
        let mut extra = Vec::new();
        for path in &options.ca_certs {
            let pem = std::fs::read(path).map_err(|e| format!("--ca-cert {}: {}", path.display(), io_words(&e)))?;
            let certs = pem_certificates(&pem);
            if certs.is_empty() {
                return Err(format!("--ca-cert {}: no PEM certificate in the file", path.display()));
            }
            extra.extend(certs);
        }
        let config_root = std::env::var_os(CONFIG_ROOT_VAR).filter(|v| !v.is_empty()).map_or("/".into(), PathBuf::from);
        Ok(Trust {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            verify: options.tls_verify,
            extra,
            config_root,
            configs: Mutex::new(HashMap::new()),
        })
    }

    /// The certs.d directories for `authority` (`host[:port]`), podman's then docker's.
    pub fn cert_dirs(&self, authority: &str) -> Vec<PathBuf> {
        let mut names = vec![authority.to_string()];
        if let Some(host) = authority.strip_suffix(":443") {
            names.push(host.to_string());
        }
        let mut dirs = Vec::new();
        for base in ["etc/containers/certs.d", "etc/docker/certs.d"] {
            for name in &names {
                dirs.push(self.config_root.join(base).join(name));
            }
        }
        dirs
    }

    /// The TLS client configuration for connections to `authority`.
    /// Cheap: the trust anchors are read when a certificate arrives, so
    /// the TLS probe of a plain-HTTP loopback registry costs nothing.
    fn config_for(&self, authority: &str) -> Result<Arc<ClientConfig>, String> {
        if let Some(c) = self.configs.lock().ok().and_then(|m| m.get(authority).cloned()) {
            return Ok(c);
        }
        let anchors = self.verify.then(|| LazyAnchors {
            extra: self.extra.clone(),
            cert_dirs: self.cert_dirs(authority),
            built: OnceLock::new(),
        });
        let verifier = Verifier { provider: self.provider.clone(), anchors };
        let config = ClientConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS setup: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let config = Arc::new(config);
        if let Ok(mut m) = self.configs.lock() {
            m.insert(authority.to_string(), config.clone());
        }
        Ok(config)
    }
}

/// Certificates from certs.d directories: `*.crt` in containers' (podman
/// reads every one), `ca.crt` in docker's.
fn read_certs_d(dirs: &[PathBuf]) -> Result<Vec<CertificateDer<'static>>, String> {
    let mut out = Vec::new();
    for dir in dirs {
        let files: Vec<PathBuf> = if dir.to_string_lossy().contains("/etc/docker/") {
            vec![dir.join("ca.crt")]
        } else {
            let Ok(entries) = std::fs::read_dir(dir) else { continue };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "crt"))
                .collect();
            files.sort();
            files
        };
        for file in files {
            match std::fs::read(&file) {
                Ok(pem) => out.extend(pem_certificates(&pem)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(format!("{}: {}", file.display(), io_words(&e))),
            }
        }
    }
    Ok(out)
}

/// The system's trust store, read once per process. Unreadable entries
/// are skipped (the store is a convenience next to Mozilla's roots).
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let mut roots: Vec<CertificateDer<'static>> =
            webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().map(|c| c.clone().into_owned()).collect();
        roots.extend(rustls_native_certs::load_native_certs().certs);
        roots
    })
}

fn pem_certificates(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(CertificateDer::from(c.der().to_vec())),
            _ => None,
        })
        .collect()
}

fn io_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// The trust anchors of one registry, read at the first certificate.
#[derive(Debug)]
struct LazyAnchors {
    extra: Vec<CertificateDer<'static>>,
    cert_dirs: Vec<PathBuf>,
    built: OnceLock<Result<Anchored, String>>,
}

#[derive(Debug)]
struct Anchored {
    webpki: Arc<WebPkiServerVerifier>,
    anchors: Vec<CertificateDer<'static>>,
}

impl LazyAnchors {
    fn get(&self, provider: &Arc<CryptoProvider>) -> Result<&Anchored, rustls::Error> {
        let built = self.built.get_or_init(|| {
            let mut anchors: Vec<CertificateDer<'static>> = system_roots().to_vec();
            anchors.extend(self.extra.iter().cloned());
            anchors.extend(read_certs_d(&self.cert_dirs)?);
            let mut store = RootCertStore::empty();
            store.add_parsable_certificates(anchors.iter().cloned());
            let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
                .build()
                .map_err(|e| format!("no trust anchors ({e})"))?;
            Ok(Anchored { webpki, anchors })
        });
        built.as_ref().map_err(|m| rustls::Error::General(m.clone()))
    }
}

/// webpki's verification, and then the anchors themselves as server
/// certificates; without anchors (`--tls-verify=false`) any certificate.
/// Handshake signatures are always checked.
#[derive(Debug)]
struct Verifier {
    provider: Arc<CryptoProvider>,
    anchors: Option<LazyAnchors>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(lazy) = &self.anchors else { return Ok(ServerCertVerified::assertion()) };
        let a = lazy.get(&self.provider)?;
        match a.webpki.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Ok(v) => Ok(v),
            Err(e) if a.anchors.iter().any(|c| c.as_ref() == end_entity.as_ref()) => {
                // Trusted as given; it must still name the host.
                let parsed = ParsedCertificate::try_from(end_entity).map_err(|_| e)?;
                verify_server_name(&parsed, server_name)?;
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => Err(e),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// ureq's transport chain: proxy, TCP, then TLS with [`Trust`].
pub fn connector(trust: Arc<Trust>) -> impl Connector {
    use ureq::unversioned::transport::{ConnectProxyConnector, TcpConnector};
    ().chain(ConnectProxyConnector::default()).chain(TcpConnector::default()).chain(TlsConnector { trust })
}

#[derive(Debug)]
struct TlsConnector {
    trust: Arc<Trust>,
}

impl<In: Transport> Connector<In> for TlsConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(&self, details: &ConnectionDetails, chained: Option<In>) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else { return Ok(None) };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let authority = details.uri.authority().map(|a| a.as_str().to_ascii_lowercase()).unwrap_or_default();
        let config = self.trust.config_for(&authority).map_err(|m| ureq::Error::Io(std::io::Error::other(m)))?;
        let host = details.uri.host().unwrap_or_default();
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        let name = ServerName::try_from(host.to_string()).map_err(|_| ureq::Error::Tls("invalid server name"))?;
        let mut conn = ClientConnection::new(config, name)?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock)?;
        let buffers = LazyBuffers::new(details.config.input_buffer_size(), details.config.output_buffer_size());
        Ok(Some(Either::B(TlsTransport { buffers, stream: StreamOwned { conn, sock } })))
    }
}

pub struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl std::fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = &self.buffers.output()[..amount];
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// A TLS failure in words, with the hint that fits it. `host` is the
/// registry (`host[:port]`); `extra_roots` whether `--ca-cert` was given.
pub fn describe(e: &rustls::Error, host: &str, extra_roots: bool) -> String {
    // Short: the CLI prints at most 300 characters, after the SOURCE and the URL.
    let trust_hint = format!("trust it with --ca-cert FILE or /etc/containers/certs.d/{host}/ca.crt");
    match e {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer if extra_roots => {
                "TLS: the certificate is signed neither by a --ca-cert certificate nor by a CA this machine \
                 trusts (--ca-cert names another CA?)"
                    .into()
            }
            CertificateError::UnknownIssuer => {
                format!("TLS: the certificate is signed by an authority this machine does not trust; {trust_hint}")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => format!(
                "TLS: the certificate is not valid for the name {}; use a name it lists",
                crate::reference::host_of(host)
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "TLS: the certificate has expired".into()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "TLS: the certificate is not valid yet (is this machine's clock right?)".into()
            }
            CertificateError::Revoked => "TLS: the certificate has been revoked".into(),
            CertificateError::BadSignature => "TLS: the certificate has a bad signature".into(),
            CertificateError::BadEncoding => "TLS: the certificate cannot be parsed".into(),
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "TLS: the certificate is not meant for a TLS server (extended key usage)".into()
            }
            CertificateError::Other(other) if is_ca_used_as_end_entity(other) => format!(
                "TLS: the certificate is self-signed with CA:TRUE (as `openssl req -x509` makes it); {trust_hint}"
            ),
            _ => "TLS: the certificate is not acceptable".into(),
        },
        rustls::Error::AlertReceived(_) => "TLS: the registry refused the TLS handshake".into(),
        rustls::Error::PeerIncompatible(_) => {
            "TLS: the registry and ocifit have no TLS version or cipher suite in common".into()
        }
        rustls::Error::InvalidMessage(_) => "TLS: the server does not speak TLS".into(),
        rustls::Error::NoCertificatesPresented => "TLS: the registry sent no certificate".into(),
        rustls::Error::General(m) => format!("TLS: {m}"),
        _ => "TLS: the handshake failed".into(),
    }
}

fn is_ca_used_as_end_entity(e: &rustls::OtherError) -> bool {
    let inner: &(dyn std::error::Error + Send + Sync) = &*e.0;
    inner.downcast_ref::<webpki::Error>().is_some_and(|w| matches!(w, webpki::Error::CaUsedAsEndEntity))
}
