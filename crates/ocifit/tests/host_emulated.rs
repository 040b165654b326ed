//! `ocifit host` on emulated CPUs (qemu-user, Debian's `qemu-user`):
//! x86-64 models under `qemu-x86_64 -cpu MODEL` and, with a cross-built
//! aarch64 binary, arm64 models under `qemu-aarch64 -cpu MODEL`.
//!
//! QEMU's model definitions (target/i386/cpu.c, target/arm/cpu64.c) are the
//! reference for what each model has; under TCG (no KVM) QEMU drops what it
//! cannot emulate and says so on stderr ("TCG doesn't support requested
//! feature: CPUID.07H:EBX.avx512f [bit 16]"). Every bit QEMU names there must
//! be absent from ocifit's answer. TCG has no AVX-512 or AMX at all, so those
//! are covered by CPUID dumps (crates/ocifit-host/tests/cpuid_dumps.rs).
//!
//! `scripts/test.sh` installs qemu-user and the cross toolchain, builds the
//! aarch64 binary and sets OCIFIT_QEMU_TESTS=1 and OCIFIT_QEMU_AARCH64_BIN;
//! then every model here must run (a missing tool is a failure, not a skip).
//! Without OCIFIT_QEMU_TESTS the tests only say they were not run.

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn required() -> bool {
    std::env::var("OCIFIT_QEMU_TESTS").is_ok_and(|v| v == "1")
}

/// Run `qemu` with `args`; `None` when emulation is not asked for.
fn run(qemu: &str, args: &[&str]) -> Option<(Value, String)> {
    if !required() {
        eprintln!("OCIFIT_QEMU_TESTS is not 1: emulated-CPU tests not run (scripts/test.sh runs them)");
        return None;
    }
    let out = Command::new(qemu)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("OCIFIT_QEMU_TESTS=1 but {qemu} cannot be run: {e} (apt-get install qemu-user)"));
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{qemu} {args:?}: {}\n{stderr}", out.status);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{qemu} {args:?}: {e}"));
    Some((json, stderr))
}

fn features(doc: &Value) -> BTreeSet<String> {
    doc["features"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn variant(doc: &Value) -> &str {
    doc["variant"].as_str().unwrap_or("")
}

/// The (leaf, register, bit) QEMU reports it could not emulate.
fn tcg_dropped(stderr: &str) -> Vec<(u32, String, u8)> {
    let mut out = Vec::new();
    for line in stderr.lines().filter(|l| l.contains("TCG doesn't support requested feature")) {
        // "... feature: CPUID.07H:EBX.avx512f [bit 16]"
        let Some(spec) = line.split("feature: CPUID.").nth(1) else { continue };
        let Some((leaf, rest)) = spec.split_once("H:") else { continue };
        let reg = rest.get(..3).unwrap_or("").to_ascii_lowercase();
        let bit = rest.rsplit("[bit ").next().and_then(|b| b.trim_end_matches(']').parse().ok());
        if let (Ok(leaf), Some(bit)) = (u32::from_str_radix(leaf, 16), bit) {
            out.push((leaf, reg, bit));
        }
    }
    out
}

struct X86Model {
    cpu: &'static str,
    variant: &'static str,
    has: &'static [&'static str],
    lacks: &'static [&'static str],
}

/// What QEMU 7.2's model definitions give under TCG.
const X86_MODELS: &[X86Model] = &[
    X86Model {
        cpu: "qemu64",
        variant: "",
        has: &["sse2", "sse3", "cx16", "lahf_lm", "lm", "syscall", "nx"],
        lacks: &["ssse3", "sse4_1", "sse4_2", "popcnt", "avx"],
    },
    X86Model {
        cpu: "Nehalem",
        variant: "v2",
        has: &["ssse3", "sse4_1", "sse4_2", "popcnt", "cx16", "lahf_lm"],
        lacks: &["aes", "avx", "xsave", "movbe"],
    },
    X86Model {
        cpu: "Haswell",
        variant: "v3",
        has: &["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "lzcnt", "movbe", "xsave", "aes", "pclmulqdq"],
        lacks: &["hle", "rtm", "avx512f", "adx", "rdseed"],
    },
    X86Model { cpu: "Haswell,-bmi2", variant: "v2", has: &["avx", "avx2", "fma", "bmi1", "lzcnt"], lacks: &["bmi2"] },
    X86Model {
        cpu: "Skylake-Server",
        variant: "v3",
        has: &["avx2", "adx", "clflushopt", "clwb", "pku", "xsaveopt", "xgetbv1"],
        lacks: &["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "rdseed", "xsavec"],
    },
    X86Model {
        cpu: "EPYC-Rome",
        variant: "v3",
        has: &["avx2", "sse4a", "mmxext", "adx", "clwb", "xgetbv1"],
        lacks: &["avx512f", "sha_ni", "clzero", "rdpid", "misalignsse", "xsavec", "xsaves"],
    },
    X86Model {
        cpu: "max",
        variant: "v3",
        has: &["avx2", "fma", "bmi2", "vaes", "sse4a", "3dnow", "pku"],
        lacks: &["avx512f", "amx_tile"],
    },
];

#[cfg(target_arch = "x86_64")]
#[test]
fn x86_64_models_under_qemu() {
    let bin = std::env::var("OCIFIT_QEMU_X86_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_ocifit").to_string());
    let table = ocifit_core::FeatureTable::builtin();
    for m in X86_MODELS {
        let Some((doc, stderr)) = run("qemu-x86_64", &["-cpu", m.cpu, &bin, "host", "--format", "json"]) else {
            return;
        };
        let f = features(&doc);
        eprintln!("{}: amd64/{} {}", m.cpu, variant(&doc), f.iter().cloned().collect::<Vec<_>>().join(" "));
        assert_eq!(doc["architecture"], "amd64");
        assert_eq!(variant(&doc), m.variant, "{}: variant", m.cpu);
        for want in m.has {
            assert!(f.contains(*want), "{}: {want} missing", m.cpu);
        }
        for not in m.lacks {
            assert!(!f.contains(*not), "{}: {not} reported", m.cpu);
        }
        // Whatever TCG dropped from the model is not reported.
        for (leaf, reg, bit) in tcg_dropped(&stderr) {
            for row in table.family(ocifit_core::Family::X86) {
                if let ocifit_core::table::Detection::Cpuid { leaf: l, reg: r, bit: b, .. } = row.detection
                    && l == leaf
                    && r.name() == reg
                    && b == bit
                {
                    assert!(!f.contains(row.name), "{}: {} reported but TCG dropped it", m.cpu, row.name);
                }
            }
        }
        // Nothing is hidden by the OS under qemu-user (it enables all state it emulates).
        assert_eq!(doc["disabledByOs"], serde_json::json!([]), "{}", m.cpu);
    }
}

struct ArmModel {
    cpu: &'static str,
    variant: &'static str,
    has: &'static [&'static str],
    lacks: &'static [&'static str],
}

/// What QEMU 7.2's arm64 model definitions give (Linux hwcaps as
/// qemu-user computes them from the model's ID registers).
const ARM_MODELS: &[ArmModel] = &[
    ArmModel {
        cpu: "cortex-a53",
        variant: "",
        has: &["fp", "asimd", "aes", "pmull", "sha1", "sha2", "crc32"],
        lacks: &["atomics", "asimdrdm", "sve", "lrcpc"],
    },
    ArmModel {
        cpu: "neoverse-n1",
        variant: "v8.2",
        has: &["atomics", "asimdrdm", "crc32", "dcpop", "lrcpc", "asimddp", "fphp", "asimdhp"],
        lacks: &["sve", "paca", "jscvt", "fcma"],
    },
    ArmModel {
        cpu: "a64fx",
        variant: "v8.2",
        has: &["sve", "atomics", "asimdrdm", "fcma", "dcpop"],
        lacks: &["sve2", "lrcpc", "paca"],
    },
    ArmModel {
        cpu: "max",
        variant: "v8.3",
        has: &["sve", "sve2", "i8mm", "bf16", "atomics", "paca", "pacg", "bti", "sb", "frint", "flagm2", "sme", "mte"],
        lacks: &["uscat", "dit", "ecv"],
    },
];

#[test]
fn aarch64_models_under_qemu() {
    if !required() {
        eprintln!("OCIFIT_QEMU_TESTS is not 1: emulated-CPU tests not run (scripts/test.sh runs them)");
        return;
    }
    let bin = std::env::var("OCIFIT_QEMU_AARCH64_BIN").expect(
        "OCIFIT_QEMU_TESTS=1 needs OCIFIT_QEMU_AARCH64_BIN, the cross-built aarch64 ocifit (scripts/test.sh builds it)",
    );
    assert!(std::path::Path::new(&bin).is_file(), "OCIFIT_QEMU_AARCH64_BIN={bin}: no such file");
    let sysroot = std::env::var("OCIFIT_QEMU_AARCH64_SYSROOT").unwrap_or_else(|_| "/usr/aarch64-linux-gnu".into());
    for m in ARM_MODELS {
        let Some((doc, _)) = run("qemu-aarch64", &["-L", &sysroot, "-cpu", m.cpu, &bin, "host", "--format", "json"])
        else {
            return;
        };
        let f = features(&doc);
        eprintln!("{}: arm64/{} {}", m.cpu, variant(&doc), f.iter().cloned().collect::<Vec<_>>().join(" "));
        assert_eq!(doc["architecture"], "arm64");
        assert_eq!(variant(&doc), m.variant, "{}: variant", m.cpu);
        for want in m.has {
            assert!(f.contains(*want), "{}: {want} missing", m.cpu);
        }
        for not in m.lacks {
            assert!(!f.contains(*not), "{}: {not} reported", m.cpu);
        }
    }
}
