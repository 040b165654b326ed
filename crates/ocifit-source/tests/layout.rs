//! OCI image layouts written by a small helper here (and, in
//! `registry.rs`, by `skopeo copy`), read through `Source`.

use std::path::{Path, PathBuf};

use ocifit_source::{Digest, Options, Source};
use serde_json::{Value, json};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// A layout directory being written.
struct Layout {
    dir: PathBuf,
}

impl Layout {
    fn new(name: &str) -> Layout {
        let dir = std::env::temp_dir().join(format!("ocifit-layout-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout { dir }
    }

    /// Store a blob; returns its descriptor.
    fn blob(&self, media_type: &str, bytes: &[u8]) -> Value {
        let d = Digest::sha256(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        json!({"mediaType": media_type, "digest": d.to_string(), "size": bytes.len()})
    }

    fn json_blob(&self, media_type: &str, doc: &Value) -> Value {
        self.blob(media_type, serde_json::to_vec(doc).unwrap().as_slice())
    }

    /// An image (config + manifest) for a platform; returns the manifest descriptor.
    fn image(&self, os: &str, arch: &str) -> Value {
        let config = self.json_blob(
            "application/vnd.oci.image.config.v1+json",
            &json!({"os": os, "architecture": arch, "rootfs": {"type": "layers", "diff_ids": []}}),
        );
        self.json_blob(MANIFEST, &json!({"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": []}))
    }

    /// A platform index over two images; returns its descriptor.
    fn platform_index(&self) -> Value {
        let mut amd = self.image("linux", "amd64");
        amd["platform"] = json!({"os": "linux", "architecture": "amd64"});
        let mut v3 = self.image("linux", "amd64");
        v3["platform"] = json!({"os": "linux", "architecture": "amd64", "features": ["avx2"]});
        let mut arm = self.image("linux", "arm64");
        arm["platform"] = json!({"os": "linux", "architecture": "arm64"});
        self.json_blob(INDEX, &json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [amd, v3, arm]}))
    }

    fn index_json(&self, entries: Vec<Value>) {
        let doc = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries});
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    }

    fn source(&self, tag: Option<&str>) -> Source {
        match tag {
            Some(t) => Source::parse(&format!("oci:{}:{t}", self.dir.display())),
            None => Source::parse(&format!("oci:{}", self.dir.display())),
        }
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn tagged(mut desc: Value, tag: &str) -> Value {
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    desc
}

fn err(source: &Source) -> String {
    source.load().expect_err("must fail").to_string()
}

#[test]
fn tag_selects_the_index_that_lists_platforms() {
    let l = Layout::new("tag");
    let idx = l.platform_index();
    let other = l.platform_index();
    l.index_json(vec![tagged(idx.clone(), "v1"), tagged(other, "v2")]);
    let loaded = l.source(Some("v1")).load().unwrap();
    assert_eq!(loaded.index.len(), 3);
    let r = loaded.resolved.as_ref().unwrap();
    assert_eq!(r.digest.as_deref(), idx["digest"].as_str());
    assert_eq!(r.tag.as_deref(), Some("v1"));
    assert!(!r.single_manifest);
    assert_eq!(Digest::sha256(&loaded.bytes).to_string(), idx["digest"].as_str().unwrap());
    let pin = loaded.pin("sha256:abc").unwrap();
    assert_eq!(pin, format!("oci:{}@sha256:abc", l.path().display()));
}

#[test]
fn without_tag_the_only_entry_or_a_list_of_tags() {
    let l = Layout::new("notag");
    let idx = l.platform_index();
    l.index_json(vec![tagged(idx.clone(), "latest")]);
    assert_eq!(l.source(None).load().unwrap().index.len(), 3);

    l.index_json(vec![tagged(idx.clone(), "v1"), tagged(idx, "v2")]);
    let e = err(&l.source(None));
    assert!(e.contains("oci:DIR:TAG") && e.contains("v1, v2"), "{e}");
    let e = err(&l.source(Some("v3")));
    assert!(e.contains("no tag \"v3\"") && e.contains("v1, v2"), "{e}");
}

#[test]
fn untagged_index_json_listing_platforms_is_the_index() {
    let l = Layout::new("flat");
    let mut a = l.image("linux", "amd64");
    a["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let mut b = l.image("linux", "arm64");
    b["platform"] = json!({"os": "linux", "architecture": "arm64"});
    l.index_json(vec![a, b]);
    let loaded = l.source(None).load().unwrap();
    assert_eq!(loaded.index.len(), 2);
    assert_eq!(loaded.resolved.unwrap().digest, None);
}

#[test]
fn nested_index_is_followed_to_the_platform_list() {
    let l = Layout::new("nested");
    let inner = l.platform_index();
    let middle = l.json_blob(INDEX, &json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [inner.clone()]}));
    let outer = l.json_blob(INDEX, &json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [middle]}));
    l.index_json(vec![tagged(outer, "v1")]);
    let loaded = l.source(Some("v1")).load().unwrap();
    assert_eq!(loaded.index.len(), 3);
    assert_eq!(loaded.resolved.unwrap().digest.as_deref(), inner["digest"].as_str());
}

#[test]
fn single_image_manifest_is_the_only_candidate() {
    let l = Layout::new("single");
    let m = l.image("linux", "arm64");
    l.index_json(vec![tagged(m.clone(), "v1")]);
    let loaded = l.source(Some("v1")).load().unwrap();
    assert_eq!(loaded.index.len(), 1);
    let e = loaded.index.entry(0).unwrap();
    assert_eq!(e.digest, m["digest"].as_str().unwrap());
    assert_eq!(e.platform.unwrap().architecture, "arm64");
    assert!(loaded.resolved.unwrap().single_manifest);
}

#[test]
fn tampered_blob_is_refused() {
    let l = Layout::new("tamper");
    let idx = l.platform_index();
    l.index_json(vec![tagged(idx.clone(), "v1")]);
    let hex = idx["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap();
    let path = l.path().join("blobs/sha256").join(hex);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes.iter().position(|&b| b == b'4').unwrap(); // "arm64" -> "arm65"
    bytes[at] = b'5';
    std::fs::write(&path, &bytes).unwrap();
    let e = err(&l.source(Some("v1")));
    assert!(e.contains("does not match") && e.contains(hex), "{e}");
}

#[test]
fn invalid_digests_are_errors_never_paths() {
    let l = Layout::new("digests");
    // A file an escaping path would find.
    std::fs::write(l.path().join("secret"), r#"{"manifests":[]}"#).unwrap();
    let hex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    for bad in [
        "sha256:../../secret".to_string(),
        format!("sha256:{}", hex.to_uppercase()),
        format!("sha256:{}", &hex[..60]),
        format!("sha512:{hex}"),
        format!("md5:{hex}"),
        "../secret".to_string(),
    ] {
        l.index_json(vec![tagged(json!({"mediaType": INDEX, "digest": bad, "size": 16}), "v1")]);
        let e = err(&l.source(Some("v1")));
        assert!(e.contains("digest") || e.contains("algorithm"), "{bad}: {e}");
    }
}

#[test]
fn sizes_are_checked() {
    let l = Layout::new("sizes");
    let mut idx = l.platform_index();
    let real = idx["size"].as_u64().unwrap();
    idx["size"] = json!(real - 1);
    l.index_json(vec![tagged(idx.clone(), "v1")]);
    let e = err(&l.source(Some("v1")));
    assert!(e.contains("descriptor says"), "{e}");

    idx["size"] = json!(real);
    l.index_json(vec![tagged(idx, "v1")]);
    let small = Options { max_manifest_bytes: 100, ..Options::default() };
    let e = l.source(Some("v1")).load_with(&small).unwrap_err().to_string();
    assert!(e.contains("more than the 100 bytes"), "{e}");
}

#[test]
fn not_a_layout() {
    let dir = std::env::temp_dir().join(format!("ocifit-layout-{}-none", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let e = err(&Source::parse(&format!("oci:{}", dir.display())));
    assert!(e.contains("not an OCI image layout"), "{e}");
    let e = err(&Source::parse(&format!("oci:{}/missing", dir.display())));
    assert!(e.contains("no such directory"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();

    let l = Layout::new("version");
    std::fs::write(l.path().join("oci-layout"), r#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
    assert!(err(&l.source(None)).contains("unsupported imageLayoutVersion"));
}

/// docs/security.md "Layouts and local files": DIR itself may be a symbolic link (the user
/// named it), but nothing below it is followed, not even a link to a file
/// inside the layout: a blob, `blobs/sha256` or `index.json` that is a
/// link is refused, saying so.
#[test]
fn symbolic_links_below_dir_are_never_followed() {
    let l = Layout::new("links");
    let idx = l.platform_index();
    l.index_json(vec![tagged(idx.clone(), "v1")]);
    let linked = l.path().with_file_name(format!("ocifit-layout-{}-links-alias", std::process::id()));
    let _ = std::fs::remove_file(&linked);
    std::os::unix::fs::symlink(l.path(), &linked).unwrap();
    let via_link = Source::parse(&format!("oci:{}:v1", linked.display()));
    assert_eq!(via_link.load().unwrap().index.len(), 3);

    let hex = idx["digest"].as_str().unwrap().strip_prefix("sha256:").unwrap().to_string();
    let blobs = l.path().join("blobs");
    let move_and_link = |from: &Path, to: &Path, link_text: &Path| {
        std::fs::rename(from, to).unwrap();
        std::os::unix::fs::symlink(link_text, from).unwrap();
    };
    // A blob linked to a copy beside it.
    move_and_link(&blobs.join("sha256").join(&hex), &blobs.join("sha256/copy"), Path::new("copy"));
    let e = err(&l.source(Some("v1")));
    assert!(e.contains(&format!("blob sha256:{hex}: is a symbolic link")), "{e}");
    std::fs::remove_file(blobs.join("sha256").join(&hex)).unwrap();
    std::fs::rename(blobs.join("sha256/copy"), blobs.join("sha256").join(&hex)).unwrap();
    assert!(l.source(Some("v1")).load().is_ok());
    // blobs/sha256 linked to a directory beside it.
    move_and_link(&blobs.join("sha256"), &blobs.join("real"), Path::new("real"));
    let e = err(&l.source(Some("v1")));
    assert!(e.contains("blobs/sha256: is a symbolic link"), "{e}");
    // index.json linked to a copy beside it.
    move_and_link(&l.path().join("index.json"), &l.path().join("copy.json"), Path::new("copy.json"));
    let e = err(&l.source(Some("v1")));
    assert!(e.contains("index.json: is a symbolic link"), "{e}");
    std::fs::remove_file(&linked).unwrap();
}
