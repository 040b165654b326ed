//! Copying images into an OCI layout, and tagging an index there
//! (`ocifit index create|add … --push oci:DIR:TAG`).
//!
//! Blobs are streamed into a temporary file beside their final place,
//! hashed on the way; only when the digest and size are right is the file
//! flushed and renamed to `blobs/ALG/HEX` (a blob is never visible
//! half-written or wrong under its digest). Tagging stores the index as a
//! blob, then rewrites `index.json` atomically (as `--in-place` does):
//! the entry whose `org.opencontainers.image.ref.name` is the tag points
//! at the new index, or a new entry is appended for a new tag; every other
//! entry and key stays.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::Path;

use ocifit_core::index::{MAX_INDEX_BYTES, OCI_INDEX};
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256, Sha512};

use super::write::{in_style_of, replace_file, store_blob};
use super::{REF_NAME, blob_path, check_layout_file, choose, descriptor, read_limited};
use crate::digest::{Algorithm, Digest};

/// A manifest as stored in a layout: exact bytes, digest, media type.
#[derive(Debug, Clone)]
pub struct LayoutManifest {
    pub bytes: Vec<u8>,
    pub digest: Digest,
    pub media_type: String,
}

/// The manifest `oci:DIR[:TAG]` names (the tag's entry of `index.json`, or
/// the only entry), or the one with `digest`, exactly as stored.
pub fn manifest(dir: &Path, tag: Option<&str>, max: usize) -> Result<LayoutManifest, String> {
    check_layout_file(dir)?;
    let top = read_top(dir)?;
    let entries = top.get("manifests").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let i = choose(entries, tag)?.ok_or("index.json lists several images and no tags: name one with oci:DIR:TAG")?;
    let desc = descriptor(&entries[i], "index.json")?;
    let bytes = read_limited(&blob_path(dir, &desc.digest), max, Some(&desc.digest))?;
    desc.digest.verify(&bytes).map_err(|e| format!("blob {}: {e}", desc.digest))?;
    let media_type = media_type_of(&bytes).unwrap_or(desc.media_type);
    Ok(LayoutManifest { bytes, digest: desc.digest, media_type })
}

/// A manifest (or config) blob by digest, size-limited and verified.
pub fn small_blob(dir: &Path, digest: &Digest, max: usize) -> Result<Vec<u8>, String> {
    let bytes = read_limited(&blob_path(dir, digest), max, Some(digest))?;
    digest.verify(&bytes).map_err(|e| format!("blob {digest}: {e}"))?;
    Ok(bytes)
}

/// The `mediaType` a manifest document declares.
pub fn media_type_of(bytes: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(bytes).ok()?;
    doc.get("mediaType").and_then(Value::as_str).map(str::to_string)
}

/// Whether the layout has a file for the blob (of `size` bytes, when given).
pub fn has_blob(dir: &Path, digest: &Digest, size: Option<u64>) -> bool {
    fs::metadata(blob_path(dir, digest)).is_ok_and(|m| m.is_file() && size.is_none_or(|s| m.len() == s))
}

/// The blob as a stream.
pub fn open_blob(dir: &Path, digest: &Digest) -> Result<File, String> {
    File::open(blob_path(dir, digest)).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!("blob {digest}: missing"),
        _ => format!("blob {digest}: cannot read: {e}"),
    })
}

/// Store `size` bytes read from `from` as blob `digest`, streamed through a
/// temporary file and renamed only when digest and size are right.
pub fn put_blob(dir: &Path, digest: &Digest, size: u64, from: &mut dyn Read) -> Result<(), String> {
    let path = blob_path(dir, digest);
    let parent = path.parent().expect("a blob path has a directory");
    fs::create_dir_all(parent).map_err(|e| format!("{}: cannot create: {e}", parent.display()))?;
    let temp = parent.join(format!(".{}.ocifit-{}.tmp", digest.hex(), std::process::id()));
    let result = (|| {
        let mut file =
            OpenOptions::new().write(true).create_new(true).open(&temp).map_err(|e| format!("cannot write: {e}"))?;
        let mut hasher = Hasher::new(digest.algorithm());
        let mut buffer = vec![0u8; 256 * 1024];
        let mut written: u64 = 0;
        let mut limited = from.take(size + 1);
        loop {
            let n = limited.read(&mut buffer).map_err(|e| format!("reading the source: {e}"))?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n]).map_err(|e| format!("cannot write: {e}"))?;
            written += n as u64;
        }
        if written != size {
            return Err(format!(
                "the source sent {written} bytes{}, the descriptor says {size}",
                if written > size { " or more" } else { "" }
            ));
        }
        let actual = hasher.finish();
        if actual != *digest {
            return Err(format!("the source's content has digest {actual}"));
        }
        file.sync_all().map_err(|e| format!("cannot write: {e}"))?;
        drop(file);
        fs::rename(&temp, &path).map_err(|e| format!("cannot write: {e}"))?;
        File::open(parent).and_then(|d| d.sync_all()).map_err(|e| format!("cannot write: {e}"))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(|e| format!("blob {digest}: {e}"))
}

/// Store a small blob (a manifest) unless an intact copy is there.
pub fn put_small_blob(dir: &Path, digest: &Digest, bytes: &[u8]) -> Result<(), String> {
    store_blob(dir, digest, bytes).map_err(|e| format!("blob {digest}: cannot write: {e}"))
}

/// Create an empty layout in `dir` unless one is there: `oci-layout` and an
/// `index.json` that lists nothing.
pub fn init(dir: &Path) -> Result<(), String> {
    if dir.join("oci-layout").exists() {
        return check_layout_file(dir);
    }
    fs::create_dir_all(dir.join("blobs")).map_err(|e| format!("{}: cannot create: {e}", dir.display()))?;
    if !dir.join("index.json").exists() {
        let empty = serde_json::to_vec_pretty(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
            .expect("a Value always serializes");
        replace_file(dir, "index.json", &empty, &mut || Ok(()))
            .map_err(|e| format!("index.json: cannot write: {e}"))?;
    }
    replace_file(dir, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, &mut || Ok(()))
        .map_err(|e| format!("oci-layout: cannot write: {e}"))
}

/// Store `bytes` (an index of `media_type`) as a blob and make `tag` name
/// it in `index.json`: the tag's entry gets the new digest, size and media
/// type, or a new entry is appended. Returns the index's digest.
pub fn tag_index(dir: &Path, tag: &str, bytes: &[u8], media_type: &str) -> Result<Digest, String> {
    check_layout_file(dir)?;
    let digest = Digest::sha256(bytes);
    put_small_blob(dir, &digest, bytes)?;
    let current = read_limited(&dir.join("index.json"), MAX_INDEX_BYTES, None)?;
    let mut top: Value = serde_json::from_slice(&current).map_err(|e| format!("index.json: invalid JSON: {e}"))?;
    let entries = top
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| "index.json: not an index: no \"manifests\" array".to_string())?;
    let tagged = entries.iter().position(|e| {
        e.pointer(&format!("/annotations/{}", REF_NAME.replace('/', "~1"))).and_then(Value::as_str) == Some(tag)
    });
    match tagged {
        Some(i) => {
            let entry = entries[i].as_object_mut().ok_or("index.json: an entry is not an object")?;
            entry.insert("mediaType".into(), json!(media_type));
            entry.insert("digest".into(), json!(digest.to_string()));
            entry.insert("size".into(), json!(bytes.len()));
        }
        None => {
            let mut entry = Map::new();
            entry.insert("mediaType".into(), json!(media_type));
            entry.insert("digest".into(), json!(digest.to_string()));
            entry.insert("size".into(), json!(bytes.len()));
            entry.insert("annotations".into(), json!({REF_NAME: tag}));
            entries.push(Value::Object(entry));
        }
    }
    let text = in_style_of(&current, &top);
    replace_file(dir, "index.json", &text, &mut || Ok(())).map_err(|e| format!("index.json: cannot write: {e}"))?;
    Ok(digest)
}

fn read_top(dir: &Path) -> Result<Value, String> {
    let bytes = read_limited(&dir.join("index.json"), MAX_INDEX_BYTES, None)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("index.json: invalid JSON: {e}"))
}

/// A running digest of streamed bytes.
enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(Sha512::new()),
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512(h) => h.update(bytes),
        }
    }

    fn finish(self) -> Digest {
        let (name, bytes) = match self {
            Hasher::Sha256(h) => ("sha256", h.finalize().to_vec()),
            Hasher::Sha512(h) => ("sha512", h.finalize().to_vec()),
        };
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Digest::parse(&format!("{name}:{hex}")).expect("a hash is a valid digest")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("ocifit-layout-copy-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn put_blob_checks_digest_and_size_before_the_blob_appears() {
        let d = dir("put");
        init(&d).unwrap();
        let bytes = b"layer bytes".to_vec();
        let digest = Digest::sha256(&bytes);
        let wrong = Digest::sha256(b"other");
        let e = put_blob(&d, &wrong, bytes.len() as u64, &mut bytes.as_slice()).unwrap_err();
        assert!(e.contains("has digest") && e.contains(&digest.to_string()), "{e}");
        let e = put_blob(&d, &digest, bytes.len() as u64 + 3, &mut bytes.as_slice()).unwrap_err();
        assert!(e.contains("sent 11 bytes"), "{e}");
        assert!(!has_blob(&d, &wrong, None) && !has_blob(&d, &digest, None));
        put_blob(&d, &digest, bytes.len() as u64, &mut bytes.as_slice()).unwrap();
        assert_eq!(fs::read(blob_path(&d, &digest)).unwrap(), bytes);
        // No temporary file is left behind.
        assert_eq!(fs::read_dir(d.join("blobs/sha256")).unwrap().count(), 1);
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn tag_index_replaces_or_appends_the_tag() {
        let d = dir("tag");
        init(&d).unwrap();
        let first = br#"{"schemaVersion":2,"manifests":[]}"#;
        let second = br#"{"schemaVersion":2,"manifests":[],"annotations":{"a":"b"}}"#;
        tag_index(&d, "1.0", first, OCI_INDEX).unwrap();
        tag_index(&d, "2.0", first, OCI_INDEX).unwrap();
        let d2 = tag_index(&d, "1.0", second, OCI_INDEX).unwrap();
        let top = read_top(&d).unwrap();
        let entries = top["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["digest"], json!(d2.to_string()));
        assert_eq!(entries[1]["digest"], json!(Digest::sha256(first).to_string()));
        assert_eq!(manifest(&d, Some("1.0"), 1 << 20).unwrap().bytes, second);
        fs::remove_dir_all(&d).unwrap();
    }
}
