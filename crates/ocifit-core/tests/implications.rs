//! docs/semantics.md §2 (implications): the table's `implies` relation
//! against the upstream lists it was taken from (`tests/data/`, see its
//! README for provenance): LLVM's target-feature implications for x86 and
//! arm64, and the Linux kernel's x86 `cpuid-deps` table as a cross-check.

use std::collections::{BTreeMap, BTreeSet};

use ocifit_core::{Family, FeatureSet, FeatureTable};

const TABLE: FeatureTable = FeatureTable::builtin();

fn data(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn lines(text: &str) -> impl Iterator<Item = (&str, Vec<&str>)> {
    text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).map(|l| {
        let (head, rest) = l.split_once(':').unwrap_or_else(|| panic!("no ':' in {l:?}"));
        (head.trim(), rest.split_whitespace().collect())
    })
}

/// LLVM's relation for one family: feature -> direct implications.
fn llvm(family: &str) -> BTreeMap<String, Vec<String>> {
    let text = data("llvm-implies.txt");
    let mut out = BTreeMap::new();
    for (head, implied) in lines(&text) {
        let (fam, name) = head.split_once(' ').unwrap();
        if fam == family {
            out.insert(name.to_string(), implied.into_iter().map(String::from).collect());
        }
    }
    out
}

fn llvm_closure(relation: &BTreeMap<String, Vec<String>>, name: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut todo = vec![name.to_string()];
    while let Some(n) = todo.pop() {
        for i in relation.get(&n).into_iter().flatten() {
            if out.insert(i.clone()) {
                todo.push(i.clone());
            }
        }
    }
    out
}

#[test]
fn s2_implications_match_llvm() {
    for family in [Family::X86, Family::Arm64] {
        let relation = llvm(family.name());
        assert!(!relation.is_empty(), "no LLVM data for {family}");
        // Table closure implied by LLVM, per table row.
        let mut from_llvm: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        let names: BTreeSet<&String> = relation.keys().chain(relation.values().flatten()).collect();
        // An LLVM name means the row it spells, unless the row's own `llvm`
        // alias is another LLVM feature: `sve-bitperm` (streaming-compatible)
        // is not the `svebitperm` hwcap, whose LLVM feature is `sve2-bitperm`.
        let row_of = |name: &str| {
            TABLE.resolve(family, name).filter(|id| {
                let own = id.feature().aliases.llvm;
                own.is_none_or(|own| own == name || !names.iter().any(|n| n.as_str() == own))
                    || id.feature().name == name
            })
        };
        for &name in &names {
            let Some(id) = row_of(name) else { continue };
            let row = id.feature().name;
            let closure = llvm_closure(&relation, name);
            let implied = closure.iter().filter_map(|n| row_of(n)).map(|i| i.feature().name).filter(|n| *n != row);
            from_llvm.entry(row).or_default().extend(implied);
        }
        for f in TABLE.family(family) {
            let ours: BTreeSet<&str> = f.implied.iter().map(|i| i.feature().name).collect();
            let theirs = from_llvm.get(f.name).cloned().unwrap_or_default();
            assert_eq!(ours, theirs, "{family} {}: table closure vs LLVM", f.name);
        }
        // And the direct lists are the smallest that give that closure.
        for f in TABLE.family(family) {
            for d in f.implies {
                let via_other = f.implies.iter().any(|o| o != d && o.feature().implied.contains(d));
                assert!(!via_other, "{}: {} is implied through another listed feature", f.name, d.feature().name);
            }
        }
    }
}

#[test]
fn s2_implications_cross_checked_with_linux_cpuid_deps() {
    let text = data("linux-cpuid-deps.txt");
    let mut checked = 0;
    for (feature, rest) in lines(&text) {
        let id = TABLE.canonical("amd64", feature).unwrap_or_else(|| panic!("{feature} is not an x86 row"));
        let depends = TABLE.canonical("amd64", rest[0]).unwrap_or_else(|| panic!("{} is not an x86 row", rest[0]));
        let closure = std::iter::once(id).collect::<FeatureSet>().closure();
        let kernel_only = rest.get(1) == Some(&"kernel-only");
        assert_eq!(
            closure.contains(depends),
            !kernel_only,
            "{feature} -> {}: the table {} it, the data file says {}",
            rest[0],
            if closure.contains(depends) { "implies" } else { "does not imply" },
            if kernel_only { "kernel-only" } else { "a compiler implication too" }
        );
        checked += 1;
    }
    assert!(checked > 40, "only {checked} pairs read");
}
