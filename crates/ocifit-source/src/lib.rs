//! Where indexes come from: a JSON file, standard input, an OCI image
//! layout, or a registry, behind one [`Source`] type.
//!
//! Every command that reads an index parses its SOURCE argument with
//! [`Source::parse`] and calls [`Source::load`]; nothing else in ocifit
//! opens files or talks to the network for an index. The result keeps the
//! exact bytes read, so commands that rewrite an index can compare, and
//! lint can map JSON pointers back to lines, and says where the index
//! really came from ([`Resolved`]: registry, repository, digest).
//!
//! - [`digest`] has `algorithm:hex` digests, validated before they touch a
//!   path or a URL;
//! - [`layout`] reads `oci:DIR[:TAG]` and `oci:DIR@DIGEST`;
//! - [`archive`] reads `oci-archive:FILE[:TAG]` (a layout in a tar file) in place;
//! - [`localfs`] opens layout files without following what is planted
//!   in them, and replaces files atomically (`--in-place`, `-o FILE`);
//! - [`reference`](mod@reference) parses docker-style image references;
//! - [`registry`] is the one-request registry client, with its credentials
//!   and transport rules.
//!
//! ```no_run
//! use ocifit_source::Source;
//! let loaded = Source::parse("docker://127.0.0.1:5000/app:v1").load().unwrap();
//! println!("{} entries, index {}", loaded.index.len(), loaded.resolved.unwrap().digest.unwrap());
//! ```
//!
//! Not here: host detection (`ocifit-host`) and the rules (`ocifit-core`).
//! The library never prints; errors are [`SourceError`] values.

#![forbid(unsafe_code)]

pub mod archive;
pub mod digest;
pub mod layout;
pub mod localfs;
pub mod options;
pub mod reference;
pub mod registry;

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use digest::Digest;
pub use options::{Credentials, Options};
pub use reference::Reference;

use ocifit_core::index::{IndexErrorKind, MAX_INDEX_BYTES};
use ocifit_core::{Index, IndexError};

/// A SOURCE argument (§8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A path to a JSON file.
    File(PathBuf),
    /// `-`.
    Stdin,
    /// `oci:DIR[:TAG]`, or `oci:DIR@DIGEST` (then `tag` is `@DIGEST`: the
    /// pinned reference ocifit prints).
    OciLayout { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE[:TAG]` or `oci-archive:FILE@DIGEST` (as for a layout).
    OciArchive { file: PathBuf, tag: Option<String> },
    /// A transport ocifit does not read (`dir:`, `docker-archive:`, ...):
    /// loading it is an error that says which ones it reads.
    Unsupported { transport: String, arg: String },
    /// `docker://REFERENCE`, or a bare reference that is not an existing path.
    Registry(String),
}

impl Source {
    /// Read a SOURCE argument. A path that exists is always a file; a bare
    /// argument that does not exist but looks like an image reference
    /// (`registry/repo:tag`) is a registry reference.
    pub fn parse(arg: &str) -> Source {
        if arg == "-" {
            return Source::Stdin;
        }
        if let Some(rest) = arg.strip_prefix("oci:") {
            let (dir, tag) = split_path_tag(rest);
            return Source::OciLayout { dir, tag };
        }
        if let Some(rest) = arg.strip_prefix("oci-archive:") {
            let (file, tag) = split_path_tag(rest);
            return Source::OciArchive { file, tag };
        }
        if let Some(rest) = arg.strip_prefix("docker://") {
            return Source::Registry(rest.to_string());
        }
        if Path::new(arg).exists() {
            return Source::File(arg.into());
        }
        if let Some(transport) = reference::unsupported_transport(arg) {
            return Source::Unsupported { transport: transport.to_string(), arg: arg.to_string() };
        }
        if !looks_like_reference(arg) {
            return Source::File(arg.into());
        }
        Source::Registry(arg.to_string())
    }

    /// Fetch the bytes and check them as an index, with the process-wide
    /// [`Options`] (see [`Options::install`]).
    pub fn load(&self) -> Result<Loaded, SourceError> {
        self.load_with(&Options::current())
    }

    /// Fetch the bytes and check them as an index.
    pub fn load_with(&self, options: &Options) -> Result<Loaded, SourceError> {
        let (bytes, resolved) = self.read_with(options)?;
        let index = Index::from_slice(&bytes).map_err(|e| self.index_error(e))?;
        Ok(Loaded { source: self.clone(), bytes, index, resolved })
    }

    /// Fetch the bytes without checking them as an index: for `ocifit lint`,
    /// which reports a broken index as diagnostics rather than one error.
    pub fn read_with(&self, options: &Options) -> Result<(Vec<u8>, Option<Resolved>), SourceError> {
        let mut resolved = None;
        let bytes = match self {
            Source::File(path) => {
                let file = std::fs::File::open(path).map_err(|e| self.error(io_problem(&e)))?;
                if file.metadata().is_ok_and(|m| m.is_dir()) {
                    return Err(self.error("is a directory (for an OCI layout write oci:DIR)".into()));
                }
                read_limited(file).map_err(|p| self.error(p))?
            }
            Source::Stdin => read_limited(std::io::stdin().lock()).map_err(|p| self.error(p))?,
            Source::OciLayout { dir: path, tag } | Source::OciArchive { file: path, tag } => {
                let (found, name) = match self {
                    Source::OciLayout { .. } => (layout::read(path, tag.as_deref(), options.max_manifest_bytes), "oci"),
                    _ => (archive::read(path, tag.as_deref(), options.max_manifest_bytes), "oci-archive"),
                };
                let found = found.map_err(|p| self.error(p))?;
                resolved = Some(Resolved {
                    name: format!("{name}:{}", path.display()),
                    registry: None,
                    repository: None,
                    tag: tag.clone().filter(|t| !t.starts_with('@')),
                    digest: found.digest.map(|d| d.to_string()),
                    media_type: found.media_type,
                    single_manifest: found.synthesized,
                });
                found.bytes
            }
            Source::Unsupported { transport, .. } => {
                return Err(self.error(format!(
                    "unsupported transport {transport}; supported: FILE, -, oci:, oci-archive:, docker://"
                )));
            }
            Source::Registry(text) => {
                let reference = Reference::parse(text).map_err(|p| self.error(p))?;
                let fetched = registry::fetch_index(&reference, options).map_err(|p| self.error(p.to_string()))?;
                resolved = Some(Resolved {
                    name: reference.name(),
                    registry: Some(reference.registry.clone()),
                    repository: Some(reference.repository.clone()),
                    tag: reference.tag.clone(),
                    digest: Some(fetched.digest.to_string()),
                    media_type: fetched.media_type,
                    single_manifest: fetched.synthesized,
                });
                fetched.bytes
            }
        };
        Ok((bytes, resolved))
    }

    fn error(&self, problem: String) -> SourceError {
        SourceError { input: self.to_string(), problem, pointer: None }
    }

    /// An index error, as read from this source (with its JSON pointer).
    pub fn index_error(&self, e: IndexError) -> SourceError {
        let pointer = (e.kind == IndexErrorKind::Shape && !e.pointer.is_empty()).then(|| e.pointer.clone());
        SourceError { input: self.to_string(), problem: e.to_string(), pointer }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File(p) => write!(f, "{}", p.display()),
            Source::Stdin => f.write_str("<stdin>"),
            Source::OciLayout { dir, tag } => write!(f, "oci:{}{}", dir.display(), tag_suffix(tag)),
            Source::OciArchive { file, tag } => write!(f, "oci-archive:{}{}", file.display(), tag_suffix(tag)),
            Source::Unsupported { arg, .. } => f.write_str(arg),
            Source::Registry(r) => write!(f, "docker://{}", reference::redact(r)),
        }
    }
}

/// `:TAG`, `@DIGEST` or nothing, as written after a layout's or archive's path.
fn tag_suffix(tag: &Option<String>) -> String {
    match tag {
        Some(t) if t.starts_with('@') => t.clone(),
        Some(t) => format!(":{t}"),
        None => String::new(),
    }
}

/// `PATH[:TAG]` or `PATH@DIGEST` after `oci:` or `oci-archive:`. A tag never
/// contains '/', so the last ':' after the last '/' splits it; a pinned
/// digest (`@sha256:…`, what ocifit prints) is kept as the tag `@DIGEST`.
fn split_path_tag(rest: &str) -> (PathBuf, Option<String>) {
    if let Some((path, digest)) = rest.rsplit_once('@')
        && !path.is_empty()
        && Digest::parse(digest).is_ok()
    {
        return (path.into(), Some(format!("@{digest}")));
    }
    let slash = rest.rfind('/').map_or(0, |i| i + 1);
    match rest[slash..].rfind(':') {
        Some(colon) => {
            (rest[..slash + colon].into(), Some(rest[slash + colon + 1..].to_string()).filter(|t| !t.is_empty()))
        }
        None => (rest.into(), None),
    }
}

/// An index as read from a source.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub source: Source,
    /// The exact bytes, for byte-level comparisons and line/column mapping.
    pub bytes: Vec<u8>,
    pub index: Index,
    /// Where a layout or registry source resolved to; `None` for files and stdin.
    pub resolved: Option<Resolved>,
}

impl Loaded {
    /// The pinned reference of one of the index's entries: `host/repo@digest`
    /// for a registry, `oci:DIR@digest` for a layout (`oci-archive:FILE@digest`
    /// for an archive), `None` for files. ocifit reads each of them back.
    pub fn pin(&self, entry_digest: &str) -> Option<String> {
        self.resolved.as_ref().map(|r| r.pin(entry_digest))
    }
}

/// Provenance of an index read from a layout or a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// `registry/repository` (fully qualified: `docker.io/library/alpine`),
    /// or `oci:DIR`: what a digest is appended to, to pin an image.
    pub name: String,
    /// `docker.io`, `127.0.0.1:5000`; `None` for a layout.
    pub registry: Option<String>,
    pub repository: Option<String>,
    pub tag: Option<String>,
    /// The digest of the document read: the index, or the single image
    /// manifest; `None` when a layout's `index.json` is the index itself.
    pub digest: Option<String>,
    /// The media type of that document.
    pub media_type: String,
    /// The document was a single image manifest, reported as a one-entry index.
    pub single_manifest: bool,
}

impl Resolved {
    /// One of the index's entries, pinned: `host/repo@digest` for a
    /// registry, `oci:DIR@digest` for a layout.
    pub fn pin(&self, entry_digest: &str) -> String {
        format!("{}@{entry_digest}", self.name)
    }

    /// The `source` object of `select --format json`.
    pub fn to_json(&self, input: &Source) -> serde_json::Value {
        let mut obj = serde_json::Map::new();
        obj.insert("input".into(), input.to_string().into());
        obj.insert("name".into(), self.name.clone().into());
        if let Some(r) = &self.registry {
            obj.insert("registry".into(), r.clone().into());
        }
        if let Some(r) = &self.repository {
            obj.insert("repository".into(), r.clone().into());
        }
        if let Some(t) = &self.tag {
            obj.insert("tag".into(), t.clone().into());
        }
        obj.insert("digest".into(), self.digest.clone().map_or(serde_json::Value::Null, Into::into));
        obj.insert(
            "reference".into(),
            self.digest.as_ref().map_or(serde_json::Value::Null, |d| format!("{}@{d}", self.name).into()),
        );
        obj.insert("mediaType".into(), self.media_type.clone().into());
        obj.insert("singleManifest".into(), self.single_manifest.into());
        serde_json::Value::Object(obj)
    }
}

/// A source that could not be read or is not an index; `Display` is the
/// one-line message the CLI prints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{input}: {problem}")]
pub struct SourceError {
    pub input: String,
    pub problem: String,
    /// Where in the document, when the problem is in one value.
    pub pointer: Option<String>,
}

fn io_problem(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => format!("cannot read: {e}"),
    }
}

fn read_limited(reader: impl Read) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    reader.take(MAX_INDEX_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| io_problem(&e))?;
    if bytes.len() > MAX_INDEX_BYTES {
        return Err(format!("larger than the {} MiB an index may have", MAX_INDEX_BYTES >> 20));
    }
    Ok(bytes)
}

/// `host[:port]/path[:tag][@digest]` or `name:tag`: something a user means
/// as an image, not a mistyped file name.
fn looks_like_reference(arg: &str) -> bool {
    !arg.is_empty()
        && !arg.ends_with(".json")
        && !arg.starts_with('.')
        && !arg.starts_with('/')
        && arg.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/:@[]".contains(&b))
        && (arg.contains('/') || arg.contains(':') || arg.contains('@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_source_forms() {
        let cases: &[(&str, Source)] = &[
            ("-", Source::Stdin),
            ("oci:layout", Source::OciLayout { dir: "layout".into(), tag: None }),
            ("oci:layout:v1", Source::OciLayout { dir: "layout".into(), tag: Some("v1".into()) }),
            ("oci:/tmp/a:b/dir:tag", Source::OciLayout { dir: "/tmp/a:b/dir".into(), tag: Some("tag".into()) }),
            ("docker://alpine", Source::Registry("alpine".into())),
            ("localhost:5000/app:1", Source::Registry("localhost:5000/app:1".into())),
            ("missing.json", Source::File("missing.json".into())),
            ("./missing", Source::File("./missing".into())),
            ("plainword", Source::File("plainword".into())),
            ("oci-archive:app.tar", Source::OciArchive { file: "app.tar".into(), tag: None }),
            ("oci-archive:/x:y/app.tar:v1", Source::OciArchive { file: "/x:y/app.tar".into(), tag: Some("v1".into()) }),
            (
                "oci:layout@sha256:0000000000000000000000000000000000000000000000000000000000000000",
                Source::OciLayout {
                    dir: "layout".into(),
                    tag: Some("@sha256:0000000000000000000000000000000000000000000000000000000000000000".into()),
                },
            ),
            ("oci:a@b:c", Source::OciLayout { dir: "a@b".into(), tag: Some("c".into()) }),
            ("dir:/tmp/x", Source::Unsupported { transport: "dir:".into(), arg: "dir:/tmp/x".into() }),
        ];
        for (arg, want) in cases {
            assert_eq!(&Source::parse(arg), want, "{arg}");
            if !matches!(want, Source::Stdin | Source::Registry(_)) {
                assert_eq!(Source::parse(arg).to_string(), *arg, "printed as given");
            }
        }
    }

    #[test]
    fn missing_file_names_the_input() {
        let err = Source::parse("definitely-missing.json").load().unwrap_err();
        assert_eq!(err.to_string(), "definitely-missing.json: no such file");
    }
}
