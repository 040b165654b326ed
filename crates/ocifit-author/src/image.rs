//! IMAGE arguments: where an image is, what it is, the index entries it
//! contributes and everything that has to travel with it.

use std::path::{Path, PathBuf};

use ocifit_core::index::{DOCKER_LIST, DOCKER_MANIFEST, OCI_INDEX, OCI_MANIFEST};
use ocifit_source::layout::copy as layout;
use ocifit_source::layout::platform_from_config;
use ocifit_source::registry::copy::{RawManifest, Repository};
use ocifit_source::{Digest, Options, Reference, Source};
use serde_json::{Map, Value, json};

/// Indexes inside indexes are followed this deep, no further.
const MAX_NESTING: usize = 4;

/// Where an image's manifests and blobs are.
// One per IMAGE argument: the size difference costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Place {
    Registry(Repository),
    Layout(PathBuf),
    /// A JSON file: an index whose images are elsewhere (no blobs here).
    File(PathBuf),
}

impl Place {
    /// `registry/repository`, `oci:DIR` or the file name.
    pub fn name(&self) -> String {
        match self {
            Place::Registry(r) => r.name(),
            Place::Layout(dir) => format!("oci:{}", dir.display()),
            Place::File(path) => path.display().to_string(),
        }
    }

    /// Whether both name the same repository or layout directory.
    pub fn same_as(&self, other: &Place) -> bool {
        match (self, other) {
            (Place::Registry(a), Place::Registry(b)) => a.name() == b.name(),
            (Place::Layout(a), Place::Layout(b)) => same_dir(a, b),
            _ => false,
        }
    }

    /// A manifest by digest, verified.
    pub fn manifest(&self, digest: &Digest, options: &Options) -> Result<Vec<u8>, String> {
        match self {
            Place::Registry(r) => r.manifest(&digest.to_string()).map(|m| m.bytes),
            Place::Layout(dir) => layout::small_blob(dir, digest, options.max_manifest_bytes),
            Place::File(path) => Err(format!("{} is a file: it holds no image {digest}", path.display())),
        }
    }

    /// A small blob (an image config) by digest, verified.
    fn config(&self, digest: &Digest, options: &Options) -> Result<Vec<u8>, String> {
        match self {
            Place::Registry(r) => r.small_blob(digest),
            Place::Layout(dir) => layout::small_blob(dir, digest, options.max_manifest_bytes),
            Place::File(path) => Err(format!("{} is a file: it holds no blob {digest}", path.display())),
        }
    }
}

pub(crate) fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// An IMAGE argument, resolved: the manifest it names, exactly as stored.
#[derive(Debug, Clone)]
pub struct Image {
    /// The argument as given, for messages.
    pub arg: String,
    pub place: Place,
    pub digest: Digest,
    pub media_type: String,
    pub bytes: Vec<u8>,
    document: Value,
}

impl Image {
    /// Find the image an IMAGE argument names (`docker://REF`, a bare
    /// reference, `oci:DIR[:TAG]`, or a JSON file holding an index). A
    /// manifest file is refused: it has no blobs to go with it.
    pub fn resolve(arg: &str, options: &Options) -> Result<Image, String> {
        let fail = |problem: String| format!("image {arg}: {problem}");
        let (place, digest, media_type, bytes) = match Source::parse(arg) {
            Source::Registry(text) => {
                let reference = Reference::parse(&text).map_err(fail)?;
                let repo = Repository::new(&reference, options);
                let m = repo.manifest(&reference.manifest_reference()).map_err(fail)?;
                (Place::Registry(repo), m.digest, m.media_type, m.bytes)
            }
            Source::OciLayout { dir, tag } => {
                let m = layout::manifest(&dir, tag.as_deref(), options.max_manifest_bytes).map_err(fail)?;
                (Place::Layout(dir), m.digest, m.media_type, m.bytes)
            }
            Source::File(path) => {
                let bytes = std::fs::read(&path).map_err(|e| fail(format!("cannot read: {e}")))?;
                let media_type = layout::media_type_of(&bytes).unwrap_or_default();
                (Place::File(path), Digest::sha256(&bytes), media_type, bytes)
            }
            Source::Stdin => return Err(fail("an image cannot come from standard input".into())),
            Source::OciArchive { .. } => {
                return Err(fail(
                    "images are copied from registries and OCI layouts, not archives: unpack it first \
                     (skopeo copy oci-archive:FILE oci:DIR:TAG)"
                        .into(),
                ));
            }
            Source::Unsupported { transport, .. } => {
                return Err(fail(format!(
                    "unsupported transport {transport}; images are docker://REF, a bare reference, oci:DIR[:TAG] \
                     or an index file"
                )));
            }
        };
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|e| fail(format!("the manifest is not valid JSON: {e}")))?;
        let image = Image { arg: arg.to_string(), place, digest, media_type, bytes, document };
        if !image.is_index() && !image.is_manifest() {
            return Err(fail(format!("{:?} is neither an index nor an image manifest", image.media_type)));
        }
        if matches!(image.place, Place::File(_)) && !image.is_index() {
            return Err(fail(
                "a manifest file has no blobs to go with it: push the image and name it docker://REF, or \
                 give its OCI layout (oci:DIR:TAG)"
                    .into(),
            ));
        }
        Ok(image)
    }

    pub fn is_index(&self) -> bool {
        is_index(&self.media_type, &self.document)
    }

    fn is_manifest(&self) -> bool {
        is_manifest(&self.media_type, &self.document)
    }

    /// The index entries the image contributes: an index's own entries
    /// (every key kept), or one descriptor for an image manifest whose
    /// `platform` comes from its config (os, architecture, variant,
    /// `os.version`, `os.features`).
    pub fn entries(&self, options: &Options) -> Result<Vec<Value>, String> {
        if self.is_index() {
            return Ok(self.document.get("manifests").and_then(Value::as_array).cloned().unwrap_or_default());
        }
        let config = self
            .document
            .get("config")
            .and_then(|c| c.get("digest"))
            .and_then(Value::as_str)
            .ok_or_else(|| format!("image {}: the manifest has no config digest", self.arg))?;
        let config = Digest::parse(config).map_err(|e| format!("image {}: config {e}", self.arg))?;
        let bytes = self.place.config(&config, options).map_err(|e| format!("image {}: {e}", self.arg))?;
        let platform = platform_from_config(&bytes).map_err(|e| format!("image {}: config {config}: {e}", self.arg))?;
        let media_type = if self.media_type.is_empty() { OCI_MANIFEST } else { &self.media_type };
        let mut entry = Map::new();
        entry.insert("mediaType".into(), json!(media_type));
        entry.insert("digest".into(), json!(self.digest.to_string()));
        entry.insert("size".into(), json!(self.bytes.len()));
        entry.insert("platform".into(), platform);
        Ok(vec![Value::Object(entry)])
    }

    /// Everything a target needs for the entries this image contributes:
    /// for each image manifest its config and layers (foreign layers, which
    /// registries do not hold, excepted) and the manifest itself; for an
    /// index, that for each of its entries (the index itself is not needed:
    /// the new index replaces it).
    pub fn contents(&self, options: &Options) -> Result<Contents, String> {
        let mut contents = Contents::default();
        let fail = |e: String| format!("image {}: {e}", self.arg);
        if self.is_index() {
            for entry in self.document.get("manifests").and_then(Value::as_array).into_iter().flatten() {
                let digest = entry.get("digest").and_then(Value::as_str).unwrap_or_default();
                let digest = Digest::parse(digest).map_err(fail)?;
                let bytes = self.place.manifest(&digest, options).map_err(fail)?;
                collect(&self.place, digest, bytes, options, &mut contents, 0).map_err(fail)?;
            }
        } else {
            collect(&self.place, self.digest.clone(), self.bytes.clone(), options, &mut contents, 0).map_err(fail)?;
        }
        Ok(contents)
    }
}

/// A blob a target needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub digest: Digest,
    pub size: u64,
}

/// What has to be in a target for an image's entries to be pullable there:
/// blobs, then manifests in an order where every manifest comes after what
/// it refers to.
#[derive(Debug, Clone, Default)]
pub struct Contents {
    pub blobs: Vec<Blob>,
    pub manifests: Vec<RawManifest>,
}

fn collect(
    place: &Place,
    digest: Digest,
    bytes: Vec<u8>,
    options: &Options,
    contents: &mut Contents,
    depth: usize,
) -> Result<(), String> {
    if contents.manifests.iter().any(|m| m.digest == digest) {
        return Ok(());
    }
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| format!("manifest {digest}: not valid JSON: {e}"))?;
    let media_type = doc.get("mediaType").and_then(Value::as_str).unwrap_or_default().to_string();
    if is_index(&media_type, &doc) {
        if depth >= MAX_NESTING {
            return Err(format!("indexes nested more than {MAX_NESTING} deep"));
        }
        for entry in doc.get("manifests").and_then(Value::as_array).into_iter().flatten() {
            let child = Digest::parse(entry.get("digest").and_then(Value::as_str).unwrap_or_default())
                .map_err(|e| format!("index {digest}: {e}"))?;
            let child_bytes = place.manifest(&child, options)?;
            collect(place, child, child_bytes, options, contents, depth + 1)?;
        }
    } else {
        let descriptors =
            doc.get("config").into_iter().chain(doc.get("layers").and_then(Value::as_array).into_iter().flatten());
        for d in descriptors {
            let layer_type = d.get("mediaType").and_then(Value::as_str).unwrap_or_default();
            if layer_type.contains("foreign") || layer_type.contains("nondistributable") {
                continue;
            }
            let blob = Digest::parse(d.get("digest").and_then(Value::as_str).unwrap_or_default())
                .map_err(|e| format!("manifest {digest}: {e}"))?;
            let size = d
                .get("size")
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("manifest {digest}: a descriptor has no size"))?;
            if !contents.blobs.iter().any(|b| b.digest == blob) {
                contents.blobs.push(Blob { digest: blob, size });
            }
        }
    }
    contents.manifests.push(RawManifest { digest, media_type, bytes });
    Ok(())
}

fn is_index(media_type: &str, doc: &Value) -> bool {
    media_type == OCI_INDEX || media_type == DOCKER_LIST || (media_type.is_empty() && doc.get("manifests").is_some())
}

fn is_manifest(media_type: &str, doc: &Value) -> bool {
    media_type == OCI_MANIFEST
        || media_type == DOCKER_MANIFEST
        || (media_type.is_empty() && doc.get("config").is_some())
}
