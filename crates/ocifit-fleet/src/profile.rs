//! Node profiles: what a node input proves about a node's CPU, as the two
//! targets that bound it.
//!
//! A host profile or a `/proc/cpuinfo` capture names every feature, so its
//! profile is one target. Node labels do not: NFD hides some flags by
//! default (BMI1, BMI2, POPCNT, SSE4.2, ...) and has no name for others
//! (`tsc`, `rdpid`, arm64 `mops`, ...). Such a node is the set of every target
//! between
//!
//! - [`NodeProfile::min`]: the features the input proves (labelled,
//!   guaranteed by a proven level such as `X86_64_V3`, or implied by one of
//!   those: a visible `AVX2` proves the hidden `sse4_2`), every other
//!   feature absent; and
//! - [`NodeProfile::max`]: those plus every feature the input cannot tell.
//!
//! Whether an index has a compatible entry only grows with the feature set
//! (a larger set proves a higher variant, whose fallback vector contains the
//! lower one's), so the two ends decide it: compatible at `min` means
//! compatible on the node; incompatible at `max` means incompatible on it;
//! anything else is unknown (see `docs/fleet.md`).

use std::sync::OnceLock;

use ocifit_core::target::guaranteed_features;
use ocifit_core::{Family, FeatureSet, FeatureTable, Platform, Target};

use crate::nfd::{self, Vocabulary};

/// The targets that bound what a node can run.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NodeProfile {
    /// Every feature the input cannot tell, and that nothing it proves
    /// implies, assumed absent.
    pub min: Target,
    /// Every feature the input cannot tell assumed present.
    pub max: Target,
}

/// How NFD published the names a profile is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// Node labels: NFD's default configuration hides some names.
    Labels,
    /// A `NodeFeature` object: every name NFD knows.
    NodeFeature,
}

impl NodeProfile {
    /// A node whose every feature is known.
    pub fn exact(target: Target) -> NodeProfile {
        NodeProfile { min: target.clone(), max: target }
    }

    /// A node known only to support `known` and maybe `unknown`: the variant
    /// of each end is the one its features prove (§7).
    pub fn bounded(platform: &Platform, known: FeatureSet, unknown: FeatureSet) -> NodeProfile {
        let platform = platform.normalized();
        let mut all = known;
        all.union(&unknown);
        NodeProfile { min: node_target(&platform, known), max: node_target(&platform, all) }
    }

    /// A node described by NFD CPUID names (label suffixes or `NodeFeature`
    /// elements), on `os`/`architecture`.
    ///
    /// Known: the names NFD published, what the highest `X86_64_V<n>` name
    /// guarantees, the architecture's baseline, and the features those imply
    /// that the input cannot tell ([`implied_unseen`]). Unknown: every other
    /// feature of the architecture NFD has no name for and, for labels, the
    /// names its default configuration hides. With no CPUID name at all (NFD
    /// not running), everything beyond the baseline is unknown.
    pub fn from_nfd<'a>(
        os: &str,
        architecture: &str,
        names: impl IntoIterator<Item = &'a str>,
        published: Published,
    ) -> NodeProfile {
        let platform = Platform::new(os, architecture, "").normalized();
        let arch = platform.architecture.as_str();
        let vocabulary = Vocabulary::for_architecture(arch);
        let mut known = guaranteed_features(FeatureTable::builtin(), arch, &platform.variant);
        let mut seen = false;
        let names: Vec<&str> = names.into_iter().collect();
        for &name in &names {
            seen = true;
            if let Some(id) = vocabulary.and_then(|v| v.feature(name)).filter(|id| id.feature().valid_for(arch)) {
                known.insert(id);
            }
        }
        if arch == "amd64"
            && let Some((_, level)) = nfd::x86_level(names.iter().copied())
        {
            known.union(&level);
        }
        let mut unknown = rows_valid_for(arch);
        if let Some(v) = vocabulary.filter(|_| seen) {
            unknown.intersect(&v.cannot_tell(published));
        }
        known.union(&implied_unseen(&known, &unknown));
        unknown.subtract(&known);
        NodeProfile::bounded(&platform, known, unknown)
    }

    /// The features the input cannot tell (and that the node does not
    /// support for certain).
    pub fn unknown(&self) -> FeatureSet {
        let mut set = self.max.features;
        set.subtract(&self.min.features);
        set
    }

    pub fn is_exact(&self) -> bool {
        self.min == self.max
    }

    /// Both ends with their features restricted to `mask`: the same
    /// selections for an index whose entries mention only features in `mask`.
    pub fn project(&self, mask: &FeatureSet) -> NodeProfile {
        let cut = |t: &Target| {
            let mut features = t.features;
            features.intersect(mask);
            Target { platform: t.platform.clone(), features }
        };
        NodeProfile { min: cut(&self.min), max: cut(&self.max) }
    }
}

/// The features an input cannot tell (`cannot_tell`) that the features it
/// proves (`known`) imply (docs/semantics.md §2): no real CPU has a feature
/// without what it implies, so a node that visibly has `avx2` has the
/// `sse4_2` that NFD's labels hide. Only features the input cannot tell are
/// added: a feature it can tell and does not show stays absent.
pub fn implied_unseen(known: &FeatureSet, cannot_tell: &FeatureSet) -> FeatureSet {
    let mut implied = known.closure();
    implied.intersect(cannot_tell);
    implied
}

/// Every row of the table valid on `architecture` (empty for an
/// architecture without a table).
pub fn rows_valid_for(architecture: &str) -> FeatureSet {
    static ROWS: OnceLock<Vec<(&'static str, FeatureSet)>> = OnceLock::new();
    let rows = ROWS.get_or_init(|| {
        let table = FeatureTable::builtin();
        Family::ALL
            .into_iter()
            .flat_map(|f| f.architectures().iter().map(move |a| (f, *a)))
            .map(|(family, arch)| (arch, table.family(family).filter(|r| r.valid_for(arch)).map(|r| r.id()).collect()))
            .collect()
    });
    rows.iter().find(|(a, _)| *a == architecture).map(|(_, set)| *set).unwrap_or_default()
}

/// The target of a node on `platform` (normalized) with `features`: the
/// variant is the highest one `features` prove (amd64: the x86-64 level
/// whose features are all present; arm64: `ocifit_host`'s rule); other
/// architectures keep the platform's variant. The features include what
/// that variant guarantees. The platform's own baseline counts as present
/// (every node of the architecture has it), so the result does not depend
/// on whether `features` lists it.
pub fn node_target(platform: &Platform, features: FeatureSet) -> Target {
    let mut platform = platform.clone();
    let mut features = features;
    features.union(&guaranteed_features(FeatureTable::builtin(), &platform.architecture, &platform.variant));
    match platform.architecture.as_str() {
        "amd64" => platform.variant = amd64_variant(&features).to_string(),
        "arm64" => platform.variant = ocifit_host::hwcap::arm64_variant(&features).to_string(),
        _ => {}
    }
    let mut all = features;
    all.union(&guaranteed_features(FeatureTable::builtin(), &platform.architecture, &platform.variant));
    Target { platform, features: all }
}

/// The highest amd64 level (`""`, `v2`, `v3`, `v4`) whose features, and
/// those of the levels below it, are all in `features`.
pub fn amd64_variant(features: &FeatureSet) -> &'static str {
    let table = FeatureTable::builtin();
    let mut best = "";
    for level in table.levels("amd64") {
        if guaranteed_features(table, "amd64", level.variant).is_subset(features) {
            best = level.variant;
        } else {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(set: &FeatureSet) -> Vec<&'static str> {
        set.sorted_names()
    }

    fn id(name: &str) -> ocifit_core::FeatureId {
        FeatureTable::builtin().resolve(Family::X86, name).unwrap()
    }

    #[test]
    fn v3_label_proves_the_hidden_v3_features() {
        let p = NodeProfile::from_nfd(
            "linux",
            "amd64",
            ["AVX2", "FMA3", "X86_64_V1", "X86_64_V2", "X86_64_V3"],
            Published::Labels,
        );
        assert_eq!(p.min.platform.variant, "v3");
        for f in ["bmi1", "bmi2", "popcnt", "sse4_2", "lzcnt", "cmov"] {
            assert!(p.min.features.contains(id(f)), "{f}");
        }
        let unknown = names(&p.unknown());
        assert!(unknown.contains(&"rdrand"), "hidden by default: {unknown:?}");
        assert!(unknown.contains(&"tsc"), "NFD has no name: {unknown:?}");
        assert!(!unknown.contains(&"avx512f"), "labelled when present");
        assert_eq!(p.max.platform.variant, "v3");
    }

    #[test]
    fn without_level_labels_hidden_features_keep_the_variant_open() {
        let p = NodeProfile::from_nfd(
            "linux",
            "amd64",
            ["AVX", "AVX2", "FMA3", "MOVBE", "OSXSAVE", "XSAVE", "LAHF"],
            Published::Labels,
        );
        assert_eq!(p.min.platform.variant, "");
        assert_eq!(p.max.platform.variant, "v3");
        let p = NodeProfile::from_nfd("linux", "amd64", ["AVX", "AVX2", "BMI2"], Published::NodeFeature);
        assert!(!p.unknown().contains(id("popcnt")), "a NodeFeature lists POPCNT when present");
    }

    #[test]
    fn no_nfd_labels_means_everything_is_unknown() {
        let p = NodeProfile::from_nfd("linux", "amd64", [], Published::Labels);
        assert_eq!(p.min.platform.variant, "");
        assert!(p.unknown().contains(id("avx2")));
        assert_eq!(p.max.platform.variant, "v4");
        assert!(p.min.features.contains(id("sse2")), "the amd64 baseline is always there");
    }

    #[test]
    fn arm64_labels() {
        let p = NodeProfile::from_nfd(
            "linux",
            "aarch64",
            ["FP", "ASIMD", "ATOMICS", "ASIMDRDM", "CRC32", "SVE2"],
            Published::Labels,
        );
        assert_eq!(p.min.platform.architecture, "arm64");
        assert_eq!(p.min.platform.variant, "v8.1");
        let unknown = names(&p.unknown());
        assert!(unknown.contains(&"mops") && !unknown.contains(&"sve"), "{unknown:?}");
    }
}
