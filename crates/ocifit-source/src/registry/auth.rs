//! Who we are to a registry: the `WWW-Authenticate` challenge, the
//! credentials users already keep, and bearer tokens.
//!
//! Credentials are looked up only when a registry asks for them, in this
//! order (the first that has an entry for the registry wins):
//!
//! 1. `--creds` / `--creds-stdin`, for the one registry they are meant
//!    for ([`Options::credentials_for`]);
//! 2. containers `auth.json`: `--authfile FILE` alone when given; else
//!    `$REGISTRY_AUTH_FILE`, then
//!    `$XDG_RUNTIME_DIR/containers/auth.json`, then
//!    `~/.config/containers/auth.json` — keys may name a repository or a
//!    namespace (`quay.io/org`), the most specific wins, as in podman;
//! 3. docker `config.json` in `$DOCKER_CONFIG` or `~/.docker`: `credHelpers`,
//!    `auths`, `credsStore` (read by the `docker_credential` crate, which
//!    runs `docker-credential-*` helpers). A helper's "credentials not
//!    found" answer means no credentials (anonymous access, as docker,
//!    containers/image and go-containerregistry do), not a failure.
//!
//! Tokens are cached per registry and scope for the life of the process.
//! No secret is ever part of an error message or `Debug` output.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;

use super::http::{Http, Method, encode};
use crate::options::{Credentials, Options};
use crate::reference::{DOCKER_HUB, Reference, is_loopback_host};

/// What the registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    /// `/v2/` answered without asking for anything.
    None,
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Parse `WWW-Authenticate` values; the first Bearer or Basic challenge wins.
pub fn parse_challenge<'a>(values: impl Iterator<Item = &'a str>) -> Option<Challenge> {
    for value in values {
        let value = value.trim();
        let (scheme, params) = value.split_once(' ').unwrap_or((value, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if scheme.eq_ignore_ascii_case("bearer") {
            let params = parse_params(params);
            let realm = params.get("realm")?.clone();
            return Some(Challenge::Bearer { realm, service: params.get("service").cloned() });
        }
    }
    None
}

/// `key="quoted, value", key=token` into a map (keys lowercased).
fn parse_params(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, tail) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            value.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end.min(quoted.len())..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim().to_string(), &after[end..])
        };
        out.insert(key, value);
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// A credential and where it came from (for messages: never the secret).
#[derive(Clone)]
pub struct Found {
    pub credential: Credential,
    pub origin: String,
}

#[derive(Clone)]
pub enum Credential {
    Basic(Credentials),
    /// A docker `identitytoken`: an OAuth2 refresh token.
    Identity(String),
}

pub fn find_credentials(reference: &Reference, options: &Options) -> Result<Option<Found>, String> {
    if let Some(c) = options.credentials_for(&reference.registry) {
        return Ok(Some(Found { credential: Credential::Basic(c.clone()), origin: "--creds".into() }));
    }
    let paths = match &options.auth_file {
        Some(file) => vec![file.clone()],
        None => auth_json_paths(),
    };
    for path in paths {
        let Ok(bytes) = std::fs::read(&path) else { continue };
        for key in auth_json_keys(reference) {
            match docker_credential::get_credential_from_reader(&bytes[..], &key) {
                Ok(c) => return Ok(Some(Found { credential: convert(c), origin: path.display().to_string() })),
                Err(e) => {
                    if let Some(err) = real_failure(&e, &path) {
                        return Err(err);
                    }
                }
            }
        }
    }
    let docker = docker_config_path();
    if let Some(path) = docker.filter(|p| p.exists()) {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let keys: &[&str] = if reference.registry == DOCKER_HUB {
            &["https://index.docker.io/v1/", "docker.io", "index.docker.io"]
        } else {
            &[reference.registry.as_str()]
        };
        for key in keys {
            match docker_credential::get_credential_from_reader(&bytes[..], key) {
                Ok(c) => return Ok(Some(Found { credential: convert(c), origin: path.display().to_string() })),
                Err(e) => {
                    if let Some(err) = real_failure(&e, &path) {
                        return Err(err);
                    }
                }
            }
        }
    }
    Ok(None)
}

fn convert(c: docker_credential::DockerCredential) -> Credential {
    match c {
        docker_credential::DockerCredential::IdentityToken(t) => Credential::Identity(t),
        docker_credential::DockerCredential::UsernamePassword(u, p) => {
            Credential::Basic(Credentials { username: u, password: p })
        }
    }
}

/// The message of docker-credential-helpers' `ErrCredentialsNotFound`: a
/// helper's answer when it holds nothing for the registry.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";

/// "No entry" is not an error, nor is a helper's "credentials not found";
/// a broken file or any other helper failure is (the helper's output is
/// not repeated: it could hold a secret).
fn real_failure(e: &docker_credential::CredentialRetrievalError, path: &std::path::Path) -> Option<String> {
    use docker_credential::CredentialRetrievalError as E;
    match e {
        E::NoCredentialConfigured | E::ConfigNotFound => None,
        E::HelperFailure { stdout, stderr, .. }
            if stdout.trim() == HELPER_NOT_FOUND || stderr.trim() == HELPER_NOT_FOUND =>
        {
            None
        }
        E::HelperFailure { helper, .. } => Some(format!("{}: credential helper {helper:?} failed", path.display())),
        other => Some(format!("{}: {other}", path.display())),
    }
}

fn auth_json_paths() -> Vec<PathBuf> {
    let mut paths = Vec::new();
    if let Some(p) = std::env::var_os("REGISTRY_AUTH_FILE").filter(|p| !p.is_empty()) {
        paths.push(PathBuf::from(p));
    }
    if let Some(dir) = std::env::var_os("XDG_RUNTIME_DIR").filter(|p| !p.is_empty()) {
        paths.push(PathBuf::from(dir).join("containers/auth.json"));
    }
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")));
    if let Some(dir) = config {
        paths.push(dir.join("containers/auth.json"));
    }
    paths
}

/// `registry/a/b/c`, `registry/a/b`, `registry/a`, `registry`.
fn auth_json_keys(reference: &Reference) -> Vec<String> {
    let mut keys = Vec::new();
    let mut path = reference.name();
    loop {
        keys.push(path.clone());
        match path.rfind('/') {
            Some(i) => path.truncate(i),
            None => break,
        }
    }
    keys
}

fn docker_config_path() -> Option<PathBuf> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    Some(dir.join("config.json"))
}

pub fn basic_header(c: &Credentials) -> String {
    let raw = format!("{}:{}", c.username, c.password);
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
}

static TOKENS: Mutex<Option<HashMap<(String, String), String>>> = Mutex::new(None);
/// Per registry: the base URL that answered (scheme found) and its challenge.
static CHALLENGES: Mutex<Option<HashMap<String, (String, Challenge)>>> = Mutex::new(None);

pub fn cached_token(registry: &str, scope: &str) -> Option<String> {
    TOKENS.lock().ok()?.as_ref()?.get(&(registry.to_string(), scope.to_string())).cloned()
}

pub fn cache_token(registry: &str, scope: &str, token: &str) {
    if let Ok(mut guard) = TOKENS.lock() {
        guard.get_or_insert_with(HashMap::new).insert((registry.into(), scope.into()), token.into());
    }
}

pub fn forget_token(registry: &str, scope: &str) {
    if let Ok(mut guard) = TOKENS.lock() {
        if let Some(map) = guard.as_mut() {
            map.remove(&(registry.to_string(), scope.to_string()));
        }
    }
}

pub fn cached_challenge(registry: &str) -> Option<(String, Challenge)> {
    CHALLENGES.lock().ok()?.as_ref()?.get(registry).cloned()
}

pub fn cache_challenge(registry: &str, base: &str, challenge: &Challenge) {
    if let Ok(mut guard) = CHALLENGES.lock() {
        guard.get_or_insert_with(HashMap::new).insert(registry.into(), (base.into(), challenge.clone()));
    }
}

/// Get a bearer token from the challenge's realm (one request), with the
/// credentials if there are any, anonymously otherwise.
pub fn fetch_token(
    http: &Http,
    realm: &str,
    service: Option<&str>,
    scope: &str,
    found: Option<&Found>,
    options: &Options,
) -> Result<String, String> {
    let (scheme, authority) =
        super::http::origin(realm).ok_or_else(|| format!("unusable token realm {realm:?} in the challenge"))?;
    if scheme != "https"
        && !options.plain_http_for(&authority)
        && !is_loopback_host(crate::reference::host_of(&authority))
    {
        return Err(format!("refusing to send credentials to a plain-http token realm {realm}"));
    }
    let mut query = Vec::new();
    if let Some(s) = service {
        query.push(format!("service={}", encode(s)));
    }
    // Several scopes (a mount: push here, pull there) are several
    // parameters, as the distribution token specification has them.
    query.extend(scope.split(' ').filter(|s| !s.is_empty()).map(|s| format!("scope={}", encode(s))));
    let reply = match found.map(|f| &f.credential) {
        Some(Credential::Identity(refresh)) => {
            let mut form = vec!["grant_type=refresh_token".to_string(), "client_id=ocifit".to_string()];
            form.extend(query);
            form.push(format!("refresh_token={}", encode(refresh)));
            http.send(Method::PostForm(&form.join("&")), realm, &[], None, 1 << 20)?
        }
        other => {
            let sep = if realm.contains('?') { '&' } else { '?' };
            let url = format!("{realm}{sep}{}", query.join("&"));
            let auth = match other {
                Some(Credential::Basic(c)) => Some(basic_header(c)),
                _ => None,
            };
            http.send(Method::Get, &url, &[], auth.as_deref(), 1 << 20)?
        }
    };
    match reply.status {
        200 => {}
        401 | 403 => {
            let whose = found.map_or("anonymous access".to_string(), |f| format!("the credentials from {}", f.origin));
            return Err(format!("the token server {realm} refused {whose} (HTTP {})", reply.status));
        }
        s => return Err(format!("the token server {realm} answered HTTP {s}")),
    }
    let doc: serde_json::Value =
        serde_json::from_slice(&reply.body).map_err(|_| format!("the token server {realm} sent invalid JSON"))?;
    let token = doc
        .get("token")
        .or_else(|| doc.get("access_token"))
        .and_then(serde_json::Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| format!("the token server {realm} sent no token"))?;
    Ok(token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = |v: &str| parse_challenge(std::iter::once(v));
        assert_eq!(
            c(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into())
            })
        );
        assert_eq!(c(r#"Basic realm="Registry Realm""#), Some(Challenge::Basic));
        assert_eq!(
            c(r#"bearer realm="http://127.0.0.1:1/t?a=b", service="x \"y\", z""#),
            Some(Challenge::Bearer { realm: "http://127.0.0.1:1/t?a=b".into(), service: Some("x \"y\", z".into()) })
        );
        assert_eq!(c("Bearer service=x"), None);
        assert_eq!(c("Negotiate"), None);
    }

    #[test]
    fn auth_json_key_order() {
        let r = Reference::parse("quay.io/org/team/app:v1").unwrap();
        assert_eq!(auth_json_keys(&r), ["quay.io/org/team/app", "quay.io/org/team", "quay.io/org", "quay.io"]);
    }

    #[test]
    fn helper_not_found_means_no_credentials() {
        use docker_credential::CredentialRetrievalError as E;
        let path = std::path::Path::new("config.json");
        let failure =
            |stdout: &str| E::HelperFailure { helper: "desktop".into(), stdout: stdout.into(), stderr: "".into() };
        assert_eq!(real_failure(&failure("credentials not found in native keychain\n"), path), None);
        assert_eq!(real_failure(&E::NoCredentialConfigured, path), None);
        let broken = real_failure(&failure("the keychain is locked: s3cret"), path).unwrap();
        assert!(broken.contains("\"desktop\" failed") && !broken.contains("s3cret"), "{broken}");
    }

    #[test]
    fn basic_header_encodes() {
        let c = Credentials { username: "aladdin".into(), password: "opensesame".into() };
        assert_eq!(basic_header(&c), "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
    }
}
