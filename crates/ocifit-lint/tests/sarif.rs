//! The SARIF output against the official SARIF 2.1.0 JSON schema (vendored
//! in tests/data with its notice), and the other renderings' shapes.

mod common;

use common::{entry, index};
use jsonschema::Draft;
use ocifit_lint::{Code, Linter, Report};
use serde_json::{Value, json};

const SARIF_SCHEMA: &str = include_str!("data/sarif-schema-2.1.0.json");

fn sarif_validator() -> jsonschema::Validator {
    let schema: Value = serde_json::from_str(SARIF_SCHEMA).unwrap();
    // The schema declares Draft 4 ("$schema": "http://json-schema.org/draft-04/schema#").
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-04/schema#");
    jsonschema::options().with_draft(Draft::Draft4).offline().build(&schema).expect("the SARIF schema compiles")
}

/// An index that trips most rules (all but the ones that stop the typed
/// view: index-invalid, features-type), pretty-printed.
fn everything() -> Vec<u8> {
    let mut doc = index(vec![
        entry("linux/amd64", &["avx2", "sse4.2", "avx2", ""]),
        entry("linux/amd64", &[]),
        entry("linux/amd64", &[]),
        entry("linux/amd64/v3", &["avx2", "avx512f"]),
        entry("linux/arm64", &["sve"]),
    ]);
    doc["manifests"][1]["digest"] = json!("sha256:abc");
    doc["annotations"] = json!({"count": 1});
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    text.push('\n');
    text.into_bytes()
}

fn assert_valid(validator: &jsonschema::Validator, log: &Value) {
    let errors: Vec<String> =
        validator.iter_errors(log).map(|e| format!("{} at {}", e, e.instance_path().as_str())).collect();
    assert!(errors.is_empty(), "SARIF log invalid:\n{}\n{log:#}", errors.join("\n"));
}

#[test]
fn sarif_output_is_valid_sarif_2_1_0() {
    let validator = sarif_validator();
    let bytes = everything();
    let diagnostics = Linter::new().lint_bytes(&bytes).unwrap();
    let mut codes: Vec<Code> = diagnostics.iter().map(|d| d.code).collect();
    codes.sort();
    codes.dedup();
    assert!(codes.len() >= 8, "{codes:?}");

    for uri in [Some("dir with space/index.json".to_string()), None] {
        let report = Report::new("index.json", uri.clone(), &bytes, diagnostics.clone());
        let log = report.sarif("0.1.0");
        assert_valid(&validator, &log);
        let results = log["runs"][0]["results"].as_array().unwrap();
        assert_eq!(results.len(), diagnostics.len(), "one result per diagnostic");
        for (i, (r, d)) in results.iter().zip(&diagnostics).enumerate() {
            assert_eq!(r["ruleId"], d.code.as_str());
            let rule_index = r["ruleIndex"].as_u64().unwrap() as usize;
            assert_eq!(log["runs"][0]["tool"]["driver"]["rules"][rule_index]["id"], d.code.as_str());
            let region = &r["locations"][0]["physicalLocation"]["region"];
            let p = report.position(i).unwrap();
            assert_eq!(
                (region["startLine"].as_u64(), region["startColumn"].as_u64()),
                (Some(p.line as u64), Some(p.column as u64))
            );
            assert_eq!(r["properties"]["pointer"], d.pointer.as_str());
        }
    }
}

#[test]
fn sarif_for_a_clean_index_and_broken_documents() {
    let validator = sarif_validator();
    let linter = Linter::new();
    for text in [
        serde_json::to_vec_pretty(&index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2"])])).unwrap(),
        b"[1, 2]".to_vec(),
        b"{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\", \"manifests\": 3}"
            .to_vec(),
    ] {
        let diagnostics = linter.lint_bytes(&text).unwrap();
        let log = Report::new("x.json", Some("x.json".into()), &text, diagnostics).sarif("0.1.0");
        assert_valid(&validator, &log);
    }
}

#[test]
fn the_schema_check_rejects_a_broken_log() {
    // The validator is not vacuous: a result without a message is refused.
    let validator = sarif_validator();
    let bytes = everything();
    let diagnostics = Linter::new().lint_bytes(&bytes).unwrap();
    let mut log = Report::new("index.json", None, &bytes, diagnostics).sarif("0.1.0");
    log["runs"][0]["results"][0].as_object_mut().unwrap().remove("message");
    log["runs"][0]["results"][1]["level"] = json!("fatal");
    assert!(!validator.is_valid(&log));
}

#[test]
fn json_output_has_the_section_8_shape() {
    let bytes = everything();
    let diagnostics = Linter::new().lint_bytes(&bytes).unwrap();
    let report = Report::new("index.json", None, &bytes, diagnostics.clone());
    let out = report.json();
    let items = out["diagnostics"].as_array().unwrap();
    assert_eq!(items.len(), diagnostics.len());
    for item in items {
        for key in ["code", "severity", "pointer", "message", "hint"] {
            assert!(item[key].is_string(), "{key} in {item}");
        }
        assert!(["error", "warning", "info"].contains(&item["severity"].as_str().unwrap()));
        assert!(item["line"].is_u64() && item["column"].is_u64());
        // The pointer resolves in the document (or, for a missing key, its parent does).
        let doc: Value = serde_json::from_slice(&bytes).unwrap();
        let p = item["pointer"].as_str().unwrap();
        assert!(doc.pointer(p).is_some() || doc.pointer(&p[..p.rfind('/').unwrap_or(0)]).is_some(), "{p}");
    }
    assert_eq!(out["summary"]["errors"].as_u64().unwrap() as usize, report.summary().errors);
}

#[test]
fn text_output_points_at_the_line() {
    let bytes = everything();
    let diagnostics = Linter::new().lint_bytes(&bytes).unwrap();
    let report = Report::new("index.json", None, &bytes, diagnostics);
    let text = report.text();
    let lines: Vec<&str> = std::str::from_utf8(&bytes).unwrap().lines().collect();
    let first = report.diagnostics.iter().position(|d| d.code == Code::FeatureUnknown).unwrap();
    let p = report.position(first).unwrap();
    let expect_arrow = format!("--> index.json:{}:{} at {}", p.line, p.column, report.diagnostics[first].pointer);
    assert!(text.contains(&expect_arrow), "{text}");
    assert!(text.contains(&format!("{} | {}", p.line, lines[p.line - 1])), "{text}");
    assert!(text.contains("error[feature-unknown]: unknown feature \"sse4.2\""), "{text}");
    assert!(text.contains("= hint: "), "{text}");
    assert!(text.trim_end().ends_with(&report.summary().to_string()), "{text}");
}
