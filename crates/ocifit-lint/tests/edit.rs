//! `ocifit index` edits, on generated indexes full of things an edit must
//! not touch (unknown keys everywhere, annotations, shuffled key order,
//! `subject`): `add` then `remove` gives the input back, key order and all;
//! no edit changes another entry; `fix-order` is a permutation that
//! leaves no unsafe order and moves nothing outside the groups it fixes.

use ocifit_core::FeatureTable;
use ocifit_lint::edit::{self, EditErrorKind, Op};
use ocifit_lint::{Code, Linter};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn table() -> FeatureTable {
    FeatureTable::builtin()
}

/// (os, architecture, variant, os.version)
const PLATFORMS: &[(&str, &str, &str, &str)] = &[
    ("linux", "amd64", "", ""),
    ("linux", "x86_64", "", ""),
    ("linux", "amd64", "v3", ""),
    ("linux", "arm64", "", ""),
    ("linux", "arm64", "v8", ""),
    ("windows", "amd64", "", "10.0.20348.2031"),
];
const X86: &[&str] = &["avx2", "bmi2", "fma", "avx512f", "sse4_2", "avx512_vnni"];
const ARM: &[&str] = &["sve", "sve2", "i8mm", "atomics", "asimd", "bf16"];

fn names_for(arch: &str) -> &'static [&'static str] {
    if arch.contains("arm") { ARM } else { X86 }
}

fn text(v: &Value) -> String {
    serde_json::to_string(v).unwrap()
}

/// One generated entry: platform choice (or none), feature picks, digest
/// number, and the junk an edit must keep (order of keys is shuffled by
/// `rotate`).
#[derive(Debug, Clone)]
struct Spec {
    platform: Option<usize>,
    features: Option<Vec<usize>>,
    digest: u8,
    annotations: Vec<(String, String)>,
    unknown: Option<(String, i64)>,
    rotate: usize,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        prop::option::weighted(0.9, 0..PLATFORMS.len()),
        prop::option::of(prop::collection::vec(0..6usize, 0..4)),
        0..12u8,
        prop::collection::vec(("[a-z.]{1,6}", "[ -~]{0,8}"), 0..3),
        prop::option::of(("x-[a-z]{1,4}", any::<i64>())),
        0..5usize,
    )
        .prop_map(|(platform, features, digest, annotations, unknown, rotate)| Spec {
            platform,
            features,
            digest,
            annotations,
            unknown,
            rotate,
        })
}

fn rotated(pairs: Vec<(String, Value)>, by: usize) -> Map<String, Value> {
    let mut pairs = pairs;
    let n = pairs.len().max(1);
    pairs.rotate_left(by % n);
    pairs.into_iter().collect()
}

fn entry(s: &Spec) -> Value {
    let mut pairs: Vec<(String, Value)> = vec![
        ("mediaType".into(), json!("application/vnd.oci.image.manifest.v1+json")),
        ("size".into(), json!(1000 + u64::from(s.digest))),
        ("digest".into(), json!(format!("sha256:{:064x}", u64::from(s.digest) + 1))),
    ];
    if let Some(p) = s.platform {
        let (os, arch, variant, version) = PLATFORMS[p];
        let mut pp: Vec<(String, Value)> = vec![("os".into(), json!(os)), ("architecture".into(), json!(arch))];
        if !variant.is_empty() {
            pp.push(("variant".into(), json!(variant)));
        }
        if !version.is_empty() {
            pp.push(("os.version".into(), json!(version)));
        }
        if let Some(f) = &s.features {
            let names: Vec<&str> = f.iter().map(|i| names_for(arch)[*i]).collect();
            pp.push(("features".into(), json!(names)));
        }
        pp.push(("x-platform-extra".into(), json!([s.rotate])));
        pairs.push(("platform".into(), Value::Object(rotated(pp, s.rotate))));
    }
    if !s.annotations.is_empty() {
        let a: Map<String, Value> = s.annotations.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        pairs.push(("annotations".into(), Value::Object(a)));
    }
    if let Some((k, v)) = &s.unknown {
        pairs.push((k.clone(), json!({"n": v})));
    }
    Value::Object(rotated(pairs, s.rotate))
}

fn document(specs: &[Spec], top_rotate: usize) -> Value {
    let manifests: Vec<Value> = specs.iter().map(entry).collect();
    Value::Object(rotated(
        vec![
            ("schemaVersion".into(), json!(2)),
            ("mediaType".into(), json!("application/vnd.oci.image.index.v1+json")),
            ("manifests".into(), Value::Array(manifests)),
            ("annotations".into(), json!({"org.opencontainers.image.created": "2025-01-01T00:00:00Z"})),
            (
                "subject".into(),
                json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1,
                "digest": format!("sha256:{:064x}", 999)}),
            ),
            ("x-top".into(), json!({"b": 1, "a": 2})),
        ],
        top_rotate,
    ))
}

fn entries(doc: &Value) -> Vec<String> {
    doc["manifests"].as_array().unwrap().iter().map(text).collect()
}

/// Everything but `manifests`, serialized in document order.
fn outside(doc: &Value) -> String {
    let mut d = doc.clone();
    d.as_object_mut().unwrap().insert("manifests".into(), json!(null));
    text(&d)
}

fn indexes() -> impl Strategy<Value = (Vec<Spec>, usize)> {
    (prop::collection::vec(spec(), 1..9), 0..6usize)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// add, then remove of the entry it added: the input, byte for byte
    /// as serialized (so the same values and the same key order); and the
    /// new entry is the last of its platform group, a copy of its source.
    #[test]
    fn s1_add_then_remove_is_the_identity((specs, rot) in indexes(), pick in any::<prop::sample::Index>(),
                                       names in prop::collection::vec(0..6usize, 1..4)) {
        let doc = document(&specs, rot);
        let i = pick.index(specs.len());
        let Some(p) = specs[i].platform else { return Ok(()) };
        let digest = doc["manifests"][i]["digest"].as_str().unwrap().to_string();
        let features: Vec<String> = names.iter().map(|n| names_for(PLATFORMS[p].1)[*n].to_uppercase()).collect();
        let mut edited = doc.clone();
        if let Err(e) = edit::add(&mut edited, table(), &digest, &features, None) {
            // Only an ambiguous digest (several platforms) is refused here.
            prop_assert_eq!(e.kind, EditErrorKind::Usage);
            prop_assert!(e.message.contains("several platforms"), "{}", e);
            prop_assert_eq!(text(&edited), text(&doc));
            return Ok(());
        }
        let (old, new) = (entries(&doc), entries(&edited));
        prop_assert_eq!(new.len(), old.len() + 1);
        let at = (0..old.len()).find(|k| old[*k] != new[*k]).unwrap_or(old.len());
        // Everything else untouched: the entries around it, and the rest of the document.
        let mut without = new.clone();
        without.remove(at);
        prop_assert_eq!(&without, &old);
        prop_assert_eq!(outside(&edited), outside(&doc));
        // The copy: same keys in the same order, only platform.features differs.
        let source = doc["manifests"].as_array().unwrap().iter()
            .find(|e| e["digest"] == json!(digest)).unwrap().clone();
        let added = edited["manifests"][at].clone();
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        prop_assert_eq!(keys(&added), keys(&source));
        let mut s2 = source.clone();
        s2["platform"]["features"] = added["platform"]["features"].clone();
        prop_assert_eq!(text(&s2), text(&added));
        for name in added["platform"]["features"].as_array().unwrap() {
            prop_assert!(table().canonical(&PLATFORMS[p].1.replace("x86_64", "amd64"), name.as_str().unwrap()).is_some());
        }
        // Placed after every entry of its group.
        let group = |e: &Value| (e["platform"]["os"].clone(), e["platform"]["architecture"].as_str()
            .map(|a| a.replace("x86_64", "amd64")), e["platform"]["variant"].as_str().map(|v| v.replace("v8", "")).filter(|v| !v.is_empty()));
        let mine = group(&added);
        prop_assert!(edited["manifests"].as_array().unwrap()[at + 1..].iter()
            .all(|e| e.get("platform").is_none() || group(e) != mine));

        let mut back = edited.clone();
        edit::remove(&mut back, at).unwrap();
        prop_assert_eq!(text(&back), text(&doc));
    }

    /// set-features touches exactly one `features` value; remove exactly one entry.
    #[test]
    fn s1_an_edit_never_changes_another_entry((specs, rot) in indexes(), pick in any::<prop::sample::Index>(),
                                           names in prop::option::of(prop::collection::vec(0..6usize, 1..4))) {
        let doc = document(&specs, rot);
        let i = pick.index(specs.len());
        let old = entries(&doc);

        let mut set = doc.clone();
        let features: Option<Vec<String>> = specs[i].platform
            .map(|p| names.clone().unwrap_or_default().iter().map(|n| names_for(PLATFORMS[p].1)[*n].to_string()).collect());
        let features = features.filter(|f| !f.is_empty());
        match edit::set_features(&mut set, table(), i, features.as_deref()) {
            Ok(_) => {
                let new = entries(&set);
                for k in (0..old.len()).filter(|k| *k != i) {
                    prop_assert_eq!(&new[k], &old[k]);
                }
                prop_assert_eq!(outside(&set), outside(&doc));
                // In entry i, only platform.features changed.
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(p) = v.get_mut("platform").and_then(Value::as_object_mut) {
                        p.shift_remove("features");
                    }
                    text(&v)
                };
                prop_assert_eq!(strip(&set["manifests"][i]), strip(&doc["manifests"][i]));
            }
            Err(e) => {
                prop_assert!(specs[i].platform.is_none(), "{}", e);
                prop_assert_eq!(text(&set), text(&doc));
            }
        }

        let mut removed = doc.clone();
        edit::remove(&mut removed, i).unwrap();
        let mut want = old.clone();
        want.remove(i);
        prop_assert_eq!(entries(&removed), want);
        prop_assert_eq!(outside(&removed), outside(&doc));
    }

    /// fix-order: a permutation of the entries that passes the unsafe-order
    /// rule, where entries without a platform and every group lint did not
    /// fix stay put — or a refusal that leaves the document as it was.
    #[test]
    fn s6_fix_order_is_a_safe_permutation((specs, rot) in indexes()) {
        let doc = document(&specs, rot);
        let mut fixed = doc.clone();
        if let Err(e) = edit::fix_order(&mut fixed, table()) {
            prop_assert_eq!(e.kind, EditErrorKind::Refused);
            prop_assert_eq!(text(&fixed), text(&doc));
            return Ok(());
        }
        let (mut old, mut new) = (entries(&doc), entries(&fixed));
        for (k, e) in doc["manifests"].as_array().unwrap().iter().enumerate() {
            if e.get("platform").is_none() {
                prop_assert_eq!(&new[k], &old[k], "entry {} without platform moved", k);
            }
        }
        prop_assert_eq!(outside(&fixed), outside(&doc));
        old.sort();
        new.sort();
        prop_assert_eq!(old, new);
        let unsafe_left: Vec<String> = Linter::new().lint(fixed.clone()).into_iter()
            .filter(|d| d.code == Code::UnsafeOrder).map(|d| d.message).collect();
        prop_assert!(unsafe_left.is_empty(), "{:?}", unsafe_left);
        // Idempotent.
        let mut again = fixed.clone();
        edit::fix_order(&mut again, table()).unwrap();
        prop_assert_eq!(text(&again), text(&fixed));
    }

    /// apply never returns a document with more lint errors of a code
    /// than the input had.
    #[test]
    fn s6_apply_adds_no_lint_error((specs, rot) in indexes(), pick in any::<prop::sample::Index>(), op in 0..4usize) {
        let doc = document(&specs, rot);
        let linter = Linter::new();
        let i = pick.index(specs.len());
        let names = |p: Option<usize>| vec![names_for(PLATFORMS[p.unwrap_or(0)].1)[i % 6].to_string()];
        let op = match op {
            0 => Op::Add { digest: doc["manifests"][i]["digest"].as_str().unwrap().into(),
                           features: names(specs[i].platform), variant: None },
            1 => Op::SetFeatures { entry: i, features: Some(names(specs[i].platform)) },
            2 => Op::Remove { entry: i },
            _ => Op::FixOrder,
        };
        if let Ok(edited) = edit::apply(&linter, &doc, &op, true) {
            let count = |d: &Value, code: Code| linter.lint(d.clone()).iter()
                .filter(|x| x.code == code && x.severity == ocifit_lint::Severity::Error).count();
            for code in Code::ALL {
                prop_assert!(count(&edited.document, code) <= count(&doc, code), "{} grew after {:?}", code, op);
            }
        }
    }
}

#[test]
fn s6_fix_order_refuses_what_would_change_a_features_aware_choice() {
    // amd64/v3: ["avx_vnni"] needs features; ["avx2", "bmi2"] is a fallback
    // (v3 guarantees both) whose closure is as large (9 features each).
    // Moving it first would make features-aware runtimes pick it over the
    // AVX-VNNI build.
    let mut doc = document(&[], 0);
    doc["manifests"] = json!([
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": format!("sha256:{:064x}", 1),
         "platform": {"os": "linux", "architecture": "amd64", "variant": "v3", "features": ["avx_vnni"]}},
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 1, "digest": format!("sha256:{:064x}", 2),
         "platform": {"os": "linux", "architecture": "amd64", "variant": "v3", "features": ["avx2", "bmi2"]}},
    ]);
    let before = doc.clone();
    let e = edit::fix_order(&mut doc, table()).unwrap_err();
    assert_eq!(e.kind, EditErrorKind::Refused);
    assert!(e.message.contains("would change which one features-aware runtimes pick"), "{e}");
    assert_eq!(doc, before);
}
