//! Names typed on the command line (docs/semantics.md §2 "levels", §8):
//! level names wherever features are taken, platform names checked with a
//! "did you mean" (exit 2, never a silent "no"), feature-name errors that
//! suggest and explain. The real binary, real files.

mod common;
use common::ocifit;
use serde_json::json;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json");

#[test]
fn s8_unknown_platform_names_are_usage_errors_with_did_you_mean() {
    // (--platform, what stderr must say)
    let cases: &[(&str, &str)] = &[
        ("linux/amd65", r#"unknown architecture "amd65"; did you mean "amd64"?"#),
        ("lnux/amd64", r#"unknown operating system "lnux"; did you mean "linux"?"#),
        ("linux/amd64/foo", r#"unknown amd64 variant "foo": amd64 variants are v1..v4"#),
        ("linux/amd64/v5", "amd64 variants are v1..v4"),
        ("linux/arm/v9", "arm variants are v5..v8"),
        ("linux/arm64/v7", "arm64 variants are v8"),
        ("linux/aarch65", r#"did you mean "aarch64"?"#),
    ];
    for (platform, want) in cases {
        let mirror = ["mirror", "--listen", "127.0.0.1:0", "--cache-dir", "/nonexistent/ocifit-never-created"];
        for command in [&["select", EXAMPLE][..], &["resolve", EXAMPLE][..], &mirror[..]] {
            let mut args = command.to_vec();
            args.extend(["--platform", platform]);
            let out = ocifit(&args, None);
            assert_eq!(out.code, Some(2), "{args:?}: {}", out.stderr);
            assert!(out.stderr.contains(want), "{args:?}: {}", out.stderr);
            assert_eq!(out.stderr.trim_end().lines().count(), 1, "one line: {}", out.stderr);
        }
    }
}

#[test]
fn s8_every_spelling_containerd_normalizes_is_still_accepted() {
    for platform in [
        "linux/amd64",
        "linux/amd64/v1",
        "Linux/x86_64/v3",
        "linux/x86-64",
        "linux/aarch64",
        "linux/arm64/v8",
        "linux/arm64/8",
        "linux/arm64/v8.2",
        "linux/arm64/9.0",
        "linux/arm64/v10",
        "linux/armhf",
        "linux/armel",
        "linux/arm/7",
        "linux/i386",
        "macos/arm64",
        "windows/amd64",
        "linux/riscv64",
        "linux/ppc64le",
        "linux/s390x",
        "linux/mips64le",
        "linux",
        "arm64",
        "windows(10.0.20348.1)/amd64",
    ] {
        let out = ocifit(&["select", EXAMPLE, "--platform", platform, "--format", "json"], None);
        assert!(matches!(out.code, Some(0 | 1)), "{platform}: {}", out.stderr);
    }
}

#[test]
fn s2_level_names_on_the_command_line() {
    // --features x86-64-v3 on plain amd64 is the whole v2+v3 set: the same
    // target as --platform linux/amd64/v3 apart from the variant.
    let named =
        ocifit(&["select", EXAMPLE, "--platform", "linux/amd64", "--features", "x86-64-v3", "--format", "json"], None);
    assert_eq!(named.code, Some(0), "{}", named.stderr);
    let v3 = ocifit(&["select", EXAMPLE, "--platform", "linux/amd64/v3", "--format", "json"], None);
    assert_eq!(named.json()["target"]["features"], v3.json()["target"]["features"]);
    assert_eq!(named.json()["selected"]["index"], 1);
    // A level of another architecture says so.
    let out = ocifit(&["select", EXAMPLE, "--platform", "linux/arm64", "--features", "x86-64-v3"], None);
    assert_eq!(out.code, Some(2));
    assert!(out.stderr.contains("it is an x86 level"), "{}", out.stderr);
    let out =
        ocifit(&["select", EXAMPLE, "--platform", "linux/arm64", "--features", "armv8.2-a", "--format", "json"], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.json()["target"]["features"].as_array().unwrap().contains(&json!("dcpop")));
}

#[test]
fn s2_explain_and_features_show_levels_and_implications() {
    let out = ocifit(&["explain", "x86-64-v3", "--format", "json"], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let doc = out.json();
    assert_eq!((doc["architecture"].as_str(), doc["variant"].as_str()), (Some("amd64"), Some("v3")));
    let level = ocifit(&["features", "amd64", "--level", "v3", "--format", "json"], None);
    assert_eq!(level.code, Some(0), "{}", level.stderr);
    let mut listed: Vec<String> =
        level.json().as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect();
    listed.sort();
    assert_eq!(json!(listed), doc["features"], "explain x86-64-v3 and features --level v3 agree");
    assert!(listed.contains(&"bmi2".to_string()) && listed.contains(&"sse4_2".to_string()));
    assert!(!listed.contains(&"avx512f".to_string()));
    let by_name = ocifit(&["features", "amd64", "--level", "x86-64-v3", "--format", "json"], None);
    assert_eq!(by_name.json(), level.json());
    let bad = ocifit(&["features", "amd64", "--level", "v5"], None);
    assert_eq!(bad.code, Some(2));
    assert!(bad.stderr.contains("known: baseline, v2, v3, v4"), "{}", bad.stderr);

    let text = ocifit(&["explain", "avx512f"], None);
    assert_eq!(text.code, Some(0));
    assert!(text.stdout.contains("implies:       avx2 f16c fma"), "{}", text.stdout);
    assert!(text.stdout.contains("implies (all):") && text.stdout.contains("sse4_2"), "{}", text.stdout);
    assert!(text.stdout.contains("implied by:") && text.stdout.contains("avx512bw"), "{}", text.stdout);
    let json = ocifit(&["explain", "sve2", "--format", "json"], None).json();
    assert_eq!(json[0]["implies"], json!(["sve"]));
    assert!(json[0]["impliesAll"].as_array().unwrap().contains(&json!("fphp")));

    let table = ocifit(&["features", "amd64"], None);
    let row = table.stdout.lines().find(|l| l.split_whitespace().nth(1) == Some("avx2")).unwrap();
    assert_eq!(row.split_whitespace().nth(2), Some("x86-64-v3"), "{row}");
}

#[test]
fn s8_feature_errors_suggest_and_explain() {
    // (platform, --features value, what stderr must say)
    let cases: &[(&str, &str, &str)] = &[
        ("linux/amd64", "avx-2x", "did you mean avx2"),
        ("linux/amd64", "avx2 bmi2", "separate them with commas, not spaces (avx2,bmi2)"),
        ("linux/amd64", "sve", "(it is an arm64 feature)"),
        ("linux/arm64", "avx2", "(it is an x86 feature)"),
    ];
    for (platform, value, want) in cases {
        let out = ocifit(&["select", EXAMPLE, "--platform", platform, "--features", value], None);
        assert_eq!(out.code, Some(2), "{value}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{value}: {}", out.stderr);
        assert!(!out.stderr.contains(" a arm64") && !out.stderr.contains(" a x86"), "{}", out.stderr);
    }
}

#[test]
fn s4_7_invalid_digest_rejected_and_command_line_targets_closed() {
    let dir = std::env::temp_dir().join(format!("ocifit-implied-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("index.json");
    let digest = |n: u32| format!("sha256:{n:064x}");
    let doc = json!({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": digest(1),
         "platform": {"os": "linux", "architecture": "amd64", "features": ["avx512f"]}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": "sha256:abc",
         "platform": {"os": "linux", "architecture": "amd64"}}]});
    std::fs::write(&path, serde_json::to_vec(&doc).unwrap()).unwrap();
    let p = path.to_str().unwrap();
    // avx512f without fma: a target only the command line can build, and avx512f's closure needs fma.
    let out = ocifit(&["select", p, "--platform", "linux/amd64/v2", "--features", "avx512f", "--format", "json"], None);
    let doc = out.json();
    assert_eq!(doc["selected"]["index"], 0, "the command line closes the target: avx512f brings fma");
    let out = ocifit(&["select", p, "--platform", "linux/amd64/v4", "--format", "json"], None);
    let doc = out.json();
    assert_eq!(doc["selected"]["index"], 0);
    let rejected = &doc["rejected"][0];
    assert_eq!(rejected["index"], 1);
    assert_eq!(rejected["reasons"][0]["code"], "digest-invalid");
    assert_eq!(rejected["reasons"][0]["digest"], "sha256:abc");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn s2_level_names_in_index_edits_and_fleet_profiles() {
    let dir = std::env::temp_dir().join(format!("ocifit-levels-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // index set-features: on a plain amd64 entry, x86-64-v3 writes the v2 and v3 names.
    let out = ocifit(&["index", "set-features", EXAMPLE, "--entry", "1", "--features", "x86-64-v3"], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let written: Vec<String> = out.json()["manifests"][1]["platform"]["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect();
    let table = ocifit_core::FeatureTable::builtin();
    let mut want: Vec<&str> = ocifit_core::target::resolve_word(table, "amd64", "x86-64-v3")
        .unwrap()
        .into_iter()
        .map(|id| id.feature().name)
        .filter(|n| !["cmov", "cx8", "fpu", "fxsr", "mmx", "sse", "sse2"].contains(n))
        .collect();
    assert_eq!(written, want, "the v2 + v3 names, baseline left out");
    assert!(written.contains(&"popcnt".to_string()) && written.contains(&"bmi2".to_string()));
    // A level and a feature together, duplicates dropped.
    let out =
        ocifit(&["index", "set-features", EXAMPLE, "--entry", "1", "--features", "x86-64-v2,sha_ni,popcnt"], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    want = vec!["cx16", "lahf_lm", "popcnt", "sse3", "sse4_1", "sse4_2", "ssse3", "sha_ni"];
    let doc = out.json();
    let mut got: Vec<&str> =
        doc["manifests"][1]["platform"]["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // A fleet profile may name a level.
    let profiles = dir.join("profiles.json");
    std::fs::write(
        &profiles,
        serde_json::to_vec(
            &json!([{"name": "v3-node", "os": "linux", "architecture": "amd64", "features": ["x86-64-v3"]}]),
        )
        .unwrap(),
    )
    .unwrap();
    let out = ocifit(&["fleet", "--format", "json", "--nodes", profiles.to_str().unwrap(), "--image", EXAMPLE], None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let result = &out.json()["results"][0];
    assert_eq!(
        (result["verdict"].as_str(), result["selected"]["index"].as_u64()),
        (Some("compatible"), Some(1)),
        "{result}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn s4_6_a_profile_without_an_implied_feature_lacks_it_implied_by_the_listed_one() {
    // A host profile is what was detected, not closed: this VM reports
    // avx512f but masks avx2. The entry's closure needs avx2.
    let dir = std::env::temp_dir().join(format!("ocifit-implied-by-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let profiles = dir.join("profiles.json");
    let features = ["avx512f", "fma", "f16c", "avx", "sse4_2", "sse4_1", "ssse3", "sse3", "sse2", "sse"];
    std::fs::write(
        &profiles,
        serde_json::to_vec(&json!([{"name": "odd-vm", "os": "linux", "architecture": "amd64", "features": features}]))
            .unwrap(),
    )
    .unwrap();
    let image = dir.join("index.json");
    let entry = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
        "digest": format!("sha256:{:064x}", 1), "platform": {"os": "linux", "architecture": "amd64", "features": ["avx512f"]}});
    std::fs::write(&image, serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": [entry]})).unwrap()).unwrap();
    let (p, i) = (profiles.to_str().unwrap(), image.to_str().unwrap());
    let text = ocifit(&["fleet", "--nodes", p, "--image", i, "--only-incompatible"], None);
    assert_eq!(text.code, Some(1), "{}", text.stderr);
    assert!(text.stdout.contains("#0 lacks avx2 (implied by avx512f)"), "{}", text.stdout);
    let doc = ocifit(&["fleet", "--nodes", p, "--image", i, "--format", "json"], None).json();
    let reason = &doc["results"][0]["rejected"][0]["reasons"][0];
    assert_eq!(
        *reason,
        json!({"code": "feature-unsupported", "message": "needs avx2 (implied by avx512f), which the target lacks", "feature": "avx2", "impliedBy": "avx512f"})
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
