//! `--fix`: the fixed document lints clean of every fixable problem, differs
//! from the input only where a fix applied, and (reordering, duplicates)
//! changes no features-aware selection. Plus the soundness of
//! `unreachable-entry` against the matcher.

mod common;

use common::{entry, index};
use ocifit_core::{FeatureTable, Index, Platform, Target, select};
use ocifit_lint::{Code, Linter, fix};
use proptest::prelude::*;
use serde_json::{Value, json};

fn table() -> FeatureTable {
    FeatureTable::builtin()
}

fn fixable_left(doc: &Value) -> Vec<(Code, String)> {
    Linter::new()
        .lint(doc.clone())
        .into_iter()
        .filter(|d| {
            matches!(d.code, Code::FeatureDuplicate | Code::UnsafeOrder)
                || (d.code == Code::FeatureUnknown && d.hint.contains("another spelling"))
        })
        .map(|d| (d.code, d.pointer))
        .collect()
}

#[test]
fn fixes_apply_and_nothing_else_changes() {
    let mut input = index(vec![
        entry("linux/arm64", &[]),
        entry("linux/amd64", &["AVX2", "sse4.2", "avx2", "bmi2", "bmi2"]),
        entry("linux/amd64", &["avx512f"]),
        entry("linux/arm64", &["sve"]),
        entry("linux/amd64", &[]),
    ]);
    // Things no fix may touch: unknown keys, annotations, key order, a
    // redundant feature, an unknown name that is no alias, a bad digest.
    input["manifests"][1]["annotations"] = json!({"z": "1", "a": "2"});
    input["manifests"][1]["x-vendor"] = json!({"keep": [1, 2, 3]});
    input["manifests"][2]["platform"]["features"] = json!(["avx512f", "sse2", "nope"]);
    input["manifests"][3]["digest"] = json!("sha256:abc");
    input["zzz"] = json!(null);

    let fixed = fix(input.clone(), table());
    assert!(fixed.changed());

    // Expected: entry 1's names canonical and de-duplicated; the amd64
    // fallback (4) moved to the first amd64 slot (1); 1 and 2 shift into 2
    // and 4; arm64 entries (0, 3) stay where they were.
    let mut e1 = input["manifests"][1].clone();
    e1["platform"]["features"] = json!(["avx2", "sse4_2", "bmi2"]);
    let expected = {
        let mut d = input.clone();
        d["manifests"] = json!([
            input["manifests"][0].clone(),
            input["manifests"][4].clone(),
            e1,
            input["manifests"][3].clone(),
            input["manifests"][2].clone(),
        ]);
        d
    };
    assert_eq!(fixed.document, expected, "{:#?}", fixed.fixes);
    // Key order too (preserve_order): the serializations are identical.
    assert_eq!(serde_json::to_string(&fixed.document).unwrap(), serde_json::to_string(&expected).unwrap());

    let mut codes: Vec<Code> = fixed.fixes.iter().filter(|f| f.applied).map(|f| f.code).collect();
    codes.sort();
    assert_eq!(
        codes,
        [Code::FeatureUnknown, Code::FeatureUnknown, Code::FeatureDuplicate, Code::FeatureDuplicate, Code::UnsafeOrder]
    );
    assert_eq!(fixable_left(&fixed.document), vec![]);
    // What was not fixable is still reported.
    let left: Vec<Code> = Linter::new().lint(fixed.document).into_iter().map(|d| d.code).collect();
    for code in [Code::FeatureRedundant, Code::FeatureUnknown, Code::DigestEncoding] {
        assert!(left.contains(&code), "{code} in {left:?}");
    }
}

#[test]
fn nothing_to_fix_changes_nothing() {
    let text = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/index.json")).unwrap();
    let doc: Value = serde_json::from_slice(&text).unwrap();
    let fixed = fix(doc.clone(), table());
    assert!(!fixed.changed());
    assert_eq!(fixed.fixes, vec![]);
    assert_eq!(fixed.document, doc);
}

#[test]
fn broken_documents_get_name_fixes_only() {
    let mut doc = index(vec![entry("linux/amd64", &["sse4.2"]), entry("linux/amd64", &[])]);
    doc["manifests"][1]["size"] = json!("big");
    let fixed = fix(doc.clone(), table());
    let mut want = doc.clone();
    want["manifests"][0]["platform"]["features"] = json!(["sse4_2"]);
    assert_eq!(fixed.document, want);
    for bad in [json!([]), json!({"manifests": 3}), json!({"manifests": [1, {"platform": 2}]})] {
        assert_eq!(fix(bad.clone(), table()).document, bad);
    }
}

#[test]
fn a_reorder_that_would_change_selection_is_refused() {
    // On amd64/v3, entry 1 lists only guaranteed features (so it is the
    // fallback) whose closure is as large as entry 0's (9 each): moving it
    // first would make it win the tie on hosts with avx_vnni.
    let doc = index(vec![entry("linux/amd64/v3", &["avx_vnni"]), entry("linux/amd64/v3", &["avx2", "bmi2"])]);
    assert!(Linter::new().lint(doc.clone()).iter().any(|d| d.code == Code::UnsafeOrder));
    let fixed = fix(doc.clone(), table());
    assert_eq!(fixed.document, doc);
    assert!(!fixed.changed());
    assert!(
        fixed
            .fixes
            .iter()
            .any(|f| f.code == Code::UnsafeOrder && !f.applied && f.description.contains("not reordered"))
    );
}

// --- properties -----------------------------------------------------------

const POOL: [&str; 8] = ["avx2", "bmi2", "fma", "avx512f", "avx512bw", "sha_ni", "vaes", "sse4_2"];
const ENTRY_VARIANTS: [&str; 3] = ["", "v2", "v3"];
const TARGET_VARIANTS: [&str; 4] = ["", "v2", "v3", "v4"];

fn build(entries: &[(usize, Vec<usize>)]) -> Value {
    index(
        entries
            .iter()
            .map(|(v, fs)| {
                let platform = match ENTRY_VARIANTS[*v] {
                    "" => "linux/amd64".to_string(),
                    v => format!("linux/amd64/{v}"),
                };
                let names: Vec<&str> = fs.iter().map(|f| POOL[*f]).collect();
                entry(&platform, &names)
            })
            .collect(),
    )
}

fn targets(specs: &[(usize, u8)]) -> Vec<Target> {
    specs
        .iter()
        .map(|(v, mask)| {
            let mut t = Target::guaranteed(&Platform::new("linux", "amd64", TARGET_VARIANTS[*v]), table());
            let names: Vec<&str> = (0..8).filter(|b| mask & (1 << b) != 0).map(|b| POOL[b]).collect();
            t.add_named(table(), &names).unwrap();
            t
        })
        .collect()
}

fn selected_digest(doc: &Value, target: &Target) -> Option<String> {
    let index = Index::from_value(doc.clone()).unwrap();
    select(&index, target, table()).selected().map(|i| index.entry(i).unwrap().digest.to_string())
}

fn entries() -> impl Strategy<Value = Vec<(usize, Vec<usize>)>> {
    prop::collection::vec((0..3usize, prop::collection::vec(0..8usize, 0..4)), 1..7)
}

fn target_specs() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((0..4usize, any::<u8>()), 1..12)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Reordering and removing duplicates never change what a
    /// features-aware runtime selects; the result has no fixable problem
    /// left unless the run said it could not fix it.
    #[test]
    fn fixing_keeps_every_selection(entries in entries(), specs in target_specs()) {
        let doc = build(&entries);
        let fixed = fix(doc.clone(), table());
        for t in targets(&specs) {
            prop_assert_eq!(selected_digest(&doc, &t), selected_digest(&fixed.document, &t), "target {:?}", t);
        }
        let refused = fixed.fixes.iter().any(|f| !f.applied);
        let left = fixable_left(&fixed.document);
        prop_assert!(refused || left.is_empty(), "left {:?} after {:?}", left, fixed.fixes);
        // Only entries moved and duplicate names went: same digests, same multiset.
        let digests = |d: &Value| {
            let mut v: Vec<String> = d["manifests"].as_array().unwrap().iter().map(|e| e["digest"].to_string()).collect();
            v.sort();
            v
        };
        prop_assert_eq!(digests(&doc), digests(&fixed.document));
    }

    /// An entry lint calls unreachable is never selected, for any target.
    #[test]
    fn unreachable_entries_are_never_selected(entries in entries(), specs in target_specs()) {
        let doc = build(&entries);
        let unreachable: Vec<usize> = Linter::new()
            .lint(doc.clone())
            .into_iter()
            .filter(|d| d.code == Code::UnreachableEntry)
            .map(|d| d.pointer.trim_start_matches("/manifests/").parse().unwrap())
            .collect();
        let index = Index::from_value(doc).unwrap();
        for t in targets(&specs) {
            if let Some(i) = select(&index, &t, table()).selected() {
                prop_assert!(!unreachable.contains(&i), "entry {} selected for {:?} but called unreachable", i, t);
            }
        }
    }
}
