//! OCI image layouts (`oci:DIR[:TAG]`, `oci:DIR@DIGEST`), as `skopeo copy`,
//! `buildah push`, `oras` and `crane` write them. The same rules read a
//! layout inside a tar ([`crate::archive`]).
//!
//! `DIR/oci-layout` must say `imageLayoutVersion` 1.0.0; `DIR/index.json`
//! lists what the layout holds. With TAG, the one entry whose
//! `org.opencontainers.image.ref.name` is TAG; without, the only entry (or,
//! when `index.json` names no tags at all and lists several entries, the
//! top-level index itself). An entry that is an index is read and, while
//! it is a single nested index, followed down to the index that lists
//! platforms. An entry that is an image manifest becomes a one-entry index
//! whose platform comes from the image's config blob.
//!
//! Blobs are read only as `DIR/blobs/ALG/HEX` from a [`Digest`] that has
//! been validated, their size must match the descriptor and their content
//! must hash to the digest.
//!
//! Every file is opened through [`Dir`], from a descriptor of DIR, one
//! component at a time: no symbolic link inside the layout is followed, and
//! only regular files are read (a FIFO or a device is refused without
//! blocking), each up to its limit (docs/security.md "Layouts and local files").

use std::io::Read;
use std::path::Path;

use ocifit_core::index::{DOCKER_LIST, DOCKER_MANIFEST, MAX_INDEX_BYTES, OCI_INDEX, OCI_MANIFEST};
use serde_json::{Map, Value, json};

use crate::digest::{Digest, shorten};
use crate::localfs::Dir;

pub mod write;

pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// How deep nested indexes are followed before giving up.
const MAX_NESTING: usize = 8;

/// What a layout resolved to: the bytes of the platform list and its digest.
#[derive(Debug)]
pub struct LayoutIndex {
    pub bytes: Vec<u8>,
    /// The digest of the document that lists platforms (`None` when that is
    /// `index.json` itself, which has no digest of its own).
    pub digest: Option<Digest>,
    pub media_type: String,
    /// The image manifest was turned into a one-entry index.
    pub synthesized: bool,
}

pub fn read(dir: &Path, tag: Option<&str>, max_blob: usize) -> Result<LayoutIndex, String> {
    let layout = open_layout(dir)?;
    let bytes = read_index_json(&layout)?;
    resolve(bytes, tag, &mut |desc| read_blob(&layout, desc, max_blob))
}

/// What a layout's `index.json` (`bytes`) and TAG resolve to, with blobs
/// read by `blob` (a directory's files, or an archive's members).
pub(crate) fn resolve(bytes: Vec<u8>, tag: Option<&str>, blob: &mut BlobReader<'_>) -> Result<LayoutIndex, String> {
    let top: Value = serde_json::from_slice(&bytes).map_err(|e| format!("index.json: invalid JSON: {e}"))?;
    let entries = top
        .get("manifests")
        .and_then(Value::as_array)
        .ok_or_else(|| "index.json: not an index: no \"manifests\" array".to_string())?;
    if let Some(pin) = tag.and_then(|t| t.strip_prefix('@')) {
        let pin = Digest::parse(pin)?;
        return follow(&find_pinned(entries, &pin, blob)?, blob);
    }
    match choose(entries, tag)? {
        Some(i) => follow(&entries[i], blob),
        // index.json is itself the list of platforms.
        None => Ok(LayoutIndex { bytes, digest: None, media_type: OCI_INDEX.into(), synthesized: false }),
    }
}

/// Which entry of `index.json`'s `manifests` `oci:DIR[:TAG]` names: with
/// TAG, the one whose `org.opencontainers.image.ref.name` is TAG; without,
/// the only entry, or `None` when `index.json` names no tags and lists
/// several entries (it is then the list of platforms itself).
pub(crate) fn choose(entries: &[Value], tag: Option<&str>) -> Result<Option<usize>, String> {
    fn ref_name(e: &Value) -> Option<&str> {
        e.pointer("/annotations/org.opencontainers.image.ref.name").and_then(Value::as_str)
    }
    let tags: Vec<&str> = entries.iter().filter_map(ref_name).collect();
    match tag {
        Some(tag) => {
            let matching: Vec<usize> = (0..entries.len()).filter(|i| ref_name(&entries[*i]) == Some(tag)).collect();
            match matching.as_slice() {
                [one] => Ok(Some(*one)),
                [] => Err(format!("no tag {:?} in the layout ({})", shorten(tag), list_tags(&tags))),
                _ => Err(format!("tag {:?} names {} entries of index.json", shorten(tag), matching.len())),
            }
        }
        None => match entries.len() {
            0 => Err("the layout is empty (index.json lists no manifests)".into()),
            1 => Ok(Some(0)),
            _ if tags.is_empty() => Ok(None),
            _ => Err(format!("the layout holds several images; pick one with oci:DIR:TAG ({})", list_tags(&tags))),
        },
    }
}

/// The descriptor of `pin` (`oci:DIR@DIGEST`, as ocifit prints pinned
/// references): an entry of `index.json`, or of an index it lists, nested
/// at most [`MAX_NESTING`] deep. Each index is read once, however many
/// entries name it.
fn find_pinned(entries: &[Value], pin: &Digest, blob: &mut BlobReader<'_>) -> Result<Value, String> {
    let wanted = pin.to_string();
    let mut level: Vec<Value> = entries.to_vec();
    let mut read: std::collections::HashSet<String> = std::collections::HashSet::new();
    for _ in 0..MAX_NESTING {
        if let Some(found) = level.iter().find(|e| e.get("digest").and_then(Value::as_str) == Some(wanted.as_str())) {
            return Ok(found.clone());
        }
        let mut next = Vec::new();
        for entry in &level {
            let media_type = entry.get("mediaType").and_then(Value::as_str).unwrap_or_default();
            if media_type != OCI_INDEX && media_type != DOCKER_LIST {
                continue;
            }
            let desc = descriptor(entry, "index.json")?;
            if !read.insert(desc.digest.to_string()) {
                continue;
            }
            let doc: Value = serde_json::from_slice(&blob(&desc)?)
                .map_err(|e| format!("blob {}: invalid JSON: {e}", desc.digest))?;
            next.extend(doc.get("manifests").and_then(Value::as_array).into_iter().flatten().cloned());
        }
        if next.is_empty() {
            break;
        }
        level = next;
    }
    Err(format!("no image or index {pin} in the layout"))
}

fn list_tags(tags: &[&str]) -> String {
    if tags.is_empty() {
        return "it has no tags".into();
    }
    let shown: Vec<String> = tags.iter().take(20).map(|t| shorten(t)).collect();
    let more = if tags.len() > 20 { format!(" and {} more", tags.len() - 20) } else { String::new() };
    format!("tags: {}{more}", shown.join(", "))
}

/// DIR opened, once its `oci-layout` file says it is a layout.
pub(crate) fn open_layout(path: &Path) -> Result<Dir, String> {
    let dir = Dir::open(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => "no such directory".to_string(),
        std::io::ErrorKind::NotADirectory => "not a directory (an OCI layout is a directory)".to_string(),
        _ => format!("cannot open the directory: {e}"),
    })?;
    check_layout_file(&dir)?;
    Ok(dir)
}

pub(crate) fn read_index_json(dir: &Dir) -> Result<Vec<u8>, String> {
    read_limited(dir, "index.json", MAX_INDEX_BYTES as u64, "index.json")
}

pub(crate) fn check_layout_file(dir: &Dir) -> Result<(), String> {
    let bytes = read_limited(dir, "oci-layout", OCI_LAYOUT_MAX_BYTES as u64, "oci-layout")
        .map_err(|e| format!("not an OCI image layout: {e}"))?;
    check_layout_version(&bytes)
}

/// The most an `oci-layout` file may have.
pub(crate) const OCI_LAYOUT_MAX_BYTES: usize = 64 * 1024;

/// Reads the blob a descriptor names, checked against its size and digest.
pub(crate) type BlobReader<'a> = dyn FnMut(&Descriptor) -> Result<Vec<u8>, String> + 'a;

/// The `oci-layout` file says `imageLayoutVersion` 1.0.0.
pub(crate) fn check_layout_version(bytes: &[u8]) -> Result<(), String> {
    let doc: Value = serde_json::from_slice(bytes).map_err(|_| "oci-layout: invalid JSON".to_string())?;
    match doc.get("imageLayoutVersion").and_then(Value::as_str) {
        Some("1.0.0") => Ok(()),
        Some(v) => Err(format!("oci-layout: unsupported imageLayoutVersion {:?}", shorten(v))),
        None => Err("oci-layout: no imageLayoutVersion".into()),
    }
}

/// A descriptor's digest, size and media type, checked.
pub(crate) struct Descriptor {
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    media_type: String,
    platform: Option<Value>,
}

fn descriptor(value: &Value, what: &str) -> Result<Descriptor, String> {
    let digest =
        value.get("digest").and_then(Value::as_str).ok_or_else(|| format!("{what}: descriptor has no digest"))?;
    let digest = Digest::parse(digest).map_err(|e| format!("{what}: {e}"))?;
    let size = value.get("size").and_then(Value::as_u64).ok_or_else(|| format!("{what}: descriptor has no size"))?;
    let media_type = value.get("mediaType").and_then(Value::as_str).unwrap_or_default().to_string();
    Ok(Descriptor { digest, size, media_type, platform: value.get("platform").cloned() })
}

fn follow(entry: &Value, blob: &mut BlobReader<'_>) -> Result<LayoutIndex, String> {
    let mut desc = descriptor(entry, "index.json")?;
    for _ in 0..MAX_NESTING {
        let bytes = blob(&desc)?;
        let doc: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("blob {}: invalid JSON: {e}", desc.digest))?;
        let media_type =
            doc.get("mediaType").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| desc.media_type.clone());
        let is_index = media_type == OCI_INDEX
            || media_type == DOCKER_LIST
            || (media_type.is_empty() && doc.get("manifests").is_some());
        if is_index {
            // A lone nested index with no platform of its own is a wrapper.
            let manifests = doc.get("manifests").and_then(Value::as_array).map(Vec::as_slice).unwrap_or(&[]);
            if let [only] = manifests {
                let only_mt = only.get("mediaType").and_then(Value::as_str).unwrap_or_default();
                if (only_mt == OCI_INDEX || only_mt == DOCKER_LIST) && only.get("platform").is_none() {
                    desc = descriptor(only, &format!("blob {}", desc.digest))?;
                    continue;
                }
            }
            return Ok(LayoutIndex { bytes, digest: Some(desc.digest), media_type, synthesized: false });
        }
        let is_manifest = media_type == OCI_MANIFEST
            || media_type == DOCKER_MANIFEST
            || (media_type.is_empty() && doc.get("config").is_some());
        if is_manifest {
            let platform = match desc.platform.take() {
                Some(p) => p,
                None => config_platform(&doc, &desc.digest, blob)?,
            };
            let media_type = if media_type.is_empty() { OCI_MANIFEST.to_string() } else { media_type };
            let bytes = single_entry_index(&media_type, &desc.digest, desc.size, Some(platform));
            return Ok(LayoutIndex { bytes, digest: Some(desc.digest), media_type, synthesized: true });
        }
        return Err(format!(
            "blob {} is neither an index nor an image manifest ({:?})",
            desc.digest,
            shorten(&media_type)
        ));
    }
    Err(format!("indexes nested more than {MAX_NESTING} deep"))
}

/// The platform an image's config declares (`os`, `architecture`, ...).
fn config_platform(manifest: &Value, at: &Digest, blob: &mut BlobReader<'_>) -> Result<Value, String> {
    let config = manifest.get("config").ok_or_else(|| format!("image manifest {at} has no config"))?;
    let desc = descriptor(config, &format!("image manifest {at} config"))?;
    let bytes = blob(&desc)?;
    platform_from_config(&bytes).map_err(|e| format!("config {}: {e}", desc.digest))
}

/// Build a `platform` object from an image config document.
pub fn platform_from_config(bytes: &[u8]) -> Result<Value, String> {
    let config: Value = serde_json::from_slice(bytes).map_err(|e| format!("invalid JSON: {e}"))?;
    let mut platform = Map::new();
    for key in ["os", "architecture"] {
        let v = config.get(key).and_then(Value::as_str).ok_or_else(|| format!("no {key:?}"))?;
        platform.insert(key.into(), json!(v));
    }
    for key in ["variant", "os.version"] {
        if let Some(v) = config.get(key).and_then(Value::as_str).filter(|v| !v.is_empty()) {
            platform.insert(key.into(), json!(v));
        }
    }
    if let Some(v) = config.get("os.features").and_then(Value::as_array).filter(|v| !v.is_empty()) {
        platform.insert("os.features".into(), Value::Array(v.clone()));
    }
    Ok(Value::Object(platform))
}

/// An index with one entry: how a single image manifest is reported.
pub fn single_entry_index(media_type: &str, digest: &Digest, size: u64, platform: Option<Value>) -> Vec<u8> {
    let mut entry = Map::new();
    entry.insert("mediaType".into(), json!(media_type));
    entry.insert("digest".into(), json!(digest.to_string()));
    entry.insert("size".into(), json!(size));
    if let Some(p) = platform {
        entry.insert("platform".into(), p);
    }
    let doc = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [Value::Object(entry)]});
    serde_json::to_vec_pretty(&doc).expect("a Value always serializes")
}

/// `blobs/ALG` of a digest: real directories inside DIR, not symbolic
/// links. The algorithm's name comes from a validated digest.
pub(crate) fn blob_dir(dir: &Dir, digest: &Digest) -> std::io::Result<Dir> {
    dir.subdir("blobs")?.subdir(digest.algorithm().name())
}

fn read_blob(dir: &Dir, desc: &Descriptor, max_blob: usize) -> Result<Vec<u8>, String> {
    let what = format!("blob {}", desc.digest);
    if desc.size > max_blob as u64 {
        return Err(format!("{what} is {} bytes, more than the {max_blob} bytes allowed", desc.size));
    }
    let alg = desc.digest.algorithm().name();
    let blobs = blob_dir(dir, &desc.digest).map_err(|e| problem(&format!("{what}: blobs/{alg}"), &e))?;
    let (file, size) = blobs.open_regular(desc.digest.hex()).map_err(|e| problem(&what, &e))?;
    let wrong_size = |size| format!("{what} is {size} bytes, its descriptor says {}", desc.size);
    if size != desc.size {
        return Err(wrong_size(size));
    }
    // One byte more than expected, to notice a file that grew since fstat.
    let mut bytes = Vec::new();
    file.take(desc.size + 1).read_to_end(&mut bytes).map_err(|e| format!("{what}: cannot read: {e}"))?;
    if bytes.len() as u64 != desc.size {
        return Err(wrong_size(bytes.len() as u64));
    }
    desc.digest.verify(&bytes).map_err(|e| format!("{what}: {e}"))?;
    Ok(bytes)
}

/// The regular file `name` in `dir`, refused when `fstat` says it is over
/// `max` bytes and never read past `max + 1` (it may grow while read).
pub(crate) fn read_limited(dir: &Dir, name: &str, max: u64, what: &str) -> Result<Vec<u8>, String> {
    let (file, size) = dir.open_regular(name).map_err(|e| problem(what, &e))?;
    let too_big = || format!("{what}: larger than the {max} bytes allowed");
    if size > max {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| format!("{what}: cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

/// One line for an I/O problem with `what`: missing, refused (what was
/// found instead of a regular file or directory), or the system's error.
pub(crate) fn problem(what: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("{what}: missing"),
        std::io::ErrorKind::InvalidInput => format!("{what}: {e}"),
        _ => format!("{what}: cannot read: {e}"),
    }
}
