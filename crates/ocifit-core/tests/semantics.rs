//! One test per rule of docs/semantics.md §1–§6 and the target rule of §8,
//! named after the rule. Table-driven where the rule has cases.

use ocifit_core::index::IndexErrorKind;
use ocifit_core::target::guaranteed_features;
use ocifit_core::{FeatureSet, FeatureTable, Index, Platform, Reason, Target, legacy_select, select};
use serde_json::{Value, json};

const TABLE: FeatureTable = FeatureTable::builtin();

/// An entry: `"os/arch[/variant]"` plus features; digest from its position.
fn entry(platform: &str, features: &[&str]) -> Value {
    let parts: Vec<&str> = platform.split('/').collect();
    let mut p = json!({"os": parts[0], "architecture": parts[1]});
    if let Some(v) = parts.get(2) {
        p["variant"] = json!(v);
    }
    if !features.is_empty() {
        p["features"] = json!(features);
    }
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 100,
           "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000", "platform": p})
}

fn index(entries: Vec<Value>) -> Index {
    let entries: Vec<Value> = entries
        .into_iter()
        .enumerate()
        .map(|(i, mut e)| {
            e["digest"] = json!(format!("sha256:{i:064x}"));
            e
        })
        .collect();
    Index::from_value(json!({"schemaVersion": 2, "manifests": entries})).unwrap()
}

/// A target with exactly these features on this platform string.
fn target(platform: &str, features: &[&str]) -> Target {
    let p = Platform::parse(platform, &defaults()).unwrap();
    let mut t = Target::new(&p, FeatureSet::new());
    t.add_named(TABLE, features).unwrap();
    t
}

fn defaults() -> ocifit_core::PlatformDefaults {
    ocifit_core::PlatformDefaults { os: "linux".into(), architecture: "amd64".into(), variant: String::new() }
}

fn codes(index: &Index, target: &Target, i: usize) -> Vec<&'static str> {
    let s = select(index, target, TABLE);
    s.rejected.iter().find(|r| r.index == i).map(|r| r.reasons.iter().map(Reason::code).collect()).unwrap_or_default()
}

#[test]
fn s1_index_accepts_oci_index_and_docker_list_and_missing_media_type() {
    for media_type in [
        Some("application/vnd.oci.image.index.v1+json"),
        Some("application/vnd.docker.distribution.manifest.list.v2+json"),
        None,
    ] {
        let mut doc = json!({"schemaVersion": 2, "manifests": [entry("linux/amd64", &[])]});
        if let Some(mt) = media_type {
            doc["mediaType"] = json!(mt);
        }
        let bytes = serde_json::to_vec(&doc).unwrap();
        assert_eq!(Index::from_slice(&bytes).unwrap().len(), 1, "{media_type:?}");
    }
}

#[test]
fn s1_index_keeps_unknown_keys_and_key_order() {
    let text = r#"{"zeta":1,"manifests":[{"x-unknown":{"b":1,"a":2},"size":1,"mediaType":"m","digest":"sha256:00","platform":{"os":"linux","architecture":"amd64","x-extra":true}}],"annotations":{"z":"1","a":"2"},"alpha":[3,2,1]}"#;
    let index = Index::from_slice(text.as_bytes()).unwrap();
    assert_eq!(serde_json::to_string(index.document()).unwrap(), text);
}

#[test]
fn s1_invalid_index_names_the_pointer() {
    let cases: &[(&str, &str, IndexErrorKind)] = &[
        ("[]", "", IndexErrorKind::Shape),
        ("{}", "", IndexErrorKind::Shape),
        ("{\"manifests\":{}}", "/manifests", IndexErrorKind::Shape),
        ("{\"manifests\":[1]}", "/manifests/0", IndexErrorKind::Shape),
        (
            "{\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":-1}]}",
            "/manifests/0/size",
            IndexErrorKind::Shape,
        ),
        (
            "{\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1.5}]}",
            "/manifests/0/size",
            IndexErrorKind::Shape,
        ),
        (
            "{\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1,\"platform\":\"linux\"}]}",
            "/manifests/0/platform",
            IndexErrorKind::Shape,
        ),
        (
            "{\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"features\":\"avx2\"}}]}",
            "/manifests/0/platform/features",
            IndexErrorKind::Shape,
        ),
        (
            "{\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"features\":[\"avx2\",null]}}]}",
            "/manifests/0/platform/features/1",
            IndexErrorKind::Shape,
        ),
        (
            "{\"manifests\":[{\"mediaType\":\"m\",\"digest\":\"d\",\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\",\"os.features\":[[\"x\"]]}}]}",
            "/manifests/0/platform/os.features/0",
            IndexErrorKind::Shape,
        ),
        (
            "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]}",
            "/mediaType",
            IndexErrorKind::ImageManifest,
        ),
        ("{\"manifests\":[", "", IndexErrorKind::Json),
        ("not json", "", IndexErrorKind::Json),
    ];
    for (text, pointer, kind) in cases {
        let err = Index::from_slice(text.as_bytes()).unwrap_err();
        assert_eq!((&err.pointer[..], err.kind), (*pointer, *kind), "{text}: {err}");
    }
}

#[test]
fn s1_index_larger_than_limit_is_refused() {
    let big = vec![b' '; ocifit_core::index::MAX_INDEX_BYTES + 1];
    assert_eq!(Index::from_slice(&big).unwrap_err().kind, IndexErrorKind::TooLarge);
}

#[test]
fn s2_feature_valid_only_for_its_architectures() {
    assert!(TABLE.canonical("amd64", "avx2").is_some());
    assert!(TABLE.canonical("386", "avx2").is_some());
    assert!(TABLE.canonical("arm64", "avx2").is_none());
    assert!(TABLE.canonical("amd64", "sve").is_none());
    assert!(TABLE.canonical("mips64", "avx2").is_none());
}

#[test]
fn s2_canonical_names_are_linux_names_except_sse3_and_lzcnt() {
    for f in TABLE.features() {
        assert_eq!(f.name, f.name.to_ascii_lowercase());
        if let Some(linux) = f.linux {
            let exception = matches!((f.name, linux), ("sse3", "pni") | ("lzcnt", "abm"));
            assert!(
                linux == f.name || exception || f.note.is_some(),
                "{} (linux {linux}) differs without a note",
                f.name
            );
        }
    }
    let sse3 = TABLE.canonical("amd64", "sse3").unwrap().feature();
    assert_eq!(sse3.linux, Some("pni"));
    assert_eq!(TABLE.canonical("amd64", "lzcnt").unwrap().feature().linux, Some("abm"));
}

#[test]
fn s2_every_row_has_the_required_fields() {
    for f in TABLE.features() {
        assert!(!f.description.is_empty() && f.link.starts_with("https://") && !f.since.is_empty(), "{}", f.name);
        assert!(!f.architectures.is_empty(), "{}", f.name);
    }
}

#[test]
fn s2_aliases_accepted_on_command_line_not_in_index() {
    for alias in ["sse4.2", "SSE42", "sse42", "sse4_2"] {
        let mut t = target("linux/amd64", &[]);
        t.add_named(TABLE, &[alias]).unwrap();
        // A command-line target supports the closure of what was named (§5).
        assert_eq!(t.features.sorted_names(), vec!["sse", "sse2", "sse3", "sse4_1", "sse4_2", "ssse3"], "{alias}");
    }
    let idx = index(vec![entry("linux/amd64", &["sse4.2"])]);
    let s = select(&idx, &target("linux/amd64", &["sse4_2"]), TABLE);
    let reason = &s.rejected[0].reasons[0];
    assert_eq!(reason.code(), "feature-unknown");
    assert!(reason.to_string().contains("sse4_2"), "{reason}");
}

#[test]
fn s2_unknown_command_line_feature_is_an_error() {
    let mut t = target("linux/amd64", &[]);
    let err = t.add_named(TABLE, &["sve"]).unwrap_err();
    assert!(err.to_string().contains("arm64"), "{err}");
    assert!(t.add_named(TABLE, &["no-such-feature"]).is_err());
}

#[test]
fn s3_normalization() {
    type Case<'a> = (&'a str, &'a str, &'a str, (&'a str, &'a str, &'a str));
    let cases: &[Case] = &[
        ("Linux", "x86_64", "", ("linux", "amd64", "")),
        ("linux", "x86-64", "v1", ("linux", "amd64", "")),
        ("linux", "amd64", "v3", ("linux", "amd64", "v3")),
        ("linux", "aarch64", "", ("linux", "arm64", "")),
        ("linux", "arm64", "8", ("linux", "arm64", "")),
        ("linux", "arm64", "v8", ("linux", "arm64", "")),
        ("linux", "arm64", "v8.0", ("linux", "arm64", "")),
        ("linux", "arm64", "9", ("linux", "arm64", "v9")),
        ("linux", "arm64", "9.0", ("linux", "arm64", "v9")),
        ("linux", "arm64", "v8.2", ("linux", "arm64", "v8.2")),
        ("linux", "armhf", "", ("linux", "arm", "v7")),
        ("linux", "armel", "", ("linux", "arm", "v6")),
        ("linux", "arm", "", ("linux", "arm", "v7")),
        ("linux", "i386", "", ("linux", "386", "")),
        ("macOS", "arm64", "", ("darwin", "arm64", "")),
        ("WINDOWS", "AMD64", "", ("windows", "amd64", "")),
    ];
    for (os, arch, variant, want) in cases {
        let n = Platform::new(os, arch, variant).normalized();
        assert_eq!((&n.os[..], &n.architecture[..], &n.variant[..]), *want, "{os}/{arch}/{variant}");
    }
}

#[test]
fn s3_entries_are_normalized_before_comparing() {
    let idx = index(vec![entry("Linux/x86_64", &[]), entry("linux/aarch64/v8", &[])]);
    assert_eq!(select(&idx, &target("linux/amd64", &[]), TABLE).selected(), Some(0));
    assert_eq!(select(&idx, &target("linux/arm64", &[]), TABLE).selected(), Some(1));
}

#[test]
fn s4_1_entry_without_platform_is_rejected() {
    let mut e = entry("linux/amd64", &[]);
    e.as_object_mut().unwrap().remove("platform");
    let idx = index(vec![e]);
    assert_eq!(codes(&idx, &target("linux/amd64", &[]), 0), vec!["no-platform"]);
}

#[test]
fn s4_2_os_must_match() {
    let idx = index(vec![entry("windows/amd64", &[])]);
    assert_eq!(codes(&idx, &target("linux/amd64", &[]), 0), vec!["os-mismatch"]);
}

#[test]
fn s4_3_fallback_vector() {
    // (target, entry, compatible, reason when not)
    let cases: &[(&str, &str, bool, &str)] = &[
        ("linux/amd64/v3", "linux/amd64/v3", true, ""),
        ("linux/amd64/v3", "linux/amd64/v2", true, ""),
        ("linux/amd64/v3", "linux/amd64", true, ""),
        ("linux/amd64/v3", "linux/amd64/v1", true, ""),
        ("linux/amd64/v3", "linux/386", true, ""),
        ("linux/amd64/v3", "linux/amd64/v4", false, "variant-unsupported"),
        ("linux/amd64", "linux/amd64/v2", false, "variant-unsupported"),
        ("linux/386", "linux/amd64", false, "arch-mismatch"),
        ("linux/arm64/v8.2", "linux/arm64/v8.1", true, ""),
        ("linux/arm64/v8.2", "linux/arm64", true, ""),
        ("linux/arm64/v8.2", "linux/arm/v7", true, ""),
        ("linux/arm64/v8.2", "linux/arm/v5", true, ""),
        ("linux/arm64/v8.2", "linux/arm64/v8.3", false, "variant-unsupported"),
        ("linux/arm64/v9.2", "linux/arm64/v8.7", true, ""),
        ("linux/arm64/v9.2", "linux/arm64/v8.8", false, "variant-unsupported"),
        ("linux/arm64/v9", "linux/arm64/v8.5", true, ""),
        ("linux/arm/v7", "linux/arm/v6", true, ""),
        ("linux/arm/v7", "linux/arm/v8", false, "variant-unsupported"),
        ("linux/arm/v6", "linux/arm64", false, "arch-mismatch"),
        ("linux/ppc64le", "linux/ppc64", false, "arch-mismatch"),
        ("linux/s390x", "linux/s390x", true, ""),
    ];
    for (t, e, ok, code) in cases {
        let idx = index(vec![entry(e, &[])]);
        let got = codes(&idx, &target(t, &[]), 0);
        if *ok {
            assert!(got.is_empty(), "{t} should run {e}: {got:?}");
        } else {
            assert_eq!(got, vec![*code], "{t} vs {e}");
        }
    }
}

#[test]
fn s4_3_unknown_arm64_variant_is_the_highest_known_below_it() {
    // v8.12 and v9.9 are unknown to containerd: they run what v8.9 and v9.6 run.
    let cases: &[(&str, &str, bool)] = &[
        ("linux/arm64/v8.12", "linux/arm64/v8.9", true),
        ("linux/arm64/v8.12", "linux/arm64/v8.12", true),
        ("linux/arm64/v8.12", "linux/arm64/v9", false),
        ("linux/arm64/v9.9", "linux/arm64/v9.6", true),
        ("linux/arm64/v9.9", "linux/arm64/v8.9", true),
        ("linux/arm64/v9.9", "linux/arm/v7", true),
        ("linux/arm64/v10", "linux/arm64/v9.6", true),
    ];
    for (t, e, ok) in cases {
        let idx = index(vec![entry(e, &[])]);
        assert_eq!(codes(&idx, &target(t, &[]), 0).is_empty(), *ok, "{t} vs {e}");
    }
}

#[test]
fn s4_4_windows_os_version_compared_as_numbers() {
    let win = |v: &str| {
        let mut e = entry("windows/amd64", &[]);
        e["platform"]["os.version"] = json!(v);
        e
    };
    let t = target("windows(10.0.26100.100)/amd64", &[]);
    let idx = index(vec![win("10.0.20348.9"), win("10.0.26100.1"), win("10.0.27000.1")]);
    let s = select(&idx, &t, TABLE);
    assert_eq!(s.selected(), Some(1));
    assert_eq!(codes(&idx, &t, 2), vec!["os-version-mismatch"]);
    // Numeric, not string, order: .10 beats .9.
    let idx = index(vec![win("10.0.26100.9"), win("10.0.26100.10")]);
    assert_eq!(select(&idx, &t, TABLE).selected(), Some(1));
}

#[test]
fn s4_5_os_features_must_be_supported_and_win32k_is_implied_on_windows() {
    let with_os_features = |platform: &str, feats: &[&str]| {
        let mut e = entry(platform, &[]);
        e["platform"]["os.features"] = json!(feats);
        e
    };
    let idx = index(vec![with_os_features("linux/amd64", &["gpu"])]);
    assert_eq!(codes(&idx, &target("linux/amd64", &[]), 0), vec!["os-feature-unsupported"]);
    assert!(codes(&idx, &target("linux(+gpu)/amd64", &[]), 0).is_empty());
    let idx = index(vec![with_os_features("windows/amd64", &["win32k"])]);
    assert!(codes(&idx, &target("windows/amd64", &[]), 0).is_empty());
}

#[test]
fn s4_6_features_unknown_and_unsupported() {
    let idx = index(vec![
        entry("linux/amd64", &["bmi2"]),
        entry("linux/amd64", &["sve"]),
        entry("linux/amd64", &["AVX2"]),
        entry("linux/amd64", &["nonsense"]),
        entry("linux/arm64", &["avx2"]),
    ]);
    let t = target("linux/amd64", &[]);
    assert_eq!(codes(&idx, &t, 0), vec!["feature-unsupported"]);
    assert_eq!(codes(&idx, &t, 1), vec!["feature-unknown"]);
    assert_eq!(codes(&idx, &t, 2), vec!["feature-unknown"]);
    assert_eq!(codes(&idx, &t, 3), vec!["feature-unknown"]);
    assert_eq!(codes(&idx, &t, 4), vec!["arch-mismatch", "feature-unknown"]);
    let t = target("linux/amd64", &["bmi2"]);
    assert!(codes(&idx, &t, 0).is_empty());
}

#[test]
fn s4_every_reason_that_applies_is_reported() {
    let mut e = entry("windows/arm64", &["atomics", "avx2"]);
    e["platform"]["os.features"] = json!(["gpu"]);
    let idx = index(vec![e]);
    let got = codes(&idx, &target("linux/amd64", &[]), 0);
    assert_eq!(
        got,
        vec!["os-mismatch", "arch-mismatch", "os-feature-unsupported", "feature-unsupported", "feature-unknown"]
    );
}

#[test]
fn s5_1_closest_variant_wins_over_more_features() {
    let idx = index(vec![entry("linux/amd64", &["avx2", "bmi2", "fma"]), entry("linux/amd64/v3", &[])]);
    let t = Target::guaranteed(&Platform::new("linux", "amd64", "v3"), TABLE);
    assert_eq!(select(&idx, &t, TABLE).selected(), Some(1));
}

#[test]
fn s5_3_more_features_wins() {
    let idx = index(vec![
        entry("linux/amd64", &[]),
        entry("linux/amd64", &["avx2"]),
        entry("linux/amd64", &["avx2", "bmi2"]),
        entry("linux/amd64", &["avx512f"]),
    ]);
    let t = target("linux/amd64", &["avx2", "bmi2"]);
    let s = select(&idx, &t, TABLE);
    let order: Vec<usize> = s.candidates.iter().map(|c| c.index).collect();
    assert_eq!(order, vec![2, 1, 0]);
}

#[test]
fn s5_3_duplicate_features_count_once() {
    let idx = index(vec![entry("linux/amd64", &["avx2", "avx2", "avx2"]), entry("linux/amd64", &["avx2", "bmi2"])]);
    let t = target("linux/amd64", &["avx2", "bmi2"]);
    assert_eq!(select(&idx, &t, TABLE).selected(), Some(1));
}

#[test]
fn s5_4_earliest_position_breaks_ties() {
    // bmi2 and lzcnt imply nothing: equal closures.
    let idx = index(vec![entry("linux/amd64", &["bmi2"]), entry("linux/amd64", &["lzcnt"])]);
    let t = target("linux/amd64", &["lzcnt", "bmi2"]);
    assert_eq!(select(&idx, &t, TABLE).selected(), Some(0));
}

#[test]
fn s5_result_does_not_depend_on_target_feature_order() {
    let idx = index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2", "fma"])]);
    let a = target("linux/amd64", &["avx2", "fma", "bmi2"]);
    let b = target("linux/amd64", &["bmi2", "fma", "avx2"]);
    assert_eq!(select(&idx, &a, TABLE), select(&idx, &b, TABLE));
}

#[test]
fn s6_legacy_takes_first_matching_platform_ignoring_features() {
    let idx = index(vec![
        entry("linux/arm64", &[]),
        entry("linux/amd64", &["avx512f"]),
        entry("linux/amd64", &[]),
        entry("linux/amd64/v3", &["avx2"]),
    ]);
    let baseline = target("linux/amd64", &[]);
    assert_eq!(legacy_select(&idx, &baseline).selected(), Some(1), "legacy picks the features entry: SIGILL risk");
    assert_eq!(select(&idx, &baseline, TABLE).selected(), Some(2));
    // A v3 target: the exact variant comes first in the fallback vector, features ignored.
    let v3 = target("linux/amd64/v3", &[]);
    assert_eq!(legacy_select(&idx, &v3).selected(), Some(3));
}

#[test]
fn s8_platform_target_supports_exactly_what_its_variant_guarantees() {
    let names = |arch: &str, variant: &str| guaranteed_features(TABLE, arch, variant).sorted_names();
    let v3 = names("amd64", "v3");
    for f in ["avx2", "bmi1", "bmi2", "fma", "f16c", "lzcnt", "movbe", "sse4_2", "popcnt", "sse2", "cmov"] {
        assert!(v3.contains(&f), "v3 lacks {f}");
    }
    assert!(!v3.contains(&"avx512f"));
    let base = names("amd64", "");
    assert!(base.contains(&"sse2") && base.contains(&"cmov"));
    assert!(!base.contains(&"sse3") && !base.contains(&"popcnt"));
    assert!(names("amd64", "v4").contains(&"avx512vl"));
    assert!(names("386", "").is_empty());
    assert!(names("s390x", "").is_empty());
}

#[test]
fn s8_guaranteed_levels_are_cumulative_along_the_vector() {
    for arch in ["amd64", "arm64", "arm", "ppc64le"] {
        for level in TABLE.levels(arch) {
            let set = guaranteed_features(TABLE, arch, level.variant);
            for id in level.features {
                assert!(set.contains(*id), "{arch}/{}: {}", level.variant, id.feature().name);
            }
        }
    }
    let v2 = guaranteed_features(TABLE, "amd64", "v2");
    let v3 = guaranteed_features(TABLE, "amd64", "v3");
    assert!(v2.is_subset(&v3) && v2 != v3);
}

#[test]
fn s1_repeated_manifests_key_keeps_the_last_and_views_agree() {
    // The first array has an invalid entry; the last one wins, as in serde_json.
    let text = format!(
        r#"{{"manifests":[{}],"manifests":[{},{}]}}"#,
        r#"{"not":"a descriptor"}"#,
        entry("linux/amd64", &["avx2"]),
        entry("linux/amd64", &[])
    );
    let index = Index::from_slice(text.as_bytes()).unwrap();
    assert_eq!(index.len(), 2);
    let archs: Vec<&str> = index.entries().map(|e| e.platform.unwrap().architecture).collect();
    assert_eq!(archs, ["amd64", "amd64"]);
    assert_eq!(index.entry(0).unwrap().platform.unwrap().features().collect::<Vec<_>>(), ["avx2"]);
    // The same document through from_value gives the same views.
    let again = Index::from_value(index.document().clone()).unwrap();
    assert_eq!(again, index);
}

#[test]
fn s1_views_read_keys_in_any_order_and_any_number() {
    // Keys in unusual order, unknown keys between them, a platform with many keys.
    let mut platform = serde_json::Map::new();
    for k in 0..300 {
        platform.insert(format!("x-{k}"), json!(k));
    }
    platform.insert("features".into(), json!(["avx2"]));
    platform.insert("architecture".into(), json!("amd64"));
    platform.insert("os".into(), json!("linux"));
    let doc = json!({"manifests": [
        {"x": 1, "platform": {"variant": "v3", "architecture": "amd64", "os": "linux"},
         "size": 7, "digest": "sha256:aa", "mediaType": "m"},
        {"platform": Value::Object(platform), "mediaType": "m", "digest": "sha256:bb", "size": 8},
    ]});
    let text = serde_json::to_vec(&doc).unwrap();
    for index in [Index::from_slice(&text).unwrap(), Index::from_value(doc.clone()).unwrap()] {
        let a = index.entry(0).unwrap();
        assert_eq!((a.media_type, a.digest, a.size), ("m", "sha256:aa", 7));
        assert_eq!(a.platform.unwrap().variant, "v3");
        let b = index.entry(1).unwrap();
        assert_eq!((b.digest, b.size), ("sha256:bb", 8));
        let p = b.platform.unwrap();
        assert_eq!((p.os, p.architecture), ("linux", "amd64"));
        assert_eq!(p.features().collect::<Vec<_>>(), ["avx2"]);
    }
}

fn closure_names(arch: &str, feature: &str) -> Vec<&'static str> {
    let id = TABLE.canonical(arch, feature).unwrap();
    std::iter::once(id).collect::<FeatureSet>().closure().sorted_names()
}

#[test]
fn s2_implications_examples() {
    // (architecture, feature, some features its closure must hold)
    let cases: &[(&str, &str, &[&str])] = &[
        ("amd64", "avx512f", &["avx2", "fma", "f16c", "avx", "sse4_2", "sse2"]),
        ("amd64", "avx2", &["avx", "sse4_2", "sse4_1", "ssse3", "sse3", "sse2", "sse"]),
        ("amd64", "vaes", &["aes", "avx"]),
        ("amd64", "avx512_fp16", &["avx512bw", "avx512vl", "avx512dq", "avx512f"]),
        ("arm64", "sve2", &["sve", "fphp", "fp"]),
        ("arm64", "asimd", &["fp"]),
        ("arm64", "sha3", &["sha2", "asimd"]),
    ];
    for (arch, feature, want) in cases {
        let got = closure_names(arch, feature);
        for w in *want {
            assert!(got.contains(w), "{feature} on {arch} should imply {w}: {got:?}");
        }
        assert!(got.contains(feature));
    }
    // Implications never reach back: nothing implies itself, avx2 does not imply avx512f.
    for f in TABLE.features() {
        assert!(!f.implied.contains(&f.id()), "{} implies itself", f.name);
        for i in f.implied {
            assert_eq!(i.feature().family, f.family, "{} implies a feature of another family", f.name);
        }
    }
    assert!(!closure_names("amd64", "avx2").contains(&"avx512f"));
}

#[test]
fn s2_levels_are_closed_under_implications() {
    for level in TABLE.all_levels() {
        let set = guaranteed_features(TABLE, level.architecture, level.variant);
        assert!(
            set.is_closed(),
            "{}/{}: {:?} lacks some of {:?}",
            level.architecture,
            level.variant,
            set,
            set.closure()
        );
    }
}

#[test]
fn s2_level_names_stand_for_their_sets() {
    use ocifit_core::target::{level_by_name, level_name, resolve_word};
    // (name, architecture, variant)
    let cases: &[(&str, &str, &str)] = &[
        ("x86-64", "amd64", ""),
        ("x86-64-v1", "amd64", ""),
        ("x86-64-v2", "amd64", "v2"),
        ("X86-64-V3", "amd64", "v3"),
        ("x86-64-v4", "amd64", "v4"),
        ("armv8-a", "arm64", ""),
        ("armv8.2-a", "arm64", "v8.2"),
        ("armv9-a", "arm64", "v9"),
        ("armv9.2-a", "arm64", "v9.2"),
    ];
    for (name, arch, variant) in cases {
        assert_eq!(level_by_name(name), Some((*arch, variant.to_string())), "{name}");
        let ids = resolve_word(TABLE, arch, name).unwrap();
        let set: FeatureSet = ids.into_iter().collect();
        assert_eq!(set, guaranteed_features(TABLE, arch, variant), "{name}");
        assert_eq!(level_by_name(&level_name(arch, variant).unwrap()), Some((*arch, variant.to_string())));
    }
    for name in ["x86-64-v5", "armv8.10-a", "armv10-a", "x86-64v3", "v3"] {
        assert_eq!(level_by_name(name), None, "{name}");
    }
    // x86-64-v3 as a target feature list: the whole v2 + v3 set.
    let mut t = target("linux/amd64", &[]);
    t.add_named(TABLE, &["x86-64-v3"]).unwrap();
    assert_eq!(t.features, guaranteed_features(TABLE, "amd64", "v3"));
    // A level of another architecture is an error that says so.
    let err = target("linux/amd64", &[]).add_named(TABLE, &["armv8.2-a"]).unwrap_err();
    assert!(err.to_string().contains("an arm64 level"), "{err}");
    let err = target("linux/arm64", &[]).add_named(TABLE, &["x86-64-v3"]).unwrap_err();
    assert!(err.to_string().contains("an x86 level"), "{err}");
}

#[test]
fn s2_command_line_errors_suggest_and_explain() {
    // (platform, value, what the message must say)
    let cases: &[(&str, &str, &str)] = &[
        ("linux/amd64", "avx-2x", "did you mean avx2"),
        ("linux/amd64", "avx2 bmi2", "separate them with commas, not spaces (avx2,bmi2)"),
        ("linux/amd64", "sve", "(it is an arm64 feature)"),
        ("linux/arm64", "avx2", "(it is an x86 feature)"),
        ("linux/amd64", "qqqqqqqq", "`ocifit features` lists the known ones"),
    ];
    for (platform, value, want) in cases {
        let err = target(platform, &[]).add_named(TABLE, &[*value]).unwrap_err();
        assert!(err.to_string().contains(want), "{value}: {err}");
    }
}

#[test]
fn s4_6_requirements_are_the_closure() {
    let idx = index(vec![entry("linux/amd64", &["avx512f"])]);
    // A detected host is not closed: this one claims avx512f without avx2.
    let host = Target::new(
        &Platform::new("linux", "amd64", ""),
        ["avx512f", "fma", "f16c", "avx", "sse4_2", "sse4_1", "ssse3", "sse3", "sse2", "sse"]
            .iter()
            .map(|n| TABLE.canonical("amd64", n).unwrap())
            .collect(),
    );
    let s = select(&idx, &host, TABLE);
    assert_eq!(s.selected(), None);
    let reasons: Vec<Value> = s.rejected[0].reasons.iter().map(Reason::to_json).collect();
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0]["code"], "feature-unsupported");
    assert_eq!(reasons[0]["feature"], "avx2");
    assert_eq!(reasons[0]["impliedBy"], "avx512f");
    assert!(reasons[0]["message"].as_str().unwrap().contains("avx2 (implied by avx512f)"));
    // A listed feature is named without impliedBy, even when another listed one implies it.
    let idx = index(vec![entry("linux/amd64", &["avx512f", "avx2"])]);
    let reasons = &select(&idx, &host, TABLE).rejected[0].reasons;
    assert_eq!(reasons, &vec![Reason::FeatureUnsupported { feature: "avx2".into(), implied_by: None }]);
    // A listed feature the target lacks is named alone, not with everything it implies.
    let bare = target("linux/amd64", &[]);
    let reasons = &select(&index(vec![entry("linux/amd64", &["avx512f"])]), &bare, TABLE).rejected[0].reasons;
    assert_eq!(reasons, &vec![Reason::FeatureUnsupported { feature: "avx512f".into(), implied_by: None }]);
    // The entry is still rejected when the implied feature is all it lacks.
    let mut partial = target("linux/amd64", &["avx2"]);
    partial.features.remove(TABLE.canonical("amd64", "avx").unwrap());
    let reasons = &select(&index(vec![entry("linux/amd64", &["avx2", "bmi2"])]), &partial, TABLE).rejected[0].reasons;
    let got: Vec<Value> = reasons.iter().map(Reason::to_json).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(
        (&got[0]["feature"], &got[1]["feature"], &got[1]["impliedBy"]),
        (&json!("bmi2"), &json!("avx"), &json!("avx2"))
    );
}

#[test]
fn s4_6_command_line_targets_are_closed_hosts_are_not() {
    let mut named = target("linux/amd64", &[]);
    named.add_named(TABLE, &["avx512f"]).unwrap();
    assert!(named.features.is_closed());
    assert!(named.features.sorted_names().contains(&"avx2"));
    let v4 = Target::guaranteed(&Platform::new("linux", "amd64", "v4"), TABLE);
    assert!(v4.features.is_closed());
    let only: FeatureSet = std::iter::once(TABLE.canonical("amd64", "avx512f").unwrap()).collect();
    let host = Target::new(&Platform::new("linux", "amd64", ""), only);
    assert_eq!(host.features.sorted_names(), vec!["avx512f"]);
    let idx = index(vec![entry("linux/amd64", &["avx512f"])]);
    assert_eq!(select(&idx, &named, TABLE).selected(), Some(0));
    assert_eq!(select(&idx, &host, TABLE).selected(), None);
}

#[test]
fn s4_7_digest_must_be_valid() {
    let sha256 = format!("sha256:{}", "a".repeat(64));
    let sha512 = format!("sha512:{}", "0".repeat(128));
    let upper = format!("sha256:{}", "A".repeat(64));
    let short = format!("sha256:{}", "a".repeat(63));
    let sha512_as_256 = format!("sha512:{}", "a".repeat(64));
    // (digest, valid)
    let cases: &[(&str, bool)] = &[
        (&sha256, true),
        (&sha512, true),
        ("sha384:abc", true),
        ("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564", true),
        ("multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8", true),
        ("b3+x.y_z-w:A=b_c-d", true),
        (&upper, false),
        (&short, false),
        (&sha512_as_256, false),
        ("sha256", false),
        (":abc", false),
        ("sha256:", false),
        ("SHA256:abc", false),
        ("sha256-:abc", false),
        ("sha..256:abc", false),
        ("foo:a/b", false),
        ("foo:a b", false),
        ("", false),
    ];
    for (digest, valid) in cases {
        assert_eq!(ocifit_core::select::digest_is_valid(digest), *valid, "{digest}");
        let mut e = entry("linux/amd64", &[]);
        e["digest"] = json!(digest);
        let idx = Index::from_value(json!({"manifests": [e]})).unwrap();
        let s = select(&idx, &target("linux/amd64", &[]), TABLE);
        if *valid {
            assert_eq!(s.selected(), Some(0), "{digest}");
        } else {
            assert_eq!(
                s.rejected[0].reasons.iter().map(Reason::code).collect::<Vec<_>>(),
                ["digest-invalid"],
                "{digest}"
            );
            assert_eq!(s.rejected[0].reasons[0].to_json()["digest"], json!(digest));
        }
        // A runtime that ignores features does not check digests (§6).
        assert_eq!(legacy_select(&idx, &target("linux/amd64", &[])).selected(), Some(0), "{digest}");
    }
}

#[test]
fn s5_3_larger_closure_ranks_above() {
    // The ranking trap: a v3 build listing two features, a v4 build listing one.
    let idx = index(vec![
        entry("linux/amd64", &[]),
        entry("linux/amd64", &["avx2", "bmi2"]),
        entry("linux/amd64", &["avx512f"]),
    ]);
    let v4 = Target::guaranteed(&Platform::new("linux", "amd64", "v4"), TABLE);
    assert_eq!(select(&idx, &v4, TABLE).selected(), Some(2));
    let v3 = Target::guaranteed(&Platform::new("linux", "amd64", "v3"), TABLE);
    assert_eq!(select(&idx, &v3, TABLE).selected(), Some(1));
}

#[test]
fn s5_3_strict_superset_ranks_above() {
    // avx512bw's closure strictly contains avx512f's: it ranks above wherever both run,
    // whatever the order in the index; an equal closure falls back to position.
    let t = Target::guaranteed(&Platform::new("linux", "amd64", "v4"), TABLE);
    for (entries, want) in [
        (vec![entry("linux/amd64", &["avx512f"]), entry("linux/amd64", &["avx512bw"])], 1),
        (vec![entry("linux/amd64", &["avx512bw"]), entry("linux/amd64", &["avx512f"])], 0),
        (vec![entry("linux/amd64", &["avx512f", "avx2"]), entry("linux/amd64", &["avx512f"])], 0),
        (vec![entry("linux/amd64", &["avx512f"]), entry("linux/amd64", &["avx512f", "avx2", "fma"])], 0),
    ] {
        assert_eq!(select(&index(entries.clone()), &t, TABLE).selected(), Some(want), "{entries:?}");
    }
}
