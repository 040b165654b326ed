//! The affinity and the fleet check agree: for random NFD label sets and
//! random indexes, the required node affinity admits a node exactly when
//! `fleet` finds an entry that is compatible for certain.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Affinity, NodeSelectorRequirement};
use ocifit_core::Index;
use ocifit_core::target::guaranteed_features;
use ocifit_core::{FeatureSet, FeatureTable, Platform, Target, select};
use ocifit_fleet::affinity;
use ocifit_fleet::affinity::{Labels, Options};
use ocifit_fleet::check::{Verdict, evaluate};
use ocifit_fleet::nfd::{ARCH_LABEL, OS_LABEL, Vocabulary, X86_LEVELS, cpuid_label, ocifit_feature_label};
use ocifit_fleet::profile::{NodeProfile, Published};
use proptest::prelude::*;

/// A matchExpressions evaluator (Kubernetes' `NodeSelectorRequirement` rules).
fn requirement_holds(r: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let value = labels.get(&r.key);
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => !value.is_some_and(|v| values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        "Gt" => value.and_then(|v| number(v)).zip(values.first().and_then(|v| number(v))).is_some_and(|(a, b)| a > b),
        "Lt" => value.and_then(|v| number(v)).zip(values.first().and_then(|v| number(v))).is_some_and(|(a, b)| a < b),
        other => panic!("unknown operator {other}"),
    }
}

/// Whether the required node affinity admits a node with `labels`: terms
/// are ORed, the expressions of a term ANDed, an empty term matches nothing.
fn admits(affinity: &Affinity, labels: &BTreeMap<String, String>) -> bool {
    let Some(selector) =
        affinity.node_affinity.as_ref().and_then(|n| n.required_during_scheduling_ignored_during_execution.as_ref())
    else {
        return true;
    };
    selector.node_selector_terms.iter().any(|term| {
        let exprs = term.match_expressions.as_deref().unwrap_or_default();
        !exprs.is_empty() && exprs.iter().all(|r| requirement_holds(r, labels))
    })
}

const X86_POOL: &[&str] = &[
    "AVX",
    "AVX2",
    "BMI1",
    "BMI2",
    "FMA3",
    "F16C",
    "LZCNT",
    "MOVBE",
    "OSXSAVE",
    "XSAVE",
    "POPCNT",
    "SSE42",
    "SSE4",
    "SSSE3",
    "SSE3",
    "CX16",
    "LAHF",
    "AVX512F",
    "AVX512BW",
    "AVX512CD",
    "AVX512DQ",
    "AVX512VL",
    "SHA",
    "AESNI",
    "MOVSB_ZL",
    "HYPERVISOR",
    "CLMUL",
    "VPCLMULQDQ",
    "SSE2",
    "FMA4",
];
const ARM64_POOL: &[&str] = &[
    "FP", "ASIMD", "ATOMICS", "ASIMDRDM", "CRC32", "DCPOP", "SVE", "SVE2", "I8MM", "BF16", "FCMA", "JSCVT", "LRCPC",
    "PACA", "PACG",
];
const ARM_POOL: &[&str] = &["NEON", "VFPv4", "IDIVA", "HALF", "THUMB", "EDSP", "TLS", "FASTMUL"];

/// A node's labels, written the way the kubelet and NFD write them.
fn node_labels() -> impl Strategy<Value = BTreeMap<String, String>> {
    let arch =
        prop::sample::select(vec!["amd64", "amd64", "amd64", "arm64", "arm64", "arm", "386", "s390x", "riscv64"]);
    arch.prop_flat_map(|arch| {
        let pool: &[&str] = match arch {
            "amd64" | "386" => X86_POOL,
            "arm64" => ARM64_POOL,
            "arm" => ARM_POOL,
            _ => &["ZARCH", "VX"],
        };
        let levels = if arch == "amd64" { 0..=4usize } else { 0..=0 };
        (Just(arch), prop::sample::subsequence(pool.to_vec(), 0..=pool.len()), levels, prop::bool::weighted(0.9))
    })
    .prop_map(|(arch, names, level, nfd): (&str, Vec<&str>, usize, bool)| {
        let mut labels = BTreeMap::new();
        labels.insert(OS_LABEL.to_string(), "linux".to_string());
        labels.insert(ARCH_LABEL.to_string(), arch.to_string());
        labels.insert("kubernetes.io/hostname".into(), "node-1".into());
        if nfd {
            for name in &names {
                labels.insert(cpuid_label(name), "true".into());
            }
            // Cumulative, as NFD publishes them, with the labels of the
            // level's features NFD does not hide (it labels them whenever present).
            for (label, _) in &X86_LEVELS[..level] {
                labels.insert(cpuid_label(label), "true".into());
            }
            // A CPU has what its features imply (docs/semantics.md §2), and
            // NFD labels the visible ones: `AVX2` comes with `AVX`.
            if let Some(vocabulary) = Vocabulary::for_architecture(arch) {
                let mut features: FeatureSet = names.iter().filter_map(|n| vocabulary.feature(n)).collect();
                if level > 0 {
                    features.union(&guaranteed_features(FeatureTable::builtin(), "amd64", X86_LEVELS[level - 1].1));
                }
                for id in features.closure().iter().filter(|id| vocabulary.visible(*id)) {
                    labels.insert(cpuid_label(vocabulary.name(id).unwrap()), "true".into());
                }
            }
        }
        labels
    })
}

fn platform() -> impl Strategy<Value = String> {
    let x86 =
        ["avx2", "bmi2", "popcnt", "sse4_2", "avx512f", "sha_ni", "fzrm", "rdpid", "tsc", "lahf_lm", "movbe", "AVX2"];
    // Hidden features that visible ones imply (docs/fleet.md).
    let x86_implied = ["pclmulqdq", "f16c", "sse4_1", "sse3", "sse2"];
    let arm64 = ["atomics", "sve2", "i8mm", "mops", "dcpop", "asimd"];
    let arm = ["neon", "vfpv4", "idiva"];
    prop_oneof![
        (prop::sample::select(vec!["", "v2", "v3", "v4"]), prop::sample::subsequence(x86.to_vec(), 0..=3))
            .prop_map(|(v, f)| ("amd64", v, f)),
        (prop::sample::select(vec!["", "v2"]), prop::sample::subsequence(x86_implied.to_vec(), 1..=2))
            .prop_map(|(v, f)| ("amd64", v, f)),
        prop::sample::subsequence(x86.to_vec(), 0..=2).prop_map(|f| ("386", "", f)),
        prop::sample::subsequence(x86_implied.to_vec(), 1..=2).prop_map(|f| ("386", "", f)),
        (
            prop::sample::select(vec!["", "v8.1", "v8.2", "v8.5", "v9"]),
            prop::sample::subsequence(arm64.to_vec(), 0..=2)
        )
            .prop_map(|(v, f)| ("arm64", v, f)),
        (prop::sample::select(vec!["v6", "v7", "v8"]), prop::sample::subsequence(arm.to_vec(), 0..=2))
            .prop_map(|(v, f)| ("arm", v, f)),
        Just(("s390x", "", vec![])),
    ]
    .prop_flat_map(|(arch, variant, features)| {
        (Just((arch, variant, features)), prop::sample::select(vec!["linux", "linux", "linux", "windows"]))
    })
    .prop_map(|((arch, variant, features), os)| {
        let variant = if variant.is_empty() { String::new() } else { format!(r#","variant":"{variant}""#) };
        let features: Vec<String> = features.iter().map(|f| format!("{f:?}")).collect();
        format!(r#"{{"os":"{os}","architecture":"{arch}"{variant},"features":[{}]}}"#, features.join(","))
    })
}

fn index() -> impl Strategy<Value = Index> {
    prop::collection::vec(platform(), 1..=5).prop_map(|platforms| {
        let entries: Vec<String> = platforms
            .iter()
            .enumerate()
            .map(|(n, p)| {
                format!(
                    r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"sha256:{n:064x}","platform":{p}}}"#
                )
            })
            .collect();
        Index::from_slice(format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, entries.join(",")).as_bytes()).unwrap()
    })
}

/// A node as `ocifit host` sees it: a random subset of its architecture's
/// rows, on the variant they prove.
fn ocifit_node() -> impl Strategy<Value = Target> {
    prop::sample::select(vec!["amd64", "amd64", "arm64", "arm", "s390x"]).prop_flat_map(|arch| {
        let table = FeatureTable::builtin();
        let family = ocifit_core::Family::of(arch).unwrap();
        let rows: Vec<_> = table.family(family).filter(|r| r.valid_for(arch)).map(|r| r.id()).collect();
        let n = rows.len();
        prop::sample::subsequence(rows, 0..=n).prop_map(move |ids| {
            let platform = Platform::new("linux", arch, "").normalized();
            ocifit_fleet::profile::node_target(&platform, ids.into_iter().collect::<FeatureSet>())
        })
    })
}

fn profile(labels: &BTreeMap<String, String>) -> NodeProfile {
    let names = labels.keys().filter_map(|k| k.strip_prefix(ocifit_fleet::nfd::CPUID_LABEL_PREFIX));
    NodeProfile::from_nfd(&labels[OS_LABEL], &labels[ARCH_LABEL], names, Published::Labels)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn affinity_admits_exactly_the_compatible_nodes(labels in node_labels(), index in index()) {
        let plan = affinity::plan(&index);
        // Through the serialized object, as the API server would read it.
        let json = serde_json::to_value(plan.affinity()).unwrap();
        let affinity: Affinity = serde_json::from_value(json).unwrap();
        let outcome = evaluate(&index, &profile(&labels));
        let admitted = !plan.required.is_empty() && admits(&affinity, &labels);
        prop_assert_eq!(
            admitted,
            outcome.verdict == Verdict::Compatible,
            "labels {:?}\nindex {}\nterms {:?}\noutcome {:?}",
            labels, serde_json::to_string(index.document()).unwrap(), plan.required, outcome
        );
    }

    /// `--entry K`: a node is admitted exactly when entry K runs there for
    /// certain (it is a candidate at what the labels prove).
    #[test]
    fn one_entry_admits_exactly_the_nodes_it_runs_on(labels in node_labels(), index in index(), k in 0..5usize) {
        let k = k % index.len();
        let plan = affinity::plan_with(&index, Options { entry: Some(k), ..Options::default() });
        prop_assert!(plan.required.iter().all(|t| t.entries == [k]));
        prop_assert!(plan.preferred.is_empty());
        let node = profile(&labels).min;
        let runs = select(&index, &node, FeatureTable::builtin()).candidates.iter().any(|c| c.index == k);
        let admitted = !plan.required.is_empty() && admits(&plan.affinity(), &labels);
        prop_assert_eq!(admitted, runs, "labels {:?}\nindex {}\nterms {:?}", labels,
            serde_json::to_string(index.document()).unwrap(), plan.required);
    }

    /// With ocifit's own labels (complete), a node is admitted exactly when
    /// some entry runs on it: no entry is left out for want of a label.
    #[test]
    fn ocifit_labels_admit_exactly_the_compatible_nodes(target in ocifit_node(), index in index()) {
        let mut labels = BTreeMap::new();
        labels.insert(OS_LABEL.to_string(), target.platform.os.clone());
        labels.insert(ARCH_LABEL.to_string(), target.platform.architecture.clone());
        for name in target.features.sorted_names() {
            labels.insert(ocifit_feature_label(name), "true".into());
        }
        let plan = affinity::plan_with(&index, Options { labels: Labels::Ocifit, ..Options::default() });
        let admitted = !plan.required.is_empty() && admits(&plan.affinity(), &labels);
        let runs = select(&index, &target, FeatureTable::builtin()).selected().is_some();
        prop_assert_eq!(admitted, runs, "labels {:?}\nindex {}\nterms {:?}", labels,
            serde_json::to_string(index.document()).unwrap(), plan.required);
        prop_assert!(plan.notes.iter().all(|n| !n.contains("no label")), "{:?}", plan.notes);
    }

    /// A preferred term is only ever matched by nodes that are admitted.
    #[test]
    fn preferences_only_rank_admitted_nodes(labels in node_labels(), index in index()) {
        let plan = affinity::plan(&index);
        let affinity = plan.affinity();
        let preferred = affinity.node_affinity.as_ref().and_then(|n| n.preferred_during_scheduling_ignored_during_execution.clone()).unwrap_or_default();
        for p in preferred {
            prop_assert!((1..=100).contains(&p.weight));
            let exprs = p.preference.match_expressions.unwrap_or_default();
            if exprs.iter().all(|r| requirement_holds(r, &labels)) {
                prop_assert!(admits(&affinity, &labels), "preferred but not admitted: {labels:?}");
            }
        }
    }
}
