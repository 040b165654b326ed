//! Any bytes: parsing never panics; the fast read-only `IndexView` and the
//! `Index` document agree (the same error, or the same entries, selections
//! and reports); and selection for a few targets names only entries of the
//! index, each exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocifit_core::{FeatureTable, Index, IndexView, Platform, Target, legacy_select, select};

fuzz_target!(|data: &[u8]| {
    let view = IndexView::parse(data);
    let index = match (Index::from_slice(data), view) {
        (Err(a), Err(b)) => {
            assert_eq!(a, b, "the same error either way");
            return;
        }
        (Ok(index), Ok(view)) => {
            assert_eq!(index.len(), view.len());
            let table = FeatureTable::builtin();
            let target = Target::guaranteed(&Platform::new("linux", "amd64", "v3"), table);
            let (a, b) = (select(&index, &target, table), select(&view, &target, table));
            assert_eq!(a, b, "the same selection either way");
            assert_eq!(a.to_json(&index, &target), b.to_json(&view, &target), "the same report either way");
            index
        }
        (a, b) => panic!("disagree: index ok = {}, view ok = {}", a.is_ok(), b.is_ok()),
    };
    let table = FeatureTable::builtin();
    for (os, arch, variant) in [("linux", "amd64", "v3"), ("linux", "arm64", "v8.2"), ("windows", "amd64", "")] {
        let target = Target::guaranteed(&Platform::new(os, arch, variant), table);
        for selection in [select(&index, &target, table), legacy_select(&index, &target)] {
            let mut seen: Vec<usize> = selection.candidates.iter().map(|c| c.index).collect();
            seen.extend(selection.rejected.iter().map(|r| r.index));
            seen.sort_unstable();
            assert!(seen.iter().copied().eq(0..index.len()), "every entry accounted for once");
            let json = selection.to_json(&index, &target);
            if let Some(i) = selection.selected() {
                assert_eq!(json["selected"]["digest"].as_str(), index.entry(i).map(|e| e.digest));
            }
        }
    }
});
