//! `oci-archive:FILE[:TAG]` read in place from tars written by `skopeo
//! copy` (the real tool) and by this test (to break them on purpose);
//! pinned `oci:DIR@DIGEST` / `oci-archive:FILE@DIGEST` references; the
//! transports ocifit does not read.

use std::path::{Path, PathBuf};
use std::process::Command;

use ocifit_source::{Digest, Source};
use serde_json::{Value, json};

const INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocifit-archive-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The files of an OCI layout, by path inside it: written to a directory
/// or into a tar.
#[derive(Default)]
struct Files(Vec<(String, Vec<u8>)>);

impl Files {
    fn blob(&mut self, media_type: &str, doc: &Value) -> Value {
        let bytes = serde_json::to_vec(doc).unwrap();
        let d = Digest::sha256(&bytes);
        let desc = json!({"mediaType": media_type, "digest": d.to_string(), "size": bytes.len()});
        self.0.push((format!("blobs/sha256/{}", d.hex()), bytes));
        desc
    }

    /// A tagged platform index of an amd64 fallback, an avx2 build and an
    /// arm64 build (empty images with real configs); returns the index
    /// descriptor.
    fn layout(tag: &str) -> (Files, Value) {
        let mut files = Files::default();
        files.0.push(("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
        let mut entries = Vec::new();
        for (arch, features) in [("amd64", json!(null)), ("amd64", json!(["avx2", "bmi2"])), ("arm64", json!(null))] {
            let config = files.blob(
                "application/vnd.oci.image.config.v1+json",
                &json!({"os": "linux", "architecture": arch, "rootfs": {"type": "layers", "diff_ids": []},
                        "config": {"Env": [format!("BUILD={features}")]}}),
            );
            let mut desc = files
                .blob(MANIFEST, &json!({"schemaVersion": 2, "mediaType": MANIFEST, "config": config, "layers": []}));
            desc["platform"] = json!({"os": "linux", "architecture": arch});
            if !features.is_null() {
                desc["platform"]["features"] = features;
            }
            entries.push(desc);
        }
        let mut index = files.blob(INDEX, &json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": entries}));
        index["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let top = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [index.clone()]});
        files.0.push(("index.json".into(), serde_json::to_vec(&top).unwrap()));
        (files, index)
    }

    fn write_dir(&self, dir: &Path) {
        for (path, bytes) in &self.0 {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, bytes).unwrap();
        }
    }

    /// A tar of the files, names prefixed with `prefix` (`./` as `tar -C DIR .` writes).
    fn write_tar(&self, path: &Path, prefix: &str) {
        let mut builder = tar::Builder::new(std::fs::File::create(path).unwrap());
        for (name, bytes) in &self.0 {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder.append_data(&mut header, format!("{prefix}{name}"), bytes.as_slice()).unwrap();
        }
        builder.finish().unwrap();
    }
}

fn features(loaded: &ocifit_source::Loaded) -> Vec<Vec<String>> {
    loaded.index.entries().map(|e| e.platform.map_or(vec![], |p| p.features().map(String::from).collect())).collect()
}

fn skopeo(args: &[&str]) {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("skopeo").is_file()));
    assert!(found, "skopeo is not installed: scripts/test.sh installs it (apt)");
    let out = Command::new("skopeo").arg("--insecure-policy").args(args).output().expect("skopeo runs");
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_archive_written_by_skopeo_is_read_in_place() {
    let dir = scratch("skopeo");
    let (files, index) = Files::layout("v1");
    let layout = dir.join("layout");
    files.write_dir(&layout);
    let archive = dir.join("app.tar");
    // --preserve-digests: the index arrives byte for byte, features included.
    skopeo(&[
        "copy",
        "--all",
        "--preserve-digests",
        &format!("oci:{}:v1", layout.display()),
        &format!("oci-archive:{}:v1", archive.display()),
    ]);
    for arg in [format!("oci-archive:{}:v1", archive.display()), format!("oci-archive:{}", archive.display())] {
        let loaded = Source::parse(&arg).load().unwrap_or_else(|e| panic!("{arg}: {e}"));
        assert_eq!(features(&loaded), [vec![], vec!["avx2".to_string(), "bmi2".into()], vec![]], "{arg}");
        let resolved = loaded.resolved.as_ref().unwrap();
        assert_eq!(resolved.name, format!("oci-archive:{}", archive.display()));
        assert_eq!(resolved.digest.as_deref(), index["digest"].as_str());
        // Every reference ocifit prints, it reads back: the pinned index, and one pinned entry.
        let pinned = Source::parse(&resolved.pin(resolved.digest.as_ref().unwrap())).load().unwrap();
        assert_eq!(pinned.bytes, loaded.bytes);
        let entry = loaded.index.entry(1).unwrap().digest.to_string();
        let one = Source::parse(&loaded.pin(&entry).unwrap()).load().unwrap();
        assert_eq!(one.index.len(), 1);
        assert_eq!(features(&one), [vec!["avx2".to_string(), "bmi2".into()]], "the entry keeps its platform");
    }
    let err = Source::parse(&format!("oci-archive:{}:v2", archive.display())).load().unwrap_err();
    assert!(err.problem.contains("no tag \"v2\" in the layout (tags: v1)"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_archive_written_by_this_test_and_broken_ones() {
    let dir = scratch("tar");
    let (files, index) = Files::layout("v1");
    let load = |path: &Path| Source::parse(&format!("oci-archive:{}:v1", path.display())).load();
    for prefix in ["", "./"] {
        let path = dir.join("plain.tar");
        files.write_tar(&path, prefix);
        let loaded = load(&path).unwrap_or_else(|e| panic!("prefix {prefix:?}: {e}"));
        assert_eq!(loaded.resolved.unwrap().digest.as_deref(), index["digest"].as_str());
    }

    let broken = |name: &str, edit: &dyn Fn(&mut Files)| {
        let (mut files, _) = Files::layout("v1");
        edit(&mut files);
        let path = dir.join(name);
        files.write_tar(&path, "");
        load(&path).unwrap_err().to_string()
    };
    let err = broken("no-layout.tar", &|f| f.0.retain(|(n, _)| n != "oci-layout"));
    assert!(err.contains("not an OCI archive: it has no oci-layout member"), "{err}");
    let err = broken("tampered.tar", &|f| {
        // The platform index, the last blob written.
        let blob = f.0.iter_mut().rfind(|(n, _)| n.starts_with("blobs/")).unwrap();
        blob.1[0] ^= 1;
    });
    assert!(err.contains("does not match") || err.contains("digest"), "{err}");
    let err = broken("missing-blob.tar", &|f| {
        let last = f.0.iter().rposition(|(n, _)| n.starts_with("blobs/")).unwrap();
        f.0.remove(last);
    });
    assert!(err.contains("blob sha256:") && err.contains("missing"), "{err}");

    let gz = dir.join("app.tar.gz");
    std::fs::write(&gz, [0x1f, 0x8b, 8, 0, 0, 0, 0, 0]).unwrap();
    assert!(load(&gz).unwrap_err().to_string().contains("gzip-compressed"));
    let not_tar = dir.join("not.tar");
    std::fs::write(&not_tar, vec![b'x'; 1024]).unwrap();
    assert!(load(&not_tar).unwrap_err().to_string().contains("not a tar archive"), "{:?}", load(&not_tar));
    assert!(load(&dir).unwrap_err().to_string().contains("is a directory"));
    let fifo = dir.join("fifo.tar");
    let made = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo runs");
    assert!(made.success());
    let err = load(&fifo).unwrap_err().to_string();
    assert!(err.contains("not a regular file"), "a FIFO is refused without blocking: {err}");
    assert_eq!(
        load(&dir.join("absent.tar")).unwrap_err().to_string(),
        format!("oci-archive:{}:v1: no such file", dir.join("absent.tar").display())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_pinned_layout_reference_reads_back() {
    let dir = scratch("pinned");
    let (files, index) = Files::layout("v1");
    files.write_dir(&dir);
    let loaded = Source::parse(&format!("oci:{}:v1", dir.display())).load().unwrap();
    let pin = loaded.pin(index["digest"].as_str().unwrap()).unwrap();
    assert_eq!(pin, format!("oci:{}@{}", dir.display(), index["digest"].as_str().unwrap()));
    let again = Source::parse(&pin).load().unwrap();
    assert_eq!(again.bytes, loaded.bytes);
    assert_eq!(again.source.to_string(), pin, "printed as given");
    assert_eq!(again.resolved.unwrap().tag, None);
    let absent = format!("oci:{}@sha256:{}", dir.display(), "0".repeat(64));
    let err = Source::parse(&absent).load().unwrap_err();
    assert!(err.problem.contains("no image or index sha256:0000"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn other_transports_are_refused_without_a_network_lookup() {
    for (arg, transport) in [
        ("dir:/tmp/ocifit-no-such-dir", "dir:"),
        ("docker-archive:/tmp/app.tar", "docker-archive:"),
        ("containers-storage:app:v1", "containers-storage:"),
        ("docker-daemon:app:v1", "docker-daemon:"),
    ] {
        let err = Source::parse(arg).load().unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{arg}: unsupported transport {transport}; supported: FILE, -, oci:, oci-archive:, docker://")
        );
    }
}
