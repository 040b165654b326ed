//! `ocifit lint` end to end: exit codes (0 no errors, 1 errors, 2
//! unreadable), the three formats, and `--fix` with and without `-o`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

mod common;
use common::ocifit;
use serde_json::{Value, json};

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocifit-lint-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(name: &str, text: &str) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn descriptor(n: usize, platform: Value) -> Value {
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 100 + n,
           "digest": format!("sha256:{:064x}", n), "platform": platform})
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap() + "\n"
}

/// Errors: alias, duplicate, unsafe order.
fn broken() -> Value {
    json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        descriptor(1, json!({"architecture": "amd64", "os": "linux", "features": ["avx2", "SSE4.2", "avx2"]})),
        descriptor(2, json!({"architecture": "amd64", "os": "linux"})),
    ]})
}

/// Only a warning (no fallback for arm64) and an info (redundant feature).
fn warnings_only() -> Value {
    json!({"schemaVersion": 2, "manifests": [
        descriptor(1, json!({"architecture": "amd64", "os": "linux", "variant": "v3"})),
        descriptor(2, json!({"architecture": "amd64", "os": "linux", "variant": "v3", "features": ["avx2", "avx512f"]})),
        descriptor(3, json!({"architecture": "arm64", "os": "linux", "features": ["sve"]})),
    ]})
}

#[test]
fn clean_index_exits_0() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json");
    let run = ocifit(&["lint", example], None);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    // Its AVX2 and AVX-512 entries name part of x86-64-v3 and -v4: two level-partial notes.
    assert!(run.stdout.ends_with("0 errors, 0 warnings, 2 infos\n"), "{}", run.stdout);
}

#[test]
fn warnings_and_infos_exit_0() {
    let p = write("warn.json", &pretty(&warnings_only()));
    let run = ocifit(&["lint", s(&p), "--format", "json"], None);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    let codes: Vec<&str> = out["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["level-partial", "feature-redundant", "no-fallback"]);
}

#[test]
fn errors_exit_1_in_every_format() {
    let p = write("broken.json", &pretty(&broken()));
    let text = ocifit(&["lint", s(&p)], None);
    assert_eq!(text.code, Some(1), "{}", text.stderr);
    assert!(text.stdout.contains("error[unsafe-order]: entry 0 needs avx2"), "{}", text.stdout);
    assert!(text.stdout.contains(&format!("--> {}:", s(&p))), "{}", text.stdout);
    assert!(text.stdout.contains("= hint: "), "{}", text.stdout);

    let json = ocifit(&["lint", s(&p), "--format", "json"], None);
    assert_eq!(json.code, Some(1));
    let out: Value = serde_json::from_str(&json.stdout).unwrap();
    let first = &out["diagnostics"][0];
    assert_eq!(first["code"], "unsafe-order");
    assert_eq!(first["severity"], "error");
    assert_eq!(first["pointer"], "/manifests/0");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(5), Some(5)));
    let unknown = out["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == "feature-unknown").unwrap();
    assert_eq!(unknown["pointer"], "/manifests/0/platform/features/1");

    let sarif = ocifit(&["lint", s(&p), "--format", "sarif"], None);
    assert_eq!(sarif.code, Some(1));
    let log: Value = serde_json::from_str(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    let results = log["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), out["diagnostics"].as_array().unwrap().len());
    assert_eq!(results[0]["ruleId"], "unsafe-order");
    assert_eq!(results[0]["level"], "error");
    assert_eq!(results[0]["locations"][0]["physicalLocation"]["region"]["startLine"], 5);
}

#[test]
fn stdin_works() {
    let run = ocifit(&["lint", "-", "--format", "json"], Some(pretty(&broken()).as_bytes()));
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["source"], "<stdin>");
}

#[test]
fn structurally_broken_indexes_are_diagnostics_not_exit_2() {
    for (name, doc) in [
        (
            "features-string",
            r#"{"schemaVersion":2,"manifests":[{"mediaType":"a/b","size":1,"digest":"sha256:x","platform":{"os":"linux","architecture":"amd64","features":"avx2"}}]}"#,
        ),
        (
            "manifest",
            r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}"#,
        ),
        ("array", "[1,2,3]"),
        ("size-string", r#"{"schemaVersion":2,"manifests":[{"mediaType":"a/b","size":"1","digest":"sha256:x"}]}"#),
    ] {
        let p = write(&format!("{name}.json"), doc);
        let run = ocifit(&["lint", s(&p), "--format", "json"], None);
        assert_eq!(run.code, Some(1), "{name}: {}{}", run.stdout, run.stderr);
        let out: Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(!out["diagnostics"].as_array().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn unreadable_input_exits_2() {
    let not_json = write("not.json", "{\"manifests\": [");
    for args in [
        vec!["lint", s(&not_json)],
        vec!["lint", "/definitely/missing/index.json"],
        vec!["lint", s(&dir())],
        vec!["lint", "--format", "yaml", s(&not_json)],
    ] {
        let run = ocifit(&args, None);
        assert_eq!(run.code, Some(2), "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(!run.stderr.is_empty() && run.stdout.is_empty(), "{args:?}");
    }
    let run = ocifit(&["lint", s(&not_json)], None);
    assert!(run.stderr.contains("not.json") && run.stderr.contains("JSON"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1);
}

#[test]
fn fix_writes_a_clean_index_to_a_file() {
    let input = write("to-fix.json", &pretty(&broken()));
    let output = dir().join("fixed.json");
    let run = ocifit(&["lint", s(&input), "--fix", "-o", s(&output), "--format", "json"], None);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    // Only the suggestion that [avx2, sse4_2] is part of x86-64-v3 remains.
    let left: Vec<&str> =
        report["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap()).collect();
    assert_eq!(left, ["level-partial"]);
    assert_eq!(report["fixes"].as_array().unwrap().len(), 3, "{report:#}");

    let fixed_text = std::fs::read_to_string(&output).unwrap();
    let fixed: Value = serde_json::from_str(&fixed_text).unwrap();
    // The formatting rule: 2-space pretty JSON and one trailing newline.
    assert_eq!(fixed_text, pretty(&fixed));
    let b = broken();
    let mut first = b["manifests"][0].clone();
    first["platform"]["features"] = json!(["avx2", "sse4_2"]);
    let mut want = b.clone();
    want["manifests"] = json!([b["manifests"][1].clone(), first]);
    assert_eq!(fixed, want);
    // It passes lint.
    assert_eq!(ocifit(&["lint", s(&output)], None).code, Some(0));
}

#[test]
fn fix_to_stdout_reports_on_stderr() {
    let input = write("to-fix-stdout.json", &pretty(&broken()));
    let run = ocifit(&["lint", s(&input), "--fix"], None);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let fixed: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(fixed["manifests"][0]["platform"].get("features"), None);
    assert!(run.stderr.contains("fixed[unsafe-order]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("fixed[feature-unknown]: /manifests/0/platform/features/1: \"SSE4.2\" -> \"sse4_2\""),
        "{}",
        run.stderr
    );
    // json/sarif reports need -o: stdout carries the index.
    assert_eq!(ocifit(&["lint", s(&input), "--fix", "--format", "json"], None).code, Some(2));
    // -o without --fix is a usage error.
    assert_eq!(ocifit(&["lint", s(&input), "-o", "x.json"], None).code, Some(2));
}

#[test]
fn fix_with_nothing_to_fix_keeps_the_bytes() {
    let text = "{\"schemaVersion\":2,\"manifests\":[]}";
    let input = write("compact.json", text);
    let output = dir().join("compact-out.json");
    let run = ocifit(&["lint", s(&input), "--fix", "-o", s(&output)], None);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(std::fs::read_to_string(&output).unwrap(), text);
}

#[test]
fn fix_leaves_errors_it_cannot_fix() {
    let mut doc = broken();
    doc["manifests"][1]["platform"]["features"] = json!(["not-a-feature"]);
    let input = write("unfixable.json", &pretty(&doc));
    let output = dir().join("unfixable-out.json");
    let run = ocifit(&["lint", s(&input), "--fix", "-o", s(&output)], None);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("error[feature-unknown]: unknown feature \"not-a-feature\""), "{}", run.stdout);
}

/// Many diagnostics in a minified (one-line) index, and deep nesting: linear
/// and bounded, never a hang (a watchdog kills it after 60 s, debug build).
#[test]
fn hostile_inputs_stay_fast() {
    let entries: Vec<Value> = (0..200)
        .map(|i| {
            let names: Vec<String> = (0..50).map(|j| format!("nope{i}x{j}")).collect();
            descriptor(i, json!({"architecture": "amd64", "os": "linux", "features": names}))
        })
        .collect();
    let minified = serde_json::to_string(&json!({"schemaVersion": 2, "manifests": entries})).unwrap();
    let deep = format!("{{\"schemaVersion\": 2, \"manifests\": {}{}}}", "[".repeat(120), "]".repeat(120));
    let mut annotations = serde_json::Map::new();
    for i in 0..20_000 {
        annotations.insert(format!("k~/{i}"), json!(i));
    }
    let keys =
        serde_json::to_string(&json!({"schemaVersion": 2, "manifests": [], "annotations": annotations})).unwrap();
    for (name, text, at_least) in [("minified", minified, 10_000), ("deep", deep, 1), ("keys", keys, 20_000)] {
        let p = write(&format!("hostile-{name}.json"), &text);
        for format in ["text", "json", "sarif"] {
            let start = std::time::Instant::now();
            let mut child = Command::new(env!("CARGO_BIN_EXE_ocifit"))
                .args(["lint", s(&p), "--format", format])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let reader = {
                let mut out = child.stdout.take().unwrap();
                std::thread::spawn(move || {
                    let mut text = String::new();
                    std::io::Read::read_to_string(&mut out, &mut text).unwrap();
                    text
                })
            };
            loop {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if start.elapsed() > std::time::Duration::from_secs(60) {
                    child.kill().unwrap();
                    panic!("{name} --format {format}: still running after 60 s");
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            let status = child.wait().unwrap();
            let out = reader.join().unwrap();
            assert_eq!(status.code(), Some(1), "{name} {format}");
            if format == "json" {
                let v: Value = serde_json::from_str(&out).unwrap();
                assert!(v["diagnostics"].as_array().unwrap().len() >= at_least, "{name}");
            }
        }
    }
    // Escaped keys come back as RFC 6901 pointers.
    let run = ocifit(&["lint", s(&dir().join("hostile-keys.json")), "--format", "json"], None);
    let v: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(v["diagnostics"].as_array().unwrap().iter().any(|d| d["pointer"] == "/annotations/k~0~17"));
}

#[test]
fn lints_an_oci_layout() {
    let layout = dir().join("layout");
    std::fs::create_dir_all(&layout).unwrap();
    std::fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(layout.join("index.json"), pretty(&broken())).unwrap();
    let arg = format!("oci:{}", layout.display());
    let run = ocifit(&["lint", &arg, "--format", "json"], None);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    let out: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["source"], arg.as_str());
    assert_eq!(out["diagnostics"][0]["code"], "unsafe-order");
    assert_eq!(out["diagnostics"][0]["line"], 5);
}

#[test]
fn fix_in_place_keeps_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let p = write("in-place.json", &pretty(&broken()));
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
    let run = ocifit(&["lint", s(&p), "--fix", "-o", s(&p)], None);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert_eq!(ocifit(&["lint", s(&p)], None).code, Some(0));
    assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o640);
    let leftovers: Vec<_> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(Result::ok)
        // Other tests write their own temporaries into the same directory at
        // the same time: look only for this file's.
        .filter(|e| e.file_name().to_string_lossy().starts_with(".in-place.json.ocifit-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
