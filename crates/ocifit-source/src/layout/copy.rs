//! Copying images into an OCI layout, and tagging an index there
//! (`ocifit index create|add … --push oci:DIR:TAG`).
//!
//! Every file is reached through the layout's directory descriptor
//! ([`crate::localfs::Dir`]: no symbolic link followed, nothing but regular
//! files opened). Blobs are streamed into a temporary file beside their
//! final place, hashed on the way; only when the digest and size are right
//! is the file flushed and renamed to `blobs/ALG/HEX` (a blob is never
//! visible half-written or wrong under its digest). Tagging stores the
//! index as a blob, then, under the layout's lock (the one `--in-place`
//! takes), rewrites `index.json` atomically: the entry whose
//! `org.opencontainers.image.ref.name` is the tag points at the new index,
//! or a new entry is appended for a new tag; every other entry and key
//! stays.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

use ocifit_core::index::OCI_INDEX;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256, Sha512};

use super::write::{LOCK_FILE, blob_dir_or_create, in_style_of, store_blob};
use super::{REF_NAME, blob_dir, choose, descriptor, open_layout, problem, read_blob, read_index_json, read_limited};
use crate::digest::{Algorithm, Digest};
use crate::localfs::Dir;
use crate::registry::copy::RawManifest;

/// How long tagging waits for an `--in-place` edit to release the layout.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// The manifest `oci:DIR[:TAG]` names (the tag's entry of `index.json`, or
/// the only entry), exactly as stored, size and digest checked; or
/// `index.json` itself when it is the list of platforms (several entries,
/// no tags), as reading a layout does; with `@DIGEST` as the tag, that blob.
pub fn manifest(path: &Path, tag: Option<&str>, max: usize) -> Result<RawManifest, String> {
    let dir = open_layout(path)?;
    // `oci:DIR@DIGEST`, the pinned form ocifit prints.
    if let Some(pinned) = tag.and_then(|t| t.strip_prefix('@')) {
        let digest = Digest::parse(pinned)?;
        let bytes = small_blob(path, &digest, max)?;
        let media_type = media_type_of(&bytes).unwrap_or_default();
        return Ok(RawManifest { bytes, digest, media_type });
    }
    let index_json = read_index_json(&dir)?;
    let top: Value = serde_json::from_slice(&index_json).map_err(|e| format!("index.json: invalid JSON: {e}"))?;
    let entries = top.get("manifests").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let Some(i) = choose(entries, tag)? else {
        let media_type = media_type_of(&index_json).unwrap_or_else(|| OCI_INDEX.to_string());
        return Ok(RawManifest { digest: Digest::sha256(&index_json), bytes: index_json, media_type });
    };
    let desc = descriptor(&entries[i], "index.json")?;
    let bytes = read_blob(&dir, &desc, max)?;
    let media_type = media_type_of(&bytes).unwrap_or(desc.media_type);
    Ok(RawManifest { bytes, digest: desc.digest, media_type })
}

/// A manifest (or config) blob by digest, size-limited and verified.
pub fn small_blob(path: &Path, digest: &Digest, max: usize) -> Result<Vec<u8>, String> {
    let what = format!("blob {digest}");
    let dir = open_layout(path)?;
    let blobs = blob_dir(&dir, digest).map_err(|e| problem(&what, &e))?;
    let bytes = read_limited(&blobs, digest.hex(), max as u64, &what)?;
    digest.verify(&bytes).map_err(|e| format!("{what}: {e}"))?;
    Ok(bytes)
}

/// The `mediaType` a manifest document declares.
pub fn media_type_of(bytes: &[u8]) -> Option<String> {
    let doc: Value = serde_json::from_slice(bytes).ok()?;
    doc.get("mediaType").and_then(Value::as_str).map(str::to_string)
}

/// Whether the layout has the blob as a regular file (of `size` bytes,
/// when given).
pub fn has_blob(path: &Path, digest: &Digest, size: Option<u64>) -> bool {
    open_blob_sized(path, digest).is_ok_and(|(_, len)| size.is_none_or(|s| s == len))
}

/// The blob as a stream.
pub fn open_blob(path: &Path, digest: &Digest) -> Result<File, String> {
    open_blob_sized(path, digest).map(|(file, _)| file)
}

fn open_blob_sized(path: &Path, digest: &Digest) -> Result<(File, u64), String> {
    let what = format!("blob {digest}");
    let dir = open_layout(path)?;
    blob_dir(&dir, digest).and_then(|b| b.open_regular(digest.hex())).map_err(|e| problem(&what, &e))
}

/// Store `size` bytes read from `from` as blob `digest`, streamed through a
/// temporary file and renamed only when digest and size are right.
pub fn put_blob(path: &Path, digest: &Digest, size: u64, from: &mut dyn Read) -> Result<(), String> {
    let dir = open_layout(path)?;
    let blobs = blob_dir_or_create(&dir, digest)?;
    let mut copy = |file: &mut File| -> io::Result<()> {
        let mut hasher = Hasher::new(digest.algorithm());
        let mut buffer = vec![0u8; 256 * 1024];
        let mut written: u64 = 0;
        let mut limited = (&mut *from).take(size + 1);
        loop {
            let n = limited.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            file.write_all(&buffer[..n])?;
            written += n as u64;
        }
        if written != size {
            let more = if written > size { " or more" } else { "" };
            return Err(io::Error::other(format!("the source sent {written} bytes{more}, the descriptor says {size}")));
        }
        let actual = hasher.finish();
        if actual != *digest {
            return Err(io::Error::other(format!("the source's content has digest {actual}")));
        }
        Ok(())
    };
    blobs.replace_with(digest.hex(), false, &mut copy, &mut || Ok(())).map_err(|e| format!("blob {digest}: {e}"))
}

/// Store a small blob (a manifest) unless an intact copy is there.
pub fn put_small_blob(path: &Path, digest: &Digest, bytes: &[u8]) -> Result<(), String> {
    store_blob(&open_layout(path)?, digest, bytes)
}

/// Create an empty layout at `path` unless one is there: `oci-layout` and
/// an `index.json` that lists nothing.
pub fn init(path: &Path) -> Result<(), String> {
    if path.join("oci-layout").exists() {
        return open_layout(path).map(drop);
    }
    std::fs::create_dir_all(path).map_err(|e| format!("cannot create the directory: {e}"))?;
    let dir = Dir::open(path).map_err(|e| format!("cannot open the directory: {e}"))?;
    if !path.join("index.json").exists() {
        let empty = serde_json::to_vec_pretty(&json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}))
            .expect("a Value always serializes");
        dir.replace("index.json", &empty, false, &mut || Ok(()))
            .map_err(|e| format!("index.json: cannot write: {e}"))?;
    }
    dir.replace("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#, false, &mut || Ok(()))
        .map_err(|e| format!("oci-layout: cannot write: {e}"))
}

/// Store `bytes` (an index of `media_type`) as a blob and make `tag` name
/// it in `index.json`: the tag's entry gets the new digest, size and media
/// type, or a new entry is appended. Returns the index's digest.
pub fn tag_index(path: &Path, tag: &str, bytes: &[u8], media_type: &str) -> Result<Digest, String> {
    let dir = open_layout(path)?;
    let _lock = dir.lock(LOCK_FILE, LOCK_WAIT).map_err(|e| format!("{LOCK_FILE}: cannot lock: {e}"))?;
    let digest = Digest::sha256(bytes);
    store_blob(&dir, &digest, bytes)?;
    let current = read_index_json(&dir)?;
    let mut top: Value = serde_json::from_slice(&current).map_err(|e| format!("index.json: invalid JSON: {e}"))?;
    let entries = top
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| "index.json: not an index: no \"manifests\" array".to_string())?;
    let names_tag = |e: &Value| e.get("annotations").and_then(|a| a.get(REF_NAME)).and_then(Value::as_str) == Some(tag);
    let entry = match entries.iter().position(names_tag) {
        Some(i) => entries[i].as_object_mut().ok_or("index.json: an entry is not an object")?,
        None => {
            let mut new = Map::new();
            new.insert("mediaType".into(), json!(media_type));
            entries.push(Value::Object(new));
            entries.last_mut().and_then(Value::as_object_mut).expect("just pushed")
        }
    };
    entry.insert("mediaType".into(), json!(media_type));
    entry.insert("digest".into(), json!(digest.to_string()));
    entry.insert("size".into(), json!(bytes.len()));
    if !entry.contains_key("annotations") {
        entry.insert("annotations".into(), json!({REF_NAME: tag}));
    }
    dir.replace("index.json", &in_style_of(&current, &top), true, &mut || Ok(()))
        .map_err(|e| format!("index.json: cannot write: {e}"))?;
    Ok(digest)
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
    use std::fs;

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
        assert_eq!(fs::read(d.join("blobs/sha256").join(digest.hex())).unwrap(), bytes);
        assert!(has_blob(&d, &digest, Some(11)) && !has_blob(&d, &digest, Some(12)));
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
        let top: Value = serde_json::from_slice(&fs::read(d.join("index.json")).unwrap()).unwrap();
        let entries = top["manifests"].as_array().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["digest"], json!(d2.to_string()));
        assert_eq!(entries[0]["annotations"], json!({REF_NAME: "1.0"}));
        assert_eq!(entries[1]["digest"], json!(Digest::sha256(first).to_string()));
        assert_eq!(manifest(&d, Some("1.0"), 1 << 20).unwrap().bytes, second);
        // Untagged entries: index.json itself is the list of platforms.
        let list = br#"{"schemaVersion":2,"manifests":[{"digest":"a"},{"digest":"b"}]}"#;
        fs::write(d.join("index.json"), list).unwrap();
        let top = manifest(&d, None, 1 << 20).unwrap();
        assert_eq!((top.bytes.as_slice(), top.media_type.as_str()), (&list[..], OCI_INDEX));
        fs::remove_dir_all(&d).unwrap();
    }
}
