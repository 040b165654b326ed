//! Writing an edited index back into an OCI image layout
//! (`ocifit index … oci:DIR[:TAG] --in-place`).
//!
//! 1. The new index is stored as the blob `blobs/sha256/HEX` (written to a
//!    temporary file in the same directory, flushed with `fsync`, then
//!    renamed: a blob is never seen half-written under its digest).
//! 2. `index.json` is rewritten the same way: every entry and key stays as
//!    it was except the `digest` and `size` of the entry the edited index
//!    was read through (the tag's entry), and it keeps its formatting style
//!    (compact stays compact). The rename is the commit point: until then
//!    the layout is the old one, complete and valid; after it, the new one.
//!    The directory is flushed after each rename.
//!
//! The old index blob stays (other tags, or other layouts sharing blobs,
//! may still name it). Only indexes that `index.json` names directly, or
//! `index.json` itself when it is the list of platforms, are written: an
//! index nested inside another would need the whole chain rewritten.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

use ocifit_core::index::MAX_INDEX_BYTES;
use serde_json::Value;

use super::{blob_path, check_layout_file, choose, read_limited};
use crate::digest::Digest;

/// Store `bytes` as the new index of `oci:DIR[:TAG]`. `old` is the digest
/// of the index that was read and edited (`None` when it was `index.json`
/// itself); if `index.json` no longer leads there, nothing is written.
/// Returns the new index's digest (`None` when `index.json` itself was
/// rewritten).
pub fn write_index(
    dir: &Path,
    tag: Option<&str>,
    old: Option<&Digest>,
    bytes: &[u8],
) -> Result<Option<Digest>, String> {
    write_index_with(dir, tag, old, bytes, &mut || Ok(()))
}

/// [`write_index`] with a step run just before `index.json` is replaced
/// (after the blob is stored): tests make it fail, as a crash would.
fn write_index_with(
    dir: &Path,
    tag: Option<&str>,
    old: Option<&Digest>,
    bytes: &[u8],
    before_commit: &mut dyn FnMut() -> std::io::Result<()>,
) -> Result<Option<Digest>, String> {
    check_layout_file(dir)?;
    let index_path = dir.join("index.json");
    let current = read_limited(&index_path, MAX_INDEX_BYTES, None)?;
    let mut top: Value = serde_json::from_slice(&current).map_err(|e| format!("index.json: invalid JSON: {e}"))?;
    let entries = top
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| "index.json: not an index: no \"manifests\" array".to_string())?;
    let chosen = choose(entries, tag)?;
    let changed = || {
        "index.json changed since the index was read (another program wrote the layout); nothing was written"
            .to_string()
    };
    let Some(i) = chosen else {
        // index.json is the list of platforms: it is what was edited.
        if old.is_some() {
            return Err(changed());
        }
        replace_file(dir, "index.json", bytes, before_commit).map_err(|e| format!("index.json: cannot write: {e}"))?;
        return Ok(None);
    };
    let entry = &mut entries[i];
    let listed = entry.get("digest").and_then(Value::as_str).unwrap_or_default();
    match old {
        Some(old) if listed == old.to_string() => {}
        Some(old) => {
            return Err(format!(
                "index.json names {listed}, not the edited index {old}: the index is nested inside another \
                 one (--in-place writes only indexes index.json names directly), or {}",
                changed()
            ));
        }
        None => return Err(changed()),
    }
    let digest = Digest::sha256(bytes);
    store_blob(dir, &digest, bytes).map_err(|e| format!("blob {digest}: cannot write: {e}"))?;
    if let Some(obj) = entry.as_object_mut() {
        obj.insert("digest".into(), digest.to_string().into());
        obj.insert("size".into(), bytes.len().into());
    }
    let text = in_style_of(&current, &top);
    replace_file(dir, "index.json", &text, before_commit).map_err(|e| format!("index.json: cannot write: {e}"))?;
    Ok(Some(digest))
}

/// `value` serialized like `original`: pretty (2 spaces) when the original
/// spans lines, compact otherwise; a final newline when it had one.
pub(super) fn in_style_of(original: &[u8], value: &Value) -> Vec<u8> {
    let body = original.strip_suffix(b"\n").unwrap_or(original);
    let mut out = if body.contains(&b'\n') {
        serde_json::to_vec_pretty(value).expect("a Value always serializes")
    } else {
        serde_json::to_vec(value).expect("a Value always serializes")
    };
    if original.ends_with(b"\n") {
        out.push(b'\n');
    }
    out
}

/// A blob under its digest, unless an intact copy is already there.
pub(super) fn store_blob(dir: &Path, digest: &Digest, bytes: &[u8]) -> std::io::Result<()> {
    let path = blob_path(dir, digest);
    if fs::read(&path).is_ok_and(|b| digest.matches(&b)) {
        return Ok(());
    }
    let parent = path.parent().expect("a blob path has a directory");
    fs::create_dir_all(parent)?;
    replace_file(parent, digest.hex(), bytes, &mut || Ok(()))
}

/// Replace `dir/name` atomically: a temporary file in `dir`, written and
/// flushed, `before_commit`, rename, then the directory flushed. On any
/// failure the temporary file is removed and `dir/name` is untouched.
pub(super) fn replace_file(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    before_commit: &mut dyn FnMut() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let target = dir.join(name);
    let temp = dir.join(format!(".{name}.ocifit-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        if let Ok(meta) = fs::metadata(&target) {
            file.set_permissions(meta.permissions())?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        before_commit()?;
        fs::rename(&temp, &target)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::layout::read;

    const INDEX: &str = "application/vnd.oci.image.index.v1+json";

    fn layout(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ocifit-layout-write-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        dir
    }

    fn blob(dir: &Path, bytes: &[u8]) -> Digest {
        let d = Digest::sha256(bytes);
        fs::write(dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        d
    }

    fn platform_index(n: u8) -> Vec<u8> {
        serde_json::to_vec(&json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
             "digest": format!("sha256:{}", format!("{n:02x}").repeat(32)),
             "platform": {"os": "linux", "architecture": "amd64"}}]}))
        .unwrap()
    }

    /// Two tags, `a` and `b`, plus an untagged entry with an unknown key.
    fn two_tags(name: &str) -> (std::path::PathBuf, Digest, Vec<u8>) {
        let dir = layout(name);
        let a = platform_index(1);
        let da = blob(&dir, &a);
        let db = blob(&dir, &platform_index(2));
        let index_json = format!(
            r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"{INDEX}","digest":"{da}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"a","z":"1"}}}},{{"mediaType":"{INDEX}","digest":"{db}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"b"}}}},{{"x-unknown":true,"mediaType":"{INDEX}","digest":"{db}","size":{}}}],"annotations":{{"k":"v"}}}}"#,
            a.len(),
            platform_index(2).len(),
            platform_index(2).len()
        );
        fs::write(dir.join("index.json"), index_json).unwrap();
        (dir, da, a)
    }

    #[test]
    fn replaces_only_the_tags_descriptor() {
        let (dir, da, _) = two_tags("replace");
        let before: Value = serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
        let new = platform_index(3);
        let d = write_index(&dir, Some("a"), Some(&da), &new).unwrap().unwrap();
        assert_eq!(d, Digest::sha256(&new));
        let text = fs::read(dir.join("index.json")).unwrap();
        assert!(!text.contains(&b'\n'), "compact stays compact");
        let after: Value = serde_json::from_slice(&text).unwrap();
        let mut want = before.clone();
        want["manifests"][0]["digest"] = json!(d.to_string());
        want["manifests"][0]["size"] = json!(new.len());
        assert_eq!(serde_json::to_string(&after).unwrap(), serde_json::to_string(&want).unwrap());
        assert_eq!(read(&dir, Some("a"), 1 << 20).unwrap().bytes, new);
        assert_eq!(read(&dir, Some("b"), 1 << 20).unwrap().bytes, platform_index(2));
        // The old blob stays; no temporary file is left.
        assert!(blob_path(&dir, &da).exists());
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failure_before_the_rename_leaves_the_old_layout() {
        let (dir, da, a) = two_tags("interrupted");
        let before = fs::read(dir.join("index.json")).unwrap();
        let new = platform_index(4);
        let err = write_index_with(&dir, Some("a"), Some(&da), &new, &mut || {
            Err(std::io::Error::other("simulated crash before the rename"))
        })
        .unwrap_err();
        assert!(err.contains("simulated crash"), "{err}");
        assert_eq!(fs::read(dir.join("index.json")).unwrap(), before);
        assert_eq!(read(&dir, Some("a"), 1 << 20).unwrap().bytes, a);
        // The new blob may stay (unreferenced, harmless); the temporary index.json does not.
        assert!(blob_path(&dir, &Digest::sha256(&new)).exists());
        assert!(fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp")));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn refuses_when_index_json_moved_on() {
        let (dir, _, _) = two_tags("moved");
        let before = fs::read(dir.join("index.json")).unwrap();
        let stale = Digest::sha256(b"something else");
        let err = write_index(&dir, Some("a"), Some(&stale), &platform_index(5)).unwrap_err();
        assert!(err.contains("nothing was written"), "{err}");
        let err = write_index(&dir, Some("nope"), Some(&stale), &platform_index(5)).unwrap_err();
        assert!(err.contains("no tag \"nope\""), "{err}");
        assert_eq!(fs::read(dir.join("index.json")).unwrap(), before);
        assert!(!blob_path(&dir, &Digest::sha256(&platform_index(5))).exists());
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn index_json_as_the_platform_list_is_rewritten_whole() {
        let dir = layout("top");
        let doc = json!({"schemaVersion": 2, "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": format!("sha256:{}", "1".repeat(64)), "platform": {"os": "linux", "architecture": "amd64"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": format!("sha256:{}", "2".repeat(64)), "platform": {"os": "linux", "architecture": "arm64"}}]});
        fs::write(dir.join("index.json"), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        let new = b"{\"schemaVersion\":2,\"manifests\":[]}\n";
        assert_eq!(write_index(&dir, None, None, new).unwrap(), None);
        assert_eq!(fs::read(dir.join("index.json")).unwrap(), new);
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn style_follows_the_original() {
        let v = json!({"a": [1]});
        assert_eq!(in_style_of(b"{\"x\":1}", &v), b"{\"a\":[1]}");
        assert_eq!(in_style_of(b"{\"x\":1}\n", &v), b"{\"a\":[1]}\n");
        assert_eq!(in_style_of(b"{\n  \"x\": 1\n}\n", &v), b"{\n  \"a\": [\n    1\n  ]\n}\n");
    }
}
