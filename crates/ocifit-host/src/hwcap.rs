//! Linux hwcaps (arm64, arm, ppc64, s390x, riscv64): the auxiliary-vector
//! words and `riscv_hwprobe` values mapped through the table's
//! `Detection::Hwcap` / `Detection::Hwprobe` rows, and the variants that
//! follow from them.

use ocifit_core::table::Detection;
use ocifit_core::target::guaranteed_features;
use ocifit_core::vector::fallback_vector;
use ocifit_core::{Family, FeatureSet, FeatureTable};

/// What the kernel told the process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hwcaps {
    /// `AT_HWCAP`, `AT_HWCAP2`, `AT_HWCAP3` (0 when the kernel passed none).
    pub hwcap: [u64; 3],
    /// `AT_PLATFORM` (`aarch64`, `v7l`, `power9`, `z15`, ...).
    pub platform: Option<String>,
    /// `riscv_hwprobe` (key, value) pairs the kernel answered.
    pub hwprobe: Vec<(u32, u64)>,
}

/// The `riscv_hwprobe` keys the table refers to.
pub fn hwprobe_keys() -> Vec<u32> {
    let mut keys = Vec::new();
    for f in FeatureTable::builtin().family(Family::Riscv64) {
        if let Detection::Hwprobe { key, .. } = f.detection
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    keys
}

/// The features of `family` valid on `architecture` that `caps` shows.
pub fn features(caps: &Hwcaps, family: Family, architecture: &str) -> FeatureSet {
    let mut set = FeatureSet::new();
    for f in FeatureTable::builtin().family(family) {
        if !f.valid_for(architecture) {
            continue;
        }
        let present = match f.detection {
            Detection::Hwcap { word, bit } => {
                let w = caps.hwcap.get(usize::from(word).wrapping_sub(1)).copied().unwrap_or(0);
                bit < 64 && w & (1 << bit) != 0
            }
            Detection::Hwprobe { key, bit, .. } => {
                caps.hwprobe.iter().any(|(k, v)| *k == key && bit < 64 && v & (1 << bit) != 0)
            }
            Detection::Cpuid { .. } | Detection::CpuinfoOnly => false,
        };
        if present {
            set.insert(f.id());
        }
    }
    set
}

/// The arm64 variant (§7): the highest table level that `features` proves —
/// that level's features and those of every level in its fallback vector
/// are all present. A level whose own feature list is empty proves nothing
/// (no hwcap can show it), so it is never reported. `""` (Armv8.0) when no
/// higher level is proven.
pub fn arm64_variant(features: &FeatureSet) -> &'static str {
    let table = FeatureTable::builtin();
    let mut best = "";
    for level in table.levels("arm64") {
        if level.variant.is_empty() || level.features.is_empty() {
            continue;
        }
        let needed = guaranteed_features(table, "arm64", level.variant);
        let chain_known = fallback_vector("arm64", level.variant)
            .iter()
            .filter(|av| av.architecture == "arm64")
            .all(|av| table.level("arm64", &av.variant).is_some());
        if chain_known && needed.is_subset(features) && is_higher(level.variant, best) {
            best = level.variant;
        }
    }
    best
}

fn is_higher(a: &str, b: &str) -> bool {
    let v = |s: &str| ocifit_core::vector::arm64_version(s).unwrap_or((8, 0));
    v(a) > v(b)
}

/// The arm (32-bit) variant from `AT_PLATFORM` (`v7l` → `v7`) or a
/// `uname -m`-style machine name (`armv6l` → `v6`), as containerd reads it.
pub fn arm_variant(platform: &str) -> Option<String> {
    let machine = if platform.starts_with('v') { format!("arm{platform}") } else { platform.to_string() };
    match ocifit_core::platform::arm_variant_from_machine(&machine) {
        Ok(digit) if digit.chars().all(|c| c.is_ascii_digit()) => Some(format!("v{digit}")),
        _ => None,
    }
}

/// The arm (32-bit) variant the features prove, for when the kernel's
/// platform string is missing or unknown: the highest table level (`v5`..`v8`)
/// whose features and those of every lower level are present, `v5` at least
/// (an empty arm variant would normalize to containerd's default, `v7`,
/// which nothing proved).
pub fn arm_level(features: &FeatureSet) -> &'static str {
    let table = FeatureTable::builtin();
    let mut best = "v5";
    for level in table.levels("arm") {
        if !level.features.is_empty() && guaranteed_features(table, "arm", level.variant).is_subset(features) {
            let n = |v: &str| v.trim_start_matches('v').parse::<u32>().unwrap_or(0);
            if n(level.variant) > n(best) {
                best = level.variant;
            }
        }
    }
    best
}
