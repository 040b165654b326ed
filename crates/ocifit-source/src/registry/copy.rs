//! Making images available in another repository before an index that
//! lists them is pushed there (`ocifit index create|add --image … --push`).
//!
//! A [`Repository`] is one registry repository, read and written through
//! the same client as everything else (challenge, credentials, tokens,
//! transport rules). Blobs go across in one of two ways:
//!
//! - **mount**: `POST /v2/<name>/blobs/uploads/?mount=<digest>&from=<repo>`
//!   when source and target are on one registry. `201 Created` means the
//!   registry linked the blob without any byte moving. `202 Accepted` (the
//!   registry would not mount) opens an ordinary upload, which the copy
//!   then uses. A bearer registry mounts only for a token that grants
//!   `pull` on the source too, so the mount asks for one with both scopes;
//!   a refusal (distribution answers 401 when the token does not grant
//!   `pull` on the other repository, as from a token server that honours
//!   only the first scope) is followed by a plain upload and the copy.
//! - **copy**: `GET` of the source blob, streamed straight into a monolithic
//!   `PUT <upload>?digest=<digest>` (`Content-Length` from the descriptor):
//!   the blob is never held in memory, and the registry checks the digest.
//!
//! Manifests are small and are `PUT` by digest, byte for byte.

use std::io::Read;
use std::sync::{Arc, OnceLock};

use serde_json::Value;

use super::Client;
use super::http::{Http, Method, encode};
use crate::digest::Digest;
use crate::options::Options;
use crate::reference::Reference;

/// A registry repository (the reference's tag and digest are ignored).
#[derive(Clone)]
pub struct Repository {
    reference: Reference,
    options: Options,
    /// The transport of the first request, kept for the others: its
    /// connections are reused (one TLS handshake, not one per blob).
    http: Arc<OnceLock<Http>>,
}

impl std::fmt::Debug for Repository {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Repository({})", self.reference.name())
    }
}

/// A manifest as stored (in a registry or a layout): its exact bytes,
/// digest and media type.
#[derive(Debug, Clone)]
pub struct RawManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

/// How a blob got into the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobOutcome {
    /// It was there already.
    Present,
    /// Linked by a cross-repository mount.
    Mounted,
    /// Copied byte for byte.
    Copied,
}

impl Repository {
    pub fn new(reference: &Reference, options: &Options) -> Repository {
        let mut reference = reference.clone();
        reference.tag = None;
        reference.digest = None;
        Repository { reference, options: options.clone(), http: Arc::default() }
    }

    /// `registry/repository`.
    pub fn name(&self) -> String {
        self.reference.name()
    }

    pub fn registry(&self) -> &str {
        &self.reference.registry
    }

    pub fn repository(&self) -> &str {
        &self.reference.repository
    }

    fn reader(&self) -> Result<Client<'_>, String> {
        Client::with_actions(&self.reference, &self.options, "pull").map(|c| self.pooled(c))
    }

    fn writer(&self) -> Result<Client<'_>, String> {
        Client::with_actions(&self.reference, &self.options, "pull,push").map(|c| self.pooled(c))
    }

    /// A writer whose token also grants `pull` on `from` (same registry),
    /// which a bearer registry needs to mount a blob from there.
    fn mounter(&self, from: &Repository) -> Result<Client<'_>, String> {
        let scope = format!("repository:{}:pull,push repository:{}:pull", self.repository(), from.repository());
        Client::with_scope(&self.reference, &self.options, scope).map(|c| self.pooled(c))
    }

    /// `client` sending through this repository's pool.
    fn pooled<'a>(&self, mut client: Client<'a>) -> Client<'a> {
        match self.http.get() {
            Some(http) => client.http = http.clone(),
            None => {
                let _ = self.http.set(client.http.clone());
            }
        }
        client
    }

    /// The manifest `tag_or_digest` names, exactly as stored (digest
    /// verified against the request and the `Docker-Content-Digest` header).
    pub fn manifest(&self, tag_or_digest: &str) -> Result<RawManifest, String> {
        let mut reference = self.reference.clone();
        let want = Digest::parse(tag_or_digest).ok();
        match &want {
            Some(d) => reference.digest = Some(d.clone()),
            None => reference.tag = Some(tag_or_digest.to_string()),
        }
        let reply = self.pooled(Client::new(&reference, &self.options)?).get_manifest()?;
        let digest = match want {
            Some(want) => {
                want.verify(&reply.body).map_err(|e| format!("manifest {want} in {}: {e}", self.name()))?;
                want
            }
            None => Digest::sha256(&reply.body),
        };
        if let Some(h) = &reply.headers_digest {
            if Digest::parse(h).is_ok_and(|d| d.algorithm() == digest.algorithm() && d != digest) {
                return Err(format!("{}: the registry says {h} for content whose digest is {digest}", self.name()));
            }
        }
        let doc: Value =
            serde_json::from_slice(&reply.body).map_err(|e| format!("manifest {digest}: not valid JSON: {e}"))?;
        let media_type =
            doc.get("mediaType").and_then(Value::as_str).map(str::to_string).or(reply.content_type).unwrap_or_default();
        Ok(RawManifest { bytes: reply.body, digest, media_type })
    }

    /// A small blob (an image config), size-limited and digest-verified.
    pub fn small_blob(&self, digest: &Digest) -> Result<Vec<u8>, String> {
        self.reader()?.get_blob(digest)
    }

    /// Whether the repository has the manifest.
    pub fn has_manifest(&self, digest: &Digest) -> Result<bool, String> {
        self.reader()?.has_manifest(digest)
    }

    /// Whether the repository has the blob (`HEAD`).
    pub fn has_blob(&self, digest: &Digest) -> Result<bool, String> {
        let client = self.reader()?;
        let url = client.blob_url(digest);
        // A HEAD's Content-Length is the blob's size: no limit applies.
        let reply = client.http.send(Method::Head, &url, &[], client.authorization.as_deref(), usize::MAX >> 1)?;
        match reply.status {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(client.status_error(&reply, "blob")),
        }
    }

    /// The blob's bytes as a stream.
    pub fn open_blob(&self, digest: &Digest) -> Result<Box<dyn Read + Send>, String> {
        let client = self.reader()?;
        let url = client.blob_url(digest);
        client.http.open(&url, client.authorization.as_deref()).map_err(|(status, body)| match status {
            0 => body,
            404 => format!("blob {digest} not found in {}", self.name()),
            s => format!("{url}: the registry answered HTTP {s}"),
        })
    }

    /// Make blob `digest` (`size` bytes) available here: nothing when it is
    /// already here, a mount from `from` when it is a repository on the same
    /// registry, otherwise (or when the registry declines the mount) a copy
    /// streamed from `open()`.
    pub fn put_blob(
        &self,
        digest: &Digest,
        size: u64,
        from: Option<&Repository>,
        open: &mut dyn FnMut() -> Result<Box<dyn Read + Send>, String>,
    ) -> Result<BlobOutcome, String> {
        if self.has_blob(digest)? {
            return Ok(BlobOutcome::Present);
        }
        let client = self.writer()?;
        let uploads = format!("{}/v2/{}/blobs/uploads/", client.base, self.reference.repository);
        let post = |client: &Client, url: &str| {
            client.http.send(
                Method::PostForm(""),
                url,
                &[],
                client.authorization.as_deref(),
                super::http::ERROR_BODY_LIMIT,
            )
        };
        let mut reply = None;
        if let Some(from) = from.filter(|f| f.registry() == self.registry()) {
            let url = format!("{uploads}?mount={}&from={}", encode(&digest.to_string()), encode(from.repository()));
            // A token for both repositories; where none is to be had, the
            // writer's, and the registry decides.
            let mounter = self.mounter(from);
            let mounted = post(mounter.as_ref().unwrap_or(&client), &url)?;
            match mounted.status {
                201 => return Ok(BlobOutcome::Mounted),
                202 => reply = Some(mounted),
                // Refused outright (distribution answers 401 when the token
                // lacks `pull` on the other repository): copy instead.
                _ => {}
            }
        }
        let reply = match reply {
            Some(r) => r,
            None => post(&client, &uploads)?,
        };
        let location = match reply.status {
            202 => reply.header("location").ok_or_else(|| format!("{uploads}: an upload without a Location"))?,
            _ => return Err(client.status_error(&reply, "blob upload")),
        };
        let location = absolute(&client.base, location);
        let separator = if location.contains('?') { '&' } else { '?' };
        let put = format!("{location}{separator}digest={}", encode(&digest.to_string()));
        let mut body = open()?.take(size);
        let reply = client.http.put_stream(&put, size, &mut body, client.authorization.as_deref())?;
        if reply.status != 201 {
            return Err(match super::registry_error_code(&reply.body).as_deref() {
                Some(code @ ("DIGEST_INVALID" | "SIZE_INVALID" | "BLOB_UPLOAD_INVALID")) => {
                    format!("copying blob {digest} to {}: the registry refused it ({code})", self.name())
                }
                _ => format!("copying blob {digest} to {}: {}", self.name(), client.status_error(&reply, "blob")),
            });
        }
        Ok(BlobOutcome::Copied)
    }

    /// `PUT` a manifest under `tag_or_digest`, byte for byte.
    pub fn put_manifest(&self, bytes: &[u8], media_type: &str, tag_or_digest: &str) -> Result<(), String> {
        let client = self.writer()?;
        client.put_manifest_as(bytes, media_type, &Digest::sha256(bytes), tag_or_digest)
    }
}

/// A `Location` header as an absolute URL.
fn absolute(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_string()
    } else if location.starts_with('/') {
        format!("{base}{location}")
    } else {
        format!("{base}/{location}")
    }
}

impl Client<'_> {
    fn blob_url(&self, digest: &Digest) -> String {
        format!("{}/v2/{}/blobs/{digest}", self.base, self.reference.repository)
    }
}

#[cfg(test)]
mod tests {
    use super::absolute;

    #[test]
    fn upload_locations_become_absolute() {
        let base = "http://127.0.0.1:5000";
        assert_eq!(
            absolute(base, "/v2/a/blobs/uploads/u?_state=x"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u?_state=x"
        );
        assert_eq!(absolute(base, "https://cdn.example/u"), "https://cdn.example/u");
    }
}
