//! The machine running the tests: every feature that has a Linux name is
//! detected directly exactly when `/proc/cpuinfo` shows it, both ways.
//!
//! The two sources are independent: CPUID/XGETBV (or the auxiliary vector)
//! on one side, the kernel's text on the other. Where Linux is known to
//! show a flag differently from what the hardware and XCR0 say, the
//! difference is listed in [`kernel_differs`] with the reason; nothing else
//! may differ.

#![cfg(target_os = "linux")]

use std::collections::BTreeSet;

/// Flags whose /proc/cpuinfo presence does not follow CPUID + XCR0 alone.
/// Each entry: (canonical name, why).
fn kernel_differs() -> &'static [(&'static str, &'static str)] {
    &[
        // Linux clears these when the feature is off for everyone (tsx=off, TSX_CTRL
        // microcode that still enumerates the bits, or the TAA mitigation).
        ("hle", "the kernel hides HLE when TSX is disabled by tsx=off/microcode"),
        ("rtm", "the kernel hides RTM when TSX is disabled by tsx=off/microcode"),
        // Linux 5.6 removed MPX support but still lists the CPUID bit on CPUs that have it,
        // while leaving the MPX XCR0 state (bits 3-4) disabled.
        ("mpx", "Linux >= 5.6 shows the CPU bit but never enables MPX state"),
        // Kernel clears these when booted with no* options or without config support.
        ("fsgsbase", "hidden by nofsgsbase / kernels before 5.9 without FSGSBASE enabling"),
        ("pku", "shown from the CPU bit even when the kernel did not enable PKRU (nopku)"),
        ("lam", "hidden unless the kernel enables linear address masking"),
        ("waitpkg", "hidden when the kernel disables UMWAIT (umwait_control)"),
        // AMD erratum on Zen 5 (RDSEED can return 0 with CF=1, "success"): Linux 6.17+
        // clears the flag unless the microcode is fixed; CPUID still enumerates it and the
        // instruction executes, so ocifit reports it (docs/host-detection.md).
        ("rdseed", "hidden by Linux on Zen 5 without the RDSEED microcode fix"),
    ]
}

fn proc_cpuinfo() -> String {
    std::fs::read_to_string("/proc/cpuinfo").expect("/proc/cpuinfo")
}

#[test]
fn live_detection_agrees_with_proc_cpuinfo() {
    let live = match ocifit_host::detect() {
        Ok(p) => p,
        Err(e) => panic!("this machine is Linux on {}: detection must work: {e}", std::env::consts::ARCH),
    };
    let text = proc_cpuinfo();
    let kernel = ocifit_host::from_cpuinfo(&text, Some(&live.target.platform.architecture)).unwrap();
    assert_eq!(kernel.target.platform.architecture, live.target.platform.architecture);
    if live.family() == Some(ocifit_core::Family::Ppc64) {
        return; // ppc /proc/cpuinfo has no feature list to compare with
    }
    let exempt: BTreeSet<&str> = kernel_differs().iter().map(|(n, _)| *n).collect();
    let with_linux_name = |p: &ocifit_host::HostProfile| -> BTreeSet<&'static str> {
        p.target
            .features
            .iter()
            .map(|id| id.feature())
            .filter(|f| f.linux.is_some() && !exempt.contains(f.name))
            .filter(|f| !matches!(f.detection, ocifit_core::table::Detection::CpuinfoOnly))
            .map(|f| f.name)
            .collect()
    };
    let detected = with_linux_name(&live);
    let shown = with_linux_name(&kernel);
    let only_detected: Vec<_> = detected.difference(&shown).collect();
    let only_shown: Vec<_> = shown.difference(&detected).collect();
    assert!(
        only_detected.is_empty() && only_shown.is_empty(),
        "detected but not in /proc/cpuinfo: {only_detected:?}; in /proc/cpuinfo but not detected: {only_shown:?}"
    );
    assert!(kernel.unknown_flags.is_empty(), "flags the table does not know: {:?}", kernel.unknown_flags);
    // Features the OS disabled are not in /proc/cpuinfo either (Linux clears
    // flags whose XCR0 state it did not enable).
    for id in &live.disabled_by_os {
        let f = id.feature();
        if let Some(linux) = f.linux.filter(|_| !exempt.contains(f.name)) {
            let flags = ocifit_host::cpuinfo::first_block(&text);
            let line = flags.iter().find(|(k, _)| *k == "flags" || *k == "Features").map_or("", |(_, v)| *v);
            assert!(!line.split_whitespace().any(|w| w == linux), "{linux}: disabled by the OS yet shown");
        }
    }
    // The same variant by both rules.
    if live.target.platform.architecture == "amd64" {
        assert_eq!(live.target.platform.variant, kernel.target.platform.variant, "GOAMD64 checks vs cpuinfo level");
    }
}

#[test]
fn exceptions_are_features_of_the_table() {
    let table = ocifit_core::FeatureTable::builtin();
    for (name, why) in kernel_differs() {
        assert!(table.resolve(ocifit_core::Family::X86, name).is_some(), "{name}: {why}");
    }
}
