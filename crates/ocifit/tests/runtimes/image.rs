//! The test image: an OCI index of four builds — generic linux/amd64 (no
//! features, first, so runtimes that ignore features take it), amd64 with
//! `["avx2","bmi2"]`, amd64 with AVX-512, and arm64. Each build's config
//! names it (a label and an env variable) and its one layer is a tar
//! holding `ocifit-build`, a marker file naming the build. The repository
//! name is part of every blob, so no two images share content.

use serde_json::{Value, json};

use crate::fixture::{INDEX, MANIFEST, Registry, sha256};

/// The builds, in index order: (name, architecture, features).
pub const BUILDS: [(&str, &str, &[&str]); 4] = [
    ("generic", "amd64", &[]),
    ("avx2", "amd64", &["avx2", "bmi2"]),
    ("avx512", "amd64", &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]),
    ("arm64", "arm64", &[]),
];

/// What the mirror's target (`--platform linux/amd64 --features avx2,bmi2`) selects.
pub const SELECTED: &str = "avx2";
/// What a runtime that ignores features takes.
pub const LEGACY: &str = "generic";

pub struct Build {
    pub name: &'static str,
    pub manifest: String,
    pub config: String,
    /// The layer's digest, which is also its diff ID (it is not compressed)
    /// and so the key of its snapshot once unpacked.
    pub layer: String,
    /// The marker file's content.
    pub marker: String,
}

pub struct Image {
    /// `HOST:PORT/REPO:TAG`.
    pub reference: String,
    pub registry: String,
    pub repo: String,
    pub index_digest: String,
    pub index_bytes: Vec<u8>,
    pub builds: Vec<Build>,
}

impl Image {
    /// Push the four builds and the index, tagged `v1`, to `registry`.
    pub fn push(registry: &Registry, repo: &str) -> Image {
        let mut entries = Vec::new();
        let mut builds = Vec::new();
        for (name, arch, features) in BUILDS {
            let marker = format!("build {name} of {repo}\n");
            let layer = tar_one_file("ocifit-build", marker.as_bytes());
            let config = serde_json::to_vec(&json!({
                "architecture": arch, "os": "linux",
                "config": {
                    "Env": [format!("OCIFIT_BUILD={name}")],
                    "Labels": {"org.example.build": name, "org.example.repository": repo}
                },
                "rootfs": {"type": "layers", "diff_ids": [sha256(&layer)]}
            }))
            .unwrap();
            let config_digest = registry.push_blob(repo, &config);
            let layer_digest = registry.push_blob(repo, &layer);
            let manifest = serde_json::to_vec(&json!({
                "schemaVersion": 2, "mediaType": MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config.len()},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest, "size": layer.len()}]
            }))
            .unwrap();
            let digest = registry.push_manifest(repo, &sha256(&manifest), MANIFEST, &manifest);
            let mut platform = json!({"os": "linux", "architecture": arch});
            if !features.is_empty() {
                platform["features"] = json!(features);
            }
            if arch == "arm64" {
                platform["variant"] = json!("v8");
            }
            entries
                .push(json!({"mediaType": MANIFEST, "digest": digest, "size": manifest.len(), "platform": platform}));
            builds.push(Build { name, manifest: digest, config: config_digest, layer: layer_digest, marker });
        }
        let index = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries});
        let index_bytes = serde_json::to_vec_pretty(&index).unwrap();
        let index_digest = registry.push_manifest(repo, "v1", INDEX, &index_bytes);
        Image {
            reference: format!("{}/{repo}:v1", registry.host()),
            registry: registry.host(),
            repo: repo.to_string(),
            index_digest,
            index_bytes,
            builds,
        }
    }

    /// `HOST:PORT/REPO@DIGEST`.
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}/{}@{digest}", self.registry, self.repo)
    }

    /// The build whose config has this digest.
    pub fn build_of_config(&self, config_digest: &str) -> Option<&'static str> {
        self.builds.iter().find(|b| b.config == config_digest).map(|b| b.name)
    }

    /// The one build whose config is among `digests` (a content listing);
    /// an error names what was found when it is not exactly one.
    pub fn build_among(&self, digests: &[String]) -> Result<&'static str, String> {
        let found: Vec<_> = digests.iter().filter_map(|d| self.build_of_config(d)).collect();
        match found.as_slice() {
            [one] => Ok(one),
            _ => Err(format!("expected the config of exactly one build, found {found:?}")),
        }
    }

    /// The build an image config (JSON) names; checks that its label and
    /// env agree.
    pub fn build_of_config_json(&self, config: &Value) -> &'static str {
        let label = config["config"]["Labels"]["org.example.build"].as_str().unwrap_or_default();
        let repo = config["config"]["Labels"]["org.example.repository"].as_str().unwrap_or_default();
        assert_eq!(repo, self.repo, "config of another image: {config}");
        let env = format!("OCIFIT_BUILD={label}");
        assert!(config["config"]["Env"].as_array().is_some_and(|e| e.iter().any(|v| v == env.as_str())), "{config}");
        self.builds.iter().find(|b| b.name == label).map(|b| b.name).unwrap_or_else(|| panic!("no build {label:?}"))
    }

    /// The build a marker file names.
    pub fn build_of_marker(&self, marker: &str) -> Option<&'static str> {
        self.builds.iter().find(|b| b.marker == marker).map(|b| b.name)
    }
}

/// A POSIX tar archive holding one regular file.
pub fn tar_one_file(name: &str, content: &[u8]) -> Vec<u8> {
    let mut header = [0u8; 512];
    let put = |h: &mut [u8; 512], at: usize, field: &[u8]| h[at..at + field.len()].copy_from_slice(field);
    put(&mut header, 0, name.as_bytes());
    put(&mut header, 100, b"0000644\0");
    put(&mut header, 108, b"0000000\0");
    put(&mut header, 116, b"0000000\0");
    put(&mut header, 124, format!("{:011o}\0", content.len()).as_bytes());
    put(&mut header, 136, b"00000000000\0");
    put(&mut header, 148, b"        ");
    header[156] = b'0';
    put(&mut header, 257, b"ustar\0");
    put(&mut header, 263, b"00");
    let sum: u32 = header.iter().map(|&b| b as u32).sum();
    put(&mut header, 148, format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(content);
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    tar
}

/// The marker file of a tar made by [`tar_one_file`].
pub fn marker_of_tar(tar: &[u8]) -> Option<String> {
    let name_end = tar.get(..100)?.iter().position(|&b| b == 0)?;
    if &tar[..name_end] != b"ocifit-build" {
        return None;
    }
    let size = usize::from_str_radix(std::str::from_utf8(&tar[124..135]).ok()?, 8).ok()?;
    String::from_utf8(tar.get(512..512 + size)?.to_vec()).ok()
}
