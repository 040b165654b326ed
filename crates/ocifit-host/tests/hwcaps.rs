//! The Linux hwcap path (arm64, arm, ppc64, s390x, riscv64), checked on
//! any machine: auxiliary-vector words and `riscv_hwprobe` values built from
//! the real captures' feature lists must map back to exactly those
//! features, with the same variant as the cpuinfo path.

use ocifit_core::table::Detection;
use ocifit_core::{Family, FeatureSet, FeatureTable};
use ocifit_host::hwcap::Hwcaps;

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/conformance/cpuinfo");

/// What the kernel would pass for `features`: the table's bits, set.
fn caps_for(features: &FeatureSet, platform: Option<&str>) -> Hwcaps {
    let mut caps = Hwcaps { platform: platform.map(String::from), ..Hwcaps::default() };
    for id in features.iter() {
        match id.feature().detection {
            Detection::Hwcap { word, bit } => caps.hwcap[usize::from(word) - 1] |= 1 << bit,
            Detection::Hwprobe { key, bit, .. } => match caps.hwprobe.iter_mut().find(|(k, _)| *k == key) {
                Some((_, v)) => *v |= 1 << bit,
                None => caps.hwprobe.push((key, 1 << bit)),
            },
            _ => {}
        }
    }
    caps
}

fn live_detectable(features: &FeatureSet) -> FeatureSet {
    features.iter().filter(|id| !matches!(id.feature().detection, Detection::CpuinfoOnly)).collect()
}

#[test]
fn arm64_captures_round_trip_through_hwcaps() {
    let mut n = 0;
    for entry in std::fs::read_dir(CAPTURES).unwrap() {
        let path = entry.unwrap().path();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) => continue, // directories
        };
        let Ok(from_text) = ocifit_host::from_cpuinfo(&text, None) else { continue };
        if from_text.target.platform.architecture != "arm64" {
            continue;
        }
        n += 1;
        let caps = caps_for(&from_text.target.features, Some("aarch64"));
        let live = ocifit_host::from_hwcaps(&caps, "arm64");
        assert_eq!(live.target, from_text.target, "{}", path.display());
    }
    assert_eq!(n, 17);
}

#[test]
fn riscv64_captures_round_trip_through_hwprobe() {
    for file in ["linux-spacemit-x60", "linux-sifive-u74mc", "linux-debian13-x60"] {
        let text = std::fs::read_to_string(format!("{CAPTURES}/{file}")).unwrap();
        let from_text = ocifit_host::from_cpuinfo(&text, None).unwrap();
        let caps = caps_for(&from_text.target.features, None);
        let live = ocifit_host::from_hwcaps(&caps, "riscv64");
        assert_eq!(live.target.features, live_detectable(&from_text.target.features), "{file}");
    }
    // Without hwprobe (Linux < 6.4): only the single letters, and a note.
    let caps = Hwcaps { hwcap: [1 << 8 | 1 << 12 | 1, 0, 0], ..Hwcaps::default() };
    let p = ocifit_host::from_hwcaps(&caps, "riscv64");
    assert_eq!(p.target.features.sorted_names(), ["a", "i", "m"]);
    assert!(!p.notes.is_empty());
}

#[test]
fn ppc64le_and_s390x_bits() {
    let table = FeatureTable::builtin();
    let id = |f: Family, n: &str| table.resolve(f, n).unwrap();
    let set: FeatureSet = ["fpu", "altivec", "vsx", "arch_2_06", "arch_2_07", "arch_3_00", "mma"]
        .into_iter()
        .map(|n| id(Family::Ppc64, n))
        .collect();
    let caps = caps_for(&set, Some("power10"));
    assert_eq!(caps.hwcap[0], 1 << 27 | 1 << 28 | 1 << 7 | 1 << 8, "PPC_FEATURE_* bits");
    let p = ocifit_host::from_hwcaps(&caps, "ppc64le");
    assert_eq!(p.target.features, set);
    assert_eq!(p.target.platform.short(), "linux/ppc64le");

    let set: FeatureSet = ["zarch", "vx", "vxe", "vxe2", "nnpa"].into_iter().map(|n| id(Family::S390x, n)).collect();
    let p = ocifit_host::from_hwcaps(&caps_for(&set, Some("z16")), "s390x");
    assert_eq!(p.target.features, set);
}

#[test]
fn arm_variant_from_at_platform() {
    for (platform, variant) in [("v7l", "v7"), ("v8l", "v8"), ("v6l", "v6"), ("v5l", "v5"), ("v7b", "v7")] {
        let caps = Hwcaps { platform: Some(platform.into()), ..Hwcaps::default() };
        assert_eq!(ocifit_host::from_hwcaps(&caps, "arm").target.platform.variant, variant, "{platform}");
    }
    // No or an unknown platform string: the level the hwcaps prove, v5 at least
    // (never containerd's default v7 for an empty arm variant).
    let table = FeatureTable::builtin();
    let v6: FeatureSet = ["half", "thumb", "fastmult", "edsp", "vfp"]
        .into_iter()
        .map(|n| table.resolve(Family::Arm, n).unwrap())
        .collect();
    let caps = caps_for(&v6, Some("weird"));
    assert_eq!(ocifit_host::from_hwcaps(&caps, "arm").target.platform.variant, "v6");
    let caps = caps_for(&FeatureSet::new(), None);
    assert_eq!(ocifit_host::from_hwcaps(&caps, "arm").target.platform.variant, "v5");
}

/// Never higher than proven: a v8.4 core that hides PAuth is reported v8.2.
#[test]
fn arm64_variant_needs_every_lower_level() {
    let table = FeatureTable::builtin();
    let names = [
        "fp", "asimd", "atomics", "asimdrdm", "crc32", "dcpop", "fcma", "jscvt", "lrcpc", "asimddp", "dit", "flagm",
        "ilrcpc", "uscat",
    ];
    let set: FeatureSet = names.into_iter().map(|n| table.resolve(Family::Arm64, n).unwrap()).collect();
    assert_eq!(ocifit_host::hwcap::arm64_variant(&set), "v8.2");
    let mut with_pauth = set;
    with_pauth.insert(table.resolve(Family::Arm64, "paca").unwrap());
    with_pauth.insert(table.resolve(Family::Arm64, "pacg").unwrap());
    assert_eq!(ocifit_host::hwcap::arm64_variant(&with_pauth), "v8.4");
    assert_eq!(ocifit_host::hwcap::arm64_variant(&FeatureSet::new()), "");
}
