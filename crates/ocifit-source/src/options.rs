//! How sources are read: size limits, and the registry transport settings
//! the CLI's global flags set (`--plain-http`, `--ca-cert`, `--creds-stdin`,
//! timeouts).
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
    /// `http://`.
    pub plain_http: bool,
    /// PEM files of extra CA certificates, trusted besides the built-in roots.
    pub ca_certs: Vec<PathBuf>,
    /// Credentials given on the command line (`--creds-stdin`); they win
    /// over the config files, for every registry of this run.
    pub credentials: Option<Credentials>,
    pub connect_timeout: Duration,
    /// The longest wait for a response, and then for each read of its body.
    pub read_timeout: Duration,
    /// Retries after 429/502/503/504 and connection failures (not timeouts).
    pub retries: u32,
    /// The first retry waits this long; each next one twice as long
    /// (or what `Retry-After` asks, up to 10 s).
    pub retry_backoff: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_manifest_bytes: DEFAULT_MAX_MANIFEST_BYTES,
            plain_http: false,
            ca_certs: Vec::new(),
            credentials: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            retries: 3,
            retry_backoff: Duration::from_millis(250),
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
    }
}
