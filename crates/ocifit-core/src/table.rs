//! The feature table: every CPU feature ocifit knows, per architecture family.
//!
//! The rows live in `data/*.toml` and are compiled in by `build.rs`; this
//! module only interprets them. Lookups are binary searches over sorted
//! static arrays, so the table costs nothing at start-up.

use std::fmt;

/// An architecture family: architectures that share one feature namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// `amd64` and `386`.
    X86,
    Arm64,
    /// 32-bit `arm`.
    Arm,
    /// `ppc64le` and `ppc64`.
    Ppc64,
    S390x,
    Riscv64,
}

impl Family {
    /// Every family, in table order.
    pub const ALL: [Family; 6] =
        [Family::X86, Family::Arm64, Family::Arm, Family::Ppc64, Family::S390x, Family::Riscv64];

    /// The family of a normalized OCI architecture, if ocifit has a table for it.
    pub fn of(architecture: &str) -> Option<Family> {
        Some(match architecture {
            "amd64" | "386" => Family::X86,
            "arm64" => Family::Arm64,
            "arm" => Family::Arm,
            "ppc64le" | "ppc64" => Family::Ppc64,
            "s390x" => Family::S390x,
            "riscv64" => Family::Riscv64,
            _ => return None,
        })
    }

    /// The name used in the data file and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Family::X86 => "x86",
            Family::Arm64 => "arm64",
            Family::Arm => "arm",
            Family::Ppc64 => "ppc64",
            Family::S390x => "s390x",
            Family::Riscv64 => "riscv64",
        }
    }

    /// The OCI architectures that share this family's table.
    pub fn architectures(self) -> &'static [&'static str] {
        match self {
            Family::X86 => &["amd64", "386"],
            Family::Arm64 => &["arm64"],
            Family::Arm => &["arm"],
            Family::Ppc64 => &["ppc64le", "ppc64"],
            Family::S390x => &["s390x"],
            Family::Riscv64 => &["riscv64"],
        }
    }

    /// A family by its name or by one of its architectures (`x86`, `amd64`, `x86_64`...).
    pub fn parse(name: &str) -> Option<Family> {
        let lower = name.to_ascii_lowercase();
        Family::ALL
            .into_iter()
            .find(|f| f.name() == lower)
            .or_else(|| Family::of(&crate::platform::normalize_arch(&lower, "").0))
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A CPUID output register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reg {
    Eax,
    Ebx,
    Ecx,
    Edx,
}

impl Reg {
    pub fn name(self) -> &'static str {
        match self {
            Reg::Eax => "eax",
            Reg::Ebx => "ebx",
            Reg::Ecx => "ecx",
            Reg::Edx => "edx",
        }
    }
}

/// How a feature is detected on a live machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detection {
    /// x86 CPUID bit, plus the XCR0 state components (a bit mask) the OS must enable.
    Cpuid { leaf: u32, subleaf: u32, reg: Reg, bit: u8, xcr0: u64 },
    /// Bit of `getauxval(AT_HWCAP)` (word 1), `AT_HWCAP2` (2) or `AT_HWCAP3` (3).
    Hwcap { word: u8, bit: u8 },
    /// Bit of the value of a `riscv_hwprobe` key.
    Hwprobe { key: u32, key_name: &'static str, bit: u8 },
    /// Only a captured `/proc/cpuinfo` can show it; live detection cannot.
    CpuinfoOnly,
}

impl fmt::Display for Detection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Detection::Cpuid { leaf, subleaf, reg, bit, xcr0 } => {
                write!(f, "CPUID.(EAX={leaf:#x},ECX={subleaf}):{}[{bit}]", reg.name().to_uppercase())?;
                if xcr0 != 0 {
                    let bits: Vec<String> = (0..64).filter(|b| xcr0 & (1 << b) != 0).map(|b| b.to_string()).collect();
                    write!(f, " + XCR0[{}]", bits.join(","))?;
                }
                Ok(())
            }
            Detection::Hwcap { word, bit } => {
                let aux = if word == 1 { "AT_HWCAP".to_string() } else { format!("AT_HWCAP{word}") };
                write!(f, "{aux} bit {bit}")
            }
            Detection::Hwprobe { key_name, bit, .. } => write!(f, "riscv_hwprobe {key_name} bit {bit}"),
            Detection::CpuinfoOnly => f.write_str("/proc/cpuinfo only"),
        }
    }
}

/// Other names people use for a feature. Accepted on the command line only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Aliases {
    /// `golang.org/x/sys/cpu` field name, lowercased.
    pub go: Option<&'static str>,
    /// node-feature-discovery / klauspost/cpuid name.
    pub nfd: Option<&'static str>,
    /// LLVM / Rust target-feature name.
    pub llvm: Option<&'static str>,
    pub other: &'static [&'static str],
}

impl Aliases {
    pub fn iter(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.go.into_iter().chain(self.nfd).chain(self.llvm).chain(self.other.iter().copied())
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    pub family: Family,
    /// The canonical name: the only spelling valid in an index.
    pub name: &'static str,
    pub architectures: &'static [&'static str],
    pub description: &'static str,
    pub link: &'static str,
    /// The name Linux shows in `/proc/cpuinfo` (or the hwcap name), when it has one.
    pub linux: Option<&'static str>,
    /// The table version that added the row.
    pub since: &'static str,
    /// Why this row is an exception, where it is one.
    pub note: Option<&'static str>,
    pub detection: Detection,
    pub aliases: Aliases,
    /// The features this one implies directly (`data/*.toml` `implies`):
    /// what a compiler enables with it and no real CPU has it without.
    pub implies: &'static [FeatureId],
    /// Everything it implies, transitively (not itself), in table order.
    pub implied: &'static [FeatureId],
}

impl Feature {
    pub fn id(&self) -> FeatureId {
        lookup(&BY_NAME, self.family, self.name).expect("every row is in BY_NAME")
    }

    pub fn valid_for(&self, architecture: &str) -> bool {
        self.architectures.contains(&architecture)
    }

    /// The features whose closure holds this one (what implies it), in table order.
    pub fn implied_by(&self) -> impl Iterator<Item = &'static Feature> + '_ {
        let id = self.id();
        FEATURES.iter().filter(move |f| f.implied.contains(&id))
    }
}

/// The index of a row; cheap to copy and to store in a [`FeatureSet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeatureId(pub(crate) usize);

impl FeatureId {
    pub fn feature(self) -> &'static Feature {
        &FEATURES[self.0]
    }
}

/// Features a platform variant guarantees (x86-64-v3, Armv8.2, ...).
#[derive(Debug, Clone, Copy)]
pub struct Level {
    pub architecture: &'static str,
    /// `""` is the variant-less baseline.
    pub variant: &'static str,
    pub link: &'static str,
    pub note: Option<&'static str>,
    pub features: &'static [FeatureId],
}

include!(concat!(env!("OUT_DIR"), "/table.rs"));

/// A set of features, as a fixed-size bit set over the whole table.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FeatureSet([u64; SET_WORDS]);

impl FeatureSet {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn insert(&mut self, id: FeatureId) -> bool {
        let (w, b) = (id.0 / 64, id.0 % 64);
        let fresh = self.0[w] & (1 << b) == 0;
        self.0[w] |= 1 << b;
        fresh
    }

    pub fn remove(&mut self, id: FeatureId) {
        self.0[id.0 / 64] &= !(1 << (id.0 % 64));
    }

    pub fn contains(&self, id: FeatureId) -> bool {
        self.0[id.0 / 64] & (1 << (id.0 % 64)) != 0
    }

    pub fn union(&mut self, other: &FeatureSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a |= b;
        }
    }

    /// Keep only the members also in `other`.
    pub fn intersect(&mut self, other: &FeatureSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a &= b;
        }
    }

    /// Remove every member of `other`.
    pub fn subtract(&mut self, other: &FeatureSet) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a &= !b;
        }
    }

    pub fn is_subset(&self, other: &FeatureSet) -> bool {
        self.0.iter().zip(other.0).all(|(a, b)| a & !b == 0)
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    /// Members in table order.
    pub fn iter(&self) -> impl Iterator<Item = FeatureId> + '_ {
        self.0.iter().enumerate().flat_map(|(w, word)| {
            let mut bits = *word;
            std::iter::from_fn(move || {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    FeatureId(w * 64 + b)
                })
            })
        })
    }

    /// The set with everything its members imply, transitively (§2).
    pub fn closure(&self) -> FeatureSet {
        let mut out = *self;
        for id in self.iter() {
            for (a, b) in out.0.iter_mut().zip(CLOSURES[id.0]) {
                *a |= b;
            }
        }
        out
    }

    /// Whether the set already holds everything its members imply.
    pub fn is_closed(&self) -> bool {
        self.closure() == *self
    }

    /// Canonical names, sorted: the form every JSON output uses.
    pub fn sorted_names(&self) -> Vec<&'static str> {
        let mut names: Vec<&'static str> = self.iter().map(|id| id.feature().name).collect();
        names.sort_unstable();
        names
    }
}

impl FromIterator<FeatureId> for FeatureSet {
    fn from_iter<I: IntoIterator<Item = FeatureId>>(iter: I) -> Self {
        let mut set = FeatureSet::new();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

impl fmt::Debug for FeatureSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.sorted_names()).finish()
    }
}

/// Read-only access to the compiled-in table.
///
/// A zero-sized handle rather than free functions, so code that takes a
/// table as an argument says so, and a test can see what it depends on.
#[derive(Debug, Clone, Copy, Default)]
pub struct FeatureTable;

impl FeatureTable {
    /// The compiled-in table.
    pub const fn builtin() -> Self {
        FeatureTable
    }

    /// Every row, in table order (family by family, file order within).
    pub fn features(&self) -> &'static [Feature] {
        &FEATURES
    }

    pub fn family(&self, family: Family) -> impl Iterator<Item = &'static Feature> {
        FEATURES.iter().filter(move |f| f.family == family)
    }

    /// The row for a canonical name valid on `architecture` (an index's rule:
    /// aliases are not looked at).
    pub fn canonical(&self, architecture: &str, name: &str) -> Option<FeatureId> {
        let family = Family::of(architecture)?;
        let id = lookup(&BY_NAME, family, name)?;
        id.feature().valid_for(architecture).then_some(id)
    }

    /// The row for a canonical name, alias or Linux name in `family`
    /// (the command line's rule: case-insensitive, aliases mapped).
    pub fn resolve(&self, family: Family, spelling: &str) -> Option<FeatureId> {
        let lower = spelling.to_ascii_lowercase();
        lookup(&BY_SPELLING, family, &lower)
    }

    /// Every row, in any family, that `spelling` could mean (for `explain`
    /// and "did you mean" messages).
    pub fn resolve_anywhere(&self, spelling: &str) -> Vec<FeatureId> {
        Family::ALL.into_iter().filter_map(|f| self.resolve(f, spelling)).collect()
    }

    /// Levels of one architecture, in data-file order.
    pub fn levels(&self, architecture: &str) -> impl Iterator<Item = &'static Level> + '_ {
        let architecture = architecture.to_string();
        LEVELS.iter().filter(move |l| l.architecture == architecture)
    }

    pub fn all_levels(&self) -> &'static [Level] {
        &LEVELS
    }

    /// The level row for exactly this architecture/variant.
    pub fn level(&self, architecture: &str, variant: &str) -> Option<&'static Level> {
        LEVELS.iter().find(|l| l.architecture == architecture && l.variant == variant)
    }

    /// Whether Linux shows `flag` in `/proc/cpuinfo` without it being an ISA
    /// feature (bug, power-management and virtualization flags).
    pub fn is_non_isa_linux_flag(&self, family: Family, flag: &str) -> bool {
        NON_ISA_LINUX_FLAGS.iter().any(|(f, n)| *f == family && *n == flag)
    }

    /// The row whose Linux name is `flag` (`pni` -> `sse3`).
    pub fn by_linux_name(&self, family: Family, flag: &str) -> Option<FeatureId> {
        let id = lookup(&BY_SPELLING, family, &flag.to_ascii_lowercase())?;
        (id.feature().linux == Some(flag) || id.feature().name == flag).then_some(id)
    }
}

fn lookup(index: &[(Family, &str, FeatureId)], family: Family, name: &str) -> Option<FeatureId> {
    index.binary_search_by(|(f, n, _)| (*f, *n).cmp(&(family, name))).ok().map(|i| index[i].2)
}
