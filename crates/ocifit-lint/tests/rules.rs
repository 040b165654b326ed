//! Every rule: cases that must fire (with the pointer they must name) and
//! cases that must not. Named after the rule's code.

mod common;

use common::{entry, entry_with, index};
use ocifit_lint::{Code, Diagnostic, Linter};
use serde_json::{Value, json};

struct Case {
    name: &'static str,
    document: Value,
    /// Pointers where the rule must fire: exactly these, no others.
    fires_at: &'static [&'static str],
}

fn lint(doc: &Value) -> Vec<Diagnostic> {
    Linter::new().lint(doc.clone())
}

fn check(code: Code, cases: Vec<Case>) {
    for case in cases {
        let found = lint(&case.document);
        let mut at: Vec<&str> = found.iter().filter(|d| d.code == code).map(|d| d.pointer.as_str()).collect();
        at.sort();
        let mut want = case.fires_at.to_vec();
        want.sort();
        assert_eq!(at, want, "{code} / {}: {found:#?}", case.name);
        for d in found.iter().filter(|d| d.code == code) {
            assert_eq!(d.severity, code.severity());
            assert!(!d.message.is_empty() && !d.hint.is_empty(), "{d:?}");
        }
    }
}

fn fires(name: &'static str, document: Value, fires_at: &'static [&'static str]) -> Case {
    Case { name, document, fires_at }
}

fn quiet(name: &'static str, document: Value) -> Case {
    Case { name, document, fires_at: &[] }
}

#[test]
fn schema() {
    let mut wrong_size = index(vec![entry("linux/amd64", &[])]);
    wrong_size["manifests"][0]["size"] = json!("1000");
    let mut no_digest = index(vec![entry("linux/amd64", &[])]);
    no_digest["manifests"][0].as_object_mut().unwrap().remove("digest");
    let mut bad_media_type = index(vec![entry("linux/amd64", &[])]);
    bad_media_type["manifests"][0]["mediaType"] = json!("not a media type");
    let mut no_arch = index(vec![entry("linux/amd64", &[])]);
    no_arch["manifests"][0]["platform"].as_object_mut().unwrap().remove("architecture");
    let mut annotations = index(vec![entry("linux/amd64", &[])]);
    annotations["annotations"] = json!({"a": 1});
    check(
        Code::Schema,
        vec![
            fires("size is a string", wrong_size, &["/manifests/0/size"]),
            fires("no digest", no_digest, &["/manifests/0"]),
            fires("media type", bad_media_type, &["/manifests/0/mediaType"]),
            fires("no architecture", no_arch, &["/manifests/0/platform"]),
            fires("annotation value", annotations, &["/annotations/a"]),
            fires("schemaVersion", json!({"schemaVersion": 1, "manifests": []}), &["/schemaVersion"]),
            fires("no manifests", json!({"schemaVersion": 2}), &[""]),
            quiet("valid", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2"])])),
            quiet(
                "unknown keys and urls",
                json!({"schemaVersion": 2, "x-extra": true, "manifests": [{
                    "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                    "digest": format!("sha256:{}", "a".repeat(64)), "urls": ["https://example.com/blob"],
                    "artifactType": "application/example", "annotations": {"k": "v"}}]}),
            ),
        ],
    );
}

#[test]
fn index_invalid() {
    check(
        Code::IndexInvalid,
        vec![
            fires(
                "an image manifest",
                json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "manifests": []}),
                &["/mediaType"],
            ),
            // The schema reports it; no second diagnostic at the same place.
            quiet("size is a string (schema says it)", {
                let mut d = index(vec![entry("linux/amd64", &[])]);
                d["manifests"][0]["size"] = json!("1");
                d
            }),
            quiet("docker manifest list", {
                let mut d = index(vec![entry("linux/amd64", &[])]);
                d["mediaType"] = json!("application/vnd.docker.distribution.manifest.list.v2+json");
                d
            }),
            quiet("no top-level mediaType", {
                let mut d = index(vec![entry("linux/amd64", &[])]);
                d.as_object_mut().unwrap().remove("mediaType");
                d
            }),
        ],
    );
}

#[test]
fn features_type() {
    let mut string = index(vec![entry("linux/amd64", &[])]);
    string["manifests"][0]["platform"]["features"] = json!("avx2");
    let mut number = index(vec![entry("linux/amd64", &[])]);
    number["manifests"][0]["platform"]["features"] = json!(["avx2", 2]);
    check(
        Code::FeaturesType,
        vec![
            fires("a string", string, &["/manifests/0/platform/features"]),
            fires("a number item", number, &["/manifests/0/platform/features/1"]),
            quiet("array of strings", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2"])])),
            quiet("empty array", index(vec![entry_with("linux/amd64", Some(&[]), 0)])),
        ],
    );
}

#[test]
fn feature_empty() {
    check(
        Code::FeatureEmpty,
        vec![
            fires(
                "empty string",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2", ""])]),
                &["/manifests/1/platform/features/1"],
            ),
            quiet("names", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2"])])),
        ],
    );
}

#[test]
fn digest_encoding() {
    let mut short = index(vec![entry("linux/amd64", &[])]);
    short["manifests"][0]["digest"] = json!("sha256:abc123");
    let mut upper = index(vec![entry("linux/amd64", &[])]);
    upper["manifests"][0]["digest"] = json!(format!("sha256:{}", "A".repeat(64)));
    let mut sha512 = index(vec![entry("linux/amd64", &[])]);
    sha512["manifests"][0]["digest"] = json!(format!("sha512:{}", "a".repeat(64)));
    let mut good512 = index(vec![entry("linux/amd64", &[])]);
    good512["manifests"][0]["digest"] = json!(format!("sha512:{}", "0".repeat(128)));
    let mut other = index(vec![entry("linux/amd64", &[])]);
    other["manifests"][0]["digest"] = json!("sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564");
    check(
        Code::DigestEncoding,
        vec![
            fires("sha256 too short", short, &["/manifests/0/digest"]),
            fires("sha256 uppercase", upper, &["/manifests/0/digest"]),
            fires("sha512 with 64", sha512, &["/manifests/0/digest"]),
            quiet("sha256", index(vec![entry("linux/amd64", &[])])),
            quiet("sha512", good512),
            quiet("unregistered algorithm", other),
        ],
    );
}

#[test]
fn feature_unknown() {
    check(
        Code::FeatureUnknown,
        vec![
            fires(
                "an alias",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["sse4.2"])]),
                &["/manifests/1/platform/features/0"],
            ),
            fires(
                "upper case",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["AVX2"])]),
                &["/manifests/1/platform/features/0"],
            ),
            fires(
                "arm64 name on amd64",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["sve"])]),
                &["/manifests/1/platform/features/0"],
            ),
            fires(
                "typo",
                index(vec![entry("linux/arm64", &[]), entry("linux/arm64", &["atomic", "sve"])]),
                &["/manifests/1/platform/features/0"],
            ),
            fires(
                "no table",
                index(vec![entry("linux/mips64le", &[]), entry("linux/mips64le", &["msa"])]),
                &["/manifests/1/platform/features/0"],
            ),
            quiet("canonical", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["sse4_2", "avx2"])])),
            quiet("x86_64 spelling", index(vec![entry("linux/x86_64", &[]), entry("linux/x86_64", &["avx2"])])),
            quiet("arm64", index(vec![entry("linux/arm64", &[]), entry("linux/arm64", &["sve2", "i8mm"])])),
        ],
    );
    // What the messages say.
    let found = lint(&index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["sse4.2", "sve", "avx3"])]));
    let unknown: Vec<&Diagnostic> = found.iter().filter(|d| d.code == Code::FeatureUnknown).collect();
    assert!(unknown[0].hint.contains("\"sse4_2\""), "{:?}", unknown[0]);
    assert!(unknown[1].hint.contains("arm64"), "{:?}", unknown[1]);
    assert!(unknown[2].hint.contains("did you mean"), "{:?}", unknown[2]);
}

#[test]
fn feature_duplicate() {
    check(
        Code::FeatureDuplicate,
        vec![
            fires(
                "twice",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2", "bmi2", "avx2"])]),
                &["/manifests/1/platform/features/2"],
            ),
            fires(
                "in a long list",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry(
                        "linux/amd64",
                        &[
                            "avx2",
                            "bmi1",
                            "bmi2",
                            "fma",
                            "f16c",
                            "movbe",
                            "popcnt",
                            "lzcnt",
                            "sse3",
                            "ssse3",
                            "sse4_1",
                            "sse4_2",
                            "aes",
                            "pclmulqdq",
                            "avx",
                            "xsave",
                            "sha_ni",
                            "vaes",
                            "avx2",
                        ],
                    ),
                ]),
                &["/manifests/1/platform/features/18"],
            ),
            quiet("distinct", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2", "bmi2"])])),
            quiet(
                "same name, two entries",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["avx2"]),
                    entry("linux/amd64", &["avx2", "bmi2"]),
                ]),
            ),
        ],
    );
}

#[test]
fn unsafe_order() {
    check(
        Code::UnsafeOrder,
        vec![
            fires(
                "features first",
                index(vec![entry("linux/amd64", &["avx2"]), entry("linux/amd64", &[])]),
                &["/manifests/0"],
            ),
            fires(
                "normalized spellings are one platform",
                index(vec![entry("linux/x86_64", &["avx2"]), entry("linux/amd64", &[])]),
                &["/manifests/0"],
            ),
            fires(
                "after another platform's entries",
                index(vec![
                    entry("linux/arm64", &[]),
                    entry("linux/amd64", &["avx512f"]),
                    entry("linux/amd64", &["avx2"]),
                    entry("linux/amd64", &[]),
                ]),
                &["/manifests/1"],
            ),
            quiet("fallback first", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2"])])),
            quiet(
                "other variant",
                index(vec![
                    entry("linux/amd64/v3", &[]),
                    entry("linux/amd64/v3", &["avx512f"]),
                    entry("linux/amd64", &[]),
                ]),
            ),
            quiet(
                "only guaranteed features first",
                index(vec![entry("linux/amd64/v3", &["avx2"]), entry("linux/amd64/v3", &[])]),
            ),
            quiet(
                "other os.features",
                index(vec![
                    {
                        let mut e = entry("windows/amd64", &["avx2"]);
                        e["platform"]["os.features"] = json!(["win32k"]);
                        e
                    },
                    entry("windows/amd64", &[]),
                ]),
            ),
        ],
    );
    let found = lint(&index(vec![entry("linux/amd64", &["avx2", "bmi2"]), entry("linux/amd64", &[])]));
    let d = found.iter().find(|d| d.code == Code::UnsafeOrder).unwrap();
    assert!(d.message.contains("entry 0") && d.message.contains("avx2, bmi2") && d.message.contains("SIGILL"), "{d:?}");
    assert!(d.hint.contains("entry 1"), "{d:?}");
}

#[test]
fn no_fallback() {
    check(
        Code::NoFallback,
        vec![
            fires(
                "only features",
                index(vec![entry("linux/amd64", &["avx2"]), entry("linux/amd64", &["avx512f"])]),
                &["/manifests/0"],
            ),
            fires(
                "another architecture's fallback does not count",
                index(vec![entry("linux/arm64", &[]), entry("linux/amd64", &["avx2"])]),
                &["/manifests/1"],
            ),
            quiet("with fallback", index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["avx2"])])),
            quiet(
                "fallback last (unsafe-order says it)",
                index(vec![entry("linux/amd64", &["avx2"]), entry("linux/amd64", &[])]),
            ),
            quiet("only guaranteed features", index(vec![entry("linux/amd64/v3", &["avx2", "fma"])])),
            quiet(
                "no platform",
                json!({"schemaVersion": 2, "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                "digest": format!("sha256:{}", "a".repeat(64))}]}),
            ),
        ],
    );
}

#[test]
fn unreachable_entry() {
    check(
        Code::UnreachableEntry,
        vec![
            fires(
                "same platform and features as an earlier entry",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["avx2"]),
                    entry("linux/amd64", &["avx2"]),
                ]),
                &["/manifests/2"],
            ),
            fires(
                "same set in another order and spelling of the platform",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["bmi2", "avx2"]),
                    entry("linux/x86_64", &["avx2", "bmi2"]),
                ]),
                &["/manifests/2"],
            ),
            fires(
                "a second fallback",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &[])]),
                &["/manifests/1"],
            ),
            fires(
                // Entry 1 lists two guaranteed features: it runs on every v3
                // host, and its closure (9 features) ties entry 2's
                // (avx_vnni: 9) and comes first everywhere entry 2 runs; it
                // outranks the fallback everywhere.
                "outranked by redundant features",
                index(vec![
                    entry("linux/amd64/v3", &[]),
                    entry("linux/amd64/v3", &["avx2", "bmi2"]),
                    entry("linux/amd64/v3", &["avx_vnni"]),
                ]),
                &["/manifests/0", "/manifests/2"],
            ),
            fires(
                // avx512f's closure (11) is larger than avx2+fma's (9): it
                // ranks above wherever it runs (§5.3), so only the fallback
                // is unreachable.
                "a larger closure is not outranked",
                index(vec![
                    entry("linux/amd64/v3", &[]),
                    entry("linux/amd64/v3", &["avx2", "fma"]),
                    entry("linux/amd64/v3", &["avx512f"]),
                ]),
                &["/manifests/0"],
            ),
            quiet(
                "different features",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["avx2"]),
                    entry("linux/amd64", &["avx2", "bmi2"]),
                ]),
            ),
            quiet(
                "a superset with fewer features listed is still reachable",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["avx2", "bmi2"]),
                    entry("linux/amd64", &["avx2"]),
                ]),
            ),
            quiet(
                "same features, other variant",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["avx512f"]),
                    entry("linux/amd64/v2", &[]),
                    entry("linux/amd64/v2", &["avx512f"]),
                ]),
            ),
            quiet(
                "same features, other os.version",
                index(vec![
                    {
                        let mut e = entry("windows/amd64", &[]);
                        e["platform"]["os.version"] = json!("10.0.17763.1");
                        e
                    },
                    {
                        let mut e = entry("windows/amd64", &[]);
                        e["platform"]["os.version"] = json!("10.0.20348.1");
                        e
                    },
                ]),
            ),
            quiet("buildx attestation manifests (unknown/unknown)", {
                let mut d = index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/arm64", &[]),
                    entry("unknown/unknown", &[]),
                    entry("unknown/unknown", &[]),
                ]);
                for i in [2, 3] {
                    d["manifests"][i]["annotations"] = json!({
                        "vnd.docker.reference.type": "attestation-manifest",
                        "vnd.docker.reference.digest": format!("sha256:{:064x}", i - 1),
                    });
                }
                d
            }),
            quiet(
                "unknown features are feature-unknown's business",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["nope"]),
                    entry("linux/amd64", &["nope"]),
                ]),
            ),
        ],
    );
}

#[test]
fn feature_redundant() {
    check(
        Code::FeatureRedundant,
        vec![
            fires(
                "avx2 on amd64/v3",
                index(vec![entry("linux/amd64/v3", &[]), entry("linux/amd64/v3", &["avx512f", "avx2"])]),
                &["/manifests/1/platform/features/1"],
            ),
            fires(
                "sse2 on amd64",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["sse2"])]),
                &["/manifests/1/platform/features/0"],
            ),
            quiet("avx2 on amd64/v2", index(vec![entry("linux/amd64/v2", &[]), entry("linux/amd64/v2", &["avx2"])])),
            quiet(
                "avx512f on amd64/v3",
                index(vec![entry("linux/amd64/v3", &[]), entry("linux/amd64/v3", &["avx512f"])]),
            ),
        ],
    );
}

#[test]
fn the_example_index_is_clean() {
    // Nothing but level-partial notes: entry 1 (avx2, bmi2) names part of
    // x86-64-v3, entry 2 (the AVX-512 set) the v4 additions without the v3 set.
    let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json")).unwrap();
    let found = Linter::new().lint_bytes(&text).unwrap();
    let at: Vec<(Code, &str)> = found.iter().map(|d| (d.code, d.pointer.as_str())).collect();
    assert_eq!(
        at,
        [
            (Code::LevelPartial, "/manifests/1/platform/features"),
            (Code::LevelPartial, "/manifests/2/platform/features")
        ]
    );
}

/// The ranking trap: a v3 build whose features imply more than the v4
/// build's is given to x86-64-v4 machines.
fn trap(v3: &[&str], v4: &[&str]) -> Value {
    index(vec![entry("linux/amd64", &[]), entry("linux/amd64", v3), entry("linux/amd64", v4)])
}

/// What `--features LEVEL` writes: every canonical name of the level.
fn level(name: &str) -> Vec<&'static str> {
    let table = ocifit_core::FeatureTable::builtin();
    let ids = ocifit_core::target::resolve_word(table, "amd64", name).unwrap();
    ids.into_iter().map(|id| id.feature().name).collect()
}

#[test]
fn level_outranked() {
    check(
        Code::LevelOutranked,
        vec![
            fires(
                "a whole-v3 build outranks a bare avx512f build on v4 machines",
                trap(&level("x86-64-v3"), &["avx512f"]),
                &["/manifests/2"],
            ),
            quiet(
                "arm64: whole levels, each implying more than the one below",
                index(vec![
                    entry("linux/arm64", &[]),
                    entry("linux/arm64", &["atomics", "asimdrdm", "crc32", "dcpop"]),
                    entry("linux/arm64", &["atomics", "asimdrdm", "crc32", "dcpop", "fcma", "jscvt", "lrcpc"]),
                ]),
            ),
            fires(
                "arm64: the whole v8.2 set outranks a bare v8.3 build on v8.3 machines",
                index(vec![
                    entry("linux/arm64", &[]),
                    entry("linux/arm64", &["atomics", "asimdrdm", "crc32", "dcpop"]),
                    entry("linux/arm64", &["paca", "pacg"]),
                ]),
                &["/manifests/2"],
            ),
            quiet("the old trap is gone: [avx2, bmi2] against [avx512f]", trap(&["avx2", "bmi2"], &["avx512f"])),
            quiet("whole levels", trap(&level("x86-64-v3"), &level("x86-64-v4"))),
            quiet("only a fallback", index(vec![entry("linux/amd64", &[])])),
            quiet(
                "the v4 entry is not compatible with v4 machines (it needs more): not meant for them",
                trap(&level("x86-64-v3"), &["avx512f", "avx512_vnni"]),
            ),
        ],
    );
}

#[test]
fn level_outranked_index_selects_the_avx512_build_once_fixed() {
    // The trap lints with the warning; listing the whole v4 level (what the
    // hint says) makes v4 machines select the AVX-512 build.
    let trapped = trap(&level("x86-64-v3"), &["avx512f"]);
    let found = lint(&trapped);
    let d = found.iter().find(|d| d.code == Code::LevelOutranked).expect("level-outranked");
    assert!(d.message.contains("x86-64-v4") && d.message.contains("entry 1"), "{}", d.message);
    assert!(d.hint.contains("--features x86-64-v4"), "{}", d.hint);
    let table = ocifit_core::FeatureTable::builtin();
    let v4 = ocifit_core::Target::guaranteed(&ocifit_core::Platform::new("linux", "amd64", "v4"), table);
    let select =
        |doc: &Value| ocifit_core::select(&ocifit_core::Index::from_value(doc.clone()).unwrap(), &v4, table).selected();
    assert_eq!(select(&trapped), Some(1), "the trap: v4 machines get the v3 build");
    let fixed = trap(&level("x86-64-v3"), &level("x86-64-v4"));
    assert_eq!(select(&fixed), Some(2), "listing the level gives v4 machines the AVX-512 build");
    assert!(!lint(&fixed).iter().any(|d| d.code == Code::LevelOutranked));
}

#[test]
fn level_partial_the_ranking_trap_suggests_levels_and_v4_gets_the_avx512_build() {
    // The trap as reported: a v3 entry ["avx2", "bmi2"] and a v4 entry
    // ["avx512f"] used to give AVX-512 machines the v3 build (it listed more
    // names). Ranked by closure, v4 machines now get the AVX-512 build, and
    // lint notes that both name part of a level (an info: the suggestion).
    let doc = trap(&["avx2", "bmi2"], &["avx512f"]);
    let found = lint(&doc);
    let partial: Vec<&str> =
        found.iter().filter(|d| d.code == Code::LevelPartial).map(|d| d.pointer.as_str()).collect();
    assert_eq!(partial, ["/manifests/1/platform/features", "/manifests/2/platform/features"]);
    assert!(found.iter().all(|d| d.code != Code::LevelPartial || d.severity == ocifit_lint::Severity::Info));
    let v4_hint = &found.iter().find(|d| d.pointer == "/manifests/2/platform/features").unwrap().hint;
    assert!(v4_hint.contains("--features x86-64-v4"), "{v4_hint}");
    let table = ocifit_core::FeatureTable::builtin();
    let v4 = ocifit_core::Target::guaranteed(&ocifit_core::Platform::new("linux", "amd64", "v4"), table);
    let index = ocifit_core::Index::from_value(doc).unwrap();
    assert_eq!(ocifit_core::select(&index, &v4, table).selected(), Some(2));
}

#[test]
fn level_partial() {
    check(
        Code::LevelPartial,
        vec![
            fires(
                "avx512f without the rest of v4",
                trap(&level("x86-64-v3"), &["avx512f"]),
                &["/manifests/2/platform/features"],
            ),
            fires(
                "the v4 additions without the v3 set",
                index(vec![
                    entry("linux/amd64", &[]),
                    entry("linux/amd64", &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]),
                ]),
                &["/manifests/1/platform/features"],
            ),
            fires(
                "arm64: part of armv8.1-a",
                index(vec![entry("linux/arm64", &[]), entry("linux/arm64", &["atomics"])]),
                &["/manifests/1/platform/features"],
            ),
            quiet(
                "the whole of x86-64-v4 on a v3 entry (the variant guarantees the v3 set)",
                index(vec![
                    entry("linux/amd64/v3", &[]),
                    entry("linux/amd64/v3", &["avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"]),
                ]),
            ),
            quiet(
                "features beyond every level (sha_ni) are not a partial level",
                index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &["sha_ni"])]),
            ),
            quiet("a fallback", index(vec![entry("linux/amd64", &[])])),
            quiet("s390x has no levels", index(vec![entry("linux/s390x", &[]), entry("linux/s390x", &["vx"])])),
        ],
    );
}

#[test]
fn feature_unknown_sse4_is_ambiguous_and_never_fixed() {
    for spelling in ["sse4", "SSE4"] {
        let doc = index(vec![entry("linux/amd64", &[]), entry("linux/amd64", &[spelling])]);
        let found = lint(&doc);
        let d = found.iter().find(|d| d.code == Code::FeatureUnknown).expect("feature-unknown");
        assert_eq!(d.pointer, "/manifests/1/platform/features/0");
        assert!(d.message.contains("\"sse4_1\" or \"sse4_2\""), "{}", d.message);
        assert!(d.hint.contains("does not guess"), "{}", d.hint);
        let fixed = ocifit_lint::fix(doc.clone(), ocifit_core::FeatureTable::builtin());
        assert_eq!(fixed.document, doc, "never rewritten");
    }
}

#[test]
fn not_json_is_the_only_hard_error() {
    let linter = Linter::new();
    assert!(linter.lint_bytes(b"{\"manifests\": [").is_err());
    for doc in ["[]", "null", "\"x\"", "{}", "{\"manifests\": {}}", "{\"manifests\": [1, null]}"] {
        let found = linter.lint_bytes(doc.as_bytes()).unwrap();
        assert!(ocifit_lint::has_errors(&found), "{doc}: {found:?}");
    }
}

#[test]
fn every_code_is_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/lint.md")).unwrap();
    for code in Code::ALL {
        assert!(doc.contains(&format!("`{code}`")), "docs/lint.md does not mention `{code}`");
    }
}
