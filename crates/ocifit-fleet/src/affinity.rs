//! A Pod `affinity` from an index: node selector terms that admit exactly the
//! labelled nodes on which some entry is compatible.
//!
//! For each entry and each node architecture the entry can run on (its own,
//! or one whose fallback vector holds it: `386` on `amd64`, `arm` on `arm64`),
//! a node must prove, through its labels:
//!
//! - the entry's `features`, and
//! - the features of the lowest node variant whose vector holds the entry's
//!   architecture/variant (an `amd64/v3` entry needs an x86-64-v3 node),
//!
//! beyond the architecture's baseline. A node proves a feature with its NFD
//! label, or, on amd64, with an `X86_64_V<n>` label whose level guarantees
//! it; a feature NFD hides by default is also proven by the label of any
//! feature that implies it (docs/fleet.md, "Implied features": `AVX2`
//! proves `sse4_2`), so a term needs no label for a hidden feature that a
//! feature it already names implies. One term is written per way of proving
//! (terms are ORed, the expressions of one term ANDed): the features' own
//! labels (one term per choice of label for each hidden feature nothing
//! named implies), then `X86_64_V2`, `X86_64_V3`, `X86_64_V4` with the
//! labels of what that level leaves out — stopping at the first level that
//! covers everything, since NFD publishes the level labels cumulatively. A
//! term is dropped when every node it admits is admitted by another term —
//! its expressions include the other's, once its labels are read as what
//! NFD always publishes with them (the lower levels, and the labels of the
//! visible features the term's features and level imply: an `X86_64_V4`
//! node also has `AVX512F`, an `AVX2` node `AVX`); terms that differ only
//! in the architecture are merged.
//!
//! With [`Labels::Ocifit`] the terms use the labels `ocifit host --format
//! nfd` installs instead (`feature.node.kubernetes.io/ocifit-feature.<name>`):
//! every feature has one, so every entry is expressible, with one term each.
//!
//! A feature NFD has no name for, and that no named feature implies, cannot
//! be proven: an entry that needs one is left out of the terms
//! ([`Plan::notes`] says so).
//!
//! This admits a node exactly when `ocifit fleet` finds a compatible entry
//! for its labels (the property test `affinity_admits_exactly_the_compatible_nodes`).
//! What a runtime that ignores features pulls there is another question
//! (docs/semantics.md §6): see [`Plan::notes`] and `docs/kubernetes.md`.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{
    Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm, PreferredSchedulingTerm,
};
use ocifit_core::platform::{normalize_arch, normalize_os};
use ocifit_core::select::{legacy_select, select};
use ocifit_core::target::guaranteed_features;
use ocifit_core::vector::fallback_vector;
use ocifit_core::{Family, FeatureId, FeatureSet, FeatureTable, Index, Platform, Target};

use crate::nfd::{self, Vocabulary};
use crate::profile::{Published, implied_unseen, node_target, rows_valid_for};

/// One label requirement: `key In [values]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    pub key: String,
    pub values: Vec<String>,
}

/// One node selector term and the entries it admits nodes for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub requirements: Vec<Requirement>,
    /// Entries (positions in the index) a node matching this term runs.
    pub entries: Vec<usize>,
}

/// One compatible alternative: an entry on one node architecture.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub entry: usize,
    pub architecture: String,
    /// What the node must prove beyond its architecture's baseline.
    pub needs: FeatureSet,
    /// Its ways of proving it (before merging with other alternatives).
    pub terms: Vec<Vec<Requirement>>,
}

/// A preferred term: nodes that run a more specialised entry weigh more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preference {
    pub weight: i32,
    pub term: Vec<Requirement>,
    pub entry: usize,
}

/// The affinity for an index and what went into it.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Required terms (ORed).
    pub required: Vec<Term>,
    pub preferred: Vec<Preference>,
    pub alternatives: Vec<Alternative>,
    /// Entries left out and why; what runtimes that ignore features do.
    pub notes: Vec<String>,
}

/// Node architectures (values of `kubernetes.io/arch`) and the variants a
/// node of each can prove, lowest first; the first is what a node without
/// any CPU label is (its baseline is free).
fn node_variants(architecture: &str) -> Vec<String> {
    let table = FeatureTable::builtin();
    match architecture {
        "amd64" => table.levels("amd64").map(|l| l.variant.to_string()).collect(),
        // The variants `ocifit_host::hwcap::arm64_variant` can prove.
        "arm64" => std::iter::once(String::new())
            .chain(table.levels("arm64").filter(|l| !l.variant.is_empty() && !l.features.is_empty()).filter_map(|l| {
                let proven = ocifit_host::hwcap::arm64_variant(&guaranteed_features(table, "arm64", l.variant));
                (proven == l.variant).then(|| l.variant.to_string())
            }))
            .collect(),
        other => vec![Platform::new("linux", other, "").normalized().variant],
    }
}

/// Every architecture ocifit has a feature table for, as Kubernetes names them.
fn node_architectures() -> impl Iterator<Item = &'static str> {
    Family::ALL.into_iter().flat_map(|f| f.architectures().iter().copied())
}

fn requirement(key: &str, value: &str) -> Requirement {
    Requirement { key: key.into(), values: vec![value.into()] }
}

/// Which node labels the terms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Labels {
    /// node-feature-discovery's `cpu-cpuid` labels (and level labels).
    #[default]
    Nfd,
    /// The labels of `ocifit host --format nfd` (complete: every feature).
    Ocifit,
}

/// What to plan: which labels, and optionally one entry only.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub labels: Labels,
    /// Only this entry (for deploying it by digest): its terms, no
    /// preferences, no notes about what runtimes pull from the index.
    pub entry: Option<usize>,
}

/// Plan the affinity of `index` with NFD's labels.
pub fn plan(index: &Index) -> Plan {
    plan_with(index, Options::default())
}

/// Plan the affinity of `index`.
pub fn plan_with(index: &Index, options: Options) -> Plan {
    let table = FeatureTable::builtin();
    let mut plan = Plan::default();
    for entry in index.entries().filter(|e| options.entry.is_none_or(|only| only == e.index)) {
        let Some(p) = entry.platform else { continue };
        let os = normalize_os(p.os);
        let (arch, variant) = normalize_arch(p.architecture, p.variant);
        let label = format!(
            "entry {} ({}/{}{})",
            entry.index,
            os,
            arch,
            if variant.is_empty() { String::new() } else { format!("/{variant}") }
        );
        if p.os_features().any(|f| !f.is_empty()) {
            plan.notes.push(format!("{label}: left out: node labels do not show os.features"));
            continue;
        }
        if !p.os_version.is_empty() {
            plan.notes.push(format!(
                "{label}: left out: os.version {} cannot be written as node labels (containerd's Windows build rule)",
                p.os_version
            ));
            continue;
        }
        let mut features = FeatureSet::new();
        let mut unknown = Vec::new();
        for name in p.features() {
            match table.canonical(&arch, name) {
                Some(id) => {
                    features.insert(id);
                }
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            plan.notes.push(format!("{label}: never selected: unknown feature {}", unknown.join(", ")));
            continue;
        }
        // The entry requires what its features imply too (§4.6).
        let features = features.closure();
        let mut unnamed = BTreeSet::new();
        for node_arch in node_architectures() {
            match alternative(entry.index, &os, &arch, &variant, &features, node_arch, options.labels) {
                Ok(Some(alt)) => plan.alternatives.push(alt),
                Ok(None) => {}
                Err(names) => unnamed.extend(names),
            }
        }
        if !unnamed.is_empty() && !plan.alternatives.iter().any(|a| a.entry == entry.index) {
            plan.notes.push(format!(
                "{label}: left out: node-feature-discovery has no label for {} (no node's labels can prove it)",
                unnamed.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    plan.required = required_terms(&plan.alternatives, options.labels);
    if options.entry.is_none() {
        plan.preferred = preferences(index, &plan.alternatives, options.labels);
        plan.notes.extend(legacy_notes(index, &plan.alternatives));
    }
    plan
}

/// Entry `entry` on nodes of `node_arch`: `Ok(None)` when it never runs
/// there, `Err(names)` when it runs there only with features NFD cannot name.
fn alternative(
    entry: usize,
    os: &str,
    arch: &str,
    variant: &str,
    features: &FeatureSet,
    node_arch: &str,
    labels: Labels,
) -> Result<Option<Alternative>, Vec<&'static str>> {
    let table = FeatureTable::builtin();
    let variants = node_variants(node_arch);
    let Some(lowest) = variants
        .iter()
        .find(|v| fallback_vector(node_arch, v).iter().any(|av| av.architecture == arch && av.variant == variant))
    else {
        return Ok(None);
    };
    let family = Family::of(node_arch);
    if features.iter().any(|id| Some(id.feature().family) != family || !id.feature().valid_for(node_arch)) {
        return Ok(None);
    }
    let mut needs = *features;
    needs.union(&guaranteed_features(table, node_arch, lowest));
    needs.subtract(&guaranteed_features(table, node_arch, &variants[0]));
    let base = vec![requirement(nfd::OS_LABEL, os), requirement(nfd::ARCH_LABEL, node_arch)];
    if labels == Labels::Ocifit {
        let mut term = base;
        term.extend(needs.sorted_names().into_iter().map(|n| requirement(&nfd::ocifit_feature_label(n), "true")));
        return Ok(Some(Alternative { entry, architecture: node_arch.into(), needs, terms: vec![term] }));
    }
    let vocabulary = Vocabulary::for_architecture(node_arch);
    let name = |id: FeatureId| vocabulary.and_then(|v| v.name(id));
    // What labels cannot tell; with no vocabulary, every row.
    let mut cannot_tell = rows_valid_for(node_arch);
    if let Some(v) = vocabulary {
        cannot_tell.intersect(&v.cannot_tell(Published::Labels));
    }
    let baseline = guaranteed_features(table, node_arch, &variants[0]);
    let levels: &[(&str, &str)] = if node_arch == "amd64" { &nfd::X86_LEVELS[1..] } else { &[] };
    let mut terms = Vec::new();
    let mut unnamed = Vec::new();
    for level in std::iter::once(None).chain(levels.iter().map(Some)) {
        let mut known = baseline;
        if let Some((_, level_variant)) = level {
            known.union(&guaranteed_features(table, node_arch, level_variant));
        }
        let Some(ways) = ways_to_prove(&needs, known, &cannot_tell, node_arch, &name) else {
            unnamed = unprovable(&needs, known, &cannot_tell, node_arch, &name);
            continue;
        };
        let covered = ways.iter().all(Vec::is_empty);
        for labels in ways {
            let mut term = base.clone();
            if let Some((level_label, _)) = level {
                term.push(requirement(&nfd::cpuid_label(level_label), "true"));
            }
            term.extend(labels.iter().map(|l| requirement(&nfd::cpuid_label(l), "true")));
            terms.push(term);
        }
        if covered {
            break;
        }
    }
    if terms.is_empty() {
        return Err(unnamed);
    }
    Ok(Some(Alternative { entry, architecture: node_arch.into(), needs, terms }))
}

/// The features of `needs` a node known to have `known` still has to prove
/// with labels: the visible ones (each by its own label: its absence is
/// absence), and the hidden ones nothing known or visible implies.
fn left_to_prove(needs: &FeatureSet, known: FeatureSet, cannot_tell: &FeatureSet) -> (FeatureSet, FeatureSet) {
    let mut missing = *needs;
    missing.subtract(&known);
    let mut visible = missing;
    visible.subtract(cannot_tell);
    // Labels that a node has imply what they imply (docs/fleet.md).
    let mut proven = known;
    proven.union(&visible);
    let mut hidden = missing;
    hidden.intersect(cannot_tell);
    hidden.subtract(&implied_unseen(&proven, cannot_tell));
    (visible, hidden)
}

/// The ways a node known to have `known` proves `needs` with labels, each a
/// list of NFD names that are ANDed (the ways are ORed): the visible
/// features' labels, and for each hidden feature that no other one implies,
/// one label that proves it — its own, or that of a feature implying it
/// (none of whose implied visible features also proves it: a node with that
/// label has theirs too). `None` when some hidden feature has no such label.
fn ways_to_prove(
    needs: &FeatureSet,
    known: FeatureSet,
    cannot_tell: &FeatureSet,
    node_arch: &str,
    name: &dyn Fn(FeatureId) -> Option<&'static str>,
) -> Option<Vec<Vec<&'static str>>> {
    let (visible, hidden) = left_to_prove(needs, known, cannot_tell);
    let mut ways: Vec<BTreeSet<&'static str>> = vec![visible.iter().map(name).collect::<Option<_>>()?];
    for id in hidden.iter().filter(|id| !hidden.iter().any(|other| other != *id && implies(other, *id))) {
        let labels: Vec<&'static str> =
            provers(id, cannot_tell, node_arch, name).into_iter().filter_map(name).collect();
        if labels.is_empty() {
            return None;
        }
        ways = ways
            .iter()
            .flat_map(|way| {
                labels.iter().map(move |label| {
                    let mut way = way.clone();
                    way.insert(label);
                    way
                })
            })
            .collect();
    }
    let mut distinct: Vec<BTreeSet<&'static str>> = Vec::new();
    for way in ways {
        if !distinct.contains(&way) {
            distinct.push(way);
        }
    }
    Some(distinct.into_iter().map(|way| way.into_iter().collect()).collect())
}

/// The features of `needs` without any label that proves them.
fn unprovable(
    needs: &FeatureSet,
    known: FeatureSet,
    cannot_tell: &FeatureSet,
    node_arch: &str,
    name: &dyn Fn(FeatureId) -> Option<&'static str>,
) -> Vec<&'static str> {
    let (visible, hidden) = left_to_prove(needs, known, cannot_tell);
    let unnamed = visible.iter().filter(|id| name(*id).is_none());
    let unproven = hidden.iter().filter(|id| provers(*id, cannot_tell, node_arch, name).is_empty());
    unnamed.chain(unproven).map(|id| id.feature().name).collect()
}

/// Whether `a` implies `b` (directly or in closure).
fn implies(a: FeatureId, b: FeatureId) -> bool {
    a.feature().implied.contains(&b)
}

/// The labelled features whose label proves the hidden feature `id`: itself
/// (if NFD names it) and every feature implying it, except one that implies
/// a visible prover (its nodes carry that prover's label).
fn provers(
    id: FeatureId,
    cannot_tell: &FeatureSet,
    node_arch: &str,
    name: &dyn Fn(FeatureId) -> Option<&'static str>,
) -> Vec<FeatureId> {
    let table = FeatureTable::builtin();
    let all: Vec<FeatureId> = table
        .family(id.feature().family)
        .filter(|f| f.valid_for(node_arch))
        .map(|f| f.id())
        .filter(|p| (*p == id || implies(*p, id)) && name(*p).is_some())
        .collect();
    all.iter()
        .copied()
        .filter(|p| !all.iter().any(|q| q != p && !cannot_tell.contains(*q) && implies(*p, *q)))
        .collect()
}

/// Every alternative's terms, without those another term implies, with
/// terms that differ only in the architecture merged.
fn required_terms(alternatives: &[Alternative], labels: Labels) -> Vec<Term> {
    let mut all: Vec<(BTreeSet<Requirement>, usize)> = Vec::new();
    for alt in alternatives {
        for term in &alt.terms {
            all.push((term.iter().cloned().collect(), alt.entry));
        }
    }
    // What every node a term admits certainly carries.
    let carried: Vec<BTreeSet<Requirement>> =
        all.iter().map(|(set, _)| if labels == Labels::Nfd { with_implied_labels(set) } else { set.clone() }).collect();
    // A term whose nodes all carry another term's requirements admits a
    // subset of its nodes; of two terms that admit the same nodes, the
    // earlier stays.
    let implied = |i: usize| {
        all.iter().enumerate().any(|(j, (other, _))| {
            j != i && other.is_subset(&carried[i]) && (!all[i].0.is_subset(&carried[j]) || j < i)
        })
    };
    let kept: Vec<usize> = (0..all.len()).filter(|i| !implied(*i)).collect();
    let mut terms: Vec<Term> = Vec::new();
    for i in kept {
        let (set, entry) = &all[i];
        let arch = set.iter().find(|r| r.key == nfd::ARCH_LABEL).map(|r| r.values[0].clone()).unwrap_or_default();
        let rest = |reqs: &mut dyn Iterator<Item = &Requirement>| -> BTreeSet<Requirement> {
            reqs.filter(|r| r.key != nfd::ARCH_LABEL).cloned().collect()
        };
        let mine = rest(&mut set.iter());
        let same = terms.iter_mut().find(|t| rest(&mut t.requirements.iter()) == mine);
        match same {
            Some(t) => {
                let arch_req = t
                    .requirements
                    .iter_mut()
                    .find(|r| r.key == nfd::ARCH_LABEL)
                    .expect("every term names an architecture");
                if !arch_req.values.contains(&arch) {
                    arch_req.values.push(arch);
                }
                if !t.entries.contains(entry) {
                    t.entries.push(*entry);
                }
            }
            None => terms.push(Term { requirements: ordered(set.iter().cloned().collect()), entries: vec![*entry] }),
        }
    }
    terms
}

/// A term's requirements plus the labels NFD publishes on every node that
/// meets them: with `X86_64_V<n>`, the lower level labels; and the labels of
/// the visible features (those NFD labels whenever present) that the
/// term's features and level imply — no real CPU has a feature without what
/// it implies (`AVX2` comes with `AVX`, `X86_64_V4` with `AVX512F`).
fn with_implied_labels(term: &BTreeSet<Requirement>) -> BTreeSet<Requirement> {
    let mut all = term.clone();
    let arch = term.iter().find(|r| r.key == nfd::ARCH_LABEL).map(|r| r.values[0].as_str());
    let Some(vocabulary) = arch.and_then(Vocabulary::for_architecture) else { return all };
    let names: Vec<&str> = term
        .iter()
        .filter(|r| r.values == ["true"])
        .filter_map(|r| r.key.strip_prefix(nfd::CPUID_LABEL_PREFIX))
        .collect();
    let mut features: FeatureSet = names.iter().filter_map(|n| vocabulary.feature(n)).collect();
    let top = nfd::X86_LEVELS.iter().rposition(|(label, _)| names.contains(label));
    if let Some(top) = top {
        for (label, _) in &nfd::X86_LEVELS[..top] {
            all.insert(requirement(&nfd::cpuid_label(label), "true"));
        }
        features.union(&guaranteed_features(FeatureTable::builtin(), "amd64", nfd::X86_LEVELS[top].1));
    }
    for id in features.closure().iter().filter(|id| vocabulary.visible(*id)) {
        if let Some(name) = vocabulary.name(id) {
            all.insert(requirement(&nfd::cpuid_label(name), "true"));
        }
    }
    all
}

/// `kubernetes.io/os`, `kubernetes.io/arch`, then the CPU labels in order.
fn ordered(mut requirements: Vec<Requirement>) -> Vec<Requirement> {
    let rank = |r: &Requirement| match r.key.as_str() {
        nfd::OS_LABEL => 0,
        nfd::ARCH_LABEL => 1,
        k if k.contains("X86_64_V") => 2,
        _ => 3,
    };
    requirements.sort_by(|a, b| rank(a).cmp(&rank(b)).then_with(|| a.cmp(b)));
    requirements
}

/// One preferred term per alternative that needs anything beyond the
/// baseline, weighted by how a node with every feature ranks its entry
/// among the others on that architecture (§5): the best gets 100, the
/// others evenly less. The term is the shortest one NFD's default labels can
/// match.
fn preferences(index: &Index, alternatives: &[Alternative], labels: Labels) -> Vec<Preference> {
    let table = FeatureTable::builtin();
    let mut out = Vec::new();
    let mut arches: Vec<&str> = Vec::new();
    for alt in alternatives {
        if !arches.contains(&alt.architecture.as_str()) {
            arches.push(&alt.architecture);
        }
    }
    for arch in arches {
        let variants = node_variants(arch);
        let top = variants.last().map(String::as_str).unwrap_or("");
        let richest = Target::new(&Platform::new("linux", arch, top), rows_valid_for(arch));
        let order: Vec<usize> = select(index, &richest, table).candidates.iter().map(|c| c.index).collect();
        let mut ranked: Vec<&Alternative> =
            alternatives.iter().filter(|a| a.architecture == arch && !a.needs.is_empty()).collect();
        ranked.sort_by_key(|a| order.iter().position(|i| *i == a.entry).unwrap_or(usize::MAX));
        let n = ranked.len() as i32;
        let hidden = match labels {
            Labels::Nfd => Vocabulary::for_architecture(arch).map(|v| *v.hidden_by_default()).unwrap_or_default(),
            Labels::Ocifit => FeatureSet::new(),
        };
        for (k, alt) in ranked.into_iter().enumerate() {
            let weight = 100 * (n - k as i32) / n;
            let default_visible = |term: &&Vec<Requirement>| {
                term.iter().all(|r| {
                    let name = r.key.strip_prefix(nfd::CPUID_LABEL_PREFIX);
                    let id = name.and_then(|n| Vocabulary::for_architecture(arch).and_then(|v| v.feature(n)));
                    !id.is_some_and(|id| hidden.contains(id))
                })
            };
            let term = alt.terms.iter().filter(default_visible).min_by_key(|t| t.len()).unwrap_or(&alt.terms[0]);
            out.push(Preference { weight, term: ordered(term.clone()), entry: alt.entry });
        }
    }
    out
}

/// What a runtime that ignores features pulls on a node admitted for an
/// alternative (§6), when that entry may not run there.
fn legacy_notes(index: &Index, alternatives: &[Alternative]) -> Vec<String> {
    let table = FeatureTable::builtin();
    let mut notes = Vec::new();
    for alt in alternatives {
        let platform = Platform::new("linux", &alt.architecture, "").normalized();
        let mut features = guaranteed_features(table, &alt.architecture, &platform.variant);
        features.union(&alt.needs);
        let node = node_target(&platform, features);
        let Some(pulled) = legacy_select(index, &node).selected() else { continue };
        if pulled == alt.entry || select(index, &node, table).candidates.iter().any(|c| c.index == pulled) {
            continue;
        }
        let needs = index.entry(pulled).and_then(|e| e.platform).map(|p| p.features().collect::<Vec<_>>().join(" "));
        notes.push(format!(
            "entry {}: nodes admitted for it on {} are given entry {pulled} (needs {}) by runtimes that ignore features \
             (containerd, CRI-O: docs/semantics.md §6); put a fallback first (ocifit lint)",
            alt.entry,
            alt.architecture,
            needs.unwrap_or_default()
        ));
    }
    notes.dedup();
    notes
}

impl Plan {
    /// A strategic-merge patch that sets the affinity of the Pod template of
    /// a Deployment, StatefulSet, DaemonSet, ReplicaSet or Job (`kubectl
    /// patch KIND NAME --patch-file FILE`). `nodeSelectorTerms` has no merge
    /// key, so the patch replaces the terms rather than adding to them.
    pub fn patch(&self) -> serde_json::Value {
        let affinity = serde_json::to_value(self.affinity()).expect("an Affinity always serializes");
        serde_json::json!({"spec": {"template": {"spec": {"affinity": affinity}}}})
    }

    /// The Pod `affinity` (what goes under `spec.affinity`).
    pub fn affinity(&self) -> Affinity {
        let term = |reqs: &[Requirement]| NodeSelectorTerm {
            match_expressions: Some(
                reqs.iter()
                    .map(|r| NodeSelectorRequirement {
                        key: r.key.clone(),
                        operator: "In".into(),
                        values: Some(r.values.clone()),
                    })
                    .collect(),
            ),
            match_fields: None,
        };
        let preferred: Vec<PreferredSchedulingTerm> = self
            .preferred
            .iter()
            .map(|p| PreferredSchedulingTerm { preference: term(&p.term), weight: p.weight })
            .collect();
        Affinity {
            node_affinity: Some(NodeAffinity {
                required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                    node_selector_terms: self.required.iter().map(|t| term(&t.requirements)).collect(),
                }),
                preferred_during_scheduling_ignored_during_execution: (!preferred.is_empty()).then_some(preferred),
            }),
            pod_affinity: None,
            pod_anti_affinity: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[&str]) -> Index {
        let entries: Vec<String> = platforms
            .iter()
            .enumerate()
            .map(|(n, p)| format!(r#"{{"mediaType":"m","size":1,"digest":"sha256:{n:064x}","platform":{p}}}"#))
            .collect();
        Index::from_slice(format!(r#"{{"schemaVersion":2,"manifests":[{}]}}"#, entries.join(",")).as_bytes()).unwrap()
    }

    fn keys(term: &Term) -> Vec<String> {
        term.requirements
            .iter()
            .map(|r| format!("{}={}", r.key.rsplit(['/', '.']).next().unwrap(), r.values.join("|")))
            .collect()
    }

    #[test]
    fn bmi2_is_proven_by_its_label_or_the_v3_level() {
        let plan = plan(&index(&[r#"{"os":"linux","architecture":"amd64","features":["avx2","bmi2"]}"#]));
        let terms: Vec<Vec<String>> = plan.required.iter().map(keys).collect();
        assert_eq!(
            terms,
            [
                // avx2 implies avx and the SSE chain (§4.6): AVX is visible, so
                // its label is needed; the SSE chain is hidden, and AVX2 proves it.
                vec!["os=linux", "arch=amd64", "AVX=true", "AVX2=true", "BMI2=true"],
                vec!["os=linux", "arch=amd64", "X86_64_V3=true"]
            ]
        );
        assert_eq!(plan.preferred.len(), 1);
        assert!(plan.preferred[0].term.iter().any(|r| r.key.ends_with("X86_64_V3")), "BMI2 is hidden by default");
    }

    /// docs/fleet.md, "Implied features": a hidden feature that a visible
    /// label implies needs no label of its own; one nothing visible implies
    /// is proven by its own label, a level, or a label that implies it.
    #[test]
    fn s4_6_affinity_terms_need_no_label_for_hidden_features_a_named_label_implies() {
        let cases: &[(&str, &[&[&str]])] = &[
            (r#"["avx2"]"#, &[&["AVX=true", "AVX2=true"]]),
            (r#"["avx2","bmi2"]"#, &[&["AVX=true", "AVX2=true", "BMI2=true"], &["X86_64_V3=true"]]),
            (r#"["sse4_2"]"#, &[&["SSE42=true"], &["AVX=true"], &["X86_64_V2=true"]]),
            (r#"["pclmulqdq"]"#, &[&["CLMUL=true"], &["VPCLMULQDQ=true"]]),
            // f16c implies the visible avx: its label is needed either way.
            (r#"["f16c"]"#, &[&["AVX=true", "F16C=true"], &["AVX=true", "AVX512F=true"], &["X86_64_V3=true"]]),
        ];
        for (features, want) in cases {
            let plan = plan(&index(&[&format!(r#"{{"os":"linux","architecture":"amd64","features":{features}}}"#)]));
            let terms: Vec<Vec<String>> = plan.required.iter().map(|t| keys(t).into_iter().skip(2).collect()).collect();
            assert_eq!(terms, *want, "{features}");
        }
        let plan = plan(&index(&[r#"{"os":"linux","architecture":"386","features":["sse2"]}"#]));
        let terms: Vec<Vec<String>> = plan.required.iter().map(keys).collect();
        assert!(terms.iter().any(|t| t.ends_with(&["arch=386".into(), "AESNI=true".into()])), "{terms:?}");
    }

    #[test]
    fn a_fallback_implies_the_specialised_terms() {
        let plan = plan(&index(&[
            r#"{"os":"linux","architecture":"amd64"}"#,
            r#"{"os":"linux","architecture":"amd64","features":["avx512f"]}"#,
            r#"{"os":"linux","architecture":"arm","variant":"v7"}"#,
        ]));
        let terms: Vec<Vec<String>> = plan.required.iter().map(keys).collect();
        assert_eq!(terms, [vec!["os=linux", "arch=amd64|arm64|arm"]]);
        assert_eq!(plan.preferred.iter().map(|p| (p.entry, p.weight)).collect::<Vec<_>>(), [(1, 100)]);
    }

    /// An `X86_64_V4` node carries `X86_64_V3` and the AVX-512 labels: a
    /// term needing only V4 after terms those labels satisfy admits nothing new.
    #[test]
    fn no_term_admits_only_nodes_another_term_admits() {
        let plan = plan(&index(&[
            r#"{"os":"linux","architecture":"amd64","features":["avx2","bmi2"]}"#,
            r#"{"os":"linux","architecture":"amd64","features":["avx512f","bmi2"]}"#,
        ]));
        let terms: Vec<Vec<String>> = plan.required.iter().map(keys).collect();
        // Entries require the closure of their features (§4.6): the
        // AVX-512 entry's terms need AVX2 and more; every node they admit,
        // the first term admits too, so they are left out.
        assert_eq!(
            terms,
            [
                vec!["os=linux", "arch=amd64", "AVX=true", "AVX2=true", "BMI2=true"],
                vec!["os=linux", "arch=amd64", "X86_64_V3=true"],
            ]
        );
        let avx512 =
            super::plan(&index(&[r#"{"os":"linux","architecture":"amd64","features":["avx512f","avx512bw"]}"#]));
        let terms: Vec<Vec<String>> = avx512.required.iter().map(keys).collect();
        assert!(
            !terms.is_empty() && terms.iter().all(|t| !t.iter().any(|k| k.starts_with("X86_64_V4"))),
            "no X86_64_V4 term: {terms:?}"
        );
    }

    #[test]
    fn ocifit_labels_express_every_feature_and_one_entry_alone() {
        let idx = index(&[
            r#"{"os":"linux","architecture":"amd64"}"#,
            r#"{"os":"linux","architecture":"amd64","features":["rdpid","avx2"]}"#,
        ]);
        let plan = plan_with(&idx, Options { labels: Labels::Ocifit, entry: Some(1) });
        let terms: Vec<Vec<String>> = plan.required.iter().map(keys).collect();
        // avx2 implies avx and the SSE chain: ocifit's labels name them all.
        assert_eq!(
            terms,
            [vec![
                "os=linux",
                "arch=amd64",
                "avx=true",
                "avx2=true",
                "rdpid=true",
                "sse3=true",
                "sse4_1=true",
                "sse4_2=true",
                "ssse3=true"
            ]]
        );
        assert!(plan.required[0].requirements[2].key.starts_with("feature.node.kubernetes.io/ocifit-feature."));
        assert!(plan.preferred.is_empty() && plan.notes.is_empty(), "{:?}", plan.notes);
        assert!(plan_with(&idx, Options { labels: Labels::Nfd, entry: Some(1) }).required.is_empty(), "rdpid");
    }

    #[test]
    fn an_unnamed_feature_cannot_be_expressed() {
        let plan = plan(&index(&[r#"{"os":"linux","architecture":"amd64","features":["rdpid"]}"#]));
        assert!(plan.required.is_empty());
        assert!(plan.notes[0].contains("no label for rdpid"), "{:?}", plan.notes);
    }

    #[test]
    fn runtimes_that_ignore_features_are_noted() {
        let plan = plan(&index(&[
            r#"{"os":"linux","architecture":"amd64","features":["avx512f"]}"#,
            r#"{"os":"linux","architecture":"amd64","features":["avx2"]}"#,
        ]));
        assert!(
            plan.notes.iter().any(|n| n.starts_with("entry 1:") && n.contains("given entry 0")),
            "{:?}",
            plan.notes
        );
    }
}
