//! Tiny single-platform images, built by the tests into OCI layouts: one
//! gzip layer (as registries hold them; `gzip -n`, so builds repeat
//! byte for byte) holding a marker file (`/marker`, saying which build
//! it is), a config with the platform, a manifest, a tag in `index.json`.
//! Shared by the layout and registry authoring tests.
#![allow(dead_code)]

use std::path::Path;

use serde_json::{Value, json};
use sha2::Digest as _;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

pub fn sha256(bytes: &[u8]) -> String {
    let d = sha2::Sha256::digest(bytes);
    format!("sha256:{}", d.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A ustar archive with one regular file.
pub fn tar_with(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let octal = |field: &mut [u8], value: u64| {
        let text = format!("{value:0width$o}\0", width = field.len() - 1);
        field.copy_from_slice(text.as_bytes());
    };
    octal(&mut header[100..108], 0o644);
    octal(&mut header[108..116], 0);
    octal(&mut header[116..124], 0);
    octal(&mut header[124..136], content.len() as u64);
    octal(&mut header[136..148], 1_700_000_000);
    header[148..156].copy_from_slice(b"        ");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    let sum: u32 = header.iter().map(|b| u32::from(*b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.resize(out.len() + 1024, 0);
    out
}

fn put_blob(dir: &Path, bytes: &[u8]) -> Value {
    let digest = sha256(bytes);
    let blobs = dir.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::write(blobs.join(&digest[7..]), bytes).unwrap();
    json!({"digest": digest, "size": bytes.len()})
}

/// Build an image whose `/marker` says `marker` for `os/architecture`
/// into the layout `dir` under `tag` (other tags kept). Returns the
/// manifest's digest.
pub fn build_image(dir: &Path, tag: &str, marker: &str, os: &str, architecture: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let tar = tar_with("marker", format!("{marker}\n").as_bytes());
    let layer = gzip(&tar, "-n");
    let config = json!({"architecture": architecture, "os": os,
        "config": {"Cmd": ["/marker"]}, "rootfs": {"type": "layers", "diff_ids": [sha256(&tar)]}});
    let mut config_desc = put_blob(dir, &serde_json::to_vec(&config).unwrap());
    config_desc["mediaType"] = json!("application/vnd.oci.image.config.v1+json");
    let mut layer_desc = put_blob(dir, &layer);
    layer_desc["mediaType"] = json!("application/vnd.oci.image.layer.v1.tar+gzip");
    let manifest =
        json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_desc, "layers": [layer_desc]});
    let manifest_bytes = serde_json::to_vec(&manifest).unwrap();
    let mut desc = put_blob(dir, &manifest_bytes);
    desc["mediaType"] = json!(OCI_MANIFEST);
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    let index_path = dir.join("index.json");
    let mut index: Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"schemaVersion": 2, "manifests": []}));
    let entries = index["manifests"].as_array_mut().unwrap();
    entries.retain(|e| e["annotations"]["org.opencontainers.image.ref.name"] != json!(tag));
    entries.push(desc.clone());
    std::fs::write(&index_path, serde_json::to_vec_pretty(&index).unwrap()).unwrap();
    desc["digest"].as_str().unwrap().to_string()
}

/// The marker text of the image manifest `digest` in layout `dir`.
pub fn marker_in_layout(dir: &Path, digest: &str) -> String {
    let blob = |d: &str| std::fs::read(dir.join("blobs/sha256").join(&d[7..])).unwrap();
    let manifest: Value = serde_json::from_slice(&blob(digest)).unwrap();
    let layer = blob(manifest["layers"][0]["digest"].as_str().unwrap());
    marker_in_layer(&layer)
}

/// `gzip FLAG` over `bytes` (`-n`: compress without name and time; `-d`: decompress).
pub fn gzip(bytes: &[u8], flag: &str) -> Vec<u8> {
    use std::io::Write;
    let mut child = std::process::Command::new("gzip")
        .args([flag, "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "gzip {flag} failed");
    out.stdout
}

/// The content of the first file of a gzip layer.
pub fn marker_in_layer(layer: &[u8]) -> String {
    let tar = gzip(layer, "-d");
    let size = usize::from_str_radix(std::str::from_utf8(&tar[124..135]).unwrap().trim_matches('\0'), 8).unwrap();
    String::from_utf8_lossy(&tar[512..512 + size]).trim().to_string()
}
