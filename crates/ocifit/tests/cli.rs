//! The command-line contract (§8) of `select`, `features` and `explain`,
//! run as a user would: the real binary, real files, exit codes and output.

mod common;
use common::{Run, ocifit};
use serde_json::Value;

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json");

fn stderr(out: &Run) -> String {
    out.stderr.clone()
}

#[test]
fn s8_select_json_shape() {
    let out = ocifit(&["select", EXAMPLE, "--platform", "linux/amd64/v3", "--format", "json"], None);
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
    let doc = out.json();
    assert_eq!(doc["target"]["os"], "linux");
    assert_eq!(doc["target"]["architecture"], "amd64");
    assert_eq!(doc["target"]["variant"], "v3");
    let features: Vec<&str> =
        doc["target"]["features"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert!(features.contains(&"avx2") && features.contains(&"bmi2"));
    let mut sorted = features.clone();
    sorted.sort();
    assert_eq!(features, sorted, "target features are sorted");
    let selected = &doc["selected"];
    assert_eq!(selected["index"], 1);
    assert_eq!(selected["digest"], "sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270");
    assert_eq!(selected["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    assert_eq!(selected["size"], 7682);
    assert_eq!(selected["platform"]["features"], serde_json::json!(["avx2", "bmi2"]));
    let candidates: Vec<u64> =
        doc["candidates"].as_array().unwrap().iter().map(|c| c["index"].as_u64().unwrap()).collect();
    assert_eq!(candidates, vec![1, 0]);
    let rejected = doc["rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 3);
    assert_eq!(rejected[0]["index"], 2);
    assert_eq!(rejected[0]["reasons"][0]["code"], "feature-unsupported");
    assert_eq!(rejected[1]["reasons"][0]["code"], "arch-mismatch");
}

#[test]
fn s8_select_features_adds_to_the_variant_set_and_accepts_aliases() {
    let out = ocifit(
        &[
            "select",
            EXAMPLE,
            "--platform",
            "linux/amd64/v3",
            "--features",
            "AVX512F,avx512bw,avx512cd,avx512dq,avx512vl",
            "--format",
            "json",
        ],
        None,
    );
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
    assert_eq!(out.json()["selected"]["index"], 2);
}

#[test]
fn s8_select_from_stdin() {
    let bytes = std::fs::read(EXAMPLE).unwrap();
    let out =
        ocifit(&["select", "-", "--platform", "linux/arm64", "--features", "sve", "--format", "json"], Some(&bytes));
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
    assert_eq!(out.json()["selected"]["index"], 4);
}

#[test]
fn s8_select_nothing_compatible_exits_1() {
    let out = ocifit(&["select", EXAMPLE, "--platform", "linux/s390x", "--format", "json"], None);
    assert_eq!(out.code, Some(1));
    assert_eq!(out.json()["selected"], Value::Null);
    let out = ocifit(&["select", EXAMPLE, "--platform", "linux/s390x"], None);
    assert_eq!(out.code, Some(1));
    assert!(stderr(&out).contains("no entry runs on"), "{}", stderr(&out));
}

#[test]
fn s6_select_legacy_ignores_features() {
    let out = ocifit(
        &["select", EXAMPLE, "--platform", "linux/amd64", "--features", "avx2,bmi2", "--legacy", "--format", "json"],
        None,
    );
    assert_eq!(out.code, Some(0));
    let doc = out.json();
    assert_eq!(doc["selected"]["index"], 0);
    assert_eq!(doc["mode"], "legacy");
}

#[test]
fn select_text_names_the_choice_and_every_verdict() {
    let out = ocifit(&["select", EXAMPLE, "--platform", "linux/amd64/v3"], None);
    assert_eq!(out.code, Some(0));
    let text = out.stdout.clone();
    assert!(text.contains("selected: #1 sha256:5b0bcabd"), "{text}");
    assert!(text.contains("compatible (rank 2)"), "{text}");
    assert!(text.contains("rejected: lacks avx512f"), "{text}");
    assert!(text.contains("rejected: architecture arm64 does not run on amd64/v3"), "{text}");
}

/// Bad input: exit 2, one short line on stderr that names the input and the problem.
#[test]
fn s8_bad_input_exits_2_with_one_line() {
    let dir = std::env::temp_dir().join(format!("ocifit-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cases: &[(&str, &[u8], &str)] = &[
        ("not-json.json", b"this is not json", "invalid JSON"),
        ("empty.json", b"", "truncated JSON"),
        ("array.json", b"[1,2]", "must be a JSON object"),
        ("no-manifests.json", b"{\"schemaVersion\":2}", "no \"manifests\""),
        ("features-not-array.json", br#"{"manifests":[{"mediaType":"m","digest":"sha256:00","size":1,"platform":{"os":"linux","architecture":"amd64","features":"avx2"}}]}"#, "/manifests/0/platform/features"),
        ("features-number.json", br#"{"manifests":[{"mediaType":"m","digest":"sha256:00","size":1,"platform":{"os":"linux","architecture":"amd64","features":[1]}}]}"#, "/manifests/0/platform/features/0"),
        ("size-string.json", br#"{"manifests":[{"mediaType":"m","digest":"sha256:00","size":"1"}]}"#, "/manifests/0/size"),
        ("nul.json", b"{\"manifests\":[]}\0", "invalid JSON"),
        ("utf8.json", b"{\"manifests\":[],\"x\":\"\xff\"}", "invalid JSON"),
        ("deep.json", &[b'['; 100_000], "invalid JSON"),
    ];
    for (name, bytes, needle) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = ocifit(&["select", path.to_str().unwrap(), "--platform", "linux/amd64"], None);
        let err = stderr(&out);
        assert_eq!(out.code, Some(2), "{name}: {err}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
        assert!(err.len() < 400, "{name}: error too long");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn s8_bad_usage_exits_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["select", EXAMPLE, "--platform", "linux/amd64", "--features", "sve"], "arm64"),
        (&["select", EXAMPLE, "--platform", "linux/amd64", "--features", "nonsense"], "nonsense"),
        (&["select", EXAMPLE, "--platform", "linux/&amd64"], "--platform"),
        (&["select", "missing.json", "--platform", "linux/amd64"], "missing.json: no such file"),
        (&["select", EXAMPLE, "--bogus-flag"], "--bogus-flag"),
        (&["explain", "sse4_3"], "did you mean"),
        (&["features", "mips"], "mips"),
    ];
    for (args, needle) in cases {
        let out = ocifit(args, None);
        let err = stderr(&out);
        assert_eq!(out.code, Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

#[test]
fn features_json_has_the_documented_fields() {
    let out = ocifit(&["features", "--format", "json"], None);
    assert_eq!(out.code, Some(0));
    let rows = out.json();
    let rows = rows.as_array().unwrap();
    assert!(rows.len() > 300, "only {} rows", rows.len());
    for row in rows {
        for key in ["name", "architectures", "description", "linux", "aliases", "link", "detection"] {
            assert!(row.get(key).is_some(), "{key} missing in {row}");
        }
    }
    let avx2 = rows.iter().find(|r| r["name"] == "avx2").unwrap();
    assert_eq!(avx2["detection"]["kind"], "cpuid");
    assert_eq!(avx2["detection"]["leaf"], 7);
    assert_eq!(avx2["detection"]["bit"], 5);
    assert_eq!(avx2["detection"]["xcr0"], serde_json::json!([1, 2]));
}

#[test]
fn features_filters_by_architecture() {
    let out = ocifit(&["features", "arm64", "--format", "json"], None);
    let rows = out.json();
    assert!(rows.as_array().unwrap().iter().all(|r| r["architectures"].as_array().unwrap().contains(&"arm64".into())));
    assert!(rows.as_array().unwrap().iter().any(|r| r["name"] == "sve2"));
}

#[test]
fn explain_maps_aliases_to_the_canonical_name() {
    for (alias, canonical) in
        [("sse4.2", "sse4_2"), ("SSE42", "sse4_2"), ("pni", "sse3"), ("abm", "lzcnt"), ("lse", "atomics")]
    {
        let out = ocifit(&["explain", alias, "--format", "json"], None);
        assert_eq!(out.code, Some(0), "{alias}");
        let doc = out.json();
        assert_eq!(doc[0]["name"], canonical, "{alias}");
    }
    let out = ocifit(&["explain", "avx2"], None);
    let text = out.stdout.clone();
    assert!(text.contains("CPUID.(EAX=0x7,ECX=0):EBX[5]") && text.contains("amd64/v3"), "{text}");
}

/// `select` reads through the fast read-only parser; where it declines
/// (a repeated key) or decodes (escapes), the answer is the one `lint` and
/// the editors read: the last `platform` wins, `\u0078` is `x`.
#[test]
fn s1_select_reads_odd_but_valid_indexes_as_the_document_does() {
    let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64));
    let text = format!(
        r#"{{"schemaVersion":2,"manifests":[
          {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"{a}",
            "platform":{{"os":"linux","architecture":"arm64"}},
            "platform":{{"os":"linux","architecture":"amd64"}}}},
          {{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"{b}",
            "platform":{{"os":"linux","architecture":"amd64","features":["av\u0078512f"]}}}}]}}"#,
        a = digest('a'),
        b = digest('b'),
    );
    let out = ocifit(&["select", "-", "--platform", "linux/amd64/v3", "--format", "json"], Some(text.as_bytes()));
    assert_eq!(out.code, Some(0), "{}", stderr(&out));
    let doc = out.json();
    assert_eq!(doc["selected"]["digest"], digest('a'));
    assert_eq!(doc["selected"]["platform"]["architecture"], "amd64");
    assert_eq!(doc["rejected"][0]["reasons"][0]["code"], "feature-unsupported");
    assert_eq!(doc["rejected"][0]["reasons"][0]["feature"], "avx512f");
    let lint = ocifit(&["lint", "-", "--format", "json"], Some(text.as_bytes()));
    let codes: Vec<String> =
        lint.json()["diagnostics"].as_array().unwrap().iter().map(|d| d["code"].as_str().unwrap().into()).collect();
    assert!(!codes.iter().any(|c| c == "feature-unknown"), "lint reads the escape as select does: {codes:?}");
}
