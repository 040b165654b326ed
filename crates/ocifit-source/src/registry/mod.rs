//! The registry client: one manifest request per index, verified.
//!
//! For `registry/repo:tag` (or `@digest`) ocifit sends:
//!
//! 1. `GET /v2/` — only the first time this process talks to the
//!    registry — to learn whether and how it wants authentication (the
//!    `WWW-Authenticate` challenge). This is what docker and skopeo do
//!    too; it is what lets the manifest request be the only one. It also
//!    settles the scheme: `https`, except with `--plain-http` (naming this
//!    registry, or bare), or for a
//!    loopback registry whose answer to a TLS handshake is not TLS (then
//!    plain `http`, as docker treats loopback registries; certificate
//!    errors never fall back).
//! 2. For a `Bearer` challenge, one token request to the realm (skipped
//!    when this process already holds a token for the repository).
//! 3. `GET /v2/<repo>/manifests/<tag|digest>` accepting the OCI index, OCI
//!    manifest, Docker list and Docker manifest media types. The body is
//!    refused above the size limit (4 MiB unless configured), and its
//!    digest must equal the reference's digest (if any) and the
//!    `Docker-Content-Digest` header (if sent).
//!
//! A reference that names a single image manifest is reported as a
//! one-entry index; its platform comes from the image config blob (one
//! blob request, verified the same way): without a platform the entry
//! could never be a candidate.
//!
//! Transport rules (TLS, plain HTTP, redirects, retries, timeouts) are in
//! [`http`]; whom TLS trusts in [`tls`]; credentials and tokens in
//! [`auth`]; pushing an edited index (`ocifit index … --push`) in [`push`].
//!
//! Credentials are sent only to a registry that asked for them (a 401
//! challenge to `GET /v2/`), and only the ones meant for it.

pub mod auth;
pub mod copy;
pub mod http;
pub mod push;
pub mod tls;

use ocifit_core::index::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use serde_json::Value;

use self::auth::{Challenge, Credential, Found};
use self::http::{Http, Method, Reply};
use crate::digest::{Digest, shorten};
use crate::layout::{platform_from_config, single_entry_index};
use crate::options::Options;
use crate::reference::Reference;

/// The media types asked for, preferred first.
pub const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// An index (or a one-entry index made from an image manifest) as fetched.
#[derive(Debug)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The digest of the manifest the registry sent (verified).
    pub digest: Digest,
    pub media_type: String,
    pub synthesized: bool,
}

/// Fetch what `reference` names and return it as index bytes.
pub fn fetch_index(reference: &Reference, options: &Options) -> Result<Fetched, String> {
    let client = Client::new(reference, options)?;
    let reply = client.get_manifest()?;
    let body = reply.body;
    let expected = reference.digest.clone();
    let algorithm = expected.as_ref().map_or(crate::digest::Algorithm::Sha256, Digest::algorithm);
    let actual = Digest::of(algorithm, &body);
    if let Some(want) = &expected {
        if *want != actual {
            return Err(format!(
                "manifest digest mismatch: the registry sent content with digest {actual}, the reference asks for {want}"
            ));
        }
    }
    let header = reply.headers_digest;
    if let Some(h) = &header {
        let d = Digest::parse(h).map_err(|e| format!("Docker-Content-Digest header: {e}"))?;
        let computed =
            if d.algorithm() == actual.algorithm() { actual.clone() } else { Digest::of(d.algorithm(), &body) };
        if d != computed {
            return Err(format!(
                "manifest digest mismatch: the content's digest is {computed}, the registry's Docker-Content-Digest says {d}"
            ));
        }
    }
    let doc: Value = serde_json::from_slice(&body).map_err(|e| format!("the manifest is not valid JSON: {e}"))?;
    let media_type = doc
        .get("mediaType")
        .and_then(Value::as_str)
        .map(str::to_string)
        .or(reply.content_type.clone())
        .unwrap_or_default();
    let is_manifest = media_type == OCI_MANIFEST
        || media_type == DOCKER_MANIFEST
        || (doc.get("config").is_some() && doc.get("manifests").is_none());
    if !is_manifest {
        if !(media_type == OCI_INDEX || media_type == DOCKER_LIST || doc.get("manifests").is_some()) {
            return Err(format!("the registry sent {:?}, not an index or an image manifest", shorten(&media_type)));
        }
        return Ok(Fetched { bytes: body, digest: actual, media_type, synthesized: false });
    }
    // A single image: report it as the only candidate, with its config's platform.
    let config = doc.get("config").ok_or("the image manifest has no config")?;
    let config_digest = config
        .get("digest")
        .and_then(Value::as_str)
        .ok_or("the image manifest's config has no digest")
        .and_then(|d| Digest::parse(d).map_err(|_| "the image manifest's config digest is invalid"))?;
    let config_bytes = client.get_blob(&config_digest)?;
    let platform = platform_from_config(&config_bytes).map_err(|e| format!("image config {config_digest}: {e}"))?;
    let media_type = if media_type.is_empty() { OCI_MANIFEST.to_string() } else { media_type };
    let bytes = single_entry_index(&media_type, &actual, body.len() as u64, Some(platform));
    Ok(Fetched { bytes, digest: actual, media_type, synthesized: true })
}

struct Client<'a> {
    http: Http,
    reference: &'a Reference,
    options: &'a Options,
    base: String,
    scope: String,
    authorization: Option<String>,
    /// Where the credentials in use came from, for error messages.
    credential_origin: Option<String>,
}

struct ManifestReply {
    body: Vec<u8>,
    headers_digest: Option<String>,
    content_type: Option<String>,
}

impl<'a> Client<'a> {
    fn new(reference: &'a Reference, options: &'a Options) -> Result<Client<'a>, String> {
        Client::with_actions(reference, options, "pull")
    }

    /// A client whose token (for a `Bearer` registry) grants `actions`
    /// (`pull`, or `pull,push`) on the reference's repository.
    fn with_actions(reference: &'a Reference, options: &'a Options, actions: &str) -> Result<Client<'a>, String> {
        Client::with_scope(reference, options, format!("repository:{}:{actions}", reference.repository))
    }

    /// A client whose token is asked for `scope`: one or more resource
    /// scopes separated by spaces, the first on the reference's repository
    /// (a cross-repository mount also needs `pull` on the source).
    fn with_scope(reference: &'a Reference, options: &'a Options, scope: String) -> Result<Client<'a>, String> {
        let loopback = reference.is_loopback();
        let http = Http::new(options, loopback)?;
        let scheme = if options.plain_http_for(&reference.registry) { "http" } else { "https" };
        let mut client = Client {
            http,
            reference,
            options,
            base: format!("{scheme}://{}", reference.api_host()),
            scope,
            authorization: None,
            credential_origin: None,
        };
        client.authorize()?;
        Ok(client)
    }

    /// Learn the challenge (cached per registry) and get what it asks for.
    fn authorize(&mut self) -> Result<(), String> {
        let registry = &self.reference.registry;
        let challenge = match auth::cached_challenge(registry) {
            Some((base, c)) => {
                self.base = base;
                c
            }
            None => {
                let mut url = format!("{}/v2/", self.base);
                let reply = match self.http.probe(&url) {
                    Ok(r) => r,
                    // A loopback registry that does not speak TLS: plain
                    // HTTP, as docker does. Certificate errors never fall back.
                    Err(http::Probe::NotTls) if self.reference.is_loopback() => {
                        self.base = format!("http://{}", self.reference.api_host());
                        url = format!("{}/v2/", self.base);
                        self.http.send(Method::Get, &url, &[], None, http::ERROR_BODY_LIMIT)?
                    }
                    Err(http::Probe::NotTls) => {
                        return Err(format!(
                            "{url}: the registry does not speak TLS (use --plain-http={} for a plain-HTTP registry)",
                            self.reference.registry
                        ));
                    }
                    Err(http::Probe::Failed(m)) => return Err(m),
                };
                let c = match reply.status {
                    401 => auth::parse_challenge(reply.headers("www-authenticate")).ok_or_else(|| {
                        format!("{url} asks for authentication with a challenge ocifit does not support")
                    })?,
                    s if s >= 500 => return Err(format!("{url}: the registry answered HTTP {s}")),
                    _ => Challenge::None,
                };
                auth::cache_challenge(registry, &self.base, &c);
                c
            }
        };
        match challenge {
            // Not asked for: nothing is sent, not even credentials given
            // on the command line.
            Challenge::None => {}
            Challenge::Basic => {
                let found = auth::find_credentials(self.reference, self.options)?.ok_or_else(|| {
                    format!(
                        "{registry} requires a user name and password and none is configured \
                         (docker login, podman login, --authfile, --creds or --creds-stdin)"
                    )
                })?;
                match &found.credential {
                    Credential::Basic(c) => self.authorization = Some(auth::basic_header(c)),
                    Credential::Identity(_) => {
                        return Err(format!(
                            "{registry} wants basic authentication but {} holds only an identity token",
                            found.origin
                        ));
                    }
                }
                self.credential_origin = Some(found.origin);
            }
            Challenge::Bearer { .. } if auth::cached_token(registry, &self.scope).is_some() => {
                let token = auth::cached_token(registry, &self.scope).unwrap_or_default();
                self.authorization = Some(format!("Bearer {token}"));
            }
            Challenge::Bearer { realm, service } => {
                let found: Option<Found> = auth::find_credentials(self.reference, self.options)?;
                let token = auth::fetch_token(
                    &self.http,
                    &realm,
                    service.as_deref(),
                    &self.scope,
                    found.as_ref(),
                    self.options,
                )?;
                auth::cache_token(registry, &self.scope, &token);
                self.authorization = Some(format!("Bearer {token}"));
                self.credential_origin = found.map(|f| f.origin);
            }
        }
        Ok(())
    }

    fn get_manifest(&self) -> Result<ManifestReply, String> {
        let url =
            format!("{}/v2/{}/manifests/{}", self.base, self.reference.repository, self.reference.manifest_reference());
        let reply = self.http.send(
            Method::Get,
            &url,
            &[("Accept", ACCEPT)],
            self.authorization.as_deref(),
            self.options.max_manifest_bytes,
        )?;
        if reply.status != 200 {
            if reply.status == 401 {
                auth::forget_token(&self.reference.registry, &self.scope);
            }
            return Err(self.status_error(&reply, "manifest"));
        }
        let content_type =
            reply.header("content-type").map(|v| v.split(';').next().unwrap_or_default().trim().to_string());
        let headers_digest = reply.header("docker-content-digest").map(str::to_string);
        Ok(ManifestReply { body: reply.body, headers_digest, content_type })
    }

    /// A blob (an image config), size-limited and digest-verified.
    fn get_blob(&self, digest: &Digest) -> Result<Vec<u8>, String> {
        let url = format!("{}/v2/{}/blobs/{digest}", self.base, self.reference.repository);
        let reply =
            self.http.send(Method::Get, &url, &[], self.authorization.as_deref(), self.options.max_manifest_bytes)?;
        if reply.status != 200 {
            return Err(self.status_error(&reply, "blob"));
        }
        digest.verify(&reply.body).map_err(|e| format!("blob {digest}: {e}"))?;
        Ok(reply.body)
    }

    fn status_error(&self, reply: &Reply, what: &str) -> String {
        let r = self.reference;
        let code = registry_error_code(&reply.body);
        match (reply.status, code.as_deref()) {
            (404, Some("NAME_UNKNOWN")) => format!("unknown repository {} on {}", r.repository, r.registry),
            (404, Some("BLOB_UNKNOWN")) => format!("{what} not found in {}", r.name()),
            (404, _) if what == "manifest" => {
                format!("unknown tag or digest {} in {}", r.manifest_reference(), r.name())
            }
            // Distribution's answer to a valid token that lacks an action
            // (`push`, usually): the credentials are fine, the grant is not.
            (401, _) if reply.header("www-authenticate").is_some_and(|v| v.contains("insufficient_scope")) => {
                let first = self.scope.split(' ').next().unwrap_or_default();
                let actions = first.rsplit_once(':').map_or("", |(_, a)| a);
                let whose =
                    self.credential_origin.as_ref().map_or(String::new(), |o| format!(" for the credentials from {o}"));
                format!(
                    "{} did not grant {actions} on {}{whose} (HTTP 401, insufficient_scope)",
                    r.registry, r.repository
                )
            }
            (401, _) => match &self.credential_origin {
                Some(o) => format!("{} refused the credentials from {o} (HTTP 401)", r.registry),
                None => format!(
                    "{} requires authentication (HTTP 401); use docker login, podman login, --authfile, --creds or --creds-stdin",
                    r.registry
                ),
            },
            (403, _) => format!("access to {} denied (HTTP 403)", r.name()),
            (s, Some(c)) => format!("{}: the registry answered HTTP {s} ({c})", reply.url),
            (s, None) => format!("{}: the registry answered HTTP {s}", reply.url),
        }
    }
}

/// The first `errors[].code` of a registry error body.
fn registry_error_code(body: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(body).ok()?;
    doc.get("errors")?.as_array()?.first()?.get("code")?.as_str().map(str::to_string)
}
