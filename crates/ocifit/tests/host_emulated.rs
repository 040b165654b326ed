//! `ocifit host` on emulated CPUs (qemu-user, Debian's `qemu-user`):
//! x86-64 models under `qemu-x86_64 -cpu MODEL` and, with cross-built
//! binaries, arm64, ppc64le, s390x and riscv64 models under
//! `qemu-aarch64` / `qemu-ppc64le` / `qemu-s390x` / `qemu-riscv64 -cpu MODEL`.
//!
//! QEMU's model definitions (target/i386/cpu.c, target/arm/cpu64.c,
//! target/ppc/cpu_init.c, target/s390x/gen-features.c, target/riscv/cpu.c)
//! are the reference for what each model has; under TCG (no KVM) QEMU drops
//! what it cannot emulate and says so on stderr ("TCG doesn't support
//! requested feature: CPUID.07H:EBX.avx512f [bit 16]"). Every bit QEMU names
//! there must be absent from ocifit's answer. TCG has no AVX-512 or AMX at
//! all, so those are covered by CPUID dumps
//! (crates/ocifit-host/tests/cpuid_dumps.rs). qemu-s390x refuses every
//! named model from z10 on outright ("Some features requested in the CPU
//! model are not available in the configuration: ..."); the test turns the
//! listed features off (`z14,te=off,gs=off,...`) and checks that none of them
//! is reported.
//!
//! On ppc64le, s390x and riscv64 the AT_HWCAP/AT_HWCAP2 words qemu-user
//! computes (linux-user/elfload.c) are also read back independently of
//! ocifit: glibc's dynamic loader prints them with `LD_SHOW_AUXV=1` (by name
//! on POWER and Z, as a number on RISC-V), and ocifit's hwcap-detected
//! features must be exactly the table rows those words show. QEMU 7.2 does
//! not implement `riscv_hwprobe` (syscall 258 answers ENOSYS), so on
//! riscv64 only the single letters of AT_HWCAP are seen, and `v` — which
//! ocifit takes from hwprobe only, never from the AT_HWCAP V bit — is not
//! reported even when the model has it (docs/host-detection.md).
//!
//! `scripts/test.sh` installs qemu-user and the cross toolchains, builds the
//! cross binaries and sets OCIFIT_QEMU_TESTS=1, OCIFIT_QEMU_<ARCH>_BIN and
//! OCIFIT_QEMU_<ARCH>_SYSROOT (ARCH = AARCH64, PPC64LE, S390X, RISCV64);
//! then every model here must run (a missing tool or binary is a failure,
//! not a skip). Without OCIFIT_QEMU_TESTS the tests only say they were not
//! run.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use ocifit_core::table::Detection;
use ocifit_core::{Family, FeatureTable};
use serde_json::Value;

fn required() -> bool {
    std::env::var("OCIFIT_QEMU_TESTS").is_ok_and(|v| v == "1")
}

/// Run `qemu` with `args`; `None` when emulation is not asked for.
fn run(qemu: &str, args: &[&str]) -> Option<(Value, String)> {
    if !required() {
        not_run();
        return None;
    }
    let out = qemu_output(qemu, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{qemu} {args:?}: {}\n{stderr}", out.status);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{qemu} {args:?}: {e}"));
    Some((json, stderr))
}

fn not_run() {
    eprintln!("OCIFIT_QEMU_TESTS is not 1: emulated-CPU tests not run (scripts/test.sh runs them)");
}

/// `qemu args...`, whatever its exit status; a qemu that cannot be started is a failure.
fn qemu_output(qemu: &str, args: &[&str]) -> Output {
    Command::new(qemu)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("OCIFIT_QEMU_TESTS=1 but {qemu} cannot be run: {e} (apt-get install qemu-user)"))
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
fn s7_x86_64_models_under_qemu() {
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
fn s7_aarch64_models_under_qemu() {
    let Some(c) = cross("qemu-aarch64", "AARCH64", "aarch64-unknown-linux-gnu", "aarch64-linux-gnu") else {
        return;
    };
    for m in ARM_MODELS {
        let (doc, _) = run(c.qemu, &["-L", &c.sysroot, "-cpu", m.cpu, &c.bin, "host", "--format", "json"]).unwrap();
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

/// A cross-built ocifit and the sysroot qemu-user loads its C library from.
struct Cross {
    qemu: &'static str,
    bin: String,
    sysroot: String,
}

/// The cross build scripts/test.sh made for `name` (`AARCH64`, `PPC64LE`,
/// `S390X`, `RISCV64`); `None` when emulation is not asked for. With
/// OCIFIT_QEMU_TESTS=1 a missing variable, binary or sysroot is a failure.
fn cross(qemu: &'static str, name: &str, triple: &str, gcc_prefix: &str) -> Option<Cross> {
    if !required() {
        not_run();
        return None;
    }
    let var = format!("OCIFIT_QEMU_{name}_BIN");
    let bin = std::env::var(&var).unwrap_or_else(|_| {
        panic!("OCIFIT_QEMU_TESTS=1 needs {var}, the cross-built {triple} ocifit (scripts/test.sh builds it)")
    });
    assert!(std::path::Path::new(&bin).is_file(), "{var}={bin}: no such file");
    let sysroot = std::env::var(format!("OCIFIT_QEMU_{name}_SYSROOT")).unwrap_or_else(|_| format!("/usr/{gcc_prefix}"));
    assert!(
        std::path::Path::new(&sysroot).join("lib").is_dir(),
        "{sysroot}/lib: no such directory (the {triple} C library: scripts/test.sh installs it)"
    );
    Some(Cross { qemu, bin, sysroot })
}

/// A model of an architecture whose features Linux passes in AT_HWCAP/AT_HWCAP2.
struct HwcapModel {
    /// The `-cpu` argument.
    cpu: &'static str,
    has: &'static [&'static str],
    lacks: &'static [&'static str],
}

/// What one model gave: ocifit's JSON and glibc's `LD_SHOW_AUXV` output.
struct HwcapRun {
    doc: Value,
    features: BTreeSet<String>,
    auxv: String,
}

/// s390x: the QEMU feature names (target/s390x/cpu_features_def.h.inc) whose
/// facility a table row needs, and that row (the kernel sets the hwcap only
/// when every facility of the row is there).
const S390X_QEMU_FEATURES: &[(&str, &str)] = &[
    ("dfp", "dfp"),
    ("dfphp", "dfp"),
    ("te", "te"),
    ("cte", "te"),
    ("vx", "vx"),
    ("vxpd", "vxd"),
    ("vxeh", "vxe"),
    ("gs", "gs"),
    ("vxeh2", "vxe2"),
    ("vxpdeh", "vxp"),
    ("esort", "sort"),
    ("esort-base", "sort"),
    ("deflate", "dflt"),
    ("deflate-base", "dflt"),
    ("vxpdeh2", "vxp2"),
    ("nnpa", "nnpa"),
];

/// Run `cpu` with `LD_SHOW_AUXV=1`: the loader prints the auxiliary vector
/// qemu-user built. When QEMU refuses the model because TCG lacks some of its
/// features (qemu-s390x), those features are turned off and the model run
/// again. Returns the `-cpu` argument that ran, the features turned off and
/// the loader's output.
fn auxv(c: &Cross, cpu: &str) -> (String, Vec<String>, String) {
    let show = |spec: &str| {
        qemu_output(c.qemu, &["-L", &c.sysroot, "-cpu", spec, "-E", "LD_SHOW_AUXV=1", &c.bin, "--version"])
    };
    let mut spec = cpu.to_string();
    let mut dropped = Vec::new();
    let mut out = show(&spec);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success()
        && let Some(list) = stderr.split("not available in the configuration:").nth(1)
    {
        dropped = list.split_whitespace().map(str::to_string).collect();
        for f in &dropped {
            spec.push_str(&format!(",{f}=off"));
        }
        out = show(&spec);
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{} -cpu {spec}: {}\n{}", c.qemu, out.status, String::from_utf8_lossy(&out.stderr));
    assert!(text.lines().any(|l| l.starts_with("AT_HWCAP:")), "{} -cpu {spec}: no AT_HWCAP in\n{text}", c.qemu);
    (spec, dropped, text)
}

/// The table rows the AT_HWCAP/AT_HWCAP2 words in glibc's `LD_SHOW_AUXV`
/// output show. glibc prints POWER and Z bits by name (the names the tables'
/// `linux` fields record) and RISC-V words as hexadecimal numbers.
fn auxv_features(auxv: &str, family: Family, architecture: &str) -> BTreeSet<String> {
    let word = |w: u8| -> Vec<&str> {
        let key = if w == 1 { "AT_HWCAP:".to_string() } else { format!("AT_HWCAP{w}:") };
        auxv.lines()
            .find_map(|l| l.strip_prefix(key.as_str()))
            .map(|v| v.split_whitespace().collect())
            .unwrap_or_default()
    };
    let mut out = BTreeSet::new();
    for row in FeatureTable::builtin().family(family).filter(|r| r.valid_for(architecture)) {
        let Detection::Hwcap { word: w, bit } = row.detection else { continue };
        let tokens = word(w);
        let present = if family == Family::Riscv64 {
            let value = tokens.first().map(|t| u64::from_str_radix(t, 16).expect("a hexadecimal AT_HWCAP"));
            value.is_some_and(|v| v >> bit & 1 == 1)
        } else {
            tokens.contains(&row.linux.unwrap_or(row.name))
        };
        if present {
            out.insert(row.name.to_string());
        }
    }
    out
}

/// Every model of `models` under `c`: the architecture, no variant (OCI
/// defines none for these families and ocifit computes none), the model's
/// `has`/`lacks`, and exactly the table rows glibc's reading of the
/// auxiliary vector shows.
fn hwcap_models(c: &Cross, architecture: &str, models: &[HwcapModel]) -> Vec<HwcapRun> {
    let family = Family::of(architecture).unwrap();
    let mut runs = Vec::new();
    for m in models {
        let (spec, dropped, auxv) = auxv(c, m.cpu);
        let (doc, _) = run(c.qemu, &["-L", &c.sysroot, "-cpu", &spec, &c.bin, "host", "--format", "json"]).unwrap();
        let f = features(&doc);
        eprintln!("{}: {architecture} {}", m.cpu, f.iter().cloned().collect::<Vec<_>>().join(" "));
        assert_eq!(doc["architecture"], architecture, "{}", m.cpu);
        assert_eq!(doc.get("variant"), None, "{}: variant", m.cpu);
        for want in m.has {
            assert!(f.contains(*want), "{}: {want} missing", m.cpu);
        }
        for not in m.lacks {
            assert!(!f.contains(*not), "{}: {not} reported", m.cpu);
        }
        // What TCG could not give the model is not reported.
        for (qemu_name, row) in S390X_QEMU_FEATURES {
            if dropped.iter().any(|d| d == qemu_name) {
                assert!(!f.contains(*row), "{}: {row} reported but QEMU turned {qemu_name} off", m.cpu);
            }
        }
        // The hwcap rows are exactly what the kernel words (as glibc reads them) say.
        let hwcap_rows: BTreeSet<String> = f
            .iter()
            .filter(|n| {
                let id = FeatureTable::builtin().canonical(architecture, n).unwrap();
                matches!(id.feature().detection, Detection::Hwcap { .. })
            })
            .cloned()
            .collect();
        assert_eq!(
            hwcap_rows,
            auxv_features(&auxv, family, architecture),
            "{}: hwcap rows vs LD_SHOW_AUXV\n{auxv}",
            m.cpu
        );
        assert_eq!(doc["disabledByOs"], serde_json::json!([]), "{}", m.cpu);
        runs.push(HwcapRun { doc, features: f, auxv });
    }
    runs
}

/// QEMU 7.2's POWER models as qemu-user's get_elf_hwcap/get_elf_hwcap2
/// (linux-user/elfload.c) report them: AT_HWCAP fpu, altivec, dfp, vsx,
/// arch_2_06; AT_HWCAP2 isel, tar, arch_2_07 + vcrypto (ISA 2.07),
/// arch_3_00 + darn + ieee128 (ISA 3.0), arch_3_1 + mma (ISA 3.1), from the
/// model's instruction flags. QEMU never sets htm, dscr, ebb, scv or
/// htm-no-suspend, which Linux sets on real POWER8/9 machines, so those are
/// absent on every model. (Rust's ppc64le baseline is POWER8: power7 and
/// older cannot run the binary.)
const PPC_MODELS: &[HwcapModel] = &[
    HwcapModel {
        cpu: "power8",
        has: &["fpu", "altivec", "vsx", "dfp", "arch_2_06", "arch_2_07", "isel", "tar", "vcrypto"],
        lacks: &["arch_3_00", "darn", "ieee128", "arch_3_1", "mma", "htm", "dscr", "ebb", "scv"],
    },
    HwcapModel {
        cpu: "power9",
        has: &["vsx", "arch_2_07", "vcrypto", "arch_3_00", "darn", "ieee128"],
        lacks: &["arch_3_1", "mma", "scv", "htm_no_suspend", "htm"],
    },
    HwcapModel {
        cpu: "power10",
        has: &["vsx", "arch_2_07", "arch_3_00", "darn", "ieee128", "arch_3_1", "mma"],
        lacks: &["htm", "scv", "arch_2_05"],
    },
];

#[test]
fn s7_ppc64le_models_under_qemu() {
    let Some(c) = cross("qemu-ppc64le", "PPC64LE", "powerpc64le-unknown-linux-gnu", "powerpc64le-linux-gnu") else {
        return;
    };
    let runs = hwcap_models(&c, "ppc64le", PPC_MODELS);
    // Every model meets the ELFv2 floor (the plain `ppc64le` level).
    for r in &runs {
        for f in ["fpu", "altivec", "vsx", "arch_2_06", "arch_2_07"] {
            assert!(r.features.contains(f), "{f} missing: {:?}", r.features);
        }
    }
}

/// QEMU 7.2's IBM Z models (`gen15a` is the z15) under TCG, which cannot
/// emulate DFP, transactional execution, guarded storage, the
/// vector-packed-decimal facilities or deflate: qemu-s390x refuses those
/// models until the features are turned off (checked not reported). Its
/// get_elf_hwcap always sets esan3, zarch and highgprs, and otherwise maps
/// only stfle, msa, ldisp, eimm, etf3eh, vx and vxe: vxe2 (facility 148) is
/// missing from AT_HWCAP even on gen15a, whose model has it (later QEMUs
/// map it), and sort/dflt/nnpa/sie never appear. So z15 looks like z14.
/// (Rust's s390x baseline is z10.)
const S390X_MODELS: &[HwcapModel] = &[
    HwcapModel {
        cpu: "z10EC",
        has: &["esan3", "zarch", "highgprs", "stfle", "msa", "ldisp", "eimm", "etf3eh"],
        lacks: &["vx", "vxe", "te", "dfp"],
    },
    HwcapModel { cpu: "z13", has: &["stfle", "eimm", "etf3eh", "vx"], lacks: &["vxe", "vxd", "vxe2", "te", "gs"] },
    HwcapModel { cpu: "z14", has: &["vx", "vxe"], lacks: &["vxe2", "vxd", "gs", "te"] },
    HwcapModel { cpu: "gen15a", has: &["vx", "vxe"], lacks: &["vxe2", "vxp", "sort", "dflt", "nnpa"] },
    HwcapModel { cpu: "max", has: &["stfle", "msa", "vx", "vxe"], lacks: &["vxe2", "nnpa", "sie", "pcimio"] },
];

#[test]
fn s7_s390x_models_under_qemu() {
    let Some(c) = cross("qemu-s390x", "S390X", "s390x-unknown-linux-gnu", "s390x-linux-gnu") else {
        return;
    };
    hwcap_models(&c, "s390x", S390X_MODELS);
}

/// QEMU 7.2's riscv64 models: qemu-user's AT_HWCAP has the letters I M A F D
/// C and V of the model's misa, and there is no riscv_hwprobe (ENOSYS). So
/// only i m a f d c are reported: multi-letter extensions have no other
/// source, and `v` is read from hwprobe only (its AT_HWCAP bit is set for
/// the pre-ratification vector 0.7.1 by some vendor kernels, which have no
/// hwprobe either). The binary is rv64gc: models without F, D or C
/// (`sifive-e51`, `rv64,c=false`) cannot run it.
const RISCV_MODELS: &[HwcapModel] = &[
    HwcapModel { cpu: "rv64", has: &["i", "m", "a", "f", "d", "c"], lacks: &["v", "zicsr", "zba", "zbb", "zbs"] },
    HwcapModel { cpu: "rv64,v=true,vext_spec=v1.0,vlen=128", has: &["i", "m", "a", "f", "d", "c"], lacks: &["v"] },
    HwcapModel { cpu: "rv64,zba=true,zbb=true,zbs=true", has: &["i", "c"], lacks: &["zba", "zbb", "zbs"] },
    HwcapModel { cpu: "sifive-u54", has: &["i", "m", "a", "f", "d", "c"], lacks: &["v"] },
];

#[test]
fn s7_riscv64_models_under_qemu() {
    let Some(c) = cross("qemu-riscv64", "RISCV64", "riscv64gc-unknown-linux-gnu", "riscv64-linux-gnu") else {
        return;
    };
    let runs = hwcap_models(&c, "riscv64", RISCV_MODELS);
    for (m, r) in RISCV_MODELS.iter().zip(&runs) {
        // Only AT_HWCAP letters: nothing from hwprobe, and the profile says why.
        let notes = r.doc["notes"].as_array().map(|n| n.iter().filter_map(Value::as_str).collect::<Vec<_>>());
        assert!(
            notes.unwrap_or_default().iter().any(|n| n.contains("riscv_hwprobe unavailable")),
            "{}: no riscv_hwprobe note (does this QEMU implement riscv_hwprobe? then update RISCV_MODELS): {}",
            m.cpu,
            r.doc
        );
        let expected: BTreeSet<String> = ["a", "c", "d", "f", "i", "m"].map(String::from).into();
        assert_eq!(r.features, expected, "{}", m.cpu);
        // QEMU does put V in AT_HWCAP when the model has it (bit 21); ocifit
        // does not take it from there.
        let hwcap = r.auxv.lines().find_map(|l| l.strip_prefix("AT_HWCAP:")).unwrap().trim();
        let hwcap = u64::from_str_radix(hwcap, 16).unwrap();
        assert_eq!(hwcap >> (b'v' - b'a') & 1 == 1, m.cpu.contains("v=true"), "{}: AT_HWCAP {hwcap:#x}", m.cpu);
    }
}
