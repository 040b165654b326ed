//! Building indexes for tests: `entry("linux/amd64/v3", &["avx2"])`.

#![allow(dead_code)]

use serde_json::{Map, Value, json};

/// A valid descriptor for `os/arch[/variant]` with these features (`None`:
/// no `features` key at all).
pub fn entry_with(platform: &str, features: Option<&[&str]>, n: usize) -> Value {
    let mut parts = platform.split('/');
    let mut p = Map::new();
    p.insert("architecture".into(), json!(parts.nth(1).unwrap()));
    p.insert("os".into(), json!(platform.split('/').next().unwrap()));
    if let Some(v) = platform.split('/').nth(2) {
        p.insert("variant".into(), json!(v));
    }
    if let Some(f) = features {
        p.insert("features".into(), json!(f));
    }
    json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "size": 1000 + n,
        "digest": format!("sha256:{:064x}", n + 1),
        "platform": Value::Object(p),
    })
}

pub fn entry(platform: &str, features: &[&str]) -> Value {
    entry_with(platform, if features.is_empty() { None } else { Some(features) }, 0)
}

/// An OCI index of these entries, each with its own digest.
pub fn index(entries: Vec<Value>) -> Value {
    let manifests: Vec<Value> = entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["digest"] = json!(format!("sha256:{:064x}", i + 1));
            e
        })
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    })
}
