//! `lint` of a registry index whose fallback comes second: the
//! `unsafe-order` hint names `ocifit index fix-order … --push …`, and that
//! exact command, run against the real registry, fixes it.

use serde_json::{Value, json};

use crate::fixture::{INDEX, anonymous, ocifit};

#[test]
fn unsafe_order_hint_for_a_registry_is_a_command_that_fixes_it() {
    let r = anonymous();
    let repo = "lint/hint";
    let mut avx2 = r.push_image(repo, "linux", "amd64", "avx2", false);
    avx2["platform"] = json!({"os": "linux", "architecture": "amd64", "features": ["avx2"]});
    let mut fallback = r.push_image(repo, "linux", "amd64", "baseline", false);
    fallback["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let doc = json!({"schemaVersion": 2, "mediaType": INDEX, "manifests": [avx2, fallback]});
    r.push_manifest(repo, "v1", INDEX, &serde_json::to_vec_pretty(&doc).unwrap());
    let source = format!("docker://{}/{repo}:v1", r.host());

    let hint_of = |run: &crate::fixture::Run| -> Option<String> {
        let doc: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
        let d = doc["diagnostics"].as_array().unwrap().iter().find(|d| d["code"] == "unsafe-order").cloned();
        d.map(|d| d["hint"].as_str().unwrap().to_string())
    };
    let run = ocifit(&["lint", &source, "--format", "json"], &[], None);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let hint = hint_of(&run).unwrap_or_else(|| panic!("{}", run.stdout));
    let command = format!("ocifit index fix-order {source} --push {source}");
    assert!(hint.contains(&format!("`{command}` does")), "{hint}");

    let args: Vec<&str> = command.split(' ').skip(1).collect();
    let fixed = ocifit(&args, &[], None);
    assert_eq!(fixed.code, 0, "{}: {}", command, fixed.stderr);
    let run = ocifit(&["lint", &source, "--format", "json"], &[], None);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(hint_of(&run), None);
}
