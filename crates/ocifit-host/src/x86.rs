//! x86 detection: CPUID and XCR0 → features, the OS-disabled set and the
//! amd64 variant.
//!
//! One code path: [`detect`] reads everything it needs through a
//! [`CpuidSource`] once ([`Snapshot::read`]) and decides from that snapshot
//! alone. The live CPU ([`crate::raw::LiveCpuid`]) and a replayed dump
//! ([`crate::dump::CpuidDump`]) are two sources of the same numbers, so a
//! dump replays to exactly the live answer.

use std::sync::OnceLock;

use ocifit_core::table::{Detection, Reg};
use ocifit_core::{Family, FeatureId, FeatureSet, FeatureTable};

/// Where CPUID and XCR0 values come from.
pub trait CpuidSource {
    /// `CPUID` with `EAX = leaf`, `ECX = subleaf`: `[eax, ebx, ecx, edx]`.
    /// Only called for leaves within the maximum the CPU reported.
    fn cpuid(&mut self, leaf: u32, subleaf: u32) -> [u32; 4];
    /// `XGETBV` with `ECX = 0`. Only called after CPUID.1:ECX.OSXSAVE\[27\] was seen.
    fn xgetbv0(&mut self) -> u64;
}

/// CPUID.1:ECX bit 27: the OS set CR4.OSXSAVE, so XGETBV may be executed.
const OSXSAVE: u32 = 1 << 27;

/// Every value detection looks at, each read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// CPUID.0 vendor string (`GenuineIntel`, `AuthenticAMD`, ...).
    pub vendor: String,
    /// CPUID.80000002h–80000004h brand string, when the CPU has one.
    pub brand: Option<String>,
    /// CPUID.0:EAX.
    pub max_basic: u32,
    /// CPUID.80000000h:EAX, or 0 when the CPU has no extended leaves.
    pub max_extended: u32,
    /// CPUID.C0000000h:EAX on Centaur/Zhaoxin CPUs, else 0.
    pub max_centaur: u32,
    /// CPUID.1:ECX.OSXSAVE.
    pub osxsave: bool,
    /// XCR0, or 0 when OSXSAVE is clear (XGETBV is not executed then).
    pub xcr0: u64,
    /// The leaves read, in reading order: `((leaf, subleaf), [eax, ebx, ecx, edx])`.
    leaves: Vec<((u32, u32), [u32; 4])>,
}

/// One `Detection::Cpuid` row of the table, resolved once.
struct CpuidRow {
    id: FeatureId,
    name: &'static str,
    leaf: u32,
    subleaf: u32,
    reg: Reg,
    bit: u8,
    xcr0: u64,
    amd64: bool,
    i386: bool,
}

/// The table's CPUID rows, in table order.
fn rows() -> &'static [CpuidRow] {
    static ROWS: OnceLock<Vec<CpuidRow>> = OnceLock::new();
    ROWS.get_or_init(|| {
        FeatureTable::builtin()
            .family(Family::X86)
            .filter_map(|f| match f.detection {
                Detection::Cpuid { leaf, subleaf, reg, bit, xcr0 } => Some(CpuidRow {
                    id: f.id(),
                    name: f.name,
                    leaf,
                    subleaf,
                    reg,
                    bit,
                    xcr0,
                    amd64: f.valid_for("amd64"),
                    i386: f.valid_for("386"),
                }),
                _ => None,
            })
            .collect()
    })
}

/// The (leaf, subleaf) pairs the feature table refers to, table order, no duplicates.
fn table_leaves() -> &'static [(u32, u32)] {
    static LEAVES: OnceLock<Vec<(u32, u32)>> = OnceLock::new();
    LEAVES.get_or_init(|| {
        let mut out: Vec<(u32, u32)> = Vec::new();
        for r in rows() {
            if !out.contains(&(r.leaf, r.subleaf)) {
                out.push((r.leaf, r.subleaf));
            }
        }
        out
    })
}

fn is_centaur(vendor: &str) -> bool {
    vendor == "CentaurHauls" || vendor == "  Shanghai  "
}

fn regs_text(words: &[u32]) -> String {
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    String::from_utf8_lossy(&bytes).trim_matches(|c: char| c == '\0' || c.is_whitespace()).to_string()
}

impl Snapshot {
    /// Read every leaf detection needs, with the maximum-leaf checks, and
    /// XCR0 only after OSXSAVE. With `identity`, also the brand string
    /// (three more CPUID instructions: in a virtual machine every CPUID is a
    /// VM exit, so they are only read when wanted).
    pub fn read(src: &mut impl CpuidSource, identity: bool) -> Snapshot {
        let mut s = Snapshot {
            vendor: String::new(),
            brand: None,
            max_basic: 0,
            max_extended: 0,
            max_centaur: 0,
            osxsave: false,
            xcr0: 0,
            leaves: Vec::with_capacity(16),
        };
        let l0 = s.query(src, 0, 0);
        s.max_basic = l0[0];
        s.vendor = regs_text(&[l0[1], l0[3], l0[2]]);
        if s.max_basic >= 1 {
            s.osxsave = s.query(src, 1, 0)[2] & OSXSAVE != 0;
        }
        let max_ext = s.query(src, 0x8000_0000, 0)[0];
        if max_ext & 0xffff_0000 == 0x8000_0000 {
            s.max_extended = max_ext;
        }
        if is_centaur(&s.vendor) {
            let max = s.query(src, 0xc000_0000, 0)[0];
            if max & 0xffff_0000 == 0xc000_0000 {
                s.max_centaur = max;
            }
        }
        for &(leaf, subleaf) in table_leaves() {
            if s.get(leaf, subleaf).is_none() && s.available(src, leaf, subleaf) {
                s.query(src, leaf, subleaf);
            }
        }
        if identity && s.max_extended >= 0x8000_0004 {
            let mut words = Vec::with_capacity(12);
            for leaf in 0x8000_0002..=0x8000_0004 {
                words.extend(s.query(src, leaf, 0));
            }
            let brand = regs_text(&words);
            s.brand = (!brand.is_empty()).then_some(brand);
        }
        if s.osxsave {
            s.xcr0 = src.xgetbv0();
        }
        s
    }

    fn query(&mut self, src: &mut impl CpuidSource, leaf: u32, subleaf: u32) -> [u32; 4] {
        let regs = src.cpuid(leaf, subleaf);
        self.leaves.push(((leaf, subleaf), regs));
        regs
    }

    /// Whether `leaf`/`subleaf` exists on this CPU (reads leaf 7.0 first when
    /// a sub-leaf of 7 is asked for).
    fn available(&mut self, src: &mut impl CpuidSource, leaf: u32, subleaf: u32) -> bool {
        match leaf & 0xffff_0000 {
            0 if leaf > self.max_basic => false,
            0 if leaf == 7 && subleaf > 0 => {
                let max_sub = match self.get(7, 0) {
                    Some(r) => r[0],
                    None => self.query(src, 7, 0)[0],
                };
                subleaf <= max_sub
            }
            // Leaf 0xD sub-leaves 0 and 1 always exist when leaf 0xD does;
            // other leaves the table uses have no sub-leaf enumeration.
            0 => true,
            0x8000_0000 => leaf <= self.max_extended,
            0xc000_0000 => self.max_centaur != 0 && leaf <= self.max_centaur,
            _ => false,
        }
    }

    /// The registers of a leaf that was read, `None` when the CPU lacks it.
    pub fn get(&self, leaf: u32, subleaf: u32) -> Option<[u32; 4]> {
        self.leaves.iter().find(|(k, _)| *k == (leaf, subleaf)).map(|(_, r)| *r)
    }

    fn reg(&self, leaf: u32, subleaf: u32, reg: Reg) -> u32 {
        let regs = self.get(leaf, subleaf).unwrap_or_default();
        match reg {
            Reg::Eax => regs[0],
            Reg::Ebx => regs[1],
            Reg::Ecx => regs[2],
            Reg::Edx => regs[3],
        }
    }

    /// Every leaf read, in order (what `--dump-cpuid` writes).
    pub fn leaves(&self) -> &[((u32, u32), [u32; 4])] {
        &self.leaves
    }

    /// `lm`: CPUID.80000001h:EDX[29], the CPU can run 64-bit code.
    pub fn long_mode(&self) -> bool {
        self.max_extended >= 0x8000_0001 && self.reg(0x8000_0001, 0, Reg::Edx) & (1 << 29) != 0
    }
}

/// Features whose CPUID bit shows only that the CPU has them: the OS
/// enables them through state no program can read (CET user state is in the
/// supervisor-only IA32_XSS; SGX needs BIOS enabling and a kernel driver).
/// They are reported only when [`OsGates`] proves the OS enabled them, and
/// listed as disabled by the OS otherwise.
pub const OS_GATED: &[&str] = &["user_shstk", "sgx"];

/// What the OS says about the [`OS_GATED`] features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OsGates {
    /// Linux: the kernel supports user shadow stacks (`arch_prctl(ARCH_SHSTK_STATUS)`
    /// is known to it).
    pub user_shstk: bool,
    /// Linux: the SGX driver is present (`/dev/sgx_enclave`).
    pub sgx: bool,
}

impl OsGates {
    /// Ask this OS, only about features the CPU has (every gate is closed
    /// outside Linux).
    pub fn live(s: &Snapshot) -> OsGates {
        if !cfg!(target_os = "linux") {
            return OsGates::default();
        }
        let leaf7 = s.get(7, 0).unwrap_or_default();
        let cpu_shstk = leaf7[2] & (1 << 7) != 0;
        let cpu_sgx = leaf7[1] & (1 << 2) != 0;
        OsGates {
            user_shstk: cpu_shstk && crate::raw::kernel_has_user_shstk(),
            sgx: cpu_sgx && std::path::Path::new("/dev/sgx_enclave").exists(),
        }
    }

    fn open(&self, name: &str) -> bool {
        match name {
            "user_shstk" => self.user_shstk,
            "sgx" => self.sgx,
            _ => true,
        }
    }
}

/// The result of x86 detection.
#[derive(Debug, Clone)]
pub struct X86Detection {
    pub snapshot: Snapshot,
    /// Features the CPU has and the OS enabled, valid on the architecture asked for.
    pub features: FeatureSet,
    /// Features the CPU has but whose XCR0 state the OS did not enable.
    pub disabled_by_os: Vec<FeatureId>,
    /// The amd64 level by the Go runtime's GOAMD64 checks: 1..=4.
    pub go_level: u8,
}

/// Detect from `src` for `architecture` (`amd64` or `386`); `gates` answers
/// for the [`OS_GATED`] features once the CPUID values are known.
pub fn detect(
    src: &mut impl CpuidSource,
    identity: bool,
    gates: impl FnOnce(&Snapshot) -> OsGates,
    architecture: &str,
) -> X86Detection {
    let snapshot = Snapshot::read(src, identity);
    let gates = gates(&snapshot);
    let mut features = FeatureSet::new();
    let mut disabled_by_os = Vec::new();
    for r in rows() {
        let valid = if architecture == "386" { r.i386 } else { r.amd64 };
        if !valid || snapshot.reg(r.leaf, r.subleaf, r.reg) & (1 << r.bit) == 0 {
            continue;
        }
        let state_enabled = r.xcr0 == 0 || (snapshot.osxsave && snapshot.xcr0 & r.xcr0 == r.xcr0);
        if state_enabled && gates.open(r.name) {
            features.insert(r.id);
        } else {
            disabled_by_os.push(r.id);
        }
    }
    let go_level = go_amd64_level(&snapshot);
    X86Detection { snapshot, features, disabled_by_os, go_level }
}

/// The GOAMD64 level the Go runtime would accept on this CPU: exactly the
/// checks of `rt0_go` in Go's `src/runtime/asm_amd64.s` (the `V2_*`, `V3_*`
/// and `V4_*` masks), on raw CPUID and XCR0 bits.
///
/// - v2: CPUID.1:ECX SSE3, SSSE3, CMPXCHG16B, SSE4.1, SSE4.2, POPCNT;
///   max extended leaf ≥ 80000001h; CPUID.80000001h:ECX LAHF/SAHF.
/// - v3: v2 + CPUID.1:ECX FMA, MOVBE, OSXSAVE, AVX, F16C; 80000001h:ECX
///   LZCNT; CPUID.7.0:EBX BMI1, AVX2, BMI2; XCR0 SSE and AVX state (bits 1, 2).
/// - v4: v3 + CPUID.7.0:EBX AVX512F, AVX512DQ, AVX512CD, AVX512BW, AVX512VL;
///   XCR0 opmask, ZMM_Hi256, Hi16_ZMM (bits 5–7).
///
/// Two checks are stricter than Go's assembly and equal on every real CPU:
/// the maximum extended leaf is compared unsigned (Go's `JL` is a signed
/// compare), and leaf 7 reads as zero when the maximum basic leaf is below 7
/// (Go executes it anyway).
pub fn go_amd64_level(s: &Snapshot) -> u8 {
    const V2_CX: u32 = 1 << 0 | 1 << 9 | 1 << 13 | 1 << 19 | 1 << 20 | 1 << 23;
    const V2_EXT_CX: u32 = 1 << 0;
    const V3_CX: u32 = V2_CX | 1 << 12 | 1 << 22 | 1 << 27 | 1 << 28 | 1 << 29;
    const V3_EXT_CX: u32 = V2_EXT_CX | 1 << 5;
    const V3_EXT_BX: u32 = 1 << 3 | 1 << 5 | 1 << 8;
    const V3_OS_AX: u64 = 1 << 1 | 1 << 2;
    const V4_EXT_BX: u32 = V3_EXT_BX | 1 << 16 | 1 << 17 | 1 << 28 | 1 << 30 | 1 << 31;
    const V4_OS_AX: u64 = V3_OS_AX | 1 << 5 | 1 << 6 | 1 << 7;

    let all = |value: u32, mask: u32| value & mask == mask;
    if s.max_basic == 0 || s.max_extended < 0x8000_0001 {
        return 1;
    }
    let cx = s.reg(1, 0, Reg::Ecx);
    let ext_cx = s.reg(0x8000_0001, 0, Reg::Ecx);
    let bx7 = s.reg(7, 0, Reg::Ebx);
    let xcr0 = if s.osxsave { s.xcr0 } else { 0 };
    if !(all(cx, V2_CX) && all(ext_cx, V2_EXT_CX)) {
        return 1;
    }
    if !(all(cx, V3_CX) && all(ext_cx, V3_EXT_CX) && all(bx7, V3_EXT_BX) && xcr0 & V3_OS_AX == V3_OS_AX) {
        return 2;
    }
    if !(all(bx7, V4_EXT_BX) && xcr0 & V4_OS_AX == V4_OS_AX) {
        return 3;
    }
    4
}
