//! containerd's own platform test vectors (`tests/data/conformance/containerd-platforms.json`
//! in the repository root),
//! run against ocifit's parser, normalization (§3), fallback vector (§4.3),
//! Windows rules (§4.4, §4.5) and ranking (§5).
//!
//! Deliberate differences are listed in `DEVIATIONS` with the reason; every
//! other case must agree.

use std::path::PathBuf;

use ocifit_core::platform::PlatformDefaults;
use ocifit_core::{FeatureSet, FeatureTable, Index, Platform, Reason, Target, select, windows};
use serde_json::{Value, json};

fn vectors() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/conformance/containerd-platforms.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("{}: {e} (the conformance data is tests/data/conformance/ in the repository)", path.display())
    });
    serde_json::from_str(&text).unwrap()
}

fn defaults() -> PlatformDefaults {
    PlatformDefaults {
        os: "<default_os>".into(),
        architecture: "<default_arch>".into(),
        variant: "<default_variant>".into(),
    }
}

/// A platform as a test vector gives it: a containerd string or an OCI object.
fn platform(v: &Value) -> Platform {
    match v {
        Value::String(s) => Platform::parse(s, &defaults()).unwrap_or_else(|e| panic!("{e}")),
        Value::Object(o) => Platform {
            os: o["os"].as_str().unwrap().into(),
            architecture: o["architecture"].as_str().unwrap().into(),
            variant: o.get("variant").and_then(Value::as_str).unwrap_or_default().into(),
            os_version: o.get("os.version").and_then(Value::as_str).unwrap_or_default().into(),
            os_features: o
                .get("os.features")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(|f| f.as_str().unwrap().to_string()).collect())
                .unwrap_or_default(),
        },
        _ => panic!("bad platform {v}"),
    }
}

fn platform_json(p: &Platform) -> Value {
    let mut obj = json!({"os": p.os, "architecture": p.architecture});
    if !p.variant.is_empty() {
        obj["variant"] = json!(p.variant);
    }
    if !p.os_version.is_empty() {
        obj["os.version"] = json!(p.os_version);
    }
    if !p.os_features.is_empty() {
        obj["os.features"] = json!(p.os_features);
    }
    obj
}

fn index_of(platforms: &[Platform]) -> Index {
    let manifests: Vec<Value> = platforms
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                   "digest": format!("sha256:{i:064x}"), "platform": platform_json(p)})
        })
        .collect();
    Index::from_value(json!({"schemaVersion": 2, "manifests": manifests})).unwrap()
}

fn target(host: &Platform) -> Target {
    Target::new(host, FeatureSet::new())
}

/// Cases where ocifit deliberately differs from containerd: (test, host, candidate, why).
const DEVIATIONS: &[(&str, &str, &str, &str)] = &[];

#[test]
fn containerd_match_cases() {
    let v = vectors();
    let table = FeatureTable::builtin();
    let (mut passed, mut deviations) = (0, 0);
    for case in v["match_cases"].as_array().unwrap() {
        let (host, candidate) = (platform(&case["host"]), platform(&case["candidate"]));
        let expected = case["match"].as_bool().unwrap();
        let index = index_of(std::slice::from_ref(&candidate));
        let selection = select(&index, &target(&host), table);
        let reasons: Vec<Reason> = selection.rejected.first().map(|r| r.reasons.clone()).unwrap_or_default();
        let got = match case["matcher"].as_str().unwrap() {
            // Only(host): the host and what its fallback vector runs.
            "only" => selection.selected().is_some(),
            // Exact os/architecture/variant (NewMatcher adds the Windows rules,
            // which select applies too).
            "only_strict" | "new_matcher" => selection.candidates.first().is_some_and(|c| c.vector_position == 0),
            // Same os, any architecture: only architecture reasons may remain.
            "only_os" => {
                reasons.iter().all(|r| matches!(r, Reason::ArchMismatch { .. } | Reason::VariantUnsupported { .. }))
            }
            other => panic!("unknown matcher {other}"),
        };
        let key = (case["test"].as_str().unwrap(), case["host"].to_string(), case["candidate"].to_string());
        if let Some(d) = DEVIATIONS.iter().find(|d| d.0 == key.0 && d.1 == key.1 && d.2 == key.2) {
            assert_ne!(got, expected, "deviation {d:?} no longer differs");
            deviations += 1;
            continue;
        }
        assert_eq!(got, expected, "{case}: reasons {reasons:?}");
        passed += 1;
    }
    assert_eq!(passed + deviations, 308);
    eprintln!("containerd match cases: {passed} passed, {deviations} deviations");
}

#[test]
fn containerd_windows_build_compat() {
    let v = vectors();
    for case in v["windows_build_compat"].as_array().unwrap() {
        let host = case["host_os_version"].as_str().unwrap();
        let image = case["image_os_version"].as_str().unwrap();
        assert_eq!(windows::host_runs(host, image), case["compatible"].as_bool().unwrap(), "{case}");
    }
}

/// containerd's orderings, restricted to the entries ocifit finds compatible:
/// ocifit orders only candidates (rejected entries are not ranked).
/// `only_os` orderings rank entries of other architectures, which ocifit
/// never selects (§4.3), so they have no counterpart.
#[test]
fn containerd_ordering_cases() {
    let v = vectors();
    let table = FeatureTable::builtin();
    let mut checked = 0;
    for case in v["ordering_cases"].as_array().unwrap() {
        let matchers: Vec<&str> = case["matchers"].as_array().unwrap().iter().map(|m| m.as_str().unwrap()).collect();
        if matchers == ["only_os"] {
            continue;
        }
        let host = platform(&case["host"]);
        let candidates: Vec<Platform> = case["candidates"].as_array().unwrap().iter().map(platform).collect();
        let index = index_of(&candidates);
        let selection = select(&index, &target(&host), table);
        let got: Vec<Platform> = selection.candidates.iter().map(|c| candidates[c.index].clone()).collect();
        match case["compare"].as_str().unwrap() {
            "full_order" => {
                let expected: Vec<Platform> = case["expected_order"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(platform)
                    .filter(|p| got.contains(p))
                    .collect();
                assert_eq!(got, expected, "{case}");
            }
            "first_only_os_and_os.version" => {
                let first = platform(&case["expected_first"]);
                assert_eq!((&got[0].os, &got[0].os_version), (&first.os, &first.os_version), "{case}");
            }
            other => panic!("unknown compare {other}"),
        }
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} ordering cases checked");
}

#[test]
fn containerd_parse_cases() {
    let v = vectors();
    for case in v["parse_cases"].as_array().unwrap() {
        let input = case["input"].as_str().unwrap();
        let p = Platform::parse(input, &defaults()).unwrap_or_else(|e| panic!("{e}"));
        let e = &case["expected"];
        let features: Vec<String> =
            e["os.features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().into()).collect();
        assert_eq!(
            (&p.os[..], &p.architecture[..], &p.variant[..], &p.os_version[..], &p.os_features),
            (
                e["os"].as_str().unwrap(),
                e["architecture"].as_str().unwrap(),
                e["variant"].as_str().unwrap(),
                e["os.version"].as_str().unwrap(),
                &features
            ),
            "parse {input:?}"
        );
        let formatted = if case["format"] == "format" { p.short() } else { p.to_string() };
        assert_eq!(formatted, case["formatted"].as_str().unwrap(), "format {input:?}");
        for other in case["also_matches"].as_array().unwrap() {
            let (a, b) = (p.normalized(), platform(other).normalized());
            assert_eq!(
                (&a.os, &a.architecture, &a.variant),
                (&b.os, &b.architecture, &b.variant),
                "{input:?} ~ {other}"
            );
        }
    }
    for input in v["parse_invalid"].as_array().unwrap() {
        let input = input.as_str().unwrap();
        assert!(Platform::parse(input, &defaults()).is_err(), "{input:?} must not parse");
    }
}

#[test]
fn containerd_format_all_cases() {
    let v = vectors();
    for case in v["format_all_cases"].as_array().unwrap() {
        let p = platform(&case["platform"]);
        assert_eq!(p.to_string(), case["expected"].as_str().unwrap());
        if case["round_trip"].as_bool().unwrap() {
            let back = Platform::parse(&p.to_string(), &defaults()).unwrap();
            assert_eq!(
                (back.os_version, back.os_features.clone()),
                (p.os_version.clone(), {
                    let mut f = p.os_features.clone();
                    f.sort();
                    f
                })
            );
        }
    }
}

#[test]
fn containerd_platform_strings_normalize() {
    let v = vectors();
    for (input, expected) in v["platform_strings"].as_object().unwrap() {
        let p = Platform::parse(input, &defaults()).unwrap();
        assert_eq!(platform_json(&p), expected["parsed"], "parse {input}");
        assert_eq!(platform_json(&p.normalized()), expected["normalized"], "normalize {input}");
    }
}

#[test]
fn containerd_cpu_variant_from_machine() {
    let v = vectors();
    for case in v["cpu_variant_from_machine"].as_array().unwrap() {
        let machine = case["machine"].as_str().unwrap();
        let got = ocifit_core::platform::arm_variant_from_machine(machine);
        if case["error"].as_bool().unwrap() {
            assert!(got.is_err(), "{machine}");
        } else {
            assert_eq!(got.unwrap(), case["variant"].as_str().unwrap(), "{machine}");
        }
    }
}
