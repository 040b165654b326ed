//! Every Linux capture in `tests/data/conformance/cpuinfo/` (real machines,
//! from archspec) read as a profile: the x86-64 level equals
//! `expected.json`, and the features are exactly the capture's flags mapped
//! to canonical names.

use std::collections::BTreeSet;

use ocifit_core::{Family, FeatureTable};
use serde_json::Value;

const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/conformance/cpuinfo");

fn expected() -> Value {
    let text = std::fs::read_to_string(format!("{CAPTURES}/expected.json"))
        .expect("tests/data/conformance/cpuinfo/expected.json");
    serde_json::from_str(&text).unwrap()
}

fn capture(file: &str) -> String {
    std::fs::read_to_string(format!("{CAPTURES}/{file}")).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_string()).collect()
}

/// The canonical names the flags stand for, and the flags that are neither
/// features nor known non-ISA flags, computed from the table directly.
fn mapped(family: Family, arch: &str, flags: &[String]) -> (BTreeSet<String>, Vec<String>) {
    let table = FeatureTable::builtin();
    let mut features = BTreeSet::new();
    let mut unknown = Vec::new();
    for flag in flags {
        match table.by_linux_name(family, flag) {
            Some(id) if id.feature().valid_for(arch) => {
                features.insert(id.feature().name.to_string());
            }
            _ if table.is_non_isa_linux_flag(family, flag) => {}
            _ => unknown.push(flag.clone()),
        }
    }
    (features, unknown)
}

fn names(p: &ocifit_host::HostProfile) -> BTreeSet<String> {
    p.target.features.sorted_names().into_iter().map(String::from).collect()
}

#[test]
fn s7_cpuinfo_capture_read_in_place_of_the_live_machine() {
    let exp = expected();
    let cases = exp["linux_x86_64"].as_array().unwrap();
    assert_eq!(cases.len(), 20);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let p = ocifit_host::from_cpuinfo(&capture(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.target.platform.architecture, "amd64", "{file}");
        let level = case["x86_64_level"].as_str().unwrap();
        let variant = if p.target.platform.variant.is_empty() { "v1" } else { &p.target.platform.variant };
        assert_eq!(variant, level, "{file}: x86-64 level");
        let (want, unknown) = mapped(Family::X86, "amd64", &strings(&case["flags"]));
        assert_eq!(names(&p), want, "{file}: features");
        assert_eq!(p.unknown_flags, unknown, "{file}: unknown flags");
    }
}

/// The table's amd64 levels are exactly expected.json's level definitions
/// (Linux names mapped: pni = sse3, abm = lzcnt), so the cpuinfo level rule
/// is the one the expectations were computed with.
#[test]
fn table_levels_are_the_expected_level_definitions() {
    let exp = expected();
    let table = FeatureTable::builtin();
    for v in ["v2", "v3", "v4"] {
        let (want, unknown) = mapped(Family::X86, "amd64", &strings(&exp["level_definitions"][v]));
        assert!(unknown.is_empty());
        let mut have = ocifit_core::target::guaranteed_features(table, "amd64", v);
        for id in ocifit_core::target::guaranteed_features(table, "amd64", "").iter() {
            have.remove(id);
        }
        let have: BTreeSet<String> = have.sorted_names().into_iter().map(String::from).collect();
        assert_eq!(have, want, "{v}");
    }
}

#[test]
fn aarch64_captures() {
    let exp = expected();
    let cases = exp["linux_aarch64"].as_array().unwrap();
    assert_eq!(cases.len(), 17);
    for case in cases {
        let file = case["file"].as_str().unwrap();
        let p = ocifit_host::from_cpuinfo(&capture(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(p.target.platform.architecture, "arm64", "{file}");
        let (want, unknown) = mapped(Family::Arm64, "arm64", &strings(&case["features"]));
        assert_eq!(names(&p), want, "{file}: features");
        assert_eq!(p.unknown_flags, unknown, "{file}: unknown flags");
        // §7: never higher than proven: every feature the variant guarantees is present.
        assert!(p.variant_gaps().is_empty(), "{file}: {} lacks {:?}", p.target.platform, p.variant_gaps());
    }
}

/// arm64 variants of well-known cores, by the table's mandatory-feature levels.
#[test]
fn s7_arm64_variant_only_from_mandatory_features() {
    let cases = [
        ("linux-amazon-cortex_a72", ""),      // Armv8.0: no LSE atomics
        ("linux-amazon-neoverse_n1", "v8.2"), // v8.2; no fcma/jscvt/PAuth for v8.3
        ("linux-rocky8-a64fx", "v8.2"),       // Armv8.2-A + SVE, no lrcpc/PAuth
        ("linux-centos7-thunderx2", "v8.1"),  // Armv8.1
    ];
    for (file, variant) in cases {
        let p = ocifit_host::from_cpuinfo(&capture(file), None).unwrap();
        assert_eq!(p.target.platform.variant, variant, "{file}");
    }
}

#[test]
fn ppc_and_riscv_captures() {
    let exp = expected();
    for case in exp["linux_other"].as_array().unwrap() {
        let file = case["file"].as_str().unwrap();
        let family = case["family"].as_str().unwrap();
        let p = ocifit_host::from_cpuinfo(&capture(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let arch = p.target.platform.architecture.as_str();
        match family {
            "ppc64" | "ppc64le" => {
                assert!(arch == "ppc64" || arch == "ppc64le", "{file}: {arch}");
                let n = names(&p);
                assert!(n.contains("altivec") && n.contains("vsx") && n.contains("arch_2_06"), "{file}: {n:?}");
                let cpu = case["cpu"].as_str().unwrap();
                assert_eq!(n.contains("arch_3_00"), cpu.starts_with("POWER9") || cpu.starts_with("POWER10"), "{file}");
                assert_eq!(n.contains("arch_3_1"), cpu.starts_with("POWER10"), "{file}");
                let forced = ocifit_host::from_cpuinfo(&capture(file), Some("ppc64")).unwrap();
                assert_eq!(forced.target.platform.architecture, "ppc64");
            }
            "riscv64" => {
                assert_eq!(arch, "riscv64", "{file}");
                let isa = case["isa"].as_str().unwrap();
                let rest = isa.strip_prefix("rv64").unwrap();
                let mut parts = rest.split('_');
                let mut flags: Vec<String> = parts.next().unwrap().chars().map(String::from).collect();
                flags.extend(parts.map(String::from));
                let (want, unknown) = mapped(Family::Riscv64, "riscv64", &flags);
                assert_eq!(names(&p), want, "{file}: features");
                assert_eq!(p.unknown_flags, unknown, "{file}: unknown");
            }
            other => panic!("{file}: unexpected family {other}"),
        }
    }
}

#[test]
fn quirky_captures_parse() {
    // A leading comment, a COMMENT key, a trailing comment without final newline,
    // irregular spacing before ':'.
    for file in
        ["linux-rhel7-x86_64_v3", "linux-rhel6-piledriver", "linux-ubuntu22.04-neoverse_n2", "linux-spacemit-x60"]
    {
        ocifit_host::from_cpuinfo(&capture(file), None).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
    assert!(ocifit_host::from_cpuinfo("", None).is_err());
    let haswell = capture("linux-rhel7-haswell");
    assert!(ocifit_host::from_cpuinfo(&haswell, Some("arm64")).is_err(), "--arch must fit the capture");
    assert_eq!(ocifit_host::from_cpuinfo(&haswell, Some("386")).unwrap().target.platform.architecture, "386");
    assert!(ocifit_host::from_cpuinfo("processor : 0\nfoo : bar\n", None).is_err());
}

#[test]
fn arm32_and_s390x_captures() {
    let arm = "processor\t: 0\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nBogoMIPS\t: 38.40\n\
               Features\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\n\
               CPU implementer\t: 0x41\nCPU architecture: 7\n";
    let p = ocifit_host::from_cpuinfo(arm, None).unwrap();
    assert_eq!(p.target.platform.short(), "linux/arm/v7");
    assert!(p.target.features.sorted_names().contains(&"neon"));
    let s390 = "vendor_id       : IBM/S390\n# processors    : 4\nbogomips per cpu: 3241.00\n\
                features\t: esan3 zarch stfle msa ldisp eimm dfp edat etf3eh highgprs te vx vxd vxe gs vxe2 vxp sort dflt sie\n";
    let p = ocifit_host::from_cpuinfo(s390, None).unwrap();
    assert_eq!(p.target.platform.short(), "linux/s390x");
    let n = p.target.features.sorted_names();
    assert!(n.contains(&"vxe2") && !n.contains(&"edat"), "{n:?}");
    assert!(p.unknown_flags.is_empty(), "{:?}", p.unknown_flags);
}
