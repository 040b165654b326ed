//! Hostile inputs (docs/limits.md): every one must end in exit 2 (or 1
//! where the input is valid but has no answer), with one short line on
//! stderr naming the input and the problem; never a panic, never a hang,
//! never the input echoed back.

use std::path::PathBuf;

mod common;
use common::ocifit;

fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ocifit-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn descriptor(platform: &str) -> String {
    format!(
        r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:{}","platform":{platform}}}"#,
        "a".repeat(64)
    )
}

fn index_with(platform: &str) -> Vec<u8> {
    format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, descriptor(platform)).into_bytes()
}

/// (name, bytes, a word the one-line error must contain)
fn hostile_indexes() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let big_name = format!(r#"{{"os":"linux","architecture":"amd64","features":["{}"]}}"#, "x".repeat(5 << 20));
    let many = (0..200_000).map(|i| format!("\"f{i}\"")).collect::<Vec<_>>().join(",");
    let many = format!(r#"{{"os":"linux","architecture":"amd64","features":[{many}]}}"#);
    vec![
        ("empty", vec![], "truncated JSON"),
        ("whitespace", b" \n\t\r\n ".to_vec(), "truncated JSON"),
        ("truncated", br#"{"schemaVersion":2,"manifests":[{"mediaType":"#.to_vec(), "truncated JSON"),
        ("string", br#""an index""#.to_vec(), "must be a JSON object"),
        ("number", b"42".to_vec(), "must be a JSON object"),
        ("null", b"null".to_vec(), "must be a JSON object"),
        ("array", b"[{}]".to_vec(), "must be a JSON object"),
        ("deep-arrays", b"[".repeat(200_000), "invalid JSON"),
        ("deep-objects", b"{\"a\":".repeat(200_000), "invalid JSON"),
        ("deep-in-manifest", [&b"{\"manifests\":[{\"x\":"[..], &b"[".repeat(200_000)].concat(), "invalid JSON"),
        ("invalid-utf8", b"{\"manifests\":[],\"k\":\"\xc3\x28\"}".to_vec(), "invalid JSON"),
        ("nul-byte", b"{\"manifests\":[]}\0".to_vec(), "invalid JSON"),
        ("nul-in-string", b"{\"manifests\":[],\"k\":\"a\0b\"}".to_vec(), "invalid JSON"),
        ("trailing-garbage", b"{\"manifests\":[]} {}".to_vec(), "invalid JSON"),
        ("manifests-object", br#"{"manifests":{}}"#.to_vec(), "/manifests"),
        ("manifests-null", br#"{"manifests":null}"#.to_vec(), "/manifests"),
        ("entry-string", br#"{"manifests":["sha256:aa"]}"#.to_vec(), "/manifests/0"),
        ("size-negative", br#"{"manifests":[{"mediaType":"m","digest":"d","size":-1}]}"#.to_vec(), "/manifests/0/size"),
        ("size-string", br#"{"manifests":[{"mediaType":"m","digest":"d","size":"12"}]}"#.to_vec(), "/manifests/0/size"),
        ("size-float", br#"{"manifests":[{"mediaType":"m","digest":"d","size":1.5}]}"#.to_vec(), "/manifests/0/size"),
        ("size-huge", br#"{"manifests":[{"mediaType":"m","digest":"d","size":1e400}]}"#.to_vec(), "invalid JSON"),
        ("digest-number", br#"{"manifests":[{"mediaType":"m","digest":5,"size":1}]}"#.to_vec(), "/manifests/0/digest"),
        (
            "media-type-array",
            br#"{"manifests":[{"mediaType":[],"digest":"d","size":1}]}"#.to_vec(),
            "/manifests/0/mediaType",
        ),
        ("platform-string", index_with(r#""linux/amd64""#), "/manifests/0/platform"),
        ("platform-no-os", index_with(r#"{"architecture":"amd64"}"#), "/manifests/0/platform"),
        ("os-number", index_with(r#"{"os":1,"architecture":"amd64"}"#), "/manifests/0/platform/os"),
        (
            "features-number",
            index_with(r#"{"os":"linux","architecture":"amd64","features":7}"#),
            "/manifests/0/platform/features",
        ),
        (
            "features-null-item",
            index_with(r#"{"os":"linux","architecture":"amd64","features":["avx2",null]}"#),
            "/manifests/0/platform/features/1",
        ),
        (
            "features-nested",
            index_with(r#"{"os":"linux","architecture":"amd64","features":[["avx2"]]}"#),
            "/manifests/0/platform/features/0",
        ),
        (
            "os-features-object",
            index_with(r#"{"os":"linux","architecture":"amd64","os.features":{}}"#),
            "/manifests/0/platform/os.features",
        ),
        ("feature-5mb", index_with(&big_name), "/manifests/0/platform/features/0"),
        ("features-200000", index_with(&many), "/manifests/0/platform/features"),
        ("schema-version-3", br#"{"schemaVersion":3,"manifests":[]}"#.to_vec(), "/schemaVersion"),
        (
            "image-manifest",
            br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#
                .to_vec(),
            "image manifest",
        ),
        ("odd-media-type", br#"{"mediaType":"text/plain","manifests":[]}"#.to_vec(), "/mediaType"),
    ]
}

#[test]
fn hostile_indexes_exit_2_with_one_short_line() {
    for (name, bytes, needle) in hostile_indexes() {
        let path = scratch(&format!("{name}.json"), &bytes);
        let run = ocifit(&["select", path.to_str().unwrap(), "--platform", "linux/amd64"], None);
        assert_eq!(run.code, Some(2), "{name}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
        assert!(run.stderr.len() < 400, "{name}: {} bytes of error", run.stderr.len());
        assert!(run.stderr.contains(&format!("{name}.json")), "{name}: error does not name the input: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{name}: {:?} not in {}", needle, run.stderr);
        assert!(!run.stderr.contains("panicked"), "{name}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{name}: wrote to stdout");
    }
}

#[test]
fn hostile_stdin_is_named_stdin() {
    let run = ocifit(&["select", "-", "--platform", "linux/amd64"], Some(b"{\"manifests\": ["));
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.starts_with("ocifit: <stdin>: truncated JSON"), "{}", run.stderr);
}

#[test]
fn hostile_oversize_stdin_is_refused_without_reading_it_all() {
    // 64 MiB + 1 of spaces: refused by size before any parsing.
    let run = ocifit(&["select", "-", "--platform", "linux/amd64"], Some(&vec![b' '; (64 << 20) + 1]));
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("64 MiB"), "{}", run.stderr);
}

#[test]
fn hostile_valid_but_unanswerable_exits_1() {
    // Valid indexes that simply have nothing for the target.
    let cases: &[(&str, Vec<u8>)] = &[
        ("no-entries", br#"{"schemaVersion":2,"manifests":[]}"#.to_vec()),
        (
            "no-platform",
            format!(r#"{{"manifests":[{}]}}"#, descriptor("null").replace(r#","platform":null"#, "")).into_bytes(),
        ),
        ("unknown-feature", index_with(r#"{"os":"linux","architecture":"amd64","features":["warp_drive"]}"#)),
        ("empty-feature-name", index_with(r#"{"os":"linux","architecture":"amd64","features":[""]}"#)),
        ("alien-arch", index_with(r#"{"os":"linux","architecture":"z80"}"#)),
    ];
    for (name, bytes) in cases {
        let path = scratch(&format!("{name}.json"), bytes);
        let run = ocifit(&["select", path.to_str().unwrap(), "--platform", "linux/amd64", "--format", "json"], None);
        assert_eq!(run.code, Some(1), "{name}: {}", run.stderr);
        let doc = run.json();
        assert!(doc["selected"].is_null(), "{name}");
    }
}

#[test]
fn hostile_platform_strings_exit_2() {
    // 100 kB: near the kernel's limit for one argument (128 KiB).
    let long = "a".repeat(100_000);
    let cases: &[&str] = &[
        "",
        "/",
        "linux/",
        "/amd64",
        "linux//amd64",
        "linux/amd64/v3/extra",
        "linux /amd64",
        "linux/amd\u{7}64",
        "linux(10.0/amd64",
        "linux(%zz)/amd64",
        "🐧/amd64",
        &long,
    ];
    for platform in cases {
        let run = ocifit(&["select", "-", "--platform", platform], Some(b"{\"manifests\":[]}"));
        let shown: String = platform.chars().take(20).collect();
        assert_eq!(run.code, Some(2), "{shown:?}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{shown:?}: {}", run.stderr);
        assert!(run.stderr.len() < 400, "{shown:?}: error echoes the input");
    }
}

#[test]
fn hostile_feature_flags_exit_2() {
    let long = "x".repeat(100_000);
    for features in ["", ",,,", "avx2,,nonsense", &long, "avx2\u{7}"] {
        let run =
            ocifit(&["select", "-", "--platform", "linux/amd64", "--features", features], Some(b"{\"manifests\":[]}"));
        // An empty list is no features at all (exit 1: nothing to select); anything unknown is exit 2.
        assert!(matches!(run.code, Some(1) | Some(2)), "{}", run.stderr);
        assert!(run.stderr.len() < 400, "error echoes the input");
        if features.contains("nonsense") || features.len() > 100 || features.contains('\u{7}') {
            assert_eq!(run.code, Some(2));
        }
    }
}

/// Captures for `ocifit host --cpuinfo`: garbage, megabyte lines, thousands
/// of unknown flags, nothing at all.
#[test]
fn hostile_cpuinfo_captures_exit_2() {
    let mut garbage = Vec::new();
    let mut x: u32 = 7;
    for _ in 0..300_000 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        garbage.push((x >> 16) as u8);
    }
    let long_line = format!("processor\t: 0\nflags\t\t: {}\n", "avx2 ".repeat(400_000));
    let unknown =
        format!("processor\t: 0\nflags\t\t: {}\n", (0..5000).map(|i| format!("zz{i}")).collect::<Vec<_>>().join(" "));
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("cpuinfo-empty", vec![], "no processor block"),
        ("cpuinfo-binary", garbage, "not UTF-8"),
        ("cpuinfo-no-colon", b"just some words\nand more\n".to_vec(), "no processor block"),
        ("cpuinfo-megabyte-line", long_line.into_bytes(), "longer than 64 KiB"),
        ("cpuinfo-unknown-flags", unknown.into_bytes(), "does not know"),
        ("cpuinfo-no-features", b"processor\t: 0\nvendor_id\t: Nobody\n".to_vec(), "cannot tell the architecture"),
        ("cpuinfo-oversize", vec![b'x'; (16 << 20) + 1], "16 MiB"),
    ];
    for (name, bytes, needle) in cases {
        let path = scratch(name, &bytes);
        for flag in ["--cpuinfo", "--cpuid"] {
            let run = ocifit(&["host", flag, path.to_str().unwrap(), "--format", "json"], None);
            assert_eq!(run.code, Some(2), "{name} {flag}: {}", run.stderr);
            assert_eq!(run.stderr.lines().count(), 1, "{name} {flag}: {}", run.stderr);
            assert!(run.stderr.len() < 400 && run.stderr.contains(name), "{name} {flag}: {}", run.stderr);
            if flag == "--cpuinfo" {
                assert!(run.stderr.contains(needle), "{name}: {:?} not in {}", needle, run.stderr);
            }
        }
    }
}

/// References that cannot name an image: exit 2 before any network use.
#[test]
fn hostile_references_exit_2() {
    let long = format!("docker://registry.example/{}:tag", "a/".repeat(20_000));
    let cases: &[&str] = &[
        "docker://",
        "docker://UPPER/case",
        "docker://repo:tag:tag",
        "docker://repo@sha256:abc",
        "docker://repo@sha256:../../../../etc/passwd",
        "docker://repo@md5:d41d8cd98f00b204e9800998ecf8427e",
        "docker://[::1/repo",
        "docker://host:99999999/repo",
        "docker://re po",
        "docker://-leading/dash",
        &long,
    ];
    for reference in cases {
        let run = ocifit(&["select", reference, "--platform", "linux/amd64"], None);
        let shown: String = reference.chars().take(40).collect();
        assert_eq!(run.code, Some(2), "{shown}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{shown}: {}", run.stderr);
        assert!(run.stderr.len() < 400, "{shown}: error echoes the input");
    }
}

/// OCI layouts whose index.json points outside the layout, or at blobs by
/// anything but a well-formed digest: refused, never opened as a path.
#[test]
fn hostile_layouts_exit_2() {
    let root = std::env::temp_dir().join(format!("ocifit-hostile-layouts-{}", std::process::id()));
    let secret = root.join("secret.json");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(&secret, br#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let digests = [
        "sha256:../../secret.json",
        "sha256:/etc/passwd",
        "../secret.json",
        "sha256:ABCDEF0000000000000000000000000000000000000000000000000000000000",
        "sha256:00",
        "sha512:0000000000000000000000000000000000000000000000000000000000000000",
        "sha256:0000000000000000000000000000000000000000000000000000000000000000/../../../secret.json",
    ];
    for (i, digest) in digests.iter().enumerate() {
        let layout = root.join(format!("layout-{i}"));
        std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
        std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.index.v1+json", "digest": digest, "size": 36,
            "annotations": {"org.opencontainers.image.ref.name": "v1"}}]});
        std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
        let arg = format!("oci:{}:v1", layout.display());
        let run = ocifit(&["select", &arg, "--platform", "linux/amd64"], None);
        assert_eq!(run.code, Some(2), "{digest}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{digest}: {}", run.stderr);
        assert!(run.stderr.contains("digest") || run.stderr.contains("blob"), "{digest}: {}", run.stderr);
    }
    // index.json itself missing, a directory, or garbage.
    let empty = root.join("not-a-layout");
    std::fs::create_dir_all(&empty).unwrap();
    let run = ocifit(&["select", &format!("oci:{}", empty.display()), "--platform", "linux/amd64"], None);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    std::fs::remove_dir_all(&root).unwrap();
}

/// A layout with tag `v1` (an index listing one image) and tag `img` (that
/// image's manifest, whose platform comes from its config blob); returns
/// the layout and the paths of the index, manifest and config blobs.
fn layout_with_blobs(root: &std::path::Path, name: &str) -> (PathBuf, [PathBuf; 3]) {
    use sha2::Digest as _;
    let dir = root.join(name);
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let store = |bytes: &[u8]| {
        let hex = format!("{:x}", sha2::Sha256::digest(bytes));
        let path = dir.join("blobs/sha256").join(&hex);
        std::fs::write(&path, bytes).unwrap();
        (serde_json::json!({"digest": format!("sha256:{hex}"), "size": bytes.len()}), path)
    };
    let (mut config, config_path) = store(br#"{"os":"linux","architecture":"amd64"}"#);
    config["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                                      "config": config, "layers": []});
    let (mut image, manifest_path) = store(manifest.to_string().as_bytes());
    image["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    let mut entry = image.clone();
    entry["platform"] = serde_json::json!({"os": "linux", "architecture": "amd64"});
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [entry]});
    let (mut listed, index_path) = store(index.to_string().as_bytes());
    listed["mediaType"] = "application/vnd.oci.image.index.v1+json".into();
    listed["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "v1"});
    image["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "img"});
    let top = serde_json::json!({"schemaVersion": 2, "manifests": [listed, image]});
    std::fs::write(dir.join("index.json"), top.to_string()).unwrap();
    (dir, [index_path, manifest_path, config_path])
}

/// Issue 12 item 5: FIFOs, a device node (`/dev/zero`'s) and symbolic
/// links out of the layout in the place of `index.json`, `oci-layout`, a
/// blob, the config blob or the blob directory: `select` ends at once with exit 2 and one line saying
/// what was found; it never hangs, never reads what a link points to, and
/// the error does not tell the size of the file outside.
#[test]
fn hostile_layout_files_are_read_only_as_regular_files_inside_the_layout() {
    let root = std::env::temp_dir().join(format!("ocifit-hostile-layout-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).unwrap();
    let secret = root.join("secret");
    std::fs::write(&secret, vec![b'{'; 123_457]).unwrap();
    let fifo = |path: &std::path::Path| {
        std::fs::remove_file(path).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
    };
    let link = |to: &std::path::Path, path: &std::path::Path| {
        std::fs::remove_file(path).unwrap();
        std::os::unix::fs::symlink(to, path).unwrap();
    };
    let cases: [(&str, &str, &str); 9] = [
        ("index-json-fifo", "v1", "FIFO"),
        ("oci-layout-fifo", "v1", "FIFO"),
        ("index-blob-fifo", "v1", "FIFO"),
        ("config-blob-fifo", "img", "FIFO"),
        ("config-blob-is-dev-zero", "img", "character device"),
        ("index-blob-links-outside", "v1", "symbolic link"),
        ("index-json-links-to-dev-zero", "v1", "symbolic link"),
        ("blob-directory-links-outside", "v1", "symbolic link"),
        ("blobs-is-a-fifo", "v1", "FIFO"),
    ];
    for (name, tag, needle) in cases {
        let (dir, [index_blob, _, config_blob]) = layout_with_blobs(&root, name);
        match name {
            "index-json-fifo" => fifo(&dir.join("index.json")),
            "oci-layout-fifo" => fifo(&dir.join("oci-layout")),
            "index-blob-fifo" => fifo(&index_blob),
            "config-blob-fifo" => fifo(&config_blob),
            "config-blob-is-dev-zero" => {
                std::fs::remove_file(&config_blob).unwrap();
                let made = std::process::Command::new("mknod").arg(&config_blob).args(["c", "1", "5"]).status();
                assert!(made.unwrap().success(), "mknod (as root) makes the device node this case needs");
            }
            "index-blob-links-outside" => {
                std::fs::copy(&index_blob, &secret).unwrap();
                std::fs::OpenOptions::new().append(true).open(&secret).unwrap().set_len(123_457).unwrap();
                link(&secret, &index_blob)
            }
            "index-json-links-to-dev-zero" => link(std::path::Path::new("/dev/zero"), &dir.join("index.json")),
            "blob-directory-links-outside" => {
                let outside = root.join(format!("{name}-outside"));
                std::fs::rename(dir.join("blobs/sha256"), &outside).unwrap();
                std::os::unix::fs::symlink(&outside, dir.join("blobs/sha256")).unwrap();
            }
            _ => {
                std::fs::remove_dir_all(dir.join("blobs")).unwrap();
                assert!(std::process::Command::new("mkfifo").arg(dir.join("blobs")).status().unwrap().success());
            }
        }
        let started = std::time::Instant::now();
        let run = ocifit(&["select", &format!("oci:{}:{tag}", dir.display()), "--platform", "linux/amd64"], None);
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{name}: took {:?}", started.elapsed());
        assert_eq!(run.code, Some(2), "{name}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{name}: {}", run.stderr);
        assert!(run.stderr.contains(needle), "{name}: {needle:?} not in {}", run.stderr);
        assert!(run.stderr.len() < 400 && !run.stderr.contains("123457"), "{name}: {}", run.stderr);
    }
    std::fs::remove_dir_all(&root).unwrap();
}
