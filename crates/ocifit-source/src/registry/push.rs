//! Pushing an edited index (`ocifit index … --push docker://REF`): only the
//! index, never an image.
//!
//! 1. The client is authorized for `pull,push` on REF's repository (the
//!    same challenge, credentials and token rules as reading).
//! 2. `HEAD /v2/<repo>/manifests/<digest>` for every distinct digest the
//!    index lists: an index whose manifests are not all in the target
//!    repository would be a broken image there, so nothing is pushed and
//!    the error lists every missing digest.
//! 3. `PUT /v2/<repo>/manifests/<tag|digest>` with the index's media type;
//!    the registry must answer 201, and its `Docker-Content-Digest`, when
//!    sent, must be the digest of the bytes sent.

use serde_json::Value;

use super::http::Method;
use super::{ACCEPT, Client};
use crate::digest::Digest;
use crate::options::Options;
use crate::reference::Reference;

/// Why a push did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// Manifests the index lists that the target repository does not have.
    Missing {
        repository: String,
        digests: Vec<String>,
    },
    Other(String),
}

impl std::fmt::Display for PushError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PushError::Missing { repository, digests } => {
                const SHOWN: usize = 10;
                let more = match digests.len().saturating_sub(SHOWN) {
                    0 => String::new(),
                    n => format!(" and {n} more"),
                };
                write!(
                    f,
                    "{repository} lacks {} manifest{} the index lists: {}{more}; nothing was pushed (copy the \
                     images there first, e.g. skopeo copy --all, or push to the repository that holds them)",
                    digests.len(),
                    if digests.len() == 1 { "" } else { "s" },
                    digests.iter().take(SHOWN).cloned().collect::<Vec<_>>().join(", ")
                )
            }
            PushError::Other(m) => f.write_str(m),
        }
    }
}

impl From<String> for PushError {
    fn from(m: String) -> Self {
        PushError::Other(m)
    }
}

/// Push `bytes`, an index of `media_type`, as `reference` (its tag, or its
/// digest, which must then be the bytes' digest). Returns the digest.
pub fn push_index(
    reference: &Reference,
    bytes: &[u8],
    media_type: &str,
    options: &Options,
) -> Result<Digest, PushError> {
    let digest = Digest::sha256(bytes);
    if let Some(want) = reference.digest.as_ref().filter(|d| **d != digest) {
        return Err(PushError::Other(format!("the index to push is {digest}, not {want}")));
    }
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("the index is not JSON: {e}"))?;
    let mut listed: Vec<&str> = Vec::new();
    for d in doc.get("manifests").and_then(Value::as_array).into_iter().flatten() {
        let d = d.get("digest").and_then(Value::as_str).unwrap_or_default();
        if !listed.contains(&d) {
            listed.push(d);
        }
    }
    let client = Client::with_actions(reference, options, "pull,push")?;
    let mut missing = Vec::new();
    for d in listed {
        // Only validated digests go into a URL.
        let parsed = Digest::parse(d).map_err(|e| format!("the index lists {e}"))?;
        if !client.has_manifest(&parsed)? {
            missing.push(parsed.to_string());
        }
    }
    if !missing.is_empty() {
        return Err(PushError::Missing { repository: reference.name(), digests: missing });
    }
    client.put_manifest(bytes, media_type, &digest)?;
    Ok(digest)
}

impl Client<'_> {
    pub(super) fn manifest_url(&self, reference: &str) -> String {
        format!("{}/v2/{}/manifests/{reference}", self.base, self.reference.repository)
    }

    /// HEAD: 200 yes, 404 no, anything else an error.
    pub(super) fn has_manifest(&self, digest: &Digest) -> Result<bool, String> {
        let url = self.manifest_url(&digest.to_string());
        let reply = self.http.send(
            Method::Head,
            &url,
            &[("Accept", ACCEPT)],
            self.authorization.as_deref(),
            self.options.max_manifest_bytes,
        )?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(self.status_error(&reply, "manifest")),
        }
    }

    fn put_manifest(&self, bytes: &[u8], media_type: &str, digest: &Digest) -> Result<(), String> {
        let target = self.reference.tag.clone().unwrap_or_else(|| digest.to_string());
        self.put_manifest_as(bytes, media_type, digest, &target)
    }

    /// `PUT` `bytes` (whose digest is `digest`) as `target`, a tag or digest.
    pub(super) fn put_manifest_as(
        &self,
        bytes: &[u8],
        media_type: &str,
        digest: &Digest,
        target: &str,
    ) -> Result<(), String> {
        let url = self.manifest_url(target);
        let reply = self.http.send(
            Method::Put { content_type: media_type, body: bytes },
            &url,
            &[],
            self.authorization.as_deref(),
            super::http::ERROR_BODY_LIMIT,
        )?;
        if reply.status != 201 {
            return Err(match reply.status {
                400 => format!(
                    "{}: the registry refused the index (HTTP 400{}): {}",
                    self.reference.name(),
                    super::registry_error_code(&reply.body).map(|c| format!(" {c}")).unwrap_or_default(),
                    String::from_utf8_lossy(&reply.body).chars().take(200).collect::<String>().trim()
                ),
                _ => self.status_error(&reply, "manifest"),
            });
        }
        if let Some(h) = reply.header("docker-content-digest") {
            if h != digest.to_string() {
                return Err(format!("pushed {digest} but the registry says it stored {h}"));
            }
        }
        Ok(())
    }
}
