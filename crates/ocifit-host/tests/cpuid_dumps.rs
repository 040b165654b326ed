//! x86 detection on CPUID dumps of real CPUs (`tests/data/cpuid/`, built by
//! `generate.py` there from documented identification values and real
//! captures), the XCR0 gating, the GOAMD64 level, archspec's Windows CSV
//! captures, and dump/replay of this machine.

use std::collections::BTreeSet;

use ocifit_host::HostProfile;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cpuid");
const CAPTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/data/conformance/cpuinfo");

fn dump(name: &str) -> HostProfile {
    let text = std::fs::read_to_string(format!("{DATA}/{name}")).unwrap();
    ocifit_host::from_cpuid_dump(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn names(p: &HostProfile) -> BTreeSet<&'static str> {
    p.target.features.sorted_names().into_iter().collect()
}

fn disabled(p: &HostProfile) -> BTreeSet<&'static str> {
    p.disabled_by_os.iter().map(|id| id.feature().name).collect()
}

const AVX512_V4: [&str; 5] = ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl"];
const AMX: [&str; 3] = ["amx_tile", "amx_int8", "amx_bf16"];

#[test]
fn sapphire_rapids_reports_avx512_fp16_and_amx() {
    let p = dump("sapphire-rapids.txt");
    assert_eq!(p.target.platform.short(), "linux/amd64/v4");
    let n = names(&p);
    for f in AVX512_V4.iter().chain(&AMX).chain(&["avx512_fp16", "avx512_bf16", "avx_vnni", "serialize", "tsxldtrk"]) {
        assert!(n.contains(f), "missing {f}");
    }
    assert!(disabled(&p).is_empty(), "{:?}", disabled(&p));
    assert_eq!(p.vendor.as_deref(), Some("GenuineIntel"));
    assert_eq!(p.model.as_deref(), Some("Intel(R) Xeon(R) Platinum 8480+"));
}

#[test]
fn zen4_reports_avx512_without_fp16_or_amx() {
    let p = dump("zen4.txt");
    assert_eq!(p.target.platform.short(), "linux/amd64/v4");
    let n = names(&p);
    for f in AVX512_V4.iter().chain(&["avx512_bf16", "avx512ifma", "avx512_vbmi2", "sse4a", "clzero", "mwaitx"]) {
        assert!(n.contains(f), "missing {f}");
    }
    for f in AMX.iter().chain(&["avx512_fp16", "avx_vnni"]) {
        assert!(!n.contains(f), "{f} is not a Zen 4 feature");
    }
    assert_eq!(p.vendor.as_deref(), Some("AuthenticAMD"));
}

/// The CPU has AVX-512 but the OS did not enable the opmask/ZMM state: not
/// reported, listed as disabled by the OS, and the variant drops to v3.
#[test]
fn s7_reported_only_if_os_enabled_xcr0_without_zmm_hides_avx512() {
    for (file, full) in [("sapphire-rapids-no-zmm.txt", "sapphire-rapids.txt"), ("zen4-no-zmm.txt", "zen4.txt")] {
        let p = dump(file);
        let all = dump(full);
        assert_eq!(p.target.platform.variant, "v3", "{file}");
        let n = names(&p);
        assert!(n.contains("avx2") && n.contains("fma") && n.contains("vaes"), "{file}: AVX state is enabled");
        let avx512: BTreeSet<&str> = names(&all).into_iter().filter(|f| f.starts_with("avx512")).collect();
        assert!(avx512.len() >= 12, "{full}: {avx512:?}");
        for f in &avx512 {
            assert!(!n.contains(f), "{file}: {f} reported without ZMM state");
            assert!(disabled(&p).contains(f), "{file}: {f} not listed as disabled by the OS");
        }
        // Everything else is unchanged: disabled ∪ reported = the full set.
        let mut union = n.clone();
        union.extend(disabled(&p));
        assert_eq!(union, names(&all), "{file}");
    }
}

#[test]
fn s7_reported_only_if_os_enabled_xcr0_without_amx_hides_amx() {
    let p = dump("sapphire-rapids-no-amx.txt");
    assert_eq!(p.target.platform.variant, "v4");
    assert_eq!(disabled(&p), AMX.into_iter().collect());
    assert!(names(&p).contains("avx512_fp16"));
}

/// No OSXSAVE: XGETBV is never executed, every XCR0-gated feature (and the
/// xsave family) is disabled, the variant is v2.
#[test]
fn s7_xgetbv_only_after_osxsave() {
    let p = dump("sapphire-rapids-no-osxsave.txt");
    assert_eq!(p.target.platform.variant, "v2");
    let n = names(&p);
    for f in ["avx", "avx2", "fma", "f16c", "avx512f", "amx_tile", "xsave", "xsaveopt", "xsaves", "vaes"] {
        assert!(!n.contains(f), "{f}");
        assert!(disabled(&p).contains(f), "{f}");
    }
    for f in ["bmi1", "bmi2", "lzcnt", "movbe", "sse4_2", "aes", "sha_ni", "gfni", "adx"] {
        assert!(n.contains(f), "{f} needs no OS state");
    }
}

/// The dumps carry the capture's flags: replaying the dump and reading the
/// capture give the same features (two independent paths to one answer).
#[test]
fn dump_and_capture_agree() {
    for (file, capture) in
        [("sapphire-rapids.txt", "linux-unknown-sapphirerapids"), ("zen4.txt", "linux-rocky8.5-zen4")]
    {
        let p = dump(file);
        let text = std::fs::read_to_string(format!("{CAPTURES}/{capture}")).unwrap();
        let c = ocifit_host::from_cpuinfo(&text, None).unwrap();
        assert_eq!(names(&p), names(&c), "{file} vs {capture}");
        assert_eq!(p.target.platform.variant, c.target.platform.variant);
    }
}

/// The GOAMD64 level (raw CPUID bits) never claims a variant whose table
/// features were not detected.
#[test]
fn s7_amd64_variant_never_higher_than_the_machine_runs() {
    for file in std::fs::read_dir(DATA).unwrap() {
        let path = file.unwrap().path();
        if path.extension().is_none_or(|e| e != "txt") {
            continue;
        }
        let p = ocifit_host::from_cpuid_dump(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert!(p.variant_gaps().is_empty(), "{}: {:?}", path.display(), p.variant_gaps());
    }
}

/// archspec's Windows CPUID captures (CSV, decimal): the level equals expected.json.
#[test]
fn archspec_windows_csv_dumps() {
    for (file, level) in [("windows-cpuid-broadwell", "v3"), ("windows-cpuid-icelake", "v4")] {
        let text = std::fs::read_to_string(format!("{CAPTURES}/windows/{file}")).unwrap();
        let p = ocifit_host::from_cpuid_dump(&text).unwrap();
        assert_eq!(p.target.platform.short(), format!("windows/amd64/{level}"), "{file}");
        assert!(!p.notes.is_empty(), "{file}: the XCR0 assumption is stated");
    }
}

#[test]
fn hand_written_dumps() {
    // Only leaves 0, 1 and 80000001h: a bare x86-64 (v1) — leaf 7 is beyond the maximum.
    let text = "cpuid 0 0 1 756e6547 6c65746e 49656e69\ncpuid 1 0 0 0 0 0789fbff\n\
                cpuid 80000000 0 80000001 0 0 0\ncpuid 80000001 0 0 0 0 20100800\n";
    let p = ocifit_host::from_cpuid_dump(text).unwrap();
    assert_eq!(p.target.platform.short(), format!("{}/amd64", std::env::consts::OS));
    assert!(names(&p).contains("sse2") && names(&p).contains("lm"));
    // Leaf 7 present in the dump but above the CPU's maximum basic leaf: ignored.
    let text = "cpuid 0 0 1 0 0 0\ncpuid 1 0 0 0 0 0789fbff\ncpuid 7 0 0 ffffffff ffffffff ffffffff\n";
    let p = ocifit_host::from_cpuid_dump(text).unwrap();
    assert_eq!(p.target.platform.architecture, "386", "no long mode");
    assert!(!names(&p).contains("avx2") && !names(&p).contains("bmi1"));
    for bad in ["cpuid 0 0 1", "cpuid 0 0 1 2 3 zz", "xcr0 nope", "frobnicate 1", "arch arm64", ""] {
        assert!(ocifit_host::from_cpuid_dump(bad).is_err(), "{bad:?}");
    }
}

/// `--dump-cpuid` then `--cpuid` is the live answer, by construction.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
#[test]
fn s7_cpuid_dump_read_in_place_of_the_live_machine() {
    let live = ocifit_host::detect_identified().unwrap();
    let replay = ocifit_host::from_cpuid_dump(&ocifit_host::dump_cpuid().unwrap()).unwrap();
    assert_eq!(replay.target, live.target);
    assert_eq!(replay.disabled_by_os, live.disabled_by_os);
    assert_eq!(replay.model, live.model);
    // And the dump is a fixed point.
    let again = ocifit_host::dump_cpuid().unwrap();
    let reparsed = ocifit_host::CpuidDump::parse(&again).unwrap();
    assert_eq!(ocifit_host::CpuidDump::parse(&reparsed.to_text()).unwrap(), reparsed);
}
