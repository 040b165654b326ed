//! `ocifit index create`, `index add --image` and `index push` into OCI
//! layouts, end to end: three builds of one program (generic, v3, v4; one
//! in another layout), assembled into one index in a new layout, selected
//! per target, and copied by skopeo. Also the dry run, a missing image
//! (nothing written) and the only-fallback guard. (Registries:
//! tests/registry/authoring.rs.)

use std::path::{Path, PathBuf};
use std::process::Command;

mod common;
#[path = "common/images.rs"]
mod images;
use common::{Run, ocifit};
use images::{build_image, marker_in_layout};
use serde_json::Value;

/// The level names of the builds (-march=x86-64-v3, -march=x86-64-v4).
const V3: &str = "x86-64-v3";
const V4: &str = "x86-64-v4";

fn ok(run: &Run) {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocifit-authoring-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn oci(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

struct Builds {
    /// A fresh directory holding everything of one test.
    root: PathBuf,
    /// Where the test writes its index (not created).
    release: PathBuf,
    dir: PathBuf,
    other: PathBuf,
    generic: String,
    v3: String,
    v4: String,
}

/// The three builds in a fresh directory named `name`: generic and v3 in
/// one layout, v4 in another.
fn builds(name: &str) -> Builds {
    let root = temp(name);
    let release = root.join("release");
    let dir = root.join("builds");
    let other = root.join("other-builds");
    let generic = build_image(&dir, "generic", "built with -march=x86-64", "linux", "amd64");
    let v3 = build_image(&dir, "v3", "built with -march=x86-64-v3", "linux", "amd64");
    let v4 = build_image(&other, "v4", "built with -march=x86-64-v4", "linux", "amd64");
    Builds { root, release, dir, other, generic, v3, v4 }
}

fn selected(index: &str, platform: &str) -> String {
    let run = ocifit(&["select", index, "--platform", platform, "--format", "json"], None);
    ok(&run);
    run.json()["selected"]["digest"].as_str().unwrap().to_string()
}

#[test]
fn authoring_into_a_layout_end_to_end() {
    let b = builds("e2e");
    let (root, release) = (&b.root, &b.release);
    let run = ocifit(&["index", "create", &oci(&b.dir, "generic"), "--push", &oci(release, "1.0")], None);
    ok(&run);
    assert!(run.stdout.starts_with(&format!("oci:{}@sha256:", release.display())), "{}", run.stdout);
    let run = ocifit(
        &[
            "index",
            "add",
            &oci(release, "1.0"),
            "--image",
            &oci(&b.dir, "v3"),
            "--features",
            V3,
            "--push",
            &oci(release, "1.0"),
        ],
        None,
    );
    ok(&run);
    assert!(run.stderr.contains("copied blob") && run.stderr.contains("added entry 1"), "{}", run.stderr);
    let run = ocifit(
        &["index", "add", &oci(release, "1.0"), "--image", &oci(&b.other, "v4"), "--features", V4, "--in-place"],
        None,
    );
    ok(&run);
    let index = oci(release, "1.0");
    // The generic build first, then the specialised ones; lint clean.
    let lint = ocifit(&["lint", &index], None);
    assert_eq!(lint.code, Some(0), "{}{}", lint.stdout, lint.stderr);
    for (platform, want, marker) in [
        ("linux/amd64", &b.generic, "built with -march=x86-64"),
        ("linux/amd64/v3", &b.v3, "built with -march=x86-64-v3"),
        ("linux/amd64/v4", &b.v4, "built with -march=x86-64-v4"),
    ] {
        let got = selected(&index, platform);
        assert_eq!(&got, want, "{platform}");
        // Everything the image needs is in the release layout itself.
        assert_eq!(marker_in_layout(release, &got), marker, "{platform}");
    }
    // An index as IMAGE contributes its entries, and its images come along.
    let mirror = b.root.join("mirror");
    ok(&ocifit(&["index", "create", &index, "--push", &oci(&mirror, "1.0")], None));
    let mirrored = oci(&mirror, "1.0");
    assert_eq!(selected(&mirrored, "linux/amd64/v4"), b.v4);
    assert_eq!(marker_in_layout(&mirror, &b.v4), "built with -march=x86-64-v4");
    // Other tools can copy the result: skopeo takes every image along.
    images_require("skopeo");
    let copy = root.join("copy");
    let out = Command::new("skopeo").args(["copy", "--all", &index, &oci(&copy, "1.0")]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::remove_dir_all(root).unwrap();
}

fn images_require(tool: &str) {
    let found = std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()));
    assert!(found, "{tool} is not installed: scripts/test.sh installs it (apt)");
}

#[test]
fn dry_run_says_what_would_be_copied_and_writes_nothing() {
    let b = builds("dry");
    let (root, release) = (&b.root, &b.release);
    let run = ocifit(
        &[
            "index",
            "create",
            &oci(&b.dir, "generic"),
            &oci(&b.other, "v4"),
            "--dry-run",
            "--push",
            &oci(release, "1.0"),
        ],
        None,
    );
    ok(&run);
    // The final document on stdout.
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["manifests"][0]["digest"], b.generic.as_str());
    assert_eq!(doc["manifests"][1]["digest"], b.v4.as_str());
    for needle in
        ["would copy blob", &format!("would copy manifest {}", b.v4), "would push index sha256:", "would list entry 0"]
    {
        assert!(run.stderr.contains(needle), "{needle:?} not in {}", run.stderr);
    }
    assert!(!release.exists(), "a dry run wrote {}", release.display());
    // An edit's dry run: a diff, and "would add".
    ok(&ocifit(&["index", "create", &oci(&b.dir, "generic"), "--push", &oci(release, "1.0")], None));
    let before = std::fs::read(release.join("index.json")).unwrap();
    let run = ocifit(
        &[
            "index",
            "add",
            &oci(release, "1.0"),
            "--image",
            &oci(&b.dir, "v3"),
            "--features",
            "avx2",
            "--dry-run",
            "--push",
            &oci(release, "1.0"),
        ],
        None,
    );
    ok(&run);
    assert!(run.stdout.contains("+        \"features\": ["), "{}", run.stdout);
    assert!(run.stderr.contains("would add entry 1") && run.stderr.contains("would copy blob"), "{}", run.stderr);
    assert_eq!(std::fs::read(release.join("index.json")).unwrap(), before);
    assert!(!release.join("blobs/sha256").join(&b.v3[7..]).exists());
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn a_missing_image_is_named_and_nothing_is_written() {
    let b = builds("missing");
    let (root, release) = (&b.root, &b.release);
    let missing = oci(&b.dir, "v5");
    let run = ocifit(&["index", "create", &oci(&b.dir, "generic"), &missing, "--push", &oci(release, "1.0")], None);
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("image {missing}: no tag \"v5\"")), "{}", run.stderr);
    assert_eq!(run.stdout, "");
    assert!(!release.exists());
    // A manifest file has no blobs: refused, naming it.
    let file = root.join("manifest.json");
    std::fs::copy(b.dir.join("blobs/sha256").join(&b.generic[7..]), &file).unwrap();
    let run = ocifit(&["index", "create", file.to_str().unwrap()], None);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("a manifest file has no blobs"), "{}", run.stderr);
    std::fs::remove_dir_all(root).unwrap();
}

/// docs/editing.md: removing or giving features to the only fallback of a
/// platform is refused (exit 1) unless --force.
#[test]
fn s14_15_the_only_fallback_is_kept_unless_forced() {
    let b = builds("fallback");
    let (root, release) = (&b.root, &b.release);
    let index = oci(release, "1.0");
    ok(&ocifit(&["index", "create", &oci(&b.dir, "generic"), "--push", &index], None));
    let v3 = oci(&b.dir, "v3");
    ok(&ocifit(&["index", "add", &index, "--image", &v3, "--features", "avx2", "--push", &index], None));
    let out = root.join("out.json");
    for args in [vec!["remove", "--entry", "0"], vec!["set-features", "--entry", "0", "--features", "avx2"]] {
        let mut full = vec!["index", args[0], &index];
        full.extend(&args[1..]);
        full.extend(["-o", out.to_str().unwrap()]);
        let run = ocifit(&full, None);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("only fallback") && run.stderr.contains("--force"), "{}", run.stderr);
        assert!(!out.exists());
        full.push("--force");
        ok(&ocifit(&full, None));
        std::fs::remove_file(&out).unwrap();
    }
    std::fs::remove_dir_all(root).unwrap();
}

#[test]
fn push_a_file_into_a_layout_once_its_images_are_there() {
    let b = builds("push");
    let root = &b.root;
    let file = root.join("index.json");
    let run =
        ocifit(&["index", "create", &oci(&b.dir, "generic"), &oci(&b.dir, "v3"), "-o", file.to_str().unwrap()], None);
    ok(&run);
    // Into the layout that holds the images: fine.
    let run = ocifit(&["index", "push", file.to_str().unwrap(), &oci(&b.dir, "1.0")], None);
    ok(&run);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(run.stdout, format!("oci:{}@{}\n", b.dir.display(), images::sha256(&bytes)));
    assert_eq!(selected(&oci(&b.dir, "1.0"), "linux/amd64"), b.generic);
    // Into one that lacks them: refused, listing them.
    let run = ocifit(&["index", "push", file.to_str().unwrap(), &oci(&b.other, "1.0")], None);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains(&b.generic) && run.stderr.contains(&b.v3), "{}", run.stderr);
    let run = ocifit(&["index", "push", file.to_str().unwrap(), &oci(&b.other, "1.0"), "--dry-run"], None);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("nothing would be pushed"), "{}", run.stderr);
    std::fs::remove_dir_all(root).unwrap();
}

/// `index add` on a tag that names a single image: the image becomes the
/// first entry of a new index (written with --push or -o, not in place).
#[test]
fn add_to_a_single_image_makes_an_index() {
    let b = builds("single");
    let (root, release) = (&b.root, &b.release);
    let generic = oci(&b.dir, "generic");
    let v3 = oci(&b.dir, "v3");
    let run =
        ocifit(&["index", "add", &generic, "--image", &v3, "--features", "avx2", "--push", &oci(release, "1.0")], None);
    ok(&run);
    assert_eq!(selected(&oci(release, "1.0"), "linux/amd64"), b.generic);
    assert_eq!(selected(&oci(release, "1.0"), "linux/amd64/v3"), b.v3);
    for (args, hint) in [
        (vec!["index", "add", &generic, "--image", &v3, "--features", "avx2", "--in-place"], true),
        (vec!["index", "remove", &generic, "--entry", "0"], false),
    ] {
        let run = ocifit(&args, None);
        assert_eq!(run.code, Some(2), "{args:?}");
        assert!(run.stderr.contains("names a single image manifest, not an index"), "{}", run.stderr);
        assert_eq!(run.stderr.contains("write the new index with -o or --push"), hint, "{}", run.stderr);
    }
    std::fs::remove_dir_all(root).unwrap();
}

/// What `add --image` and `index push` write lints clean of errors, even
/// when SOURCE had one; `--variant` sets the new entry's variant; an index
/// with several entries is not one image.
#[test]
fn authoring_writes_lint_clean_indexes() {
    let b = builds("lint-clean");
    let broken = b.root.join("broken.json");
    // An entry that needs features before its platform's fallback: lint's unsafe-order error.
    let entry = |digest: &str, platform: Value| serde_json::json!({"mediaType": images::OCI_MANIFEST, "digest": digest, "size": 397, "platform": platform});
    let needy = entry(&b.v3, serde_json::json!({"os": "linux", "architecture": "amd64", "features": ["avx2"]}));
    let fallback = entry(&b.generic, serde_json::json!({"os": "linux", "architecture": "amd64"}));
    let doc = serde_json::json!({"schemaVersion": 2, "manifests": [needy, fallback]});
    std::fs::write(&broken, serde_json::to_vec(&doc).unwrap()).unwrap();
    let broken = broken.to_str().unwrap();
    let v3 = oci(&b.dir, "v3");
    for args in [
        vec!["index", "add", broken, "--image", &oci(&b.other, "v4"), "--features", "avx512f"],
        vec!["index", "push", broken, "oci:/nonexistent/layout:1"],
    ] {
        let run = ocifit(&args, None);
        assert_eq!(run.code, Some(1), "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("refused: the index would not lint clean: error[unsafe-order]"), "{}", run.stderr);
        assert_eq!(run.stdout, "");
    }
    // --variant: the new entry's own.
    let index = oci(&b.release, "1.0");
    ok(&ocifit(&["index", "create", &oci(&b.dir, "generic"), "--push", &index], None));
    let run = ocifit(&["index", "add", &index, "--image", &v3, "--variant", "v3"], None);
    ok(&run);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(
        doc["manifests"][1]["platform"],
        serde_json::json!({"os": "linux", "architecture": "amd64", "variant": "v3"})
    );
    // An index is not one image.
    ok(&ocifit(&["index", "add", &index, "--image", &v3, "--features", "avx2", "--in-place"], None));
    let run = ocifit(&["index", "add", &index, "--image", &index, "--features", "avx2"], None);
    assert_eq!(run.code, Some(2));
    assert!(run.stderr.contains("is an index with 2 entries; name one image"), "{}", run.stderr);
    std::fs::remove_dir_all(&b.root).unwrap();
}

/// Issue 14 item 10: `index create --push` and `index push` with `--format
/// json`: the uploads a dry run lists are the ones then made, each blob
/// and manifest is in the target layout with the size said, and the output
/// names the index stored under the tag.
#[test]
fn s14_10_authoring_reports_uploads_in_json() {
    let b = builds("json");
    let (root, release) = (&b.root, &b.release);
    let create = |dry_run: bool| {
        let mut args = vec!["index", "create", "--format", "json", "--push"];
        let (generic, v4, target) = (oci(&b.dir, "generic"), oci(&b.other, "v4"), oci(release, "1.0"));
        args.extend([target.as_str(), generic.as_str(), v4.as_str()]);
        if dry_run {
            args.push("--dry-run");
        }
        let run = ocifit(&args, None);
        ok(&run);
        assert_eq!(run.stderr, "");
        run.json()
    };
    let planned = create(true);
    assert!(!release.exists(), "a dry run wrote {}", release.display());
    let done = create(false);
    assert_eq!(planned["uploads"], done["uploads"]);
    assert_eq!((planned["dryRun"].clone(), done["dryRun"].clone()), (Value::Bool(true), Value::Bool(false)));
    let stored = std::fs::read(release.join("blobs/sha256").join(&done["outputs"][0]["digest"].as_str().unwrap()[7..]));
    let stored = stored.expect("the index is stored in the layout");
    let want = serde_json::json!([{"kind": "layout", "reference": oci(release, "1.0"), "digest": images::sha256(&stored),
                                   "size": stored.len(), "written": true}]);
    assert_eq!(done["outputs"], want);
    assert_eq!(planned["outputs"][0]["digest"], want[0]["digest"]);
    let index: Value = serde_json::from_slice(&stored).unwrap();
    let uploads = done["uploads"].as_array().unwrap();
    for (i, entry) in index["manifests"].as_array().unwrap().iter().enumerate() {
        let change = &done["changes"][i];
        assert_eq!(
            (&change["action"], &change["index"], &change["digest"]),
            (&"add".into(), &i.into(), &entry["digest"])
        );
        let from = if entry["digest"] == b.v4.as_str() { &b.other } else { &b.dir };
        assert!(
            uploads.iter().any(|u| u["kind"] == "manifest"
                && u["digest"] == entry["digest"]
                && u["from"] == format!("oci:{}", from.display())),
            "{entry} not copied: {uploads:?}"
        );
    }
    for u in uploads {
        assert_eq!((&u["action"], &u["to"]), (&"copy".into(), &format!("oci:{}", release.display()).into()), "{u}");
        let blob = std::fs::metadata(release.join("blobs/sha256").join(&u["digest"].as_str().unwrap()[7..])).unwrap();
        assert_eq!(u["size"], blob.len(), "{u}");
    }
    assert!(uploads.iter().filter(|u| u["kind"] == "blob").count() >= 4, "{uploads:?}");
    // `index push` of the same bytes: nothing to upload, the same digest.
    let file = root.join("index.json");
    std::fs::write(&file, &stored).unwrap();
    let run = ocifit(&["index", "push", file.to_str().unwrap(), &oci(release, "2.0"), "--format", "json"], None);
    ok(&run);
    let pushed = run.json();
    assert_eq!(pushed["outputs"][0]["digest"], want[0]["digest"]);
    assert_eq!(pushed["outputs"][0]["reference"], oci(release, "2.0"));
    assert_eq!(pushed["uploads"], serde_json::json!([]));
    std::fs::remove_dir_all(root).unwrap();
}
