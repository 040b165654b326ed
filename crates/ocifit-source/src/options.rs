//! How sources are read: size limits, and the registry transport settings
//! the CLI's registry flags set (`--plain-http`, `--ca-cert`, `--tls-verify`,
//! `--creds`, `--authfile`, timeouts, `--verbose`).
//!
//! The CLI installs one [`Options`] for the process ([`Options::install`])
//! before running a command, so every command that calls
//! [`Source::load`](crate::Source::load) gets the same behaviour without
//! passing it around.

use std::fmt;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// The distribution spec's manifest size limit: registries need not accept
/// more, so ocifit does not read more unless told to.
pub const DEFAULT_MAX_MANIFEST_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct Options {
    /// Manifests and layout blobs above this are refused while reading.
    pub max_manifest_bytes: usize,
    /// Use `http://` for every registry. Without it, `https://`, except
    /// that a loopback registry that does not speak TLS is reached over
    /// `http://`, and the hosts in [`plain_http_hosts`](Self::plain_http_hosts).
    pub plain_http: bool,
    /// `--plain-http HOST[:PORT]` (repeatable): `http://` for these
    /// registries only. A name without a port covers every port.
    pub plain_http_hosts: Vec<String>,
    /// PEM files of extra CA certificates, trusted besides the system's
    /// and Mozilla's roots. A certificate given here that is itself the
    /// server's certificate is trusted as such (a self-signed registry).
    pub ca_certs: Vec<PathBuf>,
    /// `--tls-verify=false`: accept any certificate (the CLI warns).
    pub tls_verify: bool,
    /// Credentials given on the command line (`--creds`, `--creds-stdin`);
    /// they win over the config files, and are sent only to
    /// [`credentials_registry`](Self::credentials_registry), and only
    /// when it asks for credentials.
    pub credentials: Option<Credentials>,
    /// The registry (`host[:port]`, as in a reference) the command-line
    /// credentials are meant for. `None`: they are never sent.
    pub credentials_registry: Option<String>,
    /// `--authfile FILE`: the only containers `auth.json` read (instead of
    /// `$REGISTRY_AUTH_FILE` and the default paths).
    pub auth_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// The longest wait for a response, and then for each read of its body.
    pub read_timeout: Duration,
    /// The longest one request may take, body included (`--timeout`): a
    /// server that trickles its answer cannot hold ocifit forever.
    pub total_timeout: Duration,
    /// Retries after 429/502/503/504 and connection failures (not timeouts).
    pub retries: u32,
    /// The first retry waits this long; each next one twice as long, at
    /// most [`MAX_RETRY_WAIT`] each and [`MAX_RETRY_WAIT_TOTAL`] in all
    /// (or what `Retry-After` asks, within the same caps).
    pub retry_backoff: Duration,
    /// `-v`: print each HTTP request (method, URL, status) to stderr.
    /// Never credentials, tokens or `Authorization` values.
    pub verbose: bool,
}

/// The longest single wait between two tries of a request.
pub const MAX_RETRY_WAIT: Duration = Duration::from_secs(10);
/// The longest time all the waits between tries of one request add up to.
pub const MAX_RETRY_WAIT_TOTAL: Duration = Duration::from_secs(30);
/// `--timeout`'s default.
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(60);

impl Default for Options {
    fn default() -> Self {
        Options {
            max_manifest_bytes: DEFAULT_MAX_MANIFEST_BYTES,
            plain_http: false,
            plain_http_hosts: Vec::new(),
            ca_certs: Vec::new(),
            tls_verify: true,
            credentials: None,
            credentials_registry: None,
            auth_file: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: DEFAULT_TOTAL_TIMEOUT,
            retries: 3,
            retry_backoff: Duration::from_millis(250),
            verbose: false,
        }
    }
}

static INSTALLED: OnceLock<Options> = OnceLock::new();

impl Options {
    /// Make these the options of [`Source::load`](crate::Source::load) for
    /// the rest of the process. Only the first call counts.
    pub fn install(self) {
        let _ = INSTALLED.set(self);
    }

    /// The installed options, or the defaults.
    pub fn current() -> Options {
        INSTALLED.get().cloned().unwrap_or_default()
    }

    /// Whether `registry` (`host[:port]`) is reached over plain `http://`:
    /// bare `--plain-http`, or `--plain-http` naming it (with or without
    /// its port).
    pub fn plain_http_for(&self, registry: &str) -> bool {
        self.plain_http
            || self.plain_http_hosts.iter().any(|h| {
                h.eq_ignore_ascii_case(registry)
                    || (!h.contains(':') && h.eq_ignore_ascii_case(crate::reference::host_of(registry)))
            })
    }

    /// The command-line credentials, when they are meant for `registry`.
    pub fn credentials_for(&self, registry: &str) -> Option<&Credentials> {
        let meant = self.credentials_registry.as_deref()?;
        self.credentials.as_ref().filter(|_| meant.eq_ignore_ascii_case(registry))
    }
}

/// A user name and password (or an identity token as the password, with
/// user `<token>`). `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl Credentials {
    /// `--creds USER:PASSWORD` (skopeo's spelling). The password may hold
    /// colons; the user may not be empty.
    pub fn from_user_colon_password(text: &str) -> Result<Credentials, String> {
        match text.split_once(':') {
            Some((user, password)) if !user.is_empty() => {
                Ok(Credentials { username: user.into(), password: password.into() })
            }
            _ => Err("--creds: expected USER:PASSWORD".into()),
        }
    }

    /// `--creds-stdin`: the first line is `USER:PASSWORD` (as skopeo's
    /// `--creds`), or the user on the first line and the password on the second.
    pub fn from_stdin_text(text: &str) -> Result<Credentials, String> {
        let mut lines = text.lines();
        let first = lines.next().unwrap_or_default().trim_end_matches('\r');
        if let Some((user, password)) = first.split_once(':') {
            if !user.is_empty() {
                return Ok(Credentials { username: user.into(), password: password.into() });
            }
        }
        let password = lines.next().unwrap_or_default().trim_end_matches('\r');
        if first.is_empty() || password.is_empty() {
            return Err("--creds-stdin: expected USER:PASSWORD on standard input".into());
        }
        Ok(Credentials { username: first.into(), password: password.into() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creds_from_stdin() {
        let c = Credentials::from_stdin_text("alice:s3:cr3t\n").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("alice", "s3:cr3t"));
        let c = Credentials::from_stdin_text("bob\nhunter2\n").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("bob", "hunter2"));
        assert!(Credentials::from_stdin_text("").is_err());
        assert!(Credentials::from_stdin_text(":x").is_err());
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = Credentials::from_user_colon_password("carol:a:b").unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("carol", "a:b"));
        assert!(Credentials::from_user_colon_password(":x").is_err());
        assert!(Credentials::from_user_colon_password("nocolon").is_err());
    }

    #[test]
    fn plain_http_hosts_and_credentials_are_per_registry() {
        let o = Options {
            plain_http_hosts: vec!["insecure.example".into(), "127.0.0.1:5000".into()],
            credentials: Some(Credentials { username: "u".into(), password: "p".into() }),
            credentials_registry: Some("private.example:5000".into()),
            ..Options::default()
        };
        let table = [
            ("insecure.example", true),
            ("insecure.example:8080", true),
            ("127.0.0.1:5000", true),
            ("127.0.0.1:5001", false),
            ("other.example", false),
        ];
        for (registry, plain) in table {
            assert_eq!(o.plain_http_for(registry), plain, "{registry}");
        }
        assert!(o.credentials_for("private.example:5000").is_some());
        assert!(o.credentials_for("private.example").is_none());
        assert!(o.credentials_for("other.example").is_none());
        assert!(Options { credentials_registry: None, ..o }.credentials_for("private.example:5000").is_none());
    }
}
