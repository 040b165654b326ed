//! What node-feature-discovery (NFD) can say about a CPU: the names it
//! publishes under `feature.node.kubernetes.io/cpu-cpuid.<NAME>` (and in a
//! `NodeFeature`'s `cpu.cpuid` flags), the ones it hides by default, and the
//! x86-64 level labels.
//!
//! This is data, read from NFD's sources (`source/cpu/` of
//! <https://github.com/kubernetes-sigs/node-feature-discovery>, and
//! `featureid_string.go` of <https://github.com/klauspost/cpuid>, which NFD
//! uses on x86):
//!
//! - x86: the names of klauspost/cpuid's `FeatureSet()`, plus
//!   `X86_64_V1`..`X86_64_V4`, published cumulatively (a v3 CPU gets V1, V2
//!   and V3);
//! - arm64, arm, ppc64le, s390x: NFD's own tables of `AT_HWCAP`/`AT_HWCAP2`
//!   bit names (`cpuid_linux_<arch>.go`): upper-cased hwcap names;
//! - riscv64 and other architectures: NFD publishes no CPU flags.
//!
//! A name is mapped to a row of the feature table with
//! [`FeatureTable::resolve`] (case-insensitive; the rows' `aliases.nfd`
//! carry NFD's spelling where it differs from the canonical name). Names
//! without a row (`HYPERVISOR`, `AVXSLOW`, ...) describe no ISA feature and
//! are ignored.

use std::collections::HashMap;
use std::sync::OnceLock;

use ocifit_core::target::guaranteed_features;
use ocifit_core::{Family, FeatureId, FeatureSet, FeatureTable};

use crate::profile::Published;

/// The prefix of NFD's CPUID labels on a Node.
pub const CPUID_LABEL_PREFIX: &str = "feature.node.kubernetes.io/cpu-cpuid.";
/// The NFD flag feature set that holds CPUID names in a `NodeFeature`.
pub const CPUID_FEATURE: &str = "cpu.cpuid";
/// The label of a `NodeFeature` that names its node.
pub const NODE_NAME_LABEL: &str = "nfd.node.kubernetes.io/node-name";
/// Well-known Kubernetes node labels (set by the kubelet).
pub const OS_LABEL: &str = "kubernetes.io/os";
pub const ARCH_LABEL: &str = "kubernetes.io/arch";
/// A Windows node's `major.minor.build`.
pub const WINDOWS_BUILD_LABEL: &str = "node.kubernetes.io/windows-build";

/// klauspost/cpuid `FeatureID` names for x86 (NFD's x86 vocabulary).
const X86_NAMES: &[&str] = &[
    "ADX",
    "AESNI",
    "AMD3DNOW",
    "AMD3DNOWEXT",
    "AMXBF16",
    "AMXFP16",
    "AMXINT8",
    "AMXFP8",
    "AMXTILE",
    "AMXTF32",
    "AMXCOMPLEX",
    "AMXTRANSPOSE",
    "APX_F",
    "AVX",
    "AVX10",
    "AVX10_128",
    "AVX10_256",
    "AVX10_512",
    "AVX2",
    "AVX512BF16",
    "AVX512BITALG",
    "AVX512BMM",
    "AVX512BW",
    "AVX512CD",
    "AVX512DQ",
    "AVX512ER",
    "AVX512F",
    "AVX512FP16",
    "AVX512IFMA",
    "AVX512PF",
    "AVX512VBMI",
    "AVX512VBMI2",
    "AVX512VL",
    "AVX512VNNI",
    "AVX512VP2INTERSECT",
    "AVX512VPOPCNTDQ",
    "AVXIFMA",
    "AVXNECONVERT",
    "AVXSLOW",
    "AVXVNNI",
    "AVXVNNIINT8",
    "AVXVNNIINT16",
    "BHI_CTRL",
    "BMI1",
    "BMI2",
    "CETIBT",
    "CETSS",
    "CLDEMOTE",
    "CLMUL",
    "CLZERO",
    "CMOV",
    "CMPCCXADD",
    "CMPSB_SCADBS_SHORT",
    "CMPXCHG8",
    "CPBOOST",
    "CPPC",
    "CX16",
    "EFER_LMSLE_UNS",
    "ENQCMD",
    "ERMS",
    "F16C",
    "FLUSH_L1D",
    "FMA3",
    "FMA4",
    "FP128",
    "FP256",
    "FRED",
    "FSRM",
    "FXSR",
    "FXSROPT",
    "GFNI",
    "HLE",
    "HRESET",
    "HTT",
    "HWA",
    "HYBRID_CPU",
    "HYPERVISOR",
    "IA32_ARCH_CAP",
    "IA32_CORE_CAP",
    "IBPB",
    "IBPB_BRTYPE",
    "IBRS",
    "IBRS_PREFERRED",
    "IBRS_PROVIDES_SMP",
    "IBS",
    "IBSBRNTRGT",
    "IBSFETCHSAM",
    "IBSFFV",
    "IBSOPCNT",
    "IBSOPCNTEXT",
    "IBSOPSAM",
    "IBSRDWROPCNT",
    "IBSRIPINVALIDCHK",
    "IBS_FETCH_CTLX",
    "IBS_OPDATA4",
    "IBS_OPFUSE",
    "IBS_PREVENTHOST",
    "IBS_ZEN4",
    "IDPRED_CTRL",
    "INT_WBINVD",
    "INVLPGB",
    "KEYLOCKER",
    "KEYLOCKERW",
    "LAHF",
    "LAM",
    "LBRVIRT",
    "LZCNT",
    "MCAOVERFLOW",
    "MCDT_NO",
    "MCOMMIT",
    "MD_CLEAR",
    "MMX",
    "MMXEXT",
    "MOVBE",
    "MOVDIR64B",
    "MOVDIRI",
    "MOVSB_ZL",
    "MOVU",
    "MPX",
    "MSRIRC",
    "MSRLIST",
    "MSR_PAGEFLUSH",
    "NRIPS",
    "NX",
    "OSXSAVE",
    "PCONFIG",
    "POPCNT",
    "PPIN",
    "PREFETCHI",
    "PSFD",
    "RDPRU",
    "RDRAND",
    "RDSEED",
    "RDTSCP",
    "RRSBA_CTRL",
    "RTM",
    "RTM_ALWAYS_ABORT",
    "SBPB",
    "SERIALIZE",
    "SEV",
    "SEV_64BIT",
    "SEV_ALTERNATIVE",
    "SEV_DEBUGSWAP",
    "SEV_ES",
    "SEV_RESTRICTED",
    "SEV_SNP",
    "SGX",
    "SGXLC",
    "SGXPQC",
    "SHA",
    "SME",
    "SME_COHERENT",
    "SM3_X86",
    "SM4_X86",
    "SPEC_CTRL_SSBD",
    "SRBDS_CTRL",
    "SRSO_MSR_FIX",
    "SRSO_NO",
    "SRSO_USER_KERNEL_NO",
    "SSE",
    "SSE2",
    "SSE3",
    "SSE4",
    "SSE42",
    "SSE4A",
    "SSSE3",
    "STIBP",
    "STIBP_ALWAYSON",
    "STOSB_SHORT",
    "SUCCOR",
    "SVM",
    "SVMDA",
    "SVMFBASID",
    "SVML",
    "SVMNP",
    "SVMPF",
    "SVMPFT",
    "SYSCALL",
    "SYSEE",
    "TBM",
    "TDX_GUEST",
    "TLB_FLUSH_NESTED",
    "TME",
    "TOPEXT",
    "TSA_L1_NO",
    "TSA_SQ_NO",
    "TSA_VERW_CLEAR",
    "TSCRATEMSR",
    "TSXLDTRK",
    "VAES",
    "VMCBCLEAN",
    "VMPL",
    "VMSA_REGPROT",
    "VMX",
    "VPCLMULQDQ",
    "VTE",
    "WAITPKG",
    "WBNOINVD",
    "WRMSRNS",
    "X87",
    "XGETBV1",
    "XOP",
    "XSAVE",
    "XSAVEC",
    "XSAVEOPT",
    "XSAVES",
];

/// NFD's default `sources.cpu.cpuid.attributeBlacklist`: x86 names it never
/// labels unless reconfigured. (It still lists them in `NodeFeature` objects.)
pub const X86_HIDDEN_BY_DEFAULT: &[&str] = &[
    "AVX10",
    "BMI1",
    "BMI2",
    "CLMUL",
    "CMOV",
    "CX16",
    "ERMS",
    "F16C",
    "HTT",
    "LZCNT",
    "MMX",
    "MMXEXT",
    "NX",
    "POPCNT",
    "RDRAND",
    "RDSEED",
    "RDTSCP",
    "SGX",
    "SGXLC",
    "SSE",
    "SSE2",
    "SSE3",
    "SSE4",
    "SSE42",
    "SSSE3",
    "TDX_GUEST",
];

/// `cpuid_linux_arm64.go`: `AT_HWCAP` and `AT_HWCAP2` bits NFD names.
const ARM64_NAMES: &[&str] = &[
    "FP",
    "ASIMD",
    "EVTSTRM",
    "AES",
    "PMULL",
    "SHA1",
    "SHA2",
    "CRC32",
    "ATOMICS",
    "FPHP",
    "ASIMDHP",
    "CPUID",
    "ASIMDRDM",
    "JSCVT",
    "FCMA",
    "LRCPC",
    "DCPOP",
    "SHA3",
    "SM3",
    "SM4",
    "ASIMDDP",
    "SHA512",
    "SVE",
    "ASIMDFHM",
    "DIT",
    "USCAT",
    "ILRCPC",
    "FLAGM",
    "SSBS",
    "SB",
    "PACA",
    "PACG",
    "DCPODP",
    "SVE2",
    "SVEAES",
    "SVEPMULL",
    "SVEBITPERM",
    "SVESHA3",
    "SVESM4",
    "FLAGM2",
    "FRINT",
    "SVEI8MM",
    "SVEF32MM",
    "SVEF64MM",
    "SVEBF16",
    "I8MM",
    "BF16",
    "DGH",
    "RNG",
    "BTI",
    "MTE",
    "ECV",
    "AFP",
    "RPRES",
    "MTE3",
    "SME",
    "SMEI16I64",
    "SMEF64F64",
    "SMEI8I32",
    "SMEF16F32",
    "SMEB16F32",
    "SMEF32F32",
    "SMEFA64",
    "WFXT",
    "EBF16",
    "SVEEBF16",
];

/// `cpuid_linux_arm.go`.
const ARM_NAMES: &[&str] = &[
    "SWP", "HALF", "THUMB", "26BIT", "FASTMUL", "FPA", "VFP", "EDSP", "JAVA", "IWMMXT", "CRUNCH", "THUMBEE", "NEON",
    "VFPv3", "VFPv3D16", "TLS", "VFPv4", "IDIVA", "IDIVT", "VFPD32", "LPAE", "EVTSTRM", "AES", "PMULL", "SHA1", "SHA2",
    "CRC32",
];

/// `cpuid_linux_ppc64le.go`.
const PPC64LE_NAMES: &[&str] = &[
    "PPC32",
    "PPC64",
    "PPC601",
    "ALTIVEC",
    "FPU",
    "MMU",
    "4xxMAC",
    "UCACHE",
    "SPE",
    "EFPFLOAT",
    "EFPDOUBLE",
    "NOTB",
    "POWER4",
    "POWER5",
    "CELLBE",
    "BOOKE",
    "SMT",
    "IC_SNOOP",
    "ARCH_2_05",
    "PA6T",
    "DFP",
    "POWER6X",
    "ARCH_2_06",
    "VSX",
    "ARCHPMU",
    "TRUE_LE",
    "PPCLE",
    "ARCH_2_07",
    "HTM",
    "DSCR",
    "EBB",
    "ISEL",
    "TAR",
    "VCRYPTO",
    "ARCH_3_00",
    "IEEE128",
    "DARN",
    "SCV",
    "ARCH_3_1",
    "MMA",
];

/// `cpuid_linux_s390x.go`.
const S390X_NAMES: &[&str] = &[
    "ESAN3", "ZARCH", "STFLE", "MSA", "LDISP", "EIMM", "DFP", "EDAT", "ETF3EH", "HIGHGPRS", "TE", "VX", "VXD", "VXE",
    "GS", "VXE2", "VXP", "SORT", "DFLT", "VXP2", "NNPA", "PCIMIO", "SIE",
];

/// The x86-64 level labels NFD publishes (`X86_64_V<n>`), with the amd64
/// variant each proves.
pub const X86_LEVELS: &[(&str, &str)] =
    &[("X86_64_V1", ""), ("X86_64_V2", "v2"), ("X86_64_V3", "v3"), ("X86_64_V4", "v4")];

/// NFD's CPU vocabulary for one architecture family, mapped onto the table.
#[derive(Debug)]
pub struct Vocabulary {
    pub family: Family,
    /// NFD name → table row (names without a row, and second names of a
    /// row, are left out).
    by_name: HashMap<&'static str, FeatureId>,
    /// Table row → the NFD name that shows it.
    label: HashMap<FeatureId, &'static str>,
    /// Rows NFD can name but does not label by default.
    hidden: FeatureSet,
    /// Rows NFD has no name for.
    unnamed: FeatureSet,
}

impl Vocabulary {
    /// The vocabulary of the family of `architecture`, if NFD publishes CPU
    /// flags there.
    pub fn for_architecture(architecture: &str) -> Option<&'static Vocabulary> {
        let family = Family::of(architecture)?;
        static ALL: OnceLock<Vec<Vocabulary>> = OnceLock::new();
        let all = ALL.get_or_init(|| {
            [
                (Family::X86, X86_NAMES, X86_HIDDEN_BY_DEFAULT),
                (Family::Arm64, ARM64_NAMES, &[][..]),
                (Family::Arm, ARM_NAMES, &[][..]),
                (Family::Ppc64, PPC64LE_NAMES, &[][..]),
                (Family::S390x, S390X_NAMES, &[][..]),
            ]
            .into_iter()
            .map(|(family, names, hidden)| Vocabulary::build(family, names, hidden))
            .collect()
        });
        all.iter().find(|v| v.family == family)
    }

    fn build(family: Family, names: &'static [&'static str], hidden_names: &[&str]) -> Vocabulary {
        let table = FeatureTable::builtin();
        let mut by_name = HashMap::new();
        let mut label: HashMap<FeatureId, &'static str> = HashMap::new();
        let mut hidden = FeatureSet::new();
        for &name in names {
            if let Some(id) = table.resolve(family, name) {
                // Several names may show one row (OSXSAVE and XSAVE): the row is
                // read from, and written as, the one that spells it or its
                // recorded NFD alias; the others prove nothing.
                let f = id.feature();
                let spells = |n: &str| n.eq_ignore_ascii_case(f.name) || f.aliases.nfd == Some(n);
                match label.get(&id).copied() {
                    Some(old) if spells(old) || !spells(name) => {}
                    _ => {
                        label.insert(id, name);
                    }
                }
            }
        }
        for (&id, &name) in &label {
            by_name.insert(name, id);
            if hidden_names.contains(&name) {
                hidden.insert(id);
            }
        }
        let unnamed = table.family(family).map(|f| f.id()).filter(|id| !label.contains_key(id)).collect();
        Vocabulary { family, by_name, label, hidden, unnamed }
    }

    /// The row an NFD name shows (`AVX512F` → `avx512f`, `SSE4` → `sse4_1`).
    pub fn feature(&self, name: &str) -> Option<FeatureId> {
        self.by_name.get(name).copied()
    }

    /// The NFD name of a row, if NFD has one.
    pub fn name(&self, id: FeatureId) -> Option<&'static str> {
        self.label.get(&id).copied()
    }

    /// Rows NFD names but does not label by default (`bmi2`, `popcnt`, ...).
    pub fn hidden_by_default(&self) -> &FeatureSet {
        &self.hidden
    }

    /// Rows NFD never names: its labels and `NodeFeature`s cannot tell them.
    pub fn unnamed(&self) -> &FeatureSet {
        &self.unnamed
    }

    /// Rows an input published as `published` cannot tell: those NFD has no
    /// name for and, for labels, those its default configuration hides.
    pub fn cannot_tell(&self, published: Published) -> FeatureSet {
        let mut set = self.unnamed;
        if published == Published::Labels {
            set.union(&self.hidden);
        }
        set
    }

    /// Whether NFD labels this row whenever the CPU has it (it has a name
    /// and the default configuration does not hide it).
    pub fn visible(&self, id: FeatureId) -> bool {
        self.label.contains_key(&id) && !self.hidden.contains(id)
    }
}

/// The prefix of the labels `ocifit host --format nfd` writes (through
/// NFD's `local` source): `ocifit-os`, `ocifit-architecture`,
/// `ocifit-variant`, and `ocifit-feature.<name>=true` for every feature the
/// host has (canonical names). They are complete: a node with them has
/// nothing its labels cannot tell.
pub const OCIFIT_LABEL_PREFIX: &str = "feature.node.kubernetes.io/ocifit-";

/// The ocifit label of a feature (`avx2` → `feature.node.kubernetes.io/ocifit-feature.avx2`).
pub fn ocifit_feature_label(name: &str) -> String {
    format!("{OCIFIT_LABEL_PREFIX}feature.{name}")
}

/// The label of a CPUID name (`AVX2` → `feature.node.kubernetes.io/cpu-cpuid.AVX2`).
pub fn cpuid_label(name: &str) -> String {
    format!("{CPUID_LABEL_PREFIX}{name}")
}

/// The amd64 variant proven by the highest `X86_64_V<n>` name in `names`,
/// and the features that level guarantees. Labels are read as a union (the
/// highest one present wins), which is what NFD's cumulative labels mean.
pub fn x86_level<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<(&'static str, FeatureSet)> {
    let mut best: Option<usize> = None;
    for name in names {
        if let Some(i) = X86_LEVELS.iter().position(|(l, _)| *l == name) {
            best = Some(best.map_or(i, |b| b.max(i)));
        }
    }
    best.map(|i| {
        let variant = X86_LEVELS[i].1;
        (variant, guaranteed_features(FeatureTable::builtin(), "amd64", variant))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(family: Family, name: &str) -> FeatureId {
        FeatureTable::builtin().resolve(family, name).unwrap()
    }

    #[test]
    fn x86_names_map_to_the_rows_nfd_means() {
        let v = Vocabulary::for_architecture("amd64").unwrap();
        for (nfd, canonical) in [
            ("AVX2", "avx2"),
            ("FMA3", "fma"),
            ("SSE4", "sse4_1"),
            ("SSE42", "sse4_2"),
            ("CLMUL", "pclmulqdq"),
            ("AESNI", "aes"),
            ("SHA", "sha_ni"),
            ("LAHF", "lahf_lm"),
            ("X87", "fpu"),
            ("CMPXCHG8", "cx8"),
            ("AVX512VNNI", "avx512_vnni"),
            ("CETSS", "user_shstk"),
            ("XSAVE", "xsave"),
        ] {
            assert_eq!(v.feature(nfd).map(|id| id.feature().name), Some(canonical), "{nfd}");
            assert_eq!(v.name(id(Family::X86, canonical)), Some(nfd));
        }
        assert_eq!(v.feature("HYPERVISOR"), None);
        assert_eq!(v.feature("OSXSAVE"), None, "XSAVE names the row");
        assert!(v.hidden_by_default().contains(id(Family::X86, "bmi2")));
        assert!(v.hidden_by_default().contains(id(Family::X86, "sse4_2")));
        assert!(!v.hidden_by_default().contains(id(Family::X86, "avx2")));
        assert!(v.unnamed().contains(id(Family::X86, "tsc")));
    }

    #[test]
    fn every_nfd_alias_of_the_table_is_in_the_vocabulary() {
        for family in [Family::X86, Family::Arm64, Family::Arm, Family::Ppc64, Family::S390x] {
            let arch = family.architectures()[0];
            let v = Vocabulary::for_architecture(arch).unwrap();
            for f in FeatureTable::builtin().family(family) {
                if let Some(nfd) = f.aliases.nfd {
                    // The table writes ppc64's HTM-NOSC with a dash; NFD has no such name.
                    if family == Family::Ppc64 && nfd.contains('-') {
                        continue;
                    }
                    assert_eq!(v.feature(nfd), Some(f.id()), "{family} {nfd}");
                }
            }
        }
    }

    #[test]
    fn every_level_feature_of_amd64_has_an_nfd_name() {
        let v = Vocabulary::for_architecture("amd64").unwrap();
        for (_, variant) in X86_LEVELS {
            for id in guaranteed_features(FeatureTable::builtin(), "amd64", variant).iter() {
                assert!(v.name(id).is_some(), "{}", id.feature().name);
            }
        }
    }

    #[test]
    fn level_labels_read_as_a_union() {
        let (variant, set) = x86_level(["X86_64_V1", "X86_64_V3", "X86_64_V2"]).unwrap();
        assert_eq!(variant, "v3");
        assert!(set.contains(id(Family::X86, "bmi2")));
        assert!(!set.contains(id(Family::X86, "avx512f")));
        assert_eq!(x86_level(["AVX2"]), None);
    }
}
