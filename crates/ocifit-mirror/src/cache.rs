//! Rewritten indexes on disk, so `GET /v2/<name>/manifests/<rewritten
//! digest>` keeps working across restarts.
//!
//! Layout: `DIR/<key>/<hex>.json`, where `key` is a hash of the upstream
//! and repository (one directory per upstream repository, no user text in
//! paths) and `hex` the rewritten index's sha256. The file holds exactly
//! the served bytes; its source index is the annotation inside it. Writes
//! are atomic (`ocifit_source::localfs::replace_file`). Access time is the
//! file's modification time (touched on every serve): when the directory is
//! over its size bound, the least recently used files that no tag points at
//! are removed first.
//!
//! The mirror owns the directory: what it holds is listed once, at start,
//! and kept in memory, so a manifest requested by a digest that is no
//! rewrite (most of them) costs no disk access.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::SystemTime;

use crate::rewrite::sha256;

pub struct Cache {
    dir: PathBuf,
    max_bytes: u64,
    /// The files stored, with their lengths.
    stored: Mutex<HashMap<PathBuf, u64>>,
}

impl Cache {
    /// Open (create) `dir`; temporary files a crash left behind are removed.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Cache, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("--cache-dir {}: {e}", dir.display()))?;
        restrict(dir);
        let mut stored = HashMap::new();
        for (path, _, len) in files(dir) {
            if path.extension().is_some_and(|e| e == "tmp") {
                let _ = std::fs::remove_file(&path);
            } else {
                stored.insert(path, len);
            }
        }
        Ok(Cache { dir: dir.to_path_buf(), max_bytes, stored: Mutex::new(stored) })
    }

    fn stored(&self) -> MutexGuard<'_, HashMap<PathBuf, u64>> {
        self.stored.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a rewrite with this digest is stored (no disk access).
    pub fn has(&self, upstream: &str, repository: &str, digest: &str) -> bool {
        self.path(upstream, repository, digest).is_some_and(|path| self.stored().contains_key(&path))
    }

    /// The file of a rewrite; `None` for a digest that is not a sha256.
    pub fn path(&self, upstream: &str, repository: &str, digest: &str) -> Option<PathBuf> {
        let hex = ocifit_source::Digest::parse(digest).ok().filter(|d| d.to_string().starts_with("sha256:"))?;
        let key = sha256(format!("{upstream}\n{repository}").as_bytes());
        Some(self.dir.join(&key["sha256:".len().."sha256:".len() + 32]).join(format!("{}.json", hex.hex())))
    }

    /// Store `bytes` (whose sha256 is `digest`), then evict down to the
    /// size bound, sparing the rewrites in `in_use`.
    pub fn store(&self, upstream: &str, repository: &str, digest: &str, bytes: &[u8], in_use: &HashSet<String>) {
        let Some(path) = self.path(upstream, repository, digest) else { return };
        if self.stored().contains_key(&path) {
            touch(&path);
            return;
        }
        let parent = path.parent().expect("a cache file has a directory");
        let written = std::fs::create_dir_all(parent).and_then(|()| ocifit_source::localfs::replace_file(&path, bytes));
        match written {
            Ok(()) => {
                self.stored().insert(path, bytes.len() as u64);
                self.evict(in_use);
            }
            Err(e) => eprintln!("ocifit mirror: cannot store a rewritten index in {}: {e}", self.dir.display()),
        }
    }

    /// The stored bytes of a rewrite, only when they still hash to `digest`.
    pub fn load(&self, upstream: &str, repository: &str, digest: &str) -> Option<Vec<u8>> {
        let path = self.path(upstream, repository, digest).filter(|p| self.stored().contains_key(p))?;
        match std::fs::read(&path) {
            Ok(bytes) if sha256(&bytes) == digest => {
                touch(&path);
                Some(bytes)
            }
            read => {
                if read.is_ok() {
                    let _ = std::fs::remove_file(&path);
                }
                self.stored().remove(&path);
                None
            }
        }
    }

    /// Remove least recently used files (not in `in_use`, given as digests)
    /// until the directory fits its bound.
    fn evict(&self, in_use: &HashSet<String>) {
        let mut stored = self.stored();
        let mut total: u64 = stored.values().sum();
        if total <= self.max_bytes {
            return;
        }
        // Least recently used first: the times are on disk.
        let mut all = files(&self.dir);
        all.sort_by_key(|(_, modified, _)| *modified);
        for (path, _, _) in &all {
            if total <= self.max_bytes {
                break;
            }
            let digest = path.file_stem().map(|s| format!("sha256:{}", s.to_string_lossy()));
            if digest.is_some_and(|d| in_use.contains(&d)) {
                continue;
            }
            if std::fs::remove_file(path).is_ok() {
                total -= stored.remove(path).unwrap_or(0);
            }
        }
    }
}

/// Every file under the cache directory: path, modification time, length.
fn files(dir: &Path) -> Vec<(PathBuf, SystemTime, u64)> {
    let mut out = Vec::new();
    for sub in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        for file in std::fs::read_dir(sub.path()).into_iter().flatten().flatten() {
            if let Some(meta) = file.metadata().ok().filter(|m| m.is_file()) {
                out.push((file.path(), meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len()));
            }
        }
    }
    out
}

fn touch(path: &Path) {
    if let Ok(file) = std::fs::File::options().append(true).open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// The cache holds what this node pulls: readable by the mirror only.
fn restrict(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ocifit-mirror-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn s9_stored_rewrites_survive_reopening_and_are_verified() {
        let dir = temp("reopen");
        let bytes = br#"{"schemaVersion":2,"manifests":[]}"#;
        let digest = sha256(bytes);
        let cache = Cache::open(&dir, 1 << 20).unwrap();
        cache.store("https://r.example", "app", &digest, bytes, &HashSet::new());
        drop(cache);
        let cache = Cache::open(&dir, 1 << 20).unwrap();
        assert!(cache.has("https://r.example", "app", &digest), "listed when the directory is opened");
        assert_eq!(cache.load("https://r.example", "app", &digest).as_deref(), Some(&bytes[..]));
        // Another repository or upstream does not see it.
        assert_eq!(cache.load("https://r.example", "other", &digest), None);
        assert_eq!(cache.load("https://s.example", "app", &digest), None);
        // Bytes that no longer match their digest are never returned.
        std::fs::write(cache.path("https://r.example", "app", &digest).unwrap(), b"tampered").unwrap();
        assert_eq!(cache.load("https://r.example", "app", &digest), None);
        assert!(!cache.has("https://r.example", "app", &digest), "a tampered file is forgotten");
        // Not a path: a digest that is not one.
        assert_eq!(cache.path("u", "app", "sha256:../../etc"), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn s9_eviction_drops_least_recently_used_not_in_use() {
        let dir = temp("evict");
        let cache = Cache::open(&dir, 250).unwrap();
        let docs: Vec<Vec<u8>> = (0..4).map(|i| format!("{i}{}", " ".repeat(99)).into_bytes()).collect();
        let digests: Vec<String> = docs.iter().map(|d| sha256(d)).collect();
        let in_use: HashSet<String> = [digests[0].clone()].into();
        for (d, bytes) in digests.iter().zip(&docs) {
            cache.store("u", "r", d, bytes, &in_use);
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let present: Vec<bool> = digests.iter().map(|d| cache.path("u", "r", d).unwrap().exists()).collect();
        // 0 is in use; 1 then 2 were the oldest others; 3 is the newest.
        assert_eq!(present, [true, false, false, true]);
        let listed: Vec<bool> = digests.iter().map(|d| cache.has("u", "r", d)).collect();
        assert_eq!(listed, present, "what is listed in memory is what is on disk");
        let _ = std::fs::remove_dir_all(dir);
    }
}
