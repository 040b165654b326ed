//! Property tests of the matcher (§4–§6) over generated indexes and targets.

use ocifit_core::{FeatureSet, FeatureTable, Index, Platform, Target, select};
use proptest::prelude::*;
use serde_json::{Value, json};

const TABLE: FeatureTable = FeatureTable::builtin();

const PLATFORMS: &[&str] = &[
    "linux/amd64",
    "linux/amd64/v2",
    "linux/amd64/v3",
    "linux/386",
    "linux/arm64",
    "linux/arm64/v8.2",
    "windows/amd64",
];
/// Known x86 and arm64 names, an alias and nonsense: entries may carry any.
const FEATURES: &[&str] = &["avx2", "bmi2", "fma", "sse4_2", "avx512f", "asimd", "sve", "SSE42", "bogus"];

fn entry_strategy() -> impl Strategy<Value = (usize, Vec<usize>)> {
    (0..PLATFORMS.len(), proptest::collection::vec(0..FEATURES.len(), 0..4))
}

fn entry_json(i: usize, platform: usize, features: &[usize]) -> Value {
    let parts: Vec<&str> = PLATFORMS[platform].split('/').collect();
    let mut p = json!({"os": parts[0], "architecture": parts[1]});
    if let Some(v) = parts.get(2) {
        p["variant"] = json!(v);
    }
    if !features.is_empty() {
        p["features"] = json!(features.iter().map(|f| FEATURES[*f]).collect::<Vec<_>>());
    }
    json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "size": 10,
           "digest": format!("sha256:{i:064x}"), "platform": p})
}

fn build(entries: &[(usize, Vec<usize>)]) -> Index {
    let manifests: Vec<Value> = entries.iter().enumerate().map(|(i, (p, f))| entry_json(i, *p, f)).collect();
    Index::from_value(json!({"schemaVersion": 2, "manifests": manifests})).unwrap()
}

/// A target platform and a list of feature names valid on it.
fn target_strategy() -> impl Strategy<Value = (usize, Vec<&'static str>)> {
    (0..PLATFORMS.len(), proptest::collection::vec(0..FEATURES.len(), 0..6)).prop_map(|(p, fs)| {
        let arch = PLATFORMS[p].split('/').nth(1).unwrap();
        let names = fs
            .into_iter()
            .map(|f| FEATURES[f])
            .filter(|n| ocifit_core::target::resolve_for(TABLE, arch, n).is_ok())
            .collect();
        (p, names)
    })
}

fn target(platform: usize, names: &[&str]) -> Target {
    let parts: Vec<&str> = PLATFORMS[platform].split('/').collect();
    let p = Platform::new(parts[0], parts[1], parts.get(2).copied().unwrap_or(""));
    let mut t = Target::new(&p, FeatureSet::new());
    t.add_named(TABLE, names).unwrap();
    t
}

proptest! {
    #[test]
    fn choice_does_not_depend_on_target_feature_order(
        entries in proptest::collection::vec(entry_strategy(), 0..12),
        (p, names) in target_strategy(),
        seed in any::<u64>(),
    ) {
        let index = build(&entries);
        let mut shuffled = names.clone();
        // A deterministic shuffle from the seed.
        let mut s = seed;
        for i in (1..shuffled.len()).rev() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            shuffled.swap(i, (s >> 33) as usize % (i + 1));
        }
        prop_assert_eq!(select(&index, &target(p, &names), TABLE), select(&index, &target(p, &shuffled), TABLE));
    }

    #[test]
    fn adding_an_unsupported_feature_never_makes_an_entry_chosen(
        entries in proptest::collection::vec(entry_strategy(), 1..12),
        (p, names) in target_strategy(),
        which in any::<prop::sample::Index>(),
        extra in 0..FEATURES.len(),
    ) {
        let t = target(p, &names);
        let i = which.index(entries.len());
        let arch = PLATFORMS[entries[i].0].split('/').nth(1).unwrap();
        let supported = ocifit_core::target::resolve_for(TABLE, arch, FEATURES[extra])
            .is_ok_and(|id| TABLE.canonical(arch, FEATURES[extra]).is_some() && t.features.contains(id));
        prop_assume!(!supported);
        let mut changed = entries.clone();
        changed[i].1.push(extra);
        let after = select(&build(&changed), &t, TABLE);
        prop_assert_ne!(after.selected(), Some(i));
    }

    /// §4.6, §5.3: requirements and rank are the closure, so listing a
    /// feature the list already implies changes nothing.
    #[test]
    fn adding_an_implied_feature_never_changes_the_choice(
        entries in proptest::collection::vec(entry_strategy(), 1..12),
        (p, names) in target_strategy(),
        which in any::<prop::sample::Index>(),
        pick in any::<prop::sample::Index>(),
    ) {
        let t = target(p, &names);
        let i = which.index(entries.len());
        let arch = PLATFORMS[entries[i].0].split('/').nth(1).unwrap();
        let listed: FeatureSet = entries[i].1.iter().filter_map(|f| TABLE.canonical(arch, FEATURES[*f])).collect();
        let mut implied = listed.closure();
        implied.subtract(&listed);
        let implied: Vec<&str> = implied.iter().map(|id| id.feature().name).collect();
        prop_assume!(!implied.is_empty());
        let extra = implied[pick.index(implied.len())];
        let before = select(&build(&entries), &t, TABLE);
        let mut manifests: Vec<Value> = entries.iter().enumerate().map(|(k, (pl, f))| entry_json(k, *pl, f)).collect();
        manifests[i]["platform"]["features"].as_array_mut().unwrap().push(json!(extra));
        let after = select(&Index::from_value(json!({"manifests": manifests})).unwrap(), &t, TABLE);
        let order = |s: &ocifit_core::Selection| s.candidates.iter().map(|c| c.index).collect::<Vec<_>>();
        prop_assert_eq!(order(&before), order(&after));
    }

    #[test]
    fn appending_entries_of_another_platform_never_changes_the_choice(
        entries in proptest::collection::vec(entry_strategy(), 0..10),
        more in proptest::collection::vec(proptest::collection::vec(0..FEATURES.len(), 0..3), 0..5),
        (p, names) in target_strategy(),
    ) {
        let t = target(p, &names);
        let before = select(&build(&entries), &t, TABLE).selected();
        // s390x and windows/arm64 are never in any generated target's vector.
        let other = if t.platform.os == "windows" { "linux/s390x" } else { "windows/arm64" };
        let index = {
            let mut manifests: Vec<Value> = entries.iter().enumerate().map(|(i, (pl, f))| entry_json(i, *pl, f)).collect();
            for (k, feats) in more.iter().enumerate() {
                let parts: Vec<&str> = other.split('/').collect();
                let mut e = entry_json(1000 + k, 0, feats);
                e["platform"]["os"] = json!(parts[0]);
                e["platform"]["architecture"] = json!(parts[1]);
                manifests.push(e);
            }
            Index::from_value(json!({"manifests": manifests})).unwrap()
        };
        prop_assert_eq!(select(&index, &t, TABLE).selected(), before);
    }

    #[test]
    fn json_output_names_an_entry_of_the_index(
        entries in proptest::collection::vec(entry_strategy(), 0..12),
        (p, names) in target_strategy(),
    ) {
        let index = build(&entries);
        let t = target(p, &names);
        let s = select(&index, &t, TABLE);
        let doc = s.to_json(&index, &t);
        let digests: Vec<&str> = index.entries().map(|e| e.digest).collect();
        match doc["selected"].as_object() {
            Some(sel) => {
                let i = sel["index"].as_u64().unwrap() as usize;
                prop_assert_eq!(sel["digest"].as_str().unwrap(), digests[i]);
            }
            None => prop_assert!(s.candidates.is_empty()),
        }
        // Every entry is accounted for exactly once.
        let total = doc["candidates"].as_array().unwrap().len() + doc["rejected"].as_array().unwrap().len();
        prop_assert_eq!(total, index.len());
    }
}
