//! Properties of the mirror's rewrite (docs/semantics.md §9) over random
//! indexes, targets and formatting:
//! - a features-ignoring runtime's choice (§6) on the rewritten index is
//!   the features choice (§4–§5) on the source;
//! - the rewritten document differs from the source only in the removed or
//!   moved entries and the one source annotation;
//! - only entries the runtime could take on this node are removed;
//! - a pass-through reason is true of the source.

use ocifit_core::{FeatureTable, Index, Platform, Target, legacy_select, select};
use ocifit_mirror::rewrite::{Mode, Pass, SOURCE_ANNOTATION, rewrite, sha256};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

const FEATURES: &[&str] = &["avx2", "bmi2", "fma", "avx512f", "sse4_2", "avx512bw"];

fn entry_strategy() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(("amd64", "")),
            Just(("amd64", "v2")),
            Just(("amd64", "v3")),
            Just(("arm64", "")),
            Just(("386", ""))
        ],
        proptest::sample::subsequence(FEATURES, 0..3),
        any::<u8>(),
        any::<bool>(),
        prop_oneof![Just("linux"), Just("linux"), Just("windows")],
    )
        .prop_map(|((arch, variant), features, n, annotated, os)| {
            let mut platform = Map::new();
            platform.insert("architecture".into(), json!(arch));
            platform.insert("os".into(), json!(os));
            if !variant.is_empty() {
                platform.insert("variant".into(), json!(variant));
            }
            if !features.is_empty() && arch == "amd64" {
                platform.insert("features".into(), json!(features));
            }
            let mut e = json!({"mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", format!("{n:02x}").repeat(32)), "size": n as u64 + 1,
                "platform": Value::Object(platform)});
            if annotated {
                e["annotations"] = json!({"org.example.n": n.to_string()});
            }
            e
        })
}

fn index_strategy() -> impl Strategy<Value = Value> {
    (proptest::collection::vec(entry_strategy(), 1..7), any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
        |(manifests, media_type, annotations, extra)| {
            let mut doc = Map::new();
            doc.insert("schemaVersion".into(), json!(2));
            if media_type {
                doc.insert("mediaType".into(), json!("application/vnd.oci.image.index.v1+json"));
            }
            doc.insert("manifests".into(), Value::Array(manifests));
            if annotations {
                doc.insert("annotations".into(), json!({"org.opencontainers.image.created": "2026-01-01T00:00:00Z"}));
            }
            if extra {
                doc.insert("x-unknown".into(), json!({"z": 1, "a": [true, null]}));
            }
            Value::Object(doc)
        },
    )
}

fn target_strategy() -> impl Strategy<Value = Target> {
    prop_oneof![Just(""), Just("v2"), Just("v3"), Just("v4")].prop_flat_map(|variant| {
        proptest::sample::subsequence(FEATURES, 0..3).prop_map(move |extra| {
            let mut t = Target::guaranteed(&Platform::new("linux", "amd64", variant), FeatureTable::builtin());
            t.add_named(FeatureTable::builtin(), &extra).unwrap();
            t
        })
    })
}

fn manifests(doc: &Value) -> Vec<Value> {
    doc["manifests"].as_array().unwrap().clone()
}

/// The document without `manifests` and without the mirror's annotation
/// (an `annotations` object left empty by that removal goes too).
fn rest(doc: &Value) -> Vec<(String, Value)> {
    let mut map = doc.as_object().unwrap().clone();
    map.shift_remove("manifests");
    if let Some(Value::Object(a)) = map.get_mut("annotations") {
        a.shift_remove(SOURCE_ANNOTATION);
        if a.is_empty() {
            map.shift_remove("annotations");
        }
    }
    map.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn s9_rewrite_makes_the_legacy_choice_the_features_choice(
        doc in index_strategy(),
        target in target_strategy(),
        pretty in any::<bool>(),
        reorder in any::<bool>(),
    ) {
        let source = if pretty { serde_json::to_vec_pretty(&doc).unwrap() } else { serde_json::to_vec(&doc).unwrap() };
        let digest = sha256(&source);
        let mode = if reorder { Mode::Reorder } else { Mode::Filter };
        let index = Index::from_slice(&source).unwrap();
        let table = FeatureTable::builtin();
        let chosen = select(&index, &target, table).selected();
        match rewrite(&source, None, &digest, &target, mode) {
            Ok(out) => {
                prop_assert_eq!(Some(out.selected), chosen);
                prop_assert_eq!(&out.digest, &sha256(&out.bytes));
                let rewritten: Value = serde_json::from_slice(&out.bytes).unwrap();
                let new_index = Index::from_slice(&out.bytes).unwrap();
                // The runtime's rule on the rewrite takes the entry ocifit chose on the source.
                let legacy = legacy_select(&new_index, &target).selected().unwrap();
                prop_assert_eq!(&manifests(&rewritten)[legacy], &manifests(&doc)[out.selected]);
                // Only the entries and the one annotation differ.
                prop_assert_eq!(rest(&rewritten), rest(&doc));
                prop_assert_eq!(&rewritten["annotations"][SOURCE_ANNOTATION], &json!(digest));
                let source_entries = manifests(&doc);
                let kept: Vec<Value> = source_entries
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !out.removed.contains(i))
                    .map(|(_, e)| e.clone())
                    .collect();
                let mut new_entries = manifests(&rewritten);
                prop_assert_eq!(new_entries.len(), kept.len());
                if mode == Mode::Filter {
                    prop_assert_eq!(&new_entries, &kept);
                } else {
                    // Only the selected entry moved.
                    let selected = &source_entries[out.selected];
                    let at = new_entries.iter().position(|e| e == selected).unwrap();
                    new_entries.remove(at);
                    let others: Vec<Value> = kept.into_iter().filter(|e| e != selected).collect();
                    prop_assert_eq!(new_entries, others);
                }
                // What goes is what the runtime could have taken here instead,
                // or (filter) another build of this node's os/architecture.
                let candidates: Vec<usize> =
                    legacy_select(&index, &target).candidates.iter().map(|c| c.index).collect();
                for &i in &out.removed {
                    let p = &source_entries[i]["platform"];
                    let same_arch = p["os"] == "linux" && p["architecture"] == "amd64" && mode == Mode::Filter;
                    prop_assert!(candidates.contains(&i) || same_arch, "removed #{} is neither", i);
                }
            }
            Err(Pass::NoneCompatible) => prop_assert_eq!(chosen, None),
            Err(Pass::AlreadyChosen) => prop_assert_eq!(legacy_select(&index, &target).selected(), chosen),
            Err(other) => prop_assert!(false, "unexpected pass-through {:?}", other),
        }
    }

    #[test]
    fn s9_compact_sources_stay_compact_and_entries_keep_their_bytes(
        doc in index_strategy(),
        target in target_strategy(),
    ) {
        let source = serde_json::to_string(&doc).unwrap();
        if let Ok(out) = rewrite(source.as_bytes(), None, &sha256(source.as_bytes()), &target, Mode::Filter) {
            let text = String::from_utf8(out.bytes).unwrap();
            prop_assert!(!text.contains('\n'));
            for e in manifests(&serde_json::from_str(&text).unwrap()) {
                prop_assert!(source.contains(&serde_json::to_string(&e).unwrap()));
            }
        }
    }
}
