//! Any bytes: parsing never panics, and when they are an index, selection
//! for a few targets names only entries of the index, each exactly once.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocifit_core::{FeatureTable, Index, Platform, Target, legacy_select, select};

fuzz_target!(|data: &[u8]| {
    let Ok(index) = Index::from_slice(data) else { return };
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
