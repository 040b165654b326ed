//! The checked-in `docs/features.md` must be what the table generates (§2).

use ocifit_core::FeatureTable;

#[test]
fn s2_docs_feature_table_is_not_stale() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/features.md");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    let generated = ocifit_core::docs::markdown(FeatureTable::builtin(), None);
    assert!(checked_in == generated, "docs/features.md is stale: run scripts/gen-docs.sh and commit the result");
}

#[test]
fn s2_docs_have_one_table_per_family_with_links() {
    let generated = ocifit_core::docs::markdown(FeatureTable::builtin(), None);
    for family in ocifit_core::Family::ALL {
        assert!(generated.contains(&format!("## {family} (")), "no section for {family}");
    }
    assert!(generated.contains("| [`avx2`](https://"));
}
