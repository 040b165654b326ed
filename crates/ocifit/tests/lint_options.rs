//! `ocifit lint` options and rules a new user meets: `--strict`,
//! `--min-severity`, descriptor `data` (RFC 4648), indexes that carry each
//! image in two layer compressions, and the `unsafe-order` hint for layouts
//! and registries.

mod common;

use common::ocifit;
use serde_json::{Value, json};

fn entry(n: u8, platform: Value) -> Value {
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
           "digest": format!("sha256:{n:064x}"), "platform": platform})
}

fn write_index(dir: &std::path::Path, name: &str, entries: Vec<Value>) -> String {
    let path = dir.join(name);
    let doc = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries});
    std::fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
    path.to_string_lossy().into_owned()
}

fn codes(run: &common::Run) -> Vec<(String, String)> {
    run.json()["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["code"].as_str().unwrap().to_string(), d["severity"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn strict_fails_on_warnings_and_min_severity_filters() {
    let dir = common::scratch_dir("lint-strict");
    // A warning (feature-duplicate) and an info (feature-redundant: v3 guarantees avx2), no error.
    let index = write_index(
        &dir,
        "index.json",
        vec![
            entry(1, json!({"os": "linux", "architecture": "amd64", "variant": "v3"})),
            entry(
                2,
                json!({"os": "linux", "architecture": "amd64", "variant": "v3",
                            "features": ["avx2", "avx512f", "avx512f"]}),
            ),
        ],
    );
    let lint = |extra: &[&str]| {
        let mut args = vec!["lint", index.as_str(), "--format", "json"];
        args.extend(extra);
        ocifit(&args, None)
    };
    let all = lint(&[]);
    assert_eq!(all.code, Some(0), "warnings alone pass: {}", all.stdout);
    let found = codes(&all);
    assert!(found.contains(&("feature-duplicate".into(), "warning".into())), "{found:?}");
    assert!(found.contains(&("feature-redundant".into(), "info".into())), "{found:?}");
    // (--strict, --min-severity) → (exit, severities reported)
    let cases: &[(&[&str], i32, &[&str])] = &[
        (&["--strict"], 1, &["warning", "info"]),
        (&["--min-severity", "info"], 0, &["warning", "info"]),
        (&["--min-severity", "warning"], 0, &["warning"]),
        (&["--min-severity", "error"], 0, &[]),
        (&["--strict", "--min-severity", "warning"], 1, &["warning"]),
        (&["--strict", "--min-severity", "error"], 0, &[]),
    ];
    for (flags, exit, severities) in cases {
        let run = lint(flags);
        assert_eq!(run.code, Some(*exit), "{flags:?}: {}", run.stdout);
        let mut got: Vec<String> = codes(&run).into_iter().map(|(_, s)| s).collect();
        got.dedup();
        let mut want: Vec<String> = severities.iter().map(|s| s.to_string()).collect();
        got.sort();
        want.sort();
        assert_eq!(got, want, "{flags:?}");
    }
    // An error fails with or without --strict, and is never filtered out.
    let broken = write_index(
        &dir,
        "broken.json",
        vec![entry(
            1,
            json!({"os": "linux", "architecture": "amd64",
                                                                         "features": ["avx9000"]}),
        )],
    );
    let run = ocifit(&["lint", &broken, "--min-severity", "error"], None);
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("error[feature-unknown]"), "{}", run.stdout);
    let run = ocifit(&["lint", &index, "--min-severity", "fatal"], None);
    assert_eq!(run.code, Some(2), "an unknown level is a usage error");
}

#[test]
fn data_must_be_rfc4648_base64_of_the_content() {
    let dir = common::scratch_dir("lint-data");
    let content = br#"{"schemaVersion":2}"#;
    let digest = {
        use sha2::Digest as _;
        format!("sha256:{:x}", sha2::Sha256::digest(content))
    };
    let with_data = |data: &str| {
        let mut e = entry(1, json!({"os": "linux", "architecture": "amd64"}));
        e["size"] = json!(content.len());
        e["digest"] = json!(digest);
        e["data"] = json!(data);
        e
    };
    use base64::Engine as _;
    let good = base64::engine::general_purpose::STANDARD.encode(content);
    let ok = write_index(&dir, "ok.json", vec![with_data(&good)]);
    let run = ocifit(&["lint", &ok], None);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    for (name, data, says) in [
        ("unpadded.json", good.trim_end_matches('='), "not RFC 4648 base64"),
        ("invalid.json", "$$$$", "not RFC 4648 base64"),
        ("other.json", "e30=", "decodes to 2 bytes but size is 19"),
    ] {
        let path = write_index(&dir, name, vec![with_data(data)]);
        let run = ocifit(&["lint", &path], None);
        assert_eq!(run.code, Some(1), "{name}: {}", run.stdout);
        assert!(run.stdout.contains("error[data-invalid]") && run.stdout.contains(says), "{name}: {}", run.stdout);
        assert!(run.stdout.contains("at /manifests/0/data"), "{name}: {}", run.stdout);
    }
}

#[test]
fn zstd_copies_of_each_image_are_not_unreachable() {
    let dir = common::scratch_dir("lint-zstd");
    // As `podman manifest push --add-compression zstd` writes it: every
    // image again, with zstd layers, annotated.
    let zstd = |mut e: Value| {
        e["annotations"] = json!({"io.github.containers.compression.zstd": "true"});
        e
    };
    let amd64 = json!({"os": "linux", "architecture": "amd64"});
    let avx2 = json!({"os": "linux", "architecture": "amd64", "features": ["avx2"]});
    let entries = vec![
        entry(1, amd64.clone()),
        entry(2, avx2.clone()),
        zstd(entry(3, amd64.clone())),
        zstd(entry(4, avx2.clone())),
    ];
    let index = write_index(&dir, "podman.json", entries);
    let run = ocifit(&["lint", &index, "--format", "json"], None);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
    // Only the notes that ["avx2"] names part of x86-64-v3.
    assert!(codes(&run).iter().all(|(code, _)| code == "level-partial"), "{}", run.stdout);

    // The originals in a safe order, the zstd copies not: containers/image
    // takes the first zstd copy, which needs avx2.
    let entries = vec![
        entry(1, amd64.clone()),
        entry(2, avx2.clone()),
        zstd(entry(4, avx2.clone())),
        zstd(entry(3, amd64.clone())),
    ];
    let index = write_index(&dir, "zstd-unsafe.json", entries);
    let run = ocifit(&["lint", &index, "--format", "json"], None);
    assert_eq!(run.code, Some(1), "{}", run.stdout);
    let doc = run.json();
    let found: Vec<&Value> =
        doc["diagnostics"].as_array().unwrap().iter().filter(|d| d["code"] != "level-partial").collect();
    assert_eq!(found.len(), 1, "{}", run.stdout);
    assert_eq!((found[0]["code"].as_str(), found[0]["pointer"].as_str()), (Some("unsafe-order"), Some("/manifests/2")));
    assert!(found[0]["message"].as_str().unwrap().starts_with("among the zstd copies"), "{}", found[0]);

    // Within one compression a duplicate is still unreachable.
    let entries = vec![entry(1, amd64.clone()), zstd(entry(3, amd64.clone())), zstd(entry(5, amd64))];
    let index = write_index(&dir, "twice.json", entries);
    let run = ocifit(&["lint", &index, "--format", "json"], None);
    let diagnostics = run.json()["diagnostics"].clone();
    let unreachable: Vec<&Value> =
        diagnostics.as_array().unwrap().iter().filter(|d| d["code"] == "unreachable-entry").collect();
    assert_eq!(unreachable.len(), 1, "{diagnostics}");
    assert_eq!(unreachable[0]["pointer"], "/manifests/2");
}

#[test]
fn unsafe_order_hint_names_the_command_that_writes_back() {
    let dir = common::scratch_dir("lint-hint");
    let entries = vec![
        entry(1, json!({"os": "linux", "architecture": "amd64", "features": ["avx2"]})),
        entry(2, json!({"os": "linux", "architecture": "amd64"})),
    ];
    let file = write_index(&dir, "index.json", entries);
    let hint = |source: &str| {
        let run = ocifit(&["lint", source, "--format", "json"], None);
        let doc = run.json();
        let d = doc["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == "unsafe-order").cloned();
        d.unwrap_or_else(|| panic!("{}", run.stdout))["hint"].as_str().unwrap().to_string()
    };
    assert!(hint(&file).contains("`ocifit lint --fix` does"));
    // The same index as a layout's index.json.
    let layout = dir.join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::copy(&file, layout.join("index.json")).unwrap();
    let source = format!("oci:{}", layout.display());
    let h = hint(&source);
    assert!(h.contains(&format!("`ocifit index fix-order {source} --in-place` does")), "{h}");
    assert!(!h.contains("lint --fix"), "{h}");
}
