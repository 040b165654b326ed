//! `ocifit index` end to end on files, stdin and OCI layouts: where the
//! result goes (stdout, -o, --dry-run, --in-place), exit codes (0 done, 1
//! refused, 2 bad input), and layouts written in place keeping every other
//! tag, with an interrupted write leaving the old layout valid.
//! (Registries: tests/registry/index_edit.rs.)

use std::path::{Path, PathBuf};
use std::process::Command;

use ocifit_lint::Linter;
use ocifit_source::layout::write::LOCK_FILE;
use ocifit_source::{Digest, Source};
mod common;
use common::{Run, ocifit};
use serde_json::{Value, json};

fn ok(run: &Run) {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
}

/// Exit `code`, nothing on stdout, one `ocifit:` line on stderr naming every needle.
fn fails(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(run.code, Some(code), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert_eq!(run.stdout, "");
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
    for n in needles {
        assert!(run.stderr.contains(n), "{n:?} not in {}", run.stderr);
    }
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocifit-index-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// An index in compact JSON with everything an edit must keep: unknown
/// keys at every level, annotations in non-sorted order, subject,
/// artifactType.
fn index_text() -> String {
    format!(
        r#"{{"schemaVersion":2,"mediaType":"{INDEX}","artifactType":"application/x.example","manifests":[{{"mediaType":"{MANIFEST}","digest":"{}","size":501,"platform":{{"os":"linux","architecture":"amd64","x-p":1}},"annotations":{{"z":"last","a":"first"}},"x-entry":[1,2]}},{{"mediaType":"{MANIFEST}","digest":"{}","size":502,"platform":{{"os":"linux","architecture":"arm64"}}}}],"subject":{{"mediaType":"{MANIFEST}","digest":"{}","size":3}},"annotations":{{"org.example.z":"1","org.example.a":"2"}},"x-top":null}}"#,
        digest(1),
        digest(2),
        digest(9)
    )
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

/// `DIR/unordered.json`: index_text() with an AVX-512 amd64 entry first, an
/// arm64 one, then the amd64 fallback (fix-order moves it first). Its path
/// and document.
fn write_unordered(dir: &Path) -> (PathBuf, Value) {
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"] = json!([
        {"mediaType": MANIFEST, "digest": digest(3), "size": 3, "platform": {"os": "linux", "architecture": "amd64", "features": ["avx512f"]}},
        {"mediaType": MANIFEST, "digest": digest(2), "size": 2, "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": MANIFEST, "digest": digest(1), "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
    ]);
    let path = dir.join("unordered.json");
    std::fs::write(&path, text(&doc)).unwrap();
    (path, doc)
}

fn lint_errors(doc: &Value) -> usize {
    Linter::new().lint(doc.clone()).iter().filter(|d| d.severity == ocifit_lint::Severity::Error).count()
}

#[test]
fn add_prints_the_index_with_a_copy_and_keeps_everything_else() {
    let dir = temp("add");
    let path = dir.join("index.json");
    std::fs::write(&path, index_text()).unwrap();
    let run = ocifit(
        &["index", "add", path.to_str().unwrap(), "--digest", &digest(1), "--features", "AVX2,bmi2,sse4.2,avx2"],
        None,
    );
    ok(&run);
    assert!(run.stdout.starts_with("{\n  \"schemaVersion\": 2,\n") && run.stdout.ends_with("}\n"), "{}", run.stdout);
    assert!(run.stderr.contains("added entry 1"), "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    let input: Value = serde_json::from_str(&index_text()).unwrap();
    // The new entry: a copy of entry 0 (keys in order) with canonical, de-duplicated features.
    let mut want = input["manifests"][0].clone();
    want["platform"]["features"] = json!(["avx2", "bmi2", "sse4_2"]);
    assert_eq!(text(&out["manifests"][1]), text(&want));
    // Everything else: the same values in the same order.
    let mut back = out.clone();
    back["manifests"].as_array_mut().unwrap().remove(1);
    assert_eq!(text(&back), text(&input));
    assert_eq!(lint_errors(&out), 0);
}

#[test]
fn output_file_dry_run_and_stdin() {
    let dir = temp("outputs");
    let path = dir.join("index.json");
    std::fs::write(&path, index_text()).unwrap();
    let p = path.to_str().unwrap();
    let out = dir.join("out.json");
    // Entry 1 is the only linux/arm64 entry: giving it features needs --force.
    let out_arg = out.to_str().unwrap();
    let run =
        ocifit(&["index", "set-features", p, "--entry", "1", "--features", "sve2", "-o", out_arg, "--force"], None);
    ok(&run);
    assert_eq!(run.stdout, "");
    let written: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(written["manifests"][1]["platform"]["features"], json!(["sve2"]));

    // --dry-run: a unified diff, and the input untouched.
    let run = ocifit(&["index", "remove", p, "--entry", "1", "--dry-run"], None);
    ok(&run);
    assert!(run.stdout.starts_with(&format!("--- {p}\n+++ {p} (edited)\n@@ ")), "{}", run.stdout);
    assert!(run.stdout.lines().any(|l| l == format!("-      \"digest\": \"{}\",", digest(2))), "{}", run.stdout);
    assert!(!run.stdout.lines().any(|l| l.starts_with('+') && !l.starts_with("+++")), "{}", run.stdout);
    assert_eq!(std::fs::read_to_string(&path).unwrap(), index_text());
    assert!(run.stderr.starts_with("ocifit: would remove entry 1 (linux/arm64"), "{}", run.stderr);

    // stdin, and -o onto the input file itself.
    let run = ocifit(&["index", "remove", "-", "--entry", "0"], Some(index_text().as_bytes()));
    ok(&run);
    assert_eq!(serde_json::from_str::<Value>(&run.stdout).unwrap()["manifests"].as_array().unwrap().len(), 1);
    ok(&ocifit(&["index", "remove", p, "--entry", "0", "-o", p], None));
    let after: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(after["manifests"][0]["digest"], json!(digest(2)));
}

/// Issue 14 item 15: a dry run says what it would do, in "would" words, and
/// writes nothing (the diff is on stdout, the words on stderr).
#[test]
fn s14_15_dry_run_says_would() {
    let dir = temp("would");
    let path = dir.join("index.json");
    std::fs::write(&path, index_text()).unwrap();
    let p = path.to_str().unwrap();
    let d1 = digest(1);
    let (unordered, doc) = write_unordered(&dir);
    let u = unordered.to_str().unwrap();
    let cases: &[(&[&str], &str)] = &[
        (&["add", p, "--digest", &d1, "--features", "avx2"], "would add entry 1: "),
        (
            &["set-features", p, "--entry", "1", "--features", "sve2", "--force"],
            "would set the features of entry 1 (linux/arm64) to sve2",
        ),
        (
            &["set-features", u, "--entry", "0", "--clear"],
            "would remove the features of entry 0 (linux/amd64, features avx512f)",
        ),
        (&["remove", p, "--entry", "1"], "would remove entry 1 (linux/arm64)"),
        (
            &["fix-order", u],
            "would move linux/amd64 fallback entry 2 before the entries that need features \
             (positions 0, 2 would then hold entries 2, 0)",
        ),
    ];
    // Nothing to change: said as a plan too, and no diff.
    let run = ocifit(&["index", "fix-order", p, "--dry-run"], None);
    ok(&run);
    assert_eq!(run.stderr, "ocifit: every fallback already comes first: nothing would move\n");
    for (args, want) in cases {
        let mut full = vec!["index"];
        full.extend_from_slice(args);
        full.push("--dry-run");
        let run = ocifit(&full, None);
        ok(&run);
        assert!(run.stdout.contains("(edited)"), "{args:?}: {}", run.stdout);
        assert_eq!(
            run.stderr
                .lines()
                .next()
                .unwrap_or_default()
                .strip_prefix("ocifit: ")
                .unwrap_or_default()
                .get(..want.len()),
            Some(*want),
            "{args:?}: {}",
            run.stderr
        );
        assert_eq!(std::fs::read_to_string(&path).unwrap(), index_text());
        assert_eq!(std::fs::read_to_string(&unordered).unwrap(), text(&doc));
    }
}

#[test]
fn nothing_to_change_gives_back_the_input_bytes() {
    let dir = temp("same");
    let path = dir.join("index.json");
    std::fs::write(&path, index_text()).unwrap();
    let run = ocifit(&["index", "fix-order", path.to_str().unwrap()], None);
    ok(&run);
    assert_eq!(run.stdout, index_text());
    assert!(run.stderr.contains("nothing moved"), "{}", run.stderr);
    let run = ocifit(&["index", "fix-order", path.to_str().unwrap(), "--dry-run"], None);
    ok(&run);
    assert_eq!(run.stdout, "");
}

#[test]
fn fix_order_moves_the_fallback_first_and_lints_clean() {
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"] = json!([
        {"mediaType": MANIFEST, "digest": digest(3), "size": 3, "platform": {"os": "linux", "architecture": "amd64", "features": ["avx512f"]}},
        {"mediaType": MANIFEST, "digest": digest(2), "size": 2, "platform": {"os": "linux", "architecture": "arm64"}},
        {"mediaType": MANIFEST, "digest": digest(1), "size": 1, "platform": {"os": "linux", "architecture": "amd64"}},
    ]);
    assert!(lint_errors(&doc) > 0);
    let run = ocifit(&["index", "fix-order", "-"], Some(text(&doc).as_bytes()));
    ok(&run);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    let order: Vec<&str> = out["manifests"].as_array().unwrap().iter().map(|e| e["digest"].as_str().unwrap()).collect();
    assert_eq!(order, [digest(1), digest(2), digest(3)]);
    assert_eq!(lint_errors(&out), 0);
}

#[test]
fn errors_name_the_problem_and_exit_2_or_1() {
    let dir = temp("errors");
    let path = dir.join("index.json");
    std::fs::write(&path, index_text()).unwrap();
    let p = path.to_str().unwrap();
    let d1 = digest(1);
    fails(&ocifit(&["index", "remove", p, "--entry", "7"], None), 2, &[p, "entry 7 is out of range", "2 entries"]);
    fails(
        &ocifit(&["index", "add", p, "--digest", &digest(7), "--features", "avx2"], None),
        2,
        &["no entry has digest"],
    );
    fails(&ocifit(&["index", "add", p, "--digest", &d1, "--features", "avx9000"], None), 2, &["\"avx9000\"", "amd64"]);
    fails(&ocifit(&["index", "add", p, "--digest", &d1, "--features", "sve"], None), 2, &["\"sve\"", "arm64"]);
    fails(&ocifit(&["index", "fix-order", p, "--in-place"], None), 2, &["--in-place", "not an OCI layout"]);
    fails(&ocifit(&["index", "fix-order", p, "--push", "docker://127.0.0.1:1/x"], None), 2, &["tag or digest"]);
    fails(&ocifit(&["index", "fix-order", &dir.join("missing.json").to_string_lossy()], None), 2, &["no such file"]);
    // A usage error from clap is exit 2 as well.
    assert_eq!(ocifit(&["index", "set-features", p, "--entry", "0"], None).code, Some(2));

    // Ambiguous digest: listed for two platforms.
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"][1]["digest"] = json!(d1);
    doc["manifests"][1]["platform"] = json!({"os": "linux", "architecture": "amd64", "variant": "v3"});
    let amb = text(&doc);
    fails(
        &ocifit(&["index", "add", "-", "--digest", &d1, "--features", "avx512f"], Some(amb.as_bytes())),
        2,
        &["several platforms", "entry 0 (linux/amd64)", "entry 1 (linux/amd64/v3)", "--variant"],
    );
    let run = ocifit(
        &["index", "add", "-", "--digest", &d1, "--features", "avx512f", "--variant", "v3"],
        Some(amb.as_bytes()),
    );
    ok(&run);

    // Refused (exit 1): features on the fallback that a later fallback backs up.
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"][1]["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let run =
        ocifit(&["index", "set-features", "-", "--entry", "0", "--features", "avx2"], Some(text(&doc).as_bytes()));
    fails(&run, 1, &["refused", "unsafe-order", "fix-order"]);
}

// --- OCI layouts ------------------------------------------------------------------

struct Layout {
    dir: PathBuf,
}

impl Layout {
    /// Tags `v1` (a platform index) and `other` (another index), plus an
    /// untagged entry and unknown keys in index.json.
    fn new(name: &str) -> Layout {
        let dir = temp(name);
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        let layout = Layout { dir };
        let v1 = layout.blob(index_text().as_bytes());
        let other = layout.blob(br#"{"schemaVersion":2,"manifests":[]}"#);
        let index_json = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [
            {"mediaType": INDEX, "digest": other.0, "size": other.1,
             "annotations": {"org.opencontainers.image.ref.name": "other"}},
            {"mediaType": INDEX, "digest": v1.0, "size": v1.1, "x-keep": true,
             "annotations": {"org.opencontainers.image.ref.name": "v1", "org.example.note": "kept"}},
            {"mediaType": INDEX, "digest": other.0, "size": other.1},
        ], "annotations": {"org.example": "layout"}});
        std::fs::write(layout.dir.join("index.json"), serde_json::to_vec_pretty(&index_json).unwrap()).unwrap();
        layout
    }

    fn blob(&self, bytes: &[u8]) -> (String, usize) {
        let d = Digest::sha256(bytes);
        std::fs::write(self.dir.join("blobs/sha256").join(d.hex()), bytes).unwrap();
        (d.to_string(), bytes.len())
    }

    fn arg(&self, tag: &str) -> String {
        format!("oci:{}:{tag}", self.dir.display())
    }

    fn index_json(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("index.json")).unwrap()).unwrap()
    }

    fn read(&self, tag: &str) -> Vec<u8> {
        Source::parse(&self.arg(tag)).load().unwrap().bytes
    }

    fn path(&self) -> &Path {
        &self.dir
    }
}

#[test]
fn in_place_points_the_tag_at_a_new_blob_and_keeps_other_tags() {
    let layout = Layout::new("in-place");
    let before = layout.index_json();
    let other_before = layout.read("other");
    let run =
        ocifit(&["index", "add", &layout.arg("v1"), "--digest", &digest(2), "--features", "sve", "--in-place"], None);
    ok(&run);
    let new = layout.read("v1");
    let d = Digest::sha256(&new);
    assert_eq!(run.stdout, format!("oci:{}@{d}\n", layout.path().display()));
    let doc: Value = serde_json::from_slice(&new).unwrap();
    assert_eq!(doc["manifests"][2]["platform"]["features"], json!(["sve"]));
    assert_eq!(new, {
        let mut b = serde_json::to_vec_pretty(&doc).unwrap();
        b.push(b'\n');
        b
    });
    // index.json: only the v1 entry's digest and size changed.
    let mut want = before.clone();
    want["manifests"][1]["digest"] = json!(d.to_string());
    want["manifests"][1]["size"] = json!(new.len());
    assert_eq!(text(&layout.index_json()), text(&want));
    assert_eq!(layout.read("other"), other_before);
    // A second edit works from the new state.
    ok(&ocifit(&["index", "remove", &layout.arg("v1"), "--entry", "2", "--in-place"], None));
    assert_eq!(serde_json::from_slice::<Value>(&layout.read("v1")).unwrap()["manifests"].as_array().unwrap().len(), 2);
    // Nothing to change: nothing written.
    let snapshot = std::fs::read(layout.path().join("index.json")).unwrap();
    let run = ocifit(&["index", "fix-order", &layout.arg("v1"), "--in-place"], None);
    ok(&run);
    assert!(run.stderr.contains("was not written"), "{}", run.stderr);
    assert_eq!(std::fs::read(layout.path().join("index.json")).unwrap(), snapshot);
}

/// The write is interrupted after the new blob is stored and before
/// index.json is replaced: here the layout directory is made immutable
/// (chattr +i, which stops root too), so the temporary index.json cannot be
/// created (the lock file is made beforehand, as an earlier edit would
/// have). The layout must still be the old one, complete and valid. (The
/// library test `layout::write::tests::a_failure_before_the_rename_leaves_the_old_layout`
/// fails the same step from inside.)
#[test]
fn an_interrupted_in_place_write_leaves_the_old_layout_valid() {
    let layout = Layout::new("interrupted");
    let index_before = std::fs::read(layout.path().join("index.json")).unwrap();
    let v1_before = layout.read("v1");
    std::fs::write(layout.path().join(LOCK_FILE), b"").unwrap();
    let immutable = Immutable::new(layout.path());
    let run =
        ocifit(&["index", "add", &layout.arg("v1"), "--digest", &digest(1), "--features", "avx2", "--in-place"], None);
    drop(immutable);
    fails(&run, 2, &["--in-place", "index.json: cannot write"]);
    assert_eq!(std::fs::read(layout.path().join("index.json")).unwrap(), index_before);
    assert_eq!(layout.read("v1"), v1_before);
    assert_eq!(ocifit(&["lint", &layout.arg("v1")], None).code, Some(0));
    let leftovers: Vec<String> = std::fs::read_dir(layout.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn in_place_on_an_untagged_layout_rewrites_index_json() {
    // index.json is itself the list of platforms (several entries, no tags).
    let dir = temp("top-level");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), index_text()).unwrap();
    let arg = format!("oci:{}", dir.display());
    // Entry 0 is the only linux/amd64 entry: giving it features needs --force.
    let run =
        ocifit(&["index", "set-features", &arg, "--entry", "0", "--features", "avx2", "--in-place", "--force"], None);
    ok(&run);
    assert_eq!(run.stdout, "");
    let doc: Value = serde_json::from_slice(&std::fs::read(dir.join("index.json")).unwrap()).unwrap();
    assert_eq!(
        doc["manifests"][0]["platform"],
        json!({"os": "linux", "architecture": "amd64", "x-p": 1, "features": ["avx2"]})
    );
}

// --- Hardening (docs/security.md "Layouts and local files") -------------------------------------------

impl Drop for Layout {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Layout {
    /// A tag `name` for the same index as `v1`, added to index.json.
    fn tag(&self, name: &str) -> String {
        let mut doc = self.index_json();
        let mut entry = doc["manifests"][1].clone();
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": name});
        doc["manifests"].as_array_mut().unwrap().push(entry);
        std::fs::write(self.dir.join("index.json"), serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
        self.arg(name)
    }

    fn blob_path(&self, bytes: &[u8]) -> PathBuf {
        self.dir.join("blobs/sha256").join(Digest::sha256(bytes).hex())
    }
}

/// A layout whose index.json is itself the list of platforms (no tags).
fn untagged_layout(name: &str) -> String {
    let dir = temp(name);
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), index_text()).unwrap();
    format!("oci:{}", dir.display())
}

/// Whether the index at `arg` has an entry whose features are exactly `[feature]`.
fn has_entry_with(arg: &str, feature: &str) -> bool {
    let loaded = Source::parse(arg).load().unwrap();
    loaded.index.document()["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["platform"]["features"] == json!([feature]))
}

const UNIQUE_FEATURES: [&str; 6] = ["avx2", "bmi2", "fma", "avx512f", "f16c", "aes"];

/// Issue 12 item 1: concurrent `--in-place` edits of one layout (the same
/// tag, different tags, an untagged layout), six processes at a time: each
/// is applied, or refused with exit 2; none exits 0 and is lost.
#[test]
fn in_place_concurrent_edits_are_applied_or_refused_never_lost() {
    for round in 0..4 {
        for variant in ["same-tag", "other-tags", "untagged"] {
            let layout = Layout::new(&format!("concurrent-{variant}-{round}"));
            let args: Vec<String> = match variant {
                "same-tag" => vec![layout.arg("v1"); UNIQUE_FEATURES.len()],
                "other-tags" => (0..UNIQUE_FEATURES.len()).map(|i| layout.tag(&format!("t{i}"))).collect(),
                _ => vec![untagged_layout(&format!("concurrent-untagged-{round}")); UNIQUE_FEATURES.len()],
            };
            let d1 = digest(1);
            let runs: Vec<Run> = std::thread::scope(|s| {
                let handles: Vec<_> = args
                    .iter()
                    .zip(UNIQUE_FEATURES)
                    .map(|(arg, f)| {
                        let d1 = &d1;
                        s.spawn(move || {
                            ocifit(&["index", "add", arg, "--digest", d1, "--features", f, "--in-place"], None)
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().unwrap()).collect()
            });
            for ((arg, feature), run) in args.iter().zip(UNIQUE_FEATURES).zip(&runs) {
                match run.code {
                    Some(0) => assert!(
                        has_entry_with(arg, feature),
                        "{variant}, round {round}: the edit adding {feature} exited 0 and is lost"
                    ),
                    Some(2) => assert!(
                        run.stderr.contains("changed since") || run.stderr.contains(".ocifit.lock"),
                        "{variant}: {}",
                        run.stderr
                    ),
                    _ => panic!("{variant}: exit {:?}: {}", run.code, run.stderr),
                }
            }
            if variant == "untagged" {
                let _ = std::fs::remove_dir_all(args[0].trim_start_matches("oci:"));
            }
        }
    }
}

/// Issue 12 item 2: `-o FILE` onto the input, when the write fails (the
/// file size limit is below the result's size): exit 2 with one line, the
/// input byte for byte as it was, no temporary file left. (Before, the
/// input was truncated, then the process killed by SIGXFSZ.)
#[test]
fn output_onto_the_input_survives_a_write_that_fails() {
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"][0]["platform"]["features"] = json!(["SSE4.2"]);
    let fixable = text(&doc);
    let cases: [(&str, &[&str], &str); 2] = [
        ("index-add", &["index", "add", "IN", "--digest", "DIGEST", "--features", "avx2", "-o", "IN"], &index_text()),
        ("lint-fix", &["lint", "IN", "--fix", "-o", "IN"], &fixable),
    ];
    for (name, args, input) in cases {
        let dir = temp(&format!("o-fails-{name}"));
        let path = dir.join("index.json");
        std::fs::write(&path, input).unwrap();
        let d1 = digest(1);
        let args: Vec<&str> = args
            .iter()
            .map(|a| {
                if *a == "IN" {
                    path.to_str().unwrap()
                } else if *a == "DIGEST" {
                    d1.as_str()
                } else {
                    *a
                }
            })
            .collect();
        // Without the limit the result is larger than 1 KiB (two of dash's 512-byte blocks).
        let out = dir.join("unlimited.json");
        let mut unlimited = args.clone();
        *unlimited.last_mut().unwrap() = out.to_str().unwrap();
        assert!(ocifit(&unlimited, None).code.is_some());
        assert!(std::fs::metadata(&out).unwrap().len() > 1024, "{name}");
        let run = Command::new("sh")
            .arg("-c")
            .arg("ulimit -f 2 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_ocifit"))
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{name}: {:?}: {stderr}", run.status);
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains("-o ") && stderr.contains("too large"), "{name}: {stderr}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), input, "{name}: the input changed");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{name}: {leftovers:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Issue 12 items 2 and 7: `-o FILE` (index and lint --fix) and
/// `--in-place` keep the owner (uid and gid) and mode of the file they
/// replace.
#[test]
fn output_and_in_place_keep_the_owner_and_mode_of_the_file_replaced() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"][0]["platform"]["features"] = json!(["SSE4.2"]);
    let dir = temp("owner");
    let file = dir.join("index.json");
    let fixable = dir.join("fixable.json");
    std::fs::write(&file, index_text()).unwrap();
    std::fs::write(&fixable, text(&doc)).unwrap();
    let layout = Layout::new("owner-layout");
    let (f, x, d1) = (file.to_str().unwrap(), fixable.to_str().unwrap(), digest(1));
    let cases: [(&[&str], PathBuf); 3] = [
        (&["index", "add", f, "--digest", &d1, "--features", "avx2", "-o", f], file.clone()),
        (&["lint", x, "--fix", "-o", x], fixable.clone()),
        (
            &["index", "add", &layout.arg("v1"), "--digest", &d1, "--features", "avx2", "--in-place"],
            layout.path().join("index.json"),
        ),
    ];
    for (args, replaced) in cases {
        std::os::unix::fs::chown(&replaced, Some(1234), Some(5678))
            .expect("this test needs root (or CAP_CHOWN) to give a file another owner");
        std::fs::set_permissions(&replaced, std::fs::Permissions::from_mode(0o640)).unwrap();
        let before = std::fs::read(&replaced).unwrap();
        ok(&ocifit(args, None));
        let meta = std::fs::metadata(&replaced).unwrap();
        assert_ne!(std::fs::read(&replaced).unwrap(), before, "{args:?}: not rewritten");
        assert_eq!((meta.uid(), meta.gid(), meta.mode() & 0o7777), (1234, 5678, 0o640), "{args:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Issue 12 item 3: `blobs` or `blobs/sha256` is a symbolic link to a
/// directory outside the layout: `--in-place` is refused (exit 2) and
/// nothing is written there or in the layout.
#[test]
fn in_place_never_writes_through_a_symlinked_blob_directory() {
    for link in ["blobs", "blobs/sha256"] {
        let layout = Layout::new(&format!("linked-{}", link.replace('/', "-")));
        let outside = temp(&format!("outside-{}", link.replace('/', "-")));
        let moved = outside.join("moved");
        std::fs::rename(layout.path().join(link), &moved).unwrap();
        std::os::unix::fs::symlink(&moved, layout.path().join(link)).unwrap();
        let listing = |d: &Path| {
            let mut names: Vec<String> = walk(d).into_iter().map(|p| p.display().to_string()).collect();
            names.sort();
            names
        };
        let outside_before = listing(&outside);
        let index_before = std::fs::read(layout.path().join("index.json")).unwrap();
        let run = ocifit(
            &["index", "add", &layout.arg("v1"), "--digest", &digest(1), "--features", "avx2", "--in-place"],
            None,
        );
        fails(&run, 2, &[link, "symbolic link"]);
        assert_eq!(listing(&outside), outside_before, "{link}: written outside the layout");
        assert_eq!(std::fs::read(layout.path().join("index.json")).unwrap(), index_before);
        let _ = std::fs::remove_dir_all(&outside);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if std::fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(walk(&path));
        }
        out.push(path);
    }
    out
}

/// Issue 12 item 4: something planted at the name the new index blob will
/// have (its digest is predictable) is never read as more than a regular
/// file of the blob's size: a FIFO (which hung the edit), a symbolic link
/// to `/dev/zero` (read until memory ran out) or to a file outside (whose
/// mode the blob took), a file with other bytes. It is replaced by the
/// blob, with a new file's mode, and what a link pointed at is untouched.
/// A directory there cannot be replaced: exit 2, index.json unchanged.
#[test]
fn in_place_replaces_what_is_planted_at_the_new_blob_without_reading_it() {
    use std::os::unix::fs::PermissionsExt;
    let fresh_mode = {
        let dir = RemoveOnDrop(temp("fresh-mode"));
        std::fs::write(dir.0.join("f"), b"").unwrap();
        std::fs::metadata(dir.0.join("f")).unwrap().permissions().mode() & 0o7777
    };
    for plant in ["fifo", "link-to-dev-zero", "link-outside", "other-bytes", "directory"] {
        let layout = Layout::new(&format!("planted-{plant}"));
        let d1 = digest(1);
        let edit = ["index", "add", &layout.arg("v1"), "--digest", &d1, "--features", "avx2"];
        let expected = ocifit(&edit, None);
        ok(&expected);
        let blob = layout.blob_path(expected.stdout.as_bytes());
        let outside_dir = temp(&format!("planted-outside-{plant}"));
        let outside = outside_dir.join("secret");
        std::fs::write(&outside, b"outside the layout").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o4751)).unwrap();
        match plant {
            "fifo" => assert!(Command::new("mkfifo").arg(&blob).status().unwrap().success()),
            "link-to-dev-zero" => std::os::unix::fs::symlink("/dev/zero", &blob).unwrap(),
            "link-outside" => std::os::unix::fs::symlink(&outside, &blob).unwrap(),
            "other-bytes" => {
                std::fs::write(&blob, vec![b' '; expected.stdout.len()]).unwrap();
                std::fs::set_permissions(&blob, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
            _ => std::fs::create_dir(&blob).unwrap(),
        }
        let index_before = std::fs::read(layout.path().join("index.json")).unwrap();
        let run = ocifit(&[&edit[..], &["--in-place"]].concat(), None);
        let _cleanup = RemoveOnDrop(outside_dir);
        if plant == "directory" {
            fails(&run, 2, &["blob sha256:", "cannot write"]);
            assert_eq!(std::fs::read(layout.path().join("index.json")).unwrap(), index_before);
            continue;
        }
        ok(&run);
        let meta = std::fs::symlink_metadata(&blob).unwrap();
        assert!(meta.is_file(), "{plant}: not replaced by a regular file");
        assert_eq!(meta.permissions().mode() & 0o7777, fresh_mode, "{plant}: the blob took another file's mode");
        assert_eq!(std::fs::read_to_string(&blob).unwrap(), expected.stdout, "{plant}");
        assert_eq!(layout.read("v1"), expected.stdout.as_bytes(), "{plant}");
        assert_eq!(std::fs::read(&outside).unwrap(), b"outside the layout", "{plant}");
        assert_eq!(std::fs::metadata(&outside).unwrap().permissions().mode() & 0o7777, 0o4751, "{plant}");
    }
}

/// Issue 12 item 6: the temporary files of `lint --fix -o`, `index -o` and
/// `--in-place` have unpredictable names and are created with `O_EXCL`.
/// Symbolic links planted at the names the next few thousand processes
/// would have used (`.NAME.ocifit-PID.tmp`) are never followed (their
/// target keeps its bytes), and stale temporary files of killed runs at
/// those names never block an edit.
#[test]
fn temporaries_at_predictable_names_are_never_followed_and_never_block() {
    let dir = temp("planted-temporaries");
    let victim = dir.join("victim");
    std::fs::write(&victim, b"not yours").unwrap();
    let fixable = dir.join("fixable.json");
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"][0]["platform"]["features"] = json!(["SSE4.2"]);
    std::fs::write(&fixable, text(&doc)).unwrap();
    let layout = Layout::new("planted-temporaries-layout");
    let edit = ["index", "add", &layout.arg("v1"), "--digest", &digest(1), "--features", "avx2"];
    let new_blob = ocifit(&edit, None);
    let new_blob = layout.blob_path(new_blob.stdout.as_bytes());
    // The process IDs the next runs get follow this one's.
    let next = Command::new("true").spawn().unwrap().id();
    for pid in next..next + 4000 {
        std::os::unix::fs::symlink(&victim, dir.join(format!(".fixable.json.ocifit-{pid}.tmp"))).unwrap();
        std::fs::write(layout.path().join(format!(".index.json.ocifit-{pid}.tmp")), b"stale").unwrap();
        let blob_name = format!(".{}.ocifit-{pid}.tmp", new_blob.file_name().unwrap().to_string_lossy());
        std::fs::write(new_blob.with_file_name(blob_name), b"stale").unwrap();
    }
    let f = fixable.to_str().unwrap();
    ok(&ocifit(&["lint", f, "--fix", "-o", f], None));
    assert_eq!(std::fs::read(&victim).unwrap(), b"not yours");
    assert!(std::fs::symlink_metadata(&fixable).unwrap().is_file());
    assert!(std::fs::read_to_string(&fixable).unwrap().contains("sse4_2"));
    ok(&ocifit(&[&edit[..], &["--in-place"]].concat(), None));
    assert!(has_entry_with(&layout.arg("v1"), "avx2"));
    assert!(new_blob.is_file());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A scratch directory removed when the test is done with it.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `chattr +i DIR` for as long as it lives (which stops root too).
struct Immutable<'a>(&'a Path);

impl<'a> Immutable<'a> {
    fn new(dir: &'a Path) -> Immutable<'a> {
        let done = Command::new("chattr").arg("+i").arg(dir).status().is_ok_and(|s| s.success());
        assert!(
            done,
            "chattr +i {} failed: this test needs root and e2fsprogs' chattr on a file system with the immutable flag",
            dir.display()
        );
        Immutable(dir)
    }
}

impl Drop for Immutable<'_> {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(self.0).status();
    }
}

/// A layout where nothing can be written (here an immutable directory, so
/// the lock file cannot be created): an `--in-place` edit that changes
/// nothing still succeeds, as it did before the lock; one that would
/// write fails with exit 2, saying why, and leaves the layout as it was.
#[test]
fn in_place_on_a_layout_nothing_can_be_written_to() {
    let layout = Layout::new("unwritable");
    let before = std::fs::read(layout.path().join("index.json")).unwrap();
    let _immutable = Immutable::new(layout.path());
    let run = ocifit(&["index", "fix-order", &layout.arg("v1"), "--in-place"], None);
    ok(&run);
    assert!(run.stderr.contains("was not written"), "{}", run.stderr);
    let run =
        ocifit(&["index", "add", &layout.arg("v1"), "--digest", &digest(1), "--features", "avx2", "--in-place"], None);
    fails(&run, 2, &["--in-place", ".ocifit.lock: cannot lock"]);
    assert_eq!(std::fs::read(layout.path().join("index.json")).unwrap(), before);
}

/// `-o /dev/stdout` (a link to a pipe here) is written to, as a plain
/// write would, by `index` and `lint --fix`: never replaced by a file.
#[test]
fn output_to_dev_stdout_writes_to_stdout() {
    let mut doc: Value = serde_json::from_str(&index_text()).unwrap();
    doc["manifests"][0]["platform"]["features"] = json!(["SSE4.2"]);
    let fixable = text(&doc);
    let d1 = digest(1);
    let cases: [(&[&str], &str, &str); 2] = [
        (&["index", "add", "-", "--digest", &d1, "--features", "avx2", "-o", "/dev/stdout"], &index_text(), "avx2"),
        (&["lint", "-", "--fix", "-o", "/dev/stdout"], &fixable, "sse4_2"),
    ];
    for (args, input, needle) in cases {
        let run = ocifit(args, Some(input.as_bytes()));
        ok(&run);
        assert!(run.stdout.starts_with("{\n  \"schemaVersion\": 2,") && run.stdout.contains(needle), "{}", run.stdout);
        assert!(std::fs::symlink_metadata("/dev/stdout").unwrap().file_type().is_symlink());
    }
}

/// With `--format json` the report goes to stdout, so `-o` naming stdout
/// (`/dev/stdout`, `/proc/self/fd/1`, or the file stdout is redirected to)
/// would mix the index into it: refused, exit 2, before anything is read.
/// The same `-o FILE` elsewhere still works.
#[test]
fn output_onto_stdout_with_a_json_report_is_refused() {
    let dir = temp("stdout-json");
    let d1 = digest(1);
    let add = |to: &str| -> Vec<String> {
        ["index", "add", "-", "--digest", &d1, "--features", "avx2", "-o", to, "--format", "json"]
            .map(String::from)
            .to_vec()
    };
    let lint =
        |to: &str| -> Vec<String> { ["lint", "-", "--fix", "-o", to, "--format", "json"].map(String::from).to_vec() };
    let create = |to: &str| -> Vec<String> {
        ["index", "create", "oci:/nonexistent-layout:v1", "-o", to, "--format", "json"].map(String::from).to_vec()
    };
    for args in [add("/dev/stdout"), add("/proc/self/fd/1"), lint("/dev/stdout"), create("/dev/stdout")] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = ocifit(&args, Some(index_text().as_bytes()));
        fails(&run, 2, &["-o /", "stdout", "report"]);
    }
    // stdout redirected to a file, and -o naming that file.
    let report = dir.join("report.json");
    let args = add(report.to_str().unwrap());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ocifit"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::fs::File::create(&report).unwrap())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), index_text().as_bytes()).unwrap();
    let done = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("that is stdout"), "{stderr}");
    assert_eq!(std::fs::read(&report).unwrap(), b"", "nothing written into the report");
    // /dev/null for both: nothing is mixed, so nothing is refused.
    let args = add("/dev/null");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_ocifit"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .and_then(|mut child| {
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), index_text().as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert_eq!(status.code(), Some(0), "-o /dev/null with stdout on /dev/null");
    // -o a file of its own: the index there, the report on stdout.
    let out = dir.join("out.json");
    let args = add(out.to_str().unwrap());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = ocifit(&args, Some(index_text().as_bytes()));
    ok(&run);
    assert!(run.json()["outputs"][0]["kind"] == "file", "{}", run.stdout);
    assert!(std::fs::read_to_string(&out).unwrap().contains("avx2"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Where a case of [`s14_10_index_commands_report_in_json`] writes the index.
enum To {
    Stdout,
    File(PathBuf),
    Layout(String),
}

/// A change as `--format json` names it: action, index, digest, from.
type Change = (&'static str, usize, String, Option<usize>);

/// The edit, the options saying where it goes, where that is, the changes expected.
type JsonCase = (Vec<String>, Vec<String>, To, Vec<Change>);

/// Issue 14 item 10: `--format json` on the edit commands prints one JSON
/// object and nothing on stderr; its `outputs` name each place written with
/// the sha256 and size of the very bytes text mode writes there, and its
/// `changes` name the entries of the result (a removed one: of the input).
#[test]
fn s14_10_index_commands_report_in_json() {
    let dir = temp("json");
    let path = dir.join("index.json");
    std::fs::write(&path, index_text()).unwrap();
    let p = path.to_str().unwrap().to_string();
    let out = dir.join("out.json");
    let (unordered, _) = write_unordered(&dir);
    let layout = Layout::new("json-layout");
    let v1 = layout.arg("v1");
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<String>>();
    let o = out.to_str().unwrap();
    let cases: Vec<JsonCase> = vec![
        (
            s(&["add", &p, "--digest", &digest(1), "--features", "avx2"]),
            vec![],
            To::Stdout,
            vec![("add", 1, digest(1), None)],
        ),
        (
            s(&["set-features", &p, "--entry", "1", "--features", "sve2", "--force"]),
            s(&["-o", o]),
            To::File(out.clone()),
            vec![("set", 1, digest(2), None)],
        ),
        (s(&["remove", &p, "--entry", "1"]), s(&["--dry-run"]), To::Stdout, vec![("remove", 1, digest(2), None)]),
        (
            s(&["fix-order", unordered.to_str().unwrap()]),
            vec![],
            To::Stdout,
            vec![("move", 0, digest(1), Some(2)), ("move", 2, digest(3), Some(0))],
        ),
        (s(&["fix-order", &p]), vec![], To::Stdout, vec![]),
        (
            s(&["add", &v1, "--digest", &digest(2), "--features", "sve"]),
            s(&["--in-place"]),
            To::Layout("v1".into()),
            vec![("add", 2, digest(2), None)],
        ),
        (
            s(&["set-features", &v1, "--entry", "0", "--features", "avx2", "--force"]),
            s(&["--in-place", "--dry-run"]),
            To::Layout("v1".into()),
            vec![("set", 0, digest(1), None)],
        ),
    ];
    for (edit, extra, to, want) in cases {
        let dry_run = extra.iter().any(|a| a == "--dry-run");
        let input = Source::parse(&edit[1]).load().unwrap().bytes;
        // What text mode writes for this edit (on stdout: nothing else changes).
        let mut args = vec!["index"];
        args.extend(edit.iter().map(String::as_str));
        let text_run = ocifit(&args, None);
        ok(&text_run);
        let bytes = text_run.stdout.into_bytes();
        args.extend(extra.iter().map(String::as_str));
        args.extend(["--format", "json"]);
        let run = ocifit(&args, None);
        ok(&run);
        assert_eq!(run.stderr, "", "{args:?}");
        let report = run.json();
        assert_eq!(report["dryRun"], json!(dry_run), "{args:?}");
        assert_eq!(report["changed"], json!(bytes != input), "{args:?}");
        let (kind, reference, stored) = match &to {
            To::Stdout => ("stdout", None, None),
            To::File(f) => ("file", Some(f.display().to_string()), Some(std::fs::read(f).unwrap())),
            To::Layout(tag) => ("layout", Some(layout.arg(tag)), Some(layout.read(tag))),
        };
        let written = match stored {
            None => !dry_run,
            Some(stored) if dry_run => {
                assert_eq!(stored, input, "{args:?}: a dry run wrote");
                false
            }
            Some(stored) => {
                assert_eq!(stored, bytes, "{args:?}");
                true
            }
        };
        let mut want_output = json!({"kind": kind, "reference": reference, "digest": Digest::sha256(&bytes).to_string(),
                                     "size": bytes.len(), "written": written});
        if reference.is_none() {
            want_output.as_object_mut().unwrap().remove("reference");
        }
        assert_eq!(report["outputs"], json!([want_output]), "{args:?}");
        let result: Value = serde_json::from_slice(&bytes).unwrap();
        if kind == "stdout" {
            // The document itself, keys in order.
            assert_eq!(text(&report["document"]), text(&result), "{args:?}");
        } else {
            assert_eq!(report.get("document"), None, "{args:?}");
        }
        let got: Vec<Change> = report["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let (action, at) = (c["action"].as_str().unwrap(), c["index"].as_u64().unwrap() as usize);
                // The entry named is the result's (a removed one: the input's).
                let from: Value =
                    if action == "remove" { serde_json::from_slice(&input).unwrap() } else { result.clone() };
                assert_eq!(c["platform"], from["manifests"][at]["platform"], "{args:?}");
                let action = ["add", "set", "remove", "move"].into_iter().find(|a| *a == action).unwrap();
                (action, at, c["digest"].as_str().unwrap().to_string(), c["from"].as_u64().map(|f| f as usize))
            })
            .collect();
        assert_eq!(got, want, "{args:?}");
    }
}
