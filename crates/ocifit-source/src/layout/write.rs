//! Writing an edited index back into an OCI image layout
//! (`ocifit index … oci:DIR[:TAG] --in-place`).
//!
//! 0. [`LayoutLock::acquire`] takes an exclusive `flock` on `DIR/.ocifit.lock`
//!    before the index to edit is read, and reads `index.json`; the lock is
//!    held until the new `index.json` is in place, so two ocifit edits of
//!    one layout never interleave: the second reads what the first wrote.
//! 1. [`write_index`] re-reads `index.json`: if it is not byte for byte what
//!    was read under the lock, another program wrote the layout, and nothing
//!    is written.
//! 2. The new index is stored as the blob `blobs/sha256/HEX` (an intact
//!    regular file already there is kept; anything else there is replaced,
//!    never opened as more than a regular file of the expected size).
//! 3. `index.json` is rewritten: every entry and key stays as it was except
//!    the `digest` and `size` of the entry the edited index was read through
//!    (the tag's entry), and it keeps its formatting style (compact stays
//!    compact), its owner and its mode. The rename is the commit point:
//!    until then the layout is the old one, complete and valid; after it,
//!    the new one.
//!
//! Files are written by [`Dir::replace`] (temporary file, `fsync`, rename,
//! directory `fsync`), inside DIR only: `blobs/` and `blobs/sha256/` must be
//! real directories, not symbolic links.
//!
//! The old index blob stays (other tags, or other layouts sharing blobs,
//! may still name it). Only indexes that `index.json` names directly, or
//! `index.json` itself when it is the list of platforms, are written: an
//! index nested inside another would need the whole chain rewritten.

use std::fs::File;
use std::io::{ErrorKind, Read};
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use serde_json::Value;

use super::{choose, open_layout, read_index_json};
use crate::digest::Digest;
use crate::localfs::Dir;

/// The lock file every `--in-place` edit of a layout holds (`flock`).
pub const LOCK_FILE: &str = ".ocifit.lock";

/// How long an edit waits for another one to release the lock.
const LOCK_WAIT: Duration = Duration::from_secs(30);

/// A layout locked for an edit, with `index.json` as it was read under the
/// lock. Dropping it releases the lock.
#[derive(Debug)]
pub struct LayoutLock {
    dir: Dir,
    index_json: Vec<u8>,
    /// The locked file; or, in a layout where nothing can be written (a
    /// read-only file system, an immutable directory), why there is no
    /// lock: an edit that changes nothing still succeeds there, and one
    /// that would write fails with this reason.
    lock: Result<File, String>,
}

impl LayoutLock {
    /// Lock `oci:DIR` for an edit (waiting up to 30 s for another edit) and
    /// read its `index.json`. Take it before reading the index to edit.
    pub fn acquire(path: &Path) -> Result<LayoutLock, String> {
        let dir = open_layout(path)?;
        let lock = match dir.lock(LOCK_FILE, LOCK_WAIT) {
            Ok(file) => Ok(file),
            // Nothing may be written here.
            Err(e) if matches!(Errno::from_io_error(&e), Some(Errno::ROFS | Errno::ACCESS | Errno::PERM)) => {
                Err(format!("{LOCK_FILE}: cannot lock: {e}"))
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::WouldBlock) => {
                return Err(format!("{LOCK_FILE}: {e}"));
            }
            Err(e) => return Err(format!("{LOCK_FILE}: cannot lock: {e}")),
        };
        let index_json = read_index_json(&dir)?;
        Ok(LayoutLock { dir, index_json, lock })
    }
}

/// Store `bytes` as the new index of `oci:DIR[:TAG]`, locked by `lock`.
/// `old` is the digest of the index that was read and edited (`None` when
/// it was `index.json` itself); if `index.json` changed since the lock was
/// taken, or no longer leads there, nothing is written. Returns the new
/// index's digest (`None` when `index.json` itself was rewritten).
pub fn write_index(
    lock: &LayoutLock,
    tag: Option<&str>,
    old: Option<&Digest>,
    bytes: &[u8],
) -> Result<Option<Digest>, String> {
    write_index_with(lock, tag, old, bytes, &mut || Ok(()))
}

/// [`write_index`] with a step run just before `index.json` is replaced
/// (after the blob is stored): tests make it fail, as a crash would.
fn write_index_with(
    lock: &LayoutLock,
    tag: Option<&str>,
    old: Option<&Digest>,
    bytes: &[u8],
    before_commit: &mut dyn FnMut() -> std::io::Result<()>,
) -> Result<Option<Digest>, String> {
    let dir = &lock.dir;
    if let Err(why) = &lock.lock {
        return Err(why.clone());
    }
    let changed = || {
        "index.json changed since the index was read (another program wrote the layout); nothing was written"
            .to_string()
    };
    let current = read_index_json(dir)?;
    if current != lock.index_json {
        return Err(changed());
    }
    let mut top: Value = serde_json::from_slice(&current).map_err(|e| format!("index.json: invalid JSON: {e}"))?;
    let entries = top
        .get_mut("manifests")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| "index.json: not an index: no \"manifests\" array".to_string())?;
    let chosen = choose(entries, tag)?;
    let write_index_json = |text: &[u8], before_commit: &mut dyn FnMut() -> std::io::Result<()>| {
        dir.replace("index.json", text, true, before_commit).map_err(|e| format!("index.json: cannot write: {e}"))
    };
    let Some(i) = chosen else {
        // index.json is the list of platforms: it is what was edited.
        if old.is_some() {
            return Err(changed());
        }
        write_index_json(bytes, before_commit)?;
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
    store_blob(dir, &digest, bytes)?;
    if let Some(obj) = entry.as_object_mut() {
        obj.insert("digest".into(), digest.to_string().into());
        obj.insert("size".into(), bytes.len().into());
    }
    write_index_json(&in_style_of(&current, &top), before_commit)?;
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

/// A blob under its digest, in `blobs/ALG/` (created when missing; refused
/// when a symbolic link). What is already at its name is kept only when it
/// is a regular file of the blob's size whose content has the digest; it
/// is read only then, and only that far. Anything else there (another
/// file, a symbolic link, a FIFO) is replaced, with a new file's mode.
pub(super) fn store_blob(dir: &Dir, digest: &Digest, bytes: &[u8]) -> Result<(), String> {
    let what = format!("blob {digest}");
    let alg = digest.algorithm().name();
    let blobs = dir.subdir_or_create("blobs").and_then(|b| b.subdir_or_create(alg)).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidInput => format!("{what}: blobs/{alg} {e}"),
        _ => format!("{what}: cannot write blobs/{alg}: {e}"),
    })?;
    if let Ok((file, size)) = blobs.open_regular(digest.hex())
        && size == bytes.len() as u64
    {
        let mut existing = Vec::with_capacity(bytes.len());
        if file.take(size).read_to_end(&mut existing).is_ok() && digest.matches(&existing) {
            return Ok(());
        }
    }
    blobs.replace(digest.hex(), bytes, false, &mut || Ok(())).map_err(|e| format!("{what}: cannot write: {e}"))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use serde_json::json;

    use super::*;
    use crate::layout::read;

    fn blob_path(dir: &Path, digest: &Digest) -> std::path::PathBuf {
        dir.join("blobs").join(digest.algorithm().name()).join(digest.hex())
    }

    fn locked(dir: &Path) -> LayoutLock {
        LayoutLock::acquire(dir).unwrap()
    }

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
        let d = write_index(&locked(&dir), Some("a"), Some(&da), &new).unwrap().unwrap();
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
        let err = write_index_with(&locked(&dir), Some("a"), Some(&da), &new, &mut || {
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
        let lock = locked(&dir);
        let err = write_index(&lock, Some("a"), Some(&stale), &platform_index(5)).unwrap_err();
        assert!(err.contains("nothing was written"), "{err}");
        let err = write_index(&lock, Some("nope"), Some(&stale), &platform_index(5)).unwrap_err();
        assert!(err.contains("no tag \"nope\""), "{err}");
        assert_eq!(fs::read(dir.join("index.json")).unwrap(), before);
        assert!(!blob_path(&dir, &Digest::sha256(&platform_index(5))).exists());
        let _ = fs::remove_dir_all(&dir);
    }

    /// Another program (not ocifit: it takes no lock) rewrites index.json
    /// after the lock was taken, even to a state where the tag still names
    /// the edited index: nothing is written.
    #[test]
    fn refuses_when_another_program_rewrote_index_json_under_the_lock() {
        let (dir, da, _) = two_tags("rewritten");
        let lock = locked(&dir);
        let text = fs::read_to_string(dir.join("index.json")).unwrap();
        let other = text.replace(r#""annotations":{"k":"v"}"#, r#""annotations":{"k":"changed"}"#);
        assert_ne!(text, other);
        fs::write(dir.join("index.json"), &other).unwrap();
        let err = write_index(&lock, Some("a"), Some(&da), &platform_index(6)).unwrap_err();
        assert!(err.contains("changed since the index was read"), "{err}");
        assert_eq!(fs::read_to_string(dir.join("index.json")).unwrap(), other);
        assert!(!blob_path(&dir, &Digest::sha256(&platform_index(6))).exists());
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
        assert_eq!(write_index(&locked(&dir), None, None, new).unwrap(), None);
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
