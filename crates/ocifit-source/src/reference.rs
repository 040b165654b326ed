//! Image references, parsed the way docker parses them
//! (`distribution/reference`'s `ParseDockerRef`):
//!
//! - `alpine` is `docker.io/library/alpine:latest`; `index.docker.io` is
//!   `docker.io`;
//! - the first path component is a registry when it has a `.` or a `:`
//!   (`example.com/app`, `127.0.0.1:5000/app`, `[::1]:5000/app`), is
//!   `localhost`, or has an uppercase letter; otherwise the image is on
//!   Docker Hub;
//! - the repository is lowercase components (`a-z0-9` joined by `.`, `_`,
//!   `__` or dashes), at most 255 characters with the registry;
//! - `:tag` is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; without a tag or a
//!   digest the tag is `latest`;
//! - `@sha256:…` pins a digest; with both, the digest is what is fetched.
//!
//! Digests must be one ocifit can verify (`sha256`, `sha512`).
//!
//! A reference never carries credentials: `user:password@host/repo` is
//! refused, and [`redact`] hides such a part wherever a reference or URL
//! is printed.

use std::borrow::Cow;
use std::fmt;

use crate::digest::{Digest, shorten};

pub const DOCKER_HUB: &str = "docker.io";

/// The transports of containers/image (skopeo, podman) that ocifit does not
/// read. Without this, `dir:/tmp/x` would be taken for a Docker Hub image.
pub const UNSUPPORTED_TRANSPORTS: &[&str] =
    &["dir:", "docker-archive:", "docker-daemon:", "containers-storage:", "ostree:", "sif:", "tarball:"];

/// The transport prefix of `arg` if it is one ocifit does not read.
pub fn unsupported_transport(arg: &str) -> Option<&'static str> {
    UNSUPPORTED_TRANSPORTS.iter().copied().find(|t| arg.starts_with(t))
}
/// Where Docker Hub's registry API really is.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, `example.com`, `127.0.0.1:5000`, `[::1]:5000`.
    pub registry: String,
    /// `library/alpine`.
    pub repository: String,
    /// The tag; `latest` when the reference had neither tag nor digest.
    pub tag: Option<String>,
    pub digest: Option<Digest>,
}

impl Reference {
    pub fn parse(text: &str) -> Result<Reference, String> {
        let shown = redact(text);
        let bad = |why: &str| format!("invalid reference {:?}: {why}", shorten(&shown));
        if text.is_empty() {
            return Err("invalid reference: empty".into());
        }
        if let Cow::Owned(_) = shown {
            return Err(bad(
                "a reference cannot hold a user name or password (give them with --creds, --creds-stdin or --authfile)",
            ));
        }
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("a 64-digit hex string is an image ID, not a name"));
        }
        let (name_tag, digest) = match text.split_once('@') {
            Some((n, d)) => (n, Some(Digest::parse(d).map_err(|e| bad(&e))?)),
            None => (text, None),
        };
        let (registry, remainder) = split_registry(name_tag);
        // The tag follows the last ':' after the last '/'.
        let last_slash = remainder.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match remainder[last_slash..].rfind(':') {
            Some(c) => (&remainder[..last_slash + c], Some(&remainder[last_slash + c + 1..])),
            None => (remainder, None),
        };
        check_registry(&registry).map_err(|e| bad(&e))?;
        if repository.to_lowercase() != repository {
            return Err(bad("repository name must be lowercase"));
        }
        check_repository(repository).map_err(|e| bad(&e))?;
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.into()
        };
        if registry.len() + 1 + repository.len() > 255 {
            return Err(bad("name is longer than 255 characters"));
        }
        if let Some(t) = tag {
            check_tag(t).map_err(|e| bad(&e))?;
        }
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".into()),
            (None, Some(_)) => None,
        };
        Ok(Reference { registry, repository, tag, digest })
    }

    /// `registry/repository`, fully qualified.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// What is asked of the registry: the digest when there is one, else the tag.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.clone(),
            (None, None) => "latest".into(),
        }
    }

    /// The host (and port) to connect to: Docker Hub's API host for `docker.io`.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB { DOCKER_HUB_API } else { &self.registry }
    }

    /// The host without port or IPv6 brackets.
    pub fn hostname(&self) -> &str {
        host_of(&self.registry)
    }

    /// `localhost`, `127.0.0.0/8` or `::1`: where docker allows plain HTTP.
    pub fn is_loopback(&self) -> bool {
        is_loopback_host(self.hostname())
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// `text` (a reference, `docker://REF`, or a URL) with any
/// `user[:password]@` before the host replaced by `***@`. A trailing
/// `@sha256:…` digest is not a user part; a password may itself hold `@`
/// or `/`, so everything up to the last `@` before the digest goes.
pub fn redact(text: &str) -> Cow<'_, str> {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    // Without a trailing `@ALG:HEX` digest.
    let body = match rest.rfind('@') {
        Some(i) if is_digest_like(&rest[i + 1..]) => &rest[..i],
        _ => rest,
    };
    match body.rfind('@') {
        Some(at) => Cow::Owned(format!("{scheme}***{}", &rest[at..])),
        None => Cow::Borrowed(text),
    }
}

/// `alg:hex…` with nothing else (no `/`): what follows `@` in a pinned reference.
fn is_digest_like(s: &str) -> bool {
    s.split_once(':').is_some_and(|(alg, hex)| {
        !alg.is_empty()
            && alg.bytes().all(|b| b.is_ascii_alphanumeric() || b"+._-".contains(&b))
            && !hex.is_empty()
            && hex.bytes().all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
    })
}

/// The host of `host[:port]` or `[v6][:port]`.
pub fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or_default();
    }
    registry.rsplit_once(':').map_or(registry, |(h, _)| h)
}

pub fn is_loopback_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn split_registry(name: &str) -> (String, &str) {
    let Some((first, rest)) = name.split_once('/') else {
        return (DOCKER_HUB.into(), name);
    };
    if first == "localhost" || first.contains(['.', ':']) || first.to_lowercase() != first {
        let registry = if first == "index.docker.io" { DOCKER_HUB.to_string() } else { first.to_string() };
        (registry, rest)
    } else {
        (DOCKER_HUB.into(), name)
    }
}

fn check_registry(registry: &str) -> Result<(), String> {
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let (v6, after) = rest.split_once(']').ok_or("unclosed '[' in the registry")?;
        if v6.is_empty() || !v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return Err(format!("{:?} is not an IPv6 address", shorten(v6)));
        }
        match after {
            "" => (None, None),
            p if p.starts_with(':') => (None, Some(&p[1..])),
            _ => return Err("unexpected text after ']' in the registry".into()),
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(host) = host {
        let ok_label = |l: &str| {
            !l.is_empty()
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if !host.split('.').all(ok_label) {
            return Err(format!("{:?} is not a valid registry host", shorten(host)));
        }
    }
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) || port.parse::<u16>().is_err() {
            return Err(format!("{:?} is not a valid port", shorten(port)));
        }
    }
    Ok(())
}

/// `[a-z0-9]+` joined by `.`, `_`, `__` or one or more `-`; components joined by `/`.
fn check_repository(repository: &str) -> Result<(), String> {
    if repository.is_empty() {
        return Err("no repository name".into());
    }
    for component in repository.split('/') {
        let b = component.as_bytes();
        let ok = !b.is_empty() && b[0].is_ascii_alphanumeric() && b[b.len() - 1].is_ascii_alphanumeric() && {
            let mut i = 0;
            let mut ok = true;
            while i < b.len() {
                if b[i].is_ascii_lowercase() || b[i].is_ascii_digit() {
                    i += 1;
                    continue;
                }
                let start = i;
                while i < b.len() && !(b[i].is_ascii_lowercase() || b[i].is_ascii_digit()) {
                    i += 1;
                }
                let sep = &component[start..i];
                ok &= sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
            }
            ok
        };
        if !ok {
            return Err(format!("{:?} is not a valid repository path component", shorten(component)));
        }
    }
    Ok(())
}

fn check_tag(tag: &str) -> Result<(), String> {
    let b = tag.as_bytes();
    let word = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    if b.is_empty() || b.len() > 128 || !word(b[0]) || !b.iter().all(|&c| word(c) || c == b'.' || c == b'-') {
        return Err(format!("{:?} is not a valid tag", shorten(tag)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa";

    /// (input, registry, repository, tag, digest) — or an error (registry = "!").
    /// Rows follow docker's `ParseDockerRef`/`ParseNormalizedNamed`
    /// behaviour (distribution/reference), written out here by hand.
    type Row = (&'static str, &'static str, &'static str, Option<&'static str>, Option<&'static str>);

    #[test]
    fn parses_like_docker() {
        let rows: &[Row] = &[
            ("alpine", "docker.io", "library/alpine", Some("latest"), None),
            ("alpine:3.20", "docker.io", "library/alpine", Some("3.20"), None),
            ("library/alpine", "docker.io", "library/alpine", Some("latest"), None),
            ("docker.io/alpine", "docker.io", "library/alpine", Some("latest"), None),
            ("docker.io/library/alpine:edge", "docker.io", "library/alpine", Some("edge"), None),
            ("index.docker.io/alpine", "docker.io", "library/alpine", Some("latest"), None),
            ("dmcgowan/myapp", "docker.io", "dmcgowan/myapp", Some("latest"), None),
            ("dmcgowan/myapp/sub:v1", "docker.io", "dmcgowan/myapp/sub", Some("v1"), None),
            ("example.com/app", "example.com", "app", Some("latest"), None),
            ("example.com:8443/team/app:1.2.3", "example.com:8443", "team/app", Some("1.2.3"), None),
            ("localhost/app", "localhost", "app", Some("latest"), None),
            ("localhost:5000/app:v1", "localhost:5000", "app", Some("v1"), None),
            ("127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000", "a/b/c", Some("t"), None),
            ("[::1]:5000/app:v1", "[::1]:5000", "app", Some("v1"), None),
            ("[2001:db8::1]/app", "[2001:db8::1]", "app", Some("latest"), None),
            ("Registry/app", "Registry", "app", Some("latest"), None),
            ("host:5000/app", "host:5000", "app", Some("latest"), None),
            ("ghcr.io/o/r@", "!", "", None, None),
            ("alpine@D", "docker.io", "library/alpine", None, Some(D)),
            ("alpine:3@D", "docker.io", "library/alpine", Some("3"), Some(D)),
            ("127.0.0.1:5000/app@D", "127.0.0.1:5000", "app", None, Some(D)),
            ("a__b/c.d/e--f_g:T_ag-1.x", "docker.io", "a__b/c.d/e--f_g", Some("T_ag-1.x"), None),
            ("ALPINE", "!", "", None, None),
            ("docker.io/Library/alpine", "!", "", None, None),
            ("alpine:", "!", "", None, None),
            ("alpine:-bad", "!", "", None, None),
            ("alpine:a/b", "!", "", None, None),
            ("alpine@sha256:abc", "!", "", None, None),
            ("alpine@md5:d41d8cd98f00b204e9800998ecf8427e", "!", "", None, None),
            ("a_/b", "!", "", None, None),
            ("a/-b", "!", "", None, None),
            ("a/b..c", "!", "", None, None),
            ("a/b___c", "!", "", None, None),
            ("a//b", "!", "", None, None),
            ("example.com/", "!", "", None, None),
            ("-host.com/app", "!", "", None, None),
            ("host.com:port/app", "!", "", None, None),
            ("host.com:99999/app", "!", "", None, None),
            ("[::1/app", "!", "", None, None),
            ("[zz::1]:5000/app", "!", "", None, None),
            ("", "!", "", None, None),
            ("7cc4b5aefd1d0cadf8d97d4350462ba51c694ebca145b08d7d41b41acc8db5aa", "!", "", None, None),
        ];
        for &(input, registry, repository, tag, digest) in rows {
            let input = input.replace("@D", &format!("@{D}"));
            let got = Reference::parse(&input);
            if registry == "!" {
                assert!(got.is_err(), "{input:?} must be rejected, got {got:?}");
                continue;
            }
            let got = got.unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(got.registry, registry, "{input:?}");
            assert_eq!(got.repository, repository, "{input:?}");
            assert_eq!(got.tag.as_deref(), tag, "{input:?}");
            assert_eq!(got.digest.as_ref().map(|d| d.to_string()).as_deref(), digest, "{input:?}");
        }
    }

    #[test]
    fn credentials_in_references_are_redacted() {
        // (text as given, as printed)
        let table = [
            ("alice:s3cret@registry.example/app:v1", "***@registry.example/app:v1"),
            ("docker://alice:s3cret@127.0.0.1:5000/app", "docker://***@127.0.0.1:5000/app"),
            ("https://u:p@host/v2/", "https://***@host/v2/"),
            ("bob:p@ss/w0rd@host/app@D", "***@host/app@D"),
            ("alice@host/app", "***@host/app"),
            ("host/app@D", "host/app@D"),
            ("alpine@D", "alpine@D"),
            ("alpine:3", "alpine:3"),
        ];
        for (text, shown) in table {
            let text = text.replace("@D", &format!("@{D}"));
            let shown = shown.replace("@D", &format!("@{D}"));
            assert_eq!(redact(&text), shown, "{text}");
        }
        let err = Reference::parse("alice:Pa55w0rd@registry.example/app:v1").unwrap_err();
        assert!(!err.contains("Pa55w0rd") && err.contains("--creds"), "{err}");
    }

    #[test]
    fn long_names_are_refused() {
        let long = format!("example.com/{}", "a".repeat(250));
        assert!(Reference::parse(&long).is_err());
        let tag = format!("app:{}", "t".repeat(129));
        assert!(Reference::parse(&tag).is_err());
    }

    #[test]
    fn hosts_and_loopback() {
        let r = |s: &str| Reference::parse(s).unwrap();
        assert_eq!(r("alpine").api_host(), "registry-1.docker.io");
        assert_eq!(r("[::1]:5000/a").hostname(), "::1");
        assert!(r("[::1]:5000/a").is_loopback());
        assert!(r("127.0.0.2:5000/a").is_loopback());
        assert!(r("localhost/a").is_loopback());
        assert!(!r("example.com:5000/a").is_loopback());
        assert_eq!(r("alpine:3").manifest_reference(), "3");
        assert_eq!(r(&format!("alpine:3@{D}")).manifest_reference(), D);
        assert_eq!(r(&format!("alpine:3@{D}")).to_string(), format!("docker.io/library/alpine:3@{D}"));
    }
}
